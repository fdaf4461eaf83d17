"""Hand-computed checks for eval.metrics: every expected number below is worked out in the comments."""

import json
import math

import numpy as np
import pytest

from eval.metrics import (
    abstention_scores,
    aggregate,
    citation_precision,
    citation_recall,
    citation_validity,
    key_fact_coverage,
    latency_summary,
    mean_or_none,
    ndcg_at_k,
    percentile,
    recall_at_k,
    reciprocal_rank,
)

RANKED = ["a", "b", "c", "d"]
GOLD = {"b", "d"}


# --- recall@k ---------------------------------------------------------------------------------------


def test_recall_at_k__counts_gold_within_top_k():
    assert recall_at_k(RANKED, GOLD, 1) == 0.0
    assert recall_at_k(RANKED, GOLD, 2) == 0.5
    assert recall_at_k(RANKED, GOLD, 3) == 0.5
    assert recall_at_k(RANKED, GOLD, 4) == 1.0
    assert recall_at_k(RANKED, GOLD, 10) == 1.0


def test_recall_at_k__empty_gold_is_none():
    assert recall_at_k(RANKED, set(), 5) is None
    assert recall_at_k([], [], 5) is None


def test_recall_at_k__empty_retrieved_is_zero():
    assert recall_at_k([], GOLD, 5) == 0.0


def test_recall_at_k__duplicate_retrieved_titles_count_once():
    assert recall_at_k(["b", "b", "b"], GOLD, 3) == 0.5


def test_recall_at_k__rejects_k_below_one():
    with pytest.raises(ValueError, match="k must be at least 1"):
        recall_at_k(RANKED, GOLD, 0)


# --- reciprocal rank --------------------------------------------------------------------------------


def test_reciprocal_rank__first_gold_hit_rank():
    assert reciprocal_rank(RANKED, GOLD) == 0.5
    assert reciprocal_rank(RANKED, {"a"}) == 1.0
    assert reciprocal_rank(RANKED, {"d", "zzz"}) == 0.25


def test_reciprocal_rank__no_hit_is_zero():
    assert reciprocal_rank(RANKED, {"zzz"}) == 0.0
    assert reciprocal_rank([], GOLD) == 0.0


def test_reciprocal_rank__empty_gold_is_none():
    assert reciprocal_rank(RANKED, []) is None


# --- nDCG ---------------------------------------------------------------------------------------------


def test_ndcg_at_k__binary_gains_with_log2_discount():
    # hits at ranks 2 and 4; ideal puts both gold titles at ranks 1 and 2
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(RANKED, GOLD) == pytest.approx(expected)
    assert ndcg_at_k(RANKED, GOLD) == pytest.approx(0.6509209298)


def test_ndcg_at_k__perfect_ranking_is_one():
    assert ndcg_at_k(["b", "d", "a"], GOLD) == pytest.approx(1.0)


def test_ndcg_at_k__ideal_dcg_capped_at_k():
    # 3 gold titles but k=2: ideal DCG = 1 + 1/log2(3); hit at rank 1 only gives 1
    assert ndcg_at_k(["x", "y"], {"x", "p", "q"}, k=2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["p", "x", "q"], {"x", "p", "q"}, k=2) == pytest.approx(1.0)


def test_ndcg_at_k__ignores_hits_beyond_k():
    assert ndcg_at_k(RANKED, {"d"}, k=3) == 0.0


def test_ndcg_at_k__duplicate_hits_do_not_exceed_one():
    assert ndcg_at_k(["b", "b", "d"], GOLD) == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))


def test_ndcg_at_k__empty_gold_is_none_and_empty_retrieved_is_zero():
    assert ndcg_at_k(RANKED, set()) is None
    assert ndcg_at_k([], GOLD) == 0.0


# --- citations ------------------------------------------------------------------------------------------


def test_citation_recall__fraction_of_gold_cited():
    assert citation_recall(["b"], GOLD) == 0.5
    assert citation_recall(["b", "d", "a"], GOLD) == 1.0
    assert citation_recall([], GOLD) == 0.0


