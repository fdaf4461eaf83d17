"""Search: a question → one hit per paper, best first. The `Searcher` holds the current `IndexState` (swapped in
whole when an ingest changed the collection), runs the two raw rankings (dense through the store, BM25 over the
state) and hands them to the pure functions of `rank` as the question's plan asks: one ranking for a lookup,
one per side for a comparison, a relevance cut for a topic question."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .embeddings import Embedder
from .errors import InputError
from .index_state import SNAPSHOT_VERSION, IndexState, build_state, load_snapshot, save_snapshot
from .plan import QueryPlan, Side, plan_query
from .rank import Scores, assemble_comparison, rank_papers, select_topic
from .settings import Settings
from .store import Store
from .text import query_terms
from .types import Hit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    plan: QueryPlan
    state: IndexState  # the state the search used (its papers, document frequencies, names)
    notice: str | None = None
    candidates: list[Hit] | None = None  # a topic question's ranking before the relevance cut


def unit_matrix(ids: list[str], vectors: dict[str, np.ndarray]) -> np.ndarray | None:
    """The embeddings of `ids` as rows of unit length, so dense search is one exact matrix product; None when one
    is missing (written meanwhile): then Chroma's HNSW index is searched. (HNSW is approximate, and its misses
    differ from one process to the next: seen, 58 of the true 60 nearest chunks of 539, another run 60.)"""
    if not ids or any(i not in vectors for i in ids):
        return None
    m = np.stack([vectors[i] for i in ids]).astype(np.float32, copy=False)
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


class Searcher:
    """Searches one collection. Thread-safe without a lock on the search path: each search reads `self.state`
    once and uses that immutable state to the end; a reload builds a new state and swaps the reference."""

    def __init__(self, store: Store, embedder: Embedder, settings: Settings):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._reload_guard = threading.Lock()
        self._reloader: threading.Thread | None = None
        self._load_seq = self._applied_seq = 0
        self.loaded_from_snapshot = False
        self.state: IndexState = self._load()
        self._checked = time.monotonic()

    # --- the state ------------------------------------------------------------------------------------------
    def _load(self) -> IndexState:
        with self._reload_guard:  # loads may overlap (a background reload and a forced one): newest wins
            self._load_seq += 1
            ticket = self._load_seq
        generation, count = self.store.generation(), self.store.count()
        path = self._snapshot_path()
        state = load_snapshot(path, generation, count)
        from_snapshot = state is not None
        exact = 0 < count <= self.settings.exact_search_max_chunks
        if state is None or (exact and state.vectors is None):
            # One pass reads the chunks, papers and (for exact search) embeddings; a snapshot saved without
            # embeddings (by a process searching through HNSW) is rebuilt with them.
            chunks, papers, vectors = self.store.contents(embeddings=exact)
            state = build_state(chunks, papers, generation)
            state = replace(state, vectors=unit_matrix(state.chunk_ids, vectors or {}) if exact else None)
            from_snapshot = False
        elif not exact and state.vectors is not None:
            state = replace(state, vectors=None)
        # Only a quiet collection is worth saving (not one an ingest is writing to right now).
        if not from_snapshot and state.count == count == self.store.count() and self.store.generation() == generation:
            save_snapshot(path, state)
        with self._reload_guard:
            if ticket > self._applied_seq:
                self._applied_seq = ticket
                self.state = state  # one reference assignment: searches see the old state or the new one
                self.loaded_from_snapshot = from_snapshot
            return self.state

    def _snapshot_path(self) -> Path:
        # The collection's id changes when it is dropped and rebuilt, so a rebuild never reuses a snapshot.
        key = f"{SNAPSHOT_VERSION}|{self.store.backend}|{self.store.location}|{self.store.name}|{self.store.uid()}"
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        return self.settings.index_dir / "snapshots" / f"{self.store.name}-{digest}.pkl"

    def refresh_if_changed(self, wait: bool = False) -> None:
        """Reload when an ingest changed the collection.

        Embedded index: checked on every search (under a millisecond) and reloaded at once. Chroma server: checked
        at most every `refresh_seconds` (each check is two round trips), and reloaded in a background thread while
        searches go on with the previous state, so a large collection (~80 s to rebuild at 100k papers) never
        stalls them. `wait=True` checks now and reloads before returning."""
        server = self.store.backend == "server"
        now = time.monotonic()
        if server and not wait and now - self._checked < self.settings.refresh_seconds:
            return
        self._checked = now
        state = self.state
        if self.store.count() == state.count and self.store.generation() == state.generation:
            return
        if wait or not server:
            self._load()
            return
        with self._reload_guard:
            if self._reloader is None or not self._reloader.is_alive():
                self._reloader = threading.Thread(target=self._background_load, name="rag-retriever-reload",
                                                  daemon=True)
                self._reloader.start()

    def _background_load(self) -> None:
        try:
            self._load()
        except Exception as e:  # the next check tries again; searches keep the previous state meanwhile
            log.warning("reloading the retriever failed (%s: %s); keeping the previous state", type(e).__name__, e)

    # --- raw rankings ---------------------------------------------------------------------------------------
    def dense(self, state: IndexState, text: str, n: int) -> dict[int, float]:
        """chunk row → cosine similarity, for the `n` nearest chunks."""
        vec = self.embedder.embed([text])[0]
        if state.vectors is not None:
            sims = state.vectors @ (vec / max(float(np.linalg.norm(vec)), 1e-12))
            n = min(n, len(sims))
            top = np.argpartition(-sims, n - 1)[:n]
            return {int(r): float(sims[r]) for r in top}
        out = {}
        for cid, sim in self.store.query(vec, min(n, state.count)):
            row = state.row_of.get(cid)
            if row is not None:  # a chunk written after this state was built is not ours yet
                out[row] = sim
        return out

    @staticmethod
    def sparse(state: IndexState, text: str, n: int, level: str = "chunk") -> dict[int, float]:
        """chunk row → BM25 score, for the `n` best chunks with a positive score. `level="paper"`: BM25 over whole
        papers (title + abstract), each paper's score given to its best-scoring chunk, so the term statistics and
        length normalisation are those of documents, not of chunk-sized pieces of them."""
        q = query_terms(text)
        if state.bm25 is None or not q:
            return {}
        scores = state.bm25.get_scores(q)
        if level == "paper" and state.paper_bm25 is not None:
            paper_scores = state.paper_bm25.get_scores(q)
            m = min(n, len(paper_scores))
            out = {}
            for i in np.argpartition(-paper_scores, m - 1)[:m]:
                if paper_scores[i] > 0:
                    rows = state.paper_rows[state.paper_order[int(i)]]
                    out[max(rows, key=lambda r: (scores[r], -r))] = float(paper_scores[i])
            return out
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        return {int(r): float(scores[r]) for r in top if scores[r] > 0}

    def scores(self, state: IndexState, text: str, depth: int) -> Scores:
        s = self.settings
        # A ranking with weight 0 is not computed at all, so dense-only / BM25-only comparisons are pure.
        return Scores(self.dense(state, text, max(s.dense_k, depth)) if s.dense_weight > 0 else {},
                      self.sparse(state, text, max(s.bm25_k, depth), s.bm25_level) if s.bm25_weight > 0 else {})

    def rank(self, state: IndexState, text: str, named: tuple = (), depth: int = 0) -> list[Hit]:
        """Every candidate paper for `text`, best first."""
        return rank_papers(state, self.scores(state, text, depth), named, self.settings)

    # --- the public search ----------------------------------------------------------------------------------
    def search(self, query: str, k: int = 5) -> list[Hit]:
        return self.search_with_plan(query, k).hits

    def search_with_plan(self, query: str, k: int | None = 5) -> SearchResult:
        """Hits and the plan behind them. k=None: `topic_k` papers for a topic question, else `default_k`."""
        if not isinstance(query, str) or not query.strip():
            raise InputError("the query is empty; type some words, a title or a paper's name")
        notice = None
        query = " ".join(query.split())
        if len(query) > self.settings.max_query_chars:
            notice = (f"the query was {len(query)} characters; only the first "
                      f"{self.settings.max_query_chars} were used")
            query = query[: self.settings.max_query_chars]
        self.refresh_if_changed()
        state = self.state  # this search uses this state to the end
        plan = plan_query(query, state.names)
        if k is None:
            k = self.settings.topic_k if plan.kind == "topic" else self.settings.default_k
        k = max(1, int(k))
        candidates = None
        depth = 3 * k  # chunks per ranking: enough for k papers even when papers have several matching chunks
        if plan.kind == "topic":
            assert plan.topic is not None
            candidates = self.rank(state, plan.topic, plan.named, depth)[: max(3 * k, 30)]
            hits = select_topic(candidates, k, self.settings)
        elif plan.kind == "comparative":
            whole = self.rank(state, plan.query, plan.named, depth)

            def rank_side(side: Side) -> list[Hit]:
                return self.rank(state, side.label, side.named, depth)

            hits = assemble_comparison(whole, plan.sides, rank_side, k, self.settings.alias_boost > 0)
        else:
            hits = self.rank(state, query, plan.named, depth)[:k]
        return SearchResult(hits, plan, state, notice, candidates)
