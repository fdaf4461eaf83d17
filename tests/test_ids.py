"""The user's own ids: a JSONL / CSV `id`, a BEIR `_id` or an arXiv id is the paper id exactly, through parsing,
merging, the index, `Engine.search` and `rag search --json`; ids made from titles only when a row gives none."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import MODELS, VENV_BIN, make_settings

from rag.corpus import MAX_ID_CHARS, load_corpus, paper_id_for

ABS = "An abstract long enough to be one, about {topic}, with several words in it. " * 2


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def ids_and_titles(r) -> list[tuple[str, str]]:
    return [(p.paper_id, p.title) for p in r.papers]


def test_ids__jsonl_csv_beir_and_numeric_ids_are_kept_exactly(tmp_path):
    jsonl(tmp_path / "a.jsonl", [
        {"id": "doc/7 #x ü", "title": "Odd Characters", "abstract": ABS.format(topic="odd")},
        {"id": 42, "title": "Numeric", "abstract": ABS.format(topic="numbers")},
        {"id": "  padded\t\x00id  ", "title": "Padded", "abstract": ABS.format(topic="padding")},
        {"id": "2101.00001", "title": "An arXiv Paper", "abstract": ABS.format(topic="arxiv")},
    ])
    (tmp_path / "b.csv").write_text('id,title,abstract\nCSV-1,"From CSV","' + ABS.format(topic="csv") + '"\n')
    jsonl(tmp_path / "corpus.jsonl", [{"_id": "4983", "title": "From BEIR", "text": ABS.format(topic="beir")}])
    r = load_corpus([tmp_path])
    assert r.warnings == []
    assert sorted(ids_and_titles(r)) == sorted([
        ("doc/7 #x ü", "Odd Characters"), ("42", "Numeric"), ("paddedid", "Padded"),
        ("2101.00001", "An arXiv Paper"), ("CSV-1", "From CSV"), ("4983", "From BEIR")])
    arxiv = next(p for p in r.papers if p.paper_id == "2101.00001")
    assert arxiv.url == "https://arxiv.org/abs/2101.00001"  # the arXiv link is still derived from the id
    assert next(p for p in r.papers if p.paper_id == "4983").abstract.startswith("An abstract long enough")


def test_ids__title_ids_only_when_no_usable_id_is_given(tmp_path):
    f = jsonl(tmp_path / "a.jsonl", [
        {"title": "No Id", "abstract": ABS.format(topic="a")},
        {"id": "", "title": "Empty Id", "abstract": ABS.format(topic="b")},
        {"id": "x" * (MAX_ID_CHARS + 1), "title": "Long Id", "abstract": ABS.format(topic="c")},
        {"id": 1.5, "title": "Float Id", "abstract": ABS.format(topic="d")},
    ])
    r = load_corpus([f])
    assert ids_and_titles(r) == [(paper_id_for(t), t) for t in ("No Id", "Empty Id", "Long Id", "Float Id")]
    assert r.warnings == [
        f"{f}:3: 'id' is {MAX_ID_CHARS + 1} characters (max {MAX_ID_CHARS}); the paper gets an id made from "
        "its title",
        f"{f}:4: 'id' is float, not text or a whole number; the paper gets an id made from its title"]


def test_ids__rows_with_one_id_are_one_paper(tmp_path):
    jsonl(tmp_path / "a.jsonl", [{"id": "p1", "title": "First Copy", "abstract": ABS.format(topic="short"),
                                  "date": "2024-01-02"}])
    jsonl(tmp_path / "b.jsonl", [{"id": "p1", "title": "First copy!", "abstract": ABS.format(topic="a longer one"),
                                  "url": "http://p1", "authors": ["Ann"]}])
    r = load_corpus([tmp_path])
    [p] = r.papers
    assert (p.paper_id, p.title, p.date, p.url, p.authors) == ("p1", "First Copy", "2024-01-02", "http://p1", ["Ann"])
    assert "a longer one" in p.abstract
    assert [(s.file.rsplit("/", 1)[1], s.line) for s in p.sources] == [("a.jsonl", 1), ("b.jsonl", 1)]


def test_ids__different_ids_with_one_title_stay_two_papers(tmp_path):
    f = jsonl(tmp_path / "a.jsonl", [{"_id": "1", "title": "Summary", "text": ABS.format(topic="one")},
                                     {"_id": "2", "title": "Summary", "text": ABS.format(topic="two")},
                                     {"title": "summary", "abstract": ABS.format(topic="no id")}])
    r = load_corpus([f])
    assert ids_and_titles(r) == [("1", "Summary"), ("2", "Summary")]
    assert [len(p.sources) for p in r.papers] == [2, 1]  # the title-only row joins the first paper of its title


def test_ids__an_id_row_and_title_only_rows_of_one_title_merge_and_the_id_wins(tmp_path):
    for order in ((0, 1, 2), (1, 0, 2), (1, 2, 0)):
        rows = [{"id": "given-7", "title": "Same Paper", "abstract": ABS.format(topic="id")},
                {"title": "Same  paper", "abstract": ABS.format(topic="no id"), "date": "2020-05-06"},
                {"title": "SAME PAPER", "abstract": ABS.format(topic="no id again")}]
        r = load_corpus([jsonl(tmp_path / "a.jsonl", [rows[i] for i in order])])
        [p] = r.papers
        assert p.paper_id == "given-7" and p.date == "2020-05-06" and len(p.sources) == 3, order


def test_ids__beir_row_with_empty_title_is_kept_and_titled_by_its_first_words(tmp_path):
    text = "Alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron. " * 3
    f = jsonl(tmp_path / "corpus.jsonl", [{"_id": "9", "title": "", "text": text},
                                          {"_id": "10", "title": " ", "text": "Short text only here and there " * 4},
                                          {"title": "", "text": text}])
    r = load_corpus([f])
    assert ids_and_titles(r) == [("9", "Alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu …"),
                                 ("10", "Short text only here and there Short text only here and there …")]
    assert r.warnings == [f"{f}:3: record has no 'title'; skipped"]  # no id and no title: nothing names it


def beir_folder(root: Path) -> Path:
    root.mkdir(parents=True)
    jsonl(root / "corpus.jsonl", [{"_id": "d1", "title": "Doc One", "text": ABS.format(topic="one")},
                                  {"_id": "d2", "title": "Doc Two", "text": ABS.format(topic="two")}])
    jsonl(root / "queries.jsonl", [{"_id": "q1", "text": "A claim about one."}, {"_id": "q2", "text": "Two."}])
    (root / "qrels").mkdir()
    (root / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    return root


def test_ingest_paths__beir_folder_reads_only_its_corpus(tmp_path):
    beir = beir_folder(tmp_path / "data" / "scifact")
    jsonl(tmp_path / "data" / "mine.jsonl", [{"id": "m1", "title": "Mine", "abstract": ABS.format(topic="m")}])
    for path, want in ((beir, ["d1", "d2"]), (beir / "corpus.jsonl", ["d1", "d2"]),
                       (tmp_path / "data", ["m1", "d1", "d2"])):
        r = load_corpus([path])
        assert (r.warnings, sorted(p.paper_id for p in r.papers)) == ([], sorted(want)), path
        assert all(not f.endswith("queries.jsonl") for f in r.files)


PAPERS = [
    {"id": "W-1/α #1", "title": "Graph neural networks for molecules",
     "abstract": "We predict molecular properties with message passing graph neural networks over atoms and bonds. "
                 "The model beats fingerprints on quantum chemistry benchmarks."},
    {"id": 1234, "title": "Protein folding with attention",
     "abstract": "An attention based network predicts protein structures from amino acid sequences. It reaches "
                 "atomic accuracy on most targets of the structure prediction assessment."},
    {"title": "Wind turbines and birds",
     "abstract": "We count bird collisions at wind farms over ten years and relate them to turbine height, blade "
                 "speed and the season of migration."},
]


def test_e2e__engine_search_and_cli_search_json_return_the_users_ids(tmp_path):
    from rag.engine import Engine

    src = jsonl(tmp_path / "mine.jsonl", PAPERS)
    settings = make_settings(tmp_path / "index")
    with Engine(settings) as engine:
        report = engine.ingest([src], progress=False)
        assert (report.papers, report.new) == (3, 3)
        hits = engine.search("message passing over atoms and bonds", k=3)
        assert hits[0].paper_id == "W-1/α #1" and hits[0].chunk_id == "W-1/α #1#0"
        assert {h.paper_id for h in hits} == {"W-1/α #1", "1234", paper_id_for("Wind turbines and birds")}
        assert engine.search("amino acid sequences structure", k=1)[0].paper_id == "1234"

    env = {**os.environ, "RAG_INDEX_DIR": str(settings.index_dir), "RAG_MODEL_CACHE_DIR": str(MODELS)}
    proc = subprocess.run([str(VENV_BIN / "rag"), "search", "message passing over atoms and bonds", "-k", "2",
                           "--json"], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [h["paper_id"] for h in out][0] == "W-1/α #1"
    assert out[0]["title"] == "Graph neural networks for molecules"