def test_citation_recall__empty_gold_is_none():
    assert citation_recall(["a"], []) is None


def test_citation_precision__fraction_of_cited_that_is_gold():
    assert citation_precision(["b", "a"], GOLD) == 0.5
    assert citation_precision(["b", "d", "a", "c"], GOLD) == 0.5
    assert citation_precision(["b"], GOLD) == 1.0
    assert citation_precision(["a"], set()) == 0.0


def test_citation_precision__repeated_citation_of_one_paper_counts_once():
    assert citation_precision(["b", "b", "b", "a"], GOLD) == 0.5


def test_citation_precision__nothing_cited_is_none():
    assert citation_precision([], GOLD) is None


def test_citation_validity__fraction_of_cited_found_in_sources():
    assert citation_validity(["a", "b", "z"], ["a", "b", "c"]) == pytest.approx(2 / 3)
    assert citation_validity(["a"], ["a"]) == 1.0
    assert citation_validity(["z"], []) == 0.0


def test_citation_validity__nothing_cited_is_none():
    assert citation_validity([], ["a"]) is None


# --- abstention -----------------------------------------------------------------------------------------


def test_abstention_scores__confusion_counts_and_rates():
    rows = [(True, True), (True, True), (True, False), (False, True), (False, False), (False, False)]
    scores = abstention_scores(rows)
    # precision 2/3, recall 2/3, f1 = 2/3
    assert scores["tp"] == 2 and scores["fp"] == 1 and scores["fn"] == 1 and scores["tn"] == 2
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)


def test_abstention_scores__unequal_precision_and_recall():
    # tp=1, fp=1, fn=0: precision 0.5, recall 1.0, f1 = 2*0.5*1/1.5 = 2/3
    scores = abstention_scores([(True, True), (False, True), (False, False)])
    assert scores["precision"] == 0.5
    assert scores["recall"] == 1.0
    assert scores["f1"] == pytest.approx(2 / 3)


def test_abstention_scores__no_abstentions_made_gives_none_precision():
    scores = abstention_scores([(True, False), (False, False)])
    assert scores == {"precision": None, "recall": 0.0, "f1": None, "tp": 0, "fp": 0, "fn": 1, "tn": 1}


def test_abstention_scores__none_expected_gives_none_recall():
    scores = abstention_scores([(False, True), (False, False)])
    assert scores == {"precision": 0.0, "recall": None, "f1": None, "tp": 0, "fp": 1, "fn": 0, "tn": 1}


def test_abstention_scores__zero_precision_and_recall_gives_zero_f1():
    scores = abstention_scores([(True, False), (False, True)])
    assert scores["precision"] == 0.0 and scores["recall"] == 0.0 and scores["f1"] == 0.0


def test_abstention_scores__empty_rows():
    assert abstention_scores([]) == {"precision": None, "recall": None, "f1": None, "tp": 0, "fp": 0, "fn": 0, "tn": 0}


# --- key facts --------------------------------------------------------------------------------------------


def test_key_fact_coverage__case_and_whitespace_insensitive():
    answer = "The model reaches 91.2%  top-1\non ImageNet using Sparse   Attention."
    facts = ["sparse attention", "91.2% TOP-1 on imagenet", "trained on TPUs"]
    assert key_fact_coverage(answer, facts) == pytest.approx(2 / 3)


def test_key_fact_coverage__no_facts_is_none():
    assert key_fact_coverage("anything", []) is None
    assert key_fact_coverage("anything", ["  ", ""]) is None


def test_key_fact_coverage__empty_answer_is_zero():
    assert key_fact_coverage("", ["fact"]) == 0.0


# --- percentile, mean, latency -------------------------------------------------------------------------


def test_percentile__linear_interpolation():
    assert percentile([100, 200, 300, 400], 50) == 250.0
    # position 3 * 0.95 = 2.85 -> 300 + 0.85 * 100
    assert percentile([400, 100, 300, 200], 95) == pytest.approx(385.0)
    assert percentile([1, 2, 3, 4], 0) == 1.0
    assert percentile([1, 2, 3, 4], 100) == 4.0
    assert percentile([7.5], 95) == 7.5


