"""Paper-name index: finds papers a query names by exact title, by the short name before a title's colon
("ResMLP", "KECOR") or by an acronym the paper introduces ("(GCNet)", "(STNs)", "(DAM-VP)").

Hand-written because no retriever library matches names this way: matching is on normalized token
sequences (case, punctuation, hyphens, quotes and plurals ignored), except for names that are also
ordinary words ("SOFT", "PROSE"), which must appear with their own capitalisation."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(r"[a-z0-9]+")
_PAREN = re.compile(r"\(([^()]{2,40})\)")
_ACRONYM = re.compile(r"^[A-Za-z][A-Za-z0-9\-+.]*[A-Za-z0-9+]$")
MAX_ACRONYM_PAPERS = 2  # an acronym defined by more papers than this is a generic term ("CNNs"), not a name
MAX_SHORT_NAME_WORDS = 8
MAX_NAME_USERS = 3  # a name mentioned by more papers than this is a common term ("ConvNets"), not one paper


@lru_cache(maxsize=500_000)  # vocabulary-sized: building the index tokenizes every abstract
def singular(tok: str) -> str:
    if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
        return tok[:-1]
    return tok


_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b")


def tokens(text: str) -> list[str]:
    # Drop possessives ("ResMLP's") but not an opening quote before an s-word ("'SSVI'").
    return [singular(t) for t in _TOKEN.findall(_POSSESSIVE.sub("", text.lower()))]


@dataclass(frozen=True)
class AliasMatch:
    paper_id: str
    alias: str
    kind: str  # "title" | "short" | "acronym"
    start: int  # token position in the query
    length: int  # tokens matched


def _is_acronym(s: str) -> bool:
    s = s.strip()
    if not _ACRONYM.match(s) or len(s) < 2 or len(s) > 20:
        return False
    uppers = sum(c.isupper() for c in s)
    return uppers >= 2 or (uppers >= 1 and any(c.isdigit() for c in s))


def acronyms_in(text: str) -> set[str]:
    """Acronyms introduced in parentheses: "Diversity-Aware Meta Visual Prompting (DAM-VP)"."""
    found = set()
    for m in _PAREN.finditer(text):
        for part in re.split(r",|;| or | and ", m.group(1)):
            part = part.strip().strip("'\"")
            if _is_acronym(part):
                found.add(part)
    return found


def _title_cased_words(word: str) -> bool:
    """"Feed-Forward", "Cross-Layer": ordinary words in title case, not a name."""
    parts = word.split("-")
    return len(parts) > 1 and all(p[:1].isupper() and p[1:].islower() for p in parts if p)


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
        acronym_owners: dict[str, set[str]] = defaultdict(set)
        for pid, title, abstract in papers:
            for a in acronyms_in(title + " " + abstract):
                acronym_owners[a].add(pid)
        in_title: list[tuple[str, str]] = []  # distinctive names inside titles: "ConvNeXt"
        for pid, title, _ in papers:
            for word in title.replace(":", " ").split():
                w = word.strip(",.?!()'\"")
                if _is_acronym(w) and sum(c.isupper() for c in w) >= 2 and len(w) >= 4 and not _title_cased_words(w):
                    in_title.append((pid, w))
        one_word_titles = [title for _, title, _ in papers if len(tokens(title)) == 1]
        users = _papers_using([w for _, w in in_title] + list(acronym_owners) + one_word_titles,
                              [tokens(title + " " + abstract) for _, title, abstract in papers])

        def common(name: str) -> bool:
            return users[tuple(tokens(name))] > MAX_NAME_USERS

        idx = cls()
        for pid, title, _ in papers:
            if len(tokens(title)) == 1 and common(title):
                continue  # a one-word title that many papers use ("in", "Summary") is a word, not a name
            idx._add(pid, title, "title", lower_words)
            if ":" in title:
                short = title.split(":", 1)[0].strip()
                if 1 <= len(short.split()) <= MAX_SHORT_NAME_WORDS and len(short) >= 3:
                    idx._add(pid, short, "short", lower_words)
        for pid, w in in_title:
            if not common(w):
                idx._add(pid, w, "short", lower_words)
        for acronym, owners in acronym_owners.items():
            if len(owners) <= MAX_ACRONYM_PAPERS and not common(acronym):
                for pid in owners:
                    idx._add(pid, acronym, "acronym", lower_words)
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
