"""kill -9 safety: `rag ingest` killed at different moments (startup, first batch, between batches, mid-write),
repeatedly on one index, then run once more, must end with exactly the chunks of a clean build."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import MODELS, RAW, ROOT, make_settings

from rag.ingest import ingest
from rag.store import Store, StoredChunk
from rag.types import Paper

FILES = ("000_aa4d3f6a74c89432.txt", "004_20bd394549e6b690.txt")  # 95 papers, 214 chunks
WINDOW = "64"  # chunks per ingest step: 3 windows, so a kill can land between writes
PROGRESS = re.compile(rb"(\d+)/(\d+) \[")

# Reads an index in a fresh process: a PersistentClient does not see another process's later writes.
READER = r"""
import json, sys
from pathlib import Path
from rag.errors import IndexMissingError
from rag.settings import Settings
from rag.store import Store, StoredChunk
from rag.types import Paper
try:
    with Store(Settings(index_dir=Path(sys.argv[1]))) as store:
        found = {c.chunk_id: {"paper_id": c.paper_id, "ordinal": c.ordinal, "n_chunks": c.n_chunks,
                              "hash": c.content_hash} for c in store.chunks(text=False)}
except IndexMissingError:
    found = None
print(json.dumps(found))
"""


@dataclass
class Reference:
    src: Path
    chunks: dict[str, tuple[str, dict]]  # id → (document, metadata)
    vectors: dict[str, np.ndarray]
    papers: dict[str, Paper]

    def paper_chunks(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for cid, (_, meta) in self.chunks.items():
            out.setdefault(meta["paper_id"], set()).add(cid)
        return out


def cli_env(index: Path) -> dict[str, str]:
    env = dict(os.environ, RAG_INDEX_DIR=str(index), RAG_MODEL_CACHE_DIR=str(MODELS), RAG_INGEST_WINDOW=WINDOW)
    env.pop("RAG_CHROMA_URL", None)
    return env


def read_in_subprocess(index: Path) -> dict[str, dict] | None:
    proc = subprocess.run([sys.executable, "-c", READER, str(index)], cwd=ROOT, env=cli_env(index),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


class IngestRun:
    """`rag ingest SRC` in a subprocess whose stderr (tqdm progress) is collected as it arrives."""

    def __init__(self, src: Path, index: Path):
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", str(src)], cwd=ROOT,
                                     env=cli_env(index), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.err = bytearray()
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        while chunk := os.read(self.proc.stderr.fileno(), 65536):
            self.err += chunk

    def progress(self) -> tuple[int, int] | None:
        found = PROGRESS.findall(bytes(self.err))
        return (int(found[-1][0]), int(found[-1][1])) if found else None

    def kill_when(self, ready: Callable[[tuple[int, int] | None], bool], delay: float) -> tuple[int, int] | None:
        """Wait for `ready(progress)`, then `delay` seconds, then SIGKILL. Returns the progress seen at the kill."""
        deadline = time.monotonic() + 180
        while not ready(self.progress()) and self.proc.poll() is None:
            assert time.monotonic() < deadline, "ingest made no progress"
            time.sleep(0.01)
        time.sleep(delay)
        seen = self.progress()
        self.proc.kill()
        code = self.proc.wait(60)
        self._reader.join(10)
        assert code in (0, -9), self.err.decode(errors="replace")[-2000:]
        return seen


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Reference:
    root = tmp_path_factory.mktemp("crash")
    src = root / "src"
    src.mkdir()
    for name in FILES:
        shutil.copy(RAW / name, src / name)
    settings = make_settings(root / "ref")
    report = ingest(settings, [src], progress=False)
    assert (report.papers, report.chunks_written) == (95, 214)
    with Store(settings) as store:
        chunks = store.chunks()
        vectors = store.vectors([c.chunk_id for c in chunks])
        papers = store.papers()
    return Reference(src, {c.chunk_id: (c.text, meta_of(c)) for c in chunks}, vectors, papers)


def meta_of(c: StoredChunk) -> dict:
    return {"paper_id": c.paper_id, "ordinal": c.ordinal, "n_chunks": c.n_chunks, "hash": c.content_hash}


def intact_papers(found: dict[str, dict] | None, ref: Reference) -> set[str]:
    """Papers whose stored chunks are exactly the reference's (ids and metadata)."""
    found = found or {}
    return {pid for pid, ids in ref.paper_chunks().items()
            if {c for c, m in found.items() if m.get("paper_id") == pid} == ids
            and all(found[c] == ref.chunks[c][1] for c in ids)}


def finish_and_check(index: Path, ref: Reference) -> None:
    """One more complete run repairs whatever the kills left; the result equals the clean build."""
    before = read_in_subprocess(index)
    intact = intact_papers(before, ref)
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "ingest", str(ref.src), "--json"], cwd=ROOT,
                          env=cli_env(index), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["papers"] == 95
    assert report["unchanged"] == len(intact)
    assert report["new"] + report["updated"] == 95 - len(intact)
    assert report["chunks_written"] == sum(len(ids) for pid, ids in ref.paper_chunks().items()
                                           if pid not in intact)

    with Store(make_settings(index)) as store:
        assert store.count() == len(ref.chunks)
        chunks = store.chunks()
        ids = [c.chunk_id for c in chunks]
        assert len(ids) == len(set(ids))
        assert sorted(ids) == sorted(ref.chunks)
        assert {c.chunk_id: (c.text, meta_of(c)) for c in chunks} == ref.chunks
        assert store.papers() == ref.papers
        per_paper = Counter(c.paper_id for c in chunks)
        assert all(c.n_chunks == per_paper[c.paper_id] for c in chunks)
        # The vector index holds every chunk once, with the vector of a clean build.
        vectors = store.vectors(ids)
        assert all(float(vectors[cid] @ ref.vectors[cid]) > 0.9999 for cid in ids)
        some = ref.vectors[ids[0]]
        assert sorted(cid for cid, _ in store.query(some, len(ids))) == sorted(ids)
        assert store.query(some, 1)[0][0] == ids[0]


def test_ingest__single_kill_mid_write_then_rerun_equals_clean_build(reference, tmp_path):
    index = tmp_path / "damaged"
    run = IngestRun(reference.src, index)
    seen = run.kill_when(lambda p: p is not None and p[0] > 0, 0.0)  # right after the first batch was written
    assert seen is not None and 0 < seen[0] < seen[1]
    partial = read_in_subprocess(index)
    assert partial is not None and 0 < len(partial) < len(reference.chunks)
    finish_and_check(index, reference)


MOMENTS = [  # (what is going on at the kill, condition on progress, extra delay in seconds)
    ("startup: imports, before the index exists", lambda p: True, 1.0),
    ("collection created, first batch being embedded", lambda p: p is not None, 0.0),
    ("a batch just written", lambda p: p is not None and p[0] > 0, 0.0),
    ("late in the next batch: embedding or delete-then-write", lambda p: p is not None and p[0] > 0, 1.7),
    ("middle of the first batch of the run", lambda p: p is not None, 1.0),
]


def test_ingest__repeated_kills_at_different_moments_then_rerun_equals_clean_build(reference, tmp_path):
    index = tmp_path / "damaged"
    counts: list[int | None] = []
    for _label, ready, delay in MOMENTS:
        IngestRun(reference.src, index).kill_when(ready, delay)
        found = read_in_subprocess(index)
        counts.append(None if found is None else len(found))
    # The kills must have left damage for the last run to repair, including a half-built index.
    assert any(c is not None and 0 < c < len(reference.chunks) for c in counts), counts
    finish_and_check(index, reference)