@pytest.mark.parametrize("p", [0, 5, 25, 50, 73.3, 95, 99, 100])
def test_percentile__matches_numpy_default(p):
    values = [12.0, 3.5, 99.1, 42.0, 42.0, 7.25, 0.5]
    assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))


def test_percentile__empty_is_none_and_bad_p_raises():
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="p must be within"):
        percentile([1.0], 101)


def test_mean_or_none__ignores_none():
    assert mean_or_none([1.0, None, 2.0, None]) == 1.5
    assert mean_or_none([None, None]) is None
    assert mean_or_none([]) is None


def test_latency_summary__p50_p95_mean_n():
    assert latency_summary([100.0, 200.0, 300.0, 400.0]) == {
        "p50": 250.0,
        "p95": pytest.approx(385.0),
        "mean": 250.0,
        "n": 4,
    }


def test_latency_summary__empty():
    assert latency_summary([]) == {"p50": None, "p95": None, "mean": None, "n": 0}


# --- aggregate --------------------------------------------------------------------------------------------

ROWS = [
    {  # perfect: every metric 1.0
        "id": "q1",
        "type": "paraphrase",
        "gold_titles": ["A"],
        "retrieved_titles": ["A", "B", "C"],
        "cited_titles": ["A"],
        "source_titles": ["A", "B", "C"],
        "abstained": False,
        "answer": "Paper A uses Sparse  Attention.",
        "key_facts": ["sparse attention"],
        "latency_ms": 100.0,
    },
    {  # hits at ranks 2 and 4; cites A (gold, in sources) and E (neither); one fact of two present
        "id": "q2",
        "type": "comparative",
        "gold_titles": ["A", "D"],
        "retrieved_titles": ["B", "A", "C", "D"],
        "cited_titles": ["A", "E"],
        "source_titles": ["B", "A", "C"],
        "abstained": False,
        "answer": "A beats D on MMLU.",
        "key_facts": ["beats", "ImageNet"],
        "latency_ms": 200.0,
    },
    {  # gold at rank 6; wrongly abstained, cites nothing, no key_facts key
        "id": "q3",
        "type": "topic",
        "gold_titles": ["C"],
        "retrieved_titles": ["B", "D", "E", "F", "G", "C"],
        "cited_titles": [],
        "source_titles": ["B", "D", "E"],
        "abstained": True,
        "answer": "",
        "latency_ms": 300.0,
    },
    {  # correctly abstained, on a turn that does not refer back to its history (shift)
        "id": "q4",
        "type": "unanswerable",
        "shift": True,
        "gold_titles": [],
        "retrieved_titles": ["B"],
        "cited_titles": [],
        "source_titles": ["B"],
        "abstained": True,
        "answer": "The corpus does not say.",
        "key_facts": [],
        "latency_ms": 400.0,
    },
]

NO_RETRIEVAL = {f"recall@{k}": None for k in (1, 3, 5, 10)} | {"mrr": None, "ndcg@10": None}
NO_ABSTENTION = {"abstention_precision": None, "abstention_recall": None, "abstention_f1": None}

