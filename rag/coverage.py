"""Does the collection cover a question? Checked against what the question is about (its `Focus`), paper by
paper, not as one similarity score:

- every name the question mentions must be in the evidence paper; a name no abstract contains makes the answer
  "not covered" ("No abstract in the collection mentions AlphaFold.") when the question is about it, and is
  reported beside the answer when it is only a detail of a description ("... trained on small TSP instances");
- a name the question is about ("How was GPT-4 trained?") must be central to the paper (its own name, in its
  title, or mentioned more than once), and "which paper introduced X?" needs X to be a paper's own name;
- the paper must contain enough of the question's content terms, weighted by how rare they are in the
  collection (rare terms carry the topic).

Topic questions keep only papers that pass; comparisons are checked side by side, so a side with no paper is
named while the other sides are answered. The result says why in words."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .focus import Focus, focus_of
from .index_state import IndexState
from .plan import QueryPlan
from .settings import Settings
from .text import (
    BARE_ACRONYM,
    CONTENT_STOPWORDS,
    common_english,
    content_terms,
    count_name,
    count_sequence,
    defines_acronym,
    is_coined,
    known_word,
    name_tokens,
    spells_acronym,
    split_sentences,
    stem,
    terms,
    topic_head,
)
from .text import words as words_of
from .types import Hit

MAX_LISTED = 3  # papers named in a reason ("mentioned in passing in A, B and C")
SUBJECT_HEAD_WORDS = 2  # "speculative decoding", "the LAMB": the words a subject phrase is about
SIDE_NAME_WORDS = 2  # "the Lion optimizer" names a thing; a longer side after the name describes one


@dataclass(frozen=True)
class Coverage:
    covered: bool  # the answer may use `evidence`
    evidence: list[Hit]  # the hits that pass, best first (for a comparison: one per covered side)
    reason: str | None = None  # why the question is not (or only partly) covered, in words
    missing: list[str] = field(default_factory=list)  # names / sides / terms the evidence lacks
    partial: bool = False  # covered in part (a comparison side without a paper)


class Judge:
    """Coverage checks for one question against one index state (caches per-paper tokens and terms)."""

    def __init__(self, state: IndexState, settings: Settings, unseen_common: frozenset[str] = frozenset()):
        """`unseen_common`: terms of the question that no paper uses but that are everyday English words: the
        collection says nothing of how rare they are, so they weigh as much as a typical term, not the most."""
        self.state = state
        self.settings = settings
        self.unseen_common = unseen_common
        self._tokens: dict[str, list[str]] = {}
        self._terms: dict[str, set[str]] = {}
        self._central: dict[str, set[str]] = {}

    def idf(self, term: str) -> float:
        return self.state.typical_idf if term in self.unseen_common else self.state.idf(term)

    def paper_tokens(self, h: Hit) -> list[str]:
        if h.paper_id not in self._tokens:
            self._tokens[h.paper_id] = name_tokens(h.title + " . " + (h.paper.abstract if h.paper else h.text))
        return self._tokens[h.paper_id]

    def central_terms(self, h: Hit) -> set[str]:
        """Terms a paper is about: those of its title and opening sentences, and those its abstract repeats."""
        if h.paper_id not in self._central:
            abstract = h.paper.abstract if h.paper else h.text
            opening = " ".join(split_sentences(abstract)[: self.settings.central_sentences])
            counts = Counter(stem(w) for w in words_of(abstract))
            self._central[h.paper_id] = content_terms(h.title + " " + opening) | {
                t for t in content_terms(abstract) if counts[t] >= 2}
        return self._central[h.paper_id]

    def centrality(self, h: Hit, wanted: set[str]) -> float:
        """IDF-weighted share of `wanted` among the terms the paper is about (not just mentions)."""
        total = sum(self.idf(t) for t in wanted)
        return 1.0 if total <= 0 else sum(self.idf(t) for t in wanted & self.central_terms(h)) / total

    def paper_terms(self, h: Hit) -> set[str]:
        if h.paper_id not in self._terms:
            self._terms[h.paper_id] = content_terms(h.title + " " + (h.paper.abstract if h.paper else h.text))
        return self._terms[h.paper_id]

    # --- names ----------------------------------------------------------------------------------------------
    def mentions(self, h: Hit, name: str) -> int:
        return count_name(self.paper_tokens(h), name)

    def own_name(self, h: Hit, name: str) -> bool:
        """`name` is (the start of) one of the paper's own names: "NASNet" for "NASNet architecture"."""
        want = name_tokens(name)
        own = [h.named_as] if h.named_as else []
        return any(name_tokens(a)[: len(want)] == want for a in [*own, *self.state.names.names.get(h.paper_id, ())])

    def central(self, h: Hit, name: str) -> bool:
        """The paper is about `name`: its own name, in its title, or named in the opening sentences of its
        abstract and again later (a paper that only compares with GPT-4 names it later, or once)."""
        if self.titled(h, name):
            return True
        # Named once in the opening is a comparison or an example ("the same architecture as Mistral 7B"); a
        # paper about the thing comes back to it.
        opening = " ".join(split_sentences(h.paper.abstract if h.paper else h.text)[: self.settings.central_sentences])
        return count_name(name_tokens(opening), name) > 0 and self.mentions(h, name) >= 2

    def papers_mentioning(self, name: str) -> list[str]:
        """Ids of the papers whose title or abstract contains `name`, over the whole collection (BM25's postings
        narrow the candidates; the token sequence is then checked)."""
        state = self.state
        want = name_tokens(name)
        if state.bm25 is None or not want:
            return []
        rows: set[int] | None = None
        for t in set(terms(name)):
            found = set(np.flatnonzero(state.bm25.get_scores([t]) > 0).tolist())
            rows = found if rows is None else rows & found
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

    def titled(self, h: Hit, name: str) -> bool:
        """`name` is the paper's own name or part of its title, or an acronym of consecutive title words ("CTR" in
        "... for Click-Through Rate Prediction")."""
        title = name_tokens(h.title)
        return self.own_name(h, name) or count_sequence(title, name_tokens(name)) > 0 or spells_acronym(name, title)

    def name_problem(self, h: Hit, focus: Focus, required: Sequence[str], side: bool = False) -> str | None:
        """The first required name this paper fails, or None. A required name must be in the paper; the name of a
        compared side must be central to it (its own name, title or opening); "which paper introduced X?" needs X
        to be its own name or in its title; and a question about a name ("How was GPT-4 trained?") needs a paper
        for which one of the question's names is central."""
        for name in required:
            if focus.origin:
                ok = self.titled(h, name)
            elif side:
                ok = self.central(h, name)
            else:
                ok = self.mentions(h, name) > 0 or self.own_name(h, name)
            if not ok:
                return name
        if focus.subjects and not side and not focus.origin and not any(self.central(h, n) for n in focus.names):
            return focus.subjects[0]
        return None

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
        by_name = h.named_as is not None and not (
            BARE_ACRONYM.fullmatch(h.named_as) and h.named_as not in focus.subjects)
        return self.name_problem(h, focus, required, side) is None and (
            by_name or self.term_coverage(h, wanted) >= min_coverage)

    def unknown_terms(self, text: str) -> list[str]:
        """Words of `text` that no paper of the collection uses: none of their stems, or (for a technical word,
        which stemming may fold into a common one: "tokenization" → "token") not the word itself."""
        out = []
        for w in dict.fromkeys(re.findall(r"[A-Za-z0-9][\w+-]*", text)):
            stems = content_terms(w)
            if not stems:
                continue
            parts = words_of(w)
            if all(self.state.doc_freq.get(t, 0) == 0 for t in stems) or any(
                    part not in CONTENT_STOPWORDS and len(part) >= 4 and not known_word(part, self.state.vocabulary)
                    and not common_english(part) for part in parts):
                out.append(w)
        return out

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
        if not pids:
            parts = [p for p in name.split("-") if len(p) >= 2]
            # "CNN-RNN": a combination of names the collection has, not a name of its own
            return not (len(parts) > 1 and all(self.papers_mentioning(p) for p in parts))
        if sum(c.isupper() for c in name) >= 2 and common_english(name):
            exact = re.compile(r"(?<![\w-])" + re.escape(name) + r"s?(?![\w-])")
            return not any(exact.search(self.state.papers[p].title + " " + self.state.papers[p].abstract)
                           for p in pids)
        return False

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
        missing = sorted(wanted - have, key=lambda t: -self.idf(t))[:4]
        words = [w for w in dict.fromkeys(question.replace("?", " ").split())
                 if content_terms(w) and next(iter(content_terms(w))) in missing]
        if words:
            listed = ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]
            return f"None of the closest abstracts discusses {listed} together with the rest of the question.", words
        return "None of the indexed abstracts answers this question.", []


