"""Builds the LLM from settings, or None when the user configured none (extractive mode), and calls it with
one bounded retry and timeout policy. Any OpenAI-compatible endpoint goes through llama-index's OpenAILike;
nothing is sent anywhere the user did not name.

Every call streams, also `chat` (which joins the pieces), so that time is bounded the way local models need:
the model must start (first token) within `llm_timeout` of the call, may pause at most `llm_idle_timeout`
between pieces, and the whole answer ends by the caller's deadline (`llm_max_seconds` per answer); what has
arrived by then comes back as a cut-off answer. A stream that is still producing is never killed for being
long. The stream is read in a daemon thread so these limits hold even while the HTTP client blocks.

Retries live here, not in the client: llama-index and `openai` each retry on their own (their counts
multiply) and `openai` honours a Retry-After of up to two minutes, so both are switched off. `chat` / `stream`
retry at most `llm_max_retries` times, only before the model has produced anything, never a timeout (a model
that did not answer in time is busy; a second request would queue behind the first), and never past the
first-token deadline."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .errors import ConfigError, LLMError, LLMTimeoutError, LLMTruncatedError
from .settings import Settings
from .window import is_context_error

log = logging.getLogger(__name__)

OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
OPENAI_URL = "https://api.openai.com/v1"
CHARS_PER_TOKEN_LIMIT = 16  # an answer longer than max_tokens × this is not an answer (runaway server)
BACKSTOP_SECONDS = 5.0  # the HTTP client's own read timeout is this much longer than ours: it only ends the thread


def describe(settings: Settings) -> str | None:
    """The model name shown to users, or None in extractive mode."""
    if not settings.llm_enabled:
        return None
    return settings.llm_model or OPENAI_DEFAULT_MODEL


def endpoint(settings: Settings) -> str:
    """The base URL requests go to."""
    return settings.llm_base_url or settings.openai_base_url or OPENAI_URL


def build_llm(settings: Settings, context_window: int | None = None) -> Any:
    if not settings.llm_enabled:
        return None
    import openai.resources.chat  # noqa: F401  (imported lazily by the first request: not the model's time)
    from llama_index.llms.openai_like import OpenAILike

    if settings.llm_base_url and not settings.llm_model:
        raise ConfigError("RAG_LLM_BASE_URL is set but RAG_LLM_MODEL is not; name the model to use")
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    # max_retries=0: retries are done by `chat`/`stream` below (see the module docstring). The client's timeout
    # is a backstop that ends the reading thread; the limits users see are enforced by `stream`.
    backstop = max(settings.llm_timeout, settings.llm_idle_timeout) + BACKSTOP_SECONDS
    return OpenAILike(model=settings.llm_model or OPENAI_DEFAULT_MODEL, api_base=endpoint(settings), api_key=key,
                      is_chat_model=True, context_window=context_window or settings.llm_context_window,
                      max_tokens=None, timeout=backstop, max_retries=0,  # max_tokens is sent per call
                      temperature=settings.llm_temperature,
                      additional_kwargs={} if settings.llm_seed is None else {"seed": settings.llm_seed})


def max_answer_chars(settings: Settings) -> int:
    return max(4000, settings.llm_max_tokens * CHARS_PER_TOKEN_LIMIT)


# --- calling, with bounded time and retries ---------------------------------------------------------------------
def _messages(messages: Sequence[dict[str, str]]) -> list[Any]:
    """Plain {role, content} dicts → llama-index ChatMessages (llama-index types stay in this module)."""
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]


def chat(llm: Any, messages: Sequence[dict[str, str]], settings: Settings, *, max_tokens: int | None = None,
         deadline: float | None = None, sleep: Callable[[float], None] = time.sleep) -> str:
    """The model's whole answer text (streamed and joined). Raises like `stream`; a cut-off answer raises
    LLMTruncatedError carrying the text that had arrived."""
    return "".join(stream(llm, messages, settings, max_tokens=max_tokens, deadline=deadline, sleep=sleep))


def stream(llm: Any, messages: Sequence[dict[str, str]], settings: Settings, *, max_tokens: int | None = None,
           deadline: float | None = None, sleep: Callable[[float], None] = time.sleep,
           clock: Callable[[], float] = time.monotonic) -> Iterator[str]:
    """Text pieces as the model produces them. Raises the endpoint's error (after retries made before the first
    piece), LLMTimeoutError (no first piece within `llm_timeout`, or a pause longer than `llm_idle_timeout`),
    LLMTruncatedError (token limit, or `deadline` reached while streaming; `.text` has the pieces), or LLMError
    for an unusable answer (empty, refused, filtered, runaway length, a stream that ended unfinished)."""
    limit = max_answer_chars(settings)
    chat_messages = _messages(messages)  # before the clock starts: the first call imports llama-index
    start = clock()
    end = deadline if deadline is not None else start + settings.llm_max_seconds
    first_deadline = min(start + settings.llm_timeout, end)
    first_limit = settings.llm_timeout if first_deadline < end else round(max(0.0, end - start), 1)
    # per call, as llama-index lets its own max_tokens override a call's: each prompt leaves its own room
    kwargs = {"max_tokens": max_tokens or settings.llm_max_tokens}
    for attempt in range(settings.llm_max_retries + 1):
        pieces: list[str] = []
        finish = refusal = None
        openai_shaped = False
        pump = _Pump(lambda: llm.stream_chat(chat_messages, **kwargs))
        try:
            for chunk in pump.items(first_deadline, first_limit, end, settings.llm_idle_timeout, pieces,
                                    clock):
                choice = _choice(getattr(chunk, "raw", None))
                openai_shaped = openai_shaped or hasattr(getattr(chunk, "raw", None), "choices")
                finish = _get(choice, "finish_reason") or finish
                refusal = _get(_get(choice, "delta"), "refusal") or refusal
                delta = chunk.delta or ""
                if delta:
                    pieces.append(delta)
                    if sum(map(len, pieces)) > limit:
                        raise LLMError(f"the answer ran past {limit:,} characters")
                    yield delta
        except _DeadlinePassed:
            raise LLMTruncatedError(f"the answer was cut off at the time limit ({settings.llm_max_seconds:g} s)",
                                    "".join(pieces)) from None
        except Exception as e:
            wait = None if pieces else retry_wait(e, attempt, settings)
            if wait is None or clock() + wait >= first_deadline:
                raise
            log.info("LLM request failed (%s); retry %d in %.1f s", type(e).__name__, attempt + 1, wait)
            sleep(wait)
            continue
        finally:
            pump.close()
        text = "".join(pieces)
        if not text.strip() and not refusal:
            _raise_if_refused_outright(llm, chat_messages, kwargs, max(1.0, end - clock()))
        if openai_shaped and finish is None:
            raise LLMError("the response stream ended before the answer was complete")
        if finish == "length" and text.strip() and not refusal:
            raise LLMTruncatedError(f"the answer was cut off at the token limit "
                                    f"({max_tokens or settings.llm_max_tokens} tokens)", text)
        _check_answer(bool(text.strip()), len(text), finish, refusal, settings)
        return


def _raise_if_refused_outright(llm: Any, chat_messages: list[Any], kwargs: dict[str, Any], seconds: float
                               ) -> None:
    """A stream that ended with no text may hide a refusal: llama-cpp-python's server answers a streamed request
    whose prompt does not fit its window with 200 and an empty event stream (its error comes after the headers),
    while the same request unstreamed gets 400 "maximum context length is N tokens". Ask once unstreamed and
    raise that refusal, so the caller can learn the window and retry; anything else leaves the empty answer.
    Read in a daemon thread so `seconds` bounds it (a prompt that fits is generated in full, so never longer)."""
    box: dict[str, BaseException] = {}

    def run() -> None:
        for _ in range(2):  # the broken stream's pooled connection may fail first: once more on a new one
            try:
                llm.chat(chat_messages, **kwargs)
                return
            except Exception as e:  # noqa: BLE001 - only a context refusal is raised below
                box["error"] = e
                if not _connection_failed(e):
                    return

    thread = threading.Thread(target=run, name="llm-probe", daemon=True)
    thread.start()
    thread.join(seconds)
    error = box.get("error")
    if error is not None and is_context_error(error):
        raise error


class _DeadlinePassed(Exception):
    """The answer's deadline came while the model was still producing."""


