"""Parsers of the source formats, one function each, all writing into a `Sink`: Hugging Face daily-papers page
dumps (three layouts), JSON lines / JSON arrays (also the arXiv metadata snapshot and BEIR `corpus.jsonl`) and
CSV. Bad input never raises: each problem becomes one warning naming file:line, and everything valid is kept.

The daily-papers parser is hand-written because no library knows these page dumps; the JSON-array and CSV
readers resume after a malformed item, which the standard library's readers cannot do."""

from __future__ import annotations

import bisect
import csv
import itertools
import json
import re
from datetime import datetime
from typing import Any

from .cleaning import (
    _NEWLINE,
    ARXIV_ID,
    AUTHORS_LINE,
    DATE_LINE,
    MAX_ID_CHARS,
    MAX_INT_META,
    MAX_TITLE_CHARS,
    MAX_WARNING_CHARS,
    MIN_ABSTRACT_CHARS,
    NOISE_LINES,
    clean_id,
    clean_text,
    clean_title,
    paper_id_for,
    split_lines,
    title_from_text,
)
from .types import Paper, Source


def _count(digits: str | None) -> int | None:
    """A page's author or upvote count; absurd ones (a 5,000-digit number would even crash int()) are dropped."""
    return int(digits) if digits and len(digits) <= 9 else None


def _iso_date(month: str, day: str, year: str | None) -> str | None:
    if not year:
        return None
    try:
        return datetime.strptime(f"{month[:3]} {day} {year}", "%b %d %Y").date().isoformat()
    except ValueError:
        return None


def _looks_like_title(s: str) -> bool:
    return len(s) <= MAX_TITLE_CHARS


class Sink:
    """Collects entries and warnings for one file."""

    def __init__(self, name: str, max_abstract: int):
        self.name = name
        self.max_abstract = max_abstract
        self.entries: list[Paper] = []
        self.warnings: list[str] = []

    def warn(self, line: int | None, msg: str) -> None:
        text = f"{self.name}:{line}: {msg}" if line else f"{self.name}: {msg}"
        text = clean_text(text)  # one line, whatever the file or its header held
        if len(text) > MAX_WARNING_CHARS:
            text = text[:MAX_WARNING_CHARS - 1] + "…"
        self.warnings.append(text)

    def add(self, line: int, title: str, abstract: str, **meta: Any) -> Paper | None:
        title = clean_text(title or "")
        abstract = clean_text(abstract or "")
        if not title:
            self.warn(line, "entry has no title; skipped")
            return None
        if len(title) > MAX_TITLE_CHARS:
            self.warn(line, f"title is {len(title)} characters (max {MAX_TITLE_CHARS}); skipped")
            return None
        if not abstract:
            self.warn(line, f"title {title[:60]!r} has no abstract; skipped")
            return None
        if len(abstract) > self.max_abstract:
            self.warn(line, f"abstract of {title[:60]!r} is {len(abstract)} characters "
                            f"(max {self.max_abstract}); skipped")
            return None
        pid = meta.pop("paper_id", None) or paper_id_for(title)
        p = Paper(paper_id=pid, title=title, abstract=abstract,
                  sources=[Source(self.name, line, len(self.entries) + 1)], **meta)
        self.entries.append(p)
        return p


