"""Question → cited Answer. The `Answerer` receives its collaborators (searcher, embedder, the LLM or None,
settings) and runs one opening for both entry points: validate the question, make it standalone (follow-ups),
search, decide whether the collection covers it. Then it answers with the LLM (numbered sources, citations kept
to sources, renumbered and support-checked) or extractively (quoted sentences). Every LLM failure falls back to
the extractive answer with a one-line notice; both modes return the same Answer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from . import citations as cite
from . import extractive as ex
from . import llm as llm_calls
from . import window as win
from .attribution import Source, attribute
from .coverage import Coverage, assess
from .embeddings import Embedder
from .errors import InputError, LLMError, LLMTimeoutError, LLMTruncatedError
from .focus import Focus, focus_of
from .followup import (
    asks_back,
    clean_history,
    dangling,
    keeps_the_question,
    parse_condensed,
    resolve,
    without_lead_in,
)
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
    tidy,
)
from .retrieve import Searcher
from .settings import Settings
from .spelling import (
    complete_half_remembered,
    expand_x2y,
    fix_transposed_stopwords,
    fix_typos,
    restore_case,
    restore_phrases,
    upcase_defined_acronyms,
)
from .types import Answer, Citation, Hit, Waiting

log = logging.getLogger(__name__)
CONDENSE_TOKENS = 80  # a standalone question is one line


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
        self._window: int | None = None  # the model's window once known (asked of the server, or learnt)
        self._probed = False
        self._window_lock = threading.Lock()

    # --- the shared opening -----------------------------------------------------------------------------------
    def prepare(self, question: str, history: Sequence[dict[str, Any]] | None, k: int | None,
                use_llm: bool | None, deadline: float | None = None) -> Prepared:
        s = self.settings
        q = validate_question(question, s.max_question_chars)
        state = self.searcher.state
        # "Different question — are there papers on X?" asks about X; "teh" is "the"; "(fno)" is an acronym
        asked = without_lead_in(q)
        asked = fix_typos(fix_transposed_stopwords(asked, state.vocabulary), state.vocabulary, state.plain_word)
        asked = complete_half_remembered(asked, state.case_forms)  # "UniRepLK-something"
        asked = upcase_defined_acronyms(expand_x2y(asked, state.vocabulary, lambda: (
            p.title + " " + p.abstract for p in state.papers.values())))  # "seq2seq": "sequence-to-sequence"
        hist = clean_history(history)
        llm_on = self.llm_on(use_llm)
        notice = condensed = None
        back = asks_back(q, hist)
        if llm_on and back:
            # With an LLM the condense prompt resolves follow-ups; the reference rules are the fallback. A question
            # that does not refer back is answered on its own words, as without an LLM: a model asked to rewrite
            # it drags the earlier topic in ("What is the capital of France?" after a comparison).
            condensed, notice, endpoint_down = self._condense(asked, hist, deadline)
            if condensed and not keeps_the_question(condensed, asked, hist, state.names):
                log.info("the model's rewrite of the follow-up (%r) lost what it asks; resolving it by rule",
                         condensed)
                condensed = None
            if endpoint_down:
                llm_on = False  # the answer request would fail the same way: answer extractively at once
        standalone = condensed or (resolve(asked, hist, state.names) if back else asked)
        result = self.searcher.search_with_plan(standalone, k or None)  # None: the plan decides (topic or not)
        plan, hits = result.plan, result.hits
        written = restore_case(plan.topic or standalone, result.state.case_forms)
        focus = focus_of(written)
        if focus.origin and not focus.names:  # "is the original vision transformer paper in here?"
            focus = focus_of(restore_phrases(written, result.state.phrase_forms))
        ref = dangling(asked, hist, state.names) if standalone == asked else None
        if ref:  # "How does it compare with RaftMLP?" with nothing earlier that "it" could be
            coverage = Coverage(False, [], f"It is not clear what “{ref}” refers to: there is no earlier question in "
                                "this conversation it could point at. Please name the paper you mean.", [ref])
        else:
            coverage = assess(result.state, standalone, plan, hits, s, focus)
        evidence = coverage.evidence
        compared = (evidence if plan.sides else evidence[:2]) if plan.kind == "comparative" else []
        # Evidence first (so it is cited [1], [2], ...), then the other papers found. A topic nothing covers
        # lists its closest candidates, not just the few that passed the topic's relevance cut.
        if not coverage.covered and result.candidates:
            hits = result.candidates[: max(len(hits), s.default_k)]
        sources = evidence + [h for h in hits if h.paper_id not in {e.paper_id for e in evidence}]
        return Prepared(q, standalone, plan, result.state, sources, compared, not coverage.covered, llm_on,
                        coverage, focus, notice or result.notice)

    def llm_on(self, use_llm: bool | None) -> bool:
        s = self.settings
        return s.llm_enabled if use_llm is None else bool(use_llm and s.llm_enabled)

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
                                             max(1, per - 1), idf=p.state.idf, fact=p.focus.fact)
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
    def _condense(self, q: str, hist: list[dict[str, str]], deadline: float | None
                  ) -> tuple[str | None, str | None, bool]:
        """(standalone question or None, notice, whether the endpoint itself failed or is too slow)."""
        convo = "\n".join(f"{t['role'].title()}: {t['content'][:1500]}" for t in hist[-6:])
        prompt = CONDENSE_PROMPT.format(history=convo, question=q)
        try:
            raw = llm_calls.chat(self.llm(), [{"role": "user", "content": prompt}], self.settings,
                                 max_tokens=CONDENSE_TOKENS, deadline=deadline)
        except LLMTimeoutError as e:  # the answer's request would wait the same way: answer extractively now
            return None, self.failure_notice(e), True
        except LLMError:
            return None, None, False  # an unusable reply: the reference rules take over
        except Exception as e:
            return None, self.failure_notice(e), True
        return parse_condensed(raw, self.settings.max_question_chars), None, False

    def failure_notice(self, e: BaseException) -> str:
        reason = llm_calls.describe_failure(e, self.settings)
        return f"the LLM endpoint failed ({reason}); showing the extractive answer"

    def window(self) -> int:
        """The model's context window: what the server said or a reply named, else the setting."""
        s = self.settings
        with self._window_lock:
            if not self._probed:
                self._probed = True
                if s.llm_base_url and s.llm_probe_window:
                    self._window = win.server_window(s.llm_base_url, s.llm_model or "", min(3.0, s.llm_timeout))
                    log.info("LLM context window from the server: %s", self._window or "not said")
            return self._window or s.llm_context_window

    def learn_window(self, e: BaseException, tried: int) -> int:
        """After a "context length exceeded" reply: the window it names, else a quarter less than was tried."""
        named = win.window_in_error(e)
        with self._window_lock:
            self._window = named if named and named < tried else max(512, tried * 3 // 4)
            return self._window

    def messages(self, p: Prepared, window: int | None = None, max_sources: int | None = None
                 ) -> tuple[list[dict[str, str]], list[Hit], int]:
        """The prompt, the sources it numbers and the max_tokens that fit: the evidence first, then up to
        llm_extra_sources other papers, each abstract trimmed or dropped so that prompt + answer fit the window
        (never the question)."""
        s = self.settings
        window = window or self.window()
        template = COMPARE_PROMPT if p.plan.kind == "comparative" else ANSWER_PROMPT
        system = {"role": "system", "content": SYSTEM_PROMPT}
        fixed = win.count_tokens([system, {"role": "user", "content": template.format(sources="",
                                                                                      question=p.standalone)}])
        reserve = min(s.llm_max_tokens, max(win.MIN_ANSWER_TOKENS, window // 2))
        budget = window - reserve - fixed
        n_evidence = len(p.compared) if p.plan.kind == "comparative" and p.compared else len(p.coverage.evidence)
        wanted = p.sources[: max(1, n_evidence) + max(0, s.llm_extra_sources)][: max_sources or None]
        blocks: list[str] = []
        used: list[Hit] = []
        for h in wanted:
            block = source_block(len(used) + 1, h.title, h.paper.abstract if h.paper else h.text)
            cost = win.text_tokens(block)
            if cost > budget:
                if budget < 60:
                    break
                enc = win.encoding()
                block = enc.decode(enc.encode(block)[: int(budget / win.TOKEN_MARGIN) - 2]) + " …"
                cost = win.text_tokens(block)
            blocks.append(block)
            used.append(h)
            budget -= cost + 1
        messages = [system, {"role": "user", "content": template.format(sources="\n".join(blocks),
                                                                        question=p.standalone)}]
        max_tokens = win.answer_tokens(win.count_tokens(messages), window, s.llm_max_tokens)
        return messages, used, max_tokens

    def finish_llm(self, p: Prepared, raw: str, used: list[Hit], *, truncated: str | None = None,
                   timings: dict[str, float] | None = None) -> Answer:
        """The model's text checked: instructions leaked → extractive; "NOT COVERED" → abstain. Otherwise every
        sentence is attributed (rag/attribution.py): citations kept to the sources, uncited supported sentences
        given theirs, unsupported ones marked; shown only when most sentences are supported, renumbered 1..m in
        order of appearance. `truncated`: why the text was cut off (its unfinished last sentence is dropped)."""
        s = self.settings
        timings = timings or {}
        log.debug("%s wrote: %r", self.model, raw)  # the raw text, before tidying and attribution
        if leaks_instructions(raw):
            return self.extractive(p, notice="the model's answer was discarded because it repeated its "
                                   "instructions; showing the extractive answer")
        if NOT_COVERED_MARKER.lower() in raw.lower()[:200]:
            return replace(self.extractive(replace(p, abstain=True)), mode="llm", model=self.model, timings=timings)
        text = tidy(cite.normalize(raw), cut=truncated is not None)
        if not text and truncated:
            return self.extractive(p, notice=f"the LLM endpoint failed ({truncated}); showing the extractive "
                                   "answer")
        sents = self._sentences(used)
        sources = [Source(h.title, *sents[h.paper_id]) for h in used]
        att = attribute(cite.keep_valid(text, len(used)), sources, self.embedder.embed,
                        cited_threshold=s.support_threshold, attribution_threshold=s.attribution_threshold)
        share = att.share
        if share is None or share < s.min_supported_share:
            return self.extractive(p, notice=unsupported_notice(att.cited_by_model, att.supported, att.claims))
        text, order = cite.renumber(att.text, len(used))
        cited = [used[n - 1] for n in order]
        citations = [Citation(n, h.paper_id, h.title, att.quotes.get(old) or next(iter(sents[h.paper_id][0]), h.text))
                     for n, (old, h) in enumerate(zip(order, cited, strict=True), start=1)]
        if missing := [h for h in p.compared if h.paper_id not in {c.paper_id for c in cited}]:
            # A comparison shows every compared paper: the ones the model left out are quoted (small models do)
            first = len(cited) + 1
            extra = ex.missing_sides(self.embedder.embed([p.standalone])[0], p.standalone, missing,
                                     self._sentences(missing), first)
            text += "\n\n" + extra.text
            citations += [Citation(n, h.paper_id, h.title, extra.quotes[n]) for n, h in enumerate(missing, first)]
            cited += missing
        ordered = cited + [h for h in p.sources if h not in cited]
        notice = p.notice
        if truncated:
            notice = f"the model's {truncated.removeprefix('the ')}; its unfinished last sentence is left out"
        return replace(p, sources=ordered).answer(
            text, citations, "llm", notice=notice, model=self.model,
            unsupported=[cite.apply_order(u, order) for u in att.unsupported],
            attributed=[cite.apply_order(a, order) for a in att.attributed],
            supported_share=round(share, 4), timings=timings)

    def _llm(self, p: Prepared, started: float, deadline: float) -> Iterator[str | Answer]:
        """The LLM answer for a prepared question: text pieces as they come (a Waiting first), then the checked
        Answer. A "context length exceeded" reply is retried once with the window it names and fewer sources;
        any other failure gives the extractive answer with a notice."""
        window = self.window()
        max_sources: int | None = None
        for attempt in range(2):
            messages, used, max_tokens = self.messages(p, window, max_sources)
            yield Waiting(self.model or "the model", f"answering from {len(used)} source{'s' * (len(used) != 1)}")
            buf: list[str] = []
            timings: dict[str, float] = {}
            try:
                for delta in llm_calls.stream(self.llm(), messages, self.settings, max_tokens=max_tokens,
                                              deadline=deadline):
                    timings.setdefault("first_token", round(time.monotonic() - started, 3))
                    buf.append(delta)
                    yield delta
            except LLMTruncatedError as e:
                timings["total"] = round(time.monotonic() - started, 3)
                yield self.finish_llm(p, "".join(buf), used, truncated=str(e), timings=timings)
                return
            except Exception as e:  # any endpoint fault: refused, timeout, 429/5xx, malformed or cut stream
                if attempt == 0 and not buf and win.is_context_error(e) and len(used) > 1:
                    window = self.learn_window(e, window)
                    max_sources = len(used) - 1
                    log.info("context length exceeded: retrying with a %d-token window", window)
                    continue
                yield self.extractive(p, notice=self.failure_notice(e))
                return
            timings["total"] = round(time.monotonic() - started, 3)
            yield self.finish_llm(p, "".join(buf), used, timings=timings)
            return

    # --- entry points -----------------------------------------------------------------------------------------
    def _without_llm(self, p: Prepared) -> Answer:
        ans = self.extractive(p)
        return replace(ans, mode="llm", model=self.model) if p.use_llm else ans

    def answer(self, question: str, history: Sequence[dict[str, Any]] | None = None, *, k: int | None = None,
               use_llm: bool | None = None) -> Answer:
        *_, last = self.stream(question, history, k=k, use_llm=use_llm, pieces=False)
        assert isinstance(last, Answer)
        return last

    def stream(self, question: str, history: Sequence[dict[str, Any]] | None = None, *, k: int | None = None,
               use_llm: bool | None = None, pieces: bool = True) -> Iterator[str | Answer]:
        """Text pieces as produced, then the final Answer (whose text replaces the streamed one: citations are
        checked and attributed, unsupported sentences marked after the stream ends). In LLM mode a `Waiting`
        (an empty piece) comes whenever a request has gone to the model and nothing has come back yet. The LLM
        part of one answer ends within llm_max_seconds."""
        started = time.monotonic()
        deadline = started + self.settings.llm_max_seconds
        if pieces and self.llm_on(use_llm) and asks_back(question, clean_history(history)):
            yield Waiting(self.model or "the model", "rewriting the follow-up question")
        p = self.prepare(question, history, k, use_llm, deadline)
        if not p.use_llm or p.abstain:
            ans = self._without_llm(p)
            if pieces:
                yield from ans.text.splitlines(keepends=True)
            yield ans
            return
        for item in self._llm(p, started, deadline):
            if pieces or isinstance(item, Answer):
                yield item


def unsupported_notice(model_cited: set[int], supported: int, claims: int) -> str:
    if not claims and model_cited:  # citations, but no sentence to check ("only 0 of the 0 ...")
        return "the model's answer had no sentences of its own; showing the extractive answer"
    if not model_cited:
        what = ("and no source supports it" if not supported else
                f"and only {supported} of its {claims} sentences are supported by them")
        return f"the model's answer cited none of the sources, {what}; showing the extractive answer"
    return (f"only {supported} of the {claims} sentences of the model's answer are supported by the sources; "
            "showing the extractive answer")


def abstention_text(reason: str | None, closest: Sequence[Hit]) -> str:
    lines = ["**Not covered by the collection.** " + (reason or "None of the indexed abstracts answers this question.")]
    if closest:
        lines.append("\nThe closest papers (not evidence for an answer):")
        lines.extend(f"- {h.title}" for h in closest[:3])
    return "\n".join(lines)
