"""Concurrency (issue 8.1–8.3): eight chat sessions asking at once for a while (no errors, every answer right
for its own question, latency written to test-output/concurrency.json); ingest in one process while another
searches and answers through a `chroma run` server; a second process on an embedded index.

The guarantee checked here: a search or answer never sees a half-indexed paper. The searcher works on an
immutable state of the collection built when the collection changes, and a paper enters a state only
when all of its chunks are in it (`n_chunks` stored on every chunk) — so while an ingest runs, queries see
each paper either not at all or whole, with passages that are that paper's own, and an ingest killed
mid-paper leaves that paper invisible until the next run completes it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import MODELS, RAW, ROOT, HashEmbedder, free_port, make_settings
from gradio_client import Client

from eval import metrics
from rag.chunking import chunk_paper, content_hash
from rag.corpus import load_corpus
from rag.engine import Engine
from rag.errors import IndexMissingError, StoreError
from rag.ingest import ingest
from rag.store import LOCK_NAME, Store
from ui.app import API_NAME, launch

pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")

OUT = ROOT / "test-output" / "concurrency.json"
FILE_A = "002_7335c34baaa52565.txt"  # 28 papers
FILE_B = "004_20bd394549e6b690.txt"  # 51 papers, 6 shared with FILE_A

# Questions whose right answer is known: the cited title must appear in the answer and the sources panel.
QUESTIONS = [
    ("How does ResMLP differ from RaftMLP?",
     "RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality?"),
    ("What is GCNet?", "Global Context Networks"),
    ("Which paper uses attention to select positions of the input as the output tokens, so that the output "
     "vocabulary grows with the input length?", "Pointer Networks"),
    ("How does MgNO differ from DeepONet?", "MgNO: Efficient Parameterization of Linear Operators via Multigrid"),
    ("Which open language model routes every token to 2 of 8 feedforward blocks per layer?", "Mixtral of Experts"),
    ("Which advertising model uses a local activation unit to weight a user's past behaviors?",
     "Deep Interest Network for Click-Through Rate Prediction"),
]


def record(key: str, numbers: dict) -> None:
    """Measured numbers go to test-output/concurrency.json (no timed asserts) and to -s output."""
    OUT.parent.mkdir(exist_ok=True)
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data[key] = {**numbers, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    OUT.write_text(json.dumps(data, indent=2) + "\n")
    print(f"\n{key}: {json.dumps(numbers)}")


def percentile(values: list[float], q: float) -> float:
    return round(metrics.percentile(values, q) or 0.0, 3)


def text_of(message: dict) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


# --- 8.1: eight chat sessions asking at once ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def unlimited_app(engine):
    """The chat over the session's corpus engine, without the per-session rate limit (each asker here asks far
    more than 20 questions a minute); it shares the engine's embedder."""
    settings = engine.settings.model_copy(update={"ui_rate_limit": 0})
    eng = Engine(settings, embedder=engine.embedder, auto_ingest=False)
    demo = launch(eng, "127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True)
    yield demo.local_url
    demo.close()
    eng.close()


def soak(url: str, seconds: float, sessions: int = 8) -> dict:
    """`sessions` askers, each with its own Client (browser session), ask QUESTIONS round-robin (each starting
    at a different one) and clear the chat after each answer, until `seconds` have passed."""
    latencies: list[float] = []
    errors: list[str] = []
    wrong: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(sessions)
    stop_at: list[float] = []

    def asker(i: int) -> None:
        try:
            c = Client(url, verbose=False, download_files=False)
            start.wait(timeout=60)
            if i == 0:
                stop_at.append(time.monotonic() + seconds)
            while not stop_at:
                time.sleep(0.01)
            n = i
            while time.monotonic() < stop_at[0]:
                question, title = QUESTIONS[n % len(QUESTIONS)]
                n += 1
                t = time.perf_counter()
                chat, sources, _ = c.predict(question, api_name=f"/{API_NAME}")
                took = time.perf_counter() - t
                c.predict(api_name="/clear")
                ok = ([m["role"] for m in chat] == ["user", "assistant"] and text_of(chat[0]) == question
                      and title in text_of(chat[1]) and title in sources)
                with lock:
                    latencies.append(took)
                    if not ok:
                        wrong.append(f"session {i}: {question!r} → {text_of(chat[-1])[:200]!r}")
        except Exception as e:  # reported below with the session number
            with lock:
                errors.append(f"session {i}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=asker, args=(i,), daemon=True) for i in range(sessions)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 300)
    wall = time.perf_counter() - t0
    assert not any(t.is_alive() for t in threads), "an asker hung"
    return {"sessions": sessions, "seconds": round(wall, 1), "answers": len(latencies), "errors": errors,
            "wrong": wrong, "p50_s": percentile(latencies, 50), "p95_s": percentile(latencies, 95),
            "max_s": round(max(latencies, default=0.0), 3),
            "answers_per_s": round(len(latencies) / wall, 2) if wall else 0.0}


@pytest.mark.parametrize("seconds", [10, pytest.param(60, marks=pytest.mark.slow)])
def test_ui__eight_sessions_asking_for_a_while_get_only_correct_answers(unlimited_app, seconds):
    result = soak(unlimited_app, seconds)
    record(f"ui_8_sessions_{seconds}s", {k: v for k, v in result.items() if k not in ("errors", "wrong")}
           | {"errors": len(result["errors"]), "wrong": len(result["wrong"])})
    assert result["errors"] == []
    assert result["wrong"] == []
    assert result["answers"] >= 8  # every session answered at least once


# --- 8.2: ingest and queries at the same time (Chroma server) -------------------------------------------------------
INGESTER = r"""
import sys
from pathlib import Path
import rag.ingest
from rag.settings import Settings
rag.ingest.ingest(Settings(), [Path(p) for p in sys.argv[1:]], progress=False)
"""

READER_QUERIES = [
    "How does MgNO differ from DeepONet?",
    "Which papers study neural operators?",
    "NeuRBF: A Neural Fields Representation with Adaptive Radial Basis Functions",
    "active learning for 3D object detection",
    "What is KECOR?",
    "graph neural networks",
    "Which papers study diffusion models?",
    "kernel methods and infinite width networks",
]


@pytest.fixture(scope="module")
def two_files(tmp_path_factory) -> tuple[Path, dict[str, dict[str, str]], dict[str, str]]:
    """FILE_A + FILE_B copied; the chunker's expected chunks per paper (id → text) and titles."""
    src = tmp_path_factory.mktemp("conc-src")
    for name in (FILE_A, FILE_B):
        shutil.copy(RAW / name, src / name)
    papers = load_corpus([src]).papers
    expected = {p.paper_id: {c.chunk_id: c.text for c in chunk_paper(p)} for p in papers}
    return src, expected, {p.paper_id: p.title for p in papers}


@pytest.mark.server
def test_server__queries_during_an_ingest_in_another_process_never_see_a_half_indexed_paper(
        chroma_server, two_files, tmp_path):
    src, expected, titles = two_files
    collection = f"concurrent_{os.getpid()}_{int(time.time())}"
    # refresh_seconds=0: look for a new state on every search (the guarantee is tested, not the throttle)
    settings = make_settings(tmp_path / "unused", chroma_url=chroma_server, collection=collection,
                             refresh_seconds=0)
    # Small ingest windows: the 168 chunks arrive in many writes, so readers meet the collection half-written.
    env = dict(os.environ, RAG_CHROMA_URL=chroma_server, RAG_COLLECTION=collection,
               RAG_MODEL_CACHE_DIR=str(MODELS), RAG_INDEX_DIR=str(tmp_path / "unused"), RAG_INGEST_WINDOW="16")
    writer = subprocess.Popen([sys.executable, "-c", INGESTER, str(src)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    engine = Engine(settings, auto_ingest=False)
    searches = asks = 0
    seen_counts: set[int] = set()
    problems: list[str] = []
    latencies: list[float] = []
    store_errors: list[str] = []

    def check(hits, state, where: str) -> None:
        for h in hits:
            want = expected.get(h.paper_id)
            if want is None:
                problems.append(f"{where}: unknown paper {h.paper_id}")
                continue
            if state is not None:
                snapshot = {state.chunk_ids[i] for i in state.paper_rows[h.paper_id]}
                if snapshot != set(want):
                    problems.append(f"{where}: {h.paper_id} has chunks {sorted(snapshot)}, expected {sorted(want)}")
            if h.title != titles[h.paper_id] or h.text not in want.values() or h.chunk_id not in want:
                problems.append(f"{where}: hit text/title of {h.paper_id} is not that paper's")

    try:
        i = 0
        while True:
            done = writer.poll() is not None  # one last round after the writer finished
            try:
                searcher = engine.searcher
            except IndexMissingError:  # the writer has not created the collection yet
                assert not done, writer.stdout.read() if writer.stdout else ""
                time.sleep(0.05)
                continue
            except StoreError as e:  # see below
                store_errors.append(f"{type(e).__name__} while loading: {e}")
                assert len(store_errors) < 50, store_errors[:3]
                continue
            query = READER_QUERIES[i % len(READER_QUERIES)]
            i += 1
            t = time.perf_counter()
            try:
                if i % 4 == 0:  # the answer path too: every cited paper whole, every quote from its abstract
                    ans = engine.ask(query)
                    asks += 1
                    check(ans.sources, None, f"ask {query!r}")
                    by_id = {h.paper_id: h for h in ans.sources}
                    for c in ans.citations:
                        abstract = by_id[c.paper_id].paper.abstract
                        if c.quote and " ".join(c.quote.split()).strip("…. ")[:40] not in abstract:
                            problems.append(f"ask {query!r}: quote not from {c.paper_id}'s abstract")
                else:
                    # The search reports the state it used from start to end: its hits are checked against it.
                    result = searcher.search_with_plan(query, 10)
                    searches += 1
                    check(result.hits, result.state, f"search {query!r}")
                    seen_counts.add(result.state.count)
            except StoreError as e:
                # Seen once in many runs under load: the server answers a query made while it is still
                # building its vector segment with HTTP 500 "Error creating hnsw segment reader: Nothing
                # found on disk". Counted and reported (it is a transient server error, not a wrong answer).
                store_errors.append(f"{type(e).__name__}: {e} (state {searcher.state.count} chunks)")
            latencies.append(time.perf_counter() - t)
            if done:
                break
        assert writer.wait(10) == 0, writer.stdout.read() if writer.stdout else ""
        searcher = engine.searcher
        searcher.refresh_if_changed(wait=True)
        total = sum(len(c) for c in expected.values())
        assert searcher.state.count == total
        assert set(searcher.state.papers) == set(expected)
    finally:
        if writer.poll() is None:
            writer.kill()
        engine.close()
    record("ingest_while_querying_server", {
        "papers": len(expected), "chunks": total, "searches": searches, "asks": asks,
        "snapshots_seen": len(seen_counts), "query_p50_s": percentile(latencies, 50),
        "query_p95_s": percentile(latencies, 95), "transient_store_errors": len(store_errors)})
    assert problems == [], problems[:10]
    assert len(store_errors) <= max(1, (searches + asks) // 50), store_errors[:3]
    # The reader really looked at the index while it was half built, several times.
    assert len([c for c in seen_counts if 0 < c < total]) >= 3, sorted(seen_counts)


def test_searcher__a_paper_missing_a_chunk_is_invisible_until_complete(tmp_path):
    """What a kill between two writes of one paper leaves behind: the paper is not found, even by exact title,
    and is not cited; once its last chunk is written it appears."""
    src = tmp_path / "p.jsonl"
    recs = [{"title": f"Paper {c} on kernels", "abstract": f"A sentence about paper {c} and kernels. " * 12}
            for c in "ABC"]
    recs[1]["abstract"] = " ".join(f"Long sentence number {i} of the second paper on kernels." for i in range(60))
    src.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    settings = make_settings(tmp_path / "idx")
    fake = HashEmbedder()
    ingest(settings, [src], embedder=fake, progress=False)
    victim = load_corpus([src]).papers[1]
    chunks = chunk_paper(victim)
    assert len(chunks) >= 3
    with Store(settings) as store:  # take its last chunk out
        store.delete_chunks([chunks[-1].chunk_id])
        with Engine(settings, embedder=fake, auto_ingest=False) as engine:
            for query in (victim.title, "second paper kernels sentence", "Which papers study kernels?"):
                assert victim.paper_id not in {h.paper_id for h in engine.search(query, k=10)}, query
            ans = engine.ask(victim.title)
            assert victim.paper_id not in {c.paper_id for c in ans.citations}
            h = content_hash(victim, settings.chunk_tokens, settings.chunk_overlap, fake.name)
            store.replace_papers([(victim, h, chunks)], fake.embed([c.embed_text for c in chunks]))
            hits = engine.search(victim.title, k=10)  # the collection grew: the snapshot is refreshed
            assert hits[0].paper_id == victim.paper_id


# --- 8.3: two processes on one embedded index -------------------------------------------------------------------------
def test_cli__search_while_another_process_ingests_the_embedded_index_exits_7_pointing_to_the_server(tmp_path):
    index = tmp_path / "idx"
    env = dict(os.environ, RAG_INDEX_DIR=str(index), RAG_MODEL_CACHE_DIR=str(MODELS))
    env.pop("RAG_CHROMA_URL", None)
    writer = subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", str(RAW), "--rebuild", "-q"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        lock = index / LOCK_NAME
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text().strip() == str(writer.pid)):
            assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
            assert time.monotonic() < deadline, "the ingest never took the index lock"
            time.sleep(0.05)
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "rag.cli", "search", "pointer networks"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        took = time.perf_counter() - t
        assert writer.poll() is None, "the ingest finished before the search ran: nothing was tested"
    finally:
        writer.kill()
        writer.wait(30)
    print(f"\nsecond process refused in {took:.2f}s")
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == ""
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: the index at {index} is in use by another process (pid {writer.pid})")
    assert "RAG_CHROMA_URL=http://127.0.0.1:8000" in line and "chroma run --path" in line
