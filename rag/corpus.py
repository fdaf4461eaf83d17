"""Read paper collections into `Paper` records: Hugging Face daily-papers page dumps (three layouts),
JSONL / CSV (`title`, `abstract`, optional `authors`, `date`, `url`, `id`), a BEIR `corpus.jsonl` (`_id`,
`title`, `text`) and the arXiv metadata snapshot. Bad input never raises: each problem becomes one warning
naming file:line, and everything valid is kept.

Ids: a row's own `id` / `_id` (cleaned) is its `paper_id`, exactly; only rows without one get an id made from
the normalized title. Rows with one id are one paper; rows without an id merge by normalized title.

The daily-papers parser is hand-written because no library knows these page dumps."""

from __future__ import annotations

import bisect
import codecs
import csv
import hashlib
import itertools
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
# ASCII digits only (int() also parses Arabic-Indic ones); counts are read through _count().
DATE_LINE = re.compile(rf"^({_MONTHS})[a-z]*\.? ([0-9]{{1,2}})(?:, ([0-9]{{4}}))?(?: ([0-9]+))?$")
AUTHORS_LINE = re.compile(r"^•\s*([0-9]+)\s+authors?$")
GLUED_PREFIX = re.compile(r"^Subscribe(?=[A-Z0-9\"'(\[])")
MAX_ID_CHARS = 200  # a longer "id" is some other column's text, not an identifier
ARXIV_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)$", re.I)

# A title is a short line; an abstract is a long one. In the real dumps titles are < 200 characters and
# abstracts > 400, so the gap between the two limits leaves room for odd user files.
MAX_TITLE_CHARS = 300
MIN_ABSTRACT_CHARS = 80
MAX_WARNING_CHARS = 300
MAX_INT_META = 2**31 - 1  # Chroma metadata ints are 64-bit; anything this big in a paper record is garbage
# Control characters (NUL, escape codes, C1) and lone surrogates (from JSON "\ud800"): they break the store's
# UTF-8 encoding or the terminal, and never belong in a title or abstract.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NEWLINE = re.compile(r"\r\n|\r|\n")


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


def paper_id_for(title: str) -> str:
    """The id of a paper whose row gives none: a slug of the normalized title plus a short hash (stable)."""
    norm = normalize_title(title)
    slug = "-".join(norm.split())[:48].strip("-") or "paper"
    return f"{slug}-{hashlib.sha1(norm.encode()).hexdigest()[:8]}"


def clean_id(value: Any) -> str:
    """A user's id as the paper id: any text or whole number, control characters removed, ends stripped
    ("" when none is given). Nothing else is changed, so search returns exactly the id the row gave."""
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return _CONTROL.sub("", str(value)).strip()


def title_from_text(text: str, words: int = 12) -> str:
    """The title of a row that gives an id and a text but no title (common in BEIR corpora): the text's
    first `words` words, with "…" when the text goes on."""
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def clean_text(value: Any) -> str:
    """One line of printable text: control characters become spaces, whitespace runs collapse."""
    return " ".join(_CONTROL.sub(" ", str(value)).split())


def split_lines(text: str) -> list[str]:
    """Lines as editors count them. str.splitlines() also breaks at U+2028, U+0085 and \\x1c-\\x1e, which
    JSON allows inside strings and which would make every later "file:line" wrong."""
    return _NEWLINE.split(text)


def clean_title(line: str) -> str:
    return " ".join(GLUED_PREFIX.sub("", line.strip()).split())


def is_noise(line: str) -> bool:
    s = line.strip()
    return s.lower() in NOISE_LINES or bool(DATE_LINE.match(s)) or bool(AUTHORS_LINE.match(s))


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


class _Sink:
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


def parse_daily_papers(text: str, sink: _Sink) -> None:
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


def _record_to_paper(rec: dict[str, Any], line: int, sink: _Sink) -> None:
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


def parse_jsonl(text: str, sink: _Sink) -> None:
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


def _parse_json_array(text: str, sink: _Sink) -> None:
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


def parse_csv(text: str, sink: _Sink) -> None:
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


