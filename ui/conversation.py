"""One chat session as data: each turn is the question and either its Answer or the error it met, stored as
plain JSON (what the browser keeps across a reload) and turned back into Answers for the chat, the follow-up
history and the Markdown export with its references list. Restored data comes from the browser: it is
checked field by field and anything malformed is dropped, never trusted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rag import Answer, Citation, Hit, Paper

from .render import answer_markdown, error_markdown, paper_link, user_markdown

STORE_VERSION = 1
MAX_TURNS = 200  # what a restored conversation may hold
MAX_TEXT = 60_000  # characters of one stored answer


def turn_record(question: str, answer: Answer | None = None, error: str | None = None) -> dict[str, Any]:
    """A JSON-able record of one turn. Sources keep only ids and why they were found: the papers themselves
    (abstract, authors, links) are looked up in the collection when the turn is shown again."""
    if answer is None:
        return {"q": question, "error": error or "unknown error"}
    return {"q": question, "answer": {
        "text": answer.text, "abstained": answer.abstained, "mode": answer.mode, "model": answer.model,
        "notice": answer.notice, "reason": answer.reason, "attributed": list(answer.attributed),
        "citations": [c.to_dict() for c in answer.citations],
        "sources": [{"paper_id": h.paper_id, "title": h.title, "score": h.score, "text": h.text, "side": h.side,
                     "similarity": h.similarity, "named_as": h.named_as} for h in answer.sources]}}


def _str(v: Any, limit: int = 2000) -> str | None:
    return v[:limit] if isinstance(v, str) else None


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0


def answer_of(record: Mapping[str, Any], papers: Mapping[str, Paper]) -> Answer | None:
    """The Answer a stored turn holds (papers looked up by id), or None when it is an error turn."""
    a = record.get("answer")
    if not isinstance(a, Mapping):
        return None
    cites = [Citation(int(c["n"]), str(c["paper_id"]), str(c["title"]), _str(c.get("quote")) or "")
             for c in a.get("citations") or [] if isinstance(c, Mapping) and isinstance(c.get("n"), int)
             and isinstance(c.get("paper_id"), str) and isinstance(c.get("title"), str)]
    hits = [Hit(s["paper_id"], s["title"], _num(s.get("score")), _str(s.get("text"), 4000) or "",
                side=_str(s.get("side"), 200), similarity=_num(s.get("similarity")),
                named_as=_str(s.get("named_as"), 200), paper=papers.get(s["paper_id"]))
            for s in a.get("sources") or [] if isinstance(s, Mapping) and isinstance(s.get("paper_id"), str)
            and isinstance(s.get("title"), str)]
    mode = a.get("mode") if a.get("mode") in ("llm", "extractive") else "extractive"
    return Answer(str(record.get("q", "")), _str(a.get("text"), MAX_TEXT) or "", cites, hits,
                  bool(a.get("abstained")), mode, notice=_str(a.get("notice")), model=_str(a.get("model"), 200),
                  reason=_str(a.get("reason")),
                  attributed=[t for t in map(_str, _list(a.get("attributed"))) if t])


def valid_turns(stored: Any) -> list[dict[str, Any]]:
    """The turns of a stored conversation that are well-formed (the rest dropped)."""
    turns = stored.get("turns") if isinstance(stored, Mapping) and stored.get("v") == STORE_VERSION else None
    out: list[dict[str, Any]] = []
    for t in turns if isinstance(turns, list) else []:
        if not isinstance(t, Mapping) or not isinstance(t.get("q"), str) or not t["q"].strip():
            continue
        if isinstance(t.get("answer"), Mapping) and isinstance(t["answer"].get("text"), str):
            out.append({"q": t["q"][:20_000], "answer": dict(t["answer"])})
        elif isinstance(t.get("error"), str):
            out.append({"q": t["q"][:20_000], "error": t["error"][:2000]})
    return out[-MAX_TURNS:]


def stored(turns: list[dict[str, Any]]) -> dict[str, Any]:
    return {"v": STORE_VERSION, "turns": turns}


def history_of(turns: list[dict[str, Any]]) -> list[dict[str, str]]:
    """What the engine sees for follow-ups: the questions and answer texts of the answered turns."""
    out: list[dict[str, str]] = []
    for t in turns:
        if isinstance(t.get("answer"), Mapping):
            out += [{"role": "user", "content": t["q"]}, {"role": "assistant", "content": t["answer"]["text"]}]
    return out


def messages_of(turn: Mapping[str, Any], papers: Mapping[str, Paper]) -> list[dict[str, str]]:
    """The two chat messages of a stored turn."""
    answer = answer_of(turn, papers)
    reply = answer_markdown(answer) if answer is not None else error_markdown(str(turn.get("error", "")))
    return [{"role": "user", "content": user_markdown(turn["q"])}, {"role": "assistant", "content": reply}]


# --- export -----------------------------------------------------------------------------------------------------
def _plain(text: str) -> str:
    """The answer as Markdown without the chat's HTML (callout wrappers)."""
    return re.sub(r"</?div[^>]*>", "", text).strip()


def export_markdown(turns: list[dict[str, Any]], papers: Mapping[str, Paper], now: datetime | None = None) -> str:
    """The conversation as Markdown: each question and answer with that answer's numbered sources, then one
    References list of every cited paper (exact titles and links, in order of first citation)."""
    now = now or datetime.now()
    n_q = len(turns)
    lines = ["# Ask the papers: conversation", "",
             f"Exported {now:%Y-%m-%d %H:%M} · {n_q} question{'s' if n_q != 1 else ''}. "
             "Answers quote paper abstracts; [n] refers to the sources listed under each answer.", ""]
    refs: dict[str, tuple[str, str]] = {}
    for i, t in enumerate(turns, 1):
        lines += [f"## {i}. {' '.join(t['q'].split())}", ""]
        answer = answer_of(t, papers)
        if answer is None:
            lines += [f"*Could not answer: {t.get('error', '')}*", ""]
            continue
        if answer.notice:
            lines += [f"> Note: {answer.notice}", ""]
        if answer.abstained:
            lines += ["> Not covered by the collection." + (f" {answer.reason}" if answer.reason else ""), ""]
        lines += [_plain(answer.text), ""]
        if answer.citations:
            lines += ["**Sources**", ""]
            for c in answer.citations:
                url, _ = paper_link(c.paper_id, c.title, papers.get(c.paper_id))
                title = re.sub(r"([\[\]])", r"\\\1", c.title)
                lines.append(f"{c.n}. [{title}]({url}) — “{' '.join(c.quote.split())}”")
                refs.setdefault(c.paper_id, (c.title, url))
            lines.append("")
    lines += ["## References", ""]
    lines += [f"- {title} — <{url}>" for title, url in refs.values()] or ["(no paper was cited)"]
    return "\n".join(lines) + "\n"


def references_of(markdown: str) -> list[str]:
    """The titles in an exported file's References list (what the tests and a reader check)."""
    tail = markdown.split("\n## References\n", 1)[-1]
    return [m.group(1) for m in re.finditer(r"^- (.+) — <[^>]+>$", tail, re.M)]
