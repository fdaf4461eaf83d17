"""LLM mode with a real model nobody scripted: SmolLM2-135M-Instruct behind llama-cpp-python's OpenAI-compatible
server (tests/llama_server.py), with only the base URL and the model name configured, as a user would. Three
questions go through three faces (a lookup through Engine.ask, a comparison through Engine.ask_stream, a
follow-up through the chat's session logic); then `rag ask --json`, the window learnt from the server's
"context length exceeded" reply, and `rag eval` in LLM mode on a few questions. What was measured is written to
test-output/real-llm.json and printed (`pytest -s`); times are recorded, never asserted (the time limits bound
them). The model answers at temperature 0 with a fixed seed and at most TEST_MAX_TOKENS tokens, and assertions
hold for what the product guarantees (its citations are its sources, its unsupported sentences are marked, at
least 2 of the 3 answers come from the model), not for what the model happens to write."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from rag.types import Answer, Waiting
from tests.conftest import RAW, ROOT, VENV_BIN, engine_like
from tests.test_llm_answer import RAFTMLP, RESMLP
from ui.conversation import turn_record
from ui.render import ATTRIBUTED, answer_markdown
from ui.session import answer_turns, new_session

OUT = ROOT / "test-output"
FALLBACK = "showing the extractive answer"
MARKS = ("*(unsupported by the cited abstract)*", "*(not found in the sources)*")
TEST_MAX_TOKENS = 200  # answers of two or three sentences; keeps the real-model tests to a few minutes
SEED = 0


@pytest.fixture(scope="module")
def real(engine, real_llm):
    """An engine on the session corpus index configured with the real server's URL and model name only."""
    eng = engine_like(engine, llm_base_url=real_llm.url, llm_model=real_llm.model, llm_max_tokens=TEST_MAX_TOKENS,
                      llm_seed=SEED)
    yield eng
    eng._llm = None


class Recording:
    """The engine as the chat sees it (settings, ask_stream), keeping each final Answer and the raw pieces."""

    def __init__(self, engine):
        self.engine, self.settings, self.answers, self.raw = engine, engine.settings, [], []

    def ask_stream(self, *args, **kwargs):
        pieces = []
        for piece in self.engine.ask_stream(*args, **kwargs):
            if isinstance(piece, Answer):
                self.answers.append(piece)
                self.raw.append("".join(pieces))
            else:
                pieces.append(piece)
            yield piece


def record(face: str, ans: Answer, seconds: float, raw: str | None) -> dict:
    row = {"face": face, "question": ans.question, "mode": ans.mode, "notice": ans.notice,
            "fallback": bool(ans.notice and FALLBACK in ans.notice), "abstained": ans.abstained,
            "citations": [[c.n, c.title] for c in ans.citations], "unsupported": len(ans.unsupported),
            "attributed": len(ans.attributed), "supported_share": ans.supported_share,
            "standalone_question": ans.standalone_question, "seconds": round(seconds, 1), "timings": ans.timings,
            "raw": raw, "shown": ans.text}
    print(f"\n[real LLM] {face}: {ans.question!r} → mode {ans.mode}, fallback {row['fallback']}, "
          f"{len(ans.citations)} citations, {row['unsupported']} unsupported, {row['attributed']} attributed, "
          f"supported {ans.supported_share}, {row['seconds']} s; notice: {ans.notice}")
    return row


