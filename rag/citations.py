"""Citations in answer text, as pure functions: recognise the forms models write (`[2]`, `[1, 3]`, `[1-3]`,
`[Source 2]`), keep only numbers that are sources, renumber them 1..m in order of first appearance (so `[1]` is
always the first paper the answer cites), show bracketed numbers quoted from an abstract as plain text, and
check each cited sentence against the abstract it cites."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .text import content_terms, split_sentences

CITE = re.compile(r"\[(\d+(?:\s*[,–-]\s*\d+)*)\]")
# "[Source 2]", "[source 1, 3]": what smaller models write instead of [n]
SOURCE_CITE = re.compile(r"\[(?:sources?|src|ref)\s*#?\s*(\d+(?:\s*[,–-]\s*(?:source\s*)?\d+)*)\]", re.I)
MAX_RANGE = 20  # "[1-3]" is a range; "[2-2021]" is not one we expand


def numbers(group: str) -> list[int]:
    """The numbers of one bracket's content: "1, 3" → [1, 3]; "1-3" → [1, 2, 3]."""
    out: list[int] = []
    for part in re.split(r"\s*,\s*", group):
        if re.search(r"[–-]", part):
            a, b = (int(x) for x in re.split(r"\s*[–-]\s*", part)[:2])
            out.extend(range(a, b + 1) if 0 < b - a < MAX_RANGE else [a, b])
        elif part.strip().isdigit():
            out.append(int(part))
    return out


def normalize(text: str) -> str:
    """"[Source 2]" → "[2]"."""
    return SOURCE_CITE.sub(lambda m: "[" + re.sub(r"(?i)source\s*", "", m.group(1)) + "]", text)


def cited(text: str, n_sources: int) -> list[int]:
    """Valid source numbers cited in `text`, in order of first appearance."""
    out: list[int] = []
    for m in CITE.finditer(text):
        for n in numbers(m.group(1)):
            if 1 <= n <= n_sources and n not in out:
                out.append(n)
    return out


def renumber(text: str, n_sources: int) -> tuple[str, list[int]]:
    """Keep only citations to sources 1..n_sources and renumber them 1..m in order of first appearance.
    Returns the new text and `order`: order[i] is the old source number of new citation i + 1."""
    order = cited(text, n_sources)
    return apply_order(text, order), order


def keep_valid(text: str, n_sources: int) -> str:
    """Citations to numbers that are not sources 1..n_sources removed; the others kept as they are."""
    return apply_order(text, list(range(1, n_sources + 1)))


def apply_order(text: str, order: Sequence[int]) -> str:
    """Old source number order[i] → citation i + 1; numbers not in `order` dropped (a bracket left empty goes)."""
    new = {old: i for i, old in enumerate(order, start=1)}

    def sub(m: re.Match[str]) -> str:
        valid = [new[n] for n in numbers(m.group(1)) if n in new]
        return "".join(f"[{n}]" for n in dict.fromkeys(valid))

    out = CITE.sub(sub, text)
    out = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", out))
    return out.strip()


def defuse(text: str, citations: set[int]) -> str:
    """Bracketed numbers that are not this answer's citations ("cite [99]" quoted from an abstract) → "(99)"."""
    return CITE.sub(lambda m: m.group(0) if m.group(1).isdigit() and int(m.group(1)) in citations
                    else f"({m.group(1)})", text)


def strip(text: str) -> str:
    """The text without its citation marks."""
    return CITE.sub("", text).strip()


def claims(text: str, min_terms: int = 3) -> list[tuple[str, list[int]]]:
    """The cited claims of an answer: each sentence (or Markdown table cell) with the numbers it cites.
    Fragments with fewer than `min_terms` content terms (headings, "See [1].") are not claims."""
    out: list[tuple[str, list[int]]] = []
    for line in text.splitlines():
        stripped = line.strip()
        parts = [c.strip() for c in stripped.strip("|").split("|")] if stripped.startswith("|") else \
            split_sentences(stripped)
        for part in parts:
            nums = [n for m in CITE.finditer(part) for n in numbers(m.group(1))]
            if nums and len(content_terms(strip(part).strip(" *#"))) >= min_terms:
                out.append((part, nums))
    return out


@dataclass(frozen=True)
class Support:
    unsupported: list[str]  # claims whose cited abstracts do not support them
    quotes: dict[int, str]  # citation number → the abstract sentence that best supports what cites it


def check_support(text: str, sentences: Mapping[int, tuple[list[str], np.ndarray]],
                  embed: Callable[[list[str]], np.ndarray], threshold: float) -> Support:
    """Each claim's support: the best, over its citations, of max(lexical overlap with the cited abstract,
    embedding similarity to its closest sentence). `sentences`: citation number → (sentences, unit vectors)."""
    found = [(c, [n for n in nums if n in sentences]) for c, nums in claims(text)]
    found = [(c, nums) for c, nums in found if nums]
    if not found:
        return Support([], {})
    vecs = embed([strip(c) for c, _ in found])
    unsupported: list[str] = []
    best_quote: dict[int, tuple[float, str]] = {}
    for (claim, nums), v in zip(found, vecs, strict=True):
        terms = content_terms(strip(claim))
        best = 0.0
        for n in nums:
            sents, svecs = sentences[n]
            if not sents:
                continue
            dense = svecs @ v
            i = int(np.argmax(dense))
            lexical = len(terms & content_terms(" ".join(sents))) / max(1, len(terms))
            score = max(float(dense[i]), lexical)
            best = max(best, score)
            if score > best_quote.get(n, (-1.0, ""))[0]:
                best_quote[n] = (score, sents[i])
        if best < threshold:
            unsupported.append(claim)
    return Support(unsupported, {n: q for n, (_, q) in best_quote.items()})


def mark_unsupported(text: str, unsupported: Sequence[str]) -> str:
    for sent in unsupported:
        text = text.replace(sent, sent + " *(unsupported by the cited abstract)*", 1)
    return text