def parse_daily_papers(text: str, sink: Sink) -> None:
    """Parse one Hugging Face daily-papers dump. Content lines alternate title / abstract; metadata lines
    ("• 3 authors", "·", "Sep 27, 2023 2") follow the abstract they describe; page noise is dropped."""
    pending: tuple[int, str] | None = None  # a title waiting for its abstract
    last: Paper | None = None  # the paper metadata lines attach to
    prev_meta = False  # was the previous content line a metadata line of `last`?
    for lineno, raw in enumerate(split_lines(text), start=1):
        s = clean_text(raw)
        if not s:
            continue
        m_auth = AUTHORS_LINE.match(s)
        if m_auth:
            if last is not None and pending is None:
                last.n_authors = _count(m_auth.group(1))
                prev_meta = True
            continue
        if s == "·":
            prev_meta = prev_meta and last is not None
            continue
        m_date = DATE_LINE.match(s)
        if m_date:
            # A date right after a paper's metadata is that paper's publication date (and upvotes);
            # anywhere else it is the page's own date.
            if prev_meta and last is not None and pending is None:
                mon, day, year, votes = m_date.groups()
                last.date_text = f"{mon} {day}" + (f", {year}" if year else "")
                last.date = _iso_date(mon, day, year)
                last.upvotes = _count(votes) if votes else 0
            prev_meta = False
            continue
        if s.lower() in NOISE_LINES:
            continue
        prev_meta = False
        s = clean_title(s) if pending is None else s
        if not s:  # "Subscribe" glued to nothing
            continue
        if pending is None:
            if _looks_like_title(s):
                pending = (lineno, s)
            else:
                sink.warn(lineno, "text with no title before it; skipped")
            continue
        # We hold a title: this line is its abstract, unless it is itself a title-length line followed by
        # nothing abstract-like (then the held title had no abstract).
        t_line, title = pending
        if len(s) < MIN_ABSTRACT_CHARS and _looks_like_title(s):
            sink.warn(t_line, f"title {title[:60]!r} has no abstract; skipped")
            pending = (lineno, clean_title(s))
            continue
        last = sink.add(t_line, title, s)
        pending = None
    if pending is not None:
        sink.warn(pending[0], f"title {pending[1][:60]!r} has no abstract; skipped")


def _authors(value: Any) -> list[str]:
    if value is None or isinstance(value, bool | int | float):
        return []
    if isinstance(value, dict):  # {"name": ...}
        value = [value]
    if isinstance(value, list):
        out = []
        for a in value:
            if isinstance(a, list):  # arXiv "authors_parsed": [last, first, suffix]
                a = " ".join(str(x) for x in reversed(a[:2]) if isinstance(x, str | int) and str(x).strip())
            elif isinstance(a, dict):
                a = a.get("name") or " ".join(str(a.get(k) or "") for k in ("first", "last"))
            elif not isinstance(a, str):
                continue
            out.append(clean_text(a))
        return [a for a in out if a]
    parts = re.split(r",\s*|\s+and\s+|;\s*", str(value))
    return [clean_text(p) for p in parts if clean_text(p)]


def _text_field(rec: dict[str, Any], *keys: str) -> Any:
    """The first of `keys` with a value (None when none has one)."""
    for key in keys:
        value = rec.get(key)
        if value is not None and value != "":
            return value
    return None


def _record_id(rec: dict[str, Any]) -> tuple[str | None, str | None]:
    """The row's own id (`_id` as in BEIR, else `id`), or None when it gives none or an unusable one (then
    with the problem, to report if the row is kept)."""
    key = "_id" if rec.get("_id") not in (None, "") else "id"
    raw = rec.get(key)
    if raw is None or raw == "":
        return None, None
    fallback = "the paper gets an id made from its title"
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None, f"'{key}' is {type(raw).__name__}, not text or a whole number; {fallback}"
    rid = clean_id(raw)
    if len(rid) > MAX_ID_CHARS:
        return None, f"'{key}' is {len(rid)} characters (max {MAX_ID_CHARS}); {fallback}"
    return rid or None, None


