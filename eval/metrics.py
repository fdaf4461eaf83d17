"""Offline-evaluation metrics for cited QA over paper abstracts: retrieval, citations, abstention, latency.

Pure functions over exact title strings; each returns None when the metric does not apply to its input,
so that aggregates average only over the rows where a metric means something.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

RECALL_KS = (1, 3, 5, 10)
NDCG_K = 10
# Types whose questions name specific papers, so any citation outside the gold set is a wrong citation.
PRECISION_TYPES = frozenset({"paraphrase", "comparative"})
DIGITS = 4


Gold = Collection[str] | Mapping[str, float]  # ids (binary relevance) or id → graded relevance (BEIR qrels)


def relevant(gold: Gold) -> set[str]:
    """The relevant ids of `gold`: all of a collection, those with a positive grade of a mapping."""
    if isinstance(gold, Mapping):
        return {d for d, grade in gold.items() if grade > 0}
    return set(gold)


def recall_at_k(retrieved: Sequence[str], gold: Gold, k: int) -> float | None:
    """Fraction of relevant items found among the top ``k`` retrieved; None when nothing is relevant."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    gold_set = relevant(gold)
    if not gold_set:
        return None
    return len(gold_set.intersection(retrieved[:k])) / len(gold_set)


def reciprocal_rank(retrieved: Sequence[str], gold: Gold, k: int | None = None) -> float | None:
    """1 / rank of the first relevant item within the top ``k`` (all when None), 0.0 if none is there;
    None when nothing is relevant."""
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    gold_set = relevant(gold)
    if not gold_set:
        return None
    for rank, item in enumerate(retrieved[:k] if k else retrieved, start=1):
        if item in gold_set:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(retrieved: Sequence[str], gold: Gold, k: int = NDCG_K) -> float | None:
    """nDCG@k with a log2 discount; None when nothing is relevant. Gold as a collection is binary relevance;
    as a mapping id → grade, the grade is the gain (trec_eval's and BEIR's definition), grades <= 0 count 0.

    An item retrieved twice earns credit once, so the score stays within [0, 1].
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    gold_set = relevant(gold)
    if not gold_set:
        return None
    gain = (lambda d: float(gold[d])) if isinstance(gold, Mapping) else (lambda d: 1.0)
    seen: set[str] = set()
    dcg = 0.0
    for i, item in enumerate(retrieved[:k]):
        if item in gold_set and item not in seen:
            seen.add(item)
            dcg += gain(item) / math.log2(i + 2)
    ideal_gains = sorted((gain(d) for d in gold_set), reverse=True)[:k]
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(ideal_gains))
    return dcg / ideal


def citation_recall(cited: Collection[str], gold: Collection[str]) -> float | None:
    """Fraction of gold titles that the answer cites; None when gold is empty."""
    gold_set = set(gold)
    if not gold_set:
        return None
    return len(gold_set.intersection(cited)) / len(gold_set)


def citation_precision(cited: Collection[str], gold: Collection[str]) -> float | None:
    """Fraction of distinct cited titles that are gold; None when nothing is cited."""
    cited_set = set(cited)
    if not cited_set:
        return None
    return len(cited_set.intersection(gold)) / len(cited_set)


def citation_validity(cited: Collection[str], sources: Collection[str]) -> float | None:
    """Fraction of distinct cited titles present among the retrieved sources; None when nothing is cited.

    A citation outside the sources cannot have been grounded in text the model was shown.
    """
    cited_set = set(cited)
    if not cited_set:
        return None
    return len(cited_set.intersection(sources)) / len(cited_set)


def abstention_scores(rows: Iterable[tuple[bool, bool]]) -> dict[str, float | int | None]:
    """Precision, recall and F1 of abstaining, from ``(should_abstain, did_abstain)`` pairs.

    Precision is None when no abstention was made, recall None when none was expected, and F1 None
    when either is None. Also returns the confusion counts tp, fp, fn, tn.
    """
    tp = fp = fn = tn = 0
    for should, did in rows:
        if should and did:
            tp += 1
        elif did:
            fp += 1
        elif should:
            fn += 1
        else:
            tn += 1
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1: float | None = None
    if precision is not None and recall is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def _normalize(text: str) -> str:
    return " ".join(text.lower().split())


def key_fact_coverage(answer: str, key_facts: Sequence[str]) -> float | None:
    """Fraction of key facts found in the answer (case-insensitive, whitespace-normalized substrings).

    Blank facts are ignored; None when no non-blank fact is given.
    """
    facts = [f for f in (_normalize(fact) for fact in key_facts) if f]
    if not facts:
        return None
    text = _normalize(answer)
    return sum(fact in text for fact in facts) / len(facts)


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) with linear interpolation, as numpy's default; None when empty."""
    if not 0 <= p <= 100:
        raise ValueError(f"p must be within [0, 100], got {p}")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    lo = math.floor(position)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (position - lo))