class _Pump:
    """Reads a blocking iterator (the HTTP stream) in a daemon thread, so the reader can wait for each item with
    a deadline of its own and walk away. An abandoned request is closed by the thread at its next item (a
    llama.cpp server stops generating when its client goes), or by the client's backstop timeout."""

    def __init__(self, make: Callable[[], Iterator[Any]]):
        self._q: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._stop = threading.Event()
        threading.Thread(target=self._run, args=(make,), daemon=True, name="llm-stream").start()

    def _run(self, make: Callable[[], Iterator[Any]]) -> None:
        it: Any = None
        try:
            it = make()
            for item in it:
                if self._stop.is_set():
                    break
                self._q.put(("item", item))
            self._q.put(("end", None))
        except BaseException as e:  # handed to the reader, who raises it
            self._q.put(("error", e))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    pass

    def items(self, first_deadline: float, first_limit: float, end: float, idle: float, produced: list[str],
              clock: Callable[[], float]) -> Iterator[Any]:
        """The items, each waited for until the first-token deadline while nothing is `produced`, then for the
        idle gap at most, never past `end`."""
        last = clock()
        while True:
            now = clock()
            if produced:
                until = min(last + idle, end)
            else:
                until = first_deadline
            try:
                kind, value = self._q.get(timeout=max(0.0, until - now))
            except queue.Empty:
                if not produced:
                    raise LLMTimeoutError(f"no response within {first_limit:g} s") from None
                if until >= end:
                    raise _DeadlinePassed() from None
                raise LLMTimeoutError(f"the model stopped producing for more than {idle:g} s") from None
            if kind == "end":
                return
            if kind == "error":
                raise value
            last = clock()
            yield value

    def close(self) -> None:
        self._stop.set()


