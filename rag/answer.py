"""Question → cited Answer. Validates the question, resolves follow-ups, retrieves, decides whether the
collection covers the question (abstention), then answers with the configured LLM (numbered sources,
citations parsed, checked and mapped to exact titles) or extractively. Every LLM failure falls back to
the extractive answer with a one-line notice; both modes return the same Answer."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import extractive as ex
from . import llm as llm_calls
from .errors import InputError, LLMError
from .followup import resolve
from .llm import describe, describe_failure
from .prompts import ANSWER_PROMPT, COMPARE_PROMPT, CONDENSE_PROMPT, NOT_COVERED_MARKER, SYSTEM_PROMPT
from .retrieve import QueryPlan
from .types import Answer, Citation, Hit

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger(__name__)

_CITE = re.compile(r"\[(\d+(?:\s*[,–-]\s*\d+)*)\]")
# "[Source 2]", "[source 1, 3]": what smaller models write instead of [n]
_SOURCE_CITE = re.compile(r"\[(?:sources?|src|ref)\s*#?\s*(\d+(?:\s*[,–-]\s*(?:source\s*)?\d+)*)\]", re.I)


@dataclass
class Prepared:
    question: str
    standalone: str
    plan: QueryPlan
    sources: list[Hit]
    abstain: bool
    use_llm: bool
    notice: str | None = None
    compared: list[Hit] = field(default_factory=list)


def validate(question: Any, max_chars: int) -> str:
    if not isinstance(question, str) or not question.strip():
        raise InputError("the question is empty; ask something about the papers")
    q = " ".join(question.split())
    if len(q) > max_chars:
        raise InputError(f"the question is {len(q)} characters; the limit is {max_chars}")
    return q


def clean_history(history: Sequence[dict[str, Any]] | None) -> list[dict[str, str]]:
    out = []
    for turn in history or []:
        if isinstance(turn, dict) and turn.get("role") in ("user", "assistant") and isinstance(
                turn.get("content"), str):
            out.append({"role": turn["role"], "content": turn["content"]})
    return out[-12:]


def prepare(engine: Engine, question: str, history: Sequence[dict[str, Any]] | None, k: int | None,
            use_llm: bool | None) -> Prepared:
    s = engine.settings
    q = validate(question, s.max_question_chars)
    hist = clean_history(history)
    llm_on = s.llm_enabled if use_llm is None else (use_llm and s.llm_enabled)
    retriever = engine.retriever
    notice = None
    condensed = None
    if llm_on and hist:
        # With an LLM the condense prompt resolves follow-ups; the pronoun rules are the fallback.
        condensed, notice, endpoint_down = _condense(engine, q, hist)
        if endpoint_down:
            llm_on = False  # the answer request would fail the same way: answer extractively at once
    standalone = condensed or resolve(q, hist, retriever.aliases)
    result = retriever.search_with_plan(standalone, k or None)  # None: the plan decides (topic or not)
    plan, hits = result.plan, result.hits
    notice = notice or result.notice
    named = any(h.named_as for h in hits)
    evidence = retriever.evidence(plan.topic or standalone, hits) if hits else 0.0
    abstain = not hits or (not named and evidence < s.abstain_evidence)
    compared = [h for h in hits if h.side] if plan.kind == "comparative" else []
    if plan.kind == "comparative" and len(compared) < 2:
        compared = hits[:2]
    return Prepared(q, standalone, plan, hits, abstain, llm_on, notice, compared)



# --- extractive ---------------------------------------------------------------------------------------------
def abstention_text(p: Prepared) -> str:
    lines = ["**Not covered by the collection.** None of the indexed abstracts answers this question."]
    if p.sources:
        lines.append("\nThe closest papers (not evidence for an answer):")
        for h in p.sources[:3]:
            lines.append(f"- {h.title} (similarity {h.similarity:.2f})")
    return "\n".join(lines)


def extractive_answer(engine: Engine, p: Prepared, notice: str | None = None) -> Answer:
    if p.abstain:
        return Answer(p.question, abstention_text(p), [], p.sources, True, "extractive",
                      standalone_question=p.standalone if p.standalone != p.question else None,
                      notice=notice or p.notice)
    cache = _sentence_cache(engine)
    qvec = engine.embedder.embed([p.standalone])[0]
    per = engine.settings.extractive_sentences
    if p.plan.kind == "comparative":
        # Compared papers first, so their citation numbers are [1], [2], ...
        rest = [h for h in p.sources if h not in p.compared]
        sources = p.compared + rest
        sents = cache.get([(h.paper_id, _abstract(engine, h)) for h in p.compared])
        composed = ex.compose_comparison(qvec, p.standalone, p.compared, sents, max(1, per - 1))
    elif p.plan.kind == "topic":
        sources = p.sources
        sents = cache.get([(h.paper_id, _abstract(engine, h)) for h in sources])
        composed = ex.compose_topic(engine.embedder.embed([p.plan.topic or p.standalone])[0],
                                    p.plan.topic or p.standalone, sources, sents)
    else:
        sources = p.sources
        sents = cache.get([(h.paper_id, _abstract(engine, h)) for h in sources[:3]])
        composed = ex.compose_lookup(qvec, p.standalone, sources[:3], sents, per)
    citations = [Citation(n, sources[n - 1].paper_id, sources[n - 1].title, quote)
                 for n, quote in sorted(composed.quotes.items())]
    # Bracketed numbers quoted from an abstract ("cite [99]") are not citations: show them as "(99)".
    text = _CITE.sub(lambda m: m.group(0) if m.group(1).isdigit() and int(m.group(1)) in composed.quotes
                     else f"({m.group(1)})", composed.text)
    return Answer(p.question, text, citations, sources, False, "extractive",
                  standalone_question=p.standalone if p.standalone != p.question else None,
                  notice=notice or p.notice)


def _abstract(engine: Engine, h: Hit) -> str:
    rec = engine.retriever.papers.get(h.paper_id)
    return rec.abstract if rec is not None else h.text


def _sentence_cache(engine: Engine) -> ex.SentenceCache:
    cache = getattr(engine, "_sentence_cache", None)
    if cache is None or cache.embedder is not engine.embedder:
        cache = ex.SentenceCache(engine.embedder)
        engine._sentence_cache = cache
    return cache


# --- LLM ------------------------------------------------------------------------------------------------------
def _condense(engine: Engine, q: str, hist: list[dict[str, str]]) -> tuple[str | None, str | None, bool]:
    """(standalone question or None, notice, whether the endpoint itself failed)."""
    from llama_index.core.llms import ChatMessage

    convo = "\n".join(f"{t['role'].title()}: {t['content'][:1500]}" for t in hist[-6:])
    prompt = CONDENSE_PROMPT.format(history=convo, question=q)
    try:
        raw = llm_calls.chat(engine.llm(), [ChatMessage(role="user", content=prompt)], engine.settings)
    except LLMError:
        return None, None, False  # an unusable reply: the pronoun rules take over
    except Exception as e:
        return None, failure_notice(engine, e), True
    lines = [ln.strip() for ln in raw.strip().splitlines() if ln.strip()]
    text = re.sub(r"^(standalone question|question)\s*:\s*", "", lines[0], flags=re.I).strip(" \"'“”") \
        if lines else ""
    return (text if 3 < len(text) <= engine.settings.max_question_chars else None), None, False


def failure_notice(engine: Engine, e: BaseException) -> str:
    return f"the LLM endpoint failed ({describe_failure(e, engine.settings)}); showing the extractive answer"


def build_messages(engine: Engine, p: Prepared) -> tuple[list[Any], list[Hit]]:
    """Numbered sources trimmed to the context window (never the question)."""
    import tiktoken
    from llama_index.core.llms import ChatMessage

    enc = tiktoken.get_encoding("cl100k_base")
    s = engine.settings
    template = COMPARE_PROMPT if p.plan.kind == "comparative" else ANSWER_PROMPT
    fixed = len(enc.encode(SYSTEM_PROMPT)) + len(enc.encode(template.format(sources="", question=p.standalone)))
    budget = s.llm_context_window - s.llm_max_tokens - fixed - 64
    ordered = (p.compared + [h for h in p.sources if h not in p.compared]) if p.compared else p.sources
    blocks: list[str] = []
    used: list[Hit] = []
    for h in ordered:
        block = f"[{len(used) + 1}] {_as_data(h.title)} — {_as_data(_abstract(engine, h))}"
        tokens = enc.encode(block)
        if len(tokens) > budget:
            if budget < 40:
                break
            block = enc.decode(tokens[:budget]) + " …"
            tokens = enc.encode(block)
        blocks.append(block)
        used.append(h)
        budget -= len(tokens) + 1
    user = template.format(sources="\n\n".join(blocks), question=p.standalone)
    return [ChatMessage(role="system", content=SYSTEM_PROMPT), ChatMessage(role="user", content=user)], used


def _as_data(text: str) -> str:
    """A title or abstract as one line whose bracketed numbers cannot pass for the prompt's source
    numbers ("[2]" → "(2)"), so a planted text cannot forge a source block or a citation."""
    return " ".join(re.sub(r"\[(\s*\d[\d\s,–-]*)\]", r"(\1)", text).split())


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[*_`>#\"“”]", "", text).lower().split())


def leaks_instructions(text: str) -> bool:
    rules = [_norm(ln.strip().lstrip("- ")) for ln in SYSTEM_PROMPT.splitlines() if len(ln.strip()) > 30]
    low = _norm(text)
    return any(r[:50] in low for r in rules)


def finish_llm(engine: Engine, p: Prepared, raw: str, sources: list[Hit]) -> Answer:
    """Parse and check the model's text; map citations to exact titles."""
    model = describe(engine.settings)
    if leaks_instructions(raw):
        return extractive_answer(engine, p, notice="the model's answer was discarded because it repeated its "
                                 "instructions; showing the extractive answer")
    if NOT_COVERED_MARKER.lower() in raw.lower()[:200]:
        a = extractive_answer(engine, Prepared(**{**p.__dict__, "abstain": True}))
        a.mode, a.model = "llm", model
        return a
    raw = _SOURCE_CITE.sub(lambda m: "[" + re.sub(r"(?i)source\s*", "", m.group(1)) + "]", raw)
    n_src = len(sources)
    used: list[int] = []

    def keep(m: re.Match[str]) -> str:
        nums = []
        for part in re.split(r"\s*,\s*", m.group(1)):
            if re.search(r"[–-]", part):
                a, b = (int(x) for x in re.split(r"\s*[–-]\s*", part)[:2])
                nums.extend(range(a, b + 1) if 0 < b - a < 20 else [a, b])
            else:
                nums.append(int(part))
        valid = [n for n in nums if 1 <= n <= n_src]
        for n in valid:
            if n not in used:
                used.append(n)
        return "".join(f"[{n}]" for n in dict.fromkeys(valid))

    text = _CITE.sub(keep, raw).strip()
    text = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", text))
    if not used:
        # A cited-answer tool must not pass on uncited text (a model that ignored the sources, or obeyed
        # instructions planted in them).
        return extractive_answer(engine, p, notice="the model's answer cited none of the sources; showing "
                                 "the extractive answer")
    unsupported, quotes = check_support(engine, text, sources)
    for sent in unsupported:
        text = text.replace(sent, sent + " *(unsupported by the cited abstract)*", 1)
    citations = [Citation(n, sources[n - 1].paper_id, sources[n - 1].title,
                          quotes.get(n) or ex.split_sentences(_abstract(engine, sources[n - 1]))[0])
                 for n in sorted(used)]
    return Answer(p.question, text, citations, sources, False, "llm",
                  standalone_question=p.standalone if p.standalone != p.question else None, notice=p.notice,
                  unsupported=unsupported, model=model)


