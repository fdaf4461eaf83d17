"""What an eval in LLM mode adds to the report: how many answers came from the model (not the extractive fallback),
whether their citations are sources, the share of their sentences the sources support, how many citations were
attributed post hoc, how many answers were cut off, and time to first token and total latency. Pure functions
over the runner's result rows; the markdown section for report.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .metrics import citation_validity, mean_or_none, percentile

FALLBACK = "showing the extractive answer"
COLUMNS = ["n", "llm_answers", "fallbacks", "abstained", "cut_off", "citation_validity", "supported_share",
           "unsupported_sentences", "attributed_citations", "first_token_p50", "first_token_p95", "latency_p50",
           "latency_p95"]
SHORT = {"llm_answers": "from model", "fallbacks": "fallbacks", "abstained": "abstained", "cut_off": "cut off",
         "citation_validity": "cite valid", "supported_share": "supported", "unsupported_sentences": "unsupp./ans",
         "attributed_citations": "attrib./ans", "first_token_p50": "1st token p50 s",
         "first_token_p95": "1st token p95 s", "latency_p50": "total p50 s", "latency_p95": "total p95 s"}


def llm_fields(answer: Any, raw: str | None) -> dict[str, Any]:
    """The per-question fields of an LLM-mode result row, from the Answer and the model's raw streamed text."""
    notice = answer.notice or ""
    fallback = FALLBACK in notice
    return {"raw_answer": raw, "fallback": fallback, "cut_off": "cut off at the" in notice and not fallback,
            "from_model": answer.mode == "llm" and not answer.abstained and not fallback,
            "supported_share": answer.supported_share, "unsupported": len(answer.unsupported),
            "attributed": len(answer.attributed), "first_token_s": answer.timings.get("first_token"),
            "llm_total_s": answer.timings.get("total")}


def _group(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    model = [r for r in rows if r.get("from_model")]
    first = [float(r["first_token_s"]) for r in rows if r.get("first_token_s") is not None]
    total = [float(r["latency_ms"]) / 1000 for r in rows if r.get("latency_ms") is not None]
    validity = [citation_validity(r["cited_titles"], r["source_titles"]) for r in model]
    out: dict[str, Any] = {
        "n": len(rows),
        "llm_answers": len(model),
        "fallbacks": sum(bool(r.get("fallback")) for r in rows),
        "abstained": sum(bool(r.get("abstained")) and not r.get("fallback") for r in rows),
        "cut_off": sum(bool(r.get("cut_off")) for r in model),
        "citation_validity": mean_or_none(validity),
        "supported_share": mean_or_none(r.get("supported_share") for r in model),
        "unsupported_sentences": mean_or_none(float(r.get("unsupported") or 0) for r in model),
        "attributed_citations": mean_or_none(float(r.get("attributed") or 0) for r in model),
        "first_token_p50": percentile(first, 50), "first_token_p95": percentile(first, 95),
        "latency_p50": percentile(total, 50), "latency_p95": percentile(total, 95),
    }
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def aggregate_llm(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """{"overall": {...}, "by_type": {...}} over rows of an LLM-mode run, or None for an extractive run."""
    if not any("from_model" in r for r in rows):
        return None
    types = sorted({r["type"] for r in rows})
    return {"overall": _group(rows), "by_type": {t: _group([r for r in rows if r["type"] == t]) for t in types}}


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if isinstance(v, float) and v <= 1.5 else (f"{v:.1f}" if isinstance(v, float) else str(v))


def markdown(llm: Mapping[str, Any] | None) -> list[str]:
    """The report's "LLM answers" section (nothing for an extractive run)."""
    if not llm:
        return []
    head = "| type | " + " | ".join(SHORT.get(c, c) for c in COLUMNS) + " |"
    rows = [f"| {t} | " + " | ".join(_fmt(m.get(c)) for c in COLUMNS) + " |" for t, m in llm["by_type"].items()]
    rows.append("| **all** | " + " | ".join(f"**{_fmt(llm['overall'].get(c))}**" for c in COLUMNS) + " |")
    return ["## LLM answers", "",
            "from model = answers the model wrote (not the extractive fallback, not an abstention); cite valid = "
            "their cited titles that are among their sources; supported = mean share of their sentences the sources "
            "support; unsupp./ans and attrib./ans = sentences marked unsupported / given a citation by post-hoc "
            "attribution, per answer; cut off = answers cut at the token or time limit (their complete sentences "
            "kept); 1st token = seconds from the question to the model's first token; total = seconds per question.",
            "", head, "|---|" + "---:|" * len(COLUMNS), *rows, ""]
