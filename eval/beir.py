"""`rag eval --beir DIR`: score `Engine.search` on a dataset in the BEIR layout (`corpus.jsonl`,
`queries.jsonl`, `qrels/<split>.tsv`) as a user would meet it: the corpus is ingested as the user's own JSONL
(into a collection of its own, incrementally), every judged query is searched with k=100, and nDCG@10 (graded),
Recall@100, MRR@10 and latency are reported per configuration for the dev and the held-out half of the queries.

`--subset N` indexes a deterministic part of the corpus: the relevant documents of a seeded sample of queries
(up to half of N), then other documents; only queries whose relevant documents are all in it are scored."""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InputError

from .metrics import ndcg_at_k, ranking_summary, recall_at_k, reciprocal_rank, relevant
from .splits import SPLITS, select, split_of

K = 100  # papers asked of Engine.search per query: enough for Recall@100
SUBSET_SEED = 13
Warn = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


@dataclass
class BeirData:
    name: str  # the folder's name, e.g. "scifact"
    corpus: Path
    split: str  # which qrels file: train, dev, test
    queries: dict[str, str]  # query id → text
    qrels: dict[str, dict[str, int]]  # query id → {corpus id: grade}


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read it ({e.__class__.__name__})") from None


def load_queries(path: Path, warn: Warn = _stderr) -> dict[str, str]:
    """`{"_id", "text"}` per line. Bad lines are reported as file:line and skipped."""
    out: dict[str, str] = {}
    for lineno, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            warn(f"{where}: not valid JSON; line skipped")
            continue
        qid = obj.get("_id") if isinstance(obj, dict) else None
        if isinstance(qid, bool) or not isinstance(qid, str | int) or not str(qid).strip():
            warn(f"{where}: no '_id'; line skipped")
            continue
        text = obj.get("text")
        if not isinstance(text, str) or not text.strip():
            warn(f"{where}: query {qid!s} has no 'text'; line skipped")
            continue
        qid = str(qid).strip()
        if qid in out:
            warn(f"{where}: duplicate query id {qid!r}; line skipped")
            continue
        out[qid] = " ".join(text.split())
    return out


def load_qrels(path: Path, warn: Warn = _stderr) -> dict[str, dict[str, int]]:
    """`query-id corpus-id score` per line (tab separated, the header line optional). Bad lines are reported
    as file:line and skipped."""
    out: dict[str, dict[str, int]] = {}
    for lineno, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) != 3:
            parts = line.split()
        where = f"{path}:{lineno}"
        if lineno == 1 and parts[:2] == ["query-id", "corpus-id"]:
            continue
        if len(parts) != 3 or not all(parts):
            warn(f"{where}: expected 3 fields (query-id, corpus-id, score), found {len(parts)}; line skipped")
            continue
        qid, did, score = parts
        if not re.fullmatch(r"-?\d{1,9}", score):
            warn(f"{where}: score {score[:20]!r} is not a whole number; line skipped")
            continue
        if did in out.get(qid, {}):
            warn(f"{where}: query {qid} judges document {did} twice; the later score is kept")
        out.setdefault(qid, {})[did] = int(score)
    return out


def load_beir(folder: Path, split: str = "train", warn: Warn = _stderr) -> BeirData:
    """The queries and judgements of one split of a BEIR folder. Raises InputError naming what is missing."""
    folder = Path(folder)
    if folder.is_file():
        raise InputError(f"--beir {folder}: is a file; give the folder that holds corpus.jsonl")
    if not folder.is_dir():
        raise InputError(f"--beir {folder}: no such folder")
    corpus, queries, qrels_dir = folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels"
    missing = [p.name + ("/" if p is qrels_dir else "") for p in (corpus, queries, qrels_dir) if not p.exists()]
    if missing:
        raise InputError(f"--beir {folder}: not a BEIR folder (missing {', '.join(missing)}; expected "
                         "corpus.jsonl, queries.jsonl and qrels/<split>.tsv)")
    qrels_file = qrels_dir / f"{split}.tsv"
    if not qrels_file.is_file():
        have = sorted(p.stem for p in qrels_dir.glob("*.tsv"))
        raise InputError(f"--beir {folder}: no qrels/{split}.tsv (splits here: {', '.join(have) or 'none'})")
    data = BeirData(folder.resolve().name, corpus, split, load_queries(queries, warn), load_qrels(qrels_file, warn))
    unknown = [q for q in data.qrels if q not in data.queries]
    if unknown:
        warn(f"{qrels_file}: {len(unknown)} judged queries are not in queries.jsonl (e.g. {unknown[0]}); ignored")
    return data


def choose_subset(doc_ids: Sequence[str], qrels: Mapping[str, Mapping[str, int]], n: int,
                  seed: int = SUBSET_SEED) -> list[str]:
    """N documents: the relevant documents of queries taken in a seeded random order (up to half of N), then
    other documents in a seeded hash order. The same inputs always give the same subset."""
    if n >= len(doc_ids):
        return list(doc_ids)
    in_corpus = set(doc_ids)
    qids = sorted(q for q, rel in qrels.items() if relevant(rel) and relevant(rel) <= in_corpus)
    random.Random(seed).shuffle(qids)
    chosen: dict[str, None] = {}
    for q in qids:
        new = sorted(relevant(qrels[q]) - chosen.keys())
        if len(chosen) + len(new) <= n // 2:
            chosen.update(dict.fromkeys(new))
    others = sorted((d for d in doc_ids if d not in chosen),
                    key=lambda d: hashlib.sha256(f"{seed}\x00{d}".encode()).hexdigest())
    chosen.update(dict.fromkeys(others[: n - len(chosen)]))
    return list(chosen)


