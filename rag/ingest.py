"""parse → chunk → embed → upsert, incremental by content hash.

A paper is rewritten only when its hash changed or its stored chunks are incomplete (a killed run), and
its old chunks are deleted just before the new ones are written, so any interrupted run followed by one
more run ends with exactly the papers and chunk ids of a clean build.

Work goes in windows of about `ingest_window` chunks: the window's papers are chunked in one batch, its chunks
embedded longest-last (so every embedding batch holds texts of nearly one length and little padding), then
written; memory stays bounded on any corpus size. Progress counts papers written (papers/s, ETA) with
chunks/s beside it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .chunking import chunk_papers, content_hash
from .corpus import ParseResult, load_corpus
from .embeddings import Embedder, get_embedder
from .errors import NoDataError
from .settings import Settings
from .store import Store, StoredChunk
from .types import Chunk, Paper

log = logging.getLogger(__name__)

CHUNK_GROUP = 256  # papers chunked per call while a window fills


@dataclass
class IngestReport:
    entries: int = 0
    papers: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks_written: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paper_states(chunks: Sequence[StoredChunk]) -> dict[str, tuple[set[str], int, set[int]]]:
    """paper_id → (hashes seen, n_chunks claimed, ordinals present)."""
    states: dict[str, tuple[set[str], int, set[int]]] = {}
    for c in chunks:
        hashes, _, ords = states.setdefault(c.paper_id, (set(), c.n_chunks, set()))
        hashes.add(c.content_hash)
        ords.add(c.ordinal)
    return states


def ingest(settings: Settings, paths: Sequence[Path] | None = None, rebuild: bool = False,
           prune: bool = False, embedder: Embedder | None = None, progress: bool = True,
           on_warning: Callable[[str], None] | None = None) -> IngestReport:
    """Index `paths` (default: settings.data_dir). Raises NoDataError when nothing could be read."""
    start = time.perf_counter()
    paths = list(paths) if paths else [settings.data_dir]
    parsed = load_corpus(paths, settings.max_abstract_chars, settings.max_file_bytes, root=Path.cwd())
    for w in parsed.warnings:
        (on_warning or log.warning)(w)
    if not parsed.papers:
        raise NoDataError("no papers could be read from " + ", ".join(str(p) for p in paths))
    return index_papers(settings, parsed, rebuild=rebuild, prune=prune, embedder=embedder, progress=progress,
                        start=start)


def index_papers(settings: Settings, parsed: ParseResult, rebuild: bool = False, prune: bool = False,
                 embedder: Embedder | None = None, progress: bool = True, start: float | None = None
                 ) -> IngestReport:
    """Index already-parsed papers (e.g. a chosen subset of a corpus) into settings.collection, incrementally."""
    start = time.perf_counter() if start is None else start
    report = IngestReport(entries=parsed.entries, papers=len(parsed.papers), warnings=parsed.warnings,
                          files=parsed.files)
    embedder = embedder or get_embedder(settings)
    with Store(settings, create=True) as store:
        if rebuild:
            store.drop()
        store.open(create_for=(embedder.name, embedder.dim))
        store.check_model(embedder.name, embedder.dim)
        existing = paper_states(store.chunks(text=False))

        todo: list[tuple[Paper, str]] = []
        for paper in parsed.papers:
            h = content_hash(paper, settings.chunk_tokens, settings.chunk_overlap, embedder.name,
                             settings.chunk_mode, settings.chunk_window)
            state = existing.get(paper.paper_id)
            if state is None:
                report.new += 1
                todo.append((paper, h))
            elif state[0] == {h} and state[2] == set(range(state[1])):
                report.unchanged += 1
            else:
                report.updated += 1
                todo.append((paper, h))

        report.chunks_written = _write(store, embedder, todo, settings, progress)

        if prune:
            keep = {p.paper_id for p in parsed.papers}
            gone = [pid for pid in existing if pid not in keep]
            if gone:
                store.delete_papers(gone)
            report.removed = len(gone)
        if report.chunks_written or report.removed:
            store.bump_generation()  # readers reload, even when the chunk count did not change
    report.seconds = round(time.perf_counter() - start, 3)
    return report


def _write(store: Store, embedder: Embedder, todo: list[tuple[Paper, str]], settings: Settings,
           progress: bool) -> int:
    if not todo:
        return 0
    from tqdm import tqdm

    written = 0
    t0 = time.perf_counter()
    with tqdm(total=len(todo), desc="indexing", unit="paper", disable=not progress, leave=False,
              smoothing=0.1) as bar:
        for window in _windows(todo, settings):
            chunks = [c for _, _, cs in window for c in cs]
            store.replace_papers(window, _embed_sorted(embedder, [c.embed_text for c in chunks],
                                                       settings.embed_batch_size,
                                                       lambda n, w=written: bar.set_postfix_str(_rate(w + n, t0))))
            written += len(chunks)
            bar.set_postfix_str(_rate(written, t0), refresh=False)
            bar.update(len(window))
    return written


def _rate(chunks: int, t0: float) -> str:
    return f"{chunks} chunks, {chunks / max(time.perf_counter() - t0, 1e-9):.1f} chunks/s"


def _windows(todo: list[tuple[Paper, str]], settings: Settings
             ) -> Iterator[list[tuple[Paper, str, list[Chunk]]]]:
    """(paper, hash, chunks) in windows of at least `ingest_window` chunks (the last one may be smaller)."""
    window: list[tuple[Paper, str, list[Chunk]]] = []
    size = 0
    for start in range(0, len(todo), CHUNK_GROUP):
        group = todo[start:start + CHUNK_GROUP]
        for (paper, h), chunks in zip(group, chunk_papers([p for p, _ in group], settings.chunk_tokens,
                                                          settings.chunk_overlap, settings.chunk_mode,
                                                          settings.chunk_window),
                                      strict=True):
            window.append((paper, h, chunks))
            size += len(chunks)
            if size >= settings.ingest_window:
                yield window
                window, size = [], 0
    if window:
        yield window


def _embed_sorted(embedder: Embedder, texts: list[str], batch: int, done: Callable[[int], None]) -> np.ndarray:
    """Vectors of `texts` (same order), embedded in calls of `batch` texts of similar length."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for start in range(0, len(order), batch):
        idx = order[start:start + batch]
        out[idx] = embedder.embed([texts[i] for i in idx])
        done(start + len(idx))
    return out
