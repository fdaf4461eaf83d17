"""Window chunking does no needless work: a paper whose title + abstract fits MiniLM's 256 word pieces is one
chunk, a longer one the fewest sentence-aligned chunks that fit, balanced, with every word of the abstract in
exactly one chunk; chunk counts of the bundled corpus; the earlier tokens mode is still there; the content hash
follows the mode and the model name (which carries the precision)."""

from __future__ import annotations

import math

from conftest import RAW

from rag.chunking import DEFAULT_WINDOW, SPECIAL_PIECES, chunk_paper, chunk_papers, content_hash
from rag.corpus import load_corpus
from rag.embeddings import MAX_WORD_PIECES, count_word_pieces
from rag.types import Paper

SENTENCE = "We train a sparse mixture of experts on {n} tokens and report its perplexity on held-out text."


def paper(abstract: str, title: str = "Sparse Experts at Scale") -> Paper:
    return Paper("p1", title, abstract)


def pieces(text: str) -> int:
    return count_word_pieces(text) - SPECIAL_PIECES


def test_chunk__abstract_that_fits_is_one_chunk_without_overlap():
    abstract = " ".join(SENTENCE.format(n=i) for i in range(5))
    assert count_word_pieces(f"Sparse Experts at Scale\n{abstract}") <= MAX_WORD_PIECES
    [chunk] = chunk_paper(paper(abstract))
    assert (chunk.chunk_id, chunk.ordinal, chunk.text) == ("p1#0", 0, abstract)
    assert chunk.embed_text == f"Sparse Experts at Scale\n{abstract}"


def test_chunk__long_abstract_is_the_fewest_balanced_sentence_aligned_chunks():
    sentences = [SENTENCE.format(n=i) for i in range(40)]
    abstract = " ".join(sentences)
    budget = MAX_WORD_PIECES - count_word_pieces("Sparse Experts at Scale")
    need = math.ceil(pieces(abstract) / budget)
    chunks = chunk_paper(paper(abstract), window=MAX_WORD_PIECES)
    assert len(chunks) == need == 4
    assert [c.chunk_id for c in chunks] == ["p1#0", "p1#1", "p1#2", "p1#3"]
    assert " ".join(c.text for c in chunks) == abstract  # every word once: no overlap, nothing lost
    assert all(c.text.endswith("text.") for c in chunks)  # cut between sentences
    assert all(count_word_pieces(c.embed_text) <= MAX_WORD_PIECES for c in chunks)
    sizes = [len(c.text.split(". ")) for c in chunks]
    assert max(sizes) - min(sizes) <= 1, sizes  # balanced, not three full chunks and a stub


def test_chunk__one_endless_sentence_is_cut_between_words():
    abstract = " ".join(f"token{i} and" for i in range(400))  # no sentence end anywhere
    chunks = chunk_paper(paper(abstract))
    assert len(chunks) >= 2
    assert " ".join(c.text for c in chunks) == abstract
    assert all(count_word_pieces(c.embed_text) <= MAX_WORD_PIECES for c in chunks)
    assert all(not c.text.endswith("token") for c in chunks)  # no word split in two


def test_chunk_papers__batch_equals_one_by_one():
    papers = load_corpus([RAW]).papers[:40]
    assert chunk_papers(papers) == [chunk_paper(p) for p in papers]


def test_chunk__bundled_corpus_counts():
    """250 papers → 539 chunks at the default 192-piece window (2.2 per paper; 449 at the whole 256-piece window;
    649 with the earlier 150-token chunks with overlap): the 20 papers whose title + abstract fits are one chunk
    each, the others two or three, and each chunk fits the window."""
    papers = load_corpus([RAW]).papers
    chunks = chunk_papers(papers)
    assert (len(papers), sum(len(c) for c in chunks)) == (250, 539)
    fits = [count_word_pieces(f"{p.title}\n{p.abstract}") <= DEFAULT_WINDOW for p in papers]
    assert sum(fits) == 20
    for p, cs, fit in zip(papers, chunks, fits, strict=True):
        assert (len(cs) == 1) == fit, p.paper_id
        budget = DEFAULT_WINDOW - count_word_pieces(p.title)
        assert len(cs) <= math.ceil(pieces(p.abstract) / budget) + 1, p.paper_id
        assert " ".join(c.text for c in cs).split() == p.abstract.split()
        assert all(count_word_pieces(c.embed_text) <= DEFAULT_WINDOW for c in cs), p.paper_id
    assert sum(len(c) for c in chunk_papers(papers, window=MAX_WORD_PIECES)) == 449
    assert sum(len(c) for c in chunk_papers(papers, mode="tokens")) == 649


def test_content_hash__follows_mode_model_and_only_the_mode_s_knobs():
    p = paper("One sentence.")
    window = content_hash(p, 150, 30, "all-MiniLM-L6-v2@int8")
    assert window == content_hash(p, 100, 10, "all-MiniLM-L6-v2@int8")  # tokens knobs do not shape windows
    assert window != content_hash(p, 150, 30, "all-MiniLM-L6-v2")  # another precision re-embeds
    tokens = content_hash(p, 150, 30, "all-MiniLM-L6-v2", mode="tokens")
    assert tokens not in (window, content_hash(p, 100, 30, "all-MiniLM-L6-v2", mode="tokens"))
