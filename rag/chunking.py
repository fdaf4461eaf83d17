"""Paper → Chunks. The title is carried into every chunk's embedded text ("title\\npassage") and every chunk fits
MiniLM's 256 word-piece window, since the model silently truncates longer input.

chunk_mode "window" (default) does no needless work: an abstract whose title + abstract fits the window is one
chunk; a longer one becomes the fewest sentence-aligned chunks that fit, balanced in size, with no overlap (each
word piece of the abstract is embedded once, plus one title per chunk). Word pieces are counted for a whole batch
of papers in one call into the Rust tokenizer. chunk_mode "tokens" keeps the earlier chunking: llama-index's
SentenceSplitter at `chunk_tokens` tiktoken tokens with `overlap`, re-split smaller until each chunk fits."""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from functools import lru_cache

from .embeddings import MAX_WORD_PIECES, count_word_pieces, word_piece_spans
from .settings import configure_offline_environment
from .text import sentence_starts
from .types import Chunk, Paper

SPECIAL_PIECES = 2  # [CLS] and [SEP]
DEFAULT_WINDOW = 192  # Settings.chunk_window's default (chosen on SciFact's dev half; see its description)
MIN_BUDGET = 16  # word pieces left for the passage even beside an absurdly long title


def embed_text(title: str, passage: str) -> str:
    return f"{title}\n{passage}"


def chunk_papers(papers: Sequence[Paper], chunk_tokens: int = 150, overlap: int = 30,
                 mode: str = "window", window: int = DEFAULT_WINDOW) -> list[list[Chunk]]:
    """The chunks of each paper (same order), with stable ids `<paper_id>#<ordinal>`; in window mode each
    chunk's embedded text has at most `window` word pieces (<= MiniLM's 256)."""
    if mode == "tokens":
        return [_chunks(p, _token_passages(p, chunk_tokens, overlap)) for p in papers]
    if mode != "window":
        raise ValueError(f"unknown chunk mode {mode!r}")
    titles = word_piece_spans([p.title for p in papers])
    abstracts = word_piece_spans([p.abstract for p in papers])
    window = min(window, MAX_WORD_PIECES)
    return [_chunks(p, window_passages(p.abstract, s, window - SPECIAL_PIECES - len(t)))
            for p, t, s in zip(papers, titles, abstracts, strict=True)]


def chunk_paper(paper: Paper, chunk_tokens: int = 150, overlap: int = 30, mode: str = "window",
                window: int = DEFAULT_WINDOW) -> list[Chunk]:
    return chunk_papers([paper], chunk_tokens, overlap, mode, window)[0]


def _chunks(paper: Paper, passages: list[str]) -> list[Chunk]:
    return [Chunk(chunk_id=f"{paper.paper_id}#{i}", paper_id=paper.paper_id, title=paper.title, ordinal=i,
                  text=p, embed_text=embed_text(paper.title, p)) for i, p in enumerate(passages)]


