"""Hostile input, property-based (hypothesis): every reader in rag/corpus.py (the three daily-papers layouts,
JSONL, JSON array, one pretty-printed object, arXiv snapshot lines, CSV) is fed random and malformed bytes —
binary, NULs, invalid UTF-8, huge lines, unbalanced quotes and brackets, wrong JSON types, missing fields.
It must never raise; every problem is one "file[:line]: message" warning; a valid record next to a bad one
is still read; and what it returns is safe to store (printable text, bounded numbers)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag.corpus import MAX_INT_META, MAX_TITLE_CHARS, load_corpus, parse_file
from rag.types import Paper

EXAMPLES = 100
PROFILE = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                          HealthCheck.data_too_large])
SUFFIXES = [".txt", ".md", ".jsonl", ".json", ".ndjson", ".csv"]
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# --- strategies ---------------------------------------------------------------------------------------------
WORDS = ["neural", "operator", "sparse", "attention", "graph", "kernel", "learning", "model", "training",
         "robust", "diffusion", "token", "layer", "gradient", "bayesian", "prior", "vision", "language"]
words = st.lists(st.sampled_from(WORDS), min_size=2, max_size=7).map(" ".join)
# Titles stay under 80 characters (what the daily-dump heuristic treats as title-like) and are distinct
# by prefix, so the two never merge into one paper.
first_title = words.map(lambda w: f"Alpha study of {w}".title())
second_title = words.map(lambda w: f"Omega view on {w}".title())
abstract = st.lists(st.sampled_from(WORDS), min_size=80, max_size=140).map(
    lambda ws: "We study " + " ".join(ws) + ". Results improve on prior work.")

FRAGMENTS = ['"', "'", "{", "[", "}", "]", ",", ";", ":", "\\", '""', '"title"', '"abstract":', "\x00", "\r",
             "\t", "\u2028", "\u0085", "\x1c", "\ufeff", "\ud7ff", "• 3 authors", "• 99999999 authors", "·",
             "Mar 11", "Oct 16, 2023 12345678901", "Subscribe", "null", "true", "NaN", "-Infinity", "1e999",
             "9" * 5000, '"\\ud800"', "[" * 3000, "{\"a\":" * 1200, "title,abstract", "\n\n"]
garbage_text = st.lists(st.one_of(st.text(max_size=40), st.sampled_from(FRAGMENTS)), max_size=10).map("".join)
huge_line = st.builds(lambda unit, n: unit * n, st.sampled_from(["x", "é", '"', "{", "a,", "[", "word "]),
                      st.integers(1_000, 300_000))
# Few NULs (a file full of them is binary and skipped as a whole, tested below) and at most 120 raw bytes
# (a text file that is mostly invalid UTF-8 is skipped as a whole too).
garbage = st.one_of(garbage_text.map(str.encode), huge_line.map(str.encode), st.binary(max_size=120)).filter(
    lambda b: b.count(b"\x00") <= 2)

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30))
json_value = st.recursive(json_scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                               st.dictionaries(st.text(max_size=8), inner,
                                                                               max_size=4)), max_leaves=12)
SNAPSHOT_FIELDS = ["id", "submitter", "authors", "title", "comments", "journal-ref", "doi", "categories",
                   "abstract", "versions", "update_date", "authors_parsed", "url", "upvotes", "date", "summary"]


# --- helpers --------------------------------------------------------------------------------------------------
def check_invariants(name: str, papers: list[Paper], warnings: list[str], max_abstract: int = 20_000) -> None:
    """What any input must give: one-line warnings naming the file, and records safe to store and show."""
    for w in warnings:
        assert "\n" not in w and "\r" not in w and not CONTROL.search(w), repr(w)
        assert w.startswith(f"{name}:"), w
        assert len(w) <= 300
    for p in papers:
        for text in (p.title, p.abstract, p.url or "", p.date_text or "", *p.authors):
            assert not CONTROL.search(text), repr(text)
            assert text == " ".join(text.split())
            text.encode("utf-8")  # storable
        assert p.title and len(p.title) <= MAX_TITLE_CHARS
        assert p.abstract and len(p.abstract) <= max_abstract
        for number in (p.n_authors, p.upvotes):
            assert number is None or (isinstance(number, int) and 0 <= number <= MAX_INT_META)
        assert p.sources and p.sources[0].file == name and p.sources[0].line >= 1


def parse_bytes(tmp_path: Path, data: bytes, suffix: str) -> tuple[str, list[Paper], list[str]]:
    path = tmp_path / f"input{suffix}"
    path.write_bytes(data)
    papers, warnings = parse_file(path)
    check_invariants(str(path), papers, warnings)
    return str(path), papers, warnings


def titles(papers: list[Paper]) -> set[str]:
    return {p.title for p in papers}


def daily(layout: str, records: list[tuple[str, str]], garbage: bytes) -> bytes:
    """A daily-papers page dump in one of the three layouts seen in data/raw, garbage after the first paper."""
    if layout == "plain":  # 000/001/004: blank lines between title and abstract
        head, each = "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nbyAK and the research " \
                     "community\n\nMar 11\n\n", "{t}\n\n{a}\n\n\n"
    elif layout == "metadata":  # 002: authors, dot and date lines after each abstract
        head, each = "new\n\nSubscribe\n\nDaily Papers\n\nbyAK and the research community\n\nDec 9\n\n", \
            "{t}\n\n{a}\n\n  • 3 authors\n·\nOct 16, 2023 2\n\n"
    else:  # 003: no blank lines, "Subscribe" glued to the first title
        head, each = "Get trending papers in your email inbox once a day!\nSubscribe", "{t}\n{a}\n"
    first, second = (each.format(t=t, a=a).encode() for t, a in records)
    return head.encode() + first + b"\n" + garbage + b"\n" + second


def csv_rows(records: list[tuple[str, str]], quoting: int, delimiter: str) -> list[bytes]:
    out = []
    for title, abstract in records:
        buf = io.StringIO()
        csv.writer(buf, quoting=quoting, delimiter=delimiter, lineterminator="\n").writerow(
            [title, abstract, "Ann One, Bob Two"])
        out.append(buf.getvalue().encode())
    return out


# --- never crash, on anything ---------------------------------------------------------------------------------
@PROFILE
@given(data=st.one_of(garbage, st.binary(max_size=2000), garbage_text.map(lambda t: t.encode("utf-16"))),
       suffix=st.sampled_from(SUFFIXES))
@example(data=b"[" * 100_000, suffix=".json")
@example(data=b'{"title": "T", "abstract": "' + b"9" * 5000 + b'", "upvotes": ' + b"9" * 5000 + b"}",
         suffix=".jsonl")
@example(data="• ٣ authors\n".encode() + b"Title\n" + b"x" * 100, suffix=".txt")
@example(data=b"title,abstract\n\"unclosed," + b"x" * 200_000, suffix=".csv")
def test_any_bytes__never_raise_and_warnings_are_one_line(tmp_path_factory, data, suffix):
    parse_bytes(tmp_path_factory.mktemp("any"), data, suffix)


@PROFILE
@given(records=st.lists(st.dictionaries(st.sampled_from(SNAPSHOT_FIELDS), json_value, max_size=10), max_size=6))
def test_json_records_with_wrong_types__each_is_a_paper_or_a_warning_at_its_line(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("types") / "snap.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8", errors="surrogatepass")
    papers, warnings = parse_file(path)
    check_invariants(str(path), papers, warnings)
    read = {p.sources[0].line for p in papers}
    warned = {int(w.split(":")[1]) for w in warnings if re.match(rf"{re.escape(str(path))}:\d+:", w)}
    for line, rec in enumerate(records, start=1):
        assert line in read | warned, (line, rec, warnings)
        ok = isinstance(rec.get("title"), str) and isinstance(rec.get("abstract"), str) and \
            rec["title"].strip() and rec["abstract"].strip() and len(rec["title"]) < 200
        if ok and not CONTROL.search(rec["title"] + rec["abstract"]):
            assert line in read, (rec, warnings)


# --- a valid record on each side of a bad one is still read -----------------------------------------------------
@PROFILE
@given(layout=st.sampled_from(["plain", "metadata", "glued"]), t1=first_title, t2=second_title, a1=abstract,
       a2=abstract, junk=garbage)
def test_daily_dump__papers_around_garbage_are_kept(tmp_path_factory, layout, t1, t2, a1, a2, junk):
    name, papers, _ = parse_bytes(tmp_path_factory.mktemp("daily"), daily(layout, [(t1, a1), (t2, a2)], junk),
                                  ".txt")
    assert {t1, t2} <= titles(papers)
    by_title = {p.title: p for p in papers}
    assert by_title[t1].abstract == a1 and by_title[t2].abstract == a2


@PROFILE
@given(t1=first_title, t2=second_title, a1=abstract, a2=abstract, junk=garbage, snapshot=st.booleans())
def test_jsonl__records_around_a_bad_line_are_kept(tmp_path_factory, t1, t2, a1, a2, junk, snapshot):
    def line(t: str, a: str, n: int) -> bytes:
        rec = {"title": t, "abstract": a}
        if snapshot:  # the arXiv metadata snapshot's shape
            rec = {"id": f"2101.0000{n}", "submitter": "Ann", "authors": "Ann One and Bob Two", **rec,
                   "versions": [{"version": "v1"}], "update_date": "2021-01-05",
                   "authors_parsed": [["One", "Ann", ""], ["Two", "Bob", ""]]}
        return json.dumps(rec).encode()

    _, papers, warnings = parse_bytes(tmp_path_factory.mktemp("jsonl"), line(t1, a1, 1) + b"\n" + junk + b"\n"
                                      + line(t2, a2, 2) + b"\n", ".jsonl")
    assert {t1, t2} <= titles(papers), warnings
    if snapshot:
        p = next(p for p in papers if p.title == t1)
        assert p.paper_id == "2101.00001" and p.authors == ["Ann One", "Bob Two"]


@PROFILE
@given(t1=first_title, t2=second_title, a1=abstract, a2=abstract, junk=garbage, indent=st.sampled_from(["", "  "]))
def test_json_array__items_around_a_bad_item_are_kept(tmp_path_factory, t1, t2, a1, a2, junk, indent):
    item = (indent + json.dumps({"title": t, "abstract": a}) for t, a in ((t1, a1), (t2, a2)))
    data = b"[\n" + next(item).encode() + b",\n" + junk + b",\n" + next(item).encode() + b"\n]\n"
    _, papers, warnings = parse_bytes(tmp_path_factory.mktemp("array"), data, ".json")
    assert {t1, t2} <= titles(papers), warnings


@PROFILE
@given(t1=first_title, t2=second_title, a1=abstract, a2=abstract, junk=garbage,
       quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]), delimiter=st.sampled_from([",", ";", "\t"]))
def test_csv__rows_around_a_bad_row_are_kept(tmp_path_factory, t1, t2, a1, a2, junk, quoting, delimiter):
    rows = csv_rows([(t1, a1), (t2, a2)], quoting, delimiter)
    header = delimiter.join(["title", "abstract", "authors"]).encode() + b"\n"
    data = header + rows[0] + junk + b"\n" + rows[1]
    _, papers, warnings = parse_bytes(tmp_path_factory.mktemp("csv"), data, ".csv")
    assert {t1, t2} <= titles(papers), (warnings, data[:300])


# --- specific hostile cases, with the exact messages -------------------------------------------------------------
def test_json_array__bad_item_reported_at_its_own_line_and_later_items_kept(tmp_path):
    good = [{"title": f"Paper {c}", "abstract": f"Abstract {c}. " * 10} for c in "ABC"]
    f = tmp_path / "papers.json"
    f.write_text("[\n" + json.dumps(good[0], indent=2) + ",\n  {\"title\": \"Broken\", \"abstract\": \n  [1,\n"
                 + json.dumps(good[1], indent=2) + ",\n  42,\n" + json.dumps(good[2], indent=2) + "\n]\n")
    papers, warnings = parse_file(f)
    assert [p.title for p in papers] == ["Paper A", "Paper B", "Paper C"]
    assert [p.sources[0].line for p in papers] == [2, 8, 13]
    assert [w.split(": ", 1)[0] for w in warnings] == [f"{f}:6", f"{f}:12"]
    assert "malformed JSON array item" in warnings[0] and "not an object" in warnings[1]


def test_json__one_pretty_printed_object_is_one_paper(tmp_path):
    f = tmp_path / "one.json"
    f.write_text("\n\n" + json.dumps({"title": "Solo", "abstract": "Alone. " * 20, "upvotes": True}, indent=2))
    [p], warnings = parse_file(f)
    assert (p.title, p.sources[0].line, p.upvotes, warnings) == ("Solo", 3, None, [])


def test_jsonl__raw_line_separator_inside_a_string_does_not_split_the_record(tmp_path):
    f = tmp_path / "sep.jsonl"
    recs = [{"title": "First\u2028Paper", "abstract": "Uses\u0085next line. " * 10},
            {"title": "Second", "abstract": "Plain. " * 10}]
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n", encoding="utf-8")
    papers, warnings = parse_file(f)
    assert warnings == []
    assert [(p.title, p.sources[0].line) for p in papers] == [("First Paper", 1), ("Second", 2)]


def test_json__wrong_types_huge_numbers_and_lone_surrogates_are_cleaned_or_reported(tmp_path):
    f = tmp_path / "types.jsonl"
    f.write_text("\n".join([
        '{"title": "Sur\\ud800rogate\\u0000 Title", "abstract": "Text\\u001b[31m red. ' + "x " * 50 + '"}',
        '{"title": 12, "abstract": "x"}',
        '{"title": "Listy", "abstract": ["a", "b"]}',
        '{"title": "Big", "abstract": "' + "y " * 50 + '", "upvotes": ' + "9" * 30 + ', "url": {"a": 1}, '
        '"authors_parsed": [[1, null, 3], "x", {"name": "Dee"}], "date": 20240101}',
        '{"title": "Digits", "abstract": "z", "upvotes": ' + "9" * 5000 + "}",
        "[" * 5000,
    ]) + "\n")
    papers, warnings = parse_file(f)
    check_invariants(str(f), papers, warnings)
    assert [p.title for p in papers] == ["Sur rogate Title", "Big"]
    assert papers[0].abstract.startswith("Text [31m red.")
    big = papers[1]
    assert (big.upvotes, big.url, big.authors) == (None, None, ["1", "x", "Dee"])
    assert [w.split(": ", 1)[1] for w in warnings] == [
        "'title' is int, not text; skipped",
        "'abstract' is list, not text; skipped",
        "'date' is int, not text; kept the paper without it",
        "malformed JSON (Exceeds the limit (4300 digits) for integer string conversion); line skipped",
        "malformed JSON (nested too deeply); line skipped",
    ]
    assert [int(w.split(":")[1]) for w in warnings] == [2, 3, 4, 5, 6]


def test_daily_dump__huge_digit_counts_and_control_characters(tmp_path):
    f = tmp_path / "dump.txt"
    f.write_text("A \x00Title\x1b\n\n" + "Abstract words here. " * 10 + "\n\n• 123456789012 authors\n·\n"
                 "Oct 16, 2023 99999999999\n\nNext Title\n\n" + "More words here. " * 10 + "\n• 4 authors\n·\n"
                 "Oct 16, 2023 7\n")
    papers, warnings = parse_file(f)
    check_invariants(str(f), papers, warnings)
    assert warnings == []  # still metadata lines, not titles; the absurd numbers are dropped
    assert [(p.title, p.n_authors, p.upvotes, p.date) for p in papers] == [
        ("A Title", None, None, "2023-10-16"), ("Next Title", 4, 7, "2023-10-16")]


def test_csv__unbalanced_quote_reported_and_later_rows_kept(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text('title,abstract\nGood One,"An abstract,\nover two lines."\n"Broken,oops\nGood Two,Second '
                 'abstract.\n"Good Three","Third abstract."\n')
    papers, warnings = parse_file(f)
    assert [(p.title, p.abstract, p.sources[0].line) for p in papers] == [
        ("Good One", "An abstract, over two lines.", 2), ("Good Two", "Second abstract.", 5),
        ("Good Three", "Third abstract.", 6)]
    assert warnings == [f"{f}:4: CSV row has an unbalanced quote; skipped"]


def test_csv__semicolon_header_with_odd_rows_and_newline_in_header(tmp_path):
    f = tmp_path / "semi.csv"
    f.write_text("title;abstract\nSemi Paper;Words, with, commas, everywhere, in, the, abstract.\n")
    [p], warnings = parse_file(f)
    assert (p.title, warnings) == ("Semi Paper", [])
    g = tmp_path / "weird.csv"
    g.write_text('"na\nme",abstract\nx,y\n')
    [], [w] = parse_file(g)
    assert w == f"{g}:1: CSV has no 'title' column (columns: na me, abstract); file skipped"


@pytest.mark.parametrize("data, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(4096), "binary file (not text); skipped"),
    (bytes(range(128, 256)) * 40, "binary or non-UTF-8 file; skipped"),
])
def test_binary_files_are_one_warning(tmp_path, data, message):
    f = tmp_path / "x.txt"
    f.write_bytes(data)
    assert parse_file(f) == ([], [f"{f}: {message}"])


def test_text_with_a_stray_nul_and_bad_bytes_is_read_with_one_warning(tmp_path):
    f = tmp_path / "stray.txt"
    data = b"Some Title\n\n" + b"Abstract text \x00 with a NUL and a \xff bad byte. " + b"More words. " * 9
    f.write_bytes(data)
    [p], [w] = parse_file(f)
    assert p.title == "Some Title" and "\x00" not in p.abstract and "\ufffd" in p.abstract
    bad = data.index(b"\xff")
    assert w == f"{f}: invalid UTF-8 at byte {bad}; bad bytes replaced"


def test_utf16_file_with_bom_is_read(tmp_path):
    f = tmp_path / "u16.csv"
    f.write_bytes("title,abstract\nWide Paper,Encoded as UTF-16.\n".encode("utf-16"))
    [p], warnings = parse_file(f)
    assert (p.title, warnings) == ("Wide Paper", [])


def test_hostile_folder__valid_papers_from_every_format_survive(tmp_path):
    good = {"title": "Kept Paper", "abstract": "A fine abstract. " * 10}
    (tmp_path / "a.jsonl").write_bytes(b"\xfe\x00garbage\n" + json.dumps(good).encode() + b"\n{\n")
    (tmp_path / "b.csv").write_text('title,abstract\n"bad\nKept Csv,Fine abstract here.\n')
    (tmp_path / "c.txt").write_text("x" * 500_000 + "\n\nKept Dump Title\n\n" + "Dump abstract text. " * 10)
    (tmp_path / "d.json").write_text('[{"title": "Kept Array", "abstract": "Array abstract."}, 7]')
    r = load_corpus([tmp_path])
    assert sorted(p.title for p in r.papers) == ["Kept Array", "Kept Csv", "Kept Dump Title", "Kept Paper"]
    assert all("\n" not in w for w in r.warnings) and len(r.warnings) >= 4