def _record_to_paper(rec: dict[str, Any], line: int, sink: Sink) -> None:
    rec = {str(k).strip().lower(): v for k, v in rec.items()}
    title = rec.get("title")
    abstract = _text_field(rec, "abstract", "summary", "text")  # `text` is the abstract in BEIR corpora
    rid, id_problem = _record_id(rec)
    if title is None or (isinstance(title, str) and not title.strip()):
        if rid is None or not isinstance(abstract, str) or not clean_text(abstract):
            sink.warn(line, "record has no 'title'; skipped")
            return
        title = title_from_text(clean_text(abstract))  # BEIR rows may have an empty title: keep the paper
    if not isinstance(title, str):
        sink.warn(line, f"'title' is {type(title).__name__}, not text; skipped")
        return
    if abstract is not None and not isinstance(abstract, str):
        sink.warn(line, f"'abstract' is {type(abstract).__name__}, not text; skipped")
        return
    if id_problem:
        sink.warn(line, id_problem)
    authors = _authors(_text_field(rec, "authors_parsed", "authors"))
    raw_date = _text_field(rec, "date", "update_date", "published")
    date = None
    if isinstance(raw_date, str) and raw_date.strip():
        try:
            date = datetime.fromisoformat(raw_date.strip()[:10]).date().isoformat()
        except ValueError:
            sink.warn(line, f"date {raw_date[:40]!r} is not ISO (yyyy-mm-dd); kept the paper without it")
    elif raw_date is not None:
        sink.warn(line, f"'date' is {type(raw_date).__name__}, not text; kept the paper without it")
    m = ARXIV_ID.match(rid or "")
    url = rec.get("url")
    url = clean_text(url) if isinstance(url, str) and url.strip() else None
    url = url or (f"https://arxiv.org/abs/{m.group(1)}" if m else None)
    votes = rec.get("upvotes")
    votes = votes if isinstance(votes, int) and not isinstance(votes, bool) and 0 <= votes <= MAX_INT_META \
        else None
    sink.add(line, title, abstract or "", authors=authors, n_authors=len(authors) or None, date=date,
             date_text=clean_text(raw_date)[:60] or None if isinstance(raw_date, str) else None, url=url,
             paper_id=rid, upvotes=votes)


def _json_problem(e: Exception) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"{e.msg} at column {e.colno}"
    if isinstance(e, RecursionError):
        return "nested too deeply"
    return str(e).split(":")[0]  # e.g. "Exceeds the limit (4300 digits) for integer string conversion"


