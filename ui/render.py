"""How the chat looks: the answer as chat markdown, the sources panel as HTML cards, the mode badge, the
header and the page CSS. Plain strings from rag records, no gradio, so it is cheap to import and to test."""

from __future__ import annotations

import html
import re
from typing import Any

from rag import Answer, Hit
from rag.errors import IndexMissingError, RagError

PLACEHOLDER = ("### Ask a question about the papers\n"
               "Compare two papers, ask which papers cover a topic, or ask what a method does. Answers quote "
               "the abstracts and cite every claim as **[n]**; the cited papers are listed on the right.")
SOURCES_EMPTY = ('<div class="src-empty"><b>Sources</b><p>Each paper cited in the answer appears here: its '
                 "exact title, the passage quoted, date, authors, upvotes and retrieval score.</p></div>")
SOURCES_WAIT = '<div class="src-empty"><p>Searching the collection…</p></div>'


def esc(text: Any) -> str:
    return html.escape(str(text), quote=False)


def model_badge(settings: Any, use_llm: bool | None = True, model: str | None = None) -> str:
    """The mode badge: the LLM's model name, or why answers are extractive."""
    if not settings.llm_enabled:
        label, cls = "extractive (no LLM configured)", "mode-extractive"
    elif not use_llm:
        label, cls = "extractive (LLM switched off)", "mode-extractive"
    else:
        label, cls = f"LLM · {model or settings.llm_model or 'OpenAI default model'}", "mode-llm"
    return f'<div class="mode-badge {cls}" title="How answers are written">{esc(label)}</div>'


def header_html(n_papers: int | None, index_problem: str | None) -> str:
    what = f"{n_papers:,} research-paper abstracts" if n_papers else "a collection of research-paper abstracts"
    sub = (f"Ask about {what}. Every claim is cited [n] to a paper by its exact title; when the collection "
           "does not cover a question, the answer says so.")
    warn = f'<div class="index-warn">{esc(index_problem)}</div>' if index_problem else ""
    return f'<div class="app-header"><h1>Ask the papers</h1><p>{esc(sub)}</p>{warn}</div>'


def _meta_line(hit: Hit | None) -> str:
    if hit is None:
        return ""
    paper = hit.paper
    parts: list[str] = []
    when = paper and (paper.date_text or paper.date)
    if when:
        parts.append(esc(when))
    authors = [a for a in (paper.authors if paper else []) if a]
    n_auth = paper.n_authors if paper else None
    if authors:
        shown = ", ".join(authors[:3]) + (" et al." if len(authors) > 3 or (n_auth or 0) > 3 else "")
        parts.append(esc(shown))
    elif n_auth:
        parts.append(f"{n_auth} author{'s' if n_auth != 1 else ''}")
    if paper and paper.upvotes is not None:
        parts.append(f"▲ {int(paper.upvotes)} upvote{'s' if paper.upvotes != 1 else ''}")
    parts.append(f"score {hit.score:.3f}")
    parts.append(f"similarity {hit.similarity:.2f}")
    tags = ""
    if hit.named_as:
        tags += f'<span class="src-tag">named: {esc(hit.named_as)}</span>'
    elif hit.side:
        tags += f'<span class="src-tag">side: {esc(hit.side)}</span>'
    return f'<div class="src-meta">{" · ".join(parts)}{tags}</div>'


def _title(hit: Hit | None, title: str) -> str:
    url = hit.paper.url if hit and hit.paper else None
    if url and re.match(r"https?://", str(url)):
        return f'<a href="{html.escape(str(url))}" target="_blank" rel="noopener">{esc(title)}</a>'
    return esc(title)


def sources_html(answer: Answer) -> str:
    """The sources panel: each cited paper as a card; retrieved-but-uncited papers folded below.
    An abstention shows the closest papers under a callout saying they are not evidence."""
    by_id = {h.paper_id: h for h in answer.sources}
    out: list[str] = []
    if answer.abstained:
        out.append('<div class="src-abstain"><b>Not covered by the collection.</b> No abstract answers this; '
                   "the closest papers are listed for orientation, not as evidence.</div>")
        for hit in answer.sources[:3]:
            out.append(f'<div class="src-card src-closest"><div class="src-title">{_title(hit, hit.title)}</div>'
                       f'<div class="src-quote">{esc(_clip(hit.text, 320))}</div>{_meta_line(hit)}</div>')
        return '<div class="src-panel">' + "".join(out) + "</div>"
    n_cited = len(answer.citations)
    mode = f"LLM · {answer.model}" if answer.mode == "llm" and answer.model else answer.mode
    out.append(f'<div class="src-head"><b>Sources</b><span>{n_cited} cited · {esc(mode)}</span></div>')
    for c in answer.citations:
        hit = by_id.get(c.paper_id)
        out.append(f'<div class="src-card"><div class="src-title"><span class="src-n">{c.n}</span>'
                   f"{_title(hit, c.title)}</div>"
                   f'<div class="src-quote">“{esc(c.quote)}”</div>{_meta_line(hit)}</div>')
    cited = {c.paper_id for c in answer.citations}
    rest = [h for h in answer.sources if h.paper_id not in cited]
    if rest:
        items = "".join(f"<li>{_title(h, h.title)} <span>score {h.score:.3f}</span></li>" for h in rest)
        out.append(f'<details class="src-more"><summary>{len(rest)} more retrieved, not cited</summary>'
                   f"<ul>{items}</ul></details>")
    return '<div class="src-panel">' + "".join(out) + "</div>"


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + " …"


