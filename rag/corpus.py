"""Read paper collections into `Paper` records: Hugging Face daily-papers page dumps (three layouts),
JSONL / CSV (`title`, `abstract`, optional `authors`, `date`, `url`, `id`) and the arXiv metadata snapshot.
Bad input never raises: each problem becomes one warning naming file:line, and everything valid is kept.

The daily-papers parser is hand-written because no library knows these page dumps."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .types import Paper, Source

SUPPORTED_SUFFIXES = {".txt", ".md", ".jsonl", ".json", ".ndjson", ".csv"}

# Lines that belong to the page, not to any paper.
NOISE_LINES = {
    "new",
    "get trending papers in your email inbox!",
    "get trending papers in your email inbox once a day!",
    "subscribe",
    "byak and the research community",
    "daily papers",
    "·",
}
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
DATE_LINE = re.compile(rf"^({_MONTHS})[a-z]*\.? (\d{{1,2}})(?:, (\d{{4}}))?(?: (\d+))?$")
AUTHORS_LINE = re.compile(r"^•\s*(\d+)\s+authors?$")
GLUED_PREFIX = re.compile(r"^Subscribe(?=[A-Z0-9\"'(\[])")
ARXIV_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)$", re.I)

# A title is a short line; an abstract is a long one. In the real dumps titles are < 200 characters and
# abstracts > 400, so the gap between the two limits leaves room for odd user files.
MAX_TITLE_CHARS = 300
MIN_ABSTRACT_CHARS = 80


@dataclass
class ParseResult:
    papers: list[Paper] = field(default_factory=list)  # unique papers, duplicates merged
    entries: int = 0  # entries read before merging
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # files that yielded at least one entry


def normalize_title(title: str) -> str:
    """Case-, punctuation- and whitespace-insensitive key used to merge copies of one paper."""
    t = unicodedata.normalize("NFKC", title).lower()
    t = re.sub(r"[^\w]+", " ", t)
    return " ".join(t.split())


def paper_id_for(title: str, arxiv_id: str | None = None) -> str:
    """Stable id: the arXiv id when one is known, else a slug of the normalized title plus a short hash."""
    if arxiv_id:
        return "arxiv-" + re.sub(r"[^\w.\-]", "-", arxiv_id.lower())
    norm = normalize_title(title)
    slug = "-".join(norm.split())[:48].strip("-") or "paper"
    return f"{slug}-{hashlib.sha1(norm.encode()).hexdigest()[:8]}"


def clean_title(line: str) -> str:
    return " ".join(GLUED_PREFIX.sub("", line.strip()).split())


def is_noise(line: str) -> bool:
    s = line.strip()
    return s.lower() in NOISE_LINES or bool(DATE_LINE.match(s)) or bool(AUTHORS_LINE.match(s))


def _iso_date(month: str, day: str, year: str | None) -> str | None:
    if not year:
        return None
    try:
        return datetime.strptime(f"{month[:3]} {day} {year}", "%b %d %Y").date().isoformat()
    except ValueError:
        return None


def _looks_like_title(s: str) -> bool:
    return len(s) <= MAX_TITLE_CHARS


class _Sink:
    """Collects entries and warnings for one file."""

    def __init__(self, name: str, max_abstract: int):
        self.name = name
        self.max_abstract = max_abstract
        self.entries: list[Paper] = []
        self.warnings: list[str] = []

    def warn(self, line: int | None, msg: str) -> None:
        self.warnings.append(f"{self.name}:{line}: {msg}" if line else f"{self.name}: {msg}")

    def add(self, line: int, title: str, abstract: str, **meta: Any) -> Paper | None:
        title = " ".join(str(title or "").split())
        abstract = " ".join(str(abstract or "").split())
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
        arxiv = meta.pop("arxiv_id", None)
        p = Paper(paper_id=paper_id_for(title, arxiv), title=title, abstract=abstract,
                  sources=[Source(self.name, line, len(self.entries) + 1)], **meta)
        self.entries.append(p)
        return p


def parse_daily_papers(text: str, sink: _Sink) -> None:
    """Parse one Hugging Face daily-papers dump. Content lines alternate title / abstract; metadata lines
    ("• 3 authors", "·", "Sep 27, 2023 2") follow the abstract they describe; page noise is dropped."""
    pending: tuple[int, str] | None = None  # a title waiting for its abstract
    last: Paper | None = None  # the paper metadata lines attach to
    prev_meta = False  # was the previous content line a metadata line of `last`?
    for lineno, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s:
            continue
        m_auth = AUTHORS_LINE.match(s)
        if m_auth:
            if last is not None and pending is None:
                last.n_authors = int(m_auth.group(1))
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
                last.upvotes = int(votes) if votes else 0
            prev_meta = False
            continue
        if s.lower() in NOISE_LINES:
            continue
        prev_meta = False
        s = clean_title(s) if pending is None else " ".join(s.split())
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
    if value is None:
        return []
    if isinstance(value, list):
        out = []
        for a in value:
            if isinstance(a, list):  # arXiv "authors_parsed": [last, first, suffix]
                a = " ".join(x for x in reversed(a[:2]) if x)
            out.append(" ".join(str(a).split()))
        return [a for a in out if a]
    parts = re.split(r",\s*|\s+and\s+|;\s*", str(value))
    return [" ".join(p.split()) for p in parts if p.strip()]


def _record_to_paper(rec: dict[str, Any], line: int, sink: _Sink) -> None:
    rec = {str(k).strip().lower(): v for k, v in rec.items()}
    title = rec.get("title")
    abstract = rec.get("abstract") or rec.get("summary")
    if not isinstance(title, str) or not title.strip():
        sink.warn(line, "record has no 'title'; skipped")
        return
    if abstract is not None and not isinstance(abstract, str):
        sink.warn(line, "'abstract' is not text; skipped")
        return
    authors = _authors(rec.get("authors_parsed") or rec.get("authors"))
    raw_date = rec.get("date") or rec.get("update_date") or rec.get("published")
    date = None
    if isinstance(raw_date, str) and raw_date.strip():
        try:
            date = datetime.fromisoformat(raw_date.strip()[:10]).date().isoformat()
        except ValueError:
            sink.warn(line, f"date {raw_date!r} is not ISO (yyyy-mm-dd); kept the paper without it")
    rid = str(rec.get("id") or "").strip()
    arxiv = rid if ARXIV_ID.match(rid) else None
    url = rec.get("url") or (f"https://arxiv.org/abs/{arxiv}" if arxiv else None)
    votes = rec.get("upvotes")
    sink.add(line, title, abstract or "", authors=authors, n_authors=len(authors) or None, date=date,
             date_text=raw_date if isinstance(raw_date, str) else None, url=url, arxiv_id=arxiv,
             upvotes=votes if isinstance(votes, int) else None)


def parse_jsonl(text: str, sink: _Sink) -> None:
    """JSON lines (also the arXiv snapshot format). A whole-file JSON array is accepted too."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            sink.warn(e.lineno, f"malformed JSON array ({e.msg})")
            return
        for i, rec in enumerate(data, start=1):
            if isinstance(rec, dict):
                _record_to_paper(rec, i, sink)
            else:
                sink.warn(i, "array item is not an object; skipped")
        return
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            sink.warn(lineno, f"malformed JSON ({e.msg} at column {e.colno}); line skipped")
            continue
        if not isinstance(rec, dict):
            sink.warn(lineno, "JSON value is not an object; line skipped")
            continue
        _record_to_paper(rec, lineno, sink)


