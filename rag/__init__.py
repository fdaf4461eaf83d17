"""Cited question answering over research-paper abstracts.

Public API: `Engine`, `Settings`, the records `Answer`, `Hit`, `Citation`, `Paper`, `Waiting` (what a stream
yields while the model has not started), and the module-level
`ask`/`search` that use one shared default Engine."""

from __future__ import annotations

import threading
from typing import Any

from .engine import Engine
from .errors import RagError
from .settings import Settings
from .types import Answer, Chunk, Citation, Hit, Paper, Waiting

__all__ = ["Engine", "Settings", "Answer", "Hit", "Citation", "Paper", "Chunk", "RagError", "Waiting", "ask",
           "search", "default_engine"]

_default: Engine | None = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default


def ask(question: str, history: list[dict[str, str]] | None = None, **kwargs: Any) -> Answer:
    return default_engine().ask(question, history, **kwargs)


def search(query: str, k: int = 10) -> list[Hit]:
    return default_engine().search(query, k)
