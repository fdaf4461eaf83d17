"""Fusion and grouping as pure functions, on hand-made scores and a hand-made index state: z-scores and weighted
reciprocal rank, one hit per paper with its best chunk, the name boost, topic selection and comparison assembly."""

from __future__ import annotations

import pytest

from rag.aliases import AliasMatch
from rag.index_state import build_state
from rag.plan import Side
from rag.rank import (
    Scores,
    assemble_comparison,
    best_per_paper,
    name_boosts,
    rank_papers,
    rrf,
    select_topic,
    title_led,
    unit_range,
    zscore,
)
from rag.settings import Settings
from rag.store import StoredChunk
from rag.types import Hit, Paper


def test_rrf__weighted_reciprocal_ranks_add_up():
    fused = rrf([(1.0, {10: 0.9, 11: 0.5}), (2.0, {11: 7.0, 12: 3.0})], k=60)
    assert fused == pytest.approx({10: 1 / 61, 11: 1 / 62 + 2 / 61, 12: 2 / 62})
    assert rrf([(0.0, {1: 1.0})], k=60) == {}  # weight 0: the ranking is left out


def test_rrf__ties_are_broken_by_row_so_results_are_deterministic():
    assert rrf([(1.0, {5: 0.5, 3: 0.5})], k=0) == {3: 1.0, 5: 0.5}


def test_best_per_paper__keeps_each_papers_best_chunk():
    assert best_per_paper({0: 0.1, 1: 0.3, 2: 0.2}, ["a", "a", "b"]) == {"a": (0.3, 1), "b": (0.2, 2)}


def test_name_boosts__longer_name_wins_and_zero_switches_it_off():
    named = [AliasMatch("p", "GCNet", "acronym", 0, 1), AliasMatch("p", "Global Context Networks", "title", 0, 3)]
    assert name_boosts(named, 1.0) == {"p": (pytest.approx(1.03), "Global Context Networks")}
    assert name_boosts(named, 0.0) == {}


def paper(pid: str, title: str) -> Paper:
    return Paper(pid, title, f"The abstract of {title}.")


@pytest.fixture(scope="module")
def state():
    chunks = [StoredChunk("a#0", "a", 0, 2, "h", "alpha one"), StoredChunk("a#1", "a", 1, 2, "h", "alpha two"),
              StoredChunk("b#0", "b", 0, 1, "h", "beta"), StoredChunk("c#0", "c", 0, 2, "h", "gamma half")]
    papers = {p.paper_id: p for p in (paper("a", "Alpha"), paper("b", "Beta"), paper("c", "Gamma"))}
    return build_state(chunks, papers, generation=3)


def test_build_state__a_paper_missing_a_chunk_is_not_in_the_state(state):
    assert set(state.papers) == {"a", "b"}  # c claims 2 chunks, has 1
    assert state.paper_rows == {"a": [0, 1], "b": [2]}
    assert (state.generation, state.count) == (3, 4)


def test_zscore__standardised_scores_add_up_and_a_missing_row_counts_as_the_lowest():
    fused = zscore([(1.0, {10: 3.0, 11: 1.0}), (2.0, {11: 7.0, 12: 5.0})])
    # ranking 1: mean 2, std 1 -> 10: +1, 11: -1; ranking 2: mean 6, std 1 -> 11: +1, 12: -1 (weight 2)
    assert fused == {10: pytest.approx(1.0 + 2 * -1.0), 11: pytest.approx(-1.0 + 2 * 1.0),
                     12: pytest.approx(-1.0 + 2 * -1.0)}
    assert zscore([(0.0, {1: 1.0})]) == {}  # weight 0: the ranking is left out
    assert zscore([(1.0, {4: 2.0, 5: 2.0})]) == {4: 0.0, 5: 0.0}  # no spread: no division by zero


def test_zscore__a_large_lead_counts_where_reciprocal_ranks_only_see_places():
    dense = {1: 0.90, 2: 0.50, 3: 0.49}  # row 1 far ahead by meaning
    sparse = {2: 10.0, 1: 9.9, 3: 1.0}  # rows 2 and 1 nearly tied by words
    assert max(zscore([(1.0, dense), (1.0, sparse)]).items(), key=lambda kv: kv[1])[0] == 1
    tied = rrf([(1.0, dense), (1.0, sparse)], k=60)
    assert tied[1] == pytest.approx(tied[2])  # 1st + 2nd either way: RRF cannot tell them apart


