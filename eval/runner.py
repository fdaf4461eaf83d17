"""`rag eval`: run a question file through the public rag API and write results.jsonl, metrics.json, report.md
and PNG plots. `--compare` runs several retrieval/answer configurations (named Settings overrides) in one go.
`rag eval --beir DIR` scores a BEIR dataset instead (eval/beir.py). Every question falls in the dev or the
held-out half (eval/splits.py): tune on dev, report held-out; the report shows both.

Retrieval metrics (recall@k, MRR, nDCG) use `Engine.search(standalone question, k=10)`, i.e. the ranking the
answerer draws its sources from; citation metrics use the Answer of `Engine.ask(question, history)`."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from rag.errors import InputError

from .llm_metrics import aggregate_llm, llm_fields
from .metrics import aggregate
from .splits import CHOICES, select, split_of

TYPES = ("paraphrase", "comparative", "topic", "unanswerable", "followup")
RETRIEVAL_K = 10
DEFAULT_QUESTIONS = Path(__file__).resolve().parent / "questions.jsonl"

# Named configurations for --compare: Settings overrides on top of the user's settings.
CONFIGS: dict[str, dict[str, Any]] = {
    "hybrid": {},
    "dense-only": {"bm25_weight": 0.0, "alias_boost": 0.0},
    "bm25-only": {"dense_weight": 0.0, "alias_boost": 0.0},
    "no-names": {"alias_boost": 0.0},
    "no-aliases": {"alias_boost": 0.0},  # the older name of no-names
    "plain-rrf": {"fusion": "rrf", "dense_weight": 1.0, "bm25_weight": 1.0, "alias_boost": 0.0},
    "rrf": {"fusion": "rrf", "bm25_weight": 1.5},  # the default before z-score fusion (BM25 weight 1.5)
}


@dataclass
class Question:
    id: str
    type: str
    question: str
    gold_titles: list[str]
    history: list[dict[str, str]] = field(default_factory=list)
    key_facts: list[str] = field(default_factory=list)
    shift: bool = False  # a turn whose question does not refer back to its history
    # the gold paper is there but its abstract does not state the fact asked for: "not covered" is the right answer
    fact_absent: bool = False


def load_questions(path: Path, warn: Any = None) -> list[Question]:
    """Read the JSONL question file. A bad line is reported as `file:line: problem` and skipped."""
    warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the question file ({e.__class__.__name__})") from None
    out: list[Question] = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            warn(f"{where}: not valid JSON ({e.msg}); line skipped")
            continue
        problem = _check(obj)
        if problem:
            warn(f"{where}: {problem}; line skipped")
            continue
        qid = str(obj.get("id") or f"line-{lineno}")
        if qid in seen:
            warn(f"{where}: duplicate id {qid!r}; line skipped")
            continue
        seen.add(qid)
        out.append(Question(id=qid, type=obj["type"], question=obj["question"].strip(),
                            gold_titles=list(obj.get("gold_titles") or []), history=list(obj.get("history") or []),
                            key_facts=list(obj.get("key_facts") or []), shift=obj.get("shift") is True,
                            fact_absent=obj.get("fact_absent") is True))
    if not out:
        raise InputError(f"{path}: no valid questions")
    return out


def _check(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return "not a JSON object"
    if not isinstance(obj.get("question"), str) or not obj["question"].strip():
        return "'question' is missing or empty"
    if obj.get("type") not in TYPES:
        return f"'type' must be one of {', '.join(TYPES)}"
    gold = obj.get("gold_titles", [])
    if not isinstance(gold, list) or not all(isinstance(t, str) for t in gold):
        return "'gold_titles' must be a list of titles"
    hist = obj.get("history", [])
    if not isinstance(hist, list) or not all(isinstance(h, dict) and isinstance(h.get("content"), str)
                                             and h.get("role") in ("user", "assistant") for h in hist):
        return "'history' must be a list of {role: user|assistant, content}"
    facts = obj.get("key_facts", [])
    if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
        return "'key_facts' must be a list of strings"
    return None


def run_questions(engine: Any, questions: list[Question], progress: bool = True, desc: str = "eval"
                  ) -> list[dict[str, Any]]:
    """Ask every question (after one warm-up) and return one result row per question."""
    from tqdm import tqdm

    # warm-up: embedder, BM25, caches (not the LLM: a real model's answer would cost as much as a question)
    engine.ask(questions[0].question, history=questions[0].history or None, use_llm=False)
    llm_mode = bool(engine.settings.llm_enabled)
    rows: list[dict[str, Any]] = []
    for q in tqdm(questions, desc=desc, unit="q", disable=not progress, file=sys.stderr):
        t0 = time.perf_counter()
        if llm_mode:  # streamed, to keep the model's own text beside what the product shows
            *pieces, ans = engine.ask_stream(q.question, history=q.history or None)
        else:
            ans = engine.ask(q.question, history=q.history or None)
        latency = (time.perf_counter() - t0) * 1000
        standalone = ans.standalone_question or q.question
        hits = engine.search(standalone, k=RETRIEVAL_K)
        rows.append({
            "id": q.id, "type": q.type, "split": split_of(q.id), "question": q.question,
            "standalone_question": standalone,
            "gold_titles": q.gold_titles, "key_facts": q.key_facts,
            "retrieved_titles": [h.title for h in hits],
            "source_titles": [h.title for h in ans.sources],
            "cited_titles": list(dict.fromkeys(c.title for c in ans.citations)),
            "abstained": ans.abstained, "mode": ans.mode, "notice": ans.notice, "shift": q.shift,
            "fact_absent": q.fact_absent,
            "reason": ans.reason,
            "answer": ans.text, "latency_ms": round(latency, 2),
            **(llm_fields(ans, model_text(pieces)) if llm_mode else {}),
        })
    return rows


def model_text(pieces: list[Any]) -> str | None:
    """What the model streamed: the pieces after the last "answering" Waiting, or None when it was not asked."""
    from rag.types import Waiting

    marks = [i for i, p in enumerate(pieces) if isinstance(p, Waiting) and p.step.startswith("answering")]
    return "".join(pieces[marks[-1] + 1:]) if marks else None


def llm_judged(engine: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Faithfulness and correctness judged by the configured LLM (llama-index evaluators), or a skip note."""
    llm = engine.llm()
    if llm is None:
        return {"skipped": "no LLM configured: LLM-judged faithfulness/correctness not computed"}
    from llama_index.core.evaluation import CorrectnessEvaluator, FaithfulnessEvaluator

    faith, correct = FaithfulnessEvaluator(llm=llm), CorrectnessEvaluator(llm=llm)
    f_scores: list[float] = []
    c_scores: list[float] = []
    errors = 0
    for r in rows:
        if r["abstained"] or not r["source_titles"]:
            continue
        try:
            hits = engine.search(r["standalone_question"], k=len(r["source_titles"]))
            res = faith.evaluate(query=r["question"], response=r["answer"], contexts=[h.text for h in hits])
            f_scores.append(1.0 if res.passing else 0.0)
            ref = "; ".join(r["key_facts"]) or None
            if ref:
                cres = correct.evaluate(query=r["question"], response=r["answer"], reference=ref)
                c_scores.append(float(cres.score or 0.0))
        except Exception:  # a judge failure skips that question, never the report
            errors += 1
    return {"faithfulness": sum(f_scores) / len(f_scores) if f_scores else None,
            "correctness": sum(c_scores) / len(c_scores) if c_scores else None,
            "judged": len(f_scores), "judge_errors": errors}


