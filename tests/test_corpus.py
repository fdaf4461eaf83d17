"""The daily-papers parser on the real dumps, the other input formats, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import RAW

from rag.corpus import NOISE_LINES, load_corpus, normalize_title, paper_id_for, parse_file


@pytest.fixture(scope="module")
def parsed():
    return load_corpus([RAW])


def by_title(parsed, title):
    [p] = [p for p in parsed.papers if p.title == title]
    return p


def test_corpus__counts_entries_and_unique_papers(parsed):
    assert parsed.entries == 291
    assert len(parsed.papers) == 250
    assert parsed.warnings == []
    assert len(parsed.files) == 5


def test_corpus__no_noise_line_in_titles_or_abstracts(parsed):
    for p in parsed.papers:
        assert p.title.lower() not in NOISE_LINES
        assert not p.title.startswith("Subscribe")
        assert "Get trending papers" not in p.title + p.abstract
        assert "byAK" not in p.title + p.abstract
        assert "• " not in p.title + p.abstract
        assert p.title != "·"
        assert 10 < len(p.title) < 200
        assert len(p.abstract) >= 400


def test_corpus__glued_subscribe_title_parsed(parsed):
    p = by_title(parsed, "Learning Hierarchical Polynomials with Three-Layer Neural Networks")
    assert p.abstract.startswith("We study the problem of learning hierarchical polynomials")
    [glued] = [s for s in p.sources if s.file.endswith("003_56a069c51cadc210.txt")]
    assert glued.line == 3 and glued.position == 1


def test_corpus__metadata_of_named_papers(parsed):
    neurbf = by_title(parsed, "NeuRBF: A Neural Fields Representation with Adaptive Radial Basis Functions")
    assert (neurbf.n_authors, neurbf.date, neurbf.upvotes) == (7, "2023-09-27", 2)
    halluc = by_title(parsed, "Understanding Hallucinations in Diffusion Models through Mode Interpolation")
    assert (halluc.n_authors, halluc.date, halluc.upvotes) == (4, "2024-06-13", 1)
    deeponet = [p for p in parsed.papers if p.title.startswith("DeepONet:")][0]
    assert (deeponet.n_authors, deeponet.date, deeponet.upvotes) == (3, "2019-10-07", 0)
    # A date printed without a year keeps its text but gets no ISO date.
    gap = by_title(parsed, "Mind The Gap: Deep Learning Doesn't Learn Deeply")
    assert (gap.n_authors, gap.date, gap.date_text) == (2, None, "May 24")
    # Papers from layouts without metadata have none.
    pointer = by_title(parsed, "Pointer Networks")
    assert (pointer.n_authors, pointer.date, pointer.upvotes) == (None, None, None)


def test_corpus__duplicates_merged_with_all_sources(parsed):
    p = by_title(parsed, "The Principles of Deep Learning Theory")
    assert len(p.sources) == 4
    assert len({s.file for s in p.sources}) == 4
    assert p.n_authors == 3  # metadata taken from the copy that has it
    assert len({p.paper_id for p in parsed.papers}) == 250
    assert sum(len(p.sources) for p in parsed.papers) == 291


def test_corpus__paper_id_is_stable_and_normalized():
    a = paper_id_for("Pointer  Networks")
    assert a == paper_id_for("pointer networks") == paper_id_for("Pointer Networks!")
    assert a.startswith("pointer-networks-")
    assert normalize_title("ResMLP: Feed-forward") == "resmlp feed forward"


def test_jsonl_csv_and_arxiv_snapshot(tmp_path):
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"title": "Paper A", "abstract": "Alpha " * 30, "authors": ["X", "Y"], "date": "2024-01-02",
                    "url": "http://a"}) + "\n")
    (tmp_path / "b.csv").write_text('title,abstract,authors\n"Paper B","' + "Beta " * 30 + '","P and Q"\n')
    (tmp_path / "c.json").write_text(json.dumps({
        "id": "2101.00001", "title": "Paper C\n  split", "abstract": "  Gamma " * 30,
        "authors": "Ann One, Bob Two", "update_date": "2021-01-05"}) + "\n")
    r = load_corpus([tmp_path])
    assert r.warnings == []
    got = {p.title: p for p in r.papers}
    assert set(got) == {"Paper A", "Paper B", "Paper C split"}
    assert got["Paper A"].authors == ["X", "Y"] and got["Paper A"].date == "2024-01-02"
    assert got["Paper B"].authors == ["P", "Q"]
    c = got["Paper C split"]
    assert c.paper_id == "2101.00001" and c.date == "2021-01-05"
    assert c.url == "https://arxiv.org/abs/2101.00001" and c.authors == ["Ann One", "Bob Two"]


def test_bad_input__each_problem_one_line_and_valid_entries_kept(tmp_path):
    good = {"title": "Good Paper", "abstract": "A fine abstract. " * 10}
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02garbage" * 100)
    (tmp_path / "mixed.jsonl").write_text(
        json.dumps(good) + "\n{not json\n" + json.dumps({"title": "No Abstract"}) + "\n"
        + json.dumps({"title": "Huge", "abstract": "x" * 20_001}) + "\n"
        + json.dumps({"title": "Second Good", "abstract": "Another abstract. " * 10}) + "\n")
    (tmp_path / "notitle.csv").write_text("name,abstract\nfoo,bar\n")
    (tmp_path / "dump.txt").write_text("Subscribe\n\nLonely Title\n\nTitle Two\n\n" + "Body text. " * 20 + "\n")
    r = load_corpus([tmp_path, tmp_path / "missing.txt"])
    assert sorted(p.title for p in r.papers) == ["Good Paper", "Second Good", "Title Two"]
    w = "\n".join(r.warnings)
    assert f"{tmp_path}/empty.txt: file is empty; skipped" in w
    assert f"{tmp_path}/binary.txt: binary file (not text); skipped" in w
    assert f"{tmp_path}/mixed.jsonl:2: malformed JSON" in w
    assert f"{tmp_path}/mixed.jsonl:3: title 'No Abstract' has no abstract; skipped" in w
    assert f"{tmp_path}/mixed.jsonl:4: abstract of 'Huge' is 20001 characters (max 20000); skipped" in w
    assert f"{tmp_path}/notitle.csv:1: CSV has no 'title' column" in w
    assert f"{tmp_path}/dump.txt:3: title 'Lonely Title' has no abstract; skipped" in w
    assert f"{tmp_path}/missing.txt: no such file or folder" in w
    assert len(r.warnings) == 8
    assert all("\n" not in x for x in r.warnings)


def test_bad_input__unreadable_file(tmp_path):
    f = tmp_path / "locked.txt"
    f.write_text("Title\n\n" + "Abstract words here. " * 10)
    f.chmod(0)
    entries, warnings = parse_file(f)
    if entries:  # running as root: permissions do not apply, nothing to check
        pytest.skip("root can read mode-000 files")
    assert warnings and "cannot read file" in warnings[0]


def test_bad_input__directory_given_as_file(tmp_path):
    d = tmp_path / "folder.txt"
    d.mkdir()
    r = load_corpus([d])
    assert r.papers == [] and r.warnings == [f"{d}: folder has no .txt/.jsonl/.json/.csv files"]


def test_parse_file__nonexistent_path_is_a_warning(tmp_path: Path):
    entries, warnings = parse_file(tmp_path / "nope.txt")
    assert entries == [] and len(warnings) == 1 and "cannot read file" in warnings[0]
