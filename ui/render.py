"""How the chat looks: each answer as chat markdown with clickable [n] and its own numbered sources, the
sources panel, source cards (the quoted passage marked inside its abstract), links to papers, error notices,
the mode badge and the header. Plain strings from rag records, no gradio, so it is cheap to import and test."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import date
from typing import Any
from urllib.parse import quote_plus

from rag import Answer, Hit, Paper
from rag.errors import IndexMissingError, RagError

PLACEHOLDER = ('<div class="ph"><h3>Ask a question about the papers</h3><p>Compare two papers, ask which papers '
               "cover a topic, or ask what a method does. Answers quote the abstracts and cite every claim as "
               '<b>[n]</b>; click a number to see the passage it quotes, <span class="wide-only">in the panel on '
               'the right</span><span class="narrow-only">under the answer</span>.</p></div>')
SOURCES_EMPTY = ('<div class="src-empty"><b>Sources</b><p>The papers an answer cites appear here: exact title, '
                 "the quoted passage marked in its abstract, a link to the paper. Click <b>[n]</b> in any answer "
                 "to see that answer's source n.</p></div>")
SOURCES_WAIT = '<div class="src-empty"><p>Searching the collection…</p></div>'
ARXIV_ID = re.compile(r"^(?:arxiv[-:_])?(\d{4}\.\d{4,5}(?:v\d+)?|[a-z][a-z.\-]*/\d{7}(?:v\d+)?)$", re.I)
SEARCH_URL = "https://scholar.google.com/scholar?q="  # exact-title search when no id or URL is known
TITLE_SEARCH = "Google Scholar title search"
_CITE = re.compile(r"\[(\d{1,3})\]")
_SENT_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"“(\[]?[A-Z0-9])")


def esc(text: Any) -> str:
    return html.escape(str(text), quote=False)


def attr(text: Any) -> str:
    return html.escape(str(text), quote=True)


# --- small pieces -------------------------------------------------------------------------------------------------
def paper_link(paper_id: str, title: str, paper: Paper | None) -> tuple[str, str]:
    """(url, label): the paper's own URL, else its arXiv page when the id is an arXiv id, else a search for
    the exact title (the daily-papers dumps carry neither URLs nor ids)."""
    url = (paper.url or "").strip() if paper else ""
    if re.match(r"https?://", url, re.I):
        m = re.search(r"arxiv\.org/(?:abs|pdf)/([^?#\s]+?)(?:\.pdf)?$", url)
        return url, f"arXiv:{m.group(1)}" if m else "paper page"
    m = ARXIV_ID.match(paper_id or "")
    if m:
        return f"https://arxiv.org/abs/{m.group(1)}", f"arXiv:{m.group(1)}"
    return SEARCH_URL + quote_plus(f'"{title}"'), TITLE_SEARCH


def link_html(paper_id: str, title: str, paper: Paper | None, text: str | None = None) -> str:
    """A link to the paper; without `text` it is labelled with where it goes ("arXiv:2105.03404 ↗")."""
    url, label = paper_link(paper_id, title, paper)
    tip = ("No link is known for this paper: searches Google Scholar for its exact title" if label == TITLE_SEARCH
           else f"Open {label}")
    shown = esc(text) if text is not None else f"{esc(label)} ↗"
    return f'<a href="{attr(url)}" target="_blank" rel="noopener noreferrer" title="{attr(tip)}">{shown}</a>'


def highlight_words(text: str, words: Iterable[str]) -> str:
    """`text` escaped, with every occurrence of the (search) words marked."""
    pats = [re.escape(w) for w in sorted(set(words), key=len, reverse=True) if w]
    if not pats:
        return esc(text)
    spans = [(m.start(), m.end()) for m in re.finditer("|".join(pats), text, re.I)]
    return _marked(text, spans, 0, len(text))


def nice_date(iso: str | None) -> str | None:
    """"2021-08-09" → "Aug 9, 2021"; "2021" or "2021-08" kept as far as known; None when there is no year."""
    if not iso:
        return None
    m = re.match(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", iso)
    if not m:
        return None
    try:
        if m.group(3):
            d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            return f"{d:%b} {d.day}, {d.year}"
        if m.group(2):
            return f"{date(int(m.group(1)), int(m.group(2)), 1):%b %Y}"
    except ValueError:
        return None
    return m.group(1)


def authors_text(paper: Paper | None) -> str | None:
    if paper is None:
        return None
    names = [a for a in paper.authors if a]
    if names:
        more = len(names) > 3 or (paper.n_authors or 0) > 3
        return ", ".join(names[:3]) + (" et al." if more else "")
    if paper.n_authors:
        return f"{paper.n_authors} author{'s' if paper.n_authors != 1 else ''}"
    return None


def why_found(hit: Hit | None) -> str:
    """Why retrieval picked the paper, in words; the raw scores go in the tooltip, explained."""
    if hit is None:
        return ""
    if hit.named_as:
        label = f"named in the question: {hit.named_as}"
    elif hit.side:
        label = f"found for “{hit.side}”"
    else:
        label = "found by meaning and wording"
    tip = (f"Retrieval score {hit.score:.3f}: dense and keyword (BM25) scores fused, 1 for the best match; papers "
           f"named in the question rank first (score above 1). Best passage's cosine similarity to the question: "
           f"{hit.similarity:.2f} (1 = same meaning).")
    return f'<span class="src-tag" title="{attr(tip)}">{esc(label)}</span>'


def meta_line(paper_id: str, title: str, hit: Hit | None) -> str:
    paper = hit.paper if hit else None
    parts = [p for p in (nice_date(paper.date if paper else None), authors_text(paper)) if p]
    out = [esc(p) for p in parts]
    if paper and paper.upvotes:
        out.append(f'<span title="Upvotes on the Hugging Face daily-papers page">▲ {int(paper.upvotes)}</span>')
    out.append(link_html(paper_id, title, paper))
    return f'<div class="src-meta">{" · ".join(out)}{why_found(hit)}</div>'


# --- the quoted passage inside its abstract ------------------------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(text.split())


def _clean_quote(text: str) -> str:
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"^[\s|#>*\-]+|[\s|*]+$", "", text)
    text = re.sub(r"\s*(?:…|\.\.\.)\s*$", "", text)  # the table clips long sentences with "…"
    return _norm(text)


def quoted_for(answer_text: str, n: int) -> list[str]:
    """The sentences the answer puts [n] after (the extractive answer quotes abstracts verbatim)."""
    out: list[str] = []
    pos = 0
    for m in _CITE.finditer(answer_text):
        before = answer_text[pos:m.start()]
        pos = m.end()
        if int(m.group(1)) != n:
            continue
        seg = re.split(r"\n|\||\]", before)[-1]
        seg = _clean_quote(seg)
        if len(seg) >= 20:
            out.append(seg)
    return out


def mark_spans(abstract: str, quotes: Iterable[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    low = abstract.lower()
    for q in quotes:
        q = _clean_quote(q)
        if len(q) < 12:
            continue
        i = abstract.find(q)
        if i < 0:
            i = low.find(q.lower())
        if i >= 0:
            spans.append((i, i + len(q)))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _marked(text: str, spans: list[tuple[int, int]], lo: int, hi: int) -> str:
    out, pos = [], lo
    for s, e in spans:
        s, e = max(s, lo), min(e, hi)
        if s >= e:
            continue
        out.append(esc(text[pos:s]) + "<mark>" + esc(text[s:e]) + "</mark>")
        pos = e
    out.append(esc(text[pos:hi]))
    return "".join(out)


def passage_html(abstract: str, quotes: list[str]) -> str:
    """The quoted sentence(s) marked, with a sentence of the abstract either side; the whole abstract (marked
    too) folds below. When no quote is found verbatim (an LLM paraphrase), the quote is shown as given."""
    abstract = _norm(abstract)
    spans = mark_spans(abstract, quotes) if abstract else []
    if not spans:
        quote = next((q for q in quotes if q), "")
        top = f'<div class="src-quote">“{esc(quote)}”</div>' if quote else ""
        full = (f'<details class="src-abs"><summary>Abstract</summary><p>{esc(abstract)}</p></details>'
                if abstract else "")
        return top + full
    bounds = [0] + [m.end() for m in _SENT_END.finditer(abstract)] + [len(abstract)]
    sents = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1) if bounds[i] < bounds[i + 1]]
    hot = {i for i, (a, b) in enumerate(sents) for s, e in spans if s < b and e > a}
    keep = sorted({j for i in hot for j in (i - 1, i, i + 1) if 0 <= j < len(sents)})
    gap, pieces, prev = '<span class="gap">…</span>', [], -1
    for j in keep:
        if j != prev + 1:
            pieces.append(gap)
        a, b = sents[j]
        pieces.append(_marked(abstract, spans, a, b).strip())
        prev = j
    if prev != len(sents) - 1:
        pieces.append(gap)
    full = _marked(abstract, spans, 0, len(abstract))
    return (f'<div class="src-quote">{" ".join(pieces)}</div>'
            f'<details class="src-abs"><summary>Whole abstract</summary><p>{full}</p></details>')


# --- an answer's sources ------------------------------------------------------------------------------------------
def _card(n: int | None, paper_id: str, title: str, hit: Hit | None, body: str, extra: str = "") -> str:
    num = f'<span class="src-n">{n}</span>' if n is not None else ""
    return (f'<div class="src-card{extra}"><div class="src-title">{num}'
            f"{link_html(paper_id, title, hit.paper if hit else None, title)}</div>{body}"
            f"{meta_line(paper_id, title, hit)}</div>")


def source_cards(answer: Answer) -> str:
    """The numbered cards of one answer (the same markup in the panel and under the answer in the chat)."""
    by_id = {h.paper_id: h for h in answer.sources}
    out: list[str] = []
    if answer.abstained:
        reason = f" {esc(answer.reason)}" if answer.reason else ""
        out.append(f'<div class="src-abstain"><b>Not covered by the collection.</b>{reason} The closest papers '
                   "are listed for orientation, not as evidence.</div>")
        for hit in answer.sources[:3]:  # the passage that came closest, unmarked: it is not a quote
            out.append(_card(None, hit.paper_id, hit.title, hit,
                             f'<div class="src-quote">{esc(_clip(hit.text, 320))}</div>', " src-closest"))
        return "".join(out)
    for c in answer.citations:
        hit = by_id.get(c.paper_id)
        abstract = hit.paper.abstract if hit and hit.paper else (hit.text if hit else "")
        out.append(_card(c.n, c.paper_id, c.title, hit,
                         passage_html(abstract, [c.quote, *quoted_for(answer.text, c.n)])))
    cited = {c.paper_id for c in answer.citations}
    rest = [h for h in answer.sources if h.paper_id not in cited]
    if rest:
        items = "".join(f"<li>{link_html(h.paper_id, h.title, h.paper, h.title)}</li>" for h in rest)
        out.append(f'<details class="src-more"><summary>{len(rest)} more retrieved, not cited</summary>'
                   f"<ul>{items}</ul></details>")
    return "".join(out)


def sources_head(answer: Answer) -> str:
    if answer.abstained:
        what = "closest papers"
    else:
        n = len(answer.citations)
        what = f"{n} cited" if n else "nothing cited"
    mode = f"LLM · {answer.model}" if answer.mode == "llm" and answer.model else answer.mode
    return (f'<div class="src-head"><b>Sources</b><span>{what} · {esc(mode)}</span></div>'
            f'<div class="src-q">for “{esc(_clip(answer.question, 140))}”</div>')


def sources_html(answer: Answer) -> str:
    """The sources panel for one answer: its cited papers as numbered cards, the rest folded below.
    An abstention shows the closest papers under a callout saying they are not evidence."""
    return f'<div class="src-panel">{sources_head(answer)}{source_cards(answer)}</div>'


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + " …"


# --- chat messages ---------------------------------------------------------------------------------------------------
def cite_links(text: str, numbers: set[int]) -> str:
    """[n] → a clickable marker (a click shows this answer's source n); other brackets are left alone."""
    def sub(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if n not in numbers:
            return m.group(0)
        return f'<span class="cite" role="button" tabindex="0" title="Show source {n}">[{n}]</span>'

    return _CITE.sub(sub, text)


def safe_markdown(text: str) -> str:
    """The engine's markdown made inert: it may echo the question ("for “<b>X</b>”"), so HTML is shown as
    text and images never load; the closest-papers list loses its raw similarity numbers (noise to a reader)."""
    text = html.escape(text, quote=False).replace("![", "!\\[")
    return re.sub(r" \(similarity -?\d+(?:\.\d+)?\)$", "", text, flags=re.M)


def answer_markdown(answer: Answer) -> str:
    """The chat message for an answer: the engine's markdown with clickable [n], a callout when it abstains,
    and the answer's own sources folded under it (shown on narrow screens, where there is no side panel)."""
    body = cite_links(safe_markdown(mark_attributed(answer.text, answer.attributed)), {c.n for c in answer.citations})
    if answer.attributed:
        body += f"\n\n{ATTRIBUTED_NOTE}"
    if answer.abstained:
        body = f'<div class="abstain">\n\n{body}\n\n</div>'
    if answer.notice:
        body = f'<div class="notice"><b>Note:</b> {esc(answer.notice)}</div>\n\n{body}'
    label = "Closest papers" if answer.abstained else f"Sources ({len(answer.citations)})"
    folded = (f'<details class="ans-sources"><summary>{label}</summary>'
              f"{sources_html(answer)}</details>")
    return f"{body}\n\n{folded}"


ATTRIBUTED = "†"
ATTRIBUTED_NOTE = (f'<div class="attr-note">{ATTRIBUTED} The model wrote this sentence without a citation; the '
                   "source shown was matched to it afterwards.</div>")


def mark_attributed(text: str, attributed: Iterable[str]) -> str:
    """Each sentence whose citation was added by attribution gets † after that citation ("... [1]†.")."""
    for sent in attributed:
        marked = re.sub(r"(\[\d+\])(?!.*\[\d)", rf"\1{ATTRIBUTED}", sent, count=1)
        text = text.replace(sent, marked, 1)
    return text


def waiting_markdown(model: str, step: str) -> str:
    """The chat's line while a request is with the model and nothing has come back yet."""
    return f'<div class="waiting">Waiting for {esc(model)} ({esc(step)})…</div>'


def answer_body(message: str) -> str:
    """The answer part of a chat message (without its folded sources)."""
    return message.split('<details class="ans-sources">', 1)[0]


def user_markdown(question: str) -> str:
    """The user's question shown as typed: HTML and markdown characters are escaped, never rendered."""
    text = html.escape(question, quote=False)
    text = re.sub(r"([\\`*_\[\]~|$!])", r"\\\1", text)
    text = re.sub(r"^(\s*)([#>+=-])", r"\1\\\2", text)
    return re.sub(r"^(\s*\d+)([.)])", r"\1\\\2", text)


def error_markdown(message: str) -> str:
    return f'<div class="chat-error"><b>Could not answer.</b> {esc(message)}</div>'


def notice_markdown(message: str) -> str:
    """A refused question (empty, too long, rate limit, bad setting): shown at the end of the chat until the
    next question, never part of the conversation."""
    return f'<div class="chat-notice"><b>Not asked.</b> {esc(message)}</div>'


def error_html(message: str) -> str:
    return f'<div class="src-error"><b>Could not answer.</b> {esc(message)}</div>'


def model_badge(settings: Any, use_llm: bool | None = True, model: str | None = None) -> str:
    """The mode badge: the LLM's model name, or why answers are extractive."""
    if not settings.llm_enabled:
        label, cls = "extractive (no LLM configured)", "mode-extractive"
    elif not use_llm:
        label, cls = "extractive (LLM switched off)", "mode-extractive"
    else:
        label, cls = f"LLM · {model or settings.llm_model or 'OpenAI default model'}", "mode-llm"
    return f'<div class="mode-badge {cls}" title="How answers are written: {attr(label)}">{esc(label)}</div>'


def header_html(n_papers: int | None, index_problem: str | None) -> str:
    what = f"{n_papers:,} research-paper abstracts" if n_papers else "a collection of research-paper abstracts"
    sub = (f"Answers from {what}: every claim cited [n] to a paper by its exact title, and a plain "
           "“not covered” when the collection does not answer.")
    warn = f'<div class="index-warn">{esc(index_problem)}</div>' if index_problem else ""
    return f'<div class="app-header"><h1>Ask the papers</h1><p>{esc(sub)}</p>{warn}</div>'


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