# --- window mode ---------------------------------------------------------------------------------------------
def window_passages(text: str, spans: Sequence[tuple[int, int]], budget: int) -> list[str]:
    """`text` cut into the fewest passages of at most `budget` word pieces (`spans`: its pieces' character
    spans), cut between sentences where possible, else between words; sizes balanced (the largest passage as
    small as the same number of passages allows)."""
    budget = max(budget, MIN_BUDGET)
    n = len(spans)
    if n <= budget:
        return [text.strip()] if text.strip() else []
    starts = [s for s, _ in spans]
    cuts = sorted({0, n} | {bisect_left(starts, c) for c in sentence_starts(text)})
    cuts = _split_long_gaps(text, starts, cuts, budget)
    k = len(_greedy(cuts, budget))
    lo, hi = -(-n // k), budget  # the smallest cap that still gives k passages: balanced sizes
    while lo < hi:
        mid = (lo + hi) // 2
        ends = _greedy(cuts, mid)
        if ends is not None and len(ends) <= k:
            hi = mid
        else:
            lo = mid + 1
    ends = _greedy(cuts, lo) or []
    out, prev = [], 0
    for end in ends:
        piece = text[starts[prev]:starts[end] if end < n else len(text)].strip()
        if piece:
            out.append(piece)
        prev = end
    return out


def _greedy(cuts: list[int], cap: int) -> list[int] | None:
    """Ends (word-piece indexes) of passages that take the furthest cut within `cap` each time; None when a gap
    between two cuts is wider than `cap`."""
    ends: list[int] = []
    at, last = 0, cuts[-1]
    while at < last:
        j = bisect_right(cuts, at + cap) - 1
        if cuts[j] <= at:
            return None
        at = cuts[j]
        ends.append(at)
    return ends


def _split_long_gaps(text: str, starts: list[int], cuts: list[int], budget: int) -> list[int]:
    """Add cuts between words (a piece that follows whitespace) inside any sentence longer than the budget."""
    out = [cuts[0]]
    for end in cuts[1:]:
        at = out[-1]
        while end - at > budget:
            j = next((j for j in range(at + budget, at, -1) if starts[j] > 0 and text[starts[j] - 1].isspace()),
                     at + budget)  # one "word" longer than the window: cut it, it cannot fit otherwise
            out.append(j)
            at = j
        out.append(end)
    return out


# --- tokens mode (the earlier chunking) ------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _splitter(chunk_tokens: int, overlap: int):  # type: ignore[no-untyped-def]
    configure_offline_environment()
    import tiktoken
    from llama_index.core.node_parser import SentenceSplitter

    enc = tiktoken.get_encoding("cl100k_base")
    return SentenceSplitter(chunk_size=chunk_tokens, chunk_overlap=min(overlap, chunk_tokens // 2),
                            tokenizer=enc.encode, include_metadata=False, include_prev_next_rel=False)


def split_text(text: str, chunk_tokens: int, overlap: int) -> list[str]:
    return [t.strip() for t in _splitter(chunk_tokens, overlap).split_text(text) if t.strip()]


def _token_passages(paper: Paper, chunk_tokens: int, overlap: int) -> list[str]:
    passages: list[str] = []
    for piece in split_text(paper.abstract, chunk_tokens, overlap):
        passages.extend(_fit(paper.title, piece, chunk_tokens, overlap))
    return passages


def _fit(title: str, passage: str, chunk_tokens: int, overlap: int) -> list[str]:
    """Split `passage` further until title + passage fits the embedder's window."""
    if count_word_pieces(embed_text(title, passage)) <= MAX_WORD_PIECES or chunk_tokens <= 24:
        return [passage]
    smaller = max(24, int(chunk_tokens * 0.7))
    out: list[str] = []
    for piece in split_text(passage, smaller, min(overlap, smaller // 4)):
        if piece == passage:  # the splitter cannot cut it further (one huge "sentence")
            words = passage.split()
            half = len(words) // 2
            return _fit(title, " ".join(words[:half]), smaller, overlap) + \
                _fit(title, " ".join(words[half:]), smaller, overlap)
        out.extend(_fit(title, piece, smaller, overlap))
    return out


def content_hash(paper: Paper, chunk_tokens: int, overlap: int, model: str, mode: str = "window",
                 window: int = DEFAULT_WINDOW) -> str:
    """Changes when anything that ends up in the index for this paper changes (the model name carries the
    precision; window chunks do not depend on chunk_tokens/overlap, so those do not count there)."""
    h = hashlib.sha1()
    # tokens mode hashes as before chunk_mode existed: such collections stay unchanged on re-ingest
    shape = (str(chunk_tokens), str(overlap)) if mode == "tokens" else (mode, str(window))
    for part in (paper.title, paper.abstract, *shape, model, str(paper.n_authors),
                 str(paper.date), str(paper.date_text), str(paper.upvotes), str(paper.url),
                 "|".join(paper.authors), "|".join(f"{s.file}:{s.line}" for s in paper.sources)):
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]
