"""Paper-name index: finds papers a query names by exact title, by the short name before a title's colon
("ResMLP", "KECOR"), or by a name the paper's abstract introduces as its own ("we call this architecture a
Pointer Net (Ptr-Net)", "we introduce MgNO", "termed Neural Metamorphosis (NeuMeta)"). Acronyms an abstract
defines in passing ("the Non-Local Network (NLNet) presents ...") are not names of that paper, and a name several
papers claim names none of them.

Hand-written because no retriever library matches names this way: matching is on normalized token
sequences (case, punctuation, hyphens, quotes and plurals ignored), except for names that are also
ordinary words ("SOFT", "PROSE"), which must appear with their own capitalisation."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from .text import find_names, split_sentences
from .text import name_tokens as tokens

_PAREN = re.compile(r"\(([^()]{2,40})\)")
_EXAMPLE_PAREN = re.compile(r"\s*(?:e\.g\.|i\.e\.|eg\b|such\s+as|including|like|see|cf\.?)", re.I)
_ACRONYM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-+.]*[A-Za-z0-9+]$")
MAX_SHORT_NAME_WORDS = 8
MAX_NAME_USERS = 3  # a name mentioned by more papers than this is a common term ("ConvNets"), not one paper


_INTRO = re.compile(r"\b(?:we\s+(?:\w+\s+)?(?:propose|introduce|present|develop|design|construct|build|create|release|"
                    r"devise|call|name|term|dub|coin|formulate|offer)\w*|called|named|dubbed|termed|coined|novel|new|"
                    r"(?:is|are)\s+proposed|propose[sd]?|introduce[sd]?)\b", re.I)
_PRIOR = re.compile(r".*\b(?:been|were|was|recently)\s+$", re.I | re.S)  # "have been proposed", "recently proposed"
_INTRO_VERB = re.compile(r"\b(?:we\s+(?:\w+\s+)?(?:propose|introduce|present|develop|design|construct|build|create|"
                         r"release|devise|call|name|term|dub|coin)\w*|(?:and|to)\s+(?:propose|introduce)|called|named|"
                         r"dubbed|termed|coined|the\s+proposed|our)\s+", re.I)
# "NASNet achieves ...", "DTRN obtains ...": a coined name the abstract keeps reporting results for is its model.
_REPORTS = re.compile(r"\b([A-Za-z][\w-]*[A-Z0-9][\w-]*)\s+(?:achieves|outperforms|obtains|reaches|attains|surpasses|"
                      r"improves|yields|performs|refines|enables|exceeds|matches)\b")
MIN_REPORTS = 2
# Words after which the sentence no longer describes what is introduced ("we propose a method that beats BERT").
_CROSSING = re.compile(r"^(?:that|which|than|over|against|outperform\w*|compared|unlike|with|on|from|using|based|"
                       r"to|for|by|versus|vs|beyond|like|such)$", re.I)
INTRO_SPAN_WORDS = 10  # "we construct the largest and most diverse English evaluation benchmark LLMEval^2"


def own_names(abstract: str) -> set[str]:
    """Names an abstract introduces as its own: acronyms defined in a sentence that introduces something
    ("we propose ... (SSVI)"), and the first name within a few words after "we introduce", "called", ..."""
    found: set[str] = set()
    reports = [m.group(1) for m in _REPORTS.finditer(abstract) if _is_acronym(m.group(1))]
    found.update(n for n in set(reports) if reports.count(n) >= MIN_REPORTS)
    for sent in split_sentences(abstract):
        if not any(not _PRIOR.match(sent[max(0, m.start() - 12): m.start()]) for m in _INTRO.finditer(sent)):
            continue  # only "... have been proposed": other people's work
        found.update(acronyms_in(sent))
        for m in _INTRO_VERB.finditer(sent):
            words: list[str] = []
            for w in sent[m.end():].split()[:INTRO_SPAN_WORDS]:
                if _CROSSING.match(w.strip(",.;:()")):
                    break
                words.append(w)
            names = [n for n in find_names(" ".join(words), mid_sentence=True) if len(n) >= 3]
            # A coined name ("LLMEval", "MgNO", "Mixtral 8x7B") or a capitalised phrase ("Sparse Subspace
            # Variational Inference"), not a merely capitalised word ("English").
            named = [n for n in names if len(n.split()) > 1 or _is_acronym(n) or any(c.isdigit() for c in n)]
            if named:
                found.add(named[0])
    return found


@dataclass(frozen=True)
class AliasMatch:
    paper_id: str
    alias: str
    kind: str  # "title" | "short" (before the title's colon) | "own" (introduced by the abstract)
    start: int  # token position in the query
    length: int  # tokens matched


def _is_acronym(s: str) -> bool:
    s = s.strip()
    if not _ACRONYM.match(s) or len(s) < 2 or len(s) > 20:
        return False
    uppers = sum(c.isupper() for c in s)
    return (uppers >= 2 or (uppers >= 1 and any(c.isdigit() for c in s))) and not s.isdigit()


def acronyms_in(text: str) -> set[str]:
    """Acronyms introduced in parentheses: "Diversity-Aware Meta Visual Prompting (DAM-VP)"."""
    found = set()
    for m in _PAREN.finditer(text):
        if _EXAMPLE_PAREN.match(m.group(1)):
            continue  # "(e.g., DeepFM and DCN)": examples of other work, not a definition
        for part in re.split(r",|;| or | and ", m.group(1)):
            part = part.strip().strip("'\"")
            if _is_acronym(part):
                found.add(part)
    return found


def title_acronyms(title: str, abstract: str) -> set[str]:
    """Acronyms the abstract defines for its own title: "This thesis presents ... the Dilated Convolution with
    Learnable Spacings (DCLS) method" in the paper titled "Dilated Convolution with Learnable Spacings" (whoever
    else uses DCLS, this paper is the one it names)."""
    head_text = title.split(":", 1)[0]
    head = tokens(head_text)
    if len(head) < 2:
        return set()
    found = set()
    for m in _PAREN.finditer(abstract):
        part = m.group(1).strip()
        # (only the text just before the parenthesis can end with the title: a window twice its length)
        before = abstract[max(0, m.start() - 2 * len(head_text)): m.start()]
        if _is_acronym(part) and tokens(before)[-len(head):] == head:
            found.add(part)
    return found


def _papers_using(phrases: Iterable[str], token_lists: list[list[str]]) -> Counter[tuple[str, ...]]:
    """How many papers' text contains each phrase, by token sequence ("ConvNets" is used by many: a term,
    not a name). One pass over all tokens, so building stays linear in the corpus size."""
    wanted: dict[int, set[tuple[str, ...]]] = defaultdict(set)
    for phrase in phrases:
        toks = tuple(tokens(phrase))
        if toks:
            wanted[len(toks)].add(toks)
    firsts = {g[0] for group in wanted.values() for g in group}
    lengths = sorted(wanted)
    counts: Counter[tuple[str, ...]] = Counter()
    for toks in token_lists:
        seen: set[tuple[str, ...]] = set()
        for i, tok in enumerate(toks):
            if tok in firsts:  # only positions where some wanted phrase can start
                for n in lengths:
                    g = tuple(toks[i:i + n])
                    if g in wanted[n]:
                        seen.add(g)
        counts.update(seen)
    return counts


class AliasIndex:
    def __init__(self) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], str, str, str]]] = defaultdict(list)
        self._case_sensitive: dict[str, list[tuple[re.Pattern[str], str, str]]] = defaultdict(list)
        self.names: dict[str, set[str]] = defaultdict(set)  # paper_id → aliases (for display/tests)

    @classmethod
    def build(cls, papers: Iterable[tuple[str, str, str]]) -> AliasIndex:
        """papers: (paper_id, title, abstract)."""
        papers = list(papers)
        lower_words: set[str] = set()
        for _, title, abstract in papers:
            lower_words.update(re.findall(r"\b[a-z]+\b", title + " " + abstract))
        owners: dict[str, set[str]] = defaultdict(set)
        for pid, _, abstract in papers:
            for name in own_names(abstract):
                owners[name].add(pid)
        one_word_titles = [title for _, title, _ in papers if len(tokens(title)) == 1]
        shorts = [t.split(":", 1)[0].strip() for _, t, _ in papers if ":" in t]
        acronyms = {pid: title_acronyms(title, abstract) for pid, title, abstract in papers}
        users = _papers_using([*owners, *one_word_titles, *shorts, *set().union(*acronyms.values())],
                              [tokens(title + " " + abstract) for _, title, abstract in papers])

        def common(name: str) -> bool:
            if name.lower() in lower_words and sum(c.isupper() for c in name) >= 2:  # "SOFT" is also the word
                # "soft": count its own spelling only (a capitalised word like "Summary" counts every spelling)
                exact = re.compile(r"(?<![\w-])" + re.escape(name) + r"s?(?![\w-])")
                return sum(1 for _, t, a in papers if exact.search(t + " " + a)) > MAX_NAME_USERS
            return users[tuple(tokens(name))] > MAX_NAME_USERS

        idx = cls()
        for pid, title, _ in papers:
            if len(tokens(title)) == 1 and common(title):
                continue  # a one-word title that many papers use ("in", "Summary") is a word, not a name
            idx._add(pid, title, "title", lower_words)
            if ":" in title:
                short = title.split(":", 1)[0].strip()
                # "Neutrophil extracellular traps: ...", "Neural Tangent Kernel: ...": a term many papers use heads
                # a title here and there; it is not that paper's name
                if 1 <= len(short.split()) <= MAX_SHORT_NAME_WORDS and len(short) >= 3 and not common(short):
                    idx._add(pid, short, "short", lower_words)
            for acronym in acronyms[pid]:
                if not common(acronym):  # "AMPK", which many biomedical abstracts use, names none of them
                    idx._add(pid, acronym, "short", lower_words)
            first = re.match(r"^([^\s,:]+)\s*,", title)  # "SortedNet, a Place for Every Network ..."
            if first and _is_acronym(first.group(1)) and len(first.group(1)) >= 3:
                idx._add(pid, first.group(1), "short", lower_words)
        for name, pids in owners.items():
            if len(pids) == 1 and not common(name):  # a name several papers claim names none of them
                idx._add(next(iter(pids)), name, "own", lower_words)
        return idx

    def _add(self, pid: str, alias: str, kind: str, lower_words: set[str]) -> None:
        toks = tuple(tokens(alias))
        if not toks or (len(toks) == 1 and len(toks[0]) < 2):
            return
        self.names[pid].add(alias)
        single = alias.strip()
        if len(toks) == 1 and kind != "title" and single.lower() in lower_words and single != single.lower():
            # "SOFT" is also the word "soft": only its own capitalisation names the paper.
            pat = re.compile(r"(?<![\w-])" + re.escape(single) + r"s?(?![\w-])")
            self._case_sensitive[toks[0]].append((pat, pid, alias))
            return
        self._by_first[toks[0]].append((toks, pid, alias, kind))
        if len(toks) > 1 and kind != "title" and all(len(t) <= 6 for t in toks):
            # "DAM-VP" is also written "DAMVP"
            self._by_first["".join(toks)].append((("".join(toks),), pid, alias, kind))

    def find(self, query: str) -> list[AliasMatch]:
        """Papers the query names, longest matches first; a match inside a longer one is dropped."""
        q = tokens(query)
        found: list[AliasMatch] = []
        for i, tok in enumerate(q):
            for toks, pid, alias, kind in self._by_first.get(tok, ()):
                if tuple(q[i:i + len(toks)]) == toks:
                    found.append(AliasMatch(pid, alias, kind, i, len(toks)))
            for pat, pid, alias in self._case_sensitive.get(tok, ()):
                if pat.search(query):
                    found.append(AliasMatch(pid, alias, "acronym", i, 1))
        found.sort(key=lambda m: (-m.length, m.start))
        kept: list[AliasMatch] = []
        for m in found:
            inside_other = any(k.start <= m.start and m.start + m.length <= k.start + k.length
                               and k.paper_id != m.paper_id and k.length > m.length and k.kind == "title"
                               for k in kept)
            if not inside_other and not any(k.paper_id == m.paper_id and k.alias == m.alias for k in kept):
                kept.append(m)
        return kept
