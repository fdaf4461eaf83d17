"""Everything retrieval derives from the stored collection, built once per collection generation: the complete
papers, the chunk arrays, BM25 over title + passage, the paper-name index and per-paper document frequencies.

An `IndexState` is never changed after it is built. It is saved next to the index (a new process, or a 100k-paper
collection, loads it in a fraction of the build time) and the searcher swaps a new one in with one reference
assignment, so a search uses one consistent state from start to end without taking a lock."""

from __future__ import annotations

import logging
import math
import os
import pickle
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .aliases import AliasIndex
from .spelling import case_forms, phrase_forms
from .store import StoredChunk
from .text import CONTENT_STOPWORDS, common_english, content_terms, light, name_tokens, stem, terms, words
from .types import Paper

log = logging.getLogger(__name__)
SNAPSHOT_VERSION = 19  # bump when the pickled state, or how any part of it is derived, changes


@dataclass(frozen=True)
class IndexState:
    generation: int  # the collection generation it was built from (see Store.generation)
    count: int  # chunks stored when it was built
    chunk_ids: list[str]
    chunk_text: list[str]
    chunk_paper: list[str]
    row_of: dict[str, int]  # chunk id → row
    papers: dict[str, Paper]  # complete papers only: a half-indexed paper is never found
    paper_rows: dict[str, list[int]]  # complete paper → its chunk rows, in order
    names: AliasIndex
    bm25: Any  # bm25s.BM25 over "title passage" per chunk row, or None for an empty collection
    doc_freq: Counter[str]  # content term → number of papers whose title or abstract has it
    vocabulary: frozenset[str]  # the `light` form of every word of the titles and abstracts (unseen-word checks)
    typical_idf: float  # mean IDF of the collection's terms: the weight of a common word it has never seen
    paper_bm25: Any  # bm25s.BM25 over "title abstract" per complete paper (rows in `paper_order`), or None
    paper_order: list[str]  # paper id of each row of `paper_bm25`
    vectors: Any = None  # float32 (count × dim) unit embeddings by chunk row, for exact dense search; None: use HNSW

    @property
    def n_papers(self) -> int:
        return len(self.papers)

    def idf(self, term: str) -> float:
        """How rare a content term is among the papers (log-scaled; a term no paper has weighs most)."""
        return math.log((len(self.papers) + 1) / (self.doc_freq.get(term, 0) + 0.5))

    @cached_property
    def case_forms(self) -> dict[str, str]:
        """How the collection spells the coined names a question may type in lowercase ("alexnet" → "AlexNet")."""
        return case_forms(p.title + " " + p.abstract for p in self.papers.values())

    @cached_property
    def phrase_forms(self) -> dict[str, str]:
        """How the abstracts write names of plain words ("vision transformer" → "Vision Transformer"); titles are
        left out, as they capitalise every word."""
        return phrase_forms(p.abstract for p in self.papers.values())

    @cached_property
    def title_initials(self) -> frozenset[str]:
        """The initials of every content word of each title's name, the part before its colon ("The Lottery Ticket
        Hypothesis: ..." → "lth")."""
        return frozenset("".join(t[0] for t in name_tokens(p.title.split(":", 1)[0]) if t not in CONTENT_STOPWORDS)
                         for p in self.papers.values())

    def plain_word(self, word: str) -> bool:
        """A word of the collection a slip may be corrected to: not a coined name it writes in capitals ("resnet"),
        and an English word or one used by a few papers (a one-off term is no safe guess)."""
        return word not in self.case_forms and (common_english(word) or self.doc_freq.get(stem(word), 0) >= 2)

    def abstract(self, paper_id: str) -> str:
        p = self.papers.get(paper_id)
        return p.abstract if p is not None else ""


def build_state(chunks: Sequence[StoredChunk], stored: dict[str, Paper], generation: int) -> IndexState:
    """The state for the chunks and paper records read from the store (`Store.contents()`)."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import
    rows: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        rows.setdefault(c.paper_id, []).append(i)
    papers: dict[str, Paper] = {}
    paper_rows: dict[str, list[int]] = {}
    for pid, rs in rows.items():
        rs.sort(key=lambda r: chunks[r].ordinal)
        paper = stored.get(pid)
        # A paper is visible only when all its chunks are stored: a query never sees a half-indexed paper.
        if paper is not None and [chunks[r].ordinal for r in rs] == list(range(chunks[rs[0]].n_chunks)):
            papers[pid] = paper
            paper_rows[pid] = rs
    doc_freq: Counter[str] = Counter()
    vocabulary: set[str] = set()
    for p in papers.values():
        doc_freq.update(content_terms(p.title + " " + p.abstract))
        vocabulary.update(light(w) for w in words(p.title + " " + p.abstract))
    n = len(papers)
    typical = sum(math.log((n + 1) / (df + 0.5)) for df in doc_freq.values()) / len(doc_freq) if doc_freq else 0.0
    names = AliasIndex.build((p.paper_id, p.title, p.abstract) for p in papers.values())
    bm25 = None
    if chunks:
        bm25 = bm25s.BM25()
        title = {pid: p.title for pid, p in stored.items()}
        bm25.index([terms(f"{title.get(c.paper_id, '')} {c.text}") or [""] for c in chunks], show_progress=False)
    order = list(papers)
    paper_bm25 = None
    if order:
        paper_bm25 = bm25s.BM25()
        paper_bm25.index([terms(f"{papers[pid].title} {papers[pid].abstract}") or [""] for pid in order],
                         show_progress=False)
    return IndexState(generation, len(chunks), [c.chunk_id for c in chunks], [c.text for c in chunks],
                      [c.paper_id for c in chunks], {c.chunk_id: i for i, c in enumerate(chunks)}, papers,
                      paper_rows, names, bm25, doc_freq, frozenset(vocabulary), typical, paper_bm25, order)


# --- snapshots ------------------------------------------------------------------------------------------------
# The file is ours, in the index folder: whoever can write there can already rewrite the index.
def load_snapshot(path: Path, generation: int, count: int) -> IndexState | None:
    """The saved state if it was built from this generation and chunk count, else None."""
    try:
        with path.open("rb") as f:
            saved = pickle.load(f)
        logging.getLogger("bm25s").setLevel(logging.WARNING)  # unpickling imports bm25s, which sets DEBUG
        state = saved.get("state")
        if saved.get("version") == SNAPSHOT_VERSION and isinstance(state, IndexState) and \
                (state.generation, state.count) == (generation, count):
            return state
    except FileNotFoundError:
        pass
    except Exception as e:  # truncated, from another version of a library, ...: rebuild it
        log.warning("ignoring the retrieval snapshot %s (%s); rebuilding it", path, type(e).__name__)
    return None


def save_snapshot(path: Path, state: IndexState) -> None:
    """Write atomically, then remove older snapshots of the same collection name (a rebuilt collection's)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump({"version": SNAPSHOT_VERSION, "state": state}, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
        prefix = path.name.rsplit("-", 1)[0]
        for old in path.parent.glob(f"{prefix}-*.pkl"):
            # "<collection>-<digest>.pkl": only this collection's, not "<collection>-other-<digest>.pkl"
            if old != path and "-" not in old.name[len(prefix) + 1:]:
                old.unlink(missing_ok=True)
    except OSError as e:  # a read-only index folder only costs the next process a rebuild
        log.info("could not save the retrieval snapshot %s: %s", path, e)