def parse_jsonl(text: str, sink: Sink) -> None:
    """JSON lines (also the arXiv snapshot format). A whole-file JSON array, or one (pretty-printed) object,
    is accepted too."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        _parse_json_array(text, sink)
        return
    if "\n" in stripped.rstrip():
        try:
            whole = json.loads(text)
        except (ValueError, RecursionError):
            whole = None
        if isinstance(whole, dict):
            _record_to_paper(whole, text.count("\n", 0, len(text) - len(stripped)) + 1, sink)
            return
    for lineno, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError) as e:
            sink.warn(lineno, f"malformed JSON ({_json_problem(e)}); line skipped")
            continue
        if not isinstance(rec, dict):
            sink.warn(lineno, "JSON value is not an object; line skipped")
            continue
        _record_to_paper(rec, lineno, sink)


def _parse_json_array(text: str, sink: Sink) -> None:
    """Items one by one, each reported at its own line. A malformed item is skipped by resuming at the next
    line that starts an object at the same (or a smaller) indent, so the items after it are kept."""
    decoder = json.JSONDecoder()
    starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]  # offsets where lines begin

    def line_of(pos: int) -> int:
        return bisect.bisect_right(starts, pos)

    def column(pos: int) -> int:
        return pos - starts[line_of(pos) - 1]

    def resume_after(pos: int) -> int | None:
        indent = max(column(pos), item_indent)
        for start in starts[line_of(pos):]:
            body = text[start:start + indent + 1]
            stripped = body.lstrip(" \t")
            if stripped.startswith("{") and len(body) - len(stripped) <= indent:
                return start + len(body) - len(stripped)
        return None

    ws = re.compile(r"[\s,]*")
    pos = text.index("[") + 1
    item_indent = column(ws.match(text, pos).end())  # type: ignore[union-attr]
    while True:
        pos = ws.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            sink.warn(line_of(len(text) - 1), "JSON array is not closed with ']'")
            return
        if text[pos] == "]":
            if not text[pos + 1:].strip():
                return
            nxt = resume_after(pos)  # a stray ']' in the middle, or text after the array
            sink.warn(line_of(pos), "unexpected ']' before the end of the file" +
                      ("; reading on" if nxt is not None else "; the rest of the file is ignored"))
            if nxt is None:
                return
            pos = nxt
            continue
        try:
            item, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as e:
            sink.warn(line_of(pos), f"malformed JSON array item ({_json_problem(e)}); skipped")
            nxt = resume_after(pos)
            if nxt is None:
                return
            pos = nxt
            continue
        if isinstance(item, dict):
            _record_to_paper(item, line_of(pos), sink)
            pos = end
            continue
        sink.warn(line_of(pos), "array item is not an object; skipped")
        # A stray '[' can make the rest of the array one nested item: resume at the next object line.
        nxt = resume_after(pos)
        pos = nxt if nxt is not None and nxt < end else end


def _csv_dialect(first_line: str) -> type[csv.Dialect] | csv.Dialect:
    """The delimiter that gives the header a 'title' column (Sniffer guesses wrong next to odd rows)."""
    for delim in (",", ";", "\t", "|"):
        try:
            cells = next(csv.reader([first_line], delimiter=delim), [])
        except csv.Error:
            continue
        if "title" in (c.strip().lower() for c in cells):
            class Found(csv.excel):
                delimiter = delim
            return Found
    return csv.excel


def parse_csv(text: str, sink: Sink) -> None:
    lines = [ln for ln in _NEWLINE.split(text)]
    lines = [ln + "\n" for ln in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    dialect = _csv_dialect(lines[0] if lines else "")
    head = csv.reader(lines, dialect)
    try:
        header = [clean_text(h).lower() for h in next(head, [])]
    except csv.Error as e:
        sink.warn(1, f"unreadable CSV header ({e})")
        return
    if "title" not in header:
        sink.warn(1, f"CSV has no 'title' column (columns: {', '.join(header) or 'none'}); file skipped")
        return
    if "abstract" not in header and "summary" not in header:
        sink.warn(1, "CSV has no 'abstract' column; file skipped")
        return
    pos = head.line_num  # lines consumed so far (0-based index of the next line)
    while pos < len(lines):
        pos = _csv_rows(lines, pos, header, dialect, sink)


def _csv_rows(lines: list[str], pos: int, header: list[str], dialect: Any, sink: Sink) -> int:
    """Read rows from line index `pos`; returns where to resume (len(lines) when done). A stray quote makes
    a row swallow the lines after it, so a row spanning several lines must be strictly well-formed; if it is
    not, it is reported and reading resumes on its second line."""
    reader = csv.reader(itertools.islice(lines, pos, None), dialect)
    while True:
        before = reader.line_num
        start = pos + before + 1  # 1-based line where this row begins
        try:
            cells = next(reader)
        except StopIteration:
            return len(lines)
        except csv.Error as e:
            sink.warn(start, f"malformed CSV row ({e}); skipped")
            return start
        end = pos + reader.line_num
        if not cells:
            continue
        if end > start and not _well_formed(lines[start - 1:end], dialect):
            sink.warn(start, "CSV row has an unbalanced quote; skipped")
            return start
        if len(cells) > len(header):
            sink.warn(start, "row has more cells than the header; extra cells ignored")
        _record_to_paper(dict(zip(header, cells, strict=False)), start, sink)


def _well_formed(lines: list[str], dialect: Any) -> bool:
    """Are `lines` exactly one row with every quote closed and followed by a delimiter or line end?"""
    reader = csv.reader(lines, dialect, strict=True)
    try:
        next(reader, None)
    except csv.Error:
        return False
    return reader.line_num == len(lines)
