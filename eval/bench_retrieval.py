"""Retrieval benchmark: recall@1/3/5/10 and MRR per question type, plus warm search latency, for three
retrieval configurations on the existing index.

    python -m eval.bench_retrieval [--out DIR] [--questions FILE]

Configurations are the named Settings overrides of `eval.runner.CONFIGS`: hybrid (the defaults: dense + BM25
fused, paper names boosted), dense-only and bm25-only (name matching off in both). Every question is searched
with `Engine.search(standalone question, k=10)`, the same ranking `rag eval` scores; follow-up questions are
first made standalone exactly as `eval.runner.run_questions` does (through `Engine.ask`, whose
`standalone_question` resolves pronouns from the history). Latency is measured per `search` call after one
untimed warm-up pass over all questions; throughput with 1 and 4 threads searching at once shows whether
searches in one process run side by side. Numbers are printed and written to DIR/bench_retrieval.json and
DIR/bench_retrieval.md (default eval/reports/bench/); nothing is asserted.

Needs a built index (`rag ingest`); the index is only read.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

from rag.errors import RagError

from .metrics import RECALL_KS, latency_summary, mean_or_none, recall_at_k, reciprocal_rank
from .runner import CONFIGS, DEFAULT_QUESTIONS, RETRIEVAL_K, Question, load_questions, write_json

BENCH_CONFIGS = ("hybrid", "dense-only", "bm25-only")
DEFAULT_OUT = Path("eval/reports/bench")
METRIC_KEYS = [f"recall@{k}" for k in RECALL_KS] + ["mrr"]


def standalone_questions(engine: Any, questions: list[Question]) -> dict[str, str]:
    """Question id → the text that is searched. As in eval.runner: `ask(...).standalone_question`, else the
    question itself (only questions with a history can change, so only those are asked)."""
    out: dict[str, str] = {}
    for q in questions:
        if q.history:
            ans = engine.ask(q.question, history=q.history)
            out[q.id] = ans.standalone_question or q.question
        else:
            out[q.id] = q.question
    return out


def retrieval_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """n, n_with_gold, recall@k and MRR over the rows (questions without gold titles count only in n)."""
    with_gold = [r for r in rows if r["gold_titles"]]
    out: dict[str, Any] = {"n": len(rows), "n_with_gold": len(with_gold)}
    for k in RECALL_KS:
        out[f"recall@{k}"] = _round(mean_or_none(recall_at_k(r["retrieved_titles"], r["gold_titles"], k)
                                                 for r in with_gold))
    out["mrr"] = _round(mean_or_none(reciprocal_rank(r["retrieved_titles"], r["gold_titles"]) for r in with_gold))
    return out


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def bench_config(engine: Any, questions: list[Question], standalone: dict[str, str]) -> dict[str, Any]:
    for q in questions:  # warm-up: embedder session, Chroma, BM25 and alias index built on first use
        engine.search(standalone[q.id], k=RETRIEVAL_K)
    rows: list[dict[str, Any]] = []
    for q in questions:
        t0 = time.perf_counter()
        hits = engine.search(standalone[q.id], k=RETRIEVAL_K)
        ms = (time.perf_counter() - t0) * 1000
        titles = [h.title for h in hits]
        first = next((i for i, t in enumerate(titles, 1) if t in set(q.gold_titles)), None)
        rows.append({"id": q.id, "type": q.type, "standalone_question": standalone[q.id],
                     "gold_titles": q.gold_titles, "retrieved_titles": titles, "first_gold_rank": first,
                     "latency_ms": round(ms, 3)})
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_type.setdefault(r["type"], []).append(r)
    lat = latency_summary([r["latency_ms"] for r in rows])
    return {
        "overall": retrieval_metrics(rows),
        "by_type": {t: retrieval_metrics(by_type[t]) for t in sorted(by_type)},
        "latency_ms": {key: _round(v, 2) if key != "n" else v for key, v in lat.items()},
        "questions": [{k: r[k] for k in ("id", "type", "first_gold_rank", "latency_ms")} for r in rows],
    }


CONCURRENCY_THREADS = (1, 4)


def concurrency(engine: Any, queries: list[str], threads: tuple[int, ...] = CONCURRENCY_THREADS,
                rounds: int = 2) -> dict[str, Any]:
    """Searches per second with N threads searching at once in one process (the same queries, `rounds` times
    over). On this 2-core machine a search that held a process-wide lock would give the same throughput for 4
    threads as for 1; searches that run side by side give more."""
    from concurrent.futures import ThreadPoolExecutor

    work = queries * rounds
    out: dict[str, Any] = {}
    for n in threads:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(lambda q: engine.search(q, k=RETRIEVAL_K), work))
        secs = time.perf_counter() - t0
        out[f"{n}_threads"] = {"searches": len(work), "seconds": round(secs, 3),
                               "searches_per_s": round(len(work) / secs, 1)}
    base = out[f"{threads[0]}_threads"]["searches_per_s"]
    out["speedup"] = {f"{n}_threads": round(out[f"{n}_threads"]["searches_per_s"] / base, 2) for n in threads}
    return out


def run(questions_path: Path, out: Path) -> dict[str, Any]:
    from rag.engine import Engine
    from rag.settings import Settings

    base = Settings()
    if not base.chroma_url and not (Path(base.index_dir) / "chroma.sqlite3").exists():
        raise RagError(f"no index at {base.index_dir}; build it first with `rag ingest`")
    questions = load_questions(questions_path)
    results: dict[str, Any] = {}
    standalone: dict[str, str] | None = None
    embedder = None
    for name in BENCH_CONFIGS:
        settings = base.model_copy(update=CONFIGS[name])
        # auto_ingest=False: a benchmark must never build (or rebuild) the index behind the user's back.
        with Engine(settings, embedder=embedder, auto_ingest=False) as engine:
            embedder = engine.embedder  # one embedder shared by all configurations
            if standalone is None:
                standalone = standalone_questions(engine, questions)
            print(f"{name}: {len(questions)} questions …", file=sys.stderr, flush=True)
            results[name] = {"overrides": CONFIGS[name], **bench_config(engine, questions, standalone)}
            if name == "hybrid":
                print("hybrid: concurrent searches …", file=sys.stderr, flush=True)
                threads = concurrency(engine, [standalone[q.id] for q in questions])
    assert embedder is not None
    report = {
        "questions_file": str(questions_path), "n_questions": len(questions), "k": RETRIEVAL_K,
        "index": str(base.chroma_url or base.index_dir), "embedding_model": embedder.name,
        "embedder_backend": embedder.backend, "python": platform.python_version(),
        "machine": platform.machine(), "configs": results, "concurrency": threads,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "bench_retrieval.json", report)
    (out / "bench_retrieval.md").write_text(render_markdown(report), encoding="utf-8")
    return report


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def render_markdown(report: dict[str, Any]) -> str:
    configs = report["configs"]
    lines = [f"# Retrieval benchmark ({report['n_questions']} questions, k={report['k']}, "
             f"{report['embedding_model']} via {report['embedder_backend']})", "",
             "Recall@k and MRR over questions with gold titles (unanswerable questions have none); "
             "`n` counts all questions of the type.", "",
             "| config | type | n | " + " | ".join(METRIC_KEYS) + " |",
             "|---|---|---:|" + "---:|" * len(METRIC_KEYS)]
    for name, res in configs.items():
        groups = [("**overall**", res["overall"])] + list(res["by_type"].items())
        for label, m in groups:
            lines.append(f"| {name} | {label} | {m['n']} | " + " | ".join(_fmt(m[k]) for k in METRIC_KEYS) + " |")
    lines += ["", "Warm `Engine.search(k=10)` latency over all questions, after one warm-up pass (ms):", "",
              "| config | n | p50 | p95 | mean |", "|---|---:|---:|---:|---:|"]
    for name, res in configs.items():
        lat = res["latency_ms"]
        lines.append(f"| {name} | {lat['n']} | {lat['p50']:.1f} | {lat['p95']:.1f} | {lat['mean']:.1f} |")
    conc = report.get("concurrency")
    if conc:
        lines += ["", "Concurrent `Engine.search` in one process (hybrid; every question twice):", "",
                  "| threads | searches | seconds | searches/s | vs 1 thread |", "|---:|---:|---:|---:|---:|"]
        for key, row in conc.items():
            if key != "speedup":
                lines.append(f"| {key.split('_')[0]} | {row['searches']} | {row['seconds']:.2f} | "
                             f"{row['searches_per_s']:.1f} | {conc['speedup'][key]:.2f}× |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_retrieval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help="question file (JSONL)")
    args = parser.parse_args(argv)
    try:
        report = run(args.questions, args.out)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    print(render_markdown(report))
    print(f"wrote {args.out / 'bench_retrieval.json'} and {args.out / 'bench_retrieval.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