def retry_wait(e: BaseException, attempt: int, settings: Settings) -> float | None:
    """Seconds to wait before retrying after `e`, or None when it must not be retried: not transient, no
    retries left, or the server asks for a longer pause than the wait for a first token."""
    if attempt >= settings.llm_max_retries or not _transient(e):
        return None
    after = retry_after(e)
    if after is not None:
        return after if after <= settings.llm_timeout else None
    return min(0.5 * 2**attempt, settings.llm_timeout)


def _connection_failed(e: BaseException) -> bool:
    import openai

    return isinstance(e, openai.APIConnectionError) and not isinstance(e, openai.APITimeoutError)


def _transient(e: BaseException) -> bool:
    import httpx
    import openai

    if isinstance(e, openai.APITimeoutError | httpx.TimeoutException):
        return False  # a model that did not answer in time is busy: a retry would queue behind it
    if isinstance(e, openai.APIStatusError):
        return e.status_code in (408, 409, 429) or e.status_code >= 500
    return isinstance(e, openai.APIConnectionError | httpx.TransportError)


def retry_after(e: BaseException) -> float | None:
    headers = getattr(getattr(e, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: treat as "later than we wait"
        return float("inf")


def _check_answer(has_text: bool, length: int, finish: str | None, refusal: str | None, settings: Settings
                  ) -> None:
    if refusal:
        raise LLMError(f"the model refused: {refusal}")
    if finish == "length":
        raise LLMError(f"the answer was cut off at the token limit ({settings.llm_max_tokens} tokens)")
    if finish == "content_filter":
        raise LLMError("the answer was withheld by the provider's content filter")
    if not has_text:
        raise LLMError("the model returned an empty answer")
    if length > max_answer_chars(settings):
        raise LLMError(f"the answer ran past {max_answer_chars(settings):,} characters")


def _choice(raw: Any) -> Any:
    choices = _get(raw, "choices")
    return choices[0] if choices else None


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


# --- telling the user what went wrong -------------------------------------------------------------------------
def describe_failure(e: BaseException, settings: Settings) -> str:
    """A short, one-line reason for an LLM failure, with the settings' secrets removed."""
    reason = _reason(e, settings)
    reason = " ".join(reason.split())[:200]
    for secret in settings.secrets():
        reason = reason.replace(secret, "***")
    return reason


def _reason(e: BaseException, settings: Settings) -> str:
    import httpx
    import openai
    import pydantic

    if isinstance(e, LLMError):
        return str(e)
    if isinstance(e, openai.APITimeoutError):
        return f"no response within {settings.llm_timeout:g} s"
    if isinstance(e, openai.APIConnectionError):
        cause = e.__cause__
        if isinstance(cause, httpx.ConnectError):
            return f"cannot connect to the endpoint: {_short(cause) or 'connection refused'}"
        if isinstance(cause, httpx.RemoteProtocolError):
            return "the connection closed before the response was complete"
        return f"connection error: {_short(cause) or _short(e)}"
    if isinstance(e, openai.APIStatusError):
        msg = _server_message(e)
        if e.status_code == 429:
            after = retry_after(e)
            wait = f", retry after {after:g} s" if after is not None and after != float("inf") else ""
            return f"HTTP 429 rate limited{wait}" + (f": {msg}" if msg else "")
        return f"HTTP {e.status_code}" + (f": {msg}" if msg else "")
    if isinstance(e, httpx.RemoteProtocolError | httpx.ReadError):
        return "the response stream was cut off"
    if isinstance(e, httpx.TimeoutException):
        return f"no response within {settings.llm_timeout:g} s"
    if isinstance(e, json.JSONDecodeError | pydantic.ValidationError | openai.APIResponseValidationError):
        return "malformed response (not the JSON of a chat completion)"
    return f"{type(e).__name__}: {_short(e)}"


def _server_message(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else err
        if isinstance(msg, str):
            return msg[:120]
    return ""


def _short(e: BaseException | None) -> str:
    return str(e).strip()[:120] if e is not None else ""
