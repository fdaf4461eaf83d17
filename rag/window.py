"""The model's real context window and the token budget of one request. The window is what the server says
(llama.cpp's `/props`, Ollama's `/api/show`, vLLM's `max_model_len` in `/v1/models`), else what a "context length
exceeded" reply said, else the setting. Prompts are counted with tiktoken (cl100k), which is not the model's
tokenizer: counts are scaled by a safety margin so that prompt + max_tokens never overflows the real window."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

# cl100k undercounts the small vocabularies of local models (SmolLM2's 49k BPE: ~1.15x on abstracts).
TOKEN_MARGIN = 1.25
MESSAGE_OVERHEAD = 8  # role markers of a chat template (<|im_start|>user\n ... <|im_end|>\n), per message
REPLY_OVERHEAD = 8  # the template's assistant header before the reply
MIN_ANSWER_TOKENS = 96  # below this there is no room for an answer: drop a source instead
_LIMIT_PATTERNS = (
    re.compile(r"maximum context length is (\d+)", re.I),  # OpenAI, vLLM, llama-cpp-python
    re.compile(r"context window of (\d+)", re.I),  # llama-cpp-python's raw ValueError
    re.compile(r"context size \((\d+)", re.I),  # llama.cpp server: "exceeds the available context size (2048 tokens)"
    re.compile(r"n_ctx[^\d]{0,12}(\d+)", re.I),
)
_CONTEXT_ERROR = re.compile(r"context.{0,20}(length|window|size)|too many tokens|prompt is too long|"
                            r"exceed.{0,30}context|context_length_exceeded", re.I | re.S)


def count_tokens(messages: Sequence[dict[str, str]]) -> int:
    """Tokens the messages take in the model's window: tiktoken's count scaled by TOKEN_MARGIN, plus the chat
    template's markers."""
    raw = sum(len(encoding().encode(m["content"])) for m in messages)
    return int(raw * TOKEN_MARGIN) + MESSAGE_OVERHEAD * len(messages) + REPLY_OVERHEAD


def text_tokens(text: str) -> int:
    """Tokens one piece of prompt text takes (scaled like count_tokens)."""
    return int(len(encoding().encode(text)) * TOKEN_MARGIN) + 1


def encoding() -> Any:
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def answer_tokens(prompt_tokens: int, window: int, wanted: int) -> int:
    """max_tokens for a prompt of `prompt_tokens` in `window`: `wanted`, or what is left of the window."""
    return max(0, min(wanted, window - prompt_tokens))


# --- what the server says -------------------------------------------------------------------------------------
Get = Callable[[str, float], Any]  # (url, timeout) -> parsed JSON or None
Post = Callable[[str, dict[str, Any], float], Any]


def server_window(base_url: str, model: str, timeout: float = 3.0, *, get: Get | None = None,
                  post: Post | None = None) -> int | None:
    """The context window the server at `base_url` (an OpenAI-compatible `.../v1`) reports for `model`, or
    None when it reports none. Asks, each with `timeout`: llama.cpp `/props`, vLLM `/v1/models`, Ollama
    `/api/show`; a server that does not know an endpoint answers 404 at once."""
    get, post = get or _get, post or _post
    base = base_url.rstrip("/")
    root = re.sub(r"/v1$", "", base)
    props = get(f"{root}/props", timeout)
    n = _int(_dig(props, "default_generation_settings", "n_ctx")) or _int(_dig(props, "n_ctx"))
    if n:
        return n
    data = _dig(get(f"{base}/models", timeout), "data")
    entries = [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
    for entry in [d for d in entries if d.get("id") == model] or (entries if len(entries) == 1 else []):
        n = _int(entry.get("max_model_len")) or _int(entry.get("context_length"))
        if n:
            return n
    show = post(f"{root}/api/show", {"model": model}, timeout)
    if isinstance(show, dict):
        # Ollama serves num_ctx tokens (its Modelfile's parameter) of the model's trained context_length.
        m = re.search(r"(?m)^\s*num_ctx\s+(\d+)", str(show.get("parameters") or ""))
        if m:
            return int(m.group(1))
        info = show.get("model_info") or {}
        trained = [_int(v) for k, v in info.items() if str(k).endswith(".context_length")] if isinstance(
            info, dict) else []
        if any(trained):
            return min(OLLAMA_DEFAULT_CTX, max(t for t in trained if t))
    return None


OLLAMA_DEFAULT_CTX = 4096  # Ollama's num_ctx when the Modelfile sets none (0.6+; 2048 before)


def _dig(obj: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) and v > 0 else None


def _get(url: str, timeout: float) -> Any:
    import httpx

    try:
        r = httpx.get(url, timeout=timeout)
        return r.json() if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def _post(url: str, body: dict[str, Any], timeout: float) -> Any:
    import httpx

    try:
        r = httpx.post(url, json=body, timeout=timeout)
        return r.json() if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


# --- what an error says ---------------------------------------------------------------------------------------
def is_context_error(e: BaseException) -> bool:
    """Is `e` a reply saying the prompt does not fit the model's window?"""
    status = getattr(e, "status_code", None)
    if status not in (400, 413, 422, 500):
        return False
    body = getattr(e, "body", None)
    code = _dig(body, "code") or _dig(body, "error", "code")
    return code == "context_length_exceeded" or bool(_CONTEXT_ERROR.search(_message(e)))


def window_in_error(e: BaseException) -> int | None:
    """The window a "context length exceeded" reply names ("maximum context length is 2048 tokens"), or None."""
    text = _message(e)
    for pat in _LIMIT_PATTERNS:
        m = pat.search(text)
        if m and int(m.group(1)) >= 256:
            return int(m.group(1))
    return None


def _message(e: BaseException) -> str:
    body = getattr(e, "body", None)
    parts = [str(e)]
    msg = _dig(body, "message") or _dig(body, "error", "message")
    if isinstance(msg, str):
        parts.append(msg)
    return " ".join(parts)
