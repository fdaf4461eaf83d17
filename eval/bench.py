"""Performance benchmark: how long the tool takes to start, index and answer on this machine, how fast each
embedder backend is, and whether our hybrid retrieval earns its complexity against two plain baselines.

    python -m eval.bench [--out DIR] [--questions FILE] [--quick]        (`make bench`)

Intent: numbers a user feels, measured the way a user meets them. Everything runs against a fresh index built
in a temporary folder (never data/index), from the corpus in RAG_DATA_DIR (default data/raw):

- ingest: `rag ingest` in a fresh process into the empty temporary index (wall time incl. Python start and
  model load; peak RSS of that process from os.wait4), then a second, no-op `rag ingest` (nothing changed).
- cold start: `rag ask QUESTION --json --no-llm` (a comparative question, extractive mode) in a fresh
  process, 3 runs; each run and the median are reported. The answer must come back as extractive JSON.
- warm latency: one in-process `rag.Engine` on that index; one untimed warm-up pass, then
  `search(k=10)` and `ask(use_llm=False)` per question of the question file: p50/p95.
- retrieval vs baselines, recall@10 over the answerable questions (follow-ups searched as their standalone
  rewrite, as `rag eval` does): ours (`Engine.search`), a plain llama-index `VectorStoreIndex` over Chroma
  (dense only, one document per whole abstract, embedded by our embedder wrapped as a llama-index
  `BaseEmbedding`), and BM25 alone (bm25s over whole abstracts). Per-query latency p50 for each.
  Ablations of our own retriever (dense-only, bm25-only) are in eval/bench_retrieval.py, not repeated here.
- embedding throughput: chunks/s of the ONNX and sentence-transformers backends on the corpus chunks
  (rag.chunking), in this process after a warm-up batch; model load time alongside.

--quick: one cold-start run, throughput of the ONNX backend only on 128 chunks, no sentence-transformers.
Results are printed and written to DIR/bench.json and DIR/bench.md (no absolute or temporary paths), and
nothing is asserted: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rag.errors import RagError

from .metrics import latency_summary, mean_or_none, recall_at_k
from .runner import DEFAULT_QUESTIONS, RETRIEVAL_K, Question, load_questions, write_json

DEFAULT_OUT = Path("eval/reports/bench")
ROOT = Path(__file__).resolve().parent.parent
COLD_RUNS = 3
LLM_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_LLM_BASE_URL", "RAG_LLM_MODEL", "RAG_OPENAI_API_KEY",
           "RAG_OPENAI_BASE_URL", "RAG_CHROMA_URL", "RAG_EMBED_BACKEND")


# --- helpers ---------------------------------------------------------------------------------------------------
class Progress:
    def __init__(self, total: int):
        self.total, self.n, self.t0 = total, 0, time.perf_counter()

    def step(self, what: str) -> None:
        self.n += 1
        print(f"[{self.n}/{self.total} {time.perf_counter() - self.t0:6.1f}s] {what} …", file=sys.stderr, flush=True)


def _r(v: float | None, digits: int = 1) -> float | None:
    return None if v is None else round(float(v), digits)


def _lat(ms: list[float]) -> dict[str, Any]:
    s = latency_summary(ms)
    return {k: (v if k == "n" else _r(v, 2)) for k, v in s.items()}


def _rel(path: Path) -> str:
    """A path for the report: relative to the repository when inside it, else just its name."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return path.name