def check_support(engine: Engine, text: str, sources: list[Hit]) -> tuple[list[str], dict[int, str]]:
    """Sentences whose cited abstracts do not support them (max of lexical overlap and embedding
    similarity to the best abstract sentence), and the best supporting sentence per citation."""
    claims: list[tuple[str, list[int]]] = []
    for line in text.splitlines():
        parts = [c.strip() for c in line.strip("|").split("|")] if line.strip().startswith("|") else \
            ex.split_sentences(line)
        for part in parts:
            nums = [int(n) for n in re.findall(r"\[(\d+)\]", part)]
            bare = _CITE.sub("", part).strip(" *#")
            if nums and len(ex.content_words(bare)) >= 3:
                claims.append((part, nums))
    if not claims:
        return [], {}
    cache = _sentence_cache(engine)
    cited = sorted({n for _, nums in claims for n in nums})
    sents = cache.get([(sources[n - 1].paper_id, _abstract(engine, sources[n - 1])) for n in cited])
    vecs = engine.embedder.embed([_CITE.sub("", c).strip() for c, _ in claims])
    threshold = engine.settings.support_threshold
    unsupported: list[str] = []
    quotes: dict[int, tuple[float, str]] = {}
    for (claim, nums), v in zip(claims, vecs, strict=True):
        words = ex.content_words(_CITE.sub("", claim))
        best = 0.0
        for n in nums:
            sentences, svecs = sents[sources[n - 1].paper_id]
            dense = svecs @ v if len(sentences) else np.zeros(1)
            i = int(np.argmax(dense))
            lexical = len(words & ex.content_words(" ".join(sentences))) / max(1, len(words))
            score = max(float(dense[i]), lexical)
            best = max(best, score)
            if score > quotes.get(n, (-1.0, ""))[0]:
                quotes[n] = (score, sentences[i])
        if best < threshold:
            unsupported.append(claim)
    return unsupported, {n: q for n, (_, q) in quotes.items()}


