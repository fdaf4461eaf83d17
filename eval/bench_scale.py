"""Scale benchmark: ingest and search a synthetic corpus of N papers against a real `chroma run` server.

    python -m eval.bench_scale --sizes 10000,100000 --out eval/reports/bench [--queries 50] [--budget-min 25]

Per size N, in a fresh temporary folder:
1. `eval.synth.generate(N)` papers (real sentences recombined) are written as JSONL.
2. A fresh `chroma run` server is started on 127.0.0.1 (free port, data dir in the temp folder) and the
   papers go through the project's own ingest path: `rag.Engine(Settings(chroma_url=...), embedder=composed)
   .ingest([jsonl])` (parse → chunk → embed → upsert). Measured: wall time, papers/s, chunks/s, peak RSS of
   this process during ingest, the server's data-dir size (du) and the server's peak RSS.
3. A fresh Python process (the way `rag search` meets the index) opens `rag.Engine` on the same server with the
   real embedder (model loaded and warmed before timing) and measures, separately: "retriever load" (the
   first `engine.retriever`: reading every chunk from Chroma and building BM25, aliases and paper records,
   then saving the snapshot), the first `search(q, k=10)` after it, RSS after the retriever load, warm
   `search(q, k=10)` p50/p95 over --queries questions from eval/questions.jsonl, and the retriever load of a
   second fresh Engine in that process, which reads the snapshot saved by the first.

COMPOSED VECTORS (why ingest does not run MiniLM on every chunk): embedding 100k abstracts with the real
all-MiniLM-L6-v2 on a 2-core CPU takes hours. So every distinct real sentence (and every real title word) is
embedded ONCE with the real embedder (`rag.embeddings.get_embedder`), and the ingest gets a `ComposedEmbedder`
that, for a chunk text "title\\npassage", returns the normalized mean of the title vector (mean of its words'
vectors) and the cached vectors of the passage's sentences. Sentences it has never seen (the chunker cutting
inside a sentence) are embedded by the real model once and cached; a text without a title line whose
sentences are not all known (a query) is embedded whole by the real model. It reports the real embedder's
name and dim, so the collection's model check passes and the search process can use the real model for
queries. Consequences: ingest latency excludes model inference (it is real for parsing, chunking, the HTTP
upserts and the server's HNSW/SQLite work), memory, disk and search latency are real, and retrieval quality at
scale is NOT measured (the vectors are plausible, not faithful).

Budget: sizes are run smallest first; before each size the ingest time is extrapolated linearly from the
largest size measured so far (x1.3 for safety). A size whose estimate exceeds --budget-min is skipped (recorded
in the report with its estimate) and --fallback-size is run instead if it fits. Nothing is extrapolated into
the results: every number in the table was measured.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from eval.synth import DEFAULT_DATA, generate, load_pool, split_sentences, write_jsonl

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions.jsonl"
MODELS = ROOT / "data" / "models"
CACHE = Path(tempfile.gettempdir()) / "rag-bench-scale-cache"


def say(msg: str) -> None:
    print(f"[bench_scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- memory / disk ------------------------------------------------------------------------------------------
def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS / VmHWM (peak RSS) in MiB from /proc/<pid>/status."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = round(int(rest.split()[0]) / 1024)
    except OSError:
        pass
    return out


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0), so the next peak is per phase."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children") if Path(f"/proc/{p}").exists() else []:
            try:
                todo.extend(int(c) for c in task.read_text().split())
            except OSError:
                pass
    return pids


def tree_mem(pid: int) -> dict[str, int]:
    total = {"VmRSS": 0, "VmHWM": 0}
    for p in process_tree(pid):
        st = proc_status(p)
        for k in total:
            total[k] += st.get(k, 0)
    return total


def du_mib(path: Path) -> float:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout
    return round(int(out.split()[0]) / 2**20, 1)


# --- composed embedder --------------------------------------------------------------------------------------
class ComposedEmbedder:
    """Real-model vectors of real sentences, averaged per text (see the module docstring). Same name/dim as
    the real embedder it wraps."""

    def __init__(self, real: Any, sentences: dict[str, np.ndarray], words: dict[str, np.ndarray]):
        self.real = real
        self.name = real.name
        self.dim = real.dim
        self.backend = f"composed({real.backend})"
        self.sentences = sentences
        self.words = words
        self.stats = {"texts": 0, "composed": 0, "sentences_embedded": 0, "whole_texts_embedded": 0}

    def _title_vec(self, title: str) -> np.ndarray | None:
        vs = [self.words[w] for w in title.split() if w in self.words]
        return np.mean(vs, axis=0) if vs else None

    def embed(self, texts: list[str]) -> np.ndarray:
        self.stats["texts"] += len(texts)
        plans: list[tuple[str | None, list[str]] | None] = []
        unknown: dict[str, None] = {}
        whole: list[int] = []
        for i, t in enumerate(texts):
            if "\n" in t:  # a chunk: "title\npassage"
                title, passage = t.split("\n", 1)
                sents = split_sentences(passage)
                for s in sents:
                    if s not in self.sentences:
                        unknown.setdefault(s, None)
                if self._title_vec(title) is None:
                    unknown.setdefault(title, None)
                plans.append((title, sents))
            else:
                sents = split_sentences(t)
                if sents and all(s in self.sentences for s in sents):
                    plans.append((None, sents))
                else:
                    plans.append(None)
                    whole.append(i)
        if unknown:
            new = list(unknown)
            for s, v in zip(new, self.real.embed(new), strict=True):
                self.sentences[s] = v
            self.stats["sentences_embedded"] += len(new)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if whole:
            out[whole] = self.real.embed([texts[i] for i in whole])
            self.stats["whole_texts_embedded"] += len(whole)
        for i, plan in enumerate(plans):
            if plan is None:
                continue
            title, sents = plan
            parts = [self.sentences[s] for s in sents]
            if title is not None:
                tv = self._title_vec(title)
                parts.append(tv if tv is not None else self.sentences[title])
            v = np.mean(parts, axis=0)
            out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
            self.stats["composed"] += 1
        return out


def build_composed(settings: Any, data: Path) -> ComposedEmbedder:
    from rag.embeddings import get_embedder

    real = get_embedder(settings)
    pool = load_pool(data)
    sentences = list(pool.sentences)
    words = sorted(set(pool.title_words))
    key = hashlib.sha1("\x00".join([real.name, real.backend, *sentences, "\x01", *words]).encode()).hexdigest()[:16]
    path = CACHE / f"vectors-{key}.npz"
    if path.exists():
        z = np.load(path)
        sv, wv = z["sentences"], z["words"]
        say(f"sentence vectors from cache {path.name}: {len(sentences)} sentences, {len(words)} title words")
    else:
        say(f"embedding {len(sentences)} real sentences and {len(words)} title words once with {real.name} "
            f"({real.backend}) ...")
        t0 = time.perf_counter()
        sv, wv = real.embed(sentences), real.embed(words)
        say(f"  done in {time.perf_counter() - t0:.1f} s")
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, sentences=sv, words=wv)
        os.replace(tmp, path)
    return ComposedEmbedder(real, dict(zip(sentences, sv, strict=True)), dict(zip(words, wv, strict=True)))


# --- chroma server ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_chroma(path: Path) -> tuple[subprocess.Popen, str, Any]:
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if exe is None:
        raise SystemExit("the `chroma` command is not installed")
    port = free_port()
    log = open(path / "server.log", "wb")
    proc = subprocess.Popen([exe, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/api/v2/heartbeat", timeout=1)
            return proc, url, log
        except Exception:
            if proc.poll() is not None:
                raise SystemExit(f"chroma server exited: {(path / 'server.log').read_text()[-2000:]}") from None
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("chroma server did not start in 60 s")


def stop_chroma(proc: subprocess.Popen, log: Any) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


# --- search phase (runs in a fresh process) -----------------------------------------------------------------
def load_queries(n: int) -> list[str]:
    qs = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    return (qs * (n // len(qs) + 1))[:n]


def search_phase(url: str, index_dir: Path, n_queries: int) -> dict[str, Any]:
    t_start = time.perf_counter()
    from rag.engine import Engine
    from rag.settings import Settings

    settings = Settings(chroma_url=url, index_dir=index_dir, model_cache_dir=MODELS)
    queries = load_queries(n_queries + 1)
    engine = Engine(settings, auto_ingest=False)
    engine.embedder.embed(["warm up the model"])  # model load is not retriever load
    engine.store()
    rss_before = proc_status()["VmRSS"]
    t0 = time.perf_counter()
    _ = engine.retriever
    retriever_load = time.perf_counter() - t0
    rss_after_load = proc_status()["VmRSS"]
    t0 = time.perf_counter()
    engine.search(queries[0], k=10)
    first_search = time.perf_counter() - t0
    lat = []
    for q in queries[1:]:
        t0 = time.perf_counter()
        hits = engine.search(q, k=10)
        lat.append(time.perf_counter() - t0)
    assert hits, "search returned nothing"
    snapshot_saved = not engine.retriever.loaded_from_snapshot
    engine.close()
    del engine
    import gc

    gc.collect()
    engine2 = Engine(settings, auto_ingest=False)
    engine2.store()
    t0 = time.perf_counter()
    r2 = engine2.retriever
    snapshot_load = time.perf_counter() - t0
    from_snapshot = r2.loaded_from_snapshot
    t0 = time.perf_counter()
    engine2.search(queries[0], k=10)
    first_search_2 = time.perf_counter() - t0
    engine2.close()
    snaps = list((index_dir / "snapshots").glob("*.pkl"))
    qs = sorted(lat)
    return {
        "retriever_load_s": round(retriever_load, 3),
        "first_search_after_load_s": round(first_search, 3),
        "first_search_total_s": round(retriever_load + first_search, 3),
        "rss_before_retriever_mib": rss_before,
        "rss_after_retriever_mib": rss_after_load,
        "retriever_rss_delta_mib": rss_after_load - rss_before,
        "warm_queries": len(lat),
        "warm_p50_ms": round(1000 * statistics.median(qs), 1),
        "warm_p95_ms": round(1000 * qs[min(len(qs) - 1, int(round(0.95 * (len(qs) - 1))))], 1),
        "warm_max_ms": round(1000 * qs[-1], 1),
        "snapshot_saved": snapshot_saved,
        "snapshot_mib": round(sum(p.stat().st_size for p in snaps) / 2**20, 1),
        "retriever_load_from_snapshot_s": round(snapshot_load, 3) if from_snapshot else None,
        "first_search_after_snapshot_load_s": round(first_search_2, 3),
        "search_process_peak_rss_mib": proc_status()["VmHWM"],
        "search_process_wall_s": round(time.perf_counter() - t_start, 1),
    }


# --- one size -----------------------------------------------------------------------------------------------
def run_size(n: int, composed: ComposedEmbedder, args: argparse.Namespace) -> dict[str, Any]:
    from rag.engine import Engine
    from rag.settings import Settings

    res: dict[str, Any] = {"papers_requested": n}
    with tempfile.TemporaryDirectory(prefix=f"bench-scale-{n}-") as tmp_s:
        tmp = Path(tmp_s)
        t0 = time.perf_counter()
        papers = generate(n, args.seed, args.data)
        jsonl = tmp / "synth.jsonl"
        write_jsonl(papers, jsonl)
        res["generate_s"] = round(time.perf_counter() - t0, 2)
        res["jsonl_mib"] = round(jsonl.stat().st_size / 2**20, 1)
        del papers
        say(f"N={n}: generated {res['jsonl_mib']} MiB JSONL in {res['generate_s']} s; starting chroma")
        proc, url, log = start_chroma(tmp)
        try:
            settings = Settings(chroma_url=url, index_dir=tmp / "index", data_dir=tmp, model_cache_dir=MODELS)
            before = dict(composed.stats)
            reset_peak_rss()
            rss0 = proc_status()["VmRSS"]
            say(f"N={n}: ingesting through rag.Engine.ingest (progress bar below)")
            t0 = time.perf_counter()
            with Engine(settings, embedder=composed, auto_ingest=False) as engine:
                report = engine.ingest([jsonl], progress=True)
            ingest_s = time.perf_counter() - t0
            st = proc_status()
            res.update({
                "papers": report.papers,
                "chunks": report.chunks_written,
                "chunks_per_paper": round(report.chunks_written / max(report.papers, 1), 2),
                "ingest_s": round(ingest_s, 1),
                "papers_per_s": round(report.papers / ingest_s, 1),
                "chunks_per_s": round(report.chunks_written / ingest_s, 1),
                "bench_rss_before_ingest_mib": rss0,
                "bench_peak_rss_ingest_mib": st["VmHWM"],
                "composed": {k: composed.stats[k] - before[k] for k in composed.stats},
                "ingest_warnings": len(report.warnings),
            })
            srv = tree_mem(proc.pid)
            res["server_rss_after_ingest_mib"] = srv["VmRSS"]
            res["server_peak_rss_ingest_mib"] = srv["VmHWM"]
            res["server_disk_mib"] = du_mib(tmp / "data")
            say(f"N={n}: ingest {res['ingest_s']} s ({res['papers_per_s']} papers/s, {res['chunks_per_s']} "
                f"chunks/s), server disk {res['server_disk_mib']} MiB; search phase in a fresh process")
            out = subprocess.run([sys.executable, "-m", "eval.bench_scale", "--_search", url, str(tmp / "index"),
                                  "--queries", str(args.queries)], capture_output=True, text=True, cwd=ROOT)
            if out.returncode != 0:
                raise SystemExit(f"search phase failed:\n{out.stderr[-3000:]}")
            res.update(json.loads(out.stdout.strip().splitlines()[-1]))
            srv = tree_mem(proc.pid)
            res["server_peak_rss_mib"] = srv["VmHWM"]
            res["server_disk_after_search_mib"] = du_mib(tmp / "data")
        finally:
            stop_chroma(proc, log)
    say(f"N={n}: retriever load {res['retriever_load_s']} s, warm p50 {res['warm_p50_ms']} ms "
        f"p95 {res['warm_p95_ms']} ms")
    return res


# --- report -------------------------------------------------------------------------------------------------
COLUMNS = [
    ("papers", "papers"), ("chunks", "chunks"), ("ingest_s", "ingest s"), ("papers_per_s", "papers/s"),
    ("chunks_per_s", "chunks/s"), ("server_disk_mib", "disk MiB"), ("bench_peak_rss_ingest_mib", "ingest RSS pk"),
    ("server_peak_rss_mib", "server RSS pk"), ("retriever_load_s", "retriever load s"),
    ("first_search_after_load_s", "1st search s"), ("rss_after_retriever_mib", "RSS after load"),
    ("retriever_load_from_snapshot_s", "snapshot load s"), ("warm_p50_ms", "p50 ms"), ("warm_p95_ms", "p95 ms"),
]


def table(results: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(h for _, h in COLUMNS) + " |"
    sep = "|" + "|".join("---:" for _ in COLUMNS) + "|"
    rows = ["| " + " | ".join(str(r.get(k, "")) for k, _ in COLUMNS) + " |" for r in results]
    return "\n".join([head, sep, *rows])


def write_md(path: Path, doc: dict[str, Any]) -> None:
    lines = [
        "# Scale benchmark (synthetic corpus, Chroma server)", "",
        f"Machine: {doc['machine']['cpus']} CPUs, Python {doc['machine']['python']}, {doc['machine']['platform']}. "
        f"Total wall time {doc['total_s']} s. Command: `{doc['command']}`.", "",
        table(doc["results"]), "",
        "Memory in MiB. *ingest RSS pk*: peak RSS of the benchmark process during ingest (it holds the composed "
        "embedder's sentence vectors and the real model). *server RSS pk*: peak RSS of the `chroma run` process over "
        "ingest and search. *retriever load*: first `engine.retriever` in a fresh process (all chunks read from "
        "Chroma, BM25/aliases/paper records built, snapshot written). *1st search*: the search right after it. "
        "*RSS after load*: the fresh search process after the retriever load (includes the model and libraries; "
        "see `rss_before_retriever_mib` in the JSON). *snapshot load*: a second fresh Engine reading the pickled "
        "snapshot. p50/p95: warm `engine.search(q, k=10)` over questions from eval/questions.jsonl.", "",
        "**Composed vectors**: chunk vectors are the normalized mean of real MiniLM vectors of the chunk's (real) "
        "sentences and title words, each embedded once. Ingest time therefore excludes model inference; memory, "
        "disk and search latency are real; retrieval quality at this scale is not measured. Queries are embedded "
        "by the real model.", "",
    ]
    if doc["skipped"]:
        lines.append("Skipped sizes (estimated over the budget; nothing extrapolated into the table):")
        lines += [f"- {s['papers']}: estimated ingest {s['estimated_ingest_s']} s > budget {s['budget_s']} s"
                  for s in doc["skipped"]]
        lines.append("")
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.bench_scale", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated corpus sizes")
    ap.add_argument("--out", type=Path, default=ROOT / "eval" / "reports" / "bench")
    ap.add_argument("--queries", type=int, default=50, help="warm queries per size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="real corpus to recombine")
    ap.add_argument("--budget-min", type=float, default=25.0, help="max estimated ingest minutes per size")
    ap.add_argument("--fallback-size", type=int, default=30000, help="run instead of a size over the budget")
    ap.add_argument("--_search", nargs=2, metavar=("URL", "INDEX_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args._search:
        print(json.dumps(search_phase(args._search[0], Path(args._search[1]), args.queries)))
        return 0

    from rag.settings import Settings

    started = time.perf_counter()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    composed = build_composed(Settings(model_cache_dir=MODELS), args.data)
    results: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    budget = args.budget_min * 60
    queue = list(sizes)
    while queue:
        n = queue.pop(0)
        if results:
            ref = results[-1]
            est = ref["ingest_s"] * n / ref["papers_requested"] * 1.3
            if est > budget:
                say(f"N={n}: estimated ingest {est:.0f} s exceeds the budget {budget:.0f} s; skipped")
                skipped.append({"papers": n, "estimated_ingest_s": round(est), "budget_s": round(budget)})
                fb = args.fallback_size
                if fb not in sizes and fb > ref["papers_requested"] and fb < n:
                    sizes.append(fb)
                    queue.insert(0, fb)
                continue
        results.append(run_size(n, composed, args))
    doc = {
        "command": "python -m eval.bench_scale " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "embedder": {"name": composed.name, "dim": composed.dim, "backend": composed.backend,
                     "real_sentences": len(composed.sentences), "title_words": len(composed.words)},
        "queries": args.queries,
        "results": results,
        "skipped": skipped,
        "total_s": round(time.perf_counter() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_scale.json").write_text(json.dumps(doc, indent=2) + "\n")
    write_md(args.out / "bench_scale.md", doc)
    print(table(results))
    if skipped:
        print("skipped: " + ", ".join(f"{s['papers']} (est. {s['estimated_ingest_s']} s)" for s in skipped))
    print(f"wrote {args.out / 'bench_scale.json'} and {args.out / 'bench_scale.md'} in {doc['total_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
