"""Ranking as pure functions over one `IndexState` and the raw scores of one query: fusion of the dense and BM25
rankings (z-scores or reciprocal ranks), one hit per paper, the boost for a paper the query names, topic selection
and comparison assembly. Nothing here does I/O, so each step is tested directly with small hand-made inputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .aliases import AliasMatch
from .index_state import IndexState
from .plan import Side
from .settings import Settings
from .text import content_terms, name_tokens
from .types import Hit

SIDE_TITLE_WINDOW = 3  # a side is matched to a paper by its title's head among this many of its best papers
MAX_SIDES = 6  # "compare A, B, C, ...": more sides than this are answered by the whole-question ranking


@dataclass(frozen=True)
class Scores:
    """Raw scores of one query text, by chunk row."""

    dense: Mapping[int, float]  # cosine similarity
    sparse: Mapping[int, float]  # BM25


def rrf(rankings: Sequence[tuple[float, Mapping[int, float]]], k: int) -> dict[int, float]:
    """Weighted reciprocal-rank fusion: each ranking (weight, row → score) adds weight / (k + rank)."""
    fused: dict[int, float] = {}
    for weight, ranking in rankings:
        if weight <= 0:
            continue
        for rank, row in enumerate(sorted(ranking, key=lambda r: (-ranking[r], r)), start=1):
            fused[row] = fused.get(row, 0.0) + weight / (k + rank)
    return fused


def zscore(rankings: Sequence[tuple[float, Mapping[int, float]]]) -> dict[int, float]:
    """Weighted sum of z-normalised scores: each ranking's scores are standardised over its own candidates (mean
    0, standard deviation 1), and a row a ranking did not return counts as that ranking's lowest score. Unlike
    RRF, how far ahead a candidate is counts, not only its place (SciFact train claims, dev / held-out nDCG@10
    0.747 / 0.733 against RRF's 0.744 / 0.718; see README, Evaluation)."""
    normalised = []
    for weight, ranking in rankings:
        if weight <= 0 or not ranking:
            continue
        values = np.fromiter(ranking.values(), dtype=float, count=len(ranking))
        mean, std = float(values.mean()), float(values.std())
        std = std if std > 1e-12 else 1.0
        normalised.append((weight, {r: (v - mean) / std for r, v in ranking.items()}, (values.min() - mean) / std))
    rows = {r for _, z, _ in normalised for r in z}
    return {r: sum(w * z.get(r, floor) for w, z, floor in normalised) for r in rows}


def fuse(rankings: Sequence[tuple[float, Mapping[int, float]]], settings: Settings) -> dict[int, float]:
    """The settings' fusion of several rankings (row → score each) into one."""
    return zscore(rankings) if settings.fusion == "zscore" else rrf(rankings, settings.rrf_k)


def unit_range(scores: Mapping[str, tuple[float, int]]) -> dict[str, tuple[float, int]]:
    """Scores rescaled to [0, 1] (best 1), so a name boost of 1 or more puts a named paper above every other."""
    if not scores:
        return {}
    lo, hi = min(v for v, _ in scores.values()), max(v for v, _ in scores.values())
    if hi == lo:
        return {pid: (1.0, row) for pid, (_, row) in scores.items()}
    return {pid: ((v - lo) / (hi - lo), row) for pid, (v, row) in scores.items()}


def best_per_paper(fused: Mapping[int, float], chunk_paper: Sequence[str]) -> dict[str, tuple[float, int]]:
    """paper id → (its best chunk's fused score, that chunk's row)."""
    best: dict[str, tuple[float, int]] = {}
    for row, score in fused.items():
        pid = chunk_paper[row]
        if pid not in best or score > best[pid][0] or (score == best[pid][0] and row < best[pid][1]):
            best[pid] = (score, row)
    return best


def name_boosts(named: Sequence[AliasMatch], boost: float) -> dict[str, tuple[float, str]]:
    """paper id → (score added, the name as matched). Longer names win, so a full title beats a nickname."""
    out: dict[str, tuple[float, str]] = {}
    if boost <= 0:
        return out
    for m in named:
        b = boost + 0.01 * m.length
        if b > out.get(m.paper_id, (0.0, ""))[0]:
            out[m.paper_id] = (b, m.alias)
    return out


def per_paper(ranking: Mapping[int, float], chunk_paper: Sequence[str]) -> dict[str, float]:
    """paper id → its best chunk's score in one ranking."""
    out: dict[str, float] = {}
    for row, score in ranking.items():
        pid = chunk_paper[row]
        if score > out.get(pid, float("-inf")):
            out[pid] = score
    return out


def fuse_papers(state: IndexState, scores: Scores, settings: Settings) -> dict[str, tuple[float, int]]:
    """paper id → (fused score, the row of the passage to show). `fusion_level` "paper": each ranking is first
    reduced to one score per paper (its best chunk), then the paper rankings are fused, so a paper with many
    matching chunks does not push others down; "chunk": chunks are fused, then each paper keeps its best."""
    rankings = [(settings.dense_weight, scores.dense), (settings.bm25_weight, scores.sparse)]
    if settings.fusion_level == "chunk":
        return unit_range(best_per_paper(fuse(rankings, settings), state.chunk_paper))
    papers = sorted({state.chunk_paper[r] for _, ranking in rankings for r in ranking})
    index = {pid: i for i, pid in enumerate(papers)}
    by_paper = [(w, {index[pid]: v for pid, v in per_paper(ranking, state.chunk_paper).items()})
                for w, ranking in rankings]
    fused = fuse(by_paper, settings)
    # The passage shown: the paper's chunk that scores best in the fused chunk ranking.
    rows = best_per_paper(fuse(rankings, settings), state.chunk_paper)
    return unit_range({pid: (fused[index[pid]], rows[pid][1]) for pid in papers if index[pid] in fused})


def rank_papers(state: IndexState, scores: Scores, named: Sequence[AliasMatch], settings: Settings) -> list[Hit]:
    """Every candidate paper, best first: fused dense + BM25, then the papers the query names put first."""
    best = fuse_papers(state, scores, settings)
    boosts = name_boosts(named, settings.alias_boost)
    for pid in boosts:  # a named paper is a candidate even when neither ranking found it
        if pid not in best and pid in state.paper_rows:
            rows = state.paper_rows[pid]
            best[pid] = (0.0, max(rows, key=lambda r: (scores.dense.get(r, 0.0), -r)))
    hits = []
    for pid, (score, row) in best.items():
        paper = state.papers.get(pid)
        if paper is None:  # incomplete (being written) or unknown to this state
            continue
        rows = state.paper_rows[pid]
        boost = boosts.get(pid)
        hits.append(Hit(pid, paper.title, score + (boost[0] if boost else 0.0), state.chunk_text[row],
                        similarity=round(max((scores.dense.get(r, 0.0) for r in rows), default=0.0), 4),
                        bm25=round(max((scores.sparse.get(r, 0.0) for r in rows), default=0.0), 3),
                        named_as=boost[1] if boost else None, chunk_id=state.chunk_ids[row], paper=paper))
    hits.sort(key=lambda h: (-h.score, h.paper_id))
    return hits


def topic_relevance(hit: Hit, top_similarity: float, top_bm25: float) -> float:
    """How close a paper comes to the best paper of a topic ranking: the mean of its similarity and BM25
    ratios to the best ones (one absolute cut-off fails: similarity levels differ a lot between topics)."""
    ratios = ([hit.similarity / top_similarity] if top_similarity > 0 else []) + \
        ([hit.bm25 / top_bm25] if top_bm25 > 0 else [])
    return sum(ratios) / len(ratios) if ratios else 0.0


def select_topic(ranked: Sequence[Hit], k: int, settings: Settings) -> list[Hit]:
    """The papers of a "which papers study X?" ranking that are about X: named ones, and those whose relevance
    relative to the best paper and whose similarity clear the settings' cut-offs."""
    if not ranked:
        return []
    top_sim = max(h.similarity for h in ranked)
    top_bm = max(h.bm25 for h in ranked)
    keep = [h for h in ranked if h.named_as or (
        topic_relevance(h, top_sim, top_bm) >= settings.topic_min_relevance
        and (top_sim == 0 or h.similarity >= settings.topic_min_similarity))]
    return keep[:k]


def assemble_comparison(whole: Sequence[Hit], sides: Sequence[Side],
                        rank_side: Callable[[Side], Sequence[Hit]], k: int, use_names: bool) -> list[Hit]:
    """One paper per side first (tagged with its side), then the whole question's ranking. A side that names a
    paper is answered by that paper as `whole` ranked it (no second search); others by `rank_side`."""
    whole_by_id = {h.paper_id: h for h in whole}
    picked: list[Hit] = []
    taken: set[str] = set()
    for side in list(sides)[:MAX_SIDES]:
        # a paper the name is the title (or title acronym) of before one whose abstract merely coins it too
        named = sorted(side.named, key=lambda m: m.kind == "own") if use_names else []
        named_hits = [whole_by_id[m.paper_id] for m in named if m.paper_id in whole_by_id]
        # (a name another side already took is a detail here: "the learning-curve paper that uses a PFN")
        for h in [h for h in named_hits if h.paper_id not in taken] or title_led(side.label, rank_side(side)):
            if h.paper_id not in taken:
                taken.add(h.paper_id)
                picked.append(replace(h, side=side.label))
                break
    rest = [h for h in whole if h.paper_id not in taken]
    return (picked + rest)[: max(k, len(picked))]


def title_led(label: str, hits: Sequence[Hit], within: int = SIDE_TITLE_WINDOW) -> list[Hit]:
    """`hits` with, first, the one among the best `within` whose title opens with what the side opens with: "the
    neural tangent kernel view of wide networks" is the paper titled "Neural Tangent Kernel: ...", even where that
    term is too common to be the paper's name and another paper ranks a little higher."""
    want = name_tokens(label)
    for i, h in enumerate(hits[:within]):
        head = name_tokens(h.title.split(":", 1)[0]) if ":" in h.title else []
        if len(head) >= 2 and want[: len(head)] == head:
            return [h, *hits[:i], *hits[i + 1:]]
    # A side described in words is the paper whose title says most of them: "the residual MLP with data-efficient
    # training" is "ResMLP: Feedforward networks for image classification with data-efficient training", though
    # "Implicit regularization of deep residual networks ..." ranks higher on "residual".
    terms = content_terms(label)
    shared = [len(terms & content_terms(h.title)) for h in hits[:within]]
    best = max(range(len(shared)), key=lambda i: (shared[i], -i), default=0)
    if shared and shared[best] >= 3 and shared[best] > shared[0]:
        return [hits[best], *hits[:best], *hits[best + 1:]]
    return list(hits)
