"""Ingest into a real embedded Chroma with the real ONNX embedder: counts and ids of a full build, chunk
windows, incremental re-runs (no-op, one changed abstract, prune, rebuild), the embedding-model guard,
stats, the single-process lock and the `rag ingest` / `rag stats` commands."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import MODELS, RAW, ROOT, HashEmbedder, make_settings

from rag.chunking import chunk_paper, embed_text
from rag.corpus import load_corpus
from rag.embeddings import MAX_WORD_PIECES, count_word_pieces
from rag.engine import Engine
from rag.errors import EmbeddingMismatchError
from rag.ingest import ingest
from rag.store import Store, StoredChunk

FILE_A = "002_7335c34baaa52565.txt"  # 28 papers, 64 chunks
FILE_B = "004_20bd394549e6b690.txt"  # 51 papers; 6 of them also in FILE_A
ENTRIES_PER_FILE = {"000_aa4d3f6a74c89432.txt": 50, "001_73a58e01200afdf2.txt": 62, FILE_A: 28,
                    "003_56a069c51cadc210.txt": 100, FILE_B: 51}


# --- helpers ---------------------------------------------------------------------------------------------------

def source_name(path: Path) -> str:
    """How ingest names a source file: relative to the working directory when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def expected_chunks(paths: list[Path]) -> dict[str, str]:
    """chunk id → passage for a clean build of `paths`."""
    parsed = load_corpus(paths, root=Path.cwd())
    return {c.chunk_id: c.text for p in parsed.papers for c in chunk_paper(p)}


def read_index(settings) -> dict[str, StoredChunk]:
    with Store(settings) as store:
        chunks = store.chunks()
    ids = [c.chunk_id for c in chunks]
    assert len(ids) == len(set(ids)), "duplicate chunk ids in the store"
    return {c.chunk_id: c for c in chunks}


def copy_files(dst: Path, *names: str) -> list[Path]:
    dst.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(RAW / n, dst / n)) for n in names]


def run_cli(*args: str, index_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, RAG_INDEX_DIR=str(index_dir), RAG_MODEL_CACHE_DIR=str(MODELS))
    env.pop("RAG_CHROMA_URL", None)
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def full_expected() -> dict[str, str]:
    return expected_chunks([RAW])


@pytest.fixture(scope="module")
def full_index(corpus_index) -> dict[str, StoredChunk]:
    return read_index(make_settings(corpus_index))


@pytest.fixture
def small(tmp_path):
    """FILE_A copied to tmp and ingested once; yields (settings, path of the copy, first report)."""
    [src] = copy_files(tmp_path / "src", FILE_A)
    settings = make_settings(tmp_path / "small")
    report = ingest(settings, [src], progress=False)
    return settings, src, report


# --- the full corpus --------------------------------------------------------------------------------------------
def test_ingest__full_corpus_chunks_match_chunker(full_index, full_expected):
    assert len(full_expected) == 539
    assert sorted(full_index) == sorted(full_expected)
    assert {cid: c.text for cid, c in full_index.items()} == full_expected
    papers = {c.paper_id for c in full_index.values()}
    assert len(papers) == 250


def test_ingest__chunk_ids_are_paper_id_and_ordinal(full_index):
    by_paper: dict[str, list[int]] = defaultdict(list)
    for cid, c in full_index.items():
        assert cid == f"{c.paper_id}#{c.ordinal}"
        by_paper[c.paper_id].append(c.ordinal)
    for pid, ords in by_paper.items():
        assert sorted(ords) == list(range(len(ords))), pid
        assert {full_index[f"{pid}#{o}"].n_chunks for o in ords} == {len(ords)}


def test_ingest__every_chunk_fits_the_embedder_window_and_carries_the_title(full_index):
    parsed = load_corpus([RAW])
    for paper in parsed.papers:
        for chunk in chunk_paper(paper):
            assert chunk.embed_text == f"{paper.title}\n{chunk.text}"
            assert count_word_pieces(chunk.embed_text) <= MAX_WORD_PIECES, chunk.chunk_id
    titles = {p.paper_id: p.title for p in parsed.papers}
    for cid, c in full_index.items():
        assert count_word_pieces(embed_text(titles[c.paper_id], c.text)) <= MAX_WORD_PIECES, cid


