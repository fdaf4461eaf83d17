"""Per-paper checks of a question against one paper, for `coverage`: does the paper mention a name, is the name its
own or central to it (title, opening, repeated), is a name absent from the whole collection, how much of the
question's rare terms the paper has, and the reasons in words ("No paper in the collection is about X; it is only
mentioned in passing in ...")."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from .focus import Focus
from .index_state import IndexState
from .settings import Settings
from .spelling import abbreviates, compound_terms
from .text import (
    AMOUNT,
    BARE_ACRONYM,
    CONTENT_STOPWORDS,
    common_english,
    content_terms,
    count_name,
    count_sequence,
    is_coined,
    known_word,
    name_tokens,
    spells_acronym,
    spelt_otherwise,
    split_sentences,
    stem,
    terms,
)
from .text import words as words_of
from .types import Hit

# What comes right before a name the paper is compared with, or gives as an example
_BASELINE = re.compile(r"\b(?:outperform\w*|surpass\w*|match(?:es|ing)?|beat\w*|than|compared\s+(?:to|with)|versus|"
                       r"vs\.?|such\s+as|e\.g\.,?|like|including|over)\s+(?:[\w.-]+,?\s+){0,8}$", re.I)
# What marks a name as someone else's earlier work: "the recently proposed KAN", "MRL (Kusupati et al., 2022)"
_PRIOR_BEFORE = re.compile(r"\b(?:recently\s+(?:proposed|introduced|developed)|(?:proposed|introduced)\s+by|"
                           r"recent\s+(?:progress|advances?|success(?:es)?|work)\s+(?:in|on|of|with)|"
                           r"prior|previous|existing|popular|well-known|success\s+of|inspired\s+by)\s+"
                           r"(?:[\w.-]+\s+){0,3}\(?$", re.I)  # (before an acronym: "... Network (KAN")
_PRIOR_AFTER = re.compile(r"^\)?\s*(?:\([^)]{1,20}\)\s*)?"  # (after an acronym: "(KANs) have recently emerged")
                          r"(?:\((?:[A-Z][\w-]+\s+et\s+al\.?|[^)]{0,40}\b(?:19|20)\d\d)[^)]*\)|"
                          r"(?:have|has)\s+recently\s+(?:emerged|been\s+(?:proposed|introduced)|gained|attracted))")
MAX_LISTED = 3  # papers named in a reason ("mentioned in passing in A, B and C")
CENTRAL_MENTIONS = 4  # named this often, a paper is about the name


def _written(name: str, plural: bool = False) -> re.Pattern[str]:
    """`name` as a whole word of a text (any case; `plural`: an "s" may follow)."""
    return re.compile(r"(?<![\w-])" + re.escape(name) + ("s?" if plural else "") + r"(?![\w-])", re.I)


class Judge:
    """Coverage checks for one question against one index state (caches per-paper tokens and terms)."""

    def __init__(self, state: IndexState, settings: Settings, unseen_common: frozenset[str] = frozenset()):
        """`unseen_common`: terms of the question that are everyday English words that no paper uses or that the
        collection rarely uses: how rare the collection finds them says how little it speaks plain English, not
        what the question is about, so they weigh as much as a typical term, not the most (a paper sharing the
        asker's "supermarket" is no match by that alone)."""
        self.state = state
        self.settings = settings
        self.unseen_common = unseen_common
        self._tokens: dict[str, list[str]] = {}
        self._terms: dict[str, set[str]] = {}
        self._central: dict[str, set[str]] = {}

    def idf(self, term: str) -> float:
        return self.state.typical_idf if term in self.unseen_common else self.state.idf(term)

    @staticmethod
    def abstract(h: Hit) -> str:
        return h.paper.abstract if h.paper else h.text

    def opening(self, h: Hit) -> str:
        """The abstract's first `central_sentences` sentences: where a paper says what it is about."""
        return " ".join(split_sentences(self.abstract(h))[: self.settings.central_sentences])

    def paper_tokens(self, h: Hit) -> list[str]:
        if h.paper_id not in self._tokens:
            self._tokens[h.paper_id] = name_tokens(h.title + " . " + self.abstract(h))
        return self._tokens[h.paper_id]

    def central_terms(self, h: Hit) -> set[str]:
        """Terms a paper is about: those of its title and opening sentences, and those its abstract repeats."""
        if h.paper_id not in self._central:
            abstract = self.abstract(h)
            counts = Counter(stem(w) for w in words_of(abstract))
            self._central[h.paper_id] = content_terms(h.title + " " + self.opening(h)) | {
                t for t in content_terms(abstract) if counts[t] >= 2}
        return self._central[h.paper_id]

    def centrality(self, h: Hit, wanted: set[str]) -> float:
        """IDF-weighted share of `wanted` among the terms the paper is about (not just mentions)."""
        total = sum(self.idf(t) for t in wanted)
        return 1.0 if total <= 0 else sum(self.idf(t) for t in wanted & self.central_terms(h)) / total

    def paper_terms(self, h: Hit) -> set[str]:
        if h.paper_id not in self._terms:
            text = h.title + " " + self.abstract(h)
            self._terms[h.paper_id] = content_terms(text) | compound_terms(text)
        return self._terms[h.paper_id]

    # --- names ----------------------------------------------------------------------------------------------
    def mentions(self, h: Hit, name: str) -> int:
        return count_name(self.paper_tokens(h), name)

    def has_words(self, h: Hit, name: str) -> bool:
        """Every word of `name` is in the paper, if not side by side ("WMT'14 English" in "English to French
        translation task from the WMT'14 dataset"; "English-French" as "English to French")."""
        words = [w for w in re.split(r"\s+|(?<=[A-Za-z])-(?=[A-Z])", name) if w]
        tokens = self.paper_tokens(h)
        return len(words) > 1 and all(count_sequence(tokens, name_tokens(w)) for w in words)

    def own_name(self, h: Hit, name: str, by_title: bool = True) -> bool:
        """`name` is (the start of) one of the paper's own names: "NASNet" for "NASNet architecture" (with
        `by_title=False`, not only the start of its title: "KAN you hear me? ..." did not name KAN)."""
        want = name_tokens(name)
        own = [h.named_as] if h.named_as else []
        names = [a for a in [*own, *self.state.names.names.get(h.paper_id, ())] if by_title or a != h.title]
        return any(name_tokens(a)[: len(want)] == want for a in names)

    def names_a_variant(self, h: Hit, name: str) -> bool:
        """The paper's name is a longer one built on `name` ("Natural GaLore: Accelerating GaLore ..." for GaLore,
        "Tiny-Sepformer" for Sepformer): it introduced the variant, not `name` itself."""
        head = name_tokens(h.title.split(":", 1)[0]) if ":" in h.title else []
        want = name_tokens(name)
        return len(head) > len(want) and count_sequence(head, want) > 0 and not self.own_name(h, name)

    def central(self, h: Hit, name: str) -> bool:
        """The paper is about `name`: its own name, in its title, or named in the opening sentences of its
        abstract and again later (a paper that only compares with GPT-4 names it later, or once)."""
        if self.titled(h, name):
            return True
        # Named once in the opening is a comparison or an example ("the same architecture as Mistral 7B"); a
        # paper about the thing comes back to it, and one that keeps coming back to it is about it wherever it
        # first names it (Seq2Seq names its LSTM eight times, after an opening about DNNs).
        n = self.mentions(h, name)
        return (n >= CENTRAL_MENTIONS or (count_name(name_tokens(self.opening(h)), name) > 0 and n >= 2)) and \
            not self.only_a_baseline(h, name)

    def only_a_baseline(self, h: Hit, name: str) -> bool:
        """Every time the abstract writes `name`, it is what the paper is measured against or an example
        ("outperforms Llama 2 70B", "models such as BERT, GPT"): the paper is not about it."""
        text = self.abstract(h)
        spots = [m.start() for m in _written(name).finditer(text)]
        return bool(spots) and all(_BASELINE.search(text[max(0, at - 60): at]) for at in spots)

    def cites_as_prior(self, h: Hit, name: str) -> bool:
        """The abstract first writes `name` as earlier work ("the recently proposed Kolmogorov-Arnold Network",
        "Matryoshka Representation Learning (MRL) (Kusupati et al., 2022)"): it builds on it, did not introduce it."""
        text = self.abstract(h)
        m = _written(re.sub(r"(?<=\w)s$", "", name), plural=True).search(text)
        return bool(m) and bool(_PRIOR_BEFORE.search(text[max(0, m.start() - 60): m.start()])
                                or _PRIOR_AFTER.match(text[m.end(): m.end() + 80]))

    def papers_mentioning(self, name: str) -> list[str]:
        """Ids of the papers whose title or abstract contains `name`, over the whole collection (BM25's postings
        narrow the candidates; the token sequence is then checked)."""
        state = self.state
        want = name_tokens(name)
        if state.bm25 is None or not want:
            return []
        rows = self._postings(terms(name))
        if not rows:  # by the name's tokens: "LLMEval2" is written "LLMEval^2"
            rows = self._postings(terms(" ".join(want)))
        if rows is None:  # a name of stopwords and single characters only: look in every paper
            candidates = set(state.papers)
        else:
            candidates = {state.chunk_paper[r] for r in rows}
        out = []
        for pid in sorted(candidates):
            p = state.papers.get(pid)
            if p is not None and count_sequence(name_tokens(p.title + " . " + p.abstract), want):
                out.append(pid)
        return out

    def _postings(self, query_terms: list[str]) -> set[int] | None:
        """Chunk rows that have every term (None: no terms to look for)."""
        rows: set[int] | None = None
        for t in set(query_terms):
            found = set(np.flatnonzero(self.state.bm25.get_scores([t]) > 0).tolist())
            rows = found if rows is None else rows & found
        return rows

    def titled(self, h: Hit, name: str) -> bool:
        """`name` is the paper's own name or part of its title, or an acronym of consecutive title words ("CTR" in
        "... for Click-Through Rate Prediction")."""
        title = name_tokens(h.title)
        return self.own_name(h, name) or count_sequence(title, name_tokens(name)) > 0 or spells_acronym(name, title)

    def introduces_by_title(self, h: Hit, name: str) -> bool:
        """The paper may be the one that introduced `name`: its own name, a title that opens with it ("Pointer
        Networks", "The Lottery Ticket Hypothesis: ..."), or an acronym of its title words. A title that has it
        later is about it, not its origin ("When Vision Transformers Outperform ResNets ...")."""
        title = name_tokens(h.title)
        start = next((i for i, t in enumerate(title[:2]) if t not in ("the", "a", "an")), 0)
        want = name_tokens(name)
        opens = title[start:start + len(want)] == want or title[start:start + 1] == ["".join(want)]  # "gpt4"
        return self.own_name(h, name) or opens or spells_acronym(name, title)

    def name_problem(self, h: Hit, focus: Focus, required: Sequence[str], side: bool = False) -> str | None:
        """The first required name this paper fails, or None. A required name must be in the paper; the name of a
        compared side must be central to it (its own name, title or opening); "which paper introduced X?" needs X
        to be its own name or in its title; and a question about a name ("How was GPT-4 trained?") needs a paper
        for which one of the question's names is central."""
        for name in required:
            if focus.origin:
                ok = (self.introduces_by_title(h, name) and not (self.cites_as_prior(h, name)
                                                    and not self.own_name(h, name, by_title=False))
                      and not self.names_a_variant(h, name)) or (
                    name in focus.quoted and self.quoted_from_memory(h, name, title_only=True))
            elif side:
                ok = self.central(h, name)
            else:
                ok = self.mentions(h, name) > 0 or self.own_name(h, name) or (
                    name in focus.quoted and self.quoted_from_memory(h, name))
            if not ok:
                return name
        if focus.subjects and not side and not focus.origin and not any(self.central(h, n) for n in focus.names) \
                and not self.about_named_description(h, focus):
            return focus.subjects[0]
        return None

    def about_named_description(self, h: Hit, focus: Focus) -> bool:
        """The question's subject is a name that qualifies a description ("the LASSO channel-selection pruning
        paper"): the paper mentions the name and is about the described thing (its words are central to it)."""
        name = focus.subjects[0]
        m = re.match(re.escape(name) + r"\s+((?:[\w-]+\s+){1,4}?)(?:paper|work|method|approach|model|one)\b",
                     focus.subject_phrase or "")
        return bool(m) and len(content_terms(m.group(1))) >= 2 and self.mentions(h, name) > 0 and \
            self.centrality(h, content_terms(m.group(1))) >= self.settings.partial_min_coverage

    def quoted_from_memory(self, h: Hit, phrase: str, title_only: bool = False) -> bool:
        """A quoted phrase of plain words ("the original 'transformers do Bayesian inference' one") is the asker's
        memory of a title or a sentence: its content words are all in the title, or all in one sentence."""
        wanted = content_terms(phrase)
        if len(phrase.split()) < 3 or len(wanted) < 2 or is_coined(phrase):
            return False
        return wanted <= content_terms(h.title) or not title_only and any(
            wanted <= content_terms(s) for s in split_sentences(self.abstract(h)))

    def described_subject(self, focus: Focus) -> str | None:
        """The words a question without a named subject is about, when the collection has them as a phrase of at
        least two content words ("elastic weight consolidation"); else None (a paraphrase's own words)."""
        phrase = re.sub(r"^(?:the|an?)\s+", "", focus.subject_phrase or "", flags=re.I)
        # (what a question asks the origin of must be what the paper is about, however the collection words it)
        if focus.subjects or focus.bare or len(content_terms(phrase)) < 2 or not (
                focus.origin or self.papers_mentioning(phrase)):
            return None
        return phrase

    def about_phrase(self, h: Hit, phrase: str) -> bool:
        """The paper is about `phrase`: its words are among the paper's central terms (title, opening, repeated
        words), the rarest one included; a paper that names the thing once in passing is not about it."""
        wanted = content_terms(phrase)
        return self.centrality(h, wanted) >= self.settings.partial_min_coverage and bool(
            self.rarest(wanted) & self.central_terms(h)) and not self.only_a_baseline(h, phrase)

    def rarest(self, wanted: set[str]) -> set[str]:
        """The rarest of `wanted`, all of them when several are as rare (so which one is asked for does not depend on
        the order a set is read in)."""
        top = max((self.idf(t) for t in wanted), default=None)
        return {t for t in wanted if self.idf(t) == top}

    # --- terms ----------------------------------------------------------------------------------------------
    def term_coverage(self, h: Hit, wanted: set[str]) -> float:
        total = sum(self.idf(t) for t in wanted)
        if total <= 0:
            return 1.0
        return sum(self.idf(t) for t in wanted & self.paper_terms(h)) / total

    def passes(self, h: Hit, focus: Focus, wanted: set[str], required: Sequence[str], min_coverage: float,
               side: bool = False) -> bool:
        """Names as required, and enough of the terms."""
        # A paper the question names passes on its name, unless the name is a bare acronym the question is not
        # about: "the PDE residual" is not "Progressive Data Expansion (PDE)".
        by_name = h.named_as is not None and not (BARE_ACRONYM.fullmatch(h.named_as) and not any(
            name_tokens(h.named_as) == name_tokens(s) for s in focus.subjects))  # (in any number: "PFN", "PFNs")
        return self.name_problem(h, focus, required, side) is None and (
            by_name or self.term_coverage(h, wanted) >= min_coverage)

    def unknown_terms(self, text: str, compounds: bool = False) -> list[str]:
        """Words of `text` that no paper of the collection uses: none of their stems, or (for a technical word,
        which stemming may fold into a common one: "tokenization" → "token") not the word itself; with
        `compounds`, also a hyphenated compound no paper writes (a topic's "physics-informed")."""
        out = []
        for w in dict.fromkeys(re.findall(r"[A-Za-z0-9][\w+-]*", text)):
            stems = content_terms(w)
            if not stems:
                continue
            parts = words_of(w)
            if abbreviates(w, self.state.vocabulary) or (is_coined(w) and self.papers_mentioning(w)):
                continue  # "7M param recursive model": "param" is short for a word it has; "LLMEval2" = "LLMEval^2"
            parts = [p for p in parts if not AMOUNT.fullmatch(p)]  # "557M-parameter": a size, not a word
            if not parts:
                continue
            spelt = all(p in CONTENT_STOPWORDS or spelt_otherwise(p, self.state.vocabulary) for p in parts)
            if (all(self.state.doc_freq.get(t, 0) == 0 for t in stems) and not spelt) or any(
                    part not in CONTENT_STOPWORDS and len(part) >= 4 and not known_word(part, self.state.vocabulary)
                    and not common_english(part) for part in parts) or (compounds and self.unseen_compound(w)):
                out.append(w)
        return out

    def unseen_compound(self, word: str) -> bool:
        """A hyphenated compound of two or more words ("physics-informed") that no paper writes, hyphenated,
        spaced or joined, in any inflection: its words may each be common ("physics", "information") while the
        thing it names is absent."""
        parts = word.lower().split("-")
        if len(parts) < 2 or not all(p.isalpha() and len(p) >= 4 for p in parts):
            return False
        bases = [re.sub(r"(?:ing|ed|es|s)$", "", p) if len(p) > 5 else p for p in parts]
        pattern = re.compile(r"\b" + r"[\s-]?".join(re.escape(b) + r"\w{0,3}" for b in bases) + r"\b")
        return not any(pattern.search(p.title.lower() + " . " + p.abstract.lower())
                       for p in self.state.papers.values())

    def absent_name(self, name: str) -> bool:
        """A coined name ("WaveNet", "ZeRO", "GPT-5") that no title or abstract contains. A name that is also a word
        ("ZeRO", "zero") must appear in its own spelling."""
        pids = self.papers_mentioning(name)
        words = name.split()
        coined = [w for w in words if is_coined(w)]
        if not pids and len(words) > 1 and coined and all(
                w in coined or all(common_english(p) or p.lower() in CONTENT_STOPWORDS for p in w.split("-") if p)
                for w in words):
            # "WMT'14 English(-to-French)": a coined name run together with plain words; the coined part is what
            # must exist
            return any(self.absent_name(w) for w in coined)
        if not pids and self.abbreviates_a_title(name):
            return False  # "LTH": the initials of "The Lottery Ticket Hypothesis", though no abstract writes them
        if not pids:
            parts = [p for p in name.split("-") if len(p) >= 2]
            # "CNN-RNN": a combination of names the collection has, not a name of its own
            return not (len(parts) > 1 and all(self.papers_mentioning(p) for p in parts))
        if sum(c.isupper() for c in name) >= 2 and common_english(name):
            # (in its own capitals, also inside a compound: "ARC" in "ARC-AGI" and "Re-ARC")
            exact = re.compile(r"(?<!\w)" + re.escape(name) + r"s?(?!\w)")
            return not any(exact.search(self.state.papers[p].title + " " + self.state.papers[p].abstract)
                           for p in pids)
        return False

    def abbreviates_a_title(self, name: str) -> bool:
        """`name` (3-6 capitals) is the initials of every word of a title's name, the part before its colon."""
        return re.fullmatch(r"[A-Z]{3,6}", name) is not None and name.lower() in self.state.title_initials

    def absent(self, name: str) -> bool:
        """A name no abstract contains: coined ("TabPFN"), or of capitalised words ("Long Range Arena", "Git
        Re-Basin") in the singular or plural ("Gaussian Processes" is there as "Gaussian process")."""
        if is_coined(name):
            return self.absent_name(name)
        parts = re.findall(r"[A-Za-z0-9]+", name)
        return len(parts) >= 2 and all(p[0].isupper() or p[0].isdigit() for p in parts) and not (
            self.papers_mentioning(name) or self.papers_mentioning(re.sub(r"(?<=\w)e?s\b", "", name)))

    # --- reasons --------------------------------------------------------------------------------------------
    def name_reason(self, name: str, focus: Focus) -> str:
        pids = self.papers_mentioning(name)
        if not pids:
            return f"No abstract in the collection mentions {name}."
        titles = [self.state.papers[p].title for p in pids[:MAX_LISTED]]
        listed = "; ".join(f"“{t}”" for t in titles) + (f" and {len(pids) - MAX_LISTED} more"
                                                        if len(pids) > MAX_LISTED else "")
        n = f"{len(pids)} abstract{'s' if len(pids) != 1 else ''}"
        if focus.origin:
            return f"No paper in the collection introduces {name}; it is only mentioned in {n} ({listed})."
        return f"No paper in the collection is about {name}; it is only mentioned in passing in {n} ({listed})."

    def terms_reason(self, question: str, wanted: set[str], hits: Sequence[Hit]) -> tuple[str, list[str]]:
        have = set().union(*(self.paper_terms(h) for h in hits[:3])) if hits else set()
        missing = sorted(wanted - have, key=lambda t: (-self.idf(t), t))[:4]  # ties by name: the same reason every run
        words = [w for w in dict.fromkeys(re.findall(r"[\w’'+.-]*\w", question))
                 if content_terms(w) & set(missing)]
        if words:
            listed = ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]
            return f"None of the closest abstracts discusses {listed} together with the rest of the question.", words
        return "None of the indexed abstracts answers this question.", []