def answer_markdown(answer: Answer) -> str:
    """What the chat shows for a final answer (the engine's markdown, with a callout when it abstains)."""
    body = answer.text
    if answer.abstained:
        body = f'<div class="abstain">\n\n{body}\n\n</div>'
    if answer.notice:
        body = f"> **Note:** {answer.notice}\n\n{body}"
    return body


def error_markdown(message: str) -> str:
    return f'<div class="chat-error">\n\n**Could not answer.** {message}\n\n</div>'


def error_html(message: str) -> str:
    return f'<div class="src-error"><b>Could not answer.</b> {esc(message)}</div>'


def sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")) if text else text


def error_message(e: BaseException) -> str:
    """One readable sentence for the user; the index-missing one always names the command that fixes it."""
    if isinstance(e, IndexMissingError):
        msg = sentence(str(e))
        return msg if "rag ingest" in msg else f"{msg} Build the index with `rag ingest`."
    if isinstance(e, RagError):
        return sentence(str(e))
    return "Something went wrong while answering; the server log has the details."


CSS = """
.gradio-container { max-width: 1320px !important; margin: 0 auto !important; }
.top-row { align-items: center; }
.app-header h1 { font-size: 1.6rem; font-weight: 700; margin: 0 0 .15rem; letter-spacing: -.01em; }
.app-header p { margin: 0; color: var(--body-text-color-subdued); font-size: .95rem; max-width: 820px; }
.index-warn { margin-top: .5rem; padding: .45rem .7rem; border-radius: 6px; background: #fef3c7;
  color: #92400e; font-size: .9rem; }
.badge-html { display: flex; justify-content: flex-end; flex-grow: 0 !important; min-width: min-content !important; }
.mode-badge { white-space: nowrap; font-size: .82rem; font-weight: 600; padding: .3rem .75rem;
  border-radius: 999px; border: 1px solid; }
.mode-extractive { background: #f1f5f9; color: #334155; border-color: #cbd5e1; }
.mode-llm { background: #eef2ff; color: #3730a3; border-color: #c7d2fe; }
#chat .message-content { font-size: .95rem; color: var(--body-text-color); }
#chat .placeholder-content { display: flex; justify-content: center; padding-top: 7rem; }
#chat .placeholder { max-width: 460px; text-align: center; color: var(--body-text-color-subdued); }
#chat .placeholder h3 { color: var(--body-text-color); margin-bottom: .4rem; }
#chat table { font-size: .82rem; }
#chat td, #chat th { overflow-wrap: normal !important; word-break: normal !important; vertical-align: top; }
#chat td:first-child { min-width: 9rem; font-weight: 600; }
#chat .abstain { border-left: 4px solid #f59e0b; background: #fffbeb; padding: .2rem .8rem;
  border-radius: 6px; }
#chat .chat-error { border-left: 4px solid #dc2626; background: #fef2f2; padding: .2rem .8rem;
  border-radius: 6px; }
.examples-row { align-items: center; flex-wrap: wrap !important; gap: .4rem !important; }
.examples-row > * { flex: 0 0 auto !important; width: auto !important; }
.ex-label-html { flex-grow: 0 !important; min-width: min-content !important; }
.ex-label { font-size: .85rem; color: var(--body-text-color-subdued); }
.example-btn { font-weight: 400 !important; border-radius: 999px !important; white-space: nowrap;
  padding: .3rem .8rem !important; }
#sources { max-height: 720px; overflow-y: auto; }
.src-panel, .src-empty, .src-error { display: flex; flex-direction: column; gap: .6rem; }
.src-empty { border: 1px dashed var(--border-color-primary); border-radius: 10px; padding: 1rem;
  color: var(--body-text-color-subdued); }
.src-empty p { margin: .3rem 0 0; font-size: .9rem; }
.src-head { display: flex; justify-content: space-between; align-items: baseline; font-size: 1rem; }
.src-head span { font-size: .8rem; color: var(--body-text-color-subdued); }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: .7rem .85rem;
  background: var(--background-fill-primary); box-shadow: 0 1px 2px rgba(15, 23, 42, .05); }
.src-title { font-weight: 600; line-height: 1.35; font-size: .95rem; }
.src-title a { color: inherit; text-decoration: underline dotted; }
.src-n { display: inline-block; min-width: 1.5rem; margin-right: .45rem; padding: 0 .35rem; border-radius: 6px;
  background: #4f46e5; color: #fff; font-size: .78rem; text-align: center; line-height: 1.35rem; }
.src-quote { margin: .45rem 0 .4rem; padding-left: .7rem; border-left: 3px solid #c7d2fe; font-size: .88rem;
  line-height: 1.45; color: var(--body-text-color); }
.src-meta { font-size: .78rem; color: var(--body-text-color-subdued); }
.src-tag { margin-left: .5rem; padding: 0 .4rem; border-radius: 4px; background: #e0e7ff; color: #3730a3; }
.src-closest { opacity: .85; border-style: dashed; }
.src-abstain { border-left: 4px solid #f59e0b; background: #fffbeb; color: #78350f; padding: .6rem .8rem;
  border-radius: 6px; font-size: .9rem; }
.src-error { border-left: 4px solid #dc2626; background: #fef2f2; color: #7f1d1d; padding: .6rem .8rem;
  border-radius: 6px; font-size: .9rem; }
.src-more summary { cursor: pointer; font-size: .85rem; color: var(--body-text-color-subdued); }
.src-more ul { margin: .3rem 0 0 1rem; padding: 0; font-size: .85rem; }
.src-more li span { color: var(--body-text-color-subdued); font-size: .78rem; }
"""
