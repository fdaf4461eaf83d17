"""The chat face: a Gradio app that streams cited answers, each with its own numbered sources (beside the chat
on wide screens, under the answer on phones), a Collection tab listing every paper, a Markdown export and a
conversation kept in the browser across reloads. `build_app(engine)` makes the Blocks, `launch()` serves it
(never shared; optional auth), `rag chat` runs it. gradio is imported lazily so the `rag` command stays fast."""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rag import Engine
from rag.errors import ConfigError, IndexMissingError, RagError

from .assets import CSS, JS
from .collection import ALL_FILES, ANY_YEAR, SORTS, collection_html, filter_choices, filter_papers
from .conversation import stored
from .render import PLACEHOLDER, SOURCES_EMPTY, error_message, header_html, model_badge, sentence
from .session import (  # noqa: F401  (check_question, check_rate, RATE_WINDOW: re-exported for callers)
    MAX_K,
    RATE_WINDOW,
    PaperCache,
    answer_turns,
    check_question,
    check_rate,
    new_session,
    restore_session,
    write_export,
)

if TYPE_CHECKING:
    import gradio as gr


# Comparative questions first: they show what the tool does best (both papers cited, a table side by side).
EXAMPLES = [
    "How does ResMLP differ from RaftMLP?",
    "Compare SSVI with functional priors for Bayesian deep learning",
    "Which papers study anomaly detection?",
    "What is GCNet?",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
API_NAME = "ask"


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