def parse_csv(text: str, sink: _Sink) -> None:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as e:
        sink.warn(1, f"unreadable CSV header ({e})")
        return
    if "title" not in header:
        sink.warn(1, f"CSV has no 'title' column (columns: {', '.join(header) or 'none'}); file skipped")
        return
    if "abstract" not in header and "summary" not in header:
        sink.warn(1, "CSV has no 'abstract' column; file skipped")
        return
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            sink.warn(reader.line_num, f"malformed CSV row ({e}); skipped")
            continue
        if None in row:  # more cells than header columns
            sink.warn(reader.line_num, "row has more cells than the header; extra cells ignored")
            row.pop(None)
        _record_to_paper(row, reader.line_num, sink)


def detect_format(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    head = text.lstrip()[:1]
    if head in "{[" and head:
        return "jsonl"
    return "daily"


def read_text(path: Path, sink: _Sink, max_bytes: int) -> str | None:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            sink.warn(None, f"file is {size} bytes (max {max_bytes}); skipped")
            return None
        data = path.read_bytes()
    except OSError as e:
        sink.warn(None, f"cannot read file ({e.strerror or e}); skipped")
        return None
    if not data.strip():
        sink.warn(None, "file is empty; skipped")
        return None
    if b"\x00" in data[:8192]:
        sink.warn(None, "binary file (not text); skipped")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        text = data.decode("utf-8", errors="replace")
        if text.count("\ufffd") > max(8, len(text) // 100):
            sink.warn(None, "binary or non-UTF-8 file; skipped")
            return None
        sink.warn(None, f"invalid UTF-8 at byte {e.start}; bad bytes replaced")
        return text


def expand_paths(paths: Iterable[Path]) -> Iterator[tuple[Path, str | None]]:
    """Files to read, with an error for paths that do not exist. Folders are walked (sorted)."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not files:
                yield p, "folder has no .txt/.jsonl/.json/.csv files"
            for f in files:
                yield f, None
        elif p.exists():
            yield p, None
        else:
            yield p, "no such file or folder"


def parse_file(path: Path, max_abstract_chars: int = 20_000, max_file_bytes: int = 200_000_000,
               display_name: str | None = None) -> tuple[list[Paper], list[str]]:
    """Entries (not yet merged) and warnings for one file."""
    sink = _Sink(display_name or str(path), max_abstract_chars)
    text = read_text(path, sink, max_file_bytes)
    if text is not None:
        fmt = detect_format(path, text)
        {"jsonl": parse_jsonl, "csv": parse_csv, "daily": parse_daily_papers}[fmt](text, sink)
        if not sink.entries and not sink.warnings:
            sink.warn(None, "no papers found")
    return sink.entries, sink.warnings


def merge(entries: Iterable[Paper]) -> list[Paper]:
    """One Paper per normalized title, first-seen order; later copies add their sources and fill gaps."""
    by_key: dict[str, Paper] = {}
    for e in entries:
        key = normalize_title(e.title)
        p = by_key.get(key)
        if p is None:
            by_key[key] = Paper(**{**e.__dict__, "sources": list(e.sources), "authors": list(e.authors)})
            continue
        p.sources.extend(e.sources)
        if len(e.abstract) > len(p.abstract):
            p.abstract = e.abstract
        for attr in ("n_authors", "date", "date_text", "upvotes", "url"):
            if getattr(p, attr) is None and getattr(e, attr) is not None:
                setattr(p, attr, getattr(e, attr))
        if not p.authors and e.authors:
            p.authors = list(e.authors)
        if e.paper_id.startswith("arxiv-") and not p.paper_id.startswith("arxiv-"):
            p.paper_id = e.paper_id
    return list(by_key.values())


def load_corpus(paths: Iterable[Path], max_abstract_chars: int = 20_000, max_file_bytes: int = 200_000_000,
                root: Path | None = None) -> ParseResult:
    """Parse every file under `paths` and merge duplicates. Source names are relative to `root` if given."""
    result = ParseResult()
    entries: list[Paper] = []
    for path, problem in expand_paths(paths):
        name = _display(path, root)
        if problem:
            result.warnings.append(f"{name}: {problem}")
            continue
        found, warns = parse_file(path, max_abstract_chars, max_file_bytes, display_name=name)
        result.warnings.extend(warns)
        if found:
            result.files.append(name)
        entries.extend(found)
    result.entries = len(entries)
    result.papers = merge(entries)
    return result


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)