def evaluate(settings: Any, questions: list[Question], progress: bool = True, desc: str = "eval",
             judge: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from rag import Engine

    with Engine(settings) as engine:
        rows = run_questions(engine, questions, progress, desc)
        metrics = aggregate(rows)
        metrics["mode"] = "llm" if settings.llm_enabled else (rows[0]["mode"] if rows else None)
        llm = aggregate_llm(rows)
        if llm is not None:
            metrics["llm"] = llm
        metrics["llm_judged"] = llm_judged(engine, rows) if judge else {"skipped": "not requested (--no-judge)"}
    return rows, metrics


def parse_configs(spec: str) -> dict[str, dict[str, Any]]:
    """`hybrid,bm25-only` or custom `name:key=value;key=value` entries, comma separated."""
    out: dict[str, dict[str, Any]] = {}
    for item in [p.strip() for p in spec.split(",") if p.strip()]:
        if ":" in item:
            name, _, kv = item.partition(":")
            over: dict[str, Any] = {}
            for pair in kv.split(";"):
                key, eq, value = pair.partition("=")
                if not eq:
                    raise InputError(f"--compare {item!r}: expected name:key=value;key=value")
                over[key.strip()] = json.loads(value) if value.strip()[:1] in "0123456789-tfn[{\"" else value
            out[name.strip()] = over
        elif item in CONFIGS:
            out[item] = CONFIGS[item]
        else:
            raise InputError(f"--compare: unknown configuration {item!r} (known: {', '.join(CONFIGS)}, "
                             "or name:key=value;...)")
    return out


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def base_settings() -> Any:
    from pydantic import ValidationError

    from rag.errors import ConfigError
    from rag.settings import Settings

    try:
        return Settings()
    except ValidationError as e:
        raise ConfigError(f"invalid setting: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}") from None


def checked_configs(spec: str | None) -> dict[str, dict[str, Any]]:
    """--compare parsed, with unknown setting names refused; {"hybrid": {}} when not given."""
    from rag.settings import Settings

    configs = parse_configs(spec) if spec else {"hybrid": {}}
    for name, over in configs.items():
        unknown = sorted(set(over) - set(Settings.model_fields))
        if unknown:
            raise InputError(f"--compare {name}: unknown setting(s) {', '.join(unknown)}")
    return configs


def which_half(split: str | None, queries: str | None) -> str:
    """dev | heldout | all from --queries (either mode) or --split (question-set mode)."""
    which = queries or split or "all"
    if which not in CHOICES or (queries and split and queries != split):
        raise InputError(f"--queries/--split must be one of {', '.join(CHOICES)} (got {which!r})")
    return which


def run_beir_cli(folder: Path, split: str | None, queries: str | None, compare: str | None, subset: int | None,
                 limit: int | None, out: Path | None, quiet: bool) -> None:
    from . import report
    from .beir import run_beir

    which = which_half(None, queries)
    configs = checked_configs(compare)
    rows, metrics = run_beir(base_settings(), folder, split or "train", configs, subset=subset, which=which,
                             limit=limit, progress=not quiet)
    out = out or Path("eval/reports") / f"beir-{metrics['dataset']}"
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "results.jsonl", rows)
    write_json(out / "metrics.json", metrics)
    report.write_beir_report(out, metrics)
    first, res = next(iter(metrics["configs"].items()))
    q = metrics["queries"]
    typer.echo(f"wrote {out}/report.md  ({q['scored']} queries (dev {q['dev']}, held-out {q['heldout']}) × "
               f"{len(configs)} configuration(s) on {metrics['indexed_papers']} documents; {first} nDCG@10 dev "
               f"{report.fmt(res['dev']['ndcg@10'])} / held-out {report.fmt(res['heldout']['ndcg@10'])}; "
               f"{metrics['ingest']['chunks_written']} chunks embedded)")


