"""Follow-up questions → standalone questions. Without an LLM, pronouns ("it", "the second one", "both")
are replaced by the papers named in the latest turns of the history; with an LLM, a condense prompt does
it (falling back to this rule on failure)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .aliases import AliasIndex

_ANAPHORA = re.compile(
    r"\b(?P<first>the first( one)?|the former)\b|\b(?P<second>the second( one)?|the latter|the other( one)?)\b|"
    r"\b(?P<plural>they|them|both( of them)?|these( two)?( papers| methods| works)?|the two( papers)?|"
    r"those( two)?( papers)?)\b|\b(?P<poss>its)\b|"
    r"\b(?P<single>it|this (paper|work|method|model|approach|one|architecture|technique)|that (paper|work|"
    r"method|model|approach|one)|the (paper|method|model|approach|architecture|technique)|that(?=\s*[?.!]*\s*$))\b",
    re.I)
# "that routing problem", "such subnetworks", "the same idea": points back without naming the paper
_DEMONSTRATIVE = re.compile(r"\b(that|this|those|these|such|the same)\s+[a-z][\w-]+", re.I)
_BOLD_TITLE = re.compile(r"\*\*(?:\[\d+\]\s*)?([^*]{8,300})\*\*|^\[\d+\]\s+(.+)$", re.M)


def names_in_turn(text: str, aliases: AliasIndex) -> list[str]:
    """Paper names a turn mentions, in order of first mention (aliases as written, or bold titles)."""
    found: list[tuple[int, str, str]] = []  # (position, paper_id, name)
    for m in aliases.find(text):
        found.append((m.start, m.paper_id, m.alias))
    out: list[str] = []
    seen: set[str] = set()
    for _, pid, name in sorted(found):
        if pid not in seen:
            seen.add(pid)
            out.append(name)
    if not out:
        for m in _BOLD_TITLE.finditer(text):
            title = (m.group(1) or m.group(2) or "").strip()
            if title and title not in out:
                out.append(title)
    return out


def referents(history: Sequence[dict[str, str]], aliases: AliasIndex) -> list[str]:
    """Names from the most recent turn (user turns first) that names any paper."""
    turns = [t for t in history if isinstance(t, dict) and isinstance(t.get("content"), str)]
    for turn in reversed(turns):
        if turn.get("role") == "user":
            names = names_in_turn(turn["content"], aliases)
            if names:
                return names
    for turn in reversed(turns):
        names = names_in_turn(turn["content"], aliases)
        if names:
            return names
    return []


def resolve(question: str, history: Sequence[dict[str, str]] | None, aliases: AliasIndex) -> str:
    """A standalone version of `question` (unchanged when it needs no context)."""
    if not history:
        return question
    names = referents(history, aliases)
    if not names:
        return question
    own = aliases.find(question)
    m = _ANAPHORA.search(question)
    if m is None:
        if own or (len(question.split()) > 12 and not _DEMONSTRATIVE.search(question)):
            return question
        return f"{question.rstrip('?. ')} ({' and '.join(names[:2])})?"
    if m.group("first"):
        repl = names[0]
    elif m.group("second"):
        repl = names[1] if len(names) > 1 else names[0]
    elif m.group("plural"):
        repl = " and ".join(names[:3]) if len(names) > 1 else names[0]
    elif m.group("poss"):
        repl = f"{names[0]}'s"
    else:
        # "How does it compare with RaftMLP?": "it" is the earlier paper not named in the question.
        named_now = {a.alias.lower() for a in own}
        repl = next((n for n in names if n.lower() not in named_now), names[0])
    return question[: m.start()] + repl + question[m.end():]
