"""What local models need, scripted on the fake OpenAI-compatible server: citations attributed post hoc when the
model writes none, unsupported sentences marked, the fallback only when most of the answer is unsupported; the
model's real window read from the server (llama.cpp /props, vLLM /v1/models, Ollama /api/show) or learnt from a
"context length exceeded" reply; a first-token limit, an idle gap and an answer deadline instead of one total
timeout, none of them retried; a Waiting piece before the first token."""

from __future__ import annotations

import re

import pytest

from rag.types import Answer, Waiting
from tests.conftest import engine_like
from tests.fake_openai import first_sentence, sources_in
from tests.test_llm_answer import RAFTMLP, RESMLP, cite_first_sentences

INVENTED = "The authors trained it on bananas harvested from volcanic islands in Peru."


@pytest.fixture
def local(engine, fake_llm):
    """A fresh engine per test (the window it learns is per engine) on the fake endpoint, with short limits."""
    eng = engine_like(engine, llm_base_url=fake_llm.url, llm_model="fake-model", llm_timeout=1.5,
                      llm_idle_timeout=1.0, llm_max_seconds=20.0, llm_max_retries=1)
    yield eng
    eng._llm = None


def uncited(messages, nums=(1,), extra: str = "") -> str:
    """A model that answers from the sources but never writes [n]."""
    src = sources_in(messages)
    return " ".join(first_sentence(src[n][1]) for n in nums) + extra


# --- attribution ------------------------------------------------------------------------------------------------
def test_uncited_grounded_sentences_get_attributed_citations(local, fake_llm):
    fake_llm.reply = lambda m: uncited(m, (1,))
    ans = local.ask("What is ResMLP?")
    assert (ans.mode, ans.notice) == ("llm", None)
    assert [(c.n, c.title) for c in ans.citations] == [(1, RESMLP)]
    assert ans.attributed == [ans.text] and ans.text.endswith(" [1].")
    assert ans.unsupported == [] and ans.supported_share == 1.0
    d = ans.to_dict()
    assert d["attributed"] == [ans.text] and d["supported_share"] == 1.0


def test_comparison_sentences_are_attributed_to_their_own_paper(local, fake_llm):
    fake_llm.reply = lambda m: uncited(m, (1, 2))
    ans = local.ask("How does ResMLP differ from RaftMLP?")
    assert ans.mode == "llm" and ans.notice is None
    assert {c.title for c in ans.citations} == {RESMLP, RAFTMLP}
    for sentence in ans.attributed:
        n = int(re.search(r"\[(\d)\]", sentence).group(1))
        assert first_sentence(ans.citations[n - 1].quote)[:30] in sentence


def test_unsupported_uncited_sentence_is_marked_and_the_rest_kept(local, fake_llm):
    fake_llm.reply = lambda m: cite_first_sentences(m, [1, 2]) + " " + INVENTED
    ans = local.ask("What is ResMLP?")
    assert ans.mode == "llm" and ans.unsupported == [INVENTED]
    assert INVENTED + " *(not found in the sources)*" in ans.text
    assert ans.supported_share == round(2 / 3, 4)
    assert all(1 <= c.n <= len(ans.sources) and ans.sources[c.n - 1].title == c.title for c in ans.citations)


def test_mostly_unsupported_answer_falls_back_with_a_notice(local, fake_llm):
    fake_llm.reply = lambda m: uncited(m, (1,)) + " " + INVENTED + " Its logo is a purple giraffe wearing a hat."
    ans = local.ask("What is ResMLP?")
    assert ans.mode == "extractive"
    assert ans.notice == ("the model's answer cited none of the sources, and only 1 of its 3 sentences are "
                          "supported by them; showing the extractive answer")


def test_echoed_example_and_bare_citation_lines_are_dropped(local, fake_llm):
    fake_llm.reply = lambda m: (cite_first_sentences(m, [1]) + "\nThe model is trained on ImageNet [2].\n"
                                "[1] [2] [3] [4]\n" + cite_first_sentences(m, [1]))
    ans = local.ask("What is ResMLP?")
    assert ans.mode == "llm" and "trained on ImageNet [2]" not in ans.text
    assert "[3]" not in ans.text and ans.text.count(first_sentence(ans.citations[0].quote)[:40]) == 1


def test_streamed_answer_is_replaced_by_the_attributed_one(local, fake_llm):
    fake_llm.reply = lambda m: uncited(m, (1,))
    out = list(local.ask_stream("What is ResMLP?"))
    waiting = [p for p in out if isinstance(p, Waiting)]
    text = [p for p in out if isinstance(p, str) and not isinstance(p, Waiting)]
    assert isinstance(out[0], Waiting) and (out[0].model, out[0].step) == ("fake-model", "answering from 2 sources")
    assert len(waiting) == 1 and "[1]" not in "".join(text)
    final = out[-1]
    assert isinstance(final, Answer) and final.text.endswith("[1].") and final.attributed == [final.text]
    assert set(final.timings) == {"first_token", "total"}


