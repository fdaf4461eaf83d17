"""The `rag ask` face: `--json` prints exactly Answer.to_dict(), the human form lists "[n] Title" under the
answer, and bad questions give one error line and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from rag.engine import Engine
from tests.conftest import RAW, VENV_BIN, make_settings

QUESTION = "How does ResMLP differ from RaftMLP?"


def rag(index, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_INDEX_DIR": str(index), "RAG_DATA_DIR": str(RAW)}
    return subprocess.run([str(VENV_BIN / "rag"), *args], env=env, capture_output=True, text=True, timeout=180)


def test_ask_json_is_exactly_answer_to_dict(cli_index):
    out = rag(cli_index, "ask", QUESTION, "--json")
    assert out.returncode == 0, out.stderr
    with Engine(make_settings(cli_index), auto_ingest=False) as eng:
        expected = eng.ask(QUESTION).to_dict()
    assert json.loads(out.stdout) == expected
    assert expected["citations"][0]["title"].startswith("ResMLP:")


def test_ask_human_output_lists_cited_titles(cli_index):
    out = rag(cli_index, "ask", QUESTION)
    assert out.returncode == 0, out.stderr
    text, _, sources = out.stdout.partition("\nSources:\n")
    assert "| Paper | Problem | Approach | Key result |" in text
    assert sources.splitlines()[:2] == [
        "[1] ResMLP: Feedforward networks for image classification with data-efficient training",
        "[2] RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality?"]


def test_ask_abstention_has_no_sources_list(cli_index):
    out = rag(cli_index, "ask", "What does the collection say about CRISPR gene editing?")
    assert out.returncode == 0 and out.stdout.startswith("**Not covered by the collection.**")
    assert "Sources:" not in out.stdout


@pytest.mark.parametrize("question,message", [("", "error: the question is empty"),
                                              ("y" * 3000, "error: the question is 3,000 characters")])
def test_bad_question_is_one_error_line(cli_index, question, message):
    out = rag(cli_index, "ask", question)
    assert out.returncode != 0 and out.stdout == ""
    assert out.stderr.startswith(message) and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_missing_index_with_no_data_is_a_clear_error(tmp_path):
    """No index: `rag ask` builds it from the data folder first; an empty folder ends in one error line."""
    env = {**os.environ, "RAG_INDEX_DIR": str(tmp_path / "none"), "RAG_DATA_DIR": str(tmp_path / "empty")}
    (tmp_path / "empty").mkdir()
    out = subprocess.run([str(VENV_BIN / "rag"), "ask", QUESTION], env=env, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert out.returncode == 3 and last == f"error: no papers could be read from {tmp_path / 'empty'}"
