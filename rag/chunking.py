"""Paper → Chunks. llama-index's SentenceSplitter cuts each abstract on sentence boundaries with tiktoken
token counts; the title is carried into every chunk's embedded text, and each chunk is checked against
MiniLM's 256 word-piece window (re-split smaller if it would be truncated)."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from .embeddings import MAX_WORD_PIECES, count_word_pieces
from .settings import configure_offline_environment
from .types import Chunk, Paper


@lru_cache(maxsize=8)
def _splitter(chunk_tokens: int, overlap: int):  # type: ignore[no-untyped-def]
    configure_offline_environment()
    import tiktoken
    from llama_index.core.node_parser import SentenceSplitter

    enc = tiktoken.get_encoding("cl100k_base")
    return SentenceSplitter(chunk_size=chunk_tokens, chunk_overlap=min(overlap, chunk_tokens // 2),
                            tokenizer=enc.encode, include_metadata=False, include_prev_next_rel=False)


def embed_text(title: str, passage: str) -> str:
    return f"{title}\n{passage}"


def split_text(text: str, chunk_tokens: int, overlap: int) -> list[str]:
    return [t.strip() for t in _splitter(chunk_tokens, overlap).split_text(text) if t.strip()]


def chunk_paper(paper: Paper, chunk_tokens: int = 150, overlap: int = 30) -> list[Chunk]:
    """Chunks of one paper with stable ids `<paper_id>#<ordinal>`."""
    passages: list[str] = []
    for piece in split_text(paper.abstract, chunk_tokens, overlap):
        passages.extend(_fit(paper.title, piece, chunk_tokens, overlap))
    return [Chunk(chunk_id=f"{paper.paper_id}#{i}", paper_id=paper.paper_id, title=paper.title, ordinal=i,
                  text=p, embed_text=embed_text(paper.title, p)) for i, p in enumerate(passages)]


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


def content_hash(paper: Paper, chunk_tokens: int, overlap: int, model: str) -> str:
    """Changes when anything that ends up in the index for this paper changes."""
    h = hashlib.sha1()
    for part in (paper.title, paper.abstract, str(chunk_tokens), str(overlap), model, str(paper.n_authors),
                 str(paper.date), str(paper.date_text), str(paper.upvotes), str(paper.url),
                 "|".join(paper.authors), "|".join(f"{s.file}:{s.line}" for s in paper.sources)):
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]
