"""Builds the LLM from settings, or None when the user configured none (extractive mode), and calls it with
one bounded retry policy. Any OpenAI-compatible endpoint goes through llama-index's OpenAILike with a real
context window; nothing is sent anywhere the user did not name.

Retries live here, not in the client: llama-index and `openai` each retry on their own (their counts
multiply) and `openai` honours a Retry-After of up to two minutes, so both are switched off and `chat` /
`stream` retry at most `llm_max_retries` times, never waiting longer than one request may take."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .errors import ConfigError, LLMError
from .settings import Settings

log = logging.getLogger(__name__)

OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
OPENAI_URL = "https://api.openai.com/v1"
CHARS_PER_TOKEN_LIMIT = 16  # an answer longer than max_tokens × this is not an answer (runaway server)


def describe(settings: Settings) -> str | None:
    """The model name shown to users, or None in extractive mode."""
    if not settings.llm_enabled:
        return None
    return settings.llm_model or OPENAI_DEFAULT_MODEL


def build_llm(settings: Settings) -> Any:
    if not settings.llm_enabled:
        return None
    from llama_index.llms.openai_like import OpenAILike

    if settings.llm_base_url:
        if not settings.llm_model:
            raise ConfigError("RAG_LLM_BASE_URL is set but RAG_LLM_MODEL is not; name the model to use")
        base = settings.llm_base_url
    else:
        base = settings.openai_base_url or OPENAI_URL
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    # max_retries=0: retries are done by `chat`/`stream` below (see the module docstring).
    return OpenAILike(model=settings.llm_model or OPENAI_DEFAULT_MODEL, api_base=base, api_key=key,
                      is_chat_model=True, context_window=settings.llm_context_window,
                      max_tokens=settings.llm_max_tokens, timeout=settings.llm_timeout,
                      max_retries=0, temperature=settings.llm_temperature)


def max_answer_chars(settings: Settings) -> int:
    return max(4000, settings.llm_max_tokens * CHARS_PER_TOKEN_LIMIT)


# --- calling, with bounded retries --------------------------------------------------------------------------
def _messages(messages: Sequence[dict[str, str]]) -> list[Any]:
    """Plain {role, content} dicts → llama-index ChatMessages (llama-index types stay in this module)."""
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]


def chat(llm: Any, messages: Sequence[dict[str, str]], settings: Settings, *,
         sleep: Callable[[float], None] = time.sleep) -> str:
    """The model's answer text. Raises the endpoint's error, or LLMError for an unusable answer (empty,
    refused, cut at the token limit, runaway length), after at most `llm_max_retries` retries."""
    for attempt in range(settings.llm_max_retries + 1):
        try:
            resp = llm.chat(_messages(messages))
        except Exception as e:
            wait = retry_wait(e, attempt, settings)
            if wait is None:
                raise
            log.info("LLM request failed (%s); retry %d in %.1f s", type(e).__name__, attempt + 1, wait)
            sleep(wait)
            continue
        text = resp.message.content or ""
        choice = _choice(getattr(resp, "raw", None))
        _check_answer(bool(text.strip()), len(text), _get(choice, "finish_reason"),
                      _get(_get(choice, "message"), "refusal"), settings)
        return text
    raise AssertionError("unreachable")  # the last attempt either returns or raises


def stream(llm: Any, messages: Sequence[dict[str, str]], settings: Settings, *,
           sleep: Callable[[float], None] = time.sleep) -> Iterator[str]:
    """Text pieces as the model produces them. A request that fails before its first piece is retried like
    `chat`; once text has been yielded a failure is raised (the caller falls back). A stream that ends
    without a finish reason was cut off and raises LLMError."""
    limit = max_answer_chars(settings)
    for attempt in range(settings.llm_max_retries + 1):
        produced = 0
        blank = True
        finish = refusal = None
        openai_shaped = False
        try:
            for chunk in llm.stream_chat(_messages(messages)):
                choice = _choice(getattr(chunk, "raw", None))
                openai_shaped = openai_shaped or hasattr(getattr(chunk, "raw", None), "choices")
                finish = _get(choice, "finish_reason") or finish
                refusal = _get(_get(choice, "delta"), "refusal") or refusal
                delta = chunk.delta or ""
                if delta:
                    produced += len(delta)
                    blank = blank and not delta.strip()
                    if produced > limit:
                        raise LLMError(f"the answer ran past {limit:,} characters")
                    yield delta
        except Exception as e:
            wait = None if produced else retry_wait(e, attempt, settings)
            if wait is None:
                raise
            log.info("LLM request failed (%s); retry %d in %.1f s", type(e).__name__, attempt + 1, wait)
            sleep(wait)
            continue
        if openai_shaped and finish is None:
            raise LLMError("the response stream ended before the answer was complete")
        _check_answer(not blank, produced, finish, refusal, settings)
        return


def retry_wait(e: BaseException, attempt: int, settings: Settings) -> float | None:
    """Seconds to wait before retrying after `e`, or None when it must not be retried: not transient, no
    retries left, or the server asks for a longer pause than one request may take."""
    if attempt >= settings.llm_max_retries or not _transient(e):
        return None
    after = retry_after(e)
    if after is not None:
        return after if after <= settings.llm_timeout else None
    return min(0.5 * 2**attempt, settings.llm_timeout)


def _transient(e: BaseException) -> bool:
    import httpx
    import openai

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
