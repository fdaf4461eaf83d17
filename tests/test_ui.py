"""The Gradio chat, driven over HTTP with gradio_client against an app launched on 127.0.0.1 with the real
Engine over the real corpus: cited comparative answers, refused questions shown as notices that keep the
conversation, 8 concurrent sessions, follow-ups that use the session's history, each answer keeping its own
sources, typed HTML shown as text, and the launch guards. (Rendering pieces: test_ui_pieces.py.)"""

from __future__ import annotations

import threading
import time

import pytest
from conftest import free_port, make_settings
from gradio_client import Client
from typer.testing import CliRunner

from rag.errors import ConfigError
from ui.app import API_NAME, auth_pair, launch, warn_if_exposed
from ui.render import answer_body, model_badge

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


def ask(c: Client, question: str, *args):
    chat, sources, box = c.predict(question, *args, api_name=ASK)
    return chat, sources, box


def body(message: dict) -> str:
    """An answer message without the sources folded under it."""
    return answer_body(text_of(message))


# --- over HTTP -----------------------------------------------------------------------------------------------
def test_ask__comparative_question_streams_and_cites_both_exact_titles_in_answer_and_sources(app_url):
    job = client(app_url).submit("How does ResMLP differ from RaftMLP?", api_name=ASK)
    chat, sources, box = job.result(timeout=60)
    updates = job.outputs()
    assert len(updates) >= 2 and "Searching the collection" in text_of(updates[0][0][-1])  # it streams
    assert [m["role"] for m in chat] == ["user", "assistant"]
    answer = body(chat[-1])
    for title in (RESMLP, RAFTMLP):
        assert title in answer
        assert title in sources
    assert ">[1]</span>" in answer and ">[2]</span>" in answer and 'class="cite"' in answer  # clickable [n]
    assert "| Paper |" in answer  # the side-by-side table is markdown, rendered as a table by the chat
    assert sources.count('class="src-card"') == 2 and 'class="src-n">1<' in sources and 'class="src-n">2<' in sources
    folded = text_of(chat[-1])[len(answer):]  # the answer's own sources, under it (shown on phones)
    assert folded.startswith('<details class="ans-sources"><summary>Sources (2)</summary>')
    assert RESMLP in folded and RAFTMLP in folded
    assert box == ""  # the textbox is cleared for the next question


def test_ask__refused_questions_are_notices_that_keep_the_conversation_and_the_text(app_url, engine):
    c = client(app_url)
    chat, sources, _ = ask(c, "What is GCNet?")
    assert "Global Context Networks" in body(chat[1])
    before = [text_of(m) for m in chat]

    chat2, sources2, box = ask(c, "   ")
    assert [text_of(m) for m in chat2[:2]] == before  # the answer is still there
    assert len(chat2) == 3 and "Not asked." in text_of(chat2[2]) and "The question is empty" in text_of(chat2[2])
    assert sources2 == sources and box == "   "  # the panel keeps the answer's sources

    too_long = "why " * (engine.settings.max_question_chars // 4 + 10)
    chat3, _, box = ask(c, too_long)
    assert len(chat3) == 3 and "the limit is 2,000" in text_of(chat3[2]) and box == too_long  # kept to be fixed

    chat4, _, box = ask(c, "What is GCNet?", 2.5)
    assert "number of sources must be a whole number from 0 (automatic) to 20; it is 2.5" in text_of(chat4[2])
    assert box == "What is GCNet?"

    chat5, sources5, _ = ask(c, "What is ResMLP?")
    assert len(chat5) == 4  # the notice went; refused questions left no trace in the conversation
    assert [text_of(m) for m in chat5[:2]] == before and RESMLP in sources5


def test_ask__each_answer_keeps_its_own_numbered_sources(app_url):
    c = client(app_url)
    ask(c, "How does ResMLP differ from RaftMLP?")
    chat, sources, _ = ask(c, "What is GCNet?")
    first, second = text_of(chat[1]), text_of(chat[3])
    assert RESMLP in first.split('class="src-n">1<', 1)[1].split('class="src-card"', 1)[0]  # answer 1's [1]
    assert "Global Context Networks" in second.split('class="src-n">1<', 1)[1]  # answer 2's [1]
    assert "Global Context Networks" not in first and RESMLP not in second
    assert RESMLP not in sources and "Global Context Networks" in sources  # the panel shows the latest


def test_ask__typed_html_is_shown_as_text_never_rendered(app_url):
    chat, _, _ = ask(client(app_url), "Compare <img src=x onerror=alert(1)> with <b>ResMLP</b>")
    user, answer = text_of(chat[0]), text_of(chat[1])
    assert "<img" not in user and "<b>" not in user
    assert user == "Compare &lt;img src=x onerror=alert(1)&gt; with &lt;b&gt;ResMLP&lt;/b&gt;"
    assert "<img" not in answer and "<b>ResMLP" not in answer  # the engine echoes sides: escaped too


def test_ask__unanswerable_question_abstains_visibly_with_closest_papers(app_url):
    chat, sources, _ = ask(client(app_url), "What does the collection say about CRISPR gene editing?")
    answer = body(chat[-1])
    assert 'class="abstain"' in answer and "Not covered by the collection" in answer
    assert "(similarity " not in answer  # raw numbers left out of the closest-papers list
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
        assert title in body(chat[1]) and title in sources, (question, text_of(chat[1])[:300])


def test_followup__uses_this_sessions_history_and_clear_forgets_it(app_url):
    c = client(app_url)
    chat, _, _ = ask(c, "What is ResMLP?")
    assert RESMLP in body(chat[-1])
    chat, sources, _ = ask(c, "How does it compare with RaftMLP?")
    assert len(chat) == 4
    assert RAFTMLP in body(chat[-1]) and RESMLP in body(chat[-1])  # "it" resolved from history
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
        for i in range(2):
            chat, sources, _ = ask(c, "What is GCNet?")
            assert len(chat) == 2 * (i + 1)  # an error turn stays in the conversation, with its question
            assert "Could not answer" in text_of(chat[-1]) and "rag ingest" in text_of(chat[-1])
            assert "rag ingest" in sources
        chat, _, box = ask(c, "What is GCNet?")
        assert len(chat) == 5 and "at most 2 questions a minute" in text_of(chat[-1]) and box == "What is GCNet?"
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
