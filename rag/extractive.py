"""The answer without an LLM: the most question-relevant sentences of the retrieved abstracts, quoted and
cited [n]. Comparisons get a section per paper and a problem / approach / key-result table whose cells are
sentences classified by cue phrases; topic questions get one line per paper."""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .embeddings import Embedder
from .facts import FACT_WORDS, asked_terms, states_fact
from .text import CONTENT_STOPWORDS, content_terms, find_names, overlap, split_sentences, stem
from .text import words as tokens
from .types import Hit

ROLE_CUES = {
    "problem": re.compile(r"\b(problem|challeng\w*|however|remain\w*|limit\w*|difficult\w*|struggl\w*|lack\w*|"
                          r"bottleneck|issue|costly|expensive|hard to|unclear|obstacle|gap|fail\w*|suffer\w*|"
                          r"little is known|open question|require\w*)\b", re.I),
    "approach": re.compile(r"\b(we (?:\w+ly )?(propos|introduc|present|develop|design|describ|us|adopt|formulat|"
                           r"consider|stud(?:y|ie)|investigat|analy[sz]|deriv|buil|construct|leverag|appl(?:y|ie)|"
                           r"incorporat|combin|replac)\w*|our (method|approach|model|framework|algorithm)s?|"
                           r"this (paper|work)|in this (paper|work)|based on|consists of|termed|called|dubbed|"
                           r"named|(?:simple|key|main|two|three) ideas?|a way is to)\b", re.I),
    "result": re.compile(r"(\b(outperform\w*|achiev\w*|attain\w*|we (show|find|demonstrate|observe|prove|obtain)\w*|"
                         r"results?|state[- ]of[- ]the[- ]art|improv\w*|accura\w*|speed-?up|faster|reduc\w*|"
                         r"surpass\w*|experiments?|empirical\w*|significantly|competitive|comparable|trade-?offs?|"
                         r"benchmarks?)\b|\d+(\.\d+)?\s?(%|x\b))", re.I),
}
ROLES = ("problem", "approach", "result")
MIN_ROLE_SCORE = 1.0  # a role's cue found at least once more than the other roles' (half-weighted) cues
DISTINCT_TERMS = 4  # words per paper in a comparison's "what differs" line


class SentenceCache:
    """Sentence splits and embeddings per paper, computed once (LRU) so warm answers stay fast."""

    def __init__(self, embedder: Embedder, size: int = 4096):
        self.embedder = embedder
        self.size = size
        self._data: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, papers: list[tuple[str, str]]) -> dict[str, tuple[list[str], np.ndarray]]:
        """papers: (paper_id, abstract) → {paper_id: (sentences, unit vectors)}."""
        out: dict[str, tuple[list[str], np.ndarray]] = {}
        missing: list[tuple[str, list[str]]] = []
        with self._lock:
            for pid, abstract in papers:
                if pid in self._data:
                    self._data.move_to_end(pid)
                    out[pid] = self._data[pid]
                else:
                    missing.append((pid, split_sentences(abstract) or [abstract]))
        if missing:
            flat = [s for _, sents in missing for s in sents]
            vecs = self.embedder.embed(flat)
            i = 0
            with self._lock:
                for pid, sents in missing:
                    entry = (sents, vecs[i:i + len(sents)])
                    i += len(sents)
                    self._data[pid] = entry
                    out[pid] = entry
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
        return out


@dataclass
class Ranked:
    sentence: str
    score: float
    position: int


_BOILERPLATE = re.compile(r"https?://|github\.com|\b(code|data|models?|implementation)s?\b[^.]{0,60}\b(is|are) "
                          r"(publicly |freely )?(available|released)|project page|\bwe (share|release|open-source)\b|"
                          r"\bour code\b", re.I)
_STRONG_APPROACH = re.compile(r"\bwe (propose|introduce|present|develop|design)\b|\b(our|the proposed) "
                              r"(method|approach|model|framework)\b", re.I)


_BACKGROUND = re.compile(r"\b(there (has|have) been|much (research|work)|prior (work|art)|previous (work|methods?)|"
                         r"existing (methods?|approaches|work)|recent(ly)? (years|work|advances))\b", re.I)


def is_boilerplate(sentence: str) -> bool:
    return bool(_BOILERPLATE.search(sentence))


def rank_sentences(question_vec: np.ndarray, question_words: set[str], sentences: list[str],
                   vectors: np.ndarray) -> list[Ranked]:
    dense = vectors @ question_vec if len(sentences) else np.zeros(0)
    out = [Ranked(s, 0.7 * float(dense[i]) + 0.3 * overlap(question_words, s)
                  - (1.0 if is_boilerplate(s) else 0.0), i)
           for i, s in enumerate(sentences)]
    return sorted(out, key=lambda r: -r.score)