def test_ingest__stored_vectors_embed_title_plus_passage(corpus_index, full_index):
    from rag.embeddings import get_embedder

    settings = make_settings(corpus_index)
    sample = sorted(full_index)[::50]
    with Store(settings) as store:
        stored = store.vectors(sample)
        titles = {pid: p.title for pid, p in store.papers().items()}
    texts = [embed_text(titles[full_index[cid].paper_id], full_index[cid].text) for cid in sample]
    fresh = get_embedder(settings).embed(texts)
    for cid, v in zip(sample, fresh, strict=True):
        assert float(stored[cid] @ v) > 0.999, cid


def test_ingest__noop_rerun_of_full_corpus_copy_reports_every_paper_unchanged(corpus_index, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(corpus_index, copy)
    report = ingest(make_settings(copy), progress=False)
    assert (report.entries, report.papers, report.unchanged) == (291, 250, 250)
    assert (report.new, report.updated, report.removed, report.chunks_written) == (0, 0, 0, 0)
    assert report.warnings == []
    assert report.files == [source_name(RAW / n) for n in sorted(ENTRIES_PER_FILE)]


def test_engine__stats_of_full_corpus(corpus_index):
    with Engine(make_settings(corpus_index), auto_ingest=False) as engine:
        stats = engine.stats()
    assert stats == {
        "papers": 250, "chunks": 539, "sources": 5,
        "source_files": {source_name(RAW / n): k for n, k in sorted(ENTRIES_PER_FILE.items())},
        "embedding_model": "all-MiniLM-L6-v2@int8", "embedding_dim": 384, "embedder_backend": "onnx",
        "index": str(corpus_index), "backend": "embedded", "collection": "papers",
    }


# --- incremental re-runs -------------------------------------------------------------------------------------
def test_ingest__small_first_run_writes_every_chunk(small):
    settings, src, report = small
    expected = expected_chunks([src])
    assert len(expected) == 64
    assert (report.entries, report.papers, report.new, report.updated, report.unchanged) == (28, 28, 28, 0, 0)
    assert report.chunks_written == 64
    assert report.files == [source_name(src)]
    assert {cid: c.text for cid, c in read_index(settings).items()} == expected


def test_ingest__noop_rerun_writes_nothing(small):
    settings, src, _ = small
    before = read_index(settings)
    report = ingest(settings, [src], progress=False)
    assert (report.new, report.updated, report.unchanged, report.removed) == (0, 0, 28, 0)
    assert report.chunks_written == 0
    after = read_index(settings)
    assert {k: c for k, c in after.items()} == {k: c for k, c in before.items()}


def test_ingest__changed_abstract_rewrites_only_that_paper(small):
    settings, src, _ = small
    before = read_index(settings)
    parsed = load_corpus([src], root=Path.cwd())
    # A paper with several chunks whose new, shorter abstract has one: stale ordinals must disappear.
    paper = next(p for p in parsed.papers if len(chunk_paper(p)) >= 2)
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    title_idx = paper.sources[0].line - 1
    abs_idx = next(i for i in range(title_idx + 1, len(lines)) if lines[i].strip())
    assert " ".join(lines[abs_idx].split()) == paper.abstract
    edited = paper.abstract.split(". ")[0] + ". We also report the ZEBRA-CROSSING ablation on every benchmark."
    lines[abs_idx] = edited + "\n"
    src.write_text("".join(lines), encoding="utf-8")

    [new_paper] = [p for p in load_corpus([src], root=Path.cwd()).papers if p.paper_id == paper.paper_id]
    new_chunks = chunk_paper(new_paper)
    assert len(new_chunks) < len(chunk_paper(paper))

    report = ingest(settings, [src], progress=False)
    assert (report.new, report.updated, report.unchanged, report.removed) == (0, 1, 27, 0)
    assert report.chunks_written == len(new_chunks)

    after = read_index(settings)
    others_before = {k: c for k, c in before.items() if c.paper_id != paper.paper_id}
    others_after = {k: c for k, c in after.items() if c.paper_id != paper.paper_id}
    assert others_after == others_before
    mine = {k: c for k, c in after.items() if c.paper_id == paper.paper_id}
    assert sorted(mine) == sorted(c.chunk_id for c in new_chunks)
    assert "ZEBRA-CROSSING ablation" in " ".join(mine[c.chunk_id].text for c in new_chunks)
    assert {c.n_chunks for c in mine.values()} == {len(new_chunks)}
    assert after.keys() == expected_chunks([src]).keys()


def test_ingest__prune_removes_papers_whose_source_is_gone(tmp_path):
    a, b = copy_files(tmp_path / "src", FILE_A, FILE_B)
    settings = make_settings(tmp_path / "idx")
    ids_a = {p.paper_id for p in load_corpus([a]).papers}
    ids_b = {p.paper_id for p in load_corpus([b]).papers}
    assert (len(ids_a), len(ids_b), len(ids_a & ids_b)) == (28, 51, 6)

    first = ingest(settings, [a, b], progress=False)
    assert (first.entries, first.papers, first.new) == (79, 73, 73)

    # Without --prune nothing goes; the 6 shared papers lost a source, so they are rewritten.
    kept = ingest(settings, [a], progress=False)
    assert (kept.new, kept.updated, kept.unchanged, kept.removed) == (0, 6, 22, 0)
    assert {c.paper_id for c in read_index(settings).values()} == ids_a | ids_b

    pruned = ingest(settings, [a], prune=True, progress=False)
    assert (pruned.new, pruned.updated, pruned.unchanged, pruned.chunks_written) == (0, 0, 28, 0)
    assert pruned.removed == len(ids_b - ids_a) == 45
    after = read_index(settings)
    assert {c.paper_id for c in after.values()} == ids_a
    assert {k: c.text for k, c in after.items()} == expected_chunks([a])


def test_ingest__rebuild_starts_over(small):
    settings, src, _ = small
    before = read_index(settings)
    report = ingest(settings, [src], rebuild=True, progress=False)
    assert (report.new, report.updated, report.unchanged, report.removed) == (28, 0, 0, 0)
    assert report.chunks_written == 64
    after = read_index(settings)
    assert {k: c for k, c in after.items()} == {k: c for k, c in before.items()}


def test_ingest__other_embedding_model_is_refused_until_rebuild(small):
    settings, src, _ = small
    with pytest.raises(EmbeddingMismatchError) as err:
        ingest(settings, [src], embedder=HashEmbedder("other-model"), progress=False)
    msg = str(err.value)
    assert "'all-MiniLM-L6-v2@int8'" in msg and "'other-model'" in msg and "`rag ingest --rebuild`" in msg
    assert "RAG_EMBED_PRECISION" not in msg  # another model altogether: no precision would read it
    assert "\n" not in msg

    with Engine(settings, embedder=HashEmbedder("other-model"), auto_ingest=False) as engine:
        with pytest.raises(EmbeddingMismatchError):
            engine.stats()

    with Store(settings) as store:  # the refused run changed nothing
        assert store.model_info() == ("all-MiniLM-L6-v2@int8", 384)
        assert store.count() == 64

    report = ingest(settings, [src], embedder=HashEmbedder("other-model"), rebuild=True, progress=False)
    assert (report.new, report.chunks_written) == (28, 64)
    with Store(settings) as store:
        assert store.model_info() == ("other-model", 384)
        assert store.count() == 64


# --- the lock and the CLI ------------------------------------------------------------------------------------
def test_store__second_process_gets_clear_lock_error(small):
    settings, _, _ = small
    with Store(settings):
        proc = run_cli("stats", index_dir=settings.index_dir, timeout=60)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == ""
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert "in use by another process" in line and "RAG_CHROMA_URL" in line
    assert f"(pid {os.getpid()})" in line

    # Released: the next process can read it.
    proc = run_cli("stats", "--json", index_dir=settings.index_dir, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["chunks"] == 64


def test_cli__ingest_json_then_stats_json(tmp_path):
    [src] = copy_files(tmp_path / "src", FILE_A)
    index = tmp_path / "idx"
    proc = run_cli("ingest", str(src.parent), "--json", index_dir=index)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert isinstance(report.pop("seconds"), float)
    assert report == {"entries": 28, "papers": 28, "new": 28, "updated": 0, "unchanged": 0, "removed": 0,
                      "chunks_written": 64, "warnings": [], "files": [str(src)]}

    proc = run_cli("stats", "--json", index_dir=index)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "papers": 28, "chunks": 64, "sources": 1, "source_files": {str(src): 28},
        "embedding_model": "all-MiniLM-L6-v2@int8", "embedding_dim": 384, "embedder_backend": "onnx",
        "index": str(index), "backend": "embedded", "collection": "papers",
    }


def test_cli__ingest_of_nothing_readable_is_one_line_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    index = tmp_path / "idx"
    proc = run_cli("ingest", str(empty), index_dir=index)
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"warning: {empty}: file is empty; skipped", f"error: no papers could be read from {empty}"]
    assert not (index / "chroma.sqlite3").exists()


