"""Hybrid retrieval: dense (Chroma) + BM25 (bm25s, built once from the stored chunks) fused by weighted
reciprocal rank, grouped per paper, with papers named in the query (title, short name, acronym) put first.
Comparative questions are split into sides, each retrieved on its own, so every side's best paper is in
the results; topic questions ("Which papers study X?") return every paper above a calibrated similarity."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import pickle
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .aliases import AliasIndex, AliasMatch
from .embeddings import Embedder
from .errors import InputError
from .extractive import content_words
from .settings import Settings
from .store import Store
from .types import Hit

log = logging.getLogger(__name__)
SNAPSHOT_VERSION = 1  # bump when the pickled retrieval state changes shape

# Words that carry no topic in questions about a paper collection (BM25 side only).
QUESTION_STOPWORDS = {
    "paper", "papers", "study", "studies", "studied", "work", "works", "collection", "say", "says", "does",
    "do", "did", "which", "what", "how", "compare", "comparison", "contrast", "differ", "difference",
    "differences", "versus", "vs", "between", "tell", "me", "about", "explain", "describe", "propose",
    "proposes", "proposed", "approach", "approaches", "method", "methods", "main", "idea", "ideas", "list",
    "show", "any", "there", "each", "other", "one", "ones", "they", "their", "them", "it", "its", "is",
    "are", "was", "were", "the", "a", "an", "of", "on", "in", "for", "to", "and", "or", "with", "by",
    "from", "use", "uses", "using", "build", "builds", "relate", "relates", "similar", "different",
}

_TOPIC = re.compile(
    r"^\s*(?:(?:which|what)\s+(?:other\s+)?(?:papers|works|studies|articles|publications)|list\s+(?:all\s+)?"
    r"(?:the\s+)?papers|(?:are\s+there\s+|find\s+|show\s+(?:me\s+)?)(?:any\s+)?papers|papers)\b"
    r"(?:\s+in\s+the\s+collection)?\s*(?:(?:that|which)\s+)?"
    r"(?:study|studies|address|addresses|are\s+about|discuss|investigate|tackle|propose|use|apply|deal\s+with|"
    r"focus\s+on|work\s+on|look\s+at|on|about|concern|cover|mention|consider|explore|examine|analy[sz]e)?\s*",
    re.I)
_COMPARE_CUES = re.compile(
    r"\b(compare|compared|comparison|contrast|differ|differs|difference|differences|vs\.?|versus|"
    r"build(?:s)?\s+on|relate(?:s)?\s+to|how\s+does\s+each|both)\b", re.I)
_EXPLICIT_COMPARE = re.compile(r"\b(compare|contrast|differ|differs|versus|vs\.?)\b", re.I)
# Ordered from most to least specific; each captures the two sides.
_SPLITTERS = [
    re.compile(r"^(?P<a>.+?)\s+(?:vs\.?|versus)\s+(?P<b>.+)$", re.I),
    re.compile(r"(?:differences?|distinction)\s+between\s+(?P<a>.+?)\s+and\s+(?P<b>.+)$", re.I),
    re.compile(r"(?:compare|contrast)\s+(?P<a>.+?)\s+(?:with|to|and|against)\s+(?P<b>.+)$", re.I),
    re.compile(r"how\s+(?:does|do|did)\s+(?P<a>.+?)\s+(?:differ|build|improve|relate|compare)\s+"
               r"(?:from|on|upon|over|to|with)\s+(?P<b>.+)$", re.I),
    re.compile(r"^(?P<a>.+?)\s+and\s+(?P<b>.+?)\s*:\s*.+$", re.I),
    re.compile(r"^(?P<a>.+?)\s+(?:compared\s+(?:to|with))\s+(?P<b>.+)$", re.I),
]
_SIDE_TRIM = re.compile(r"^(?:the\s+|a\s+|an\s+|paper\s+on\s+|papers?\s+|approach\s+of\s+)+|"
                        # the rest of the question after a side: "SEGNO: how do these two ...", "X, and why"
                        r"\s*[:;,—–]\s*(?:and\s+|but\s+)?(?:how|what|which|why|where|when|who|do|does|did|is|are|"
                        r"can|in\s+what)\b.*$|"
                        r"[\s?.!:;,]+$|\s+(?:in\s+terms\s+of|regarding|with\s+respect\s+to|in\s+the\s+way|in\s+how|"
                        r"as\s+(?:ways?|approaches|methods|means|techniques|tools))\s+.*$", re.I)
MAX_SIDES = 6  # "compare A, B, C, ...": more sides than this are answered by the whole-question ranking
MAX_SIDE_WORDS = 10  # a side names or describes one paper; longer "sides" are clauses of a lookup question
_LIST_SPLIT = re.compile(r",\s*(?:and\s+)?|\s+and\s+|\s+(?:vs\.?|versus)\s+", re.I)
_CHAIN_SPLIT = re.compile(r"\s+(?:vs\.?|versus)\s+", re.I)


@dataclass
class QueryPlan:
    kind: str  # "lookup" | "comparative" | "topic"
    query: str
    topic: str | None = None
    sides: list[str] = field(default_factory=list)
    named: list[AliasMatch] = field(default_factory=list)


@dataclass
class PaperRecord:
    paper_id: str
    title: str
    abstract: str
    meta: dict[str, Any]
    chunk_rows: list[int]  # rows in the retriever's chunk arrays
    complete: bool


@dataclass
class SearchResult:
    hits: list[Hit]
    plan: QueryPlan
    notice: str | None = None


def plan_query(query: str, aliases: AliasIndex) -> QueryPlan:
    named = aliases.find(query)
    m = _TOPIC.match(query)
    if m and m.end() < len(query) and not _EXPLICIT_COMPARE.search(query):
        topic = _SIDE_TRIM.sub("", query[m.end():]).strip()
        if topic:
            return QueryPlan("topic", query, topic=topic, named=named)
    distinct = list(dict.fromkeys(n.paper_id for n in named))
    if _COMPARE_CUES.search(query) or (len(distinct) >= 2 and re.search(r"\band\b", query, re.I)):
        sides = split_sides(query)
        if len(sides) >= 2 or len(distinct) >= 2:
            return QueryPlan("comparative", query, sides=sides, named=named)
    return QueryPlan("lookup", query, named=named)


def split_sides(query: str) -> list[str]:
    q = query.strip().rstrip("?.! ")
    q = re.sub(r"^(?:please\s+|can\s+you\s+|could\s+you\s+)", "", q, flags=re.I)
    for pat in _SPLITTERS:
        m = pat.search(q)
        if m:
            sides = []
            for part in (_SIDE_TRIM.sub("", m.group("a")).strip(), _SIDE_TRIM.sub("", m.group("b")).strip()):
                # "A, B and C" or "A vs B vs C" on either side → one side per item
                split = _LIST_SPLIT if "," in part else _CHAIN_SPLIT
                sides += [_SIDE_TRIM.sub("", x).strip(" '\"‘’“”") for x in split.split(part) if x.strip()]
            sides = [re.sub(r"^(?:how\s+does\s+|what\s+is\s+|is\s+)", "", s, flags=re.I) for s in sides]
            sides = [s for s in sides if len(s) >= 2]
            if any(len(s.split()) > MAX_SIDE_WORDS for s in sides):
                continue  # a clause, not a paper: "... to compare problem difficulty, e.g. pendulum vs. MNIST"
            return sides
    return []


class Retriever:
    """Built once from the collection's chunks; reloaded when the collection's size or generation (bumped by
    every ingest that changed it) moves."""

    def __init__(self, store: Store, embedder: Embedder, settings: Settings):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._lock = threading.RLock()
        self._reload_guard = threading.Lock()
        self._reloader: threading.Thread | None = None
        self._load_seq = self._applied_seq = 0
        self._load()
        self._checked = time.monotonic()

    # --- snapshot ---------------------------------------------------------------------------------------
    # Everything derived from the stored chunks (paper records, BM25, aliases, document frequencies) is built
    # once per collection generation and pickled next to the index, so a new process (or a 100k-paper
    # collection) does not rebuild it: loading it takes ~0.06 s where building takes ~0.7 s at 250 papers.
    # The file is ours, in the index folder: whoever can write there can already rewrite the index.
    _STATE = ("count", "chunk_ids", "row_of", "chunk_text", "chunk_paper", "papers", "doc_freq", "aliases",
              "bm25", "vocab")

    def _load(self) -> None:
        import Stemmer

        with self._reload_guard:  # loads may overlap (a background reload and a forced one): newest wins
            self._load_seq += 1
            ticket = self._load_seq
        generation, count = self.store.generation(), self.store.count()
        path = self._snapshot_path()
        state = self._read_snapshot(path, generation, count)
        state_from_snapshot = state is not None
        if state is None:
            state = self._build()
            # Only a quiet collection is worth saving (not one an ingest is writing to right now).
            if state["count"] == count == self.store.count() and self.store.generation() == generation:
                self._write_snapshot(path, generation, state)
        logging.getLogger("bm25s").setLevel(logging.WARNING)  # unpickling imports bm25s, which sets DEBUG
        stemmer = Stemmer.Stemmer("english")
        with self._lock:  # searches hold this lock: they see the old state or the new one, never a mix
            if ticket < self._applied_seq:
                return
            self._applied_seq = ticket
            for name in self._STATE:
                setattr(self, name, state[name])
            self.generation = generation
            self.stemmer = stemmer
            self.loaded_from_snapshot = state_from_snapshot

    def _snapshot_path(self) -> Path:
        # The collection's id changes when it is dropped and rebuilt, so a rebuild never reuses a snapshot.
        key = f"{SNAPSHOT_VERSION}|{self.store.backend}|{self.store.location}|{self.store.name}|{self.store.uid()}"
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        return self.settings.index_dir / "snapshots" / f"{self.store.name}-{digest}.pkl"

    def _read_snapshot(self, path: Path, generation: int, count: int) -> dict[str, Any] | None:
        try:
            with path.open("rb") as f:
                saved = pickle.load(f)
            if (saved.get("version"), saved.get("generation"), saved["state"]["count"]) == (
                    SNAPSHOT_VERSION, generation, count):
                return saved["state"]
        except FileNotFoundError:
            pass
        except Exception as e:  # truncated, from another version of a library, ...: rebuild it
            log.warning("ignoring the retrieval snapshot %s (%s); rebuilding it", path, type(e).__name__)
        return None

    def _write_snapshot(self, path: Path, generation: int, state: dict[str, Any]) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as f:
                pickle.dump({"version": SNAPSHOT_VERSION, "generation": generation, "state": state}, f,
                            protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)  # atomic: readers see the old file or the new one, never half of one
            for old in path.parent.glob(f"{self.store.name}-*.pkl"):  # a rebuilt collection's old snapshot
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError as e:  # a read-only index folder only costs the next process a rebuild
            log.info("could not save the retrieval snapshot %s: %s", path, e)

    def _build(self) -> dict[str, Any]:
        import bm25s
        import Stemmer

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import

        chunks, stored_papers = self.store.contents()
        chunk_ids = [c.chunk_id for c in chunks]
        chunk_text = [c.text for c in chunks]
        chunk_paper = [c.paper_id for c in chunks]
        papers: dict[str, PaperRecord] = {}
        for i, c in enumerate(chunks):
            rec = papers.get(c.paper_id)
            if rec is None:
                rec = papers[c.paper_id] = PaperRecord(c.paper_id, "", "", {}, [], False)
            rec.chunk_rows.append(i)
        for pid, rec in papers.items():
            rec.chunk_rows.sort(key=lambda r: chunks[r].ordinal)
            paper = stored_papers.get(pid)
            # A paper is visible only when all its chunks are: a query never sees a half-indexed paper.
            rec.complete = paper is not None and len(rec.chunk_rows) == chunks[rec.chunk_rows[0]].n_chunks
            if paper is not None:
                rec.title, rec.abstract, rec.meta = paper.title, paper.abstract, {"paper": paper}
        doc_freq: Counter[str] = Counter()
        for rec in papers.values():
            doc_freq.update(content_words(rec.title + " " + rec.abstract))
        aliases = AliasIndex.build((p.paper_id, p.title, p.abstract) for p in papers.values() if p.complete)
        corpus_tokens = bm25s.tokenize([f"{papers[c.paper_id].title} {c.text}" for c in chunks],
                                       stopwords="en", stemmer=Stemmer.Stemmer("english"), show_progress=False)
        bm25 = bm25s.BM25()
        if chunks:
            bm25.index(corpus_tokens, show_progress=False)
        return {"count": len(chunks), "chunk_ids": chunk_ids, "row_of": {cid: i for i, cid in enumerate(chunk_ids)},
                "chunk_text": chunk_text, "chunk_paper": chunk_paper, "papers": papers, "doc_freq": doc_freq,
                "aliases": aliases, "bm25": bm25, "vocab": corpus_tokens.vocab}

    def refresh_if_changed(self, wait: bool = False) -> None:
        """Reload when an ingest changed the collection.

        Embedded index: checked on every search (under a millisecond) and reloaded at once. Chroma server: checked at
        most every `refresh_seconds` (each check is two round trips), and reloaded in a background thread
        while searches go on with the previous state, so a large collection (~80 s to rebuild at 100k papers)
        never stalls them. `wait=True` checks now and reloads before returning."""
        server = self.store.backend == "server"
        now = time.monotonic()
        if server and not wait and now - self._checked < self.settings.refresh_seconds:
            return
        self._checked = now
        if self.store.count() == self.count and self.store.generation() == self.generation:
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

    # --- single rankings ----------------------------------------------------------------------------------
    def dense(self, text: str, n: int) -> dict[int, float]:
        """chunk row → cosine similarity."""
        vec = self.embedder.embed([text])[0]
        out = {}
        for cid, sim in self.store.query(vec, min(n, self.count)):
            row = self.row_of.get(cid)
            if row is not None:
                out[row] = sim
        return out

    def sparse(self, text: str, n: int) -> dict[int, float]:
        """chunk row → BM25 score."""
        words = [w for w in re.findall(r"\w\w+", text.lower()) if w not in QUESTION_STOPWORDS]
        stemmed = self.stemmer.stemWords(words)
        ids = [self.vocab[t] for t in stemmed if t in self.vocab]
        if not ids or self.count == 0:
            return {}
        scores = self.bm25.get_scores(ids)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        return {int(r): float(scores[r]) for r in top if scores[r] > 0}

    def rank(self, text: str, named: list[AliasMatch] | None = None) -> list[Hit]:
        """All candidate papers for `text`, best first (fused dense + BM25, name matches first)."""
        s = self.settings
        # A ranking with weight 0 is not computed at all, so dense-only / BM25-only comparisons are pure.
        dense = self.dense(text, s.dense_k) if s.dense_weight > 0 else {}
        sparse = self.sparse(text, s.bm25_k) if s.bm25_weight > 0 else {}
        fused: dict[int, float] = {}
        for weight, ranking in ((s.dense_weight, dense), (s.bm25_weight, sparse)):
            for rank, row in enumerate(sorted(ranking, key=ranking.__getitem__, reverse=True)):
                fused[row] = fused.get(row, 0.0) + weight / (s.rrf_k + rank + 1)
        best: dict[str, tuple[float, int]] = {}
        for row, score in fused.items():
            pid = self.chunk_paper[row]
            if pid not in best or score > best[pid][0]:
                best[pid] = (score, row)
        named = named if named is not None else self.aliases.find(text)
        if s.alias_boost <= 0:  # name matching switched off (e.g. for dense-only / BM25-only comparisons)
            named = []
        boost: dict[str, tuple[float, str]] = {}
        for m in named:
            b = s.alias_boost + 0.01 * m.length
            if b > boost.get(m.paper_id, (0.0, ""))[0]:
                boost[m.paper_id] = (b, m.alias)
        for pid in boost:
            if pid not in best and pid in self.papers:
                rows = self.papers[pid].chunk_rows
                best[pid] = (0.0, max(rows, key=lambda r: dense.get(r, 0.0)))
        hits = []
        for pid, (score, row) in best.items():
            rec = self.papers.get(pid)
            if rec is None or not rec.complete:
                continue
            sim = max((dense.get(r, 0.0) for r in rec.chunk_rows), default=0.0)
            bm = max((sparse.get(r, 0.0) for r in rec.chunk_rows), default=0.0)
            alias = boost.get(pid)
            hits.append(Hit(pid, rec.title, score + (alias[0] if alias else 0.0), self.chunk_text[row],
                            similarity=round(sim, 4), bm25=round(bm, 3), named_as=alias[1] if alias else None,
                            chunk_id=self.chunk_ids[row], paper=rec.meta["paper"]))
        hits.sort(key=lambda h: -h.score)
        return hits

    def evidence(self, question: str, hits: list[Hit], top: int = 3) -> float:
        """How well the best of the top hits covers the question: cosine similarity plus half the
        IDF-weighted share of the question's content words found in the paper. Words absent from the whole
        collection ("CRISPR", "jailbreak") weigh most, which is what separates near-miss questions."""
        words = content_words(question)
        n = len(self.papers) + 1

        def idf(w: str) -> float:
            return math.log(n / (self.doc_freq.get(w, 0) + 0.5))

        total = sum(idf(w) for w in words) or 1.0
        best = 0.0
        for h in hits[:top]:
            rec = self.papers.get(h.paper_id)
            have = content_words(h.title + " " + (rec.abstract if rec else h.text))
            cov = sum(idf(w) for w in words & have) / total
            best = max(best, h.similarity + 0.5 * cov)
        return best

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
        with self._lock:
            plan = plan_query(query, self.aliases)
            if k is None:
                k = self.settings.topic_k if plan.kind == "topic" else self.settings.default_k
            k = max(1, int(k))
            if plan.kind == "topic":
                hits = self._topic(plan, k)
            elif plan.kind == "comparative":
                hits = self._comparative(plan, k)
            else:
                hits = self.rank(query, plan.named)[:k]
        return SearchResult(hits, plan, notice)

    def _topic(self, plan: QueryPlan, k: int) -> list[Hit]:
        assert plan.topic is not None
        ranked = self.rank(plan.topic, plan.named)[: max(3 * k, 30)]
        if not ranked:
            return []
        # Relevance relative to the best paper: a topic's papers share its vocabulary (BM25) and its meaning
        # (dense); one absolute cut-off fails because similarity levels differ a lot between topics.
        top_sim = max(h.similarity for h in ranked)
        top_bm = max(h.bm25 for h in ranked)
        keep = []
        for h in ranked:
            ratios = ([h.similarity / top_sim] if top_sim > 0 else []) + \
                ([h.bm25 / top_bm] if top_bm > 0 else [])
            rel = sum(ratios) / len(ratios) if ratios else 0.0
            similar = top_sim == 0 or h.similarity >= self.settings.topic_min_similarity
            if h.named_as or (rel >= self.settings.topic_min_relevance and similar):
                keep.append(h)
        return keep[:k]

    def _comparative(self, plan: QueryPlan, k: int) -> list[Hit]:
        whole = self.rank(plan.query, plan.named)
        side_best: list[Hit] = []
        side_of: dict[str, str] = {}
        named_by_side: list[tuple[str, list[AliasMatch]]] = []
        for side in plan.sides:
            named_by_side.append((side, self.aliases.find(side)))
        if len(plan.sides) < 2:  # sides come from the names alone: "ResMLP and RaftMLP: ..."
            seen: list[str] = []
            for m in plan.named:
                if m.paper_id not in seen:
                    seen.append(m.paper_id)
                    named_by_side.append((m.alias, [m]))
        whole_by_id = {h.paper_id: h for h in whole}
        for side, named in named_by_side[:MAX_SIDES]:
            # A side that names a paper is answered by that paper, already ranked (and boosted) in `whole`:
            # no second embedding and Chroma query for it.
            named_hits = [whole_by_id[m.paper_id] for m in named
                          if m.paper_id in whole_by_id and self.settings.alias_boost > 0]
            ranked = named_hits if named_hits else self.rank(side, named)
            for h in ranked:
                if h.paper_id not in side_of:
                    side_of[h.paper_id] = side
                    h.side = side
                    side_best.append(h)
                    break
        out: list[Hit] = list(side_best)
        have = {h.paper_id for h in out}
        for h in whole:
            if h.paper_id not in have:
                out.append(h)
                have.add(h.paper_id)
        return out[: max(k, len(side_best))]