def assess(state: IndexState, question: str, plan: QueryPlan, hits: Sequence[Hit], settings: Settings,
           focus: Focus | None = None) -> Coverage:
    """Which of `hits` are evidence for `question`, and if none (or not all sides) are, why."""
    focus = focus or focus_of(plan.topic or question)
    unseen_common = frozenset(stem(w) for w in words_of(question) if state.doc_freq.get(stem(w), 0) == 0
                              and common_english(w))
    judge = Judge(state, settings, unseen_common)
    if not hits:
        return Coverage(False, [], "No paper in the collection matches this question.")
    if plan.kind == "comparative" and plan.sides:
        return _comparison(judge, focus, plan, hits, settings)
    # A name no abstract contains that the question is about (its subject, a quoted name, "which paper introduced
    # X?", a topic's name, or anything in a short question) means the collection says nothing about it. One that
    # is a detail of a long description ("... policies trained on small TSP instances ...") does not: the rest
    # may still be answered, if it passes every check below, and the answer says which name no abstract has.
    absent = [n for n in focus.names if judge.absent(n)]
    absent_reason = f"No abstract in the collection mentions {' or '.join(absent[:3])}." if absent else None
    detail_terms = set().union(*(content_terms(n) for n in absent))
    wanted = set(focus.terms) - detail_terms
    if absent and (plan.kind == "topic" or focus.origin or len(wanted) < settings.detail_min_terms or any(
            n in focus.subjects or n in focus.quoted or defines_acronym(question, n)
            for n in absent)):
        return Coverage(False, [], absent_reason, absent[:3])
    # What the question is about must exist in the collection: a topic's head ("knowledge graph embeddings") or
    # the subject of "How does speculative decoding ...". A word no abstract uses means no paper is about it.
    # (Of a subject phrase only its first words: "graph neural networks cope with ..." ends in its verb.)
    about = topic_head(plan.topic) if plan.kind == "topic" and plan.topic else \
        " ".join((focus.subject_phrase or "").split()[:SUBJECT_HEAD_WORDS])
    # "tokenization or byte-pair encoding", "anomaly / defect detection": one alternative the collection has is
    # enough.
    alternatives = [a for a in re.split(r"\s+or\s+|\s*/\s*", about) if a.strip()] if about else []
    unknowns = [judge.unknown_terms(a) for a in alternatives]
    unknown = unknowns[0] if unknowns and all(unknowns) else []
    if unknown:
        names = [w for w in unknown if w in focus.names]  # a name as written, else the words in quotes
        listed = " or ".join(names[:3] or [f"“{w}”" for w in unknown[:3]])
        return Coverage(False, [], f"No abstract in the collection mentions {listed}.", unknown[:3])
    min_cov = settings.topic_min_coverage if plan.kind == "topic" else settings.min_coverage
    pool = hits if plan.kind == "topic" else hits[: settings.evidence_top]
    # Names the evidence must have: what the question is about, and the names of a topic itself ("papers that use
    # BERT"). Other names are details of a description ("... rumours on Twitter"): they count as rare terms.
    head = topic_head(plan.topic) if plan.kind == "topic" and plan.topic else ""
    required = list(dict.fromkeys([*focus.subjects, *focus.quoted, *(n for n in focus.names if head and n in head)]))
    evidence = [h for h in pool if judge.passes(h, focus, wanted, required, min_cov)]
    if head:
        # A topic is covered when at least one paper is about it (its title, opening or repeated words), not only
        # mentions it; then every paper that covers its words is listed.
        def about_it(h: Hit) -> bool:
            for alt in [a for a in re.split(r"\s+or\s+|\s*/\s*", head) if content_terms(a)] or [head]:
                alt_terms = content_terms(alt)
                alt_rarest = max(alt_terms, key=judge.idf, default=None)
                if judge.centrality(h, alt_terms) >= min_cov and (
                        alt_rarest is None or alt_rarest in judge.central_terms(h)):
                    return True
            return False

        # A paper whose own name the question uses outside the topic itself ("... add the PDE residual ...") is
        # listed only if it is about the topic: a shared acronym is not a shared subject.
        kept = [h for h in evidence if not h.named_as or about_it(h)
                or count_sequence(name_tokens(head), name_tokens(h.named_as)) > 0]
        if evidence and not kept:
            return Coverage(False, [], f"No paper in the collection is about {head.strip()}.", [head.strip()])
        evidence = kept
        head_terms = content_terms(head)
        rarest = max(head_terms, key=judge.idf, default=None)
        if evidence and not any(h.named_as or about_it(h) for h in evidence):
            word = next((w for w in words_of(head) if rarest in content_terms(w)), rarest)
            mentioning = [h.title for h in evidence if rarest in judge.paper_terms(h)][:MAX_LISTED]
            where = (" (" + "; ".join(f"“{t}”" for t in mentioning) + ")") if mentioning else ""
            return Coverage(False, [], f"No paper in the collection is about {head.strip()}; “{word}” appears only "
                            f"in passing{where}.", [head.strip()])
    if absent:  # the rest of the question must be well covered to be answered without the name
        evidence = [h for h in evidence if judge.term_coverage(h, wanted) >= settings.partial_min_coverage]
    if evidence and absent:
        return Coverage(True, evidence, f"{absent_reason} The answer draws on the papers that match the rest of the "
                        "question.", absent[:3], partial=True)
    if evidence:
        return Coverage(True, evidence)
    if absent:
        return Coverage(False, [], absent_reason, absent[:3])
    # Why not: a name first (the clearest reason), else the topic's rare terms.
    for name in required:
        if all(judge.name_problem(h, focus, [name]) == name for h in pool):
            return Coverage(False, [], judge.name_reason(name, focus), [name])
    if head and pool and any(h.named_as for h in pool):  # found only by a name shared with something else
        return Coverage(False, [], f"No paper in the collection is about {head.strip()}.", [head.strip()])
    reason, missing = judge.terms_reason(plan.topic or question, wanted, pool)
    return Coverage(False, [], reason, missing)


