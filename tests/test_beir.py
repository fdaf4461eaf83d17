"""`rag eval --beir`: the BEIR readers on bad lines, the dev / held-out split, the subset choice, a tiny BEIR
folder scored in-process, and a 300-abstract SciFact subset through the real command (skipped where
../shared/benchmarks/scifact is absent)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, VENV_BIN, make_settings

from eval.beir import choose_subset, collection_name, load_beir, load_qrels, load_queries, run_beir
from eval.metrics import ndcg_at_k, recall_at_k, reciprocal_rank
from eval.splits import select, split_of
from rag.errors import InputError

SCIFACT = ROOT.parent / "shared" / "benchmarks" / "scifact"
FIVE = "hybrid,dense-only,bm25-only,no-names,plain-rrf"


def collect():
    got: list[str] = []
    return got, got.append


# --- readers ------------------------------------------------------------------------------------------------
def test_load_queries__bad_lines_reported_and_skipped(tmp_path):
    f = tmp_path / "queries.jsonl"
    f.write_text('{"_id": "1", "text": "A claim."}\n{broken\n{"text": "no id"}\n{"_id": 2, "text": "  "}\n\n'
                 '{"_id": 3, "text": "Numeric  id,\\n spaced."}\n{"_id": "1", "text": "again"}\n[1, 2]\n')
    warnings, warn = collect()
    assert load_queries(f, warn) == {"1": "A claim.", "3": "Numeric id, spaced."}
    assert warnings == [f"{f}:2: not valid JSON; line skipped", f"{f}:3: no '_id'; line skipped",
                        f"{f}:4: query 2 has no 'text'; line skipped", f"{f}:7: duplicate query id '1'; line skipped",
                        f"{f}:8: no '_id'; line skipped"]


def test_load_qrels__header_grades_and_bad_lines(tmp_path):
    f = tmp_path / "train.tsv"
    f.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\nq2\td3\nq2\td3\tyes\nq3 d4 0\n\nq1\td1\t3\n")
    warnings, warn = collect()
    assert load_qrels(f, warn) == {"q1": {"d1": 3, "d2": 2}, "q3": {"d4": 0}}
    assert warnings == [
        f"{f}:4: expected 3 fields (query-id, corpus-id, score), found 2; line skipped",
        f"{f}:5: score 'yes' is not a whole number; line skipped",
        f"{f}:8: query q1 judges document d1 twice; the later score is kept"]


def test_load_beir__missing_or_wrong_folder_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match=r"no such folder"):
        load_beir(tmp_path / "nope")
    (tmp_path / "corpus.jsonl").write_text("{}\n")
    with pytest.raises(InputError, match=r"not a BEIR folder \(missing queries.jsonl, qrels/;"):
        load_beir(tmp_path)
    with pytest.raises(InputError, match=r"is a file; give the folder"):
        load_beir(tmp_path / "corpus.jsonl")
    (tmp_path / "queries.jsonl").write_text('{"_id": "q", "text": "x"}\n')
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "dev.tsv").write_text("q\td\t1\n")
    with pytest.raises(InputError, match=r"no qrels/train.tsv \(splits here: dev\)"):
        load_beir(tmp_path, "train")
    assert load_beir(tmp_path, "dev").qrels == {"q": {"d": 1}}


# --- split, subset, metrics ----------------------------------------------------------------------------------
def test_split_of__deterministic_about_half_and_stable_when_items_are_added():
    ids = [str(i) for i in range(4000)]
    first = [split_of(i) for i in ids]
    assert first == [split_of(i) for i in ids]
    assert 0.47 < first.count("dev") / len(ids) < 0.53
    assert split_of(7) == split_of("7")  # numeric ids hash as their text
    more = ids + [f"new-{i}" for i in range(500)]
    assert select(more, "dev", key=str)[: first.count("dev")] == select(ids, "dev", key=str)
    assert sorted(select(ids, "dev", key=str) + select(ids, "heldout", key=str)) == sorted(ids)
    assert select(ids, "all", key=str) == ids
    with pytest.raises(ValueError):
        select(ids, "train", key=str)


def test_choose_subset__relevant_documents_first_then_others_deterministic():
    docs = [f"d{i}" for i in range(100)]
    qrels = {f"q{i}": {f"d{i}": 1, f"d{i + 50}": 0} for i in range(40)}  # grade 0 is not relevant
    qrels["qx"] = {"missing-doc": 1}  # never chosen: its document is not in the corpus
    sub = choose_subset(docs, qrels, 30)
    assert sub == choose_subset(list(docs), dict(qrels), 30) and len(sub) == len(set(sub)) == 30
    assert all(d in {f"d{i}" for i in range(40)} for d in sub[:15])  # half of N: relevant documents
    assert choose_subset(docs, qrels, 30, seed=1) != sub
    assert choose_subset(docs, qrels, 500) == docs
    assert collection_name("sci fact!", 300) == "beir-sci-fact-300" and collection_name("scifact", None) == \
        "beir-scifact"


def test_graded_metrics__grades_are_gains_and_zero_is_not_relevant():
    rel = {"a": 2, "b": 1, "z": 0}
    assert ndcg_at_k(["a", "b"], rel) == 1.0
    assert ndcg_at_k(["b", "a"], rel) == pytest.approx((1 + 2 / 1.5849625) / (2 + 1 / 1.5849625))
    assert ndcg_at_k(["z", "x"], rel) == 0.0
    assert recall_at_k(["z", "a"], rel, 100) == 0.5
    assert reciprocal_rank(["z", "x", "b"], rel, 10) == pytest.approx(1 / 3)
    assert reciprocal_rank(["z", "x", "b"], rel, 2) == 0.0
    assert ndcg_at_k(["a"], {"z": 0}) is None


# --- a tiny BEIR folder, in-process ---------------------------------------------------------------------------
DOCS = {
    "doc-1": ("Graph neural networks for molecules", "We predict molecular properties with message passing graph "
              "neural networks over atoms and bonds, beating fingerprints on quantum chemistry benchmarks."),
    "doc-2": ("Protein folding with attention", "An attention based network predicts protein structures from "
              "amino acid sequences and reaches atomic accuracy on most targets."),
    "doc-3": ("Wind turbines and birds", "We count bird collisions at wind farms over ten years and relate them "
              "to turbine height, blade speed and the season of migration."),
    "doc-4": ("", "Coffee consumption was associated with a lower risk of type 2 diabetes in a cohort of nurses "
              "followed for twenty years."),
}
QUERIES = {"q-a": "Message passing networks predict properties of molecules.",
           "q-b": "Attention networks predict protein structure from sequence.",
           "q-c": "Drinking coffee lowers the risk of diabetes.",
           "q-d": "Taller wind turbines kill more birds."}


def tiny_beir(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": d, "title": t, "text": x}) + "\n"
                                               for d, (t, x) in DOCS.items()))
    (root / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": x}) + "\n" for q, x in QUERIES.items()))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq-a\tdoc-1\t1\nq-b\tdoc-2\t1\n"
                                             "q-c\tdoc-4\t1\nq-d\tdoc-3\nq-z\tdoc-9\t1\n")
    return root


def test_run_beir__tiny_folder_scores_with_the_corpus_ids(tmp_path):
    folder = tiny_beir(tmp_path / "tiny")
    warnings, warn = collect()
    configs = {"hybrid": {}, "bm25-only": {"dense_weight": 0.0, "alias_boost": 0.0}}
    rows, metrics = run_beir(make_settings(tmp_path / "index"), folder, "test", configs, progress=False, warn=warn)
    assert warnings == [
        f"{folder}/qrels/test.tsv:5: expected 3 fields (query-id, corpus-id, score), found 2; line skipped",
        f"{folder}/qrels/test.tsv: 1 judged queries are not in queries.jsonl (e.g. q-z); ignored",
        f"{folder}/corpus.jsonl: 1 relevant documents of the qrels are not in the corpus (e.g. doc-9); their "
        "queries are not scored"]
    assert [(r["config"], r["id"]) for r in rows] == [(c, q) for c in configs for q in ("q-a", "q-b", "q-c")]
    assert all(r["top10"][0] == {"q-a": "doc-1", "q-b": "doc-2", "q-c": "doc-4"}[r["id"]] for r in rows)
    assert all(set(r["top10"]) <= set(DOCS) for r in rows)
    assert metrics["collection"] == "beir-tiny" and metrics["indexed_papers"] == 4
    assert metrics["queries"] == {"judged": 3, "scored": 3, "dev": sum(split_of(q) == "dev" for q in ("q-a", "q-b",
                                                                                                       "q-c")),
                                  "heldout": sum(split_of(q) == "heldout" for q in ("q-a", "q-b", "q-c"))}
    assert metrics["configs"]["hybrid"]["all"]["ndcg@10"] == 1.0
    assert metrics["configs"]["bm25-only"]["settings"] == configs["bm25-only"]
    assert metrics["ingest"]["new"] == 4
    again, metrics2 = run_beir(make_settings(tmp_path / "index"), folder, "test", {"hybrid": {}}, progress=False,
                               warn=warn)
    assert (metrics2["ingest"]["chunks_written"], metrics2["ingest"]["unchanged"]) == (0, 4)


# --- SciFact, 300 abstracts, through the real command -------------------------------------------------------
def rag_eval(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / "rag"), "eval", "--quiet", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=900, cwd=ROOT)


def test_cli_eval_beir__scifact_subset_report_ids_metrics_and_incremental_rerun(tmp_path):
    if not (SCIFACT / "corpus.jsonl").is_file():
        pytest.skip(f"SciFact is not at {SCIFACT} (../shared/benchmarks/scifact): BEIR path not exercised")
    out = tmp_path / "scifact"
    proc = rag_eval("--beir", str(SCIFACT), "--subset", "300", "--compare", FIVE, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "warning" not in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "report.md", "results.jsonl"]

    corpus_ids = {json.loads(line)["_id"] for line in (SCIFACT / "corpus.jsonl").read_text().splitlines()}
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["dataset"], metrics["qrels_split"], metrics["subset"], metrics["indexed_papers"]) == \
        ("scifact", "train", 300, 300)
    assert metrics["collection"] == "beir-scifact-300" and metrics["ingest"]["new"] == 300
    q = metrics["queries"]
    assert q["judged"] == 809 and q["scored"] == q["dev"] + q["heldout"] and min(q["dev"], q["heldout"]) >= 50
    assert list(metrics["configs"]) == FIVE.split(",")
    for name, res in metrics["configs"].items():
        for half in ("dev", "heldout", "all"):
            for key in ("ndcg@10", "recall@100", "mrr@10"):
                assert 0.0 <= res[half][key] <= 1.0, (name, half, key)
        assert res["dev"]["n"] + res["heldout"]["n"] == res["all"]["n"] == q["scored"]
    assert metrics["configs"]["hybrid"]["all"]["ndcg@10"] > 0.5
    assert metrics["configs"]["hybrid"]["all"]["recall@100"] > 0.8

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 5 * q["scored"]
    assert all(set(r["top10"]) <= corpus_ids and set(r["relevant"]) <= corpus_ids for r in rows)
    assert all(r["split"] == split_of(r["id"]) for r in rows)

    report = (out / "report.md").read_text()
    assert report.startswith("# BEIR evaluation: scifact (train judgements)")
    assert "| configuration | nDCG@10 dev | nDCG@10 held-out | R@100 dev | R@100 held-out |" in report
    for name in FIVE.split(","):
        assert f"\n## {name}\n" in report and f"\n| {name} | " in report
    assert f"| dev | {q['dev']} | " in report and f"| held-out | {q['heldout']} | " in report

    # The user's face: `rag search --json` on the same collection returns the corpus's own _id for a claim.
    claim = next(r for r in rows if r["config"] == "hybrid" and r["ndcg@10"] == 1.0)
    proc = subprocess.run([str(VENV_BIN / "rag"), "search", claim["query"], "-k", "5", "--json"], capture_output=True,
                          text=True, env={**os.environ, "RAG_COLLECTION": metrics["collection"]}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    assert hits[0]["paper_id"] == claim["top10"][0] and hits[0]["paper_id"] in claim["relevant"]
    assert all(h["paper_id"] in corpus_ids for h in hits)

    again = rag_eval("--beir", str(SCIFACT), "--subset", "300", "--queries", "heldout", "--out", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    m2 = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert (m2["ingest"]["chunks_written"], m2["ingest"]["new"], m2["ingest"]["unchanged"]) == (0, 0, 300)
    assert (m2["queries"]["dev"], m2["queries"]["heldout"]) == (0, q["heldout"])
    # The same held-out numbers (HNSW search is approximate: the tail of a 100-paper list may differ slightly).
    for key in ("ndcg@10", "recall@100", "mrr@10"):
        assert m2["configs"]["hybrid"]["heldout"][key] == pytest.approx(metrics["configs"]["hybrid"]["heldout"][key],
                                                                        abs=0.01)
