"""The eval runner on a question file it has never seen, through the real `rag eval` command, and the
project's question set checked against the corpus (every gold title exact)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import RAW, ROOT, VENV_BIN

QUESTIONS = ROOT / "eval" / "questions.jsonl"
RESMLP = "ResMLP: Feedforward networks for image classification with data-efficient training"
RAFTMLP = "RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality?"
GCNET = "Global Context Networks"


def corpus_titles() -> set[str]:
    from rag.corpus import load_corpus

    return {p.title for p in load_corpus([RAW]).papers}


def test_questions__every_gold_title_is_an_exact_corpus_title_and_counts_per_type():
    titles = corpus_titles()
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    missing = [(r["id"], t) for r in rows for t in r["gold_titles"] if t not in titles]
    assert missing == []
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["type"]] = counts.get(r["type"], 0) + 1
    assert counts == {"paraphrase": 53, "comparative": 31, "topic": 22, "unanswerable": 75, "followup": 17}
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(r["history"] for r in rows if r["type"] == "followup")
    assert all(not r["gold_titles"] for r in rows if r["type"] == "unanswerable")


def write_questions(path: Path) -> Path:
    lines = [
        {"id": "x-para", "type": "paraphrase", "question": "Which architecture for image classification is built "
         "only from multi-layer perceptrons and trained data-efficiently?", "gold_titles": [RESMLP],
         "key_facts": ["multi-layer perceptrons"]},
        {"id": "x-comp", "type": "comparative", "question": "How does ResMLP differ from RaftMLP?",
         "gold_titles": [RESMLP, RAFTMLP]},
        "this line is not JSON",
        {"id": "x-bad", "type": "trivia", "question": "Bad type", "gold_titles": []},
        {"id": "x-unans", "type": "unanswerable", "question": "What does the collection say about CRISPR gene "
         "editing?", "gold_titles": []},
        {"id": "x-follow", "type": "followup", "question": "How does it compare with RaftMLP?",
         "history": [{"role": "user", "content": "What is ResMLP?"},
                     {"role": "assistant", "content": "ResMLP is an all-MLP image classifier."}],
         "gold_titles": [RESMLP, RAFTMLP]},
        {"id": "x-name", "type": "paraphrase", "question": "What is GCNet?", "gold_titles": [GCNET]},
    ]
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def run_eval(cli_index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_INDEX_DIR": str(cli_index), "RAG_DATA_DIR": str(RAW)}
    return subprocess.run([str(VENV_BIN / "rag"), "eval", "--quiet", *args], capture_output=True, text=True,
                          env=env, timeout=300, cwd=ROOT)


def test_cli_eval__new_question_file_writes_results_metrics_report_and_plots(cli_index, tmp_path):
    qfile = write_questions(tmp_path / "mine.jsonl")
    out = tmp_path / "report"
    proc = run_eval(cli_index, "--questions", str(qfile), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warnings = [w for w in proc.stderr.splitlines() if w.startswith("warning:")]
    assert warnings == [f"warning: {qfile}:3: not valid JSON (Expecting value); line skipped",
                        f"warning: {qfile}:4: 'type' must be one of paraphrase, comparative, topic, unanswerable, "
                        "followup; line skipped"]
    assert sorted(p.name for p in out.iterdir()) == ["by_type.png", "latency_hist.png", "metrics.json",
                                                     "recall_at_k.png", "report.md", "results.jsonl"]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["x-para", "x-comp", "x-unans", "x-follow", "x-name"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["x-comp"]["retrieved_titles"][:2] == [RESMLP, RAFTMLP] or \
        set(by_id["x-comp"]["retrieved_titles"][:2]) == {RESMLP, RAFTMLP}
    assert {RESMLP, RAFTMLP} <= set(by_id["x-comp"]["cited_titles"])
    assert by_id["x-unans"]["abstained"] is True and by_id["x-unans"]["cited_titles"] == []
    assert "ResMLP" in by_id["x-follow"]["standalone_question"]
    assert by_id["x-name"]["retrieved_titles"][0] == GCNET
    assert all(set(r["cited_titles"]) <= set(r["source_titles"]) for r in rows)
    assert all(isinstance(r["latency_ms"], float) for r in rows)

    metrics = json.loads((out / "metrics.json").read_text())
    assert sorted(metrics["by_type"]) == ["comparative", "followup", "paraphrase", "unanswerable"]
    assert metrics["by_type"]["comparative"]["n"] == 1
    assert metrics["by_type"]["paraphrase"]["n"] == 2
    assert metrics["overall"]["citation_validity"] == 1.0
    assert metrics["by_type"]["unanswerable"]["abstention_recall"] == 1.0
    assert metrics["by_type"]["comparative"]["recall@5"] == 1.0
    assert metrics["llm_judged"] == {"skipped": "no LLM configured: LLM-judged faithfulness/correctness not "
                                                "computed"}
    assert [r["split"] for r in rows] == ["heldout", "dev", "heldout", "dev", "heldout"]  # eval/splits.py
    assert {s: m["n"] for s, m in metrics["by_split"].items()} == {"dev": 2, "heldout": 3}
    assert metrics["by_split"]["dev"]["recall@5"] == 1.0  # x-comp and x-follow: both papers in the top 5
    report = (out / "report.md").read_text()
    assert "| **all** | **5** |" in report
    assert "## Dev and held-out" in report and "| dev | 2 |" in report and "| held-out | 3 |" in report
    assert "![recall_at_k.png](recall_at_k.png)" in report
    for png in ("by_type.png", "latency_hist.png", "recall_at_k.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_eval__limit_types_and_compare(cli_index, tmp_path):
    qfile = write_questions(tmp_path / "mine.jsonl")
    out = tmp_path / "cmp"
    proc = run_eval(cli_index, "--questions", str(qfile), "--out", str(out), "--limit", "3",
                    "--compare", "hybrid,bm25-only,strict:min_coverage=0.99")
    assert proc.returncode == 0, proc.stderr
    compare = json.loads((out / "compare.json").read_text())
    assert list(compare) == ["hybrid", "bm25-only", "strict"]
    assert all(m["overall"]["n"] == 3 for m in compare.values())
    assert compare["strict"]["overall"]["abstention_recall"] == 1.0
    strict = [json.loads(line) for line in (out / "results-strict.jsonl").read_text().splitlines()]
    assert [r["id"] for r in strict] == ["x-para", "x-comp", "x-unans"]
    md = (out / "compare.md").read_text()
    assert "| type | winner (metric) | hybrid | bm25-only | strict |" in md
    assert len((out / "results-bm25-only.jsonl").read_text().splitlines()) == 3


def test_cli_eval__split_keeps_one_half_of_the_questions(cli_index, tmp_path):
    qfile = write_questions(tmp_path / "mine.jsonl")
    out = tmp_path / "dev"
    proc = run_eval(cli_index, "--questions", str(qfile), "--out", str(out), "--split", "dev")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["id"], r["split"]) for r in rows] == [("x-comp", "dev"), ("x-follow", "dev")]
    assert list(json.loads((out / "metrics.json").read_text())["by_split"]) == ["dev"]


@pytest.mark.parametrize("args, message", [
    (["--split", "train"], "error: --queries/--split must be one of dev, heldout, all (got 'train')"),
    (["--subset", "10"], "error: --subset applies to --beir only"),
    (["--questions", "/nonexistent/q.jsonl"], "error: /nonexistent/q.jsonl: cannot read the question file"),
    (["--compare", "nope"], "error: --compare: unknown configuration 'nope'"),
    (["--compare", "x:no_such_knob=1"], "error: --compare x: unknown setting(s) no_such_knob"),
])
def test_cli_eval__bad_input_is_one_line_error(cli_index, tmp_path, args, message):
    proc = run_eval(cli_index, "--out", str(tmp_path / "o"), "--limit", "1", *args)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr
