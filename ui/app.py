"""The chat face: a Gradio app that streams cited answers, with the cited papers in a panel beside the chat.
`build_app(engine)` makes the Blocks, `launch()` serves it (never shared; optional auth), `rag chat` runs it.
Only the public rag API is used; gradio is imported lazily so the `rag` command stays fast."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rag import Answer, Engine
from rag.errors import ConfigError, IndexMissingError, InputError, RagError

from .render import (
    CSS,
    PLACEHOLDER,
    SOURCES_EMPTY,
    SOURCES_WAIT,
    answer_markdown,
    error_html,
    error_markdown,
    error_message,
    header_html,
    model_badge,
    sentence,
    sources_html,
)

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger(__name__)

# Comparative questions first: they show what the tool does best (both papers cited, a table side by side).
EXAMPLES = [
    "How does ResMLP differ from RaftMLP?",
    "Compare SSVI with functional priors for Bayesian deep learning",
    "Which papers study anomaly detection?",
    "What is GCNet?",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
RATE_WINDOW = 60.0  # seconds; settings.ui_rate_limit questions per window per browser session
STREAM_EVERY = 0.05  # seconds between chat updates while an answer streams
API_NAME = "ask"


# --- session logic (pure; the gradio handlers below wrap it) -----------------------------------------------------
def new_session() -> dict[str, list[Any]]:
    """Per-browser-session state: `history` is what the engine sees for follow-ups (clean question/answer
    text), `chat` is what the Chatbot shows (including failed turns), `asked` are timestamps for the rate limit."""
    return {"history": [], "chat": [], "asked": []}


def check_question(question: Any, max_chars: int) -> str:
    q = " ".join(str(question or "").split())
    if not q:
        raise InputError("the question is empty; type a question about the papers")
    if len(q) > max_chars:
        raise InputError(f"the question is {len(q):,} characters; the limit is {max_chars:,}. Please shorten it")
    return q


def check_rate(asked: list[float], limit: int, now: float) -> None:
    asked[:] = [t for t in asked if now - t < RATE_WINDOW]
    if limit > 0 and len(asked) >= limit:
        wait = RATE_WINDOW - (now - asked[0])
        raise InputError(f"rate limit: at most {limit} questions a minute per session; try again in "
                         f"{max(1, round(wait))} s")


def answer_turns(engine: Engine, question: str, k: float | None, use_llm: bool | None,
                 session: dict[str, list[Any]]) -> Iterator[tuple[list[dict[str, str]], str | None]]:
    """Streams (chat messages, sources html or None=unchanged) for one question; updates `session`.
    Raises InputError before anything is shown when the question or the rate is not acceptable."""
    s = engine.settings
    q = check_question(question, s.max_question_chars)
    now = time.monotonic()
    check_rate(session["asked"], s.ui_rate_limit, now)
    session["asked"].append(now)
    user = {"role": "user", "content": q}
    shown = [*session["chat"], user]
    yield [*shown, {"role": "assistant", "content": "*Searching the collection…*"}], SOURCES_WAIT
    text, answer, last = "", None, 0.0
    try:
        for piece in engine.ask_stream(q, list(session["history"]), k=int(k) if k else None,
                                       use_llm=bool(use_llm) if s.llm_enabled else None):
            if isinstance(piece, Answer):
                answer = piece
                break
            text += piece
            if time.monotonic() - last > STREAM_EVERY:
                last = time.monotonic()
                yield [*shown, {"role": "assistant", "content": text}], None
        if answer is None:
            raise RuntimeError("the engine ended without an answer")
    except Exception as e:  # shown in the chat; the server carries on
        if not isinstance(e, RagError):
            log.exception("answering %r failed", q)
        msg = error_message(e)
        session["chat"] = [*shown, {"role": "assistant", "content": error_markdown(msg)}]
        yield session["chat"], error_html(msg)
        return
    session["chat"] = [*shown, {"role": "assistant", "content": answer_markdown(answer)}]
    session["history"] = [*session["history"], user, {"role": "assistant", "content": answer.text}]
    yield session["chat"], sources_html(answer)


# --- the app ----------------------------------------------------------------------------------------------------
def _index_status(engine: Engine) -> tuple[int | None, str | None]:
    try:
        return int(engine.stats().get("papers") or 0) or None, None
    except IndexMissingError as e:
        return None, error_message(e)
    except RagError as e:
        return None, sentence(str(e))


def build_app(engine: Engine) -> gr.Blocks:
    """The chat as a gr.Blocks. Launch it with `launch()` (or pass `css=CSS, theme=theme()` to .launch()).
    Endpoints: `/ask` (question, k, use_llm → chat, sources html, cleared textbox) and `/clear`."""
    import gradio as gr

    s = engine.settings
    n_papers, index_problem = _index_status(engine)

    def ask(question: str, k: float, use_llm: bool, session: dict[str, list[Any]]):
        """Answer `question` with citations; follow-ups in the same session use the earlier turns."""
        try:
            for chat, panel in answer_turns(engine, question, k, use_llm, session):
                yield chat, gr.skip() if panel is None else panel, "", session
        except InputError as e:  # nothing was shown yet: keep the textbox so it can be fixed
            raise gr.Error(sentence(str(e)), title="Cannot ask that", print_exception=False) from None

    def clear(session: dict[str, list[Any]] | None):
        fresh = new_session()
        fresh["asked"] = list((session or {}).get("asked", []))  # clearing does not reset the rate limit
        return [], SOURCES_EMPTY, "", fresh

    with gr.Blocks(title="Ask the papers", analytics_enabled=False) as demo:
        session = gr.State(new_session())
        with gr.Row(elem_classes="top-row"):
            gr.HTML(header_html(n_papers, index_problem), elem_classes="header-html")
            badge = gr.HTML(model_badge(s, s.llm_enabled, engine.model_name), elem_classes="badge-html")
        with gr.Row(equal_height=False, elem_classes="main-row"):
            with gr.Column(scale=3, min_width=440):
                chatbot = gr.Chatbot(show_label=False, height=600, elem_id="chat", feedback_options=None,
                                     buttons=["copy"], layout="panel", placeholder=PLACEHOLDER)
                with gr.Row(elem_classes="ask-row", equal_height=True):
                    question = gr.Textbox(label="Question", show_label=False, scale=6, autofocus=True, lines=1,
                                          max_lines=6, elem_id="question", container=False,
                                          placeholder="Ask a question about the papers…")
                    ask_btn = gr.Button("Ask", variant="primary", scale=1, min_width=76, elem_id="ask-btn")
                    clear_btn = gr.Button("Clear", variant="secondary", scale=1, min_width=76,
                                          elem_id="clear-btn")
                with gr.Row(elem_classes="controls-row", equal_height=True):
                    k = gr.Slider(0, 20, value=0, step=1, label="Number of sources (0 = automatic)", buttons=[],
                                  scale=3, elem_id="k")
                    use_llm = gr.Checkbox(
                        value=s.llm_enabled, label="Use the LLM", interactive=s.llm_enabled, elem_id="use-llm",
                        scale=2, info=("Off: answers quoted from the abstracts" if s.llm_enabled else
                                       "No LLM configured: answers are quoted from the abstracts"))
                with gr.Row(elem_classes="examples-row"):
                    gr.HTML('<span class="ex-label">Try:</span>', elem_classes="ex-label-html")
                    example_btns = [gr.Button(q, size="sm", variant="secondary", scale=0, min_width=0,
                                              elem_classes="example-btn") for q in EXAMPLES]
            with gr.Column(scale=2, min_width=340):
                sources = gr.HTML(SOURCES_EMPTY, elem_id="sources", padding=False)

        io = {"inputs": [question, k, use_llm, session], "outputs": [chatbot, sources, question, session]}
        question.submit(ask, **io, api_name=API_NAME)
        ask_btn.click(ask, **io, api_visibility="private")
        for btn in example_btns:  # clicking an example asks it
            btn.click(lambda text: text, [btn], [question], queue=False, api_visibility="private").then(
                ask, **io, api_visibility="private")
        clear_btn.click(clear, [session], [chatbot, sources, question, session], api_name="clear", queue=False)
        chatbot.clear(clear, [session], [chatbot, sources, question, session], api_visibility="private",
                      queue=False)
        use_llm.change(lambda on: model_badge(s, on, engine.model_name), [use_llm], [badge],
                       api_visibility="private", queue=False)
    demo.queue(default_concurrency_limit=max(1, s.ui_concurrency))
    return demo


def theme():
    import gradio as gr

    system = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Helvetica Neue", "Arial", "sans-serif"]
    return gr.themes.Default(primary_hue="indigo", neutral_hue="slate", radius_size="md", font=system,
                             font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])


# --- serving --------------------------------------------------------------------------------------------------------
def auth_pair(settings: Any) -> tuple[str, str] | None:
    user = settings.auth_user
    password = settings.auth_password.get_secret_value() if settings.auth_password is not None else None
    if bool(user) != bool(password):
        raise ConfigError("set both RAG_AUTH_USER and RAG_AUTH_PASSWORD to protect the chat, or neither")
    return (user, password) if user and password else None


def warn_if_exposed(host: str, auth: tuple[str, str] | None) -> bool:
    if host in LOCAL_HOSTS or auth is not None:
        return False
    bar = "!" * 78
    print(f"\n{bar}\n!! WARNING: the chat is bound to {host} WITHOUT a password: anyone who can reach this\n"
          "!! machine can use it. Set RAG_AUTH_USER and RAG_AUTH_PASSWORD, or bind to 127.0.0.1.\n"
          f"{bar}\n", file=sys.stderr, flush=True)
    return True


def launch(engine: Engine, host: str | None = None, port: int | None = None, *, prevent_thread_lock: bool = False,
           quiet: bool = False, warm: bool = True) -> gr.Blocks:
    """Serve the chat (blocking unless prevent_thread_lock). Never shared publicly; auth from settings."""
    s = engine.settings
    host, port = host or s.host, port or s.port
    auth = auth_pair(s)
    warn_if_exposed(host, auth)
    if warm:  # load the embedder and BM25 now so the first question is fast
        try:
            engine.search(EXAMPLES[0], k=1)
        except RagError as e:
            print(f"warning: {error_message(e)}", file=sys.stderr)
    demo = build_app(engine)
    demo.launch(server_name=host, server_port=port, share=False, auth=auth, prevent_thread_lock=prevent_thread_lock,
                quiet=quiet, css=CSS, theme=theme(), footer_links=["api"], ssr_mode=False, show_error=False,
                max_threads=max(40, 4 * s.ui_concurrency), auth_message="Ask the papers: please sign in.")
    return demo


def register_cli(app: typer.Typer) -> None:
    """Adds `rag chat` to the rag command (entry point group `rag.commands`)."""

    @app.command()
    def chat(
        host: Annotated[str | None, typer.Option(help="Address to bind (default RAG_HOST or 127.0.0.1). "
                                                      "Anything but localhost needs RAG_AUTH_USER/PASSWORD.")] = None,
        port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default RAG_PORT or "
                                                                        "7860).")] = None,
    ) -> None:
        """Serve the chat in the browser: streamed, cited answers with a sources panel."""
        from rag.cli import make_engine

        engine = make_engine()
        auth_pair(engine.settings)  # a half-configured password is an error before anything starts
        h, p = host or engine.settings.host, port or engine.settings.port
        typer.echo(f"chat on http://{'[' + h + ']' if ':' in h else h}:{p}  (Ctrl+C to stop)")
        launch(engine, host, port, quiet=True)


__all__: Sequence[str] = ["build_app", "launch", "register_cli", "theme", "API_NAME", "EXAMPLES", "CSS"]
