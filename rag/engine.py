"""`rag.Engine`: the one object every face uses. It owns the settings, the embedder, the store, the searcher and
the answerer (each given its collaborators here), builds the index on first use when it is missing, and exposes
ingest / stats / papers / search / ask."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .answer import Answerer, validate_question
from .embeddings import Embedder, get_embedder
from .errors import IndexMissingError, InputError
from .ingest import IngestReport, ingest
from .retrieve import Searcher
from .settings import Settings, configure_offline_environment
from .store import Store
from .types import Answer, Hit, Paper

log = logging.getLogger(__name__)


class Engine:
    """Cited question answering over a collection of paper abstracts.

    >>> engine = Engine()                      # settings from RAG_* env vars / defaults
    >>> engine.search("pruning at initialization", k=5)
    >>> engine.ask("How does ResMLP differ from RaftMLP?")
    """

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None,
                 llm: Any = None, auto_ingest: bool = True):
        configure_offline_environment()
        self.settings = settings or Settings()
        self._embedder = embedder
        self._llm = llm
        self.auto_ingest = auto_ingest
        self._store: Store | None = None
        self._searcher: Searcher | None = None
        self._answerer: Answerer | None = None
        self._lock = threading.RLock()

    # --- collaborators ------------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.settings)
        return self._embedder

    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                try:
                    self._store = Store(self.settings)
                    self._store.open()
                except IndexMissingError:
                    if self._store is not None:
                        self._store.close()
                        self._store = None
                    if not self.auto_ingest:
                        raise
                    log.warning("no index yet: building it from %s", self.settings.data_dir)
                    self.ingest(progress=False)
                    self._store = Store(self.settings)
                    self._store.open()
                self._store.check_model(self.embedder.name, self.embedder.dim)
            return self._store

    @property
    def searcher(self) -> Searcher:
        with self._lock:
            if self._searcher is None:
                self._searcher = Searcher(self.store(), self.embedder, self.settings)
            return self._searcher

    @property
    def answerer(self) -> Answerer:
        with self._lock:
            if self._answerer is None or self._answerer.searcher is not self.searcher:
                self._answerer = Answerer(self.searcher, self.embedder, self.llm, self.settings)
            return self._answerer

    @property
    def model_name(self) -> str | None:
        """The configured LLM's model name, or None in extractive mode (what the UI badge shows)."""
        from .llm import describe

        return describe(self.settings)

    def llm(self):  # type: ignore[no-untyped-def]
        if self._llm is None and self.settings.llm_enabled:
            from .llm import build_llm

            self._llm = build_llm(self.settings)
        return self._llm

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
            self._searcher = self._answerer = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- indexing -----------------------------------------------------------------------------------------
    def ingest(self, paths: Sequence[Path | str] | None = None, *, rebuild: bool = False, prune: bool = False,
               progress: bool = True, on_warning: Any = None) -> IngestReport:
        with self._lock:
            report = ingest(self.settings, [Path(p) for p in paths] if paths else None, rebuild=rebuild,
                            prune=prune, embedder=self.embedder, progress=progress, on_warning=on_warning)
            if self._store is not None:  # reopened on next use: a rebuild made a new collection
                self._store.close()
                self._store = None
            self._searcher = self._answerer = None  # rebuilt from the new collection on next use
            return report

    def stats(self) -> dict[str, Any]:
        store = self.store()
        papers = store.papers()
        files = Counter(s.file for p in papers.values() for s in p.sources)
        model, dim = store.model_info()
        return {"papers": len(papers), "chunks": store.count(), "sources": len(files),
                "source_files": dict(sorted(files.items())), "embedding_model": model, "embedding_dim": dim,
                "embedder_backend": self.embedder.backend, "index": store.location, "backend": store.backend,
                "collection": store.name}

    def papers(self) -> list[Paper]:
        """Every paper of the collection (complete ones: all chunks stored), by title."""
        return sorted(self.searcher.state.papers.values(), key=lambda p: (p.title.lower(), p.paper_id))

    # --- questions ----------------------------------------------------------------------------------------
    def search(self, query: str, k: int | None = None) -> list[Hit]:
        if k is not None and (not isinstance(k, int) or k < 1):
            raise InputError(f"k must be a whole number of at least 1, not {k!r}")
        return self.searcher.search(query, k or self.settings.default_k)

    def ask(self, question: str, history: Sequence[dict[str, str]] | None = None, *, k: int | None = None,
            use_llm: bool | None = None) -> Answer:
        validate_question(question, self.settings.max_question_chars)  # a bad question needs no index
        return self.answerer.answer(question, history, k=k, use_llm=use_llm)

    def ask_stream(self, question: str, history: Sequence[dict[str, str]] | None = None, *,
                   k: int | None = None, use_llm: bool | None = None) -> Iterator[str | Answer]:
        """Yields text pieces as they are produced, then the final Answer."""
        validate_question(question, self.settings.max_question_chars)
        yield from self.answerer.stream(question, history, k=k, use_llm=use_llm)