EXPECTED = {
    "overall": {
        "n": 4,
        "recall@1": 0.3333,  # (1 + 0 + 0) / 3
        "recall@3": 0.5,  # (1 + 0.5 + 0) / 3
        "recall@5": 0.6667,  # (1 + 1 + 0) / 3
        "recall@10": 1.0,
        "mrr": 0.5556,  # (1 + 1/2 + 1/6) / 3 = 5/9
        "ndcg@10": 0.669,  # (1 + 0.650921 + 1/log2(7) = 0.356207) / 3 = 0.669043
        "citation_recall": 0.5,  # (1 + 0.5 + 0) / 3
        "citation_precision": 0.75,  # q1 1.0, q2 0.5 (topic/unanswerable excluded)
        "citation_validity": 0.75,  # q1 1.0, q2 0.5 (q3, q4 cite nothing)
        "compared_all_cited": 0.0,  # q2 cites A but not D
        "shift_ok": 1.0,  # q4 (the only shift turn) abstains, as its empty gold asks
        "abstention_precision": 0.5,  # tp=q4, fp=q3
        "abstention_recall": 1.0,
        "abstention_f1": 0.6667,
        "key_fact_coverage": 0.75,  # q1 1.0, q2 0.5
        "latency_p50": 250.0,
        "latency_p95": 385.0,
    },
    "by_type": {
        "comparative": {
            "n": 1,
            "recall@1": 0.0,
            "recall@3": 0.5,
            "recall@5": 1.0,
            "recall@10": 1.0,
            "mrr": 0.5,
            "ndcg@10": 0.6509,
            "citation_recall": 0.5,
            "citation_precision": 0.5,
            "citation_validity": 0.5,
            "compared_all_cited": 0.0,
            "shift_ok": None,
            **NO_ABSTENTION,
            "key_fact_coverage": 0.5,
            "latency_p50": 200.0,
            "latency_p95": 200.0,
        },
        "paraphrase": {
            "n": 1,
            "recall@1": 1.0,
            "recall@3": 1.0,
            "recall@5": 1.0,
            "recall@10": 1.0,
            "mrr": 1.0,
            "ndcg@10": 1.0,
            "citation_recall": 1.0,
            "citation_precision": 1.0,
            "citation_validity": 1.0,
            "compared_all_cited": None,
            "shift_ok": None,
            **NO_ABSTENTION,
            "key_fact_coverage": 1.0,
            "latency_p50": 100.0,
            "latency_p95": 100.0,
        },
        "topic": {
            "n": 1,
            "recall@1": 0.0,
            "recall@3": 0.0,
            "recall@5": 0.0,
            "recall@10": 1.0,
            "mrr": 0.1667,
            "ndcg@10": 0.3562,
            "citation_recall": 0.0,
            "citation_precision": None,
            "citation_validity": None,
            "compared_all_cited": None,
            "shift_ok": None,
            "abstention_precision": 0.0,
            "abstention_recall": None,
            "abstention_f1": None,
            "key_fact_coverage": None,
            "latency_p50": 300.0,
            "latency_p95": 300.0,
        },
        "unanswerable": {
            "n": 1,
            **NO_RETRIEVAL,
            "citation_recall": None,
            "citation_precision": None,
            "citation_validity": None,
            "compared_all_cited": None,
            "shift_ok": 1.0,
            "abstention_precision": 1.0,
            "abstention_recall": 1.0,
            "abstention_f1": 1.0,
            "key_fact_coverage": None,
            "latency_p50": 400.0,
            "latency_p95": 400.0,
        },
    },
}


def test_aggregate__exact_values_over_handmade_rows():
    assert aggregate(ROWS) == EXPECTED


def test_aggregate__keys_and_type_order():
    result = aggregate(ROWS)
    assert list(result) == ["overall", "by_type"]
    assert list(result["by_type"]) == ["comparative", "paraphrase", "topic", "unanswerable"]
    assert list(result["overall"]) == list(EXPECTED["overall"])


def test_aggregate__json_round_trip():
    result = aggregate(ROWS)
    assert json.loads(json.dumps(result, allow_nan=False)) == result


def test_aggregate__empty_results():
    result = aggregate([])
    assert result["by_type"] == {}
    assert result["overall"]["n"] == 0
    assert all(v is None for k, v in result["overall"].items() if k != "n")


def test_aggregate__citing_row_without_source_titles_raises():
    row = {k: v for k, v in ROWS[0].items() if k != "source_titles"}
    with pytest.raises(ValueError, match="'q1' cites papers but has no 'source_titles'"):
        aggregate([row])


def test_aggregate__row_without_citations_needs_no_source_titles():
    row = {k: v for k, v in ROWS[3].items() if k != "source_titles"}
    assert aggregate([row])["overall"]["citation_validity"] is None