def _csv_rows(lines: list[str], pos: int, header: list[str], dialect: Any, sink: _Sink) -> int:
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
            sink.warn(None, f"file is {size:,} bytes (max {max_bytes:,}); skipped")
            return None
        data = path.read_bytes()
    except OSError as e:
        sink.warn(None, f"cannot read file ({e.strerror or e}); skipped")
        return None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            sink.warn(None, "binary or broken UTF-16 file; skipped")
            return None
    if not data.strip():
        sink.warn(None, "file is empty; skipped")
        return None
    head = data[:8192]
    # Binary formats are full of NULs; a stray one in a text file is cleaned away with the other controls.
    if head.count(b"\x00") > max(2, len(head) // 200):
        sink.warn(None, "binary file (not text); skipped")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        text = data.decode("utf-8-sig", errors="replace")
        if text.count("\ufffd") > max(8, len(text) // 5):
            sink.warn(None, "binary or non-UTF-8 file; skipped")
            return None
        sink.warn(None, f"invalid UTF-8 at byte {e.start}; bad bytes replaced")
        return text


def is_beir_folder(folder: Path) -> bool:
    """A BEIR dataset folder: `corpus.jsonl` next to `queries.jsonl` and/or `qrels/`."""
    return (folder / "corpus.jsonl").is_file() and ((folder / "queries.jsonl").is_file()
                                                    or (folder / "qrels").is_dir())


def _folder_files(folder: Path) -> list[Path]:
    """Supported files under `folder` (sorted, hidden ones left out). Of a BEIR folder (the folder itself or one
    inside it) only `corpus.jsonl` is read: its queries are claims, not papers."""
    files = sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES
                   and not any(part.startswith(".") for part in f.relative_to(folder).parts))
    beir = {f.parent for f in files if f.name == "corpus.jsonl" and is_beir_folder(f.parent)}
    if not beir:
        return files
    return [f for f in files if f.name == "corpus.jsonl" and f.parent in beir
            or not any(f.is_relative_to(b) for b in beir)]


def expand_paths(paths: Iterable[Path]) -> Iterator[tuple[Path, str | None]]:
    """Files to read, with an error for paths that do not exist. Folders are walked (sorted)."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files = _folder_files(p)
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


def has_own_id(paper: Paper) -> bool:
    """Did the paper's row give its id? Ids made from titles are exactly `paper_id_for(title)`; a user id
    equal to that string would be merged by title, as the id says it should."""
    return paper.paper_id != paper_id_for(paper.title)


def merge(entries: Iterable[Paper]) -> list[Paper]:
    """One Paper per id, first-seen order; later copies add their sources and fill gaps.

    Rows that give an id merge with the rows of the same id. A row without an id joins the first paper of the
    same normalized title (with or without an id); a row with an id joins a title-only paper of its title
    and that paper takes the id. Two different ids are two papers, whatever their titles."""
    papers: list[Paper] = []
    by_id: dict[str, Paper] = {}  # given ids
    by_title: dict[str, Paper] = {}  # the first paper of each normalized title
    untitled_ids: set[int] = set()  # id() of papers whose id is still made from the title
    for e in entries:
        key = normalize_title(e.title)
        own = has_own_id(e)
        p = by_id.get(e.paper_id) if own else by_title.get(key)
        if p is None and own and id(by_title.get(key)) in untitled_ids:
            p = by_title[key]  # the id row names the paper its title-only copies described
            untitled_ids.discard(id(p))
            p.paper_id = e.paper_id
            by_id[e.paper_id] = p
        if p is None:
            p = Paper(**{**e.__dict__, "sources": list(e.sources), "authors": list(e.authors)})
            papers.append(p)
            by_title.setdefault(key, p)
            if own:
                by_id[e.paper_id] = p
            else:
                untitled_ids.add(id(p))
            continue
        _fill(p, e)
    return papers


def _fill(p: Paper, e: Paper) -> None:
    """Merge copy `e` into `p`: its sources, a longer abstract, and the metadata `p` lacks."""
    p.sources.extend(e.sources)
    if len(e.abstract) > len(p.abstract):
        p.abstract = e.abstract
    for attr in ("n_authors", "date", "date_text", "upvotes", "url"):
        if getattr(p, attr) is None and getattr(e, attr) is not None:
            setattr(p, attr, getattr(e, attr))
    if not p.authors and e.authors:
        p.authors = list(e.authors)


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
