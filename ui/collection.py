"""The Collection view: every paper in the index, searchable by words in its title, abstract or authors and
filterable by year and by the source file it was read from, with a count and a link per paper."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from rag import Paper

from .render import authors_text, esc, highlight_words, link_html, nice_date

ANY_YEAR, NO_DATE, ALL_FILES = "Any year", "No date given", "All source files"
SORTS = ("Title A–Z", "Newest first")
MAX_SHOWN = 500  # a bigger collection is narrowed with the search box, not scrolled


def collection_papers(engine: Any) -> list[Paper]:
    """All papers of the collection (complete ones), sorted by title."""
    return sorted(engine.papers(), key=lambda p: p.title.casefold())


def year_of(paper: Paper) -> str | None:
    return paper.date[:4] if paper.date and paper.date[:4].isdigit() else None


def file_label(path: str) -> str:
    return PurePath(path).name


def filter_choices(papers: Sequence[Paper]) -> tuple[list[str], list[str]]:
    """Year and source-file choices, each with its count ("2023 (9)")."""
    years = Counter(year_of(p) for p in papers)
    year_choices = [ANY_YEAR] + [f"{y} ({years[y]})" for y in sorted((y for y in years if y), reverse=True)]
    if years.get(None):
        year_choices.append(f"{NO_DATE} ({years[None]})")
    files = Counter(file_label(s.file) for p in papers for s in {s.file: s for s in p.sources}.values())
    return year_choices, [ALL_FILES] + [f"{f} ({files[f]})" for f in sorted(files)]


def _choice(value: str | None) -> str:
    """"2023 (9)" → "2023": the label without its count."""
    value = (value or "").strip()
    return value.rsplit(" (", 1)[0] if value.endswith(")") else value


def filter_papers(papers: Sequence[Paper], query: str = "", year: str | None = None, source: str | None = None,
                  sort: str | None = None) -> list[Paper]:
    """Papers whose title, abstract or authors contain every word of `query` (any case), from `year` (or with no
    date) and read from `source`, in the chosen order."""
    words = [w for w in (query or "").casefold().split() if w]
    y, f = _choice(year), _choice(source)
    out = []
    for p in papers:
        if y and y != ANY_YEAR and (year_of(p) or NO_DATE) != y:
            continue
        if f and f != ALL_FILES and f not in {file_label(s.file) for s in p.sources}:
            continue
        text = " ".join([p.title, p.abstract, *p.authors]).casefold()
        if all(w in text for w in words):
            out.append(p)
    if sort == SORTS[1]:
        out.sort(key=lambda p: p.date or "", reverse=True)  # stable: undated papers keep title order, last
    return out


def collection_html(papers: Sequence[Paper], shown: Sequence[Paper], query: str = "") -> str:
    """The count and the list (each paper folds open to its abstract and link); `query` words are marked."""
    n, total, words = len(shown), len(papers), (query or "").split()
    count = (f"All {total:,} papers" if n == total else f"Showing {n:,} of {total:,} papers")
    if n > MAX_SHOWN:
        count += f" (the first {MAX_SHOWN:,} are listed; narrow the search to see the rest)"
    items = []
    for p in shown[:MAX_SHOWN]:
        files = ", ".join(sorted({file_label(s.file) for s in p.sources}))
        meta = " · ".join(x for x in (nice_date(p.date), authors_text(p), files) if x)
        items.append(f'<div class="coll-item"><details><summary><span class="coll-title">'
                     f'{highlight_words(p.title, words)}</span><span class="coll-meta">{esc(meta)}</span></summary>'
                     f'<p>{highlight_words(p.abstract, words)}</p>'
                     f'<div class="src-meta">{link_html(p.paper_id, p.title, p)}</div></details></div>')
    empty = '<div class="src-empty"><p>No paper matches these filters.</p></div>' if not shown else ""
    return (f'<div class="coll-count" id="coll-count">{count}</div>'
            f'<div class="coll-list">{"".join(items)}{empty}</div>')
