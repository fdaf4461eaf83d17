"""The chat face: a Gradio app that streams cited answers, each with its own numbered sources (beside the chat
on wide screens, under the answer on phones), a Collection tab listing every paper, a Markdown export and a
conversation kept in the browser across reloads. `build_app(engine)` makes the Blocks, `launch()` serves it
(never shared; optional auth), `rag chat` runs it. gradio is imported lazily so the `rag` command stays fast."""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rag import Answer, Engine, Paper
from rag.errors import ConfigError, IndexMissingError, InputError, RagError

from .assets import CSS, JS
from .collection import ALL_FILES, ANY_YEAR, SORTS, collection_html, collection_papers, filter_choices, filter_papers
from .conversation import (
    answer_of,
    export_markdown,
    history_of,
    messages_of,
    stored,
    turn_record,
    valid_turns,
)
from .render import (
    PLACEHOLDER,
    SOURCES_EMPTY,
    SOURCES_WAIT,
    answer_markdown,
    error_html,
    error_markdown,
    error_message,
    header_html,
    model_badge,
    notice_markdown,
    sentence,
    sources_html,
    user_markdown,
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
MAX_K = 20  # the most sources the "Number of sources" control allows
PAPERS_TTL = 30.0  # seconds the collection's paper list is reused before it is read again
API_NAME = "ask"


# --- session logic (pure; the gradio handlers below wrap it) -----------------------------------------------------
def new_session() -> dict[str, Any]:
    """Per-browser-session state: `turns` are the conversation as data (what the browser stores, what follow-ups
    and the export read), `chat` the rendered messages, `panel` the sources panel of the latest turn, `asked`
    timestamps for the rate limit."""
    return {"turns": [], "chat": [], "panel": SOURCES_EMPTY, "asked": []}


def check_question(question: Any, max_chars: int) -> str:
    q = " ".join(str(question or "").split())
    if not q:
        raise InputError("the question is empty; type a question about the papers")
    if len(q) > max_chars:
        raise InputError(f"the question is {len(q):,} characters; the limit is {max_chars:,}. Please shorten it "
                         "(it is still in the box) and ask again")
    return q


def check_k(k: Any) -> int | None:
    """The "Number of sources" value: None (automatic) for 0 or empty, else a whole number from 1 to MAX_K."""
    if k is None or k == "":
        return None
    try:
        value = float(k)
    except (TypeError, ValueError):
        raise InputError(f"the number of sources must be a whole number from 0 (automatic) to {MAX_K}, "
                         f"not {str(k)[:20]!r}") from None
    if value != int(value) or not 0 <= value <= MAX_K:
        raise InputError(f"the number of sources must be a whole number from 0 (automatic) to {MAX_K}; "
                         f"it is {value:g}")
    return int(value) or None


def check_rate(asked: list[float], limit: int, now: float) -> None:
    asked[:] = [t for t in asked if now - t < RATE_WINDOW]
    if limit > 0 and len(asked) >= limit:
        wait = RATE_WINDOW - (now - asked[0])
        raise InputError(f"rate limit: at most {limit} questions a minute per session; try again in "
                         f"{max(1, round(wait))} s")


def answer_turns(engine: Engine, question: str, k: Any, use_llm: bool | None,
                 session: dict[str, Any]) -> Iterator[tuple[list[dict[str, str]], str, bool]]:
    """Streams (chat messages, sources panel html, question accepted) for one question and updates `session`.
    A question that cannot be asked (empty, too long, rate limit, bad number of sources) yields the conversation
    unchanged with a notice at its end, the panel as it was, and accepted=False (the box keeps the text)."""
    s = engine.settings
    try:
        q = check_question(question, s.max_question_chars)
        kk = check_k(k)
        now = time.monotonic()
        check_rate(session["asked"], s.ui_rate_limit, now)
    except InputError as e:
        notice = {"role": "assistant", "content": notice_markdown(sentence(str(e)))}
        yield [*session["chat"], notice], session["panel"], False
        return
    session["asked"].append(now)
    user = {"role": "user", "content": user_markdown(q)}
    shown = [*session["chat"], user]
    yield [*shown, {"role": "assistant", "content": "*Searching the collection…*"}], SOURCES_WAIT, True
    text, answer, last = "", None, 0.0
    try:
        for piece in engine.ask_stream(q, history_of(session["turns"]), k=kk,
                                       use_llm=bool(use_llm) if s.llm_enabled else None):
            if isinstance(piece, Answer):
                answer = piece
                break
            text += piece
            if time.monotonic() - last > STREAM_EVERY:
                last = time.monotonic()
                yield [*shown, {"role": "assistant", "content": text}], SOURCES_WAIT, True
        if answer is None:
            raise RuntimeError("the engine ended without an answer")
    except Exception as e:  # shown in the chat; the server carries on
        if not isinstance(e, RagError):
            log.exception("answering %r failed", q)
        msg = error_message(e)
        session["turns"].append(turn_record(q, error=msg))
        session["chat"] = [*shown, {"role": "assistant", "content": error_markdown(msg)}]
        session["panel"] = error_html(msg)
        yield session["chat"], session["panel"], True
        return
    session["turns"].append(turn_record(q, answer))
    session["chat"] = [*shown, {"role": "assistant", "content": answer_markdown(answer)}]
    session["panel"] = sources_html(answer)
    yield session["chat"], session["panel"], True


def restore_session(saved: Any, papers: dict[str, Paper], asked: list[float] | None = None) -> dict[str, Any]:
    """A session rebuilt from what the browser stored (checked; malformed turns dropped)."""
    session = new_session()
    session["asked"] = list(asked or [])
    session["turns"] = valid_turns(saved)
    session["chat"] = [m for t in session["turns"] for m in messages_of(t, papers)]
    if session["turns"]:
        last = session["turns"][-1]
        answer = answer_of(last, papers)
        session["panel"] = sources_html(answer) if answer is not None else error_html(str(last.get("error")))
    return session


class PaperCache:
    """The collection's papers by id, read at most every PAPERS_TTL seconds (links, restore, Collection)."""

    def __init__(self, engine: Engine):
        self.engine, self._lock = engine, threading.Lock()
        self._at, self._papers = -PAPERS_TTL, []  # type: float, list[Paper]

    def list(self) -> list[Paper]:
        with self._lock:
            if time.monotonic() - self._at > PAPERS_TTL:
                try:
                    self._papers = collection_papers(self.engine)
                except RagError:
                    self._papers = []
                self._at = time.monotonic()
            return self._papers

    def by_id(self) -> dict[str, Paper]:
        return {p.paper_id: p for p in self.list()}


def write_export(session: dict[str, Any], papers: dict[str, Paper], folder: Path) -> Path | None:
    """The session's conversation as a Markdown file (one file per session, rewritten after each turn), or
    None when there is nothing to export."""
    if not session["turns"]:
        return None
    own = session.setdefault("export_dir", tempfile.mkdtemp(prefix="s-", dir=folder))
    for old in Path(own).glob("*.md"):
        old.unlink(missing_ok=True)
    path = Path(own) / f"papers-conversation-{time.strftime('%Y-%m-%d-%H%M')}.md"
    path.write_text(export_markdown(session["turns"], papers), encoding="utf-8")
    return path


# --- the app ----------------------------------------------------------------------------------------------------
def _index_status(engine: Engine) -> tuple[int | None, str | None]:
    try:
        return int(engine.stats().get("papers") or 0) or None, None
    except IndexMissingError as e:
        return None, error_message(e)
    except RagError as e:
        return None, sentence(str(e))


def storage_key(engine: Engine) -> str:
    """One browser-storage slot per collection, so two collections served on one address do not mix."""
    where = engine.settings.chroma_url or str(Path(engine.settings.index_dir).resolve())
    return "paper-rag-chat-" + hashlib.sha1(f"{where}|{engine.settings.collection}".encode()).hexdigest()[:10]


def build_app(engine: Engine) -> gr.Blocks:
    """The chat as a gr.Blocks. Launch it with `launch()` (or pass `css=CSS, theme=theme()` to .launch()).
    Endpoints: `/ask` (question, k, use_llm → chat, sources html, cleared textbox) and `/clear`."""
    import gradio as gr

    s = engine.settings
    n_papers, index_problem = _index_status(engine)
    papers = PaperCache(engine)
    year_choices, file_choices = filter_choices(papers.list()) if n_papers else ([ANY_YEAR], [ALL_FILES])
    exports = Path(tempfile.mkdtemp(prefix="paper-rag-export-"))  # removed with the app (weakref below)

    def ask(question: str, k: float, use_llm: bool, session: dict[str, Any]):
        """Answer `question` with citations; follow-ups in the same session use the earlier turns."""
        for chat, panel, accepted in answer_turns(engine, question, k, use_llm, session):
            yield chat, panel, "" if accepted else question, session

    def ask_in_page(question: str, k: float, use_llm: bool, session: dict[str, Any]):
        # The box is cleared once, when the question is taken; later updates leave it alone so the next
        # question can be typed while this one streams. A refused question stays in the box to be fixed.
        first = True
        for chat, panel, accepted in answer_turns(engine, question, k, use_llm, session):
            yield chat, panel, "" if accepted and first else gr.skip(), session
            first = False

    def persist(session: dict[str, Any]):
        path = write_export(session, papers.by_id(), exports)
        return stored(session["turns"]), gr.DownloadButton(value=path, interactive=path is not None)

    def restore(saved: Any, session: dict[str, Any] | None):
        fresh = restore_session(saved, papers.by_id(), (session or {}).get("asked"))
        if session and session.get("export_dir"):
            fresh["export_dir"] = session["export_dir"]
        path = write_export(fresh, papers.by_id(), exports)
        return fresh["chat"], fresh["panel"], fresh, gr.DownloadButton(value=path, interactive=path is not None)

    def clear(session: dict[str, Any] | None):
        fresh = new_session()
        fresh["asked"] = list((session or {}).get("asked", []))  # clearing does not reset the rate limit
        if session and session.get("export_dir"):
            fresh["export_dir"] = session["export_dir"]
        return [], SOURCES_EMPTY, "", fresh

    def browse(query: str, year: str, source: str, order: str) -> str:
        allp = papers.list()
        if not allp:
            return f'<div class="src-error">{header_problem}</div>'
        return collection_html(allp, filter_papers(allp, query, year, source, order), query)

    header_problem = index_problem or "The collection is empty."
    with gr.Blocks(title="Ask the papers", analytics_enabled=False) as demo:
        session = gr.State(new_session())
        saved = gr.BrowserState(stored([]), storage_key=storage_key(engine),
                                secret="paper-rag")  # the secret is sent to the page anyway: it guards nothing
        with gr.Row(elem_classes="top-row"):
            gr.HTML(header_html(n_papers, index_problem), elem_classes="header-html")
            badge = gr.HTML(model_badge(s, s.llm_enabled, engine.model_name), elem_classes="badge-html")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Chat", id="chat-tab", elem_id="chat-tab"):
                with gr.Row(equal_height=False, elem_classes="main-row"):
                    with gr.Column(scale=3, min_width=280, elem_id="chat-col"):
                        chatbot = gr.Chatbot(show_label=False, height="calc(100vh - 330px)", min_height=320,
                                             elem_id="chat", feedback_options=None, layout="panel", buttons=[],
                                             placeholder=PLACEHOLDER, examples=[{"text": q} for q in EXAMPLES])
                        with gr.Row(elem_classes="ask-row", equal_height=True):
                            question = gr.Textbox(label="Question", show_label=False, scale=6, autofocus=True,
                                                  lines=1, max_lines=6, elem_id="question", container=False,
                                                  placeholder="Ask a question about the papers…")
                            ask_btn = gr.Button("Ask", variant="primary", scale=0, min_width=72, elem_id="ask-btn")
                        with gr.Row(elem_classes="tools-row", equal_height=True):
                            k = gr.Slider(0, MAX_K, value=0, step=1, label="Number of sources (0 = automatic)",
                                          buttons=[], scale=3, min_width=200, elem_id="k")
                            use_llm = gr.Checkbox(
                                value=s.llm_enabled, label="Use the LLM", interactive=s.llm_enabled,
                                elem_id="use-llm", scale=2, min_width=150,
                                info=("Off: answers quoted from the abstracts" if s.llm_enabled else
                                      "None configured"))
                            export_btn = gr.DownloadButton("Export", value=None, interactive=False, scale=0,
                                                           min_width=88, elem_id="export-btn", size="md")
                            clear_btn = gr.Button("Clear", variant="secondary", scale=0, min_width=72,
                                                  elem_id="clear-btn", size="md")
                        gr.HTML('<div class="k-msg" role="status" aria-live="polite"></div>', elem_id="k-note")
                        api_ask = gr.Button("ask", visible=False)  # the /ask endpoint for API clients
                    with gr.Column(scale=2, min_width=280, elem_id="sources-col"):
                        sources = gr.HTML(SOURCES_EMPTY, elem_id="sources", padding=False,
                                          js_on_load=f"({JS.replace('__MAX_K__', str(MAX_K))})();")
            with gr.Tab(f"Collection ({n_papers or 0:,})", id="collection-tab", elem_id="collection-tab") as tab:
                with gr.Row(elem_classes="coll-bar"):
                    coll_q = gr.Textbox(label="Search", placeholder="Words in the title, abstract or authors",
                                        scale=3, elem_id="coll-search")
                    coll_year = gr.Dropdown(year_choices, value=ANY_YEAR, label="Year", scale=1,
                                            elem_id="coll-year")
                    coll_file = gr.Dropdown(file_choices, value=ALL_FILES, label="Source file", scale=1,
                                            elem_id="coll-file")
                    coll_sort = gr.Dropdown(list(SORTS), value=SORTS[0], label="Order", scale=1,
                                            elem_id="coll-sort")
                coll_list = gr.HTML('<div class="src-empty"><p>Loading the collection…</p></div>',
                                    elem_id="collection")

        private = {"api_visibility": "private"}
        io = {"inputs": [question, k, use_llm, session], "outputs": [chatbot, sources, question, session],
              "show_progress": "hidden"}
        keep = {"fn": persist, "inputs": [session], "outputs": [saved, export_btn], "queue": False, **private}
        api_ask.click(ask, **io, api_name=API_NAME).then(**keep)
        question.submit(ask_in_page, **io, **private).then(**keep)
        ask_btn.click(ask_in_page, **io, **private).then(**keep)

        def pick_example(evt: gr.SelectData) -> str:
            return evt.value["text"] if isinstance(evt.value, dict) else str(evt.value)

        pick_example.__annotations__["evt"] = gr.SelectData  # gradio reads it; `gr` is local, not a module name

        chatbot.example_select(pick_example, None, [question], queue=False, **private).then(
            ask_in_page, **io, **private).then(**keep)
        for clear_event in (clear_btn.click, chatbot.clear):
            kw = {"api_name": "clear"} if clear_event == clear_btn.click else private
            clear_event(clear, [session], [chatbot, sources, question, session], queue=False, **kw).then(**keep)
        use_llm.change(lambda on: model_badge(s, on, engine.model_name), [use_llm], [badge], queue=False, **private)
        demo.load(restore, [saved, session], [chatbot, sources, session, export_btn], queue=False,
                  show_progress="hidden", **private)
        filters = [coll_q, coll_year, coll_file, coll_sort]
        browse_kw = {"fn": browse, "inputs": filters, "outputs": [coll_list], "queue": False,
                     "show_progress": "hidden", **private}
        tab.select(**browse_kw)
        coll_q.change(trigger_mode="always_last", **browse_kw)
        for dd in (coll_year, coll_file, coll_sort):
            dd.change(**browse_kw)
    demo.queue(default_concurrency_limit=max(1, s.ui_concurrency))
    weakref.finalize(demo, shutil.rmtree, exports, ignore_errors=True)
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