def test_cli__bad_file_warns_by_line_and_good_file_is_indexed(tmp_path):
    [good] = copy_files(tmp_path / "src", FILE_A)
    bad = tmp_path / "src" / "bad.jsonl"
    bad.write_text('{"title": "Broken\n{"title": "No abstract here"}\n[1, 2]\n', encoding="utf-8")
    index = tmp_path / "idx"
    proc = run_cli("ingest", str(bad), str(good), "-q", index_dir=index)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning: ")]
    assert [w.split(": ", 2)[1] for w in warnings] == [f"{bad}:1", f"{bad}:2", f"{bad}:3"]
    assert proc.stdout.startswith("read 28 entries → 28 papers from 1 files; 28 new, 0 updated, 0 unchanged, "
                                  "0 removed; 64 chunks embedded in ")
    assert proc.stdout.rstrip().endswith("; 3 warnings")

    stats = json.loads(run_cli("stats", "--json", index_dir=index).stdout)
    assert (stats["papers"], stats["chunks"], stats["source_files"]) == (28, 64, {str(good): 28})



def test_ingest__other_precision_is_a_clear_error_naming_the_rebuild(small):
    """An index embedded at int8 (the default) opened at fp32, and back: one line naming `rag ingest --rebuild` and
    the precision that reads it as it is; nothing is written until the rebuild, which re-embeds every chunk."""
    settings, src, _ = small
    fp32 = settings.model_copy(update={"embed_precision": "fp32"})
    with pytest.raises(EmbeddingMismatchError) as err:
        ingest(fp32, [src], progress=False)
    msg = str(err.value)
    assert msg == (f"the index at {settings.index_dir} was embedded with 'all-MiniLM-L6-v2@int8' (384 dims) but "
                   "the configured embedder is 'all-MiniLM-L6-v2' (384 dims); re-embed it with `rag ingest "
                   "--rebuild`, or set RAG_EMBED_PRECISION=int8 to read it as it is")
    with Engine(fp32, auto_ingest=False) as engine, pytest.raises(EmbeddingMismatchError):
        engine.search("diffusion", k=3)

    report = ingest(fp32, [src], rebuild=True, progress=False)
    assert (report.new, report.chunks_written) == (28, 64)
    with Store(fp32) as store:
        assert store.model_info() == ("all-MiniLM-L6-v2", 384)
    assert ingest(fp32, [src], progress=False).chunks_written == 0
    with pytest.raises(EmbeddingMismatchError, match=r"set RAG_EMBED_PRECISION=fp32 to read it as it is$"):
        ingest(settings, [src], progress=False)


def test_ingest__small_windows_give_the_same_index_and_a_noop_rerun(tmp_path, small):
    """ingest_window bounds memory: windows of 10 chunks (6 windows here) store exactly what one window stores."""
    settings, src, _ = small
    windowed = make_settings(tmp_path / "windowed", ingest_window=10)
    report = ingest(windowed, [src], progress=False)
    assert (report.new, report.chunks_written) == (28, 64)
    one, many = read_index(settings), read_index(windowed)
    assert many == one
    with Store(settings) as a, Store(windowed) as b:
        ids = sorted(one)
        va, vb = a.vectors(ids), b.vectors(ids)
    assert all(float(va[i] @ vb[i]) > 0.9999 for i in ids)
    again = ingest(windowed, [src], progress=False)
    assert (again.unchanged, again.chunks_written) == (28, 0)
