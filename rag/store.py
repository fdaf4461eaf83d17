"""The only module that talks to Chroma. Embedded `PersistentClient` at `index_dir` by default, or an
`HttpClient` when `chroma_url` is set. The collection records the embedding model that filled it, and the
embedded index is guarded by a lock file so a second process gets a clear message instead of a hang."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from .errors import EmbeddingMismatchError, IndexLockedError, IndexMissingError, StoreError
from .settings import Settings

BATCH = 256  # Chroma's efficient add range is 50–250 (MACHINE.md); well under get_max_batch_size()
LOCK_NAME = ".rag.lock"
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class StoredChunk:
    chunk_id: str
    text: str
    meta: dict[str, Any]


# Locks held by this process, by index path: several Store objects in one process share one lock.
_held: dict[str, tuple[int, int]] = {}
_held_guard = threading.Lock()


def _acquire(index_dir: Path) -> None:
    key = str(index_dir.resolve())
    with _held_guard:
        if key in _held:
            fd, n = _held[key]
            _held[key] = (fd, n + 1)
            return
        index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(index_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise IndexLockedError(
                f"the index at {index_dir} is in use by another process (pid {owner}); an embedded index "
                "serves one process at a time. For several processes start a Chroma server "
                f"(`chroma run --path {index_dir} --host 127.0.0.1 --port 8000`) and set "
                "RAG_CHROMA_URL=http://127.0.0.1:8000") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        _held[key] = (fd, 1)


def _release(index_dir: Path) -> None:
    key = str(index_dir.resolve())
    with _held_guard:
        if key not in _held:
            return
        fd, n = _held[key]
        if n > 1:
            _held[key] = (fd, n - 1)
            return
        del _held[key]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class Store:
    """One Chroma collection of chunks. Metadata per chunk: paper_id, title, ordinal, n_chunks, hash and
    the paper's metadata, so the collection alone can rebuild BM25, aliases and paper records."""

    def __init__(self, settings: Settings, create: bool = False):
        self.settings = settings
        self.name = settings.collection
        self._locked_dir: Path | None = None
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
        except ImportError as e:  # pragma: no cover
            raise StoreError(f"chromadb is not installed: {e}") from e
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if settings.chroma_url:
            u = urlparse(settings.chroma_url)
            if not u.hostname:
                raise StoreError(f"RAG_CHROMA_URL {settings.chroma_url!r} is not a URL like http://host:port")
            self.backend = "server"
            self.location = settings.chroma_url
            try:
                self.client = chromadb.HttpClient(host=u.hostname, port=u.port or 8000,
                                                  ssl=u.scheme == "https", settings=chroma_settings)
                self.client.heartbeat()
            except Exception as e:
                raise StoreError(f"cannot reach the Chroma server at {settings.chroma_url}: {e}") from None
        else:
            self.backend = "embedded"
            index_dir = settings.index_dir
            self.location = str(index_dir)
            if not create and not (index_dir / "chroma.sqlite3").exists():
                raise IndexMissingError(f"no index at {index_dir}; build it with `rag ingest`")
            _acquire(index_dir)
            self._locked_dir = index_dir
            self.client = chromadb.PersistentClient(path=str(index_dir), settings=chroma_settings)
        self._collection = None

    # --- lifecycle ------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._locked_dir is not None:
            _release(self._locked_dir)
            self._locked_dir = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def collection(self, create_for: tuple[str, int] | None = None):  # type: ignore[no-untyped-def]
        """The collection; with `create_for=(model, dim)` create it if missing, else it must exist."""
        if self._collection is not None:
            return self._collection
        try:
            col = self.client.get_collection(self.name, embedding_function=None)
        except Exception:
            if create_for is None:
                raise IndexMissingError(f"the index at {self.location} has no collection {self.name!r}; "
                                        "build it with `rag ingest`") from None
            model, dim = create_for
            col = self.client.create_collection(
                self.name, embedding_function=None,
                metadata={"hnsw:space": "cosine", "embed_model": model, "embed_dim": dim})
        self._collection = col
        return col

    def model_info(self) -> tuple[str | None, int | None]:
        meta = self.collection().metadata or {}
        return meta.get("embed_model"), meta.get("embed_dim")

    def check_model(self, name: str, dim: int) -> None:
        stored, stored_dim = self.model_info()
        if stored is not None and (stored != name or (stored_dim and stored_dim != dim)):
            raise EmbeddingMismatchError(
                f"the index at {self.location} was embedded with {stored!r} ({stored_dim} dims) but the "
                f"configured embedder is {name!r} ({dim} dims); use the same model or rebuild with "
                "`rag ingest --rebuild`")

    def drop(self) -> None:
        try:
            self.client.delete_collection(self.name)
        except Exception:
            pass
        self._collection = None

    def uid(self) -> str:
        """The collection's id: new whenever the collection is dropped and created again."""
        return str(self._call("read", lambda: self.collection().id))

    def generation(self) -> int:
        """A number every ingest that changes the collection increases: readers reload when it moves, even
        when the chunk count stayed the same (an abstract edited in place)."""
        meta = self._call("read", lambda: self.client.get_collection(self.name, embedding_function=None).metadata)
        return int((meta or {}).get("generation", 0))

    def bump_generation(self) -> None:
        col = self.collection()
        fresh = self.client.get_collection(self.name, embedding_function=None).metadata or {}
        # hnsw:* keys cannot be passed to modify (the distance is fixed at creation and kept).
        meta = {k: v for k, v in fresh.items() if not k.startswith("hnsw:")}
        meta["generation"] = int(meta.get("generation", 0)) + 1
        col.modify(metadata=meta)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run a Chroma read; on failure reopen the collection and try once more, then raise StoreError
        (a rebuilt or moved index, a server that went away) instead of Chroma's own exception."""
        try:
            return fn()
        except Exception as first:
            log.info("chroma %s failed (%s); reopening the collection and retrying once", what, first)
            self._collection = None
            try:
                return fn()
            except IndexMissingError:
                raise
            except Exception as e:
                reason = " ".join(str(e).split())[:160] or type(e).__name__
                raise StoreError(f"could not {what} the index at {self.location} ({reason}); if another process "
                                 "rebuilt it, run the command again, else rebuild it with `rag ingest --rebuild`"
                                 ) from None

    # --- reads ----------------------------------------------------------------------------------------
    def count(self) -> int:
        return self._call("read", lambda: self.collection().count())

    def all_chunks(self, include_text: bool = True) -> list[StoredChunk]:
        col = self.collection()
        out: list[StoredChunk] = []
        total = col.count()
        include = ["metadatas", "documents"] if include_text else ["metadatas"]
        for offset in range(0, total, 5000):
            got = col.get(include=include, limit=5000, offset=offset)
            docs = got.get("documents") or [""] * len(got["ids"])
            for cid, doc, meta in zip(got["ids"], docs, got["metadatas"], strict=False):
                out.append(StoredChunk(cid, doc or "", dict(meta or {})))
        return out

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) best first."""
        if n <= 0:  # callers pass at most the collection's size: no count() round trip per query
            return []

        def run() -> Any:
            return self.collection().query(query_embeddings=[vector.tolist()], n_results=n, include=["distances"],
                                           where=where)

        res = self._call("search", run)
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0], strict=False)]

    def embeddings_for(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        got = self.collection().get(ids=list(ids), include=["embeddings"])
        return {cid: np.asarray(e, dtype=np.float32) for cid, e in zip(got["ids"], got["embeddings"],
                                                                      strict=False)}

    # --- writes ---------------------------------------------------------------------------------------
    def delete_papers(self, paper_ids: Iterable[str]) -> None:
        ids = list(paper_ids)
        col = self.collection()
        for start in range(0, len(ids), 200):
            col.delete(where={"paper_id": {"$in": ids[start:start + 200]}})

    def add(self, ids: list[str], vectors: np.ndarray, documents: list[str],
            metadatas: list[dict[str, Any]]) -> None:
        col = self.collection()
        for start in range(0, len(ids), BATCH):
            sl = slice(start, start + BATCH)
            col.upsert(ids=ids[sl], embeddings=vectors[sl].tolist(), documents=documents[sl],
                       metadatas=metadatas[sl])


def encode_meta(value: Any) -> str:
    """Chroma metadata holds scalars only; lists and records are stored as JSON text."""
    return json.dumps(value, ensure_ascii=False)
