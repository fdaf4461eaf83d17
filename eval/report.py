"""Turns eval results into report.md and PNG plots (matplotlib, Agg backend), the side-by-side
comparison of several configurations (compare.md) with the winner per question type, and the report of a
BEIR run. Every report shows the dev and the held-out half of the questions apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .llm_metrics import markdown as llm_markdown
from .metrics import should_abstain

HEADLINE = ["n", "recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "citation_recall", "citation_precision",
            "citation_validity", "compared_all_cited", "abstention_precision", "abstention_recall", "shift_ok",
            "key_fact_coverage", "latency_p50", "latency_p95"]
SHORT = {"recall@1": "R@1", "recall@5": "R@5", "recall@10": "R@10", "mrr": "MRR", "ndcg@10": "nDCG@10",
         "citation_recall": "cite R", "citation_precision": "cite P", "citation_validity": "cite valid",
         "abstention_precision": "abst P", "abstention_recall": "abst R", "abstention_f1": "abst F1",
         "key_fact_coverage": "key facts", "compared_all_cited": "cmp all", "shift_ok": "shift ok",
         "latency_p50": "p50 ms", "latency_p95": "p95 ms"}
# What "winning" means in a comparison: the main quality number per type (higher is better).
WINNER_METRIC = {"paraphrase": "mrr", "comparative": "recall@5", "topic": "recall@10", "followup": "recall@5",
                 "unanswerable": "abstention_f1"}
# Abstention is judged over all questions: recall alone rewards a configuration that abstains on everything.
OVERALL_WINNER_METRICS = {"abstention_f1"}


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if value > 1.5 else f"{value:.3f}"
    return str(value)


def metrics_table(metrics: dict[str, Any], columns: list[str] = HEADLINE) -> str:
    head = "| type | " + " | ".join(SHORT.get(c, c) for c in columns) + " |"
    sep = "|---|" + "---:|" * len(columns)
    rows = [f"| {t} | " + " | ".join(fmt(m.get(c)) for c in columns) + " |" for t, m in metrics["by_type"].items()]
    rows.append("| **all** | " + " | ".join(f"**{fmt(metrics['overall'].get(c))}**" for c in columns) + " |")
    return "\n".join([head, sep, *rows])


def failures(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        gold = r["gold_titles"]
        if should_abstain(r) and not r["abstained"]:
            out.append(f"- `{r['id']}` ({r['type']}): answered instead of abstaining")
        elif not should_abstain(r) and r["abstained"]:
            out.append(f"- `{r['id']}` ({r['type']}): abstained although the collection answers it")
        elif gold and not r["abstained"]:
            missed = [t for t in gold if t not in r["retrieved_titles"][:10]]
            uncited = [t for t in gold if t not in r["cited_titles"]] if r["type"] != "topic" else []
            if missed:
                out.append(f"- `{r['id']}` ({r['type']}): not in top 10: " + "; ".join(f"*{t}*" for t in missed))
            elif uncited:
                out.append(f"- `{r['id']}` ({r['type']}): retrieved but not cited: "
                           + "; ".join(f"*{t}*" for t in uncited))
    return out


def write_plots(out: Path, rows: list[dict[str, Any]], metrics: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    types = [t for t, m in metrics["by_type"].items() if m.get("recall@1") is not None]
    ks = [1, 3, 5, 10]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for t in types:
        ax.plot(ks, [metrics["by_type"][t][f"recall@{k}"] for k in ks], marker="o", label=t)
    ax.set(title="Paper recall@k by question type", xlabel="k (papers retrieved)", ylabel="recall@k",
           xticks=ks, ylim=(0, 1.05))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "recall_at_k.png", dpi=110)
    plt.close(fig)
    written.append("recall_at_k.png")

    lat = [r["latency_ms"] for r in rows if r.get("latency_ms") is not None]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.hist(lat, bins=min(30, max(5, len(lat) // 3)), color="#6366f1", edgecolor="white")
    for p, style in (("latency_p50", "--"), ("latency_p95", ":")):
        v = metrics["overall"].get(p)
        if v is not None:
            ax.axvline(v, color="#111827", linestyle=style, label=f"{p.split('_')[1]} = {v:.0f} ms")
    ax.set(title="Answer latency per question (warm)", xlabel="milliseconds", ylabel="questions")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency_hist.png", dpi=110)
    plt.close(fig)
    written.append("latency_hist.png")

    names = ["recall@5", "mrr", "citation_recall", "citation_validity", "abstention_recall"]
    all_types = list(metrics["by_type"])
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        vals = [metrics["by_type"][t].get(name) for t in all_types]
        xs = [j + i * width for j in range(len(all_types))]
        ax.bar(xs, [v if v is not None else 0 for v in vals], width, label=SHORT.get(name, name))
    ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(all_types))], all_types)
    ax.set(title="Answer quality by question type (missing bar = metric does not apply)", ylabel="score",
           ylim=(0, 1.05))
    ax.legend(ncol=len(names), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "by_type.png", dpi=110)
    plt.close(fig)
    written.append("by_type.png")
    return written


def write_report(out: Path, rows: list[dict[str, Any]], metrics: dict[str, Any], questions_name: str) -> None:
    plots = write_plots(out, rows, metrics)
    judged = metrics.get("llm_judged") or {}
    lines = [
        "# Evaluation report", "",
        f"Question file `{questions_name}`: {len(rows)} questions; answer mode **{metrics.get('mode')}**. "
        "Retrieval metrics rank `Engine.search(standalone question, k=10)`; citation metrics use the answer's "
        "citations; latency is `Engine.ask` after one warm-up question.", "",
        metrics_table(metrics), "",
        "R@k = share of gold papers in the top k; cite R / cite P = gold papers cited / cited papers that are "
        "gold (paraphrase, comparative); cite valid = cited titles that are among the answer's sources "
        "(must be 1.000); cmp all = comparisons whose answer cites every compared paper; abst P / abst R = "
        "precision / recall of abstaining on questions the collection cannot answer; shift ok = turns after an "
        "unrelated history answered on their own terms (abstain if unanswerable, else their own paper in the top 5); "
        "key facts = share of hand-written key facts present in the answer.", "",
        "## Dev and held-out", "",
        "Each question falls in one half by a fixed-seed hash of its id (eval/splits.py): settings are chosen on "
        "dev; held-out is the number to quote.", "",
        split_table(metrics, HEADLINE), "",
        *llm_markdown(metrics.get("llm")),
        "## LLM-judged metrics", "",
        (f"- {judged['skipped']}" if "skipped" in judged else
         f"- faithfulness {fmt(judged.get('faithfulness'))}, correctness {fmt(judged.get('correctness'))} "
         f"({judged.get('judged')} answers judged, {judged.get('judge_errors')} judge errors)"), "",
        "## Plots", "",
        *[f"![{p}]({p})" for p in plots], "",
        "## Questions that went wrong", "",
        *(failures(rows) or ["- none"]), "",
    ]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def write_compare(out: Path, results: dict[str, dict[str, Any]], questions_name: str) -> None:
    names = list(results)
    types = list(next(iter(results.values()))["by_type"])
    cols = ["recall@1", "recall@5", "recall@10", "mrr", "citation_recall", "abstention_recall", "abstention_f1",
            "latency_p50"]
    lines = ["# Configurations side by side", "",
             f"Question file `{questions_name}`; configurations: " + ", ".join(f"`{n}`" for n in names) + ".", ""]
    lines += ["| type | winner (metric) | " + " | ".join(names) + " |", "|---|---|" + "---:|" * len(names)]
    for t in types:
        metric = WINNER_METRIC.get(t, "recall@5")
        group = "overall" if metric in OVERALL_WINNER_METRICS else None
        vals = {n: (results[n]["overall"] if group else results[n]["by_type"][t]).get(metric) for n in names}
        best = max((v for v in vals.values() if v is not None), default=None)
        winners = [n for n, v in vals.items() if v is not None and v == best]
        label = ("tie: " if len(winners) > 1 else "") + ", ".join(winners) if winners else "–"
        lines.append(f"| {t} | {label} ({metric}) | " + " | ".join(fmt(vals[n]) for n in names) + " |")
    for n in names:
        lines += ["", f"## {n}", "", metrics_table(results[n], cols), "", split_table(results[n], cols)]
    (out / "compare.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


SPLIT_LABEL = {"dev": "dev", "heldout": "held-out", "all": "**all**"}


def split_table(metrics: dict[str, Any], columns: list[str]) -> str:
    """One row per half of the questions (dev, held-out) and one for all of them."""
    head = "| split | " + " | ".join(SHORT.get(c, c) for c in columns) + " |"
    rows = [f"| {SPLIT_LABEL[s]} | " + " | ".join(fmt(m.get(c)) for c in columns) + " |"
            for s, m in (metrics.get("by_split") or {}).items()]
    rows.append("| **all** | " + " | ".join(f"**{fmt(metrics['overall'].get(c))}**" for c in columns) + " |")
    return "\n".join([head, "|---|" + "---:|" * len(columns), *rows])


BEIR_COLUMNS = ["n", "ndcg@10", "recall@100", "mrr@10", "latency_p50", "latency_p95", "returned_mean", "returned_min"]
BEIR_SHORT = {"ndcg@10": "nDCG@10", "recall@100": "R@100", "mrr@10": "MRR@10", "latency_p50": "p50 ms",
              "latency_p95": "p95 ms", "returned_mean": "returned (mean)", "returned_min": "returned (min)"}


def _beir_side_by_side(configs: dict[str, Any]) -> list[str]:
    cols = [(m, s) for m in ("ndcg@10", "recall@100", "mrr@10") for s in ("dev", "heldout")]
    lines = ["| configuration | " + " | ".join(f"{BEIR_SHORT[m]} {SPLIT_LABEL[s]}" for m, s in cols)
             + " | p50 / p95 ms |", "|---|" + "---:|" * (len(cols) + 1)]
    for name, res in configs.items():
        lat = f"{fmt(res['all']['latency_p50'])} / {fmt(res['all']['latency_p95'])}"
        lines.append(f"| {name} | " + " | ".join(fmt(res[s][m]) for m, s in cols) + f" | {lat} |")
    return lines


def write_beir_report(out: Path, metrics: dict[str, Any]) -> None:
    """report.md of a BEIR run: configurations side by side (dev | held-out), then one table per configuration."""
    q = metrics["queries"]
    subset = (f"a subset of {metrics['indexed_papers']:,} of its {metrics['corpus_documents']:,} documents "
              "(the relevant documents of a seeded sample of queries, then others)" if metrics["subset"] else
              f"all {metrics['indexed_papers']:,} documents")
    lines = [
        f"# BEIR evaluation: {metrics['dataset']} ({metrics['qrels_split']} judgements)", "",
        f"Corpus: {subset}, ingested as a user's JSONL into collection `{metrics['collection']}`. "
        f"Queries scored: {q['scored']} (dev {q['dev']}, held-out {q['heldout']}; {q['judged']} judged in "
        f"qrels/{metrics['qrels_split']}.tsv). Each query is `Engine.search(query, k={metrics['k']})`; nDCG@10 "
        "uses the qrels' grades as gains, R@100 = share of relevant documents in the papers returned, MRR@10 = "
        "1 / rank of the first relevant one within 10. Queries fall in dev or held-out by a fixed-seed hash of "
        "their id (eval/splits.py): choose settings on dev, quote held-out.", "",
        "## Side by side", "", *_beir_side_by_side(metrics["configs"]), "",
    ]
    short = {n: r["all"]["returned_min"] for n, r in metrics["configs"].items()
             if r["all"]["returned_min"] is not None and r["all"]["returned_min"] < metrics["k"]}
    if short:
        lines += [f"Note: search returned fewer than {metrics['k']} papers for some queries (fewest: "
                  + ", ".join(f"{n} {v}" for n, v in short.items()) + "), so R@100 is recall over what it "
                  "returned.", ""]
    for name, res in metrics["configs"].items():
        over = ", ".join(f"{k}={v}" for k, v in res["settings"].items()) or "the configured settings"
        lines += [f"## {name}", "", f"Settings: {over}.", "",
                  "| split | " + " | ".join(BEIR_SHORT.get(c, c) for c in BEIR_COLUMNS) + " |",
                  "|---|" + "---:|" * len(BEIR_COLUMNS)]
        lines += [f"| {SPLIT_LABEL[s]} | " + " | ".join(fmt(res[s].get(c)) for c in BEIR_COLUMNS) + " |"
                  for s in ("dev", "heldout", "all")]
        lines.append("")
    ing = metrics["ingest"]
    lines += ["## Index", "", f"`{metrics['index']}`, collection `{metrics['collection']}`: this run embedded "
              f"{ing['chunks_written']} chunks ({ing['new']} new, {ing['updated']} updated, {ing['unchanged']} "
              f"unchanged, {ing['removed']} removed papers) in {ing['seconds']:.1f} s.", ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
