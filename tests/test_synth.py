"""The synthetic corpus for scale benchmarks: deterministic, every paper survives `rag ingest`'s parsing and
title merge, and abstracts are made of real sentences with realistic lengths."""

from __future__ import annotations

from eval.synth import generate, load_pool, split_sentences, write_jsonl
from rag.corpus import load_corpus


def test_generate_is_deterministic_and_loads_back_unmerged(tmp_path):
    papers = generate(300, seed=7)
    assert [p.title for p in papers] == [p.title for p in generate(300, seed=7)]
    assert [p.title for p in papers] != [p.title for p in generate(300, seed=8)]
    out = tmp_path / "synth.jsonl"
    write_jsonl(papers, out)
    loaded = load_corpus([out])
    assert len(loaded.papers) == 300 and not loaded.warnings
    assert {p.title for p in loaded.papers} == {p.title for p in papers}


def test_abstracts_are_real_sentences_with_real_lengths():
    pool = load_pool()
    real = set(pool.sentences)
    papers = generate(200, seed=1)
    for p in papers:
        sentences = split_sentences(p.abstract)
        assert sentences and all(s in real for s in sentences), p.abstract[:120]
    lengths = sorted(len(split_sentences(p.abstract)) for p in papers)
    assert 3 <= lengths[len(lengths) // 2] <= 12  # median sentences per abstract, as in the real dumps
