"""Static checks of the hand-written question file against the corpus (no index, no model, a second to run).

    python3 eval/check_questions.py [eval/questions.jsonl]

Checks, per line: valid JSON with the fields `eval.runner` accepts; a unique id; every gold title an exact
title of the corpus in data/raw; no gold for "unanswerable", some gold otherwise; a history for "followup".
Then the optional fields that some questions carry:
- "fact": every key fact is a verbatim substring of a gold paper's abstract; "fact_absent" ones have none (their
  gold abstract does not state the fact asked for, so the expected answer is "not covered", naming that paper).
- "partial": a comparative with exactly one gold paper (the side the collection covers).
- "shift": true means the history's assistant turn names a corpus paper by exact title and cites [1] and the
  question's gold does not point back to that paper; false means a "followup" that does refer back.
- "note": every claim written as `grep /PATTERN/i: N hits` is re-run over titles + abstracts and must still
  give N hits (0 for names the collection never mentions).
Exit status 1 and one line per problem when anything fails. The runner ignores the extra keys.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.corpus import load_corpus  # noqa: E402

TYPES = ("paraphrase", "comparative", "topic", "unanswerable", "followup")  # as in eval/runner.py
GREP_CLAIM = re.compile(r"grep /(.+?)/i: (\d+) hits?")


def check(path: Path) -> list[str]:
    papers = load_corpus([ROOT / "data" / "raw"]).papers
    abstract = {p.title: p.abstract for p in papers}
    searchable = [p.title + "\n" + p.abstract for p in papers]
    problems: list[str] = []
    seen: set[str] = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{lineno}"
        try:
            q = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{where}: not valid JSON ({e.msg})")
            continue
        qid = q.get("id")
        where = f"{where} ({qid})"
        if not isinstance(qid, str) or not qid:
            problems.append(f"{where}: missing id")
        elif qid in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(qid)
        if q.get("type") not in TYPES:
            problems.append(f"{where}: bad type {q.get('type')!r}")
        if not isinstance(q.get("question"), str) or not q["question"].strip():
            problems.append(f"{where}: empty question")
        gold = q.get("gold_titles")
        if not isinstance(gold, list) or not all(isinstance(t, str) for t in gold):
            problems.append(f"{where}: gold_titles must be a list of strings")
            continue
        problems += [f"{where}: gold title not in the corpus: {t!r}" for t in gold if t not in abstract]
        if len(set(gold)) != len(gold):
            problems.append(f"{where}: repeated gold title")
        if (q["type"] == "unanswerable") != (not gold):
            problems.append(f"{where}: gold must be empty exactly for unanswerable questions")
        hist = q.get("history", [])
        if not isinstance(hist, list) or not all(isinstance(h, dict) and h.get("role") in ("user", "assistant")
                                                 and isinstance(h.get("content"), str) for h in hist):
            problems.append(f"{where}: history must be a list of {{role: user|assistant, content}}")
            hist = []
        if q["type"] == "followup" and not hist:
            problems.append(f"{where}: a followup needs a history")
        facts = q.get("key_facts", [])
        if not isinstance(facts, list) or not all(isinstance(f, str) and f for f in facts):
            problems.append(f"{where}: key_facts must be a list of non-empty strings")
            facts = []

        if q.get("fact"):
            if q.get("fact_absent"):
                if facts:
                    problems.append(f"{where}: fact_absent question with key_facts")
            elif not facts:
                problems.append(f"{where}: fact question without key_facts")
            for f in facts:
                if not any(f in abstract.get(t, "") for t in gold):
                    problems.append(f"{where}: key fact {f!r} is not verbatim in a gold abstract")
        if q.get("partial") and (q["type"] != "comparative" or len(gold) != 1):
            problems.append(f"{where}: a partial question is a comparative with exactly one gold title")
        if q.get("shift") is True:
            said = " ".join(h["content"] for h in hist if h["role"] == "assistant")
            named = [t for t in abstract if t in said]
            if not named or "[1]" not in said:
                problems.append(f"{where}: shift history must name a corpus paper by exact title and cite [1]")
            if set(gold) & set(named):
                problems.append(f"{where}: a shift question's gold points back to the history's paper")
        if q.get("shift") is False and q["type"] != "followup":
            problems.append(f"{where}: shift=false is for followups that refer back")
        note = q.get("note")
        if note is not None:
            if not isinstance(note, str) or not note.strip():
                problems.append(f"{where}: empty note")
                continue
            for pattern, n in GREP_CLAIM.findall(note):
                rx = re.compile(pattern, re.I)
                got = sum(1 for text in searchable if rx.search(text))
                if got != int(n):
                    problems.append(f"{where}: note says /{pattern}/ has {n} hits, the corpus gives {got}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    path = Path(argv[1]) if len(argv) > 1 else ROOT / "eval" / "questions.jsonl"
    if not path.is_file():
        print(f"error: no question file at {path}", file=sys.stderr)
        return 2
    problems = check(path)
    for p in problems:
        print(p)
    counts: dict[str, int] = {}
    for ln in path.read_text(encoding="utf-8").splitlines():
        try:
            kind = json.loads(ln).get("type") if ln.strip() else None
        except (json.JSONDecodeError, AttributeError):
            kind = "(unreadable)"
        if kind:
            counts[kind] = counts.get(kind, 0) + 1
    print(f"{sum(counts.values())} lines {counts}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