def test_unit_range__best_is_one_worst_is_zero():
    assert unit_range({"a": (4.0, 1), "b": (2.0, 7), "c": (3.0, 0)}) == {"a": (1.0, 1), "b": (0.0, 7), "c": (0.5, 0)}
    assert unit_range({"a": (-3.0, 2)}) == {"a": (1.0, 2)}
    assert unit_range({}) == {}


def test_rank_papers__one_hit_per_paper_best_first_with_its_best_passage(state):
    s = Settings(fusion="rrf", dense_weight=1.0, bm25_weight=1.0, rrf_k=60, alias_boost=1.0)
    hits = rank_papers(state, Scores({1: 0.8, 0: 0.7, 2: 0.6, 3: 0.99}, {2: 5.0, 0: 1.0}), [], s)
    assert [(h.paper_id, h.chunk_id, h.text) for h in hits] == [("b", "b#0", "beta"), ("a", "a#0", "alpha one")]
    assert [(h.similarity, h.bm25) for h in hits] == [(0.6, 5.0), (0.8, 1.0)]
    assert hits[0].paper.title == "Beta"  # c (incomplete) is never a hit, even with the best similarity
    assert hits[0].score == 1.0 and 0.0 <= hits[1].score < 1.0  # fused scores in [0, 1]


def test_rank_papers__zscore_fusion_shows_the_passage_ahead_by_meaning(state):
    # a#1 is ahead of a#0 by meaning; a#0's BM25 score is the lowest BM25 returned, worth no more than none
    hits = rank_papers(state, Scores({1: 0.8, 0: 0.7, 2: 0.6, 3: 0.99}, {2: 5.0, 0: 1.0}), [],
                       Settings(fusion="zscore", dense_weight=1.0, bm25_weight=1.0))
    assert [(h.paper_id, h.chunk_id) for h in hits] == [("b", "b#0"), ("a", "a#1")]


def test_rank_papers__a_named_paper_comes_first_even_unranked(state):
    s = Settings(alias_boost=1.0)
    hits = rank_papers(state, Scores({2: 0.9}, {}), [AliasMatch("a", "Alpha", "title", 0, 1)], s)
    assert [(h.paper_id, h.named_as) for h in hits] == [("a", "Alpha"), ("b", None)]


def hit(pid: str, sim: float, bm: float, named: str | None = None) -> Hit:
    return Hit(pid, pid.title(), 1.0, "text", similarity=sim, bm25=bm, named_as=named)


def test_select_topic__keeps_papers_close_to_the_best_one():
    s = Settings(topic_min_relevance=0.5, topic_min_similarity=0.2)
    ranked = [hit("a", 0.6, 10.0), hit("b", 0.5, 6.0), hit("c", 0.3, 1.0), hit("d", 0.1, 9.0), hit("e", 0.0, 0.0, "E")]
    assert [h.paper_id for h in select_topic(ranked, 10, s)] == ["a", "b", "e"]
    assert [h.paper_id for h in select_topic(ranked, 1, s)] == ["a"]
    assert select_topic([], 5, s) == []


def test_assemble_comparison__one_paper_per_side_first_then_the_rest():
    whole = [hit("x", 0.5, 1.0), hit("a", 0.4, 1.0), hit("b", 0.3, 1.0)]
    sides = [Side("Alpha", (AliasMatch("a", "Alpha", "short", 0, 1),)), Side("the b method")]
    out = assemble_comparison(whole, sides, lambda side: [hit("a", 0, 0), hit("b", 0, 0)], k=3, use_names=True)
    assert [(h.paper_id, h.side) for h in out] == [("a", "Alpha"), ("b", "the b method"), ("x", None)]
    assert whole[1].side is None  # the input hits are not changed


def test_topic_head_and_name_helpers():
    from rag.text import defines_acronym, name_tokens, spells_acronym, topic_head

    assert topic_head("the grokking phenomenon of delayed generalization") == "the grokking phenomenon"
    assert topic_head("detection of anomalies") == "detection of anomalies"  # "of" alone is not an elaboration
    assert spells_acronym("CTR", name_tokens("Deep Interest Network for Click-Through Rate Prediction"))
    assert not spells_acronym("DIP", name_tokens("Deep Interest Network for Click-Through Rate Prediction"))
    assert not spells_acronym("Ctr", name_tokens("Click-Through Rate"))  # only capitals are acronyms
    assert defines_acronym("How does retrieval-augmented generation (RAG) work?", "RAG")
    assert defines_acronym("How do E(n)-equivariant graph neural networks (EGNN) update coordinates?", "EGNN")
    assert not defines_acronym("How does X use RAG?", "RAG")
    assert not defines_acronym("How does the new retriever (RAG) work?", "RAG")


