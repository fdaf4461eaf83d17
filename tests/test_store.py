"""Store reliability: a running engine sees an abstract edited in place by a later ingest (same chunk count),
and Chroma failures become one StoreError after a single retry instead of a library traceback."""

from __future__ import annotations

import json

import pytest

from rag.engine import Engine
from rag.errors import StoreError
from rag.ingest import ingest
from tests.conftest import make_settings

P1 = "Colouring Planar Graphs with Message Passing"
OLD = ("We study graph colouring with message passing networks on random planar graphs. The network learns a "
       "greedy policy that colours vertices one at a time.")
NEW = ("We study protein folding with diffusion models on cryo-electron microscopy maps. The model denoises "
       "backbone frames and recovers folds that homology search misses.")


def write(path, abstract: str) -> None:
    rows = [{"id": "p1", "title": P1, "abstract": abstract},
            {"id": "p2", "title": "Sparse Attention for Long Documents", "abstract":
             "Sparse attention patterns let transformers read documents of many thousand tokens at linear cost."}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def small_engine(tmp_path):
    src = tmp_path / "papers.jsonl"
    write(src, OLD)
    settings = make_settings(tmp_path / "index")
    ingest(settings, [src], progress=False)
    eng = Engine(settings, auto_ingest=False)
    yield eng, settings, src
    eng.close()


def test_abstract_edited_in_place_is_seen_without_restart(small_engine):
    eng, settings, src = small_engine
    before = eng.search("graph colouring", k=1)[0]
    assert before.title == P1 and "greedy policy" in before.text
    gen = eng.store().generation()
    write(src, NEW)
    report = ingest(settings, [src], progress=False, embedder=eng.embedder)  # another writer, same chunk count
    assert (report.updated, report.chunks_written) == (1, 1)
    assert eng.store().count() == eng.searcher.state.count  # the count alone would not reveal the change
    assert eng.store().generation() == gen + 1
    after = eng.search("protein folding diffusion", k=1)[0]
    assert after.title == P1 and "cryo-electron" in after.text and "greedy" not in after.text


def test_noop_ingest_keeps_the_generation(small_engine):
    eng, settings, src = small_engine
    gen = eng.store().generation()
    assert ingest(settings, [src], progress=False, embedder=eng.embedder).chunks_written == 0
    assert eng.store().generation() == gen


class FlakyCollection:
    def __init__(self, real, failures: int):
        self.real, self.failures, self.calls = real, failures, 0

    def count(self):
        return self.real.count()

    def query(self, **kw):
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("Error creating hnsw segment reader: Nothing found on disk")
        return self.real.query(**kw)


@pytest.mark.parametrize("failures", [1, 2])
def test_chroma_query_failure_is_retried_once_then_a_store_error(small_engine, failures, monkeypatch):
    eng, _, _ = small_engine
    # searched through Chroma's HNSW index (a small collection is otherwise searched exactly, in memory)
    eng.settings = eng.settings.model_copy(update={"exact_search_max_chunks": 0})
    eng.search("graph colouring", k=1)  # load the searcher
    assert eng.searcher.state.vectors is None
    store = eng.store()
    flaky = FlakyCollection(store._col(), failures)
    reopened = []

    def collection(*a, **kw):
        if store._collection is None:
            reopened.append(True)
        store._collection = flaky
        return flaky

    monkeypatch.setattr(store, "_col", collection)
    if failures == 1:
        assert eng.search("graph colouring", k=1)[0].title == P1
        assert flaky.calls == 2 and reopened == [True]
    else:
        with pytest.raises(StoreError) as err:
            eng.search("graph colouring", k=1)
        msg = str(err.value)
        assert msg.startswith(f"could not search the index at {store.location} (Error creating hnsw segment")
        assert "rag ingest --rebuild" in msg and "\n" not in msg
        assert flaky.calls == 2


def test_retrieval_snapshot_is_reused_by_a_new_engine_and_never_when_stale(small_engine, caplog):
    eng, settings, src = small_engine
    first = [h.to_dict() for h in eng.search("graph colouring", k=2)]
    assert eng.searcher.loaded_from_snapshot is False  # built, then saved
    snapshots = list((settings.index_dir / "snapshots").glob("*.pkl"))
    assert len(snapshots) == 1
    eng.close()
    again = Engine(settings, auto_ingest=False)
    assert [h.to_dict() for h in again.search("graph colouring", k=2)] == first
    assert again.searcher.loaded_from_snapshot is True
    again.close()

    snapshots[0].write_bytes(b"not a pickle")  # a damaged file is rebuilt, with a warning
    damaged = Engine(settings, auto_ingest=False)
    assert [h.to_dict() for h in damaged.search("graph colouring", k=2)] == first
    assert damaged.searcher.loaded_from_snapshot is False and "ignoring the retrieval snapshot" in caplog.text
    damaged.close()

    write(src, NEW)  # a changed collection (same chunk count) never reuses the old snapshot
    ingest(settings, [src], progress=False)
    changed = Engine(settings, auto_ingest=False)
    assert "cryo-electron" in changed.search("protein folding", k=1)[0].text
    assert changed.searcher.loaded_from_snapshot is False
    changed.close()

    ingest(settings, [src], rebuild=True, progress=False)  # a rebuilt collection has a new id
    rebuilt = Engine(settings, auto_ingest=False)
    assert rebuilt.search("protein folding", k=1)[0].title == P1
    assert rebuilt.searcher.loaded_from_snapshot is False
    rebuilt.close()
    remaining = list((settings.index_dir / "snapshots").glob("*.pkl"))  # the old collection's one is gone
    assert len(remaining) == 1 and remaining[0] != snapshots[0]


def test_server_mode_reloads_in_the_background_while_searches_go_on(chroma_server, tmp_path):
    src = tmp_path / "papers.jsonl"
    write(src, OLD)
    settings = make_settings(tmp_path / "cache", chroma_url=chroma_server, collection=f"bg_{tmp_path.name[-20:]}",
                             refresh_seconds=0)
    ingest(settings, [src], progress=False)
    eng = Engine(settings, auto_ingest=False)
    try:
        r = eng.searcher
        assert "greedy policy" in eng.search("graph colouring", k=1)[0].text
        write(src, NEW)
        ingest(settings, [src], progress=False, embedder=eng.embedder)
        old_generation = r.state.generation
        r.refresh_if_changed()  # sees the change, starts a reload and returns at once
        reloader = r._reloader
        assert reloader is not None and reloader.name == "rag-retriever-reload"
        reloader.join(60)
        assert r.state.generation == old_generation + 1
        assert "cryo-electron" in eng.search("protein folding", k=1)[0].text
    finally:
        eng.close()
