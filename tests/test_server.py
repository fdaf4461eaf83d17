"""Server mode: the full corpus ingested through a real `chroma run` server (HttpClient), read back by a new
Store, incremental re-runs, and a clear one-line error when the server cannot be reached."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MODELS, RAW, ROOT, free_port, make_settings

from rag.chunking import chunk_paper
from rag.corpus import load_corpus
from rag.engine import Engine
from rag.errors import StoreError
from rag.ingest import ingest
from rag.store import Store

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server_settings(chroma_server, tmp_path_factory):
    return make_settings(tmp_path_factory.mktemp("srv") / "unused", chroma_url=chroma_server,
                         collection="papers_srv")


@pytest.fixture(scope="module")
def first_report(server_settings):
    return ingest(server_settings, rebuild=True, progress=False)


@pytest.fixture(scope="module")
def expected_ids() -> list[str]:
    return sorted(c.chunk_id for p in load_corpus([RAW]).papers for c in chunk_paper(p))


def test_server__full_ingest_writes_every_chunk(first_report, server_settings, expected_ids):
    assert len(expected_ids) == 539
    assert (first_report.entries, first_report.papers, first_report.new) == (291, 250, 250)
    assert (first_report.updated, first_report.unchanged, first_report.removed) == (0, 0, 0)
    assert first_report.chunks_written == 539
    with Store(server_settings) as store:
        assert store.backend == "server"
        chunks = store.chunks(text=False)
    assert sorted(c.chunk_id for c in chunks) == expected_ids
    assert not server_settings.index_dir.exists()  # nothing embedded was created


def test_server__engine_stats_through_a_new_store(first_report, server_settings, chroma_server):
    with Engine(server_settings, auto_ingest=False) as engine:
        stats = engine.stats()
    assert (stats["papers"], stats["chunks"], stats["sources"]) == (250, 539, 5)
    assert (stats["backend"], stats["index"], stats["collection"]) == ("server", chroma_server, "papers_srv")
    assert (stats["embedding_model"], stats["embedding_dim"]) == ("all-MiniLM-L6-v2@int8", 384)


def test_server__second_ingest_writes_nothing(first_report, server_settings, expected_ids):
    report = ingest(server_settings, progress=False)
    assert (report.new, report.updated, report.unchanged, report.removed) == (0, 0, 250, 0)
    assert report.chunks_written == 0
    with Store(server_settings) as store:
        assert sorted(c.chunk_id for c in store.chunks(text=False)) == expected_ids


def test_server__unreachable_url_is_a_one_line_store_error(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError) as err:
        Store(make_settings(tmp_path / "unused", chroma_url=url))
    msg = str(err.value)
    assert url in msg
    assert "\n" not in msg
    assert not (tmp_path / "unused").exists()


def test_cli__unreachable_server_exits_with_store_error(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    env = dict(os.environ, RAG_INDEX_DIR=str(tmp_path / "unused"), RAG_MODEL_CACHE_DIR=str(MODELS),
               RAG_CHROMA_URL=url)
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "stats"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 6
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot reach the Chroma server at {url}")
    assert not Path(tmp_path / "unused").exists()
