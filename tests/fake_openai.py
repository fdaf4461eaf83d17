"""A fake OpenAI-compatible chat endpoint on 127.0.0.1, so the real `openai` client (through llama-index
OpenAILike, built by rag.llm) talks real HTTP in tests. Each test scripts the reply (a string, or a function
of the request's messages) and a fault mode; every request is recorded so tests can assert what was sent.

Faults: "429" (with Retry-After), "500", "401" (echoes the bearer token, as some servers do), "slow" (sleeps past
the client timeout), "malformed" (body is not JSON), "cut" (the connection closes halfway through the body or
stream), "huge" (a 10 MB answer), "empty" (empty content), "refusal" (no content, a refusal), "length" (cut at the
token limit), "context" (HTTP 400 "maximum context length is `context_limit` tokens", as llama-cpp-python says it,
while the prompt is longer than that), "context-sse" (the same, but a streamed request gets 200 and an empty event
stream, as llama-cpp-python's server sends it), "stall" (streams half the answer, then stops for `delay` seconds),
"trickle" (one piece every `gap` seconds). What local servers say about their window is scripted too: `props`
(llama.cpp /props), `model_info` (extra keys of the /v1/models entry, e.g. vLLM's max_model_len), `show` (Ollama
/api/show). A refused connection is `refused_url()`: a loopback port nobody
listens on."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

HUGE_BYTES = 10 * 1024 * 1024
FAULTS = {None, "429", "500", "401", "slow", "malformed", "cut", "huge", "empty", "refusal", "length", "context",
          "context-sse", "stall", "trickle"}
_SOURCE = re.compile(r"^\[(\d+)\] (.+?) — (.*)$")

Reply = str | Callable[[list[dict[str, Any]]], str]


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    @property
    def user(self) -> str:
        """Text of the last user message."""
        users = [m for m in self.messages if m.get("role") == "user"]
        return _content(users[-1]) if users else ""

    @property
    def system(self) -> str:
        return "".join(_content(m) for m in self.messages if m.get("role") == "system")


def sources_in(messages: list[dict[str, Any]]) -> dict[int, tuple[str, str]]:
    """The numbered sources of the last user message: n → (title, passage)."""
    users = [m for m in messages if m.get("role") == "user"]
    out: dict[int, tuple[str, str]] = {}
    for line in (_content(users[-1]) if users else "").splitlines():
        m = _SOURCE.match(line)
        if m:
            out[int(m.group(1))] = (m.group(2), m.group(3))
    return out


def first_sentence(passage: str) -> str:
    return re.split(r"(?<=[.!?])\s+", passage.strip())[0]


def _content(message: dict[str, Any]) -> str:
    c = message.get("content")
    if isinstance(c, list):  # content parts
        return "".join(p.get("text", "") for p in c if isinstance(p, dict))
    return c or ""


@dataclass
class FakeOpenAI:
    """The script of one test. Reset between tests by the `fake_llm` fixture."""

    url: str = ""
    reply: Reply = "I cannot say."
    condense: Reply | None = None  # reply to condense-prompt requests (None → same as `reply`)
    fault: str | None = None
    fault_times: int | None = None  # fail only the first N requests (None → all of them)
    retry_after: float = 1.0
    delay: float = 10.0  # "slow": seconds before answering
    piece_chars: int = 12  # streamed delta size
    gap: float = 0.3  # "trickle": seconds between pieces
    context_limit: int = 1500  # "context": the window the 400 reply names (prompt chars / 4 counted as tokens)
    props: dict[str, Any] | None = None
    model_info: dict[str, Any] = field(default_factory=dict)
    show: dict[str, Any] | None = None
    requests: list[Request] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def reset(self) -> None:
        self.reply, self.condense, self.fault, self.fault_times = "I cannot say.", None, None, None
        self.retry_after, self.delay, self.piece_chars, self.gap = 1.0, 10.0, 12, 0.3
        self.context_limit, self.props, self.model_info, self.show = 1500, None, {}, None
        self.requests.clear()

    @property
    def chat_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def text_for(self, req: Request) -> str:
        reply = self.condense if self.condense is not None and "Standalone question:" in req.user else self.reply
        return reply(req.messages) if callable(reply) else reply

    def active_fault(self, n: int) -> str | None:
        if self.fault_times is not None and n > self.fault_times:
            return None
        return self.fault


def refused_url() -> str:
    """A loopback URL whose port is closed: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _completion(text: str | None, finish: str = "stop", refusal: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": "fake-model",
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": text, "refusal": refusal}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    obj = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
           "model": "fake-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(obj)}\n\n".encode()


def make_handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # chunked streams, as real servers send them

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            fake.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, {}))
            if self.path.rstrip("/").endswith("/models"):
                entry = {"id": "fake-model", "object": "model", **fake.model_info}
                self._json(200, {"object": "list", "data": [entry]})
            elif self.path == "/props" and fake.props is not None:
                self._json(200, fake.props)
            else:
                self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"_unparsed": raw.decode("utf-8", "replace")}
            req = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            fake.requests.append(req)
            if self.path == "/api/show" and fake.show is not None:
                self._json(200, fake.show)
                return
            if not self.path.endswith("/chat/completions"):
                self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                return
            fault = fake.active_fault(len(fake.chat_requests))
            stream = bool(body.get("stream"))
            try:
                self._answer(req, fault, stream)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up first (timeouts)
                pass

        # --- responses ---------------------------------------------------------------------------------------
        def _answer(self, req: Request, fault: str | None, stream: bool) -> None:
            if fault == "429":
                self._json(429, {"error": {"message": "Rate limit reached for fake-model", "type": "requests",
                                           "code": "rate_limit_exceeded"}},
                           {"Retry-After": f"{fake.retry_after:g}"})
                return
            if fault == "401":
                token = req.headers.get("authorization", "").removeprefix("Bearer ")
                self._json(401, {"error": {"message": f"Incorrect API key provided: {token}.",
                                           "type": "invalid_request_error", "code": "invalid_api_key"}})
                return
            if fault == "500":
                self._json(500, {"error": {"message": "The server had an error", "type": "server_error"}})
                return
            if fault == "slow":
                fake._stop.wait(fake.delay)
                fault = None
            if fault in ("context", "context-sse"):
                prompt = sum(len(_content(m)) for m in req.messages) // 4
                asked = req.body.get("max_tokens") or 0
                if prompt >= fake.context_limit and fault == "context-sse" and stream:
                    self._stream([])
                    return
                if prompt >= fake.context_limit:
                    self._json(400, {"error": {
                        "message": f"This model's maximum context length is {fake.context_limit} tokens. However, "
                                   f"you requested {prompt + asked} tokens "
                                   f"({prompt} in the messages, {asked} in the completion). Please reduce the "
                                   "length of the messages or completion.",
                        "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}})
                    return
                fault = None
            if fault == "malformed":
                if stream:
                    self._stream([b"data: {\"id\": \"chatcmpl-fake\", \"choices\": [{\"delta\": {\"cont\n\n",
                                  b"data: [DONE]\n\n"])
                else:
                    self._send(200, b"{\"id\": \"chatcmpl-fake\", \"choices\": [{\"message\": <html>oops",
                               "application/json")
                return
            text = fake.text_for(req)
            if fault == "huge":
                text = ("This sentence pads a response that is far too long. " * (HUGE_BYTES // 52 + 1))
            if not stream:
                if fault == "empty":
                    self._json(200, _completion(""))
                elif fault == "refusal":
                    self._json(200, _completion(None, refusal="I'm sorry, I can't help with that."))
                elif fault == "length":
                    self._json(200, _completion(text[: max(1, len(text) // 2)], finish="length"))
                elif fault == "cut":
                    data = json.dumps(_completion(text)).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self._kill()
                else:
                    self._json(200, _completion(text))
                return
            size = 65536 if fault == "huge" else max(1, fake.piece_chars)
            pieces = [text[i:i + size] for i in range(0, len(text), size)]
            events = [_chunk({"role": "assistant", "content": ""})]
            if fault == "refusal":
                events.append(_chunk({"refusal": "I'm sorry, I can't help with that."}))
                events.append(_chunk({}, "stop"))
            elif fault == "empty":
                events.append(_chunk({}, "stop"))
            elif fault == "length":
                events += [_chunk({"content": p}) for p in pieces[: max(1, len(pieces) // 2)]]
                events.append(_chunk({}, "length"))
            else:
                events += [_chunk({"content": p}) for p in pieces]
                events.append(_chunk({}, "stop"))
            events.append(b"data: [DONE]\n\n")
            if fault == "cut":
                self._stream(events[: max(2, len(events) // 2)], cut=True)
            elif fault == "stall":
                self._stream(events, pause_at=max(2, len(events) // 2), pause=fake.delay)
            elif fault == "trickle":
                self._stream(events, every=fake.gap)
            else:
                self._stream(events)

        def _json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
            self._send(code, json.dumps(obj).encode(), "application/json", headers)

        def _send(self, code: int, data: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, events: list[bytes], cut: bool = False, pause_at: int = -1, pause: float = 0.0,
                    every: float = 0.0) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i, ev in enumerate(events):
                if i == pause_at:
                    fake._stop.wait(pause)
                elif every and i:
                    fake._stop.wait(every)
                self.wfile.write(f"{len(ev):x}\r\n".encode() + ev + b"\r\n")
                self.wfile.flush()
            if cut:
                self._kill()
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _kill(self) -> None:
            """Close the socket mid-message (no terminating chunk, short body)."""
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (timeouts, cut streams) is part of the script, not an error to print."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeServer:
    def __init__(self) -> None:
        self.fake = FakeOpenAI()
        self.httpd = _QuietServer(("127.0.0.1", 0), make_handler(self.fake))
        self.fake.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self.fake

    def __exit__(self, *exc: object) -> None:
        self.fake._stop.set()  # wake "slow" handlers
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def fake_server():
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def fake_llm(fake_server):
    """The module's fake endpoint with a fresh script for this test."""
    fake_server.reset()
    yield fake_server
    fake_server.reset()