# --- the model's window -----------------------------------------------------------------------------------------
def _fits(req, window: int) -> bool:
    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base")
    return sum(len(enc.encode(m["content"])) for m in req.messages) + req.body["max_tokens"] <= window


@pytest.mark.parametrize("where", ["llama.cpp", "vllm", "ollama"])
def test_the_window_the_server_reports_bounds_prompt_and_answer(local, fake_llm, where):
    if where == "llama.cpp":
        fake_llm.props = {"default_generation_settings": {"n_ctx": 1024}}
    elif where == "vllm":
        fake_llm.model_info = {"max_model_len": 1024}
    else:
        fake_llm.show = {"parameters": "temperature 0.7\nnum_ctx 1024", "model_info": {"llama.context_length": 8192}}
    fake_llm.reply = lambda m: cite_first_sentences(m, [1])
    ans = local.ask("Which papers study anomaly detection in industrial images?", k=10)
    req = fake_llm.chat_requests[-1]
    assert local.answerer.window() == 1024 and _fits(req, 1024)
    assert 1 <= len(sources_in(req.messages)) <= 3 and ans.mode == "llm"


def test_a_context_length_reply_is_retried_once_with_fewer_sources(local, fake_llm):
    fake_llm.fault, fake_llm.context_limit = "context", 700
    fake_llm.reply = lambda m: cite_first_sentences(m, [1])
    ans = local.ask("Which papers study anomaly detection in industrial images?", k=10)
    first, second = fake_llm.chat_requests
    assert len(sources_in(second.messages)) < len(sources_in(first.messages))
    assert local.answerer.window() == 700 and second.body["max_tokens"] <= 700
    assert ans.mode == "llm" and ans.notice is None


def test_a_window_hidden_in_an_empty_stream_is_learnt(local, fake_llm):
    # llama-cpp-python: a streamed prompt that does not fit gets 200 and no events; unstreamed, a 400 naming the window
    fake_llm.fault, fake_llm.context_limit = "context-sse", 700
    fake_llm.reply = lambda m: cite_first_sentences(m, [1])
    ans = local.ask("Which papers study anomaly detection in industrial images?", k=10)
    streamed, probe, retry = fake_llm.chat_requests
    assert (streamed.body["stream"], probe.body.get("stream", False), retry.body["stream"]) == (True, False, True)
    assert probe.messages == streamed.messages and len(sources_in(retry.messages)) < len(sources_in(streamed.messages))
    assert local.answerer.window() == 700 and ans.mode == "llm" and ans.notice is None


def test_an_empty_answer_that_is_not_a_refusal_falls_back(local, fake_llm):
    fake_llm.fault = "empty"
    ans = local.ask("What is ResMLP?")
    assert [r.body.get("stream", False) for r in fake_llm.chat_requests] == [True, False]
    assert ans.mode == "extractive" and "the model returned an empty answer" in ans.notice


def test_a_second_context_length_reply_falls_back(local, fake_llm):
    fake_llm.fault, fake_llm.context_limit = "context", 10
    ans = local.ask("Which papers study anomaly detection in industrial images?", k=10)
    assert len(fake_llm.chat_requests) == 2 and ans.mode == "extractive"
    assert "maximum context length is 10 tokens" in ans.notice


# --- time limits ----------------------------------------------------------------------------------------------
def test_no_first_token_in_time_is_not_retried(local, fake_llm):
    fake_llm.fault, fake_llm.delay = "slow", 5.0
    ans = local.ask("What is ResMLP?")
    assert len(fake_llm.chat_requests) == 1 and ans.mode == "extractive"
    assert ans.notice == "the LLM endpoint failed (no response within 1.5 s); showing the extractive answer"


def test_a_stream_that_stops_mid_answer_is_abandoned_not_retried(local, fake_llm):
    fake_llm.fault, fake_llm.delay = "stall", 5.0
    fake_llm.reply = lambda m: cite_first_sentences(m, [1, 2]) * 2
    ans = local.ask("What is ResMLP?")
    assert len(fake_llm.chat_requests) == 1 and ans.mode == "extractive"
    assert "the model stopped producing for more than 1 s" in ans.notice