def _comparison(judge: Judge, focus: Focus, plan: QueryPlan, hits: Sequence[Hit], settings: Settings) -> Coverage:
    """Each side must have its own paper: the side's hit must contain the side's names (as subjects) and enough
    of the side's terms."""
    evidence: list[Hit] = []
    missing: list[str] = []
    reasons: list[str] = []
    for side in plan.sides:
        side_hits = [h for h in hits if h.side == side.label]
        # A side that opens the question ("Winning tickets vs. ...") has a capital because the sentence starts there.
        opens = plan.query.lstrip(" \"'“‘").startswith(side.label)
        side_focus = focus_of(side.label, mid_sentence=not opens)
        # The name a side opens with is what it is about ("MgNO", "the LSTM encoder-decoder approach"); other names
        # in a described side are details.
        label = re.sub(r"^(?:the|an?)\s+", "", side.label, flags=re.I)
        names = [n for n in side_focus.names if label.lower().startswith(n.lower())][:1]
        if names and judge.absent(names[0]):  # "TabPFN performance on small tabular data": no abstract has it
            missing.append(side.label)
            reasons.append(f"No abstract in the collection mentions {names[0]}.")
            continue
        if names and len(content_terms(label[len(names[0]):])) > SIDE_NAME_WORDS:
            names = []  # a description that starts with a name ("the LSTM encoder-decoder approach to ...")
        wanted = set(side_focus.terms)
        # (a side with a name, "GPipe's synchronous pipelining", is about the name, which the checks below look for)
        unknown = [] if side_focus.names else judge.unknown_terms(" ".join(label.split()[:SUBJECT_HEAD_WORDS]))
        if unknown:  # what the side is ("capsule networks with ...") is a word no abstract uses
            missing.append(side.label)
            word = next((w for w in unknown if w in side_focus.names), f"“{unknown[0]}”")
            reasons.append(f"No abstract in the collection mentions {word}.")
            continue
        ok = [h for h in side_hits if judge.passes(h, side_focus, wanted, names, settings.min_coverage, side=True)]
        if ok:
            evidence.append(ok[0])
            continue
        missing.append(side.label)
        named = next((n for n in names if all(judge.name_problem(h, side_focus, [n], side=True)
                                              for h in side_hits)), None)
        reasons.append(judge.name_reason(named, side_focus) if named else
                       f"No paper in the collection matches “{side.label}”.")
    if not missing:
        return Coverage(True, evidence)
    # Half a comparison is worth answering only when the sides found are clearly there: a side's name is the
    # paper's own or in its title (not only central to it), or the side is a description the paper covers well.
    def strong(h: Hit) -> bool:
        f = focus_of(h.side or "", mid_sentence=not plan.query.lstrip(" \"'“‘").startswith(h.side or ""))
        if f.names:
            return judge.titled(h, f.names[0])
        return h.named_as is not None or judge.centrality(h, set(f.terms)) >= settings.partial_min_coverage

    strong_sides = [h for h in evidence if strong(h)]
    if len(strong_sides) < len(evidence) or not evidence:
        return Coverage(False, [], " ".join(reasons), missing)
    answered = ", ".join(f"“{h.side}”" for h in evidence)
    return Coverage(True, evidence, f"Only part of the comparison is covered: {' '.join(reasons)} "
                    f"The answer covers {answered} only.", missing, partial=True)