def role_scores(sentence: str, position: int, n: int) -> dict[str, float]:
    scores = {role: float(len(ROLE_CUES[role].findall(sentence))) for role in ROLES}
    scores["approach"] += 1.5 * len(_STRONG_APPROACH.findall(sentence))
    if _BACKGROUND.search(sentence):  # what others did is context, not this paper's approach
        scores["approach"] -= 1.0
        scores["problem"] += 0.5
    if find_names(sentence, mid_sentence=False):
        scores["result"] += 0.5  # a result is usually reported on a named benchmark ("on ImageNet")
    if position == 0:
        scores["problem"] += 0.8  # abstracts open with the problem
    if n and position >= n - 2:
        scores["result"] += 0.5  # and close with results
    if 0 < position <= max(2, n // 2):
        scores["approach"] += 0.3
    return scores


def classify(sentences: list[str]) -> dict[str, str]:
    """Best sentence per role (each sentence used once) for the comparison table."""
    n = len(sentences)
    scored = [(i, role_scores(s, i, n)) for i, s in enumerate(sentences) if not is_boilerplate(s)]
    chosen: dict[str, str] = {}
    used: set[int] = set()

    def specific(x: tuple[int, dict[str, float]], role: str) -> tuple[float, int]:
        # a sentence that is clearly about this role and not about the others
        others = max(v for r, v in x[1].items() if r != role)
        return (x[1][role] - 0.5 * others, -x[0])

    for role in ("approach", "result", "problem"):
        best = max((x for x in scored if x[0] not in used), key=lambda x: specific(x, role), default=None)
        # A cell is filled only by a sentence that is clearly of its role; else the table says "—" (not stated).
        if best is not None and specific(best, role)[0] >= MIN_ROLE_SCORE:
            chosen[role] = sentences[best[0]]
            used.add(best[0])
    return chosen


def shorten(sentence: str, words: int = 32) -> str:
    w = sentence.split()
    return sentence if len(w) <= words else " ".join(w[:words]).rstrip(",;:") + " …"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


@dataclass
class Composed:
    text: str
    quotes: dict[int, str]  # n → the first sentence quoted from that source



def compose_lookup(question_vec: np.ndarray, question: str, hits: list[Hit],
                   sents: dict[str, tuple[list[str], np.ndarray]], per_paper: int, fact: str | None = None
                   ) -> Composed:
    """The best paper's most relevant sentences, then up to two more papers that are nearly as relevant. For a
    question after one fact (`fact`: "number" | "dataset"), the sentence that states it comes first, or the answer
    says the abstract does not state it."""
    qw = content_terms(question)
    lines: list[str] = []
    quotes: dict[int, str] = {}
    top_score = None
    for n, h in enumerate(hits, 1):
        sentences, vecs = sents[h.paper_id]
        ranked = rank_sentences(question_vec, qw, sentences, vecs)
        if not ranked:
            continue
        best = ranked[0].score
        if top_score is None:
            top_score = best
            picked = sorted(ranked[:per_paper], key=lambda r: r.position)
            stating = [r for r in ranked if fact and states_fact(r.sentence, fact)]
            if stating:  # (the one sharing most of what is asked: "how much faster than MCMC" is "10 000 times
                # faster", not "10 million curves ... using MCMC")
                asked = asked_terms(question, [h.title])
                stating.sort(key=lambda r: -len(asked & content_terms(r.sentence)))
            if fact and stating:
                picked = [stating[0]] + [r for r in picked if r is not stating[0]][: per_paper - 1]
            quotes[n] = picked[0].sentence
            body = " ".join(f"{r.sentence} [{n}]" for r in picked)
            if fact and not stating:
                lines.append(f"The abstract of **{h.title}** [{n}] does not state {FACT_WORDS[fact]}; what it "
                             f"says closest to the question: {body}")
            else:
                lines.append(f"**{h.title}** [{n}]: {body}")
        elif best >= 0.75 * top_score and len(quotes) < 3:
            quotes[n] = ranked[0].sentence
            lines.append(f"\n**{h.title}** [{n}] is also relevant: {ranked[0].sentence} [{n}]")
    if not lines:
        return Composed("", {})
    return Composed("\n".join(lines), quotes)


def compose_topic(question_vec: np.ndarray, topic: str, hits: list[Hit],
                  sents: dict[str, tuple[list[str], np.ndarray]]) -> Composed:
    qw = content_terms(topic)
    quotes: dict[int, str] = {}
    verb = "addresses" if len(hits) == 1 else "address"
    lines = [f"{len(hits)} paper{'s' if len(hits) != 1 else ''} in the collection {verb} {topic}:", ""]
    for n, h in enumerate(hits, 1):
        sentences, vecs = sents[h.paper_id]
        ranked = rank_sentences(question_vec, qw, sentences, vecs)
        s = ranked[0].sentence if ranked else h.text
        quotes[n] = s
        lines.append(f"- **{h.title}** [{n}]: {shorten(s, 45)} [{n}]")
    return Composed("\n".join(lines), quotes)


def distinct_words(text: str, others: list[str], idf: Callable[[str], float], k: int = DISTINCT_TERMS,
                   central: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The rarest content words of `text` (as written) whose terms none of `others` uses: what sets it apart.
    Words whose terms are `central` to the paper (its title, or repeated in its abstract) count double, and
    adverbs ("-ly") are no difference."""
    theirs = set().union(*(content_terms(o) for o in others)) if others else set()
    seen: dict[str, tuple[float, str]] = {}
    for w in re.findall(r"[A-Za-z][\w-]*[A-Za-z0-9]", text):
        terms = content_terms(w)
        if len(w) < 4 or not terms or terms & theirs or w.lower().endswith("ly"):
            continue
        key = "|".join(sorted(terms))
        score = sum(idf(t) for t in terms) * (2.0 if terms & central else 1.0)
        if key not in seen or score > seen[key][0]:
            seen[key] = (score, w)
    return [w for _, w in sorted(seen.values(), key=lambda x: -x[0])[:k]]


def compose_comparison(question_vec: np.ndarray, question: str, hits: list[Hit],
                       sents: dict[str, tuple[list[str], np.ndarray]], per_paper: int,
                       idf: Callable[[str], float] | None = None, fact: str | None = None) -> Composed:
    """hits: the papers being compared (one per side), numbered in order. A section per paper, one line of what
    sets each apart (its rarest words the others do not use), and a Problem / Approach / Key result table whose
    cells are sentences of that role or "—" (not stated). For a question after one fact ("what datasets did they
    use?"), each section opens with the sentence that states it, or says its abstract does not."""
    qw = content_terms(question)
    quotes: dict[int, str] = {}
    sections: list[str] = []
    rows: list[str] = []
    described: list[str] = []  # per paper: its approach and result sentences (what it does), else its abstract
    for n, h in enumerate(hits, 1):
        sentences, vecs = sents[h.paper_id]
        ranked = rank_sentences(question_vec, qw, sentences, vecs)
        picked = sorted(ranked[:per_paper], key=lambda r: r.position)
        stating = [r for r in ranked if fact and states_fact(r.sentence, fact)]
        if stating:
            picked = [stating[0]] + [r for r in picked if r is not stating[0]][: per_paper - 1]
        quotes[n] = picked[0].sentence if picked else h.text
        body = " ".join(f"{r.sentence} [{n}]" for r in picked)
        if fact and not stating:
            body = f"The abstract does not state {FACT_WORDS[fact]}; what it says closest to the question: {body}"
        side = f" (for “{h.side}”)" if h.side and h.side.lower() not in h.title.lower() else ""
        sections.append(f"### [{n}] {h.title}{side}\n{body}")
        roles = classify(sentences)
        described.append(" ".join(roles[r] for r in ("approach", "result") if r in roles)
                         or (h.paper.abstract if h.paper else h.text))
        cells = [cell(shorten(roles[r])) + f" [{n}]" if r in roles else "—" for r in ROLES]
        rows.append(f"| {cell(h.title)} [{n}] | " + " | ".join(cells) + " |")
    table = ["| Paper | Problem | Approach | Key result |", "|---|---|---|---|", *rows]
    text = "\n\n".join(sections)
    if idf is not None and len(hits) >= 2:
        abstracts = [h.paper.abstract if h.paper else h.text for h in hits]
        parts = []
        for n, (h, d) in enumerate(zip(hits, described, strict=True), 1):
            # What the paper does (its approach and result) in words no other compared abstract uses; its own
            # name is no difference.
            own = re.sub(r"\W", "", short_name(h).lower())
            counts = Counter(stem(w) for w in tokens(abstracts[n - 1]) if w not in CONTENT_STOPWORDS)
            central = content_terms(h.title) | {t for t, c in counts.items() if c >= 2}
            apart = [w for w in distinct_words(d, abstracts[:n - 1] + abstracts[n:], idf, k=DISTINCT_TERMS + 2,
                                               central=central)
                     if re.sub(r"\W", "", w.lower()) != own][:DISTINCT_TERMS]
            if apart:
                parts.append(f"{short_name(h)} [{n}] on *{', '.join(apart)}*")
        if len(parts) >= 2:
            text += "\n\n**What differs:** " + "; ".join(parts) + " (words of its approach and result that only " \
                "that abstract uses)."
    text += "\n\n**Side by side**\n\n" + "\n".join(table)
    return Composed(text, quotes)


def missing_sides(question_vec: np.ndarray, question: str, hits: list[Hit],
                  sents: dict[str, tuple[list[str], np.ndarray]], first: int) -> Composed:
    """A line per compared paper that an LLM's comparison did not cite: its sentence closest to the question,
    numbered from `first`."""
    qw = content_terms(question)
    quotes: dict[int, str] = {}
    lines: list[str] = []
    for n, h in enumerate(hits, first):
        ranked = rank_sentences(question_vec, qw, *sents[h.paper_id])
        quotes[n] = ranked[0].sentence if ranked else h.text
        lines.append(f"- *{h.title}*: {quotes[n]} [{n}]")
    return Composed("**Quoted from the compared papers the answer above does not cite:**\n" + "\n".join(lines),
                    quotes)


def short_name(h: Hit) -> str:
    """"ResMLP" for "ResMLP: Feedforward networks ...", else the title."""
    head = h.title.split(":", 1)[0].strip()
    return head if ":" in h.title and len(head.split()) <= 4 else h.title