def timed_run(cmd: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run `cmd` in a fresh process; wall seconds, exit code, peak RSS (MiB, of it and its waited children)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RagError(f"{' '.join(cmd[:2])} … exited {proc.returncode}: {stderr.strip()[-800:]}")
    # Linux reports ru_maxrss in KiB.
    return {"seconds": round(wall, 3), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "stdout": stdout}


def rag_exe() -> str:
    exe = shutil.which("rag", path=str(Path(sys.executable).parent)) or shutil.which("rag")
    if exe is None:
        raise RagError("the `rag` command is not installed (run `make setup`)")
    return exe


# --- subprocess measurements -----------------------------------------------------------------------------------
def bench_ingest(env: dict[str, str]) -> dict[str, Any]:
    first = timed_run([rag_exe(), "ingest"], env, ROOT)
    again = timed_run([rag_exe(), "ingest"], env, ROOT)
    return {"full_seconds": first["seconds"], "full_peak_rss_mib": first["peak_rss_mib"],
            "noop_seconds": again["seconds"], "noop_peak_rss_mib": again["peak_rss_mib"]}


def bench_cold_ask(env: dict[str, str], question: str, runs: int) -> dict[str, Any]:
    seconds = []
    for _ in range(runs):
        res = timed_run([rag_exe(), "ask", question, "--json", "--no-llm"], env, ROOT)
        ans = json.loads(res["stdout"])
        if ans.get("mode") != "extractive":
            raise RagError(f"cold-start ask answered in mode {ans.get('mode')!r}, expected extractive")
        seconds.append(res["seconds"])
    return {"question": question, "runs_seconds": seconds, "median_seconds": round(statistics.median(seconds), 3),
            "abstained": ans["abstained"], "n_citations": len(ans.get("citations") or [])}


# --- in-process measurements -----------------------------------------------------------------------------------
def bench_warm(engine: Any, questions: list[Question]) -> dict[str, Any]:
    for q in questions:  # warm-up: ONNX session, Chroma, BM25 and alias indexes are built on first use
        engine.search(q.question, k=RETRIEVAL_K)
        engine.ask(q.question, history=q.history or None, use_llm=False)
    search_ms, ask_ms = [], []
    for q in questions:
        t0 = time.perf_counter()
        engine.search(q.question, k=RETRIEVAL_K)
        search_ms.append((time.perf_counter() - t0) * 1000)
    for q in questions:
        t0 = time.perf_counter()
        engine.ask(q.question, history=q.history or None, use_llm=False)
        ask_ms.append((time.perf_counter() - t0) * 1000)
    return {"search_ms": _lat(search_ms), "ask_extractive_ms": _lat(ask_ms)}


def _recall_row(name: str, retrieve: Any, questions: list[Question], standalone: dict[str, str]) -> dict[str, Any]:
    """recall@10 over answerable questions and per-query latency (ms) of `retrieve(text) -> titles`."""
    answerable = [q for q in questions if q.gold_titles]
    for q in answerable[:5]:
        retrieve(standalone[q.id])  # warm-up
    recalls, ms = [], []
    for q in answerable:
        t0 = time.perf_counter()
        titles = retrieve(standalone[q.id])
        ms.append((time.perf_counter() - t0) * 1000)
        recalls.append(recall_at_k(titles, q.gold_titles, RETRIEVAL_K))
    lat = latency_summary(ms)
    return {"retriever": name, "n": len(answerable), f"recall@{RETRIEVAL_K}": _r(mean_or_none(recalls), 4),
            "latency_p50_ms": _r(lat["p50"], 2), "latency_p95_ms": _r(lat["p95"], 2)}


def llama_index_embedding(embedder: Any) -> Any:
    """Our embedder as a llama-index BaseEmbedding (same model, same vectors)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class RagEmbedding(BaseEmbedding):
        _emb: Any = PrivateAttr()

        def __init__(self, emb: Any, **kw: Any):
            super().__init__(model_name=emb.name, embed_batch_size=64, **kw)
            self._emb = emb

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._emb.embed([query])[0].tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._emb.embed([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._emb.embed(texts).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return RagEmbedding(embedder)


def bench_baselines(engine: Any, papers: list[Any], questions: list[Question],
                    standalone: dict[str, str]) -> list[dict[str, Any]]:
    rows = [_recall_row("ours (rag.Engine.search: hybrid, per paper)",
                        lambda q: [h.title for h in engine.search(q, k=RETRIEVAL_K)], questions, standalone)]

    try:
        import chromadb
        from llama_index.core import Document, StorageContext, VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore
    except ImportError as e:
        rows.append({"retriever": "llama-index VectorStoreIndex + Chroma", "skipped": f"{e} "
                     "(pip install llama-index-vector-stores-chroma)"})
    else:
        client = chromadb.EphemeralClient()
        name = f"bench-baseline-{os.getpid()}"
        col = client.create_collection(name, metadata={"hnsw:space": "cosine"})
        docs = [Document(text=f"{p.title}\n{p.abstract}", metadata={"title": p.title},
                         excluded_embed_metadata_keys=["title"], excluded_llm_metadata_keys=["title"])
                for p in papers]
        t0 = time.perf_counter()
        index = VectorStoreIndex.from_documents(
            docs, storage_context=StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=col)),
            embed_model=llama_index_embedding(engine.embedder))
        build = time.perf_counter() - t0
        retriever = index.as_retriever(similarity_top_k=3 * RETRIEVAL_K)  # long abstracts may split in nodes

        def dense(q: str) -> list[str]:
            titles: list[str] = []
            for n in retriever.retrieve(q):
                if n.node.metadata["title"] not in titles:
                    titles.append(n.node.metadata["title"])
            return titles[:RETRIEVAL_K]

        rows.append({**_recall_row("llama-index VectorStoreIndex + Chroma (dense, whole abstracts)", dense,
                                   questions, standalone), "build_seconds": _r(build, 2)})
        client.delete_collection(name)

    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    t0 = time.perf_counter()
    bm25 = bm25s.BM25()
    bm25.index(bm25s.tokenize([f"{p.title}\n{p.abstract}" for p in papers], stopwords="en", stemmer=stemmer,
                              show_progress=False), show_progress=False)
    build = time.perf_counter() - t0
    titles_by_row = [p.title for p in papers]

    def sparse(q: str) -> list[str]:
        toks = bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False)
        docs, _ = bm25.retrieve(toks, k=RETRIEVAL_K, show_progress=False)
        return [titles_by_row[i] for i in docs[0]]

    rows.append({**_recall_row("BM25 alone (bm25s, whole abstracts)", sparse, questions, standalone),
                 "build_seconds": _r(build, 2)})
    return rows


def bench_throughput(settings: Any, texts: list[str], backends: list[str]) -> list[dict[str, Any]]:
    from rag.embeddings import get_embedder

    out = []
    for backend in backends:
        t0 = time.perf_counter()
        emb = get_embedder(settings.model_copy(update={"embed_backend": backend}))
        load = time.perf_counter() - t0
        emb.embed(texts[:32])  # warm-up
        batch = settings.embed_batch_size
        t0 = time.perf_counter()
        for start in range(0, len(texts), batch):
            emb.embed(texts[start:start + batch])
        secs = time.perf_counter() - t0
        out.append({"backend": emb.backend, "chunks": len(texts), "seconds": round(secs, 2),
                    "chunks_per_s": round(len(texts) / secs, 1), "load_seconds": round(load, 2),
                    "batch_size": batch})
    return out


# --- the run -----------------------------------------------------------------------------------------------------
def run(questions_path: Path, quick: bool = False) -> dict[str, Any]:
    from rag.chunking import chunk_paper
    from rag.corpus import load_corpus
    from rag.engine import Engine
    from rag.settings import Settings, configure_offline_environment

    from .bench_retrieval import standalone_questions

    configure_offline_environment()
    base = Settings()
    data_dir = base.data_dir.resolve()
    questions = load_questions(questions_path)
    comparative = next((q.question for q in questions if q.type == "comparative" and not q.history),
                       "How do the approaches of the two best-known papers differ?")
    load_at_start = round(os.getloadavg()[0], 2)  # other work on the box inflates every number below
    progress = Progress(7 - int(quick))
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        index_dir = Path(tmp) / "index"
        env = {k: v for k, v in os.environ.items() if k not in LLM_ENV}
        env.update(RAG_INDEX_DIR=str(index_dir), RAG_DATA_DIR=str(data_dir),
                   RAG_MODEL_CACHE_DIR=str(base.model_cache_dir.resolve()), TOKENIZERS_PARALLELISM="false")
        onnx_cached = any(base.model_cache_dir.glob("minilm-*.onnx"))

        progress.step("rag ingest into a fresh temporary index, then a no-op re-ingest (fresh processes)")
        ingest = bench_ingest(env)
        ingest["onnx_export_cached"] = onnx_cached

        runs = 1 if quick else COLD_RUNS
        progress.step(f"cold start: rag ask --json --no-llm × {runs} (fresh processes)")
        cold = bench_cold_ask(env, comparative, runs)

        settings = base.model_copy(update={"index_dir": index_dir, "data_dir": data_dir, "chroma_url": None,
                                           "embed_backend": "auto"})
        parsed = load_corpus([data_dir], settings.max_abstract_chars, settings.max_file_bytes, root=data_dir)
        chunks = [c for p in parsed.papers for c in chunk_paper(p, settings.chunk_tokens, settings.chunk_overlap)]
        with Engine(settings, auto_ingest=False) as engine:
            stats = engine.stats()
            progress.step(f"warm search / extractive ask over {len(questions)} questions (in-process)")
            warm = bench_warm(engine, questions)
            progress.step("retrieval recall@10: ours vs llama-index VectorStoreIndex vs BM25")
            standalone = standalone_questions(engine, questions)
            baselines = bench_baselines(engine, parsed.papers, questions, standalone)

        texts = [c.embed_text for c in chunks]
        if quick:
            progress.step("embedding throughput: onnx on 128 chunks")
            throughput = bench_throughput(settings, texts[:128], ["onnx"])
        else:
            progress.step(f"embedding throughput: onnx on {len(texts)} chunks")
            throughput = bench_throughput(settings, texts, ["onnx"])
            progress.step(f"embedding throughput: sentence-transformers on {len(texts)} chunks (imports torch)")
            throughput += bench_throughput(settings, texts, ["sentence-transformers"])
        progress.step("writing the report")

    import numpy
    import onnxruntime

    return {
        "quick": quick,
        "machine": {"python": platform.python_version(), "platform": platform.platform(terse=True),
                    "cpus": os.cpu_count(), "load_avg_1min_at_start": load_at_start,
                    "onnxruntime": onnxruntime.__version__, "numpy": numpy.__version__},
        "corpus": {"data_dir": _rel(data_dir), "papers": stats["papers"], "chunks": stats["chunks"],
                   "embedding_model": stats["embedding_model"], "embedder_backend": stats["embedder_backend"]},
        "questions_file": _rel(questions_path), "n_questions": len(questions), "k": RETRIEVAL_K,
        "ingest": ingest, "cold_start_ask": cold, "warm": warm, "retrieval": baselines,
        "embedding_throughput": throughput,
    }


def _f(v: Any, fmt: str = "{:.1f}") -> str:
    if v is None:
        return "–"
    return fmt.format(v) if isinstance(v, float | int) and not isinstance(v, bool) else str(v)


def render_markdown(r: dict[str, Any]) -> str:
    c, ing, cold, warm = r["corpus"], r["ingest"], r["cold_start_ask"], r["warm"]
    m = r["machine"]
    lines = [f"# Performance benchmark{' (quick)' if r['quick'] else ''}", "",
             f"{c['papers']} papers / {c['chunks']} chunks from `{c['data_dir']}`, {c['embedding_model']} via "
             f"{c['embedder_backend']}; {r['n_questions']} questions from `{r['questions_file']}`; "
             f"{m['cpus']} CPUs (1-min load {m['load_avg_1min_at_start']} at start), Python {m['python']}, "
             f"onnxruntime {m['onnxruntime']}.", "",
             "| measurement | value |", "|---|---:|",
             f"| full ingest, fresh process (s) | {_f(ing['full_seconds'], '{:.2f}')} |",
             f"| full ingest peak RSS (MiB) | {_f(ing['full_peak_rss_mib'], '{:.0f}')} |",
             f"| no-op re-ingest, fresh process (s) | {_f(ing['noop_seconds'], '{:.2f}')} |",
             "| cold start `rag ask --json --no-llm` (s), runs | "
             + ", ".join(f"{s:.2f}" for s in cold["runs_seconds"]) + " |",
             f"| cold start median (s) | {_f(cold['median_seconds'], '{:.2f}')} |",
             f"| warm search k={r['k']} p50 / p95 (ms) | {_f(warm['search_ms']['p50'])} / "
             f"{_f(warm['search_ms']['p95'])} |",
             f"| warm extractive ask p50 / p95 (ms) | {_f(warm['ask_extractive_ms']['p50'])} / "
             f"{_f(warm['ask_extractive_ms']['p95'])} |",
             "", f"Cold-start question: “{cold['question']}”", "",
             "| embedder backend | chunks | chunks/s | load (s) |", "|---|---:|---:|---:|"]
    for t in r["embedding_throughput"]:
        lines.append(f"| {t['backend']} | {t['chunks']} | {_f(t['chunks_per_s'])} | "
                     f"{_f(t['load_seconds'], '{:.2f}')} |")
    lines += ["", f"Retrieval over the {r['retrieval'][0]['n']} answerable questions (paper-level recall@{r['k']}; "
              "follow-ups searched as their standalone rewrite):", "",
              f"| retriever | recall@{r['k']} | p50 (ms) | p95 (ms) |", "|---|---:|---:|---:|"]
    recall_key = f"recall@{r['k']}"
    for b in r["retrieval"]:
        if "skipped" in b:
            lines.append(f"| {b['retriever']} | skipped: {b['skipped']} | | |")
        else:
            lines.append(f"| {b['retriever']} | {_f(b[recall_key], '{:.3f}')} | "
                         f"{_f(b['latency_p50_ms'])} | {_f(b['latency_p95_ms'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help="question file (JSONL)")
    parser.add_argument("--quick", action="store_true", help="skip the slowest parts (1 cold-start run, "
                        "ONNX throughput on 128 chunks only, no sentence-transformers)")
    args = parser.parse_args(argv)
    try:
        report = run(args.questions, quick=args.quick)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    md = render_markdown(report)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "bench.json", report)
    (args.out / "bench.md").write_text(md, encoding="utf-8")
    print(md)
    print(f"wrote {args.out / 'bench.json'} and {args.out / 'bench.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