def collection_name(name: str, subset: int | None) -> str:
    """The Chroma collection of a dataset (or of one subset of it), apart from the user's papers."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_") or "data"
    return f"beir-{slug}" + (f"-{subset}" if subset else "")


def scored_queries(data: BeirData, docs: set[str], which: str = "all", limit: int | None = None
                   ) -> list[tuple[str, str, dict[str, int]]]:
    """(id, text, judgements) of the queries to score: judged, with a relevant document, all of whose relevant
    documents are indexed; then the dev / held-out selection and the limit, in queries.jsonl order."""
    out = [(q, text, data.qrels[q]) for q, text in data.queries.items()
           if q in data.qrels and relevant(data.qrels[q]) and relevant(data.qrels[q]) <= docs]
    out = select(out, which, key=lambda x: x[0])
    return out[:limit] if limit else out


def score(engine: Any, queries: Sequence[tuple[str, str, dict[str, int]]], config: str, progress: bool = True
          ) -> list[dict[str, Any]]:
    """One row per query: its metrics, latency, how many papers came back, the top 10 ids and the rank of
    every relevant document (None when not returned)."""
    from tqdm import tqdm

    engine.search(queries[0][1], k=K)  # warm-up: model, BM25 state, caches
    rows = []
    for qid, text, rel in tqdm(queries, desc=config, unit="query", disable=not progress, file=sys.stderr):
        t0 = time.perf_counter()
        hits = engine.search(text, k=K)
        latency = (time.perf_counter() - t0) * 1000
        ids = [h.paper_id for h in hits]
        rank = {pid: i for i, pid in enumerate(ids, start=1)}
        rows.append({
            "config": config, "id": qid, "split": split_of(qid), "query": text, "relevant": rel,
            "ndcg@10": round(ndcg_at_k(ids, rel, 10) or 0.0, 4),
            "recall@100": round(recall_at_k(ids, rel, K) or 0.0, 4),
            "mrr@10": round(reciprocal_rank(ids, rel, 10) or 0.0, 4), "returned": len(ids),
            "relevant_ranks": {d: rank.get(d) for d in sorted(relevant(rel))}, "top10": ids[:10],
            "latency_ms": round(latency, 2),
        })
    return rows


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """{dev, heldout, all} → ranking_summary of the rows."""
    groups = {name: [r for r in rows if r["split"] == name] for name in SPLITS}
    return {**{name: ranking_summary(g) for name, g in groups.items()}, "all": ranking_summary(rows)}


def run_beir(settings: Any, folder: Path, split: str, configs: dict[str, dict[str, Any]], *,
             subset: int | None = None, which: str = "all", limit: int | None = None, progress: bool = True,
             warn: Warn = _stderr) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Ingest (incrementally) and score every configuration. Returns result rows and metrics."""
    from rag.corpus import ParseResult, load_corpus
    from rag.embeddings import get_embedder
    from rag.engine import Engine
    from rag.ingest import index_papers
    from rag.settings import configure_offline_environment

    configure_offline_environment()
    data = load_beir(folder, split, warn)
    parsed = load_corpus([data.corpus], settings.max_abstract_chars, settings.max_file_bytes)
    for w in parsed.warnings:
        warn(w)
    if not parsed.papers:
        raise InputError(f"{data.corpus}: no documents could be read")
    all_ids = [p.paper_id for p in parsed.papers]
    if subset is not None and subset >= len(all_ids):
        subset = None
    keep = set(choose_subset(all_ids, data.qrels, subset)) if subset else set(all_ids)
    papers = [p for p in parsed.papers if p.paper_id in keep]
    judged_missing = {d for rel in data.qrels.values() for d in relevant(rel)} - set(all_ids)
    if judged_missing:
        warn(f"{data.corpus}: {len(judged_missing)} relevant documents of the qrels are not in the corpus "
             f"(e.g. {sorted(judged_missing)[0]}); their queries are not scored")
    queries = scored_queries(data, keep, which, limit)
    if not queries:
        raise InputError(f"--beir {folder}: no query left to score (split {split!r}, --queries {which}"
                         + (f", --subset {subset}" if subset else "") + ")")

    base = settings.model_copy(update={"collection": collection_name(data.name, subset)})
    embedder = get_embedder(base)
    report = index_papers(base, ParseResult(papers=papers, entries=len(papers), files=[str(data.corpus)]),
                          prune=True, embedder=embedder, progress=progress)
    rows: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    for name, over in configs.items():
        with Engine(base.model_copy(update=over), embedder=embedder, auto_ingest=False) as engine:
            got = score(engine, queries, name, progress)
        rows += got
        results[name] = {"settings": over, **summarize(got)}
    metrics = {
        "dataset": data.name, "folder": str(folder), "qrels_split": split, "queries_selected": which,
        "corpus_documents": len(all_ids), "subset": subset, "indexed_papers": len(papers),
        "collection": base.collection, "index": str(base.index_dir), "k": K,
        "queries": {"judged": sum(1 for q in data.qrels if q in data.queries), "scored": len(queries),
                    **{s: sum(1 for q in queries if split_of(q[0]) == s) for s in SPLITS}},
        "ingest": {"new": report.new, "updated": report.updated, "unchanged": report.unchanged,
                   "removed": report.removed, "chunks_written": report.chunks_written, "seconds": report.seconds},
        "configs": results,
    }
    return rows, metrics
