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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from .errors import EmbeddingMismatchError, IndexLockedError, IndexMissingError, StoreError
from .settings import Settings
from .types import Chunk, Paper, Source

BATCH = 256  # Chroma's efficient add range is 50–250 (MACHINE.md); well under get_max_batch_size()
READ_PAGE = 5000  # chunks per get() when reading the whole collection
LOCK_NAME = ".rag.lock"
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredChunk:
    """One stored passage as the rest of the pipeline sees it (the Chroma metadata layout stays in here)."""

    chunk_id: str
    paper_id: str
    ordinal: int
    n_chunks: int  # how many chunks the paper has: a paper is complete when all of them are stored
    content_hash: str  # of everything indexed for the paper; a changed hash means re-embed it
    text: str = ""


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

    def open(self, create_for: tuple[str, int] | None = None) -> None:
        """Open the collection; with `create_for=(model, dim)` create it if missing, else it must exist
        (IndexMissingError names the command that builds it)."""
        if self._collection is not None:
            return
        try:
            col = self.client.get_collection(self.name, embedding_function=None)
        except Exception:
            if create_for is None:
                raise IndexMissingError(f"the index at {self.location} has no collection {self.name!r}; "
                                        "build it with `rag ingest`") from None
            model, dim = create_for
            try:
                col = self.client.create_collection(
                    self.name, embedding_function=None,
                    metadata={"hnsw:space": "cosine", "embed_model": model, "embed_dim": dim})
            except Exception as e:
                raise StoreError(f"could not create the collection {self.name!r} at {self.location} "
                                 f"({_one_line(e)})") from None
        self._collection = col

    def _col(self):  # type: ignore[no-untyped-def]
        self.open()
        return self._collection

    def model_info(self) -> tuple[str | None, int | None]:
        meta = self._call("read", lambda: self._col().metadata) or {}
        return meta.get("embed_model"), meta.get("embed_dim")

    def check_model(self, name: str, dim: int) -> None:
        stored, stored_dim = self.model_info()
        if stored is not None and (stored != name or (stored_dim and stored_dim != dim)):
            base, _, precision = str(stored).partition("@")
            other = f"set RAG_EMBED_PRECISION={precision or 'fp32'}" if base == name.partition("@")[0] \
                else "use the same model"
            raise EmbeddingMismatchError(
                f"the index at {self.location} was embedded with {stored!r} ({stored_dim} dims) but the "
                f"configured embedder is {name!r} ({dim} dims); re-embed it with `rag ingest --rebuild`, or "
                f"{other} to read it as it is")

    def drop(self) -> None:
        try:
            self.client.delete_collection(self.name)
        except Exception:
            pass
        self._collection = None

    def uid(self) -> str:
        """The collection's id: new whenever the collection is dropped and created again."""
        return str(self._call("read", lambda: self._col().id))

    def generation(self) -> int:
        """A number every ingest that changes the collection increases: readers reload when it moves, even
        when the chunk count stayed the same (an abstract edited in place)."""
        meta = self._call("read", lambda: self.client.get_collection(self.name, embedding_function=None).metadata)
        return int((meta or {}).get("generation", 0))

    def bump_generation(self) -> None:
        def bump() -> None:
            fresh = self.client.get_collection(self.name, embedding_function=None).metadata or {}
            # hnsw:* keys cannot be passed to modify (the distance is fixed at creation and kept).
            meta = {k: v for k, v in fresh.items() if not k.startswith("hnsw:")}
            meta["generation"] = int(meta.get("generation", 0)) + 1
            self._col().modify(metadata=meta)

        self._call("write", bump)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Every Chroma call goes through here: on failure reopen the collection and try once more (all our
        calls are reads or idempotent writes), then raise StoreError (a rebuilt or moved index, a server that
        went away) instead of Chroma's own exception."""
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
                raise StoreError(f"could not {what} the index at {self.location} ({_one_line(e)}); if another process "
                                 "rebuilt it, run the command again, else rebuild it with `rag ingest --rebuild`"
                                 ) from None

    # --- reads ----------------------------------------------------------------------------------------
    def count(self) -> int:
        return self._call("read", lambda: self._col().count())

    def _pages(self, include: list[str], where: dict | None = None
               ) -> list[tuple[str, str, dict[str, Any], np.ndarray | None]]:
        """(id, document, metadata, embedding if included) of every stored chunk (matching `where`), in pages."""
        out: list[tuple[str, str, dict[str, Any], np.ndarray | None]] = []
        offset = 0
        while True:
            got = self._call("read", lambda o=offset: self._col().get(
                include=include, limit=READ_PAGE, offset=o, where=where))
            ids = got["ids"]
            docs = got.get("documents") or [""] * len(ids)
            embs = got.get("embeddings")
            embs = [None] * len(ids) if embs is None else [np.asarray(e, dtype=np.float32) for e in embs]
            out.extend((cid, doc or "", dict(meta or {}), emb)
                       for cid, doc, meta, emb in zip(ids, docs, got["metadatas"], embs, strict=False))
            if len(ids) < READ_PAGE:
                return out
            offset += READ_PAGE

    def chunks(self, text: bool = True) -> list[StoredChunk]:
        """Every stored chunk (without its passage when `text` is False: cheaper, for change detection)."""
        rows = self._pages(["metadatas", "documents"] if text else ["metadatas"])
        return [_chunk(cid, doc, meta) for cid, doc, meta, _ in rows]

    def papers(self) -> dict[str, Paper]:
        """paper_id → the paper's record, read from its first chunk (which carries the paper's metadata)."""
        return {p.paper_id: p for _, _, meta, _ in self._pages(["metadatas"], where={"ordinal": 0})
                if (p := _paper(meta)) is not None}

    def contents(self, embeddings: bool = False
                 ) -> tuple[list[StoredChunk], dict[str, Paper], dict[str, np.ndarray] | None]:
        """Chunks, papers and (when asked) every chunk's embedding, in one pass over the collection (what the
        retrieval state is built from)."""
        chunks: list[StoredChunk] = []
        papers: dict[str, Paper] = {}
        vectors: dict[str, np.ndarray] | None = {} if embeddings else None
        for cid, doc, meta, emb in self._pages(["metadatas", "documents", *(["embeddings"] if embeddings else [])]):
            c = _chunk(cid, doc, meta)
            chunks.append(c)
            if c.ordinal == 0 and (p := _paper(meta)) is not None:
                papers[p.paper_id] = p
            if vectors is not None and emb is not None:
                vectors[cid] = emb
        return chunks, papers, vectors

    def query(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) best first."""
        if n <= 0:  # callers pass at most the collection's size: no count() round trip per query
            return []
        res = self._call("search", lambda: self._col().query(query_embeddings=[vector.tolist()], n_results=n,
                                                                   include=["distances"]))
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0], strict=False)]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        got = self._call("read", lambda: self._col().get(ids=list(ids), include=["embeddings"]))
        return {cid: np.asarray(e, dtype=np.float32) for cid, e in zip(got["ids"], got["embeddings"], strict=False)}

    # --- writes ---------------------------------------------------------------------------------------
    def delete_papers(self, paper_ids: Iterable[str]) -> None:
        ids = list(paper_ids)
        for start in range(0, len(ids), 200):
            part = ids[start:start + 200]
            self._call("write", lambda p=part: self._col().delete(where={"paper_id": {"$in": p}}))

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        if chunk_ids:
            self._call("write", lambda: self._col().delete(ids=list(chunk_ids)))

    def replace_papers(self, items: Sequence[tuple[Paper, str, Sequence[Chunk]]], vectors: np.ndarray) -> None:
        """Write papers' chunks (paper, content hash, its chunks in order; `vectors` row per chunk, same order),
        deleting whatever was stored for those papers first. A kill in between leaves these papers absent or
        incomplete, which the next ingest detects (hash/ordinal check) and repairs."""
        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict[str, Any]] = []
        for paper, h, chunks in items:
            for c in chunks:
                ids.append(c.chunk_id)
                docs.append(c.text)
                metas.append(_chunk_meta(paper, c.ordinal, len(chunks), h))
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} chunks but {len(vectors)} vectors")
        self.delete_papers([p.paper_id for p, _, _ in items])
        for start in range(0, len(ids), BATCH):
            sl = slice(start, start + BATCH)
            self._call("write", lambda sl=sl: self._col().upsert(
                ids=ids[sl], embeddings=vectors[sl].tolist(), documents=docs[sl], metadatas=metas[sl]))


# --- the metadata layout --------------------------------------------------------------------------------------
# Every chunk: paper_id, ordinal, n_chunks, hash. The first chunk (ordinal 0) also carries the paper's record
# (title, abstract, authors, dates, url, sources), so the collection alone can rebuild everything derived from
# it. Chroma metadata holds scalars only: lists and records are stored as JSON text.
_PAPER_SCALARS = ("n_authors", "date", "date_text", "upvotes", "url")


def _chunk_meta(paper: Paper, ordinal: int, n_chunks: int, h: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"paper_id": paper.paper_id, "ordinal": ordinal, "n_chunks": n_chunks, "hash": h}
    if ordinal == 0:
        meta.update(title=paper.title, abstract=paper.abstract, authors=json.dumps(paper.authors, ensure_ascii=False),
                    sources=json.dumps([asdict(s) for s in paper.sources], ensure_ascii=False))
        meta.update({k: v for k in _PAPER_SCALARS if (v := getattr(paper, k)) is not None})
    return meta


def _chunk(cid: str, doc: str, meta: dict[str, Any]) -> StoredChunk:
    return StoredChunk(cid, str(meta.get("paper_id", "")), int(meta.get("ordinal", -1)),
                       int(meta.get("n_chunks", -1)), str(meta.get("hash", "")), doc)


def _json_list(value: Any) -> list[Any]:
    try:
        out = json.loads(value) if isinstance(value, str) else []
    except ValueError:
        return []
    return out if isinstance(out, list) else []


def _paper(meta: dict[str, Any]) -> Paper | None:
    pid, title = meta.get("paper_id"), meta.get("title")
    if not pid or not isinstance(title, str):
        return None
    sources = [Source(**s) for s in _json_list(meta.get("sources"))
               if isinstance(s, dict) and set(s) == {"file", "line", "position"}]
    return Paper(str(pid), title, str(meta.get("abstract") or ""),
                 authors=[str(a) for a in _json_list(meta.get("authors"))], sources=sources,
                 **{k: meta[k] for k in _PAPER_SCALARS if k in meta})


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:160] or type(e).__name__
