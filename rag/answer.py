"""Question → cited Answer. The `Answerer` receives its collaborators (searcher, embedder, the LLM or None,
settings) and runs one opening for both entry points: validate the question, make it standalone (follow-ups),
search, decide whether the collection covers it. Then it answers with the LLM (numbered sources, citations kept
to sources, renumbered and support-checked) or extractively (quoted sentences). Every LLM failure falls back to
the extractive answer with a one-line notice; both modes return the same Answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from . import citations as cite
from . import extractive as ex
from . import llm as llm_calls
from .coverage import Coverage, assess
from .embeddings import Embedder
from .errors import InputError, LLMError
from .focus import Focus, focus_of
from .followup import clean_history, dangling, parse_condensed, resolve
from .index_state import IndexState
from .plan import QueryPlan
from .prompts import (
    ANSWER_PROMPT,
    COMPARE_PROMPT,
    CONDENSE_PROMPT,
    NOT_COVERED_MARKER,
    SYSTEM_PROMPT,
    leaks_instructions,
    source_block,
)
from .retrieve import Searcher
from .settings import Settings
from .types import Answer, Citation, Hit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """Everything both answer modes start from."""

    question: str
    standalone: str
    plan: QueryPlan
    state: IndexState
    sources: list[Hit]  # compared papers first for a comparison, so they are cited [1], [2], ...
    compared: list[Hit]
    abstain: bool
    use_llm: bool
    coverage: Coverage
    focus: Focus
    notice: str | None = None

    def answer(self, text: str, citations: list[Citation], mode: Literal["llm", "extractive"], **kw: Any
               ) -> Answer:
        kw.setdefault("notice", self.notice)
        kw.setdefault("reason", self.coverage.reason)
        kw.setdefault("missing", list(self.coverage.missing))
        return Answer(self.question, text, citations, self.sources, self.abstain, mode,
                      standalone_question=self.standalone if self.standalone != self.question else None, **kw)


def validate_question(question: Any, max_chars: int) -> str:
    """The question on one line, or InputError saying what is wrong with it."""
    if not isinstance(question, str) or not question.strip():
        raise InputError("the question is empty; ask something about the papers")
    q = " ".join(question.split())
    if len(q) > max_chars:
        raise InputError(f"the question is {len(q):,} characters; the limit is {max_chars:,}")
    return q


class Answerer:
    def __init__(self, searcher: Searcher, embedder: Embedder, llm: Callable[[], Any], settings: Settings):
        """`llm()` returns the configured LLM (built on first use) or None in extractive mode."""
        self.searcher = searcher
        self.embedder = embedder
        self.llm = llm
        self.settings = settings
        self.sentences = ex.SentenceCache(embedder)
        self.model = llm_calls.describe(settings)

    # --- the shared opening -----------------------------------------------------------------------------------
    def prepare(self, question: str, history: Sequence[dict[str, Any]] | None, k: int | None,
                use_llm: bool | None) -> Prepared:
        s = self.settings
        q = validate_question(question, s.max_question_chars)
        hist = clean_history(history)
        llm_on = s.llm_enabled if use_llm is None else (use_llm and s.llm_enabled)
        notice = condensed = None
        state = self.searcher.state
        if llm_on and hist:
            # With an LLM the condense prompt resolves follow-ups; the reference rules are the fallback.
            condensed, notice, endpoint_down = self._condense(q, hist)
            if endpoint_down:
                llm_on = False  # the answer request would fail the same way: answer extractively at once
        standalone = condensed or resolve(q, hist, state.names)
        result = self.searcher.search_with_plan(standalone, k or None)  # None: the plan decides (topic or not)
        plan, hits = result.plan, result.hits
        focus = focus_of(plan.topic or standalone)
        ref = dangling(q, hist, state.names) if standalone == q else None
        if ref:  # "How does it compare with RaftMLP?" with nothing earlier that "it" could be
            coverage = Coverage(False, [], f"It is not clear what “{ref}” refers to: there is no earlier question in "
                                "this conversation it could point at. Please name the paper you mean.", [ref])
        else:
            coverage = assess(result.state, standalone, plan, hits, s, focus)
        evidence = coverage.evidence
        if plan.kind == "comparative":
            compared = evidence if plan.sides else evidence[:2]
        else:
            compared = []
        # Evidence first (so it is cited [1], [2], ...), then the other papers found. A topic nothing covers
        # lists its closest candidates, not just the few that passed the topic's relevance cut.
        if not coverage.covered and result.candidates:
            hits = result.candidates[: max(len(hits), s.default_k)]
        sources = evidence + [h for h in hits if h.paper_id not in {e.paper_id for e in evidence}]
        return Prepared(q, standalone, plan, result.state, sources, compared, not coverage.covered, llm_on,
                        coverage, focus, notice or result.notice)

    # --- extractive -------------------------------------------------------------------------------------------
    def extractive(self, p: Prepared, notice: str | None = None) -> Answer:
        """The answer quoted from the abstracts of the evidence (numbered first among the sources)."""
        if p.abstain:
            return p.answer(abstention_text(p.coverage.reason, p.sources), [], "extractive", notice=notice or p.notice)
        per = self.settings.extractive_sentences
        evidence = p.coverage.evidence
        qvec = self.embedder.embed([p.standalone])[0]
        if p.plan.kind == "comparative":
            composed = ex.compose_comparison(qvec, p.standalone, p.compared, self._sentences(p.compared),
                                             max(1, per - 1), idf=p.state.idf)
        elif p.plan.kind == "topic":
            topic = p.plan.topic or p.standalone
            composed = ex.compose_topic(self.embedder.embed([topic])[0], topic, evidence, self._sentences(evidence))
        else:
            composed = ex.compose_lookup(qvec, p.standalone, evidence[:3], self._sentences(evidence[:3]), per,
                                         fact=p.focus.fact)
        citations = [Citation(n, p.sources[n - 1].paper_id, p.sources[n - 1].title, quote)
                     for n, quote in sorted(composed.quotes.items())]
        text = cite.defuse(composed.text, set(composed.quotes))
        if p.coverage.partial and p.coverage.reason:
            text = f"**Only part of this is covered.** {p.coverage.reason}\n\n{text}"
        return p.answer(text, citations, "extractive", notice=notice or p.notice)

    def _sentences(self, hits: Sequence[Hit]) -> dict[str, tuple[list[str], Any]]:
        return self.sentences.get([(h.paper_id, h.paper.abstract if h.paper else h.text) for h in hits])

    # --- LLM --------------------------------------------------------------------------------------------------
    def _condense(self, q: str, hist: list[dict[str, str]]) -> tuple[str | None, str | None, bool]:
        """(standalone question or None, notice, whether the endpoint itself failed)."""
        convo = "\n".join(f"{t['role'].title()}: {t['content'][:1500]}" for t in hist[-6:])
        prompt = CONDENSE_PROMPT.format(history=convo, question=q)
        try:
            raw = llm_calls.chat(self.llm(), [{"role": "user", "content": prompt}], self.settings)
        except LLMError:
            return None, None, False  # an unusable reply: the reference rules take over
        except Exception as e:
            return None, self.failure_notice(e), True
        return parse_condensed(raw, self.settings.max_question_chars), None, False

    def failure_notice(self, e: BaseException) -> str:
        reason = llm_calls.describe_failure(e, self.settings)
        return f"the LLM endpoint failed ({reason}); showing the extractive answer"

    def messages(self, p: Prepared) -> tuple[list[dict[str, str]], list[Hit]]:
        """The prompt with numbered sources trimmed to the context window (never the question), and the sources
        it holds."""
        import tiktoken

        enc = tiktoken.get_encoding("cl100k_base")
        s = self.settings
        template = COMPARE_PROMPT if p.plan.kind == "comparative" else ANSWER_PROMPT
        fixed = len(enc.encode(SYSTEM_PROMPT)) + len(enc.encode(template.format(sources="", question=p.standalone)))
        budget = s.llm_context_window - s.llm_max_tokens - fixed - 64
        blocks: list[str] = []
        used: list[Hit] = []
        for h in p.sources:
            block = source_block(len(used) + 1, h.title, h.paper.abstract if h.paper else h.text)
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
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}], used

    def finish_llm(self, p: Prepared, raw: str, used: list[Hit]) -> Answer:
        """The model's text checked: instructions leaked or nothing cited → extractive; citations kept to the
        sources, renumbered 1..m in order of appearance, each cited sentence support-checked."""
        if leaks_instructions(raw):
            return self.extractive(p, notice="the model's answer was discarded because it repeated its "
                                   "instructions; showing the extractive answer")
        if NOT_COVERED_MARKER.lower() in raw.lower()[:200]:
            return replace(self.extractive(replace(p, abstain=True)), mode="llm", model=self.model)
        text, order = cite.renumber(cite.normalize(raw), len(used))
        if not order:
            # A cited-answer tool must not pass on uncited text (a model that ignored the sources, or obeyed
            # instructions planted in them).
            return self.extractive(p, notice="the model's answer cited none of the sources; showing the "
                                   "extractive answer")
        cited = [used[n - 1] for n in order]
        sources = cited + [h for h in p.sources if h not in cited]
        sents = self._sentences(cited)
        by_n = {n: sents[h.paper_id] for n, h in enumerate(cited, start=1)}
        support = cite.check_support(text, by_n, self.embedder.embed, self.settings.support_threshold)
        text = cite.mark_unsupported(text, support.unsupported)
        citations = [Citation(n, h.paper_id, h.title, support.quotes.get(n) or next(iter(by_n[n][0]), h.text))
                     for n, h in enumerate(cited, start=1)]
        return replace(p, sources=sources).answer(text, citations, "llm", unsupported=support.unsupported,
                                                  model=self.model)

    # --- entry points -----------------------------------------------------------------------------------------
    def _without_llm(self, p: Prepared) -> Answer:
        ans = self.extractive(p)
        return replace(ans, mode="llm", model=self.model) if p.use_llm else ans

    def answer(self, question: str, history: Sequence[dict[str, Any]] | None = None, *, k: int | None = None,
               use_llm: bool | None = None) -> Answer:
        p = self.prepare(question, history, k, use_llm)
        if not p.use_llm or p.abstain:
            return self._without_llm(p)
        messages, used = self.messages(p)
        try:
            raw = llm_calls.chat(self.llm(), messages, self.settings)
        except Exception as e:  # any endpoint fault: refused, timeout, 429/5xx, malformed
            return self.extractive(p, notice=self.failure_notice(e))
        return self.finish_llm(p, raw, used)

    def stream(self, question: str, history: Sequence[dict[str, Any]] | None = None, *, k: int | None = None,
               use_llm: bool | None = None) -> Iterator[str | Answer]:
        """Text pieces as produced, then the final Answer (whose text replaces the streamed one: invalid
        citations are stripped and unsupported sentences marked after the stream ends)."""
        p = self.prepare(question, history, k, use_llm)
        if not p.use_llm or p.abstain:
            ans = self._without_llm(p)
            yield from ans.text.splitlines(keepends=True)
            yield ans
            return
        messages, used = self.messages(p)
        buf: list[str] = []
        try:
            for delta in llm_calls.stream(self.llm(), messages, self.settings):
                buf.append(delta)
                yield delta
        except Exception as e:  # any endpoint fault: refused, timeout, 429/5xx, malformed or cut stream
            yield self.extractive(p, notice=self.failure_notice(e))
            return
        yield self.finish_llm(p, "".join(buf), used)


def abstention_text(reason: str | None, closest: Sequence[Hit]) -> str:
    lines = ["**Not covered by the collection.** " + (reason or "None of the indexed abstracts answers this question.")]
    if closest:
        lines.append("\nThe closest papers (not evidence for an answer):")
        lines.extend(f"- {h.title}" for h in closest[:3])
    return "\n".join(lines)
