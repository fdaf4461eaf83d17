"""Post-hoc attribution: citations that do not depend on the model's obedience. Every sentence (or table cell) of a
model's answer is matched to its best-supporting sentence among the sources the model was shown. A sentence the
model cited is checked against what it cites; an uncited one that a source clearly supports gets that source's
[n] (recorded as *attributed*); one that nothing supports is marked. The share of supported sentences tells the
answerer whether to show the answer at all. Pure functions over text, sentences and vectors."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .citations import CITE, numbers, strip
from .text import content_terms, split_sentences

MIN_TERMS = 3  # fragments with fewer content terms ("See [1].", headings, "Sure!") are not claims
UNSUPPORTED_CITED = " *(unsupported by the cited abstract)*"
UNSUPPORTED_UNCITED = " *(not found in the sources)*"
_END = re.compile(r"^(.*?)((?:[.!?:;]+[\"”’)]*)?\s*)$", re.S)


@dataclass(frozen=True)
class Source:
    """One numbered source as the model saw it: its title and its abstract's sentences with unit vectors."""

    title: str
    sentences: list[str]
    vectors: np.ndarray

    @cached_property
    def terms(self) -> set[str]:
        return content_terms(self.title + " " + " ".join(self.sentences))


@dataclass(frozen=True)
class Attributed:
    """The checked answer, numbered against the sources (1..len(sources)), before any renumbering."""

    text: str
    unsupported: list[str]  # claims no source (or not the cited one) supports, as written before their mark
    attributed: list[str]  # claims whose citation was added here, with it
    quotes: dict[int, str]  # source number → the sentence of it that best supports what cites it
    claims: int
    supported: int
    cited_by_model: set[int] = field(default_factory=set)  # valid source numbers the model itself wrote

    @property
    def share(self) -> float | None:
        """Share of claims that are supported; None when the answer states nothing checkable."""
        return self.supported / self.claims if self.claims else None


@dataclass
class _Unit:
    line: int
    start: int
    end: int
    text: str


def units(text: str) -> list[_Unit]:
    """Sentences of prose lines and cells of table rows, with their place in the text. Headings and table
    separators are not units."""
    out: list[_Unit] = []
    for i, line in enumerate(text.split("\n")):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or re.fullmatch(r"[|:\-\s]+", stripped):
            continue
        parts = [c for c in stripped.strip("|").split("|")] if stripped.startswith("|") else split_sentences(line)
        pos = 0
        for part in parts:
            part = part.strip()
            at = line.find(part, pos) if part else -1
            if at < 0:
                continue
            out.append(_Unit(i, at, at + len(part), part))
            pos = at + len(part)
    return out


def is_claim(unit: str) -> bool:
    return len(content_terms(strip(unit).strip(" *#-"))) >= MIN_TERMS


def with_citation(unit: str, n: int) -> str:
    """`unit` with [n] before its closing punctuation: "It prunes weights." → "It prunes weights [n]."."""
    m = _END.match(unit)
    body, tail = (m.group(1), m.group(2)) if m else (unit, "")
    return f"{body.rstrip()} [{n}]{tail}"


def attribute(text: str, sources: Sequence[Source], embed: Callable[[list[str]], np.ndarray], *,
              cited_threshold: float, attribution_threshold: float) -> Attributed:
    """Check and complete the citations of `text` (citing sources 1..len(sources); other numbers must already be
    gone). A cited claim is supported when, for one of its citations, max(best sentence similarity, share of its
    words in the source) reaches `cited_threshold`. An uncited claim gets the source whose mean of those two is
    highest, when that reaches `attribution_threshold`; else it is marked as not found in the sources."""
    found = [u for u in units(text) if is_claim(u.text)]
    model_cited = {n for m in CITE.finditer(text) for n in numbers(m.group(1)) if 1 <= n <= len(sources)}
    if not found or not sources:
        return Attributed(text, [], [], {}, len(found), 0, model_cited)
    vecs = embed([strip(u.text) for u in found])
    unsupported: list[str] = []
    attributed_units: list[tuple[_Unit, str]] = []
    marked: list[tuple[_Unit, str]] = []
    best_quote: dict[int, tuple[float, str]] = {}
    supported = 0
    for unit, v in zip(found, vecs, strict=True):
        terms = content_terms(strip(unit.text))
        scores = [_score(terms, v, s) for s in sources]  # (dense, sentence index, lexical) per source
        cited = [n for m in CITE.finditer(unit.text) for n in numbers(m.group(1)) if 1 <= n <= len(sources)]
        if cited:
            best_n = max(cited, key=lambda n: max(scores[n - 1][0], scores[n - 1][2]))
            ok = max(scores[best_n - 1][0], scores[best_n - 1][2]) >= cited_threshold
            mark = None if ok else unit.text + UNSUPPORTED_CITED
            for n in cited:
                _keep_quote(best_quote, n, scores[n - 1], sources[n - 1])
        else:
            means = [(d + lex) / 2 for d, _, lex in scores]
            best_n = int(np.argmax(means)) + 1
            ok = means[best_n - 1] >= attribution_threshold
            if ok:
                new = with_citation(unit.text, best_n)
                attributed_units.append((unit, new))
                _keep_quote(best_quote, best_n, scores[best_n - 1], sources[best_n - 1])
                mark = new
            else:
                mark = unit.text + UNSUPPORTED_UNCITED
        if ok:
            supported += 1
        else:
            unsupported.append(unit.text)
        if mark is not None:
            marked.append((unit, mark))
    lines = text.split("\n")
    for unit, new in sorted(marked, key=lambda x: (x[0].line, x[0].start), reverse=True):
        ln = lines[unit.line]
        lines[unit.line] = ln[: unit.start] + new + ln[unit.end:]
    return Attributed("\n".join(lines), unsupported, [new for _, new in attributed_units],
                      {n: q for n, (_, q) in best_quote.items()}, len(found), supported, model_cited)


def _score(terms: set[str], v: np.ndarray, source: Source) -> tuple[float, int, float]:
    if not source.sentences:
        return 0.0, -1, 0.0
    dense = source.vectors @ v
    i = int(np.argmax(dense))
    lexical = len(terms & source.terms) / max(1, len(terms))
    return float(dense[i]), i, lexical


def _keep_quote(best: dict[int, tuple[float, str]], n: int, score: tuple[float, int, float], source: Source) -> None:
    dense, i, _ = score
    if i >= 0 and dense > best.get(n, (-1.0, ""))[0]:
        best[n] = (dense, source.sentences[i])
