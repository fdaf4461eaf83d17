"""The two local embedder backends are interchangeable: the ONNX export (the default, no torch import) gives the
same vectors and the same rankings as the sentence-transformers reference, and `auto` falls back to
sentence-transformers when onnxruntime cannot be imported."""

from __future__ import annotations

import builtins
import json

import numpy as np
import pytest
from conftest import RAW, ROOT, make_settings

from rag import embeddings
from rag.chunking import chunk_paper
from rag.corpus import load_corpus
from rag.embeddings import MAX_WORD_PIECES, OnnxMiniLM, SentenceTransformerMiniLM, count_word_pieces, get_embedder

QUESTIONS = ROOT / "eval" / "questions.jsonl"


@pytest.fixture(scope="module")
def papers():
    papers = load_corpus([RAW], root=RAW).papers
    assert len(papers) > 100
    return sorted(papers, key=lambda p: p.paper_id)


@pytest.fixture(scope="module")
def onnx(tmp_path_factory):
    emb = get_embedder(make_settings(tmp_path_factory.mktemp("idx"), embed_backend="onnx"))
    assert isinstance(emb, OnnxMiniLM)
    return emb


@pytest.fixture(scope="module")
def st(tmp_path_factory):
    emb = get_embedder(make_settings(tmp_path_factory.mktemp("idx"), embed_backend="sentence-transformers"))
    assert isinstance(emb, SentenceTransformerMiniLM)
    return emb


def sample_texts(papers) -> list[str]:
    """~30 real texts: titles, title+passage chunks, whole abstracts; one over the 256 word-piece window
    (both backends must truncate it the same way) and a few very short ones."""
    step = max(1, len(papers) // 10)
    picked = papers[::step][:10]
    texts = [p.title for p in picked]
    texts += [chunk_paper(p)[0].embed_text for p in picked]
    texts += [p.abstract for p in picked[:6]]
    long = " ".join(p.abstract for p in picked[:4])
    assert count_word_pieces(long) > MAX_WORD_PIECES
    texts += [long, "GAN", "attention", "Which paper prunes networks at initialization?"]
    return texts


def test_backends_give_the_same_vectors(papers, onnx, st):
    texts = sample_texts(papers)
    assert len(texts) >= 30
    a, b = onnx.embed(texts), st.embed(texts)
    assert a.shape == b.shape == (len(texts), 384)
    assert a.dtype == b.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    cos = (a * b).sum(axis=1)
    worst = int(cos.argmin())
    assert cos.min() >= 0.999, f"cosine {cos.min():.5f} for {texts[worst][:80]!r}"


def test_batching_and_order_do_not_change_vectors(papers, onnx):
    """ONNX sorts by length and pads per batch: a text's vector must not depend on its neighbours."""
    texts = sample_texts(papers)
    together = onnx.embed(texts)
    alone = np.vstack([onnx.embed([t]) for t in texts[::7]])
    np.testing.assert_allclose(together[::7], alone, atol=1e-5)
    assert onnx.embed([]).shape == (0, 384)


def test_backends_rank_chunks_the_same(papers, onnx, st):
    """For 20 real questions, the top-5 chunks by cosine among the chunks of 40 papers are the same."""
    step = max(1, len(papers) // 40)
    chunks = [c for p in papers[::step][:40] for c in chunk_paper(p)]
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    questions = questions[::max(1, len(questions) // 20)][:20]
    assert len(questions) == 20 and len(chunks) >= 40
    texts = [c.embed_text for c in chunks]
    ids = [c.chunk_id for c in chunks]
    ca, cb = onnx.embed(texts), st.embed(texts)
    qa, qb = onnx.embed(questions), st.embed(questions)
    sa, sb = qa @ ca.T, qb @ cb.T
    for i, q in enumerate(questions):
        top_a = [ids[j] for j in np.argsort(-sa[i])[:5]]
        top_b = [ids[j] for j in np.argsort(-sb[i])[:5]]
        # A near-tie (scores within 1e-3) may swap two neighbours; anything else is a real difference.
        if top_a != top_b:
            ra = sorted(sa[i], reverse=True)
            assert set(top_a) == set(top_b) and min(np.diff(ra[:6]) * -1) < 1e-3, (q, top_a, top_b)


def test_auto_prefers_onnx(tmp_path, onnx):
    emb = get_embedder(make_settings(tmp_path))  # embed_backend defaults to auto
    assert emb.backend == "onnx"
    assert isinstance(emb, OnnxMiniLM)
    assert emb.name == embeddings.LOCAL_MODEL and emb.dim == 384


def _block_onnxruntime(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "onnxruntime" or name.startswith("onnxruntime."):
            raise ImportError("No module named 'onnxruntime' (blocked by test)")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.setattr(embeddings, "_cache", {})  # get_embedder keeps one instance per configuration


def test_auto_falls_back_to_sentence_transformers(tmp_path, monkeypatch, papers, onnx, st, caplog):
    _block_onnxruntime(monkeypatch)
    with caplog.at_level("WARNING", logger="rag.embeddings"):
        emb = get_embedder(make_settings(tmp_path))
    assert isinstance(emb, SentenceTransformerMiniLM)
    assert emb.backend == "sentence-transformers" and emb.name == onnx.name and emb.dim == onnx.dim
    assert "onnxruntime unavailable" in caplog.text
    texts = sample_texts(papers)[:12]
    cos = (emb.embed(texts) * onnx.embed(texts)).sum(axis=1)
    assert cos.min() >= 0.999


def test_explicit_onnx_without_onnxruntime_is_a_config_error(tmp_path, monkeypatch):
    from rag.errors import ConfigError

    _block_onnxruntime(monkeypatch)
    with pytest.raises(ConfigError, match="ONNX backend unavailable"):
        get_embedder(make_settings(tmp_path, embed_backend="onnx"))


def test_auto_falls_back_when_the_onnx_export_fails(tmp_path, monkeypatch, caplog):
    """onnxruntime installed but the export cannot be written (read-only model cache, say): auto still works."""
    from rag.errors import ConfigError

    def broken_export(model_path, cache_dir):
        raise PermissionError(f"[Errno 13] Permission denied: '{cache_dir}'")

    monkeypatch.setattr(embeddings, "export_onnx", broken_export)
    monkeypatch.setattr(embeddings, "_cache", {})
    with caplog.at_level("WARNING", logger="rag.embeddings"):
        emb = get_embedder(make_settings(tmp_path))
    assert emb.backend == "sentence-transformers"
    assert "ONNX embedder failed (PermissionError" in caplog.text
    with pytest.raises(ConfigError, match="ONNX backend failed: PermissionError"):
        get_embedder(make_settings(tmp_path, embed_backend="onnx"))