# --- entry points ---------------------------------------------------------------------------------------------
def answer_stream(engine: Engine, question: str, history: Sequence[dict[str, Any]] | None, *,
                  k: int | None = None, use_llm: bool | None = None) -> Iterator[str | Answer]:
    """Text pieces as produced, then the final Answer (whose text replaces the streamed one: invalid
    citations are stripped and unsupported sentences marked after the stream ends)."""
    p = prepare(engine, question, history, k, use_llm)
    if not p.use_llm or p.abstain:
        ans = extractive_answer(engine, p)
        if p.use_llm:
            ans.mode, ans.model = "llm", describe(engine.settings)
        yield from re.split(r"(?<=\n)", ans.text)
        yield ans
        return
    messages, used = build_messages(engine, p)
    buf: list[str] = []
    try:
        for delta in llm_calls.stream(engine.llm(), messages, engine.settings):
            buf.append(delta)
            yield delta
        raw = "".join(buf)
    except Exception as e:  # any endpoint fault: refused, timeout, 429/5xx, malformed or cut stream
        ans = extractive_answer(engine, p, notice=failure_notice(engine, e))
        yield ans
        return
    yield finish_llm(engine, p, raw, used)


def answer_question(engine: Engine, question: str, history: Sequence[dict[str, Any]] | None, *,
                    k: int | None = None, use_llm: bool | None = None) -> Answer:
    p = prepare(engine, question, history, k, use_llm)
    if not p.use_llm or p.abstain:
        ans = extractive_answer(engine, p)
        if p.use_llm:
            ans.mode, ans.model = "llm", describe(engine.settings)
        return ans
    messages, used = build_messages(engine, p)
    try:
        raw = llm_calls.chat(engine.llm(), messages, engine.settings)
    except Exception as e:
        return extractive_answer(engine, p, notice=failure_notice(engine, e))
    return finish_llm(engine, p, raw, used)
