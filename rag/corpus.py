"""Read paper collections into `Paper` records: Hugging Face daily-papers page dumps (three layouts),
JSONL / CSV (`title`, `abstract`, optional `authors`, `date`, `url`, `id`), a BEIR `corpus.jsonl` (`_id`,
`title`, `text`) and the arXiv metadata snapshot. Bad input never raises: each problem becomes one warning
naming file:line, and everything valid is kept.

Ids: a row's own `id` / `_id` (cleaned) is its `paper_id`, exactly; only rows without one get an id made from
the normalized title. Rows with one id are one paper; rows without an id merge by normalized title.

The format parsers are in `formats`, the field cleaning in `cleaning`; this module finds the files, reads them
safely and merges the copies of one paper."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .cleaning import (  # re-exported: the public helpers of reading a collection
    MAX_ID_CHARS,
    MAX_INT_META,
    MAX_TITLE_CHARS,
    NOISE_LINES,
    normalize_title,
    paper_id_for,
)
from .formats import Sink, parse_csv, parse_daily_papers, parse_jsonl
from .types import Paper

__all__ = ["MAX_ID_CHARS", "MAX_INT_META", "MAX_TITLE_CHARS", "NOISE_LINES", "ParseResult", "load_corpus", "merge",
           "normalize_title", "paper_id_for", "parse_file"]

SUPPORTED_SUFFIXES = {".txt", ".md", ".jsonl", ".json", ".ndjson", ".csv"}


@dataclass
class ParseResult:
    papers: list[Paper] = field(default_factory=list)  # unique papers, duplicates merged
    entries: int = 0  # entries read before merging
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # files that yielded at least one entry


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


def read_text(path: Path, sink: Sink, max_bytes: int) -> str | None:
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
    sink = Sink(display_name or str(path), max_abstract_chars)
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