def test_title_led__a_side_opening_with_a_title_head_takes_that_paper_among_the_best_few():
    wide = Hit("w", "Wide and Deep Neural Networks Achieve Optimality for Classification", 1.0, "t")
    ntk = Hit("n", "Neural Tangent Kernel: Convergence and Generalization in Neural Networks", 0.97, "t")
    other = Hit("o", "Feature Learning in Infinite-Width Neural Networks", 0.9, "t")
    label = "neural tangent kernel view of infinitely wide networks"
    assert [h.paper_id for h in title_led(label, [wide, ntk, other])] == ["n", "w", "o"]
    # only among the best `within`, and only a title head of two words or more
    assert [h.paper_id for h in title_led(label, [wide, other, ntk], within=2)] == ["w", "o", "n"]
    assert [h.paper_id for h in title_led("feature learning", [wide, other])] == ["w", "o"]


def test_title_led__a_side_described_in_words_takes_the_paper_whose_title_says_most_of_them():
    vit = Hit("v", "When Vision Transformers Outperform ResNets without Pre-training or Strong Data Augmentations",
              1.0, "t")
    ode = Hit("o", "Implicit regularization of deep residual networks towards neural ODEs", 0.95, "t")
    res = Hit("r", "ResMLP: Feedforward networks for image classification with data-efficient training", 0.78, "t")
    label = "residual MLP with data-efficient training"
    assert [h.paper_id for h in title_led(label, [vit, ode, res])] == ["r", "v", "o"]
    # three shared words at least, more than the first has, among the best `within` only
    assert [h.paper_id for h in title_led(label, [vit, ode, res], within=2)] == ["v", "o", "r"]
    assert [h.paper_id for h in title_led("residual networks", [vit, ode, res])] == ["v", "o", "r"]


def test_assemble_comparison__a_name_that_is_a_papers_title_acronym_takes_that_paper_first():
    whole = [hit("snn", 0.6, 1.0), hit("thesis", 0.4, 1.0), hit("x", 0.3, 1.0)]
    dcls = (AliasMatch("snn", "DCLS", "own", 0, 1), AliasMatch("thesis", "DCLS", "short", 0, 1))
    sides = [Side("DCLS thesis", dcls), Side("the SNN delay learning paper")]
    out = assemble_comparison(whole, sides, lambda side: [hit("snn", 0, 0), hit("x", 0, 0)], k=3, use_names=True)
    assert [(h.paper_id, h.side) for h in out] == [("thesis", "DCLS thesis"), ("snn", "the SNN delay learning paper"),
                                                   ("x", None)]


def test_title_acronyms__an_acronym_defined_for_the_papers_own_title():
    from rag.aliases import AliasIndex, title_acronyms

    thesis = ("Dilated Convolution with Learnable Spacings",
              "This thesis presents and evaluates the Dilated Convolution with Learnable Spacings (DCLS) method.")
    snn = ("Learning Delays in Spiking Neural Networks using Dilated Convolutions with Learnable Spacings",
           "We propose a new discrete-time algorithm using Dilated Convolutions with Learnable Spacings (DCLS).")
    assert title_acronyms(*thesis) == {"DCLS"}
    assert title_acronyms(*snn) == set()  # DCLS expands only the end of this title
    assert title_acronyms("Graph Networks: a survey", "We review Graph Networks (GN) and (GN).") == {"GN"}
    idx = AliasIndex.build([("t", *thesis), ("s", *snn)])
    assert sorted((m.paper_id, m.kind) for m in idx.find("DCLS thesis")) == [("s", "own"), ("t", "short")]


def test_title_acronyms__an_acronym_many_papers_use_names_none_of_them():
    from rag.aliases import MAX_NAME_USERS, AliasIndex

    own = ("AMP-activated protein kinase", "AMP-activated protein kinase (AMPK) is a sensor of energy.")
    others = [(f"p{i}", f"Study {i}", "AMPK activation was measured.") for i in range(MAX_NAME_USERS)]
    idx = AliasIndex.build([("own", *own), *others])
    assert [m.paper_id for m in idx.find("AMPK activation reduces fibrosis")] == []
    assert [m.paper_id for m in AliasIndex.build([("own", *own)]).find("AMPK activation")] == ["own"]
