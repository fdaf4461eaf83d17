"""One browser session's logic, free of gradio: checking a question (length, rate, number of sources),
streaming its answer into the session's turns and chat messages, restoring a session the browser stored, the
collection's papers (cached) and the session's Markdown export file. `ui.app` wires these to the page."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag import Answer, Engine, Paper, Waiting
from rag.errors import InputError, RagError

from .collection import collection_papers
from .conversation import answer_of, export_markdown, history_of, messages_of, turn_record, valid_turns
from .render import (
    SOURCES_EMPTY,
    SOURCES_WAIT,
    answer_markdown,
    error_html,
    error_markdown,
    error_message,
    notice_markdown,
    sentence,
    sources_html,
    user_markdown,
    waiting_markdown,
)

RATE_WINDOW = 60.0  # seconds; settings.ui_rate_limit questions per window per browser session
STREAM_EVERY = 0.05  # seconds between chat updates while an answer streams
MAX_K = 20  # the most sources the "Number of sources" control allows
PAPERS_TTL = 30.0  # seconds the collection's paper list is reused before it is read again

log = logging.getLogger(__name__)

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
            if isinstance(piece, Waiting):  # a request is with the model: say so until its first token
                if not text:
                    yield [*shown, {"role": "assistant", "content": waiting_markdown(piece.model, piece.step)}], \
                        SOURCES_WAIT, True
                continue
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
