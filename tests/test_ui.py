"""The Gradio chat, driven over HTTP with gradio_client against an app launched on 127.0.0.1 with the real
Engine over the real corpus: cited comparative answers, errors shown instead of crashes, 8 concurrent
sessions, follow-ups that use the session's history, and the pieces the page is made of."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import free_port, make_settings
from gradio_client import Client
from gradio_client.exceptions import AppError
from typer.testing import CliRunner

from rag import Answer, Citation, Hit, Paper
from rag.errors import ConfigError
from ui.app import API_NAME, auth_pair, launch, warn_if_exposed
from ui.render import model_badge, sources_html

pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")  # pandas deprecations inside gradio

RESMLP = "ResMLP: Feedforward networks for image classification with data-efficient training"
RAFTMLP = "RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality?"
ASK = f"/{API_NAME}"


def serve(engine):
    demo = launch(engine, "127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True)
    return demo, demo.local_url


@pytest.fixture(scope="module")
def app(engine):
    demo, url = serve(engine)
    yield demo, url
    demo.close()


@pytest.fixture(scope="module")
def app_url(app):
    return app[1]


def client(url: str) -> Client:
    return Client(url, verbose=False, download_files=False)


def text_of(message: dict) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def ask(c: Client, question: str, **kw):
    chat, sources, box = c.predict(question, api_name=ASK, **kw)
    return chat, sources, box


# --- over HTTP -----------------------------------------------------------------------------------------------
def test_ask__comparative_question_streams_and_cites_both_exact_titles_in_answer_and_sources(app_url):
    job = client(app_url).submit("How does ResMLP differ from RaftMLP?", api_name=ASK)
    chat, sources, box = job.result(timeout=60)
    updates = job.outputs()
    assert len(updates) >= 2 and "Searching the collection" in text_of(updates[0][0][-1])  # it streams
    assert [m["role"] for m in chat] == ["user", "assistant"]
    answer = text_of(chat[-1])
    for title in (RESMLP, RAFTMLP):
        assert title in answer
        assert title in sources
    assert "[1]" in answer and "[2]" in answer
    assert "| Paper |" in answer  # the side-by-side table is markdown, rendered as a table by the chat
    assert sources.count('class="src-card"') >= 2 and 'class="src-n">1<' in sources
    assert box == ""  # the textbox is cleared for the next question


def test_ask__empty_or_overlong_question_is_an_error_message_and_the_server_keeps_answering(app_url, engine):
    c = client(app_url)
    with pytest.raises(AppError, match="empty"):
        ask(c, "   ")
    too_long = "why " * (engine.settings.max_question_chars // 4 + 10)
    with pytest.raises(AppError, match="limit is"):
        ask(c, too_long)
    chat, sources, _ = ask(c, "What is GCNet?")
    assert len(chat) == 2  # refused questions left no trace in the conversation
    assert "Global Context Networks" in text_of(chat[-1]) and "Global Context Networks" in sources


def test_ask__unanswerable_question_abstains_visibly_with_closest_papers(app_url):
    chat, sources, _ = ask(client(app_url), "What does the collection say about CRISPR gene editing?")
    answer = text_of(chat[-1])
    assert 'class="abstain"' in answer and "Not covered by the collection" in answer
    assert "src-abstain" in sources and sources.count("src-closest") >= 1
    assert "src-n" not in sources  # nothing is presented as a citation


CONCURRENT = [
    ("How does ResMLP differ from RaftMLP?", RAFTMLP),
    ("What is GCNet?", "Global Context Networks"),
    ("Which papers study anomaly detection?", "Focus the Discrepancy: Intra- and Inter-Correlation Learning for "
                                              "Image Anomaly Detection"),
    ("Which paper uses attention to select positions of the input as the output tokens, so that the output "
     "vocabulary grows with the input length?", "Pointer Networks"),
    ("Which paper encodes an English sentence into a fixed-size vector with one deep LSTM and decodes French "
     "with a second LSTM?", "Sequence to Sequence Learning with Neural Networks"),
    ("How does MgNO differ from DeepONet?", "MgNO: Efficient Parameterization of Linear Operators via Multigrid"),
    ("Which open language model routes every token to 2 of 8 feedforward blocks per layer?", "Mixtral of Experts"),
    ("Which advertising model uses a local activation unit to weight a user's past behaviors?",
     "Deep Interest Network for Click-Through Rate Prediction"),
]


def test_ask__eight_concurrent_sessions_each_get_their_own_correct_answer(app_url):
    results: dict[int, tuple] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(CONCURRENT))

    def run(i: int, question: str) -> None:
        try:
            c = client(app_url)
            barrier.wait(timeout=30)
            results[i] = ask(c, question)
        except BaseException as e:  # collected and reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i, q)) for i, (q, _) in enumerate(CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(results) == len(CONCURRENT)
    for i, (question, title) in enumerate(CONCURRENT):
        chat, sources, _ = results[i]
        assert [m["role"] for m in chat] == ["user", "assistant"], f"session {i} saw another session's turns"
        assert text_of(chat[0]) == question
        assert "Could not answer" not in text_of(chat[1])
        assert title in text_of(chat[1]) and title in sources, (question, text_of(chat[1])[:300])


def test_followup__uses_this_sessions_history_and_clear_forgets_it(app_url):
    c = client(app_url)
    chat, _, _ = ask(c, "What is ResMLP?")
    assert RESMLP in text_of(chat[-1])
    chat, sources, _ = ask(c, "How does it compare with RaftMLP?")
    assert len(chat) == 4
    assert RAFTMLP in text_of(chat[-1]) and RESMLP in text_of(chat[-1])  # "it" resolved from history
    assert RAFTMLP in sources and RESMLP in sources
    other, _, _ = ask(client(app_url), "What is GCNet?")
    assert len(other) == 2  # another browser session has its own history
    cleared = c.predict(api_name="/clear")
    assert cleared[0] == [] and "src-empty" in cleared[1]
    chat, _, _ = ask(c, "What is GCNet?")
    assert len(chat) == 2


def test_missing_index_and_rate_limit_are_shown_not_crashes(tmp_path):
    from rag import Engine

    engine = Engine(make_settings(tmp_path / "no-index", ui_rate_limit=2), auto_ingest=False)
    demo, url = serve(engine)
    try:
        c = client(url)
        for _ in range(2):
            chat, sources, _ = ask(c, "What is GCNet?")
            assert "Could not answer" in text_of(chat[-1]) and "rag ingest" in text_of(chat[-1])
            assert "rag ingest" in sources
        with pytest.raises(AppError, match="at most 2 questions a minute"):
            ask(c, "What is GCNet?")
        chat, _, _ = ask(client(url), "What is GCNet?")  # a new session has its own allowance
        assert "rag ingest" in text_of(chat[-1])
    finally:
        demo.close()
        engine.close()


def test_app__two_named_endpoints_and_a_queue_that_answers_several_at_once(app, engine):
    demo, url = app
    info = client(url).view_api(print_info=False, return_format="dict")
    assert set(info["named_endpoints"]) == {ASK, "/clear"}
    assert [p["parameter_name"] for p in info["named_endpoints"][ASK]["parameters"]] == ["question", "k", "use_llm"]
    assert demo._queue.default_concurrency_limit == engine.settings.ui_concurrency > 1


# --- pieces ----------------------------------------------------------------------------------------------------
def test_sources_html__card_per_citation_with_metadata_and_uncited_folded():
    paper = Paper("p1", "A & B: Title?", "passage", date_text="Aug 9, 2021", upvotes=12, n_authors=5,
                  authors=["Ann One", "Bo Two", "Cy Three", "Di Four"], url="https://arxiv.org/abs/1")
    hit = Hit("p1", "A & B: Title?", 1.0377, "passage", side="A", similarity=0.61, paper=paper)
    other = Hit("p2", "Uncited <paper>", 0.015, "x")
    ans = Answer("q", "text [1]", [Citation(1, "p1", "A & B: Title?", "We <b>show</b> it.")], [hit, other], False,
                 "extractive")
    out = sources_html(ans)
    assert "A &amp; B: Title?" in out and "We &lt;b&gt;show&lt;/b&gt; it." in out
    assert "Aug 9, 2021" in out and "▲ 12 upvotes" in out and "Ann One, Bo Two, Cy Three et al." in out
    assert "score 1.038" in out and 'href="https://arxiv.org/abs/1"' in out
    assert "1 more retrieved, not cited" in out and "Uncited &lt;paper&gt;" in out


def test_model_badge__names_the_model_or_says_extractive(tmp_path):
    plain = make_settings(tmp_path)
    assert "extractive (no LLM configured)" in model_badge(plain)
    llm = make_settings(tmp_path, llm_base_url="http://127.0.0.1:9/v1", llm_model="qwen2.5:7b")
    assert "LLM · qwen2.5:7b" in model_badge(llm, True)
    assert "extractive (LLM switched off)" in model_badge(llm, False)


def test_llm_checkbox__interactive_only_when_an_llm_is_configured(tmp_path):
    from rag import Engine
    from ui.app import build_app

    def checkbox(settings):
        demo = build_app(Engine(settings, auto_ingest=False))
        return next(c for c in demo.config["components"] if c["props"].get("elem_id") == "use-llm")["props"]

    off = checkbox(make_settings(tmp_path / "a"))
    assert off["interactive"] is False and off["value"] is False
    on = checkbox(make_settings(tmp_path / "b", llm_base_url="http://127.0.0.1:9/v1", llm_model="m"))
    assert on["interactive"] is True and on["value"] is True


def test_launch_guards__auth_pairs_and_loud_warning_for_exposed_host(tmp_path, capsys):
    assert auth_pair(make_settings(tmp_path)) is None
    assert auth_pair(make_settings(tmp_path, auth_user="u", auth_password="p")) == ("u", "p")
    with pytest.raises(ConfigError):
        auth_pair(make_settings(tmp_path, auth_user="u"))
    assert warn_if_exposed("0.0.0.0", None) is True
    assert "WITHOUT a password" in capsys.readouterr().err
    assert warn_if_exposed("0.0.0.0", ("u", "p")) is False and warn_if_exposed("127.0.0.1", None) is False


def test_cli__rag_chat_is_registered_with_host_and_port():
    import typer

    from ui.app import register_cli

    app = typer.Typer()
    app.command()(lambda: None)
    register_cli(app)
    out = CliRunner().invoke(app, ["chat", "--help"])
    assert out.exit_code == 0 and "--host" in out.output and "--port" in out.output


def test_ui_module__imports_without_gradio_for_a_fast_cli():
    import subprocess
    import sys

    code = "import sys, ui.app; print('gradio' in sys.modules)"
    t = time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "importing ui.app must not import gradio (rag --help would slow down)"
    assert time.time() - t < 10