def mean_or_none(values: Iterable[float | None]) -> float | None:
    """Arithmetic mean of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def latency_summary(ms: Sequence[float]) -> dict[str, float | int | None]:
    """p50, p95 and mean of latencies in milliseconds, with their count n."""
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "mean": mean_or_none(ms), "n": len(ms)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), DIGITS)


def _cited_validity(row: Mapping[str, Any]) -> float | None:
    cited = row.get("cited_titles") or []
    if not cited:
        return None
    if "source_titles" not in row:
        raise ValueError(f"result row {row.get('id')!r} cites papers but has no 'source_titles' list")
    return citation_validity(cited, row["source_titles"])


def should_abstain(row: Mapping[str, Any]) -> bool:
    """No gold paper, or one whose abstract does not state the fact asked for ("fact_absent")."""
    return not row["gold_titles"] or bool(row.get("fact_absent"))


def _shift_ok(row: Mapping[str, Any]) -> float:
    if not row["gold_titles"]:
        return float(bool(row["abstained"]))
    return float(not row["abstained"] and bool(set(row["gold_titles"]) & set(row["retrieved_titles"][:5])))


def _group_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | int | None]:
    with_gold = [r for r in rows if r["gold_titles"]]
    out: dict[str, float | int | None] = {"n": len(rows)}
    for k in RECALL_KS:
        out[f"recall@{k}"] = mean_or_none(recall_at_k(r["retrieved_titles"], r["gold_titles"], k) for r in with_gold)
    out["mrr"] = mean_or_none(reciprocal_rank(r["retrieved_titles"], r["gold_titles"]) for r in with_gold)
    out[f"ndcg@{NDCG_K}"] = mean_or_none(ndcg_at_k(r["retrieved_titles"], r["gold_titles"], NDCG_K) for r in with_gold)
    out["citation_recall"] = mean_or_none(citation_recall(r["cited_titles"], r["gold_titles"]) for r in with_gold)
    out["citation_precision"] = mean_or_none(
        citation_precision(r["cited_titles"], r["gold_titles"]) for r in rows if r["type"] in PRECISION_TYPES
    )
    out["citation_validity"] = mean_or_none(_cited_validity(r) for r in rows)
    # Comparisons: the share whose answer cites every compared paper the collection has.
    out["compared_all_cited"] = mean_or_none(float(set(r["gold_titles"]) <= set(r["cited_titles"]))
                                             for r in with_gold if r["type"] == "comparative")
    # Questions with a history that do not refer back to it: answered on their own terms (abstain when they
    # should, find their own gold paper when they have one, never cite only the history's papers).
    out["shift_ok"] = mean_or_none(_shift_ok(r) for r in rows if r.get("shift"))
    abstention = abstention_scores((should_abstain(r), bool(r["abstained"])) for r in rows)
    out["abstention_precision"] = abstention["precision"]
    out["abstention_recall"] = abstention["recall"]
    out["abstention_f1"] = abstention["f1"]
    out["key_fact_coverage"] = mean_or_none(
        key_fact_coverage(r.get("answer") or "", r.get("key_facts") or []) for r in rows
    )
    latencies = [float(r["latency_ms"]) for r in rows if r.get("latency_ms") is not None]
    out["latency_p50"] = percentile(latencies, 50)
    out["latency_p95"] = percentile(latencies, 95)
    return {key: value if key == "n" else _round(value) for key, value in out.items()}


def aggregate(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Summarize per-question result rows as ``{"overall": {...}, "by_type": {type: {...}}}``.

    Each group holds n, recall@1/3/5/10, mrr, ndcg@10, citation_recall/precision/validity,
    abstention_precision/recall/f1, key_fact_coverage, latency_p50/p95; floats rounded to 4 places,
    None where a metric does not apply. Types appear in sorted order.
    """
    by_type: dict[str, list[dict[str, Any]]] = {}
    for row in results:
        by_type.setdefault(row["type"], []).append(row)
    out = {
        "overall": _group_metrics(results),
        "by_type": {kind: _group_metrics(by_type[kind]) for kind in sorted(by_type)},
    }
    if any("split" in r for r in results):
        out["by_split"] = {name: _group_metrics(group) for name, group in by_split(results).items()}
    return out


def by_split(rows: Sequence[Mapping[str, Any]], splits: Sequence[str] = ("dev", "heldout")
             ) -> dict[str, list[Mapping[str, Any]]]:
    """Rows grouped by their "split" value, in the order of `splits` (empty groups left out)."""
    groups = {name: [r for r in rows if r.get("split") == name] for name in splits}
    return {name: group for name, group in groups.items() if group}


RANKING_METRICS = ("ndcg@10", "recall@100", "mrr@10")


def ranking_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | int | None]:
    """Means of the per-query ranking metrics (BEIR runs), latency p50/p95 and how many papers search
    returned (mean, min) for rows holding ndcg@10, recall@100, mrr@10, latency_ms and returned."""
    latencies = [float(r["latency_ms"]) for r in rows]
    returned = [int(r["returned"]) for r in rows]
    out: dict[str, float | int | None] = {"n": len(rows)}
    for key in RANKING_METRICS:
        out[key] = _round(mean_or_none(r.get(key) for r in rows))
    out["latency_p50"] = _round(percentile(latencies, 50))
    out["latency_p95"] = _round(percentile(latencies, 95))
    out["returned_mean"] = _round(mean_or_none(returned))
    out["returned_min"] = min(returned, default=None)
    return out
