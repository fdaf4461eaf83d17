"""Limits (issue 8.7), each enforced with a clear message at every face: the question length cap
(`max_question_chars`) in the API, the CLI and the chat; the chat's per-session rate limit (`ui_rate_limit`);
the ingest file-size cap (`max_file_bytes`) and the abstract-length cap (`max_abstract_chars`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MODELS, ROOT, free_port, make_settings
from gradio_client import Client

from rag.corpus import load_corpus
from rag.engine import Engine
from rag.errors import InputError
from ui.app import API_NAME, RATE_WINDOW, check_question, check_rate, launch

pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")

LIMIT = 2000  # the default max_question_chars


def run_cli(*args: str, index: Path, env: dict[str, str] | None = None, timeout: float = 300):
    full = dict(os.environ, RAG_INDEX_DIR=str(index), RAG_MODEL_CACHE_DIR=str(MODELS), **(env or {}))
    full.pop("RAG_CHROMA_URL", None)
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=timeout)


def long_question(n: int) -> str:
    """A question of exactly n characters (single spaces, so whitespace collapsing leaves it as is)."""
    return ("What does the pointer network paper say about attention " * (n // 50 + 1))[:n - 1] + "?"


# --- question length --------------------------------------------------------------------------------------------
def test_api__question_over_the_cap_is_an_input_error_before_any_index_is_needed(tmp_path):
    engine = Engine(make_settings(tmp_path / "no-index"), auto_ingest=False)
    assert engine.settings.max_question_chars == LIMIT
    with pytest.raises(InputError) as err:
        engine.ask(long_question(LIMIT + 1))
    assert str(err.value) == f"the question is {LIMIT + 1:,} characters; the limit is {LIMIT:,}"
    with pytest.raises(InputError, match="limit is 10"):
        Engine(make_settings(tmp_path / "x", max_question_chars=10), auto_ingest=False).ask("x" * 11)
    with pytest.raises(InputError, match="limit is"):  # the streaming path checks it too
        next(iter(engine.ask_stream(long_question(LIMIT + 1))))
    assert not (tmp_path / "no-index").exists()  # refused before the store was opened


def test_api__question_at_the_cap_is_accepted(engine):
    ans = engine.ask(long_question(LIMIT))
    assert ans.question == long_question(LIMIT)
    # Whitespace is collapsed before counting: padding does not push a question over the limit.
    assert engine.ask("What   is\n\n GCNet?" + " " * 3000).question == "What is GCNet?"


def test_cli__ask_over_the_cap_exits_2_with_one_line(tmp_path):
    proc = run_cli("ask", long_question(LIMIT + 1), index=tmp_path / "no-index", timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [f"error: the question is {LIMIT + 1:,} characters; the limit is "
                                                f"{LIMIT:,}"]
    assert not (tmp_path / "no-index").exists()  # no index was built for a refused question


def test_ui__check_question_message_and_whitespace():
    assert check_question("  What \n is  GCNet? ", 20) == "What is GCNet?"
    with pytest.raises(InputError, match=r"^the question is 2,001 characters; the limit is 2,000\. Please "):
        check_question("x" * 2001, 2000)
    with pytest.raises(InputError, match="empty"):
        check_question(None, 2000)


def test_ui__check_rate_sliding_window():
    asked: list[float] = []
    for t in (0.0, 1.0):
        check_rate(asked, 2, t)
        asked.append(t)
    with pytest.raises(InputError, match=r"at most 2 questions a minute per session; try again in 59 s"):
        check_rate(asked, 2, 1.0)
    check_rate(asked, 2, RATE_WINDOW + 0.5)  # the first question left the window
    assert asked == [1.0]
    check_rate([0.0] * 100, 0, 0.0)  # 0 turns the limit off


@pytest.fixture(scope="module")
def limited_app(tmp_path_factory):
    """The chat over an engine with no index (answers are a quick 'build the index' message) and a limit of
    2 questions a minute per session."""
    engine = Engine(make_settings(tmp_path_factory.mktemp("lim") / "no-index", ui_rate_limit=2),
                    auto_ingest=False)
    demo = launch(engine, "127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True, warm=False)
    yield demo.local_url
    demo.close()
    engine.close()


def ask(c: Client, question: str):
    return c.predict(question, api_name=f"/{API_NAME}")


def refused(chat: list[dict], pattern: str) -> bool:
    """The chat ends with a "Not asked." notice matching `pattern` (a refused question is not a turn)."""
    return chat[-1]["role"] == "assistant" and bool(re.search(r"Not asked\.</b> " + pattern, str(chat[-1]["content"])))


def test_ui__overlong_question_refused_in_the_chat_without_using_the_allowance(limited_app):
    c = Client(limited_app, verbose=False, download_files=False)
    chat, _, box = ask(c, "y" * 2001)
    assert len(chat) == 1 and refused(chat, r"The question is 2,001 characters; the limit is 2,000")
    assert box == "y" * 2001  # kept in the box to be shortened
    chat, _, _ = ask(c, long_question(LIMIT))  # at the cap: accepted (answered with the no-index message)
    assert [m["role"] for m in chat] == ["user", "assistant"] and "rag ingest" in str(chat[-1]["content"])
    chat, _, _ = ask(c, "What is GCNet?")  # the refused question did not count: this is the 2nd of 2
    assert len(chat) == 4


def test_ui__third_question_in_a_minute_is_refused_and_other_sessions_are_unaffected(limited_app):
    first = Client(limited_app, verbose=False, download_files=False)
    for _ in range(2):
        ask(first, "What is GCNet?")
    chat, _, _ = ask(first, "What is GCNet?")
    assert len(chat) == 5 and refused(chat, r"Rate limit: at most 2 questions a minute per session; try again in "
                                            r"\d+ s")
    first.predict(api_name="/clear")
    chat, _, _ = ask(first, "What is GCNet?")  # clearing the chat does not reset the allowance
    assert len(chat) == 1 and refused(chat, "Rate limit")
    second = Client(limited_app, verbose=False, download_files=False)
    for n in (2, 4):
        chat, _, _ = ask(second, "What is GCNet?")
        assert len(chat) == n


# --- ingest limits ------------------------------------------------------------------------------------------------
def good_record(title: str) -> dict[str, str]:
    return {"title": title, "abstract": f"{title} is studied here with sparse attention on graphs. " * 6}


@pytest.fixture
def sources(tmp_path) -> tuple[Path, Path, Path]:
    src = tmp_path / "src"
    src.mkdir()
    big = src / "big.jsonl"
    big.write_text("\n".join(json.dumps(good_record(f"Big File Paper {i}")) for i in range(200)) + "\n")
    mixed = src / "mixed.jsonl"
    mixed.write_text(json.dumps(good_record("Kept Short Paper")) + "\n"
                     + json.dumps({"title": "Too Long", "abstract": "word " * 4001}) + "\n")
    dump = src / "dump.txt"
    dump.write_text("Kept Dump Paper\n\n" + good_record("Kept Dump Paper")["abstract"] + "\n\nEndless Paper\n\n"
                    + "More text. " * 1900 + "\n")
    assert big.stat().st_size > 30_000 > mixed.stat().st_size
    return big, mixed, dump


def test_corpus__file_and_abstract_caps_warn_by_name_and_line_and_keep_the_rest(sources):
    big, mixed, dump = sources
    r = load_corpus([big, mixed, dump], max_abstract_chars=20_000, max_file_bytes=30_000)
    assert sorted(p.title for p in r.papers) == ["Kept Dump Paper", "Kept Short Paper"]
    assert r.warnings == [
        f"{big}: file is {big.stat().st_size:,} bytes (max 30,000); skipped",
        f"{mixed}:2: abstract of 'Too Long' is 20004 characters (max 20000); skipped",
        f"{dump}:5: abstract of 'Endless Paper' is 20899 characters (max 20000); skipped",
    ]


def test_cli__ingest_with_an_oversized_file_warns_one_line_and_indexes_the_rest(sources, tmp_path):
    big, mixed, dump = sources
    index = tmp_path / "idx"
    proc = run_cli("ingest", str(big), str(mixed), str(dump), "-q", index=index,
                   env={"RAG_MAX_FILE_BYTES": "30000"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"warning: {big}: file is {big.stat().st_size:,} bytes (max 30,000); skipped",
        f"warning: {mixed}:2: abstract of 'Too Long' is 20004 characters (max 20000); skipped",
        f"warning: {dump}:5: abstract of 'Endless Paper' is 20899 characters (max 20000); skipped",
    ]
    assert proc.stdout.startswith("read 2 entries → 2 papers from 2 files; 2 new")
    assert proc.stdout.rstrip().endswith("; 3 warnings")

    # Nothing readable at all: the same warning, then a one-line error and exit code 3 (no index written).
    proc = run_cli("ingest", str(big), index=tmp_path / "idx2", env={"RAG_MAX_FILE_BYTES": "30000"}, timeout=120)
    assert proc.returncode == 3
    assert proc.stderr.splitlines() == [
        f"warning: {big}: file is {big.stat().st_size:,} bytes (max 30,000); skipped",
        f"error: no papers could be read from {big}"]
    assert not (tmp_path / "idx2" / "chroma.sqlite3").exists()
