"""Cleaning what source files hold into a paper record's fields: page-noise lines of the daily-papers dumps,
control characters, titles glued to "Subscribe", line splitting that matches editors' line numbers, and paper
ids (the row's own id exactly, else a slug of the normalized title)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

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