def register_cli(app: typer.Typer) -> None:
    """Adds `rag eval` to the rag command (entry point group `rag.commands`)."""

    @app.command("eval", help=(
        "Offline evaluation, written as results.jsonl, metrics.json and report.md (+ plots) into --out.\n\n"
        "Question set (default): runs --questions through Engine.ask/search and reports recall@k, MRR, "
        "citations, abstention and latency by question type.\n\n"
        "BEIR (--beir DIR): ingests DIR/corpus.jsonl into a collection of its own (beir-<name>[-N]; re-runs embed "
        "nothing new), searches every query of DIR/queries.jsonl judged in DIR/qrels/<--split>.tsv with k=100, "
        "and reports nDCG@10, Recall@100, MRR@10 and latency.\n\n"
        "Both report the dev and the held-out half of the questions apart (a fixed-seed hash of each id): "
        "choose settings on dev, quote held-out."))
    def eval_cmd(
        questions: Annotated[Path, typer.Option("--questions", "-q", help="Question file (JSONL: id, type, question, "
                                                "gold_titles, optional history, key_facts).")] = DEFAULT_QUESTIONS,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for the results. Default: "
                                                 "eval/reports/latest, or eval/reports/beir-<name> with --beir."
                                                 )] = None,
        limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Only the first N questions "
                                                  "(queries with --beir).")] = None,
        types: Annotated[str | None, typer.Option("--types", help="Only these types, comma separated.")] = None,
        compare: Annotated[str | None, typer.Option("--compare", help="Run several configurations side by side: "
                                                    f"{', '.join(CONFIGS)}, or name:key=value;key=value.")] = None,
        beir: Annotated[Path | None, typer.Option("--beir", help="A BEIR folder (corpus.jsonl, queries.jsonl, "
                                                  "qrels/<split>.tsv) to score instead of the question set."
                                                  )] = None,
        split: Annotated[str | None, typer.Option("--split", help="With --beir: which qrels file (default "
                                                  "train). Without: dev, heldout or all questions (default all)."
                                                  )] = None,
        queries: Annotated[str | None, typer.Option("--queries", help="Score only the dev or the heldout half of "
                                                    "the queries, or all (default).")] = None,
        subset: Annotated[int | None, typer.Option("--subset", min=1, help="With --beir: index only N documents "
                                                   "(the relevant ones of a seeded sample of queries, then others) "
                                                   "and score the queries they fully cover.")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
        judge: Annotated[bool, typer.Option("--judge/--no-judge", help="In LLM mode, also have the model judge "
                                            "faithfulness and correctness (llama-index evaluators; two more "
                                            "requests per answer, worthless with a very small model).")] = True,
    ) -> None:
        from . import report

        # RagError from here on becomes a one-line "error: ..." message in rag.cli.main
        if beir is not None:
            if types:
                raise InputError("--types applies to the question set, not to --beir")
            run_beir_cli(beir, split, queries, compare, subset, limit, out, quiet)
            return
        if subset is not None:
            raise InputError("--subset applies to --beir only")
        which = which_half(split, queries)
        out = out or Path("eval/reports/latest")
        qs = select(load_questions(questions), which, key=lambda q: q.id)
        if types:
            wanted = {t.strip() for t in types.split(",")}
            qs = [q for q in qs if q.type in wanted]
        if limit:
            qs = qs[:limit]
        if not qs:
            raise InputError("no questions left after --types/--split/--limit")
        out.mkdir(parents=True, exist_ok=True)
        base = base_settings()
        if compare:
            configs = checked_configs(compare)
            results: dict[str, dict[str, Any]] = {}
            for name, over in configs.items():
                rows, metrics = evaluate(base.model_copy(update=over), qs, not quiet, desc=name, judge=False)
                write_jsonl(out / f"results-{name}.jsonl", rows)
                results[name] = metrics
            write_json(out / "compare.json", results)
            report.write_compare(out, results, questions_name=questions.name)
            typer.echo(f"wrote {out}/compare.md ({len(qs)} questions × {len(configs)} configurations)")
            return
        rows, metrics = evaluate(base, qs, not quiet, judge=judge)
        write_jsonl(out / "results.jsonl", rows)
        write_json(out / "metrics.json", metrics)
        report.write_report(out, rows, metrics, questions_name=questions.name)
        o = metrics["overall"]
        llm = (metrics.get("llm") or {}).get("overall")
        extra = (f"; LLM: {llm['llm_answers']} from the model, {llm['fallbacks']} fallbacks, supported "
                 f"{llm['supported_share']}, first token p50 {llm['first_token_p50']} s" if llm else "")
        typer.echo(f"wrote {out}/report.md  ({len(rows)} questions; recall@5 {o['recall@5']}, "
                   f"citation validity {o['citation_validity']}, abstention P/R "
                   f"{o['abstention_precision']}/{o['abstention_recall']}, p50 {o['latency_p50']} ms{extra})")
