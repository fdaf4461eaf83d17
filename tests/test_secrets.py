"""A planted API key never appears in anything the project prints or writes: Settings repr and dumps, log
records (at DEBUG), answers and notices (even when the server echoes the key in its error), CLI output, eval
reports, and the chat app's config."""

from __future__ import annotations

import json
import logging
import os
import subprocess

import pytest

from tests.conftest import RAW, VENV_BIN, engine_like

KEY = "sk-PLANTED-secret-0123456789abcdefXYZ"
PASSWORD = "hunter2-PLANTED-pw"


@pytest.fixture
def keyed(engine, fake_llm):
    return engine_like(engine, openai_api_key=KEY, openai_base_url=fake_llm.url, llm_model="fake-model",
                       llm_timeout=3.0, llm_max_retries=0, auth_user="me", auth_password=PASSWORD)


def test_settings_never_show_the_key(keyed):
    s = keyed.settings
    for text in (repr(s), str(s), s.model_dump_json(), json.dumps(s.model_dump(mode="json"))):
        assert KEY not in text and PASSWORD not in text
    assert s.secrets() == [KEY, PASSWORD]


def test_key_echoed_by_the_server_is_redacted_everywhere(keyed, fake_llm, caplog):
    fake_llm.fault = "401"  # the fake answers "Incorrect API key provided: <the key>"
    with caplog.at_level(logging.DEBUG):
        ans = keyed.ask("What is ResMLP?")
        streamed = list(keyed.ask_stream("What is ResMLP?"))[-1]
    assert fake_llm.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was really sent
    assert "HTTP 401" in ans.notice and "***" in ans.notice
    for text in (json.dumps(ans.to_dict()), json.dumps(streamed.to_dict()), caplog.text,
                 *(r.getMessage() for r in caplog.records)):
        assert KEY not in text


def test_cli_output_and_eval_reports_never_contain_the_key(cli_index, fake_llm, tmp_path):
    fake_llm.fault = "401"
    env = {**os.environ, "RAG_INDEX_DIR": str(cli_index), "RAG_DATA_DIR": str(RAW), "OPENAI_API_KEY": KEY,
           "OPENAI_BASE_URL": fake_llm.url, "RAG_LLM_MODEL": "fake-model", "RAG_LLM_MAX_RETRIES": "0",
           "RAG_AUTH_PASSWORD": PASSWORD, "RAG_AUTH_USER": "me"}
    runs = [["ask", "What is ResMLP?"], ["ask", "What is ResMLP?", "--json"], ["stats", "--json"],
            ["eval", "--limit", "3", "--out", str(tmp_path / "report"), "--quiet"]]
    outs = []
    for args in runs:
        out = subprocess.run([str(VENV_BIN / "rag"), *args], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert KEY not in out.stdout + out.stderr and PASSWORD not in out.stdout + out.stderr, args
        outs.append(out)
    assert "HTTP 401" in json.loads(outs[1].stdout)["notice"]  # the key-echoing failure really happened
    files = [p for p in (tmp_path / "report").rglob("*") if p.is_file()]
    assert {"results.jsonl", "metrics.json", "report.md"} <= {p.name for p in files}
    for p in files:
        data = p.read_bytes()
        assert KEY.encode() not in data and PASSWORD.encode() not in data, p.name


def test_chat_app_config_never_contains_the_key(keyed):
    from ui.app import build_app

    app = build_app(keyed)
    config = json.dumps(app.get_config_file(), default=str)
    assert KEY not in config and PASSWORD not in config
    assert "fake-model" in config  # the mode badge is there: the config was really rendered