@pytest.fixture(scope="module")
def three(real):
    """The lookup (Engine.ask), the comparison (Engine.ask_stream), the follow-up (the chat), each measured."""
    rows, answers, extra = [], [], {}
    t0 = time.monotonic()
    lookup = real.ask("What is ResMLP?")
    rows.append(record("Engine.ask", lookup, time.monotonic() - t0, None))
    answers.append(lookup)

    t0 = time.monotonic()
    pieces = list(real.ask_stream("How does ResMLP differ from RaftMLP?"))
    comparison = pieces[-1]
    extra["stream"] = pieces
    rows.append(record("Engine.ask_stream", comparison, time.monotonic() - t0, "".join(pieces[:-1])))
    answers.append(comparison)

    chat = Recording(real)
    session = new_session()
    session["turns"] = [turn_record(lookup.question, lookup)]
    t0 = time.monotonic()
    extra["chat"] = [m[-1]["content"] for m, _, _ in answer_turns(chat, "How does it compare with RaftMLP?", 0, True,
                                                                  session)]
    follow = chat.answers[-1]
    rows.append(record("chat (ui.session)", follow, time.monotonic() - t0, chat.raw[-1]))
    answers.append(follow)
    OUT.mkdir(exist_ok=True)
    (OUT / "real-llm.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return answers, rows, extra


def from_the_model(ans: Answer) -> bool:
    return ans.mode == "llm" and not ans.abstained and not (ans.notice and FALLBACK in ans.notice)


def test_real__at_least_two_of_three_come_back_from_the_model(three):
    answers, rows, _ = three
    assert sum(from_the_model(a) for a in answers) >= 2, json.dumps(rows, indent=1)
    for a in answers:
        if from_the_model(a):
            assert a.citations and a.supported_share is not None and a.supported_share >= 0.5
            assert set(a.timings) == {"first_token", "total"}


def test_real__every_citation_is_one_of_its_sources(three):
    for a in three[0]:
        assert [c.n for c in a.citations] == list(range(1, len(a.citations) + 1))
        assert all(a.sources[c.n - 1].title == c.title and a.sources[c.n - 1].paper_id == c.paper_id
                   for c in a.citations)
        assert {int(n) for n in re.findall(r"\[(\d+)\]", a.text)} <= {c.n for c in a.citations}


def test_real__unsupported_sentences_are_marked_and_attributed_ones_flagged(three):
    for a in three[0]:
        if not from_the_model(a):
            continue
        assert sum(a.text.count(m) for m in MARKS) == len(a.unsupported)
        assert all(any(u + " " + m in a.text for m in MARKS) for u in a.unsupported)
        assert all(s in a.text and re.search(r"\[\d+\]", s) for s in a.attributed)
        assert (ATTRIBUTED in answer_markdown(a)) == bool(a.attributed)


def test_real__the_comparison_cites_its_papers(three):
    comparison = three[0][1]
    assert {RESMLP, RAFTMLP} <= {h.title for h in comparison.sources[:3]}
    if from_the_model(comparison):
        assert {c.title for c in comparison.citations} & {RESMLP, RAFTMLP}


def test_real__the_stream_waits_then_streams_then_replaces_its_text(three):
    pieces = three[2]["stream"]
    assert isinstance(pieces[0], Waiting) and pieces[0].model == "smollm2"
    assert pieces[0].step.startswith("answering from ")
    assert isinstance(pieces[-1], Answer) and all(isinstance(p, str) for p in pieces[:-1])
    if from_the_model(pieces[-1]):
        assert "".join(pieces[:-1]).strip()  # the model's own text streamed before the checked one


def test_real__the_chat_says_it_is_waiting_for_the_model(three):
    updates = three[2]["chat"]
    waiting = [i for i, u in enumerate(updates) if "Waiting for smollm2" in u]
    assert waiting and "rewriting the follow-up question" in updates[waiting[0]]
    assert "Waiting for" not in updates[-1]


def test_real__the_follow_up_names_both_papers(three):
    follow = three[0][2]
    assert follow.standalone_question and "RaftMLP" in follow.standalone_question
    assert "ResMLP" in follow.standalone_question
    assert {RESMLP, RAFTMLP} <= {h.title for h in follow.sources[:3]}


def test_real__the_window_is_learnt_from_the_servers_reply(engine, real_llm):
    """Ten sources are more than a 2,048-token window holds: llama-cpp-python's server sends an empty stream,
    refuses the same request unstreamed naming its window, and the answer is asked again with fewer sources."""
    eng = engine_like(engine, llm_base_url=real_llm.url, llm_model=real_llm.model, llm_extra_sources=10,
                      llm_max_tokens=TEST_MAX_TOKENS, llm_seed=SEED)
    ans = eng.ask("What is ResMLP?", k=10)
    assert len(ans.sources) == 10 and eng.answerer.window() == 2048
    assert not (ans.notice and "context length" in ans.notice)
    assert all(ans.sources[c.n - 1].title == c.title for c in ans.citations)


def llm_env(cli_index: Path, real_llm) -> dict[str, str]:
    return {**os.environ, "RAG_INDEX_DIR": str(cli_index), "RAG_DATA_DIR": str(RAW),
            "RAG_LLM_BASE_URL": real_llm.url, "RAG_LLM_MODEL": real_llm.model,
            "RAG_LLM_MAX_TOKENS": str(TEST_MAX_TOKENS), "RAG_LLM_SEED": str(SEED)}


def test_real__rag_ask_json(cli_index, real_llm):
    t0 = time.monotonic()
    out = subprocess.run([str(VENV_BIN / "rag"), "ask", "What is GCNet?", "--json"], env=llm_env(cli_index, real_llm),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    print(f"\n[real LLM] rag ask: 'What is GCNet?' → mode {data['mode']}, {len(data['citations'])} citations, "
          f"{len(data['unsupported'])} unsupported, {len(data['attributed'])} attributed, supported "
          f"{data['supported_share']}, {time.monotonic() - t0:.1f} s (process); notice: {data['notice']}")
    assert (data["mode"], data["model"], data["abstained"]) == ("llm", "smollm2", False)
    assert data["citations"] and all(data["sources"][c["n"] - 1]["title"] == c["title"] for c in data["citations"])
    assert "Global Context Networks" in [c["title"] for c in data["citations"]] or data["notice"]


def test_real__rag_eval_in_llm_mode(cli_index, real_llm, tmp_path):
    out = subprocess.run([str(VENV_BIN / "rag"), "eval", "--limit", "3", "--types", "paraphrase,comparative",
                          "--out", str(tmp_path), "--quiet", "--no-judge"], env=llm_env(cli_index, real_llm),
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    llm = metrics["llm"]["overall"]
    assert metrics["mode"] == "llm" and llm["n"] == 3
    assert set(llm) >= {"llm_answers", "fallbacks", "citation_validity", "supported_share", "attributed_citations",
                        "first_token_p50", "latency_p50"}
    assert llm["llm_answers"] + llm["fallbacks"] + llm["abstained"] == 3
    print(f"\n[real LLM] rag eval --limit 3: {json.dumps(llm)}")
    assert metrics["overall"]["citation_validity"] == 1.0  # every answer's, the model's or the fallback's
    assert llm["citation_validity"] == (1.0 if llm["llm_answers"] else None)
    report = (tmp_path / "report.md").read_text()
    assert "## LLM answers" in report and "first token" in report
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert all("raw_answer" in r and "supported_share" in r for r in rows)