def test_a_stream_still_producing_is_not_killed_by_the_first_token_limit(local, fake_llm):
    # 12 pieces 0.3 s apart: 3.6 s in all, past the 1.5 s first-token limit, each gap inside the idle limit
    fake_llm.fault, fake_llm.gap, fake_llm.piece_chars = "trickle", 0.3, 40
    fake_llm.reply = lambda m: cite_first_sentences(m, [1, 2])
    ans = local.ask("What is ResMLP?")
    assert (ans.mode, ans.notice) == ("llm", None) and [c.n for c in ans.citations] == [1, 2]


def test_the_answer_deadline_cuts_a_trickling_stream_at_a_complete_sentence(engine, fake_llm):
    eng = engine_like(engine, llm_base_url=fake_llm.url, llm_model="fake-model", llm_timeout=1.5,
                      llm_idle_timeout=1.0, llm_max_seconds=2.5, llm_max_retries=0)
    fake_llm.fault, fake_llm.gap = "trickle", 0.4
    fake_llm.reply = lambda m: cite_first_sentences(m, [1]) + " " + "And then it goes on and on " * 20
    fake_llm.piece_chars = 60  # ~6 pieces before the deadline: the cited sentence and part of the ramble
    ans = eng.ask("What is ResMLP?")
    assert ans.mode == "llm" and ans.citations[0].title == RESMLP
    assert ans.notice == ("the model's answer was cut off at the time limit (2.5 s); its unfinished last sentence "
                          "is left out")
    assert "goes on" not in ans.text


def test_condense_timeout_answers_extractively_at_once(local, fake_llm):
    fake_llm.fault, fake_llm.delay = "slow", 5.0
    history = [{"role": "user", "content": "What is ResMLP?"}, {"role": "assistant", "content": "An MLP [1]."}]
    ans = local.ask("How does it compare with RaftMLP?", history)
    assert len(fake_llm.chat_requests) == 1 and "Standalone question:" in fake_llm.chat_requests[0].user
    assert ans.mode == "extractive" and "no response within 1.5 s" in ans.notice
    assert {c.title for c in ans.citations} >= {RESMLP, RAFTMLP}


@pytest.mark.parametrize("rewrite", ["What is ResMLP?", "How does ResMLP work?", "How does RaftMLP compare?"])
def test_a_rewrite_that_loses_the_follow_up_is_resolved_by_rule(local, fake_llm, rewrite):
    # seen with SmolLM2-135M: the rewrite repeats the earlier question, or drops the paper the follow-up names
    fake_llm.condense = rewrite
    fake_llm.reply = lambda m: cite_first_sentences(m, [1, 2])
    history = [{"role": "user", "content": "What is ResMLP?"}, {"role": "assistant", "content": "An MLP [1]."}]
    ans = local.ask("How does it compare with RaftMLP?", history)
    assert ans.standalone_question == "How does ResMLP compare with RaftMLP?"
    assert ans.mode == "llm" and {c.title for c in ans.citations} == {RESMLP, RAFTMLP}


def test_temperature_and_seed_go_with_every_request(engine, fake_llm):
    eng = engine_like(engine, llm_base_url=fake_llm.url, llm_model="fake-model", llm_seed=7)
    fake_llm.reply = lambda m: cite_first_sentences(m, [1])
    eng.ask("What is ResMLP?")
    body = fake_llm.chat_requests[-1].body
    assert (body["temperature"], body["seed"], body["stream"]) == (0.0, 7, True)


def test_a_question_that_does_not_refer_back_is_not_rewritten(local, fake_llm):
    # a model asked to rewrite "What is the capital of France?" after a comparison drags the comparison in
    fake_llm.condense = "What is the capital of France (ResMLP and RaftMLP)?"
    fake_llm.reply = lambda m: cite_first_sentences(m, [1])
    history = [{"role": "user", "content": "How does ResMLP differ from RaftMLP?"},
               {"role": "assistant", "content": "ResMLP uses ... [1]; RaftMLP ... [2]."}]
    ans = local.ask("What is the capital of France?", history)
    assert not any("Standalone question:" in r.user for r in fake_llm.chat_requests)
    assert ans.standalone_question in (None, "What is the capital of France?") and ans.abstained


def test_the_prompt_echoed_back_is_not_part_of_the_answer(local, fake_llm):
    # SmolLM2-135M opened answers with "Question: ..." and "Answer in two sentences." (seen in make eval-llm)
    fake_llm.reply = lambda m: ("Question: What is ResMLP?\nAnswer in two sentences.\n"
                                + cite_first_sentences(m, [1]))
    ans = local.ask("What is ResMLP?")
    assert ans.mode == "llm" and ans.notice is None
    assert "Question:" not in ans.text and "Answer in two" not in ans.text
    assert ans.text.startswith("We present ResMLP") and ans.citations[0].title == RESMLP
