"""Shared fixtures. Every test runs with data/index dirs under tmp_path and no LLM configured; the real
corpus index is built once per session (real embedder, real embedded Chroma) for retrieval/answer tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fake_openai import fake_llm, fake_server  # noqa: F401  (fixtures for every test module)
from tests.llama_server import real_llm  # noqa: F401  (the real llama.cpp server, once per session)

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "data" / "raw"
MODELS = ROOT / "data" / "models"
VENV_BIN = Path(sys.executable).parent

for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_LLM_BASE_URL", "RAG_LLM_MODEL", "RAG_CHROMA_URL"):
    os.environ.pop(var, None)
os.environ["RAG_MODEL_CACHE_DIR"] = str(MODELS)
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("RAG_DATA_DIR", str(RAW))
    monkeypatch.setenv("RAG_MODEL_CACHE_DIR", str(MODELS))
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_LLM_BASE_URL", "RAG_LLM_MODEL", "RAG_CHROMA_URL"):
        monkeypatch.delenv(var, raising=False)


def make_settings(index_dir: Path, **kw):
    from rag.settings import Settings

    return Settings(index_dir=index_dir, data_dir=RAW, model_cache_dir=MODELS, **kw)


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory) -> Path:
    """The real corpus, ingested once per session. Tests must not write to it."""
    from rag.ingest import ingest

    index = tmp_path_factory.mktemp("corpus") / "index"
    ingest(make_settings(index), progress=False)
    return index


class HashEmbedder:
    """Deterministic unit vectors that differ per text (no model load), under a model name of its own."""

    dim, backend = 384, "fake"

    def __init__(self, name: str = "fake-model"):
        self.name = name

    def embed(self, texts: list[str]):
        import hashlib

        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            v = np.random.default_rng(int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "little")) \
                .standard_normal(self.dim)
            out[i] = v / np.linalg.norm(v)
        return out


def engine_like(engine, **overrides):
    """An Engine on the session corpus index with other settings (an LLM endpoint, a key, ...). It shares the
    session engine's store, embedder and searcher: one index lock per process, no second load."""
    from rag.engine import Engine

    e = Engine(make_settings(engine.settings.index_dir, **overrides), embedder=engine.embedder, auto_ingest=False)
    e._store, e._searcher = engine.store(), engine.searcher
    return e


@pytest.fixture(scope="session")
def cli_index(corpus_index, tmp_path_factory) -> Path:
    """A copy of the corpus index for `rag` subprocesses: the session index is held open (and locked) by
    this process's engine. Tests must not write to it."""
    index = tmp_path_factory.mktemp("cli") / "index"
    shutil.copytree(corpus_index, index, ignore=shutil.ignore_patterns(".rag.lock"))
    return index


@pytest.fixture(scope="session")
def engine(corpus_index):
    from rag.engine import Engine

    eng = Engine(make_settings(corpus_index), auto_ingest=False)
    yield eng
    eng.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` server on 127.0.0.1, for the server-mode tests."""
    exe = shutil.which("chroma", path=str(VENV_BIN)) or shutil.which("chroma")
    if exe is None:
        pytest.fail("the `chroma` command is not installed")
    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = open(path / "server.log", "wb")
    proc = subprocess.Popen([exe, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port",
                             str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/api/v2/heartbeat", timeout=1)
            break
        except Exception:
            if proc.poll() is not None:
                pytest.fail(f"chroma server exited: {(path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start in 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
