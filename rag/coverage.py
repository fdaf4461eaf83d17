"""Does the collection cover a question? Checked against what the question is about (its `Focus`), paper by
paper, not as one similarity score:

- every name the question mentions must be in the evidence paper; a name no abstract contains makes the answer
  "not covered" ("No abstract in the collection mentions AlphaFold.") when the question is about it, and is
  reported beside the answer when it is only a detail of a description ("... trained on small TSP instances");
- a name the question is about ("How was GPT-4 trained?") must be central to the paper (its own name, in its
  title, or mentioned more than once), and "which paper introduced X?" needs X to be a paper's own name;
- a question about a thing the collection names only in passing ("In elastic weight consolidation, how ...?")
  needs a paper about it;
- a question after one fact (a number, a dataset) needs an abstract that states it (rag/facts.py), on the
  benchmark it names ("... perplexity on WikiText-103?");
- the paper must contain enough of the question's content terms, weighted by how rare they are in the
  collection (rare terms carry the topic).

Topic questions keep only papers that pass; comparisons are checked side by side, so a side with no paper is
named while the other sides are answered. The result says why in words. The per-paper checks are `judge.Judge`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .facts import FACT_WORDS, asked_terms, states_asked
from .focus import Focus, fact_cue, focus_of
from .index_state import IndexState
from .judge import MAX_LISTED, Judge
from .plan import QueryPlan
from .settings import Settings
from .spelling import restore_case
from .text import (
    AMOUNT,
    common_english,
    content_terms,
    count_sequence,
    defines_acronym,
    is_coined,
    name_tokens,
    stem,
    topic_aside,
    topic_head,
)
from .text import words as words_of
from .types import Hit

_ALTERNATIVES = re.compile(r"\s+or\s+|\s*/\s*")  # "tokenization or byte-pair encoding", "mamba / SSMs"
# "..., which crop was it, corn or soybeans?": the question asks which of two; an abstract naming neither does not say
_CHOICE = re.compile(r"(?:[,:;]|\s[-–—]|\b(?:was|is|were|are)\s+it)\s+(?:(?:the|an?)\s+)?([A-Za-z][\w-]+)\s+or\s+"
                     r"(?!(?:not|so|more|less|both|neither|either|something|anything)\b)(?:(?:the|an?)\s+)?"
                     r"([A-Za-z][\w-]+)\s*\?\s*$")
_BENCHMARK_SLOT = re.compile(r"\b(?:results?|evaluated|tested|benchmarked|experiments?|scores?|accuracy|performance)\s+"
                             r"on\s+(?:the\s+)?([a-z][a-z0-9-]{3,})\b(?!\s+(?:of|and|for)\b)")
_FACT_ON = re.compile(r"\b(?:on|in|for)\s+((?:(?:the\s+)?[a-z][\w'-]*\s*){1,4})[?.!]*\s*$")  # a lowercase setting, last
_SETTING = re.compile(r"\s(?:on|in|from|with|for|at|using|via|across)\s+", re.I)  # where or how, after a topic
_DATASET_NOUN = r"(?:data\s*sets?|benchmarks?|corpus|corpora|tasks?|splits?)"
_DESCRIBED_DATASET = re.compile(r"\b(?:on|in|using)\s+(?:the\s+)?((?:[\w-]+\s+){1,4}?)" + _DATASET_NOUN + r"\b",
                                re.I)
# the first word of a compound that says how a measure is taken, not on what: "per-case", "zero-shot", "top-k"
_COUNTED_AS = {"per", "non", "zero", "few", "one", "all", "test", "top", "end", "average", "mean"}
# (and the owner of a name: "Google's GNMT"; not of a description: "Mamba's throughput"; authors own either:
# "Jacot et al.'s NTK", "Yang & Hu's infinite-width limit")
_SIDE_QUALIFIER = re.compile(r"^(?:(?:the|an?)\s+)?(?-i:[A-Z][\w-]*['’]s\s+(?=['‘\x22“]?[A-Z])|"
                             r"[A-Z][\w-]*\s+(?:et\s+al\.?|(?:&|and)\s+[A-Z][\w-]*)['’]s\s+)?(?:(?:plain|vanilla|standard|"
                             r"classic(?:al)?|basic|simple|regular|traditional|conventional|usual|original|good\s+old)"
                             r"\s+)?", re.I)
_THING = r"(?:optimi[sz]er|model|method|algorithm|dataset|benchmark|architecture|network|framework|library|system)s?\b"
SUBJECT_HEAD_WORDS = 2  # "speculative decoding", "the LAMB": the words a subject phrase is about
SIDE_NAME_WORDS = 2  # "the Lion optimizer" names a thing; a longer side after the name describes one


@dataclass(frozen=True)
class Coverage:
    covered: bool  # the answer may use `evidence`
    evidence: list[Hit]  # the hits that pass, best first (for a comparison: one per covered side)
    reason: str | None = None  # why the question is not (or only partly) covered, in words
    missing: list[str] = field(default_factory=list)  # names / sides / terms the evidence lacks
    partial: bool = False  # covered in part (a comparison side without a paper)


def assess(state: IndexState, question: str, plan: QueryPlan, hits: Sequence[Hit], settings: Settings,
           focus: Focus | None = None) -> Coverage:
    """Which of `hits` are evidence for `question`, and if none (or not all sides) are, why."""
    question = restore_case(question, state.case_forms)  # "alexnet top-5 error?" names AlexNet
    focus = focus or focus_of(restore_case(plan.topic or question, state.case_forms))
    unseen_common = frozenset(stem(w) for w in words_of(question) if common_english(w) and (
        state.doc_freq.get(stem(w), 0) == 0 or state.idf(stem(w)) > state.typical_idf))
    judge = Judge(state, settings, unseen_common)
    if not hits:
        return Coverage(False, [], "No paper in the collection matches this question.")
    if plan.kind == "comparative" and plan.sides:
        return _comparison(judge, focus, plan, hits, settings)
    # A name no abstract contains that the question is about (its subject, a quoted name, "which paper introduced
    # X?", a topic's name, or anything in a short question) means the collection says nothing about it. One that
    # is a detail of a long description ("... policies trained on small TSP instances ...") does not: the rest
    # may still be answered, if it passes every check below, and the answer says which name no abstract has.
    # (also a capitalised word no abstract writes in any case: "Intel's Loihi chip", and a plain word as a thing's
    # name, "the Lion optimizer")
    absent = [n for n in focus.names if judge.absent(n) or (
        re.fullmatch(r"[A-Z][a-z]{2,}", n) and not judge.papers_mentioning(n) and (not common_english(n) or re.search(
            r"\b" + re.escape(n) + r"\s+" + _THING, question)))]
    absent_reason = f"No abstract in the collection mentions {' or '.join(absent[:3])}." if absent else None
    detail_terms = set().union(*(content_terms(n) for n in absent))
    # sizes ("70b", "7b") say how big, not what about: sharing one is no sign of covering the question
    wanted = {t for t in focus.terms if not AMOUNT.fullmatch(t)} - detail_terms
    # (in a topic, a name after a preposition is where or how: "detecting rumours on Twitter at an early stage")
    def where_or_how(n: str) -> bool:
        return re.search(_SETTING.pattern + r"(?:the\s+)?" + re.escape(n) + r"(?!\w)", question, re.I) is not None

    topic_kills = plan.kind == "topic" and any(not where_or_how(n) for n in absent)
    few_terms = len(wanted) < settings.detail_min_terms and plan.kind != "topic"
    if absent and (topic_kills or focus.origin or few_terms or any(
            n in focus.subjects or n in focus.quoted or defines_acronym(question, n)
            for n in absent)):
        return Coverage(False, [], absent_reason, absent[:3])
    # What the question is about must exist in the collection: a topic's head ("knowledge graph embeddings") or
    # the subject of "How does speculative decoding ...". A word no abstract uses means no paper is about it.
    # (Of a subject phrase only its first words: "graph neural networks cope with ..." ends in its verb.)
    # (a topic up to its first preposition: "detecting rumours | on Twitter at an early stage")
    about = _SETTING.split(topic_head(plan.topic), 1)[0] if plan.kind == "topic" and plan.topic else \
        " ".join(_head_words(focus.subject_phrase or "", judge))
    # "tokenization or byte-pair encoding", "anomaly / defect detection": one alternative the collection has is
    # enough.
    alternatives = [a for a in _ALTERNATIVES.split(about) if a.strip()] if about else []
    # (a topic's compound must be written somewhere: "physics-informed" is a field, though "physics" and
    # "information" are everywhere; in a description, "late-interaction" may be the asker's own coinage)
    # (an everyday verb or adverb no abstract uses is the asker's wording, in a topic too: "spotting", "catching")
    unknowns = [[w for w in judge.unknown_terms(a, compounds=plan.kind == "topic") if not _plain_verb(w)]
                for a in alternatives]
    unknown = unknowns[0] if unknowns and all(unknowns) else []
    if unknown:
        names = [w for w in unknown if w in focus.names]  # a name as written, else the words in quotes
        listed = " or ".join(names[:3] or [f"“{w}”" for w in unknown[:3]])
        return Coverage(False, [], f"No abstract in the collection mentions {listed}.", unknown[:3])
    min_cov = settings.topic_min_coverage if plan.kind == "topic" else settings.min_coverage
    pool = hits if plan.kind == "topic" else hits[: settings.evidence_top]
    if plan.kind == "lookup" and (thing := judge.described_subject(focus)):
        # (what a paper introduced is in its title or opening in every word: a paper on "sharpness minimization" is
        # not the origin of "sharpness-aware minimization")
        about = [h for h in pool if judge.about_phrase(h, thing) and not (
            focus.origin and content_terms(thing) - judge.central_terms(h))]
        if not about:  # "In elastic weight consolidation, how ...?"
            return Coverage(False, [], judge.name_reason(thing, focus), [thing])
        if focus.origin:  # what a paper introduced is what it is about
            pool = about
    # Names the evidence must have: what the question is about, and the names of a topic itself ("papers that use
    # BERT"). Other names are details of a description ("... rumours on Twitter"): they count as rare terms.
    head = topic_head(plan.topic) if plan.kind == "topic" and plan.topic else ""
    # The benchmark or measure a fact question names ("What perplexity does SLAB reach on WikiText-103?", "What
    # MMLU score ...?") is what it asks about: no abstract with it, no answer (a number on another benchmark is
    # not it), and only a paper that names it can state it.
    setting = _fact_setting(judge, focus, question) if plan.kind == "lookup" else []
    unmentioned = [n for n in setting
                   if not judge.papers_mentioning(n) and not any(judge.has_words(h, n) for h in pool)]
    # "... a segmentation paper that reports results on cityscapes?": a benchmark no abstract names, typed in
    # lowercase (so no name), has no results in the collection
    unmentioned += [w for w in _BENCHMARK_SLOT.findall(question) if not common_english(w) and judge.unknown_terms(w)]
    # "... what bleu on english to german?": a number asked on a setting with a word no abstract uses at all (a
    # dataset described in words is _fact_setting's)
    if focus.fact == "number" and (where := _FACT_ON.search(question)) and not re.search(
            r"\b(?:" + _DATASET_NOUN + r"|data)\s*[?.!]*\s*$", where.group(1)):
        if any(content_terms(w) and judge.unknown_terms(w) for w in where.group(1).split()):
            unmentioned.append(re.sub(r"^the\s+", "", where.group(1).strip()))
    if unmentioned:
        word = unmentioned[0] if not unmentioned[0].islower() else f"“{unmentioned[0]}”"
        return Coverage(False, [], f"No abstract in the collection mentions {word}.", unmentioned[:3])
    # A coined name the collection has, in the setting "when fine-tuning X" ("Do winning tickets exist when
    # fine-tuning BERT?"), must be in the evidence too: a paper without it is about something else.
    present = [n for n in focus.names if plan.kind == "lookup" and n not in absent and is_coined(n)
               and re.search(r"\b(?:when|while)\s+[\w-]+ing\s+(?:the\s+|an?\s+)?" + re.escape(n) + r"(?!\w)", question)
               and judge.papers_mentioning(n)]
    required = list(dict.fromkeys([*focus.subjects, *focus.quoted, *present,
                                   *(n for n in focus.names if head and n in head and not where_or_how(n))]))
    alts = ([a for a in _ALTERNATIVES.split(head) if content_terms(a)] or [head]) if head else []
    # (and the name the asker gives it after the head: "storing numbers in fewer bits, quantization, ...")
    if head and (aside := topic_aside(plan.topic or "")) and not judge.unknown_terms(aside):
        alts.append(aside)
    # "recommender systems or predicting whether a user will click on an ad": a paper covers one alternative's
    # words (and the rest of the question's), not the words of both
    wanted_ways = [wanted] if len(alts) < 2 else [
        wanted - set().union(*(content_terms(b) for b in alts if b != a)) | content_terms(a) for a in alts]
    evidence = [h for h in pool if any(judge.passes(h, focus, w, required, min_cov) for w in wanted_ways)
                and all(judge.mentions(h, n) or judge.has_words(h, n) for n in setting)]
    if head:
        # A topic is covered when at least one paper is about it (its title, opening or repeated words), not only
        # mentions it; then every paper that covers its words is listed.
        # "mamba / selective state space models": a name no abstract has, then what it is; a paper is about that only
        # if it says it in those words (a survey titled "selective" that lists state space models is not)
        named_absent = len(alts) > 1 and "/" in head and any(judge.unknown_terms(a) for a in alts)
        # "recommender systems or predicting whether a user will click on an ad": either will do, so one with a word
        # no abstract has is dropped and the other judged on its own
        alts = [a for a in alts if named_absent or not judge.unknown_terms(a)] or alts

        def about_it(h: Hit, whole: bool = False) -> bool:  # (`whole`: in every word of one alternative)
            for alt in alts:
                if named_absent and (judge.unknown_terms(alt) or not judge.mentions(h, alt)):
                    continue
                if whole and not content_terms(alt) <= judge.paper_terms(h):
                    continue
                alt_terms = content_terms(alt)
                # (the rarest of its capitalised words if it has some the collection uses: "Matryoshka-style nested
                # embeddings" is about Matryoshka embeddings, though "nested" is rarer)
                named = {t for t in content_terms(" ".join(w for w in alt.split() if w[:1].isupper()))
                         if judge.state.doc_freq.get(t, 0)}
                # (else of its technical words: "treat llms like neurons" is about LLMs, though "treat" is rarer)
                technical = {t for t in content_terms(" ".join(w for w in alt.split() if not common_english(w)))
                             if judge.state.doc_freq.get(t, 0)}
                rarest = judge.rarest(named or technical or alt_terms)
                if judge.centrality(h, alt_terms) >= min_cov and (not rarest or rarest & judge.central_terms(h)):
                    return True
            return False

        # (a paper about the topic's head or its other name, in all its words, is on the topic, whatever the asker adds
        # after it in words the collection knows: "diffusion models, the image generators that start from static and
        # clean it up bit by bit"; not "..., such as Tacotron or WaveNet", examples no abstract has)
        added = (plan.topic or "")[len(head):]
        if content_terms(head) < content_terms(plan.topic or "") and not any(
                not common_english(w) for w in judge.unknown_terms(added)):
            extra = {h.paper_id for h in pool if h not in evidence and about_it(h, whole=True)
                     and judge.name_problem(h, focus, required) is None}
            evidence = [h for h in pool if h in evidence or h.paper_id in extra]
        # A paper whose own name the question uses outside the topic itself ("... add the PDE residual ...") is
        # listed only if it is about the topic: a shared acronym is not a shared subject.
        kept = [h for h in evidence if not h.named_as or about_it(h)
                or count_sequence(name_tokens(head), name_tokens(h.named_as)) > 0]
        if evidence and not kept:
            return Coverage(False, [], f"No paper in the collection is about {head.strip()}.", [head.strip()])
        evidence = kept
        head_terms = content_terms(head)
        # (the rarest word some abstract has: in "alphafold / protein structure prediction" that is "protein")
        rarest = max((t for t in head_terms if judge.state.doc_freq.get(t, 0)) or head_terms,
                     key=lambda t: (judge.idf(t), t),
                     default=None)
        if evidence and not any(h.named_as or about_it(h) for h in evidence):
            word = next((w for w in words_of(head) if rarest in content_terms(w)), rarest)
            mentioning = [h.title for h in evidence if rarest in judge.paper_terms(h)][:MAX_LISTED]
            where = (" (" + "; ".join(f"“{t}”" for t in mentioning) + ")") if mentioning else ""
            return Coverage(False, [], f"No paper in the collection is about {head.strip()}; “{word}” appears only "
                            f"in passing{where}.", [head.strip()])
    if absent:  # the rest of the question must be well covered to be answered without the name
        evidence = [h for h in evidence if judge.term_coverage(h, wanted) >= settings.partial_min_coverage]
    if evidence and absent:
        return Coverage(True, evidence, f"{absent_reason} The answer draws on the papers that match the rest of the "
                        "question.", absent[:3], partial=True)
    if evidence and focus.fact and plan.kind == "lookup":
        # "gpipe - how many micro-batches?": the paper is there, but no sentence of it gives that number
        # (the paper's own names and title words say which paper, not what is measured: "nasnet search cost")
        # (a dataset must be named other than as the paper the question names: "one public dataset ... DTRN")
        def own(h: Hit) -> list[str]:
            aliases = judge.state.names.names.get(h.paper_id, ()) if focus.fact == "number" else [h.named_as or h.title]
            return [*focus.subjects, h.title, *aliases]

        stating = [h for h in evidence if states_asked(judge.abstract(h), question, focus.fact, own(h))]
        # a paper the question names that does not state it is what was asked about: others' numbers are not it
        named = [h for h in evidence if h.named_as or any(judge.titled(h, n) for n in focus.names)]
        if not stating or (named and not any(h in stating for h in named)):
            return Coverage(False, [], f"The abstract of “{(named or evidence)[0].title}” does not state "
                            f"{FACT_WORDS[focus.fact]}.", sorted(asked_terms(question, focus.subjects))[:3])
        evidence = stating
    if evidence and plan.kind == "lookup" and (choice := _CHOICE.search(question)) and all(
            content_terms(w) for w in choice.groups()) and not any(
            content_terms(w) & judge.paper_terms(evidence[0]) for w in choice.groups()):
        return Coverage(False, [], f"The abstract of “{evidence[0].title}” does not say which: {choice.group(1)} "
                        f"or {choice.group(2)}.", list(choice.groups()))
    if evidence:
        return Coverage(True, evidence)
    if absent:
        return Coverage(False, [], absent_reason, absent[:3])
    # Why not: a name first (the clearest reason), else the topic's rare terms.
    about_subject = [h for h in pool if judge.name_problem(h, focus, focus.subjects) is None] \
        if setting and focus.subjects else []
    if about_subject and (lacks := next((n for n in setting if not judge.mentions(about_subject[0], n)), None)):
        return Coverage(False, [], f"“{about_subject[0].title}” is about {focus.subjects[0]}, but its abstract "
                        f"does not mention {lacks}.", [lacks])
    for name in required:
        if all(judge.name_problem(h, focus, [name]) == name for h in pool):
            return Coverage(False, [], judge.name_reason(name, focus), [name])
    if head and pool and any(h.named_as for h in pool):  # found only by a name shared with something else
        return Coverage(False, [], f"No paper in the collection is about {head.strip()}.", [head.strip()])
    if setting and focus.fact and (lacks := next((n for n in setting if not any(judge.mentions(h, n) for h in pool)),
                                                  None)):  # "What parameter count ... for GPT-4?"
        return Coverage(False, [], f"None of the closest abstracts states {FACT_WORDS[focus.fact]} for {lacks}.",
                        [lacks])
    reason, missing = judge.terms_reason(plan.topic or question, wanted, pool)
    return Coverage(False, [], reason, missing)


def _head_words(phrase: str, judge: Judge) -> list[str]:
    """The words a subject phrase is about: its first ones, past everyday adverbs and the everyday verbs no abstract
    uses ("automatically catching faked | face videos", "robots grabbing | see-through objects"): a plain verb the
    collection never uses is the asker's wording, not a sign that what it acts on is absent (an adjective is part
    of the thing: "speculative decoding")."""
    kept = [w for w in phrase.split() if not (_plain_verb(w) and (w.endswith("ly") or judge.unknown_terms(w)))]
    return kept[:SUBJECT_HEAD_WORDS]


def _plain_verb(word: str) -> bool:
    """An everyday verb form or adverb ("catching", "faked", "automatically")."""
    return bool(re.fullmatch(r"[a-z]+(?:ly|ing|ed)", word)) and common_english(word)


def _fact_setting(judge: Judge, focus: Focus, question: str) -> list[str]:
    """What a fact question's number is measured on: names in its cue ("What MMLU score") or after "on / in"
    ("... on WMT'14 English-to-German?"), a compound in a terse cue ("sudoku-extreme accuracy?", not "en-fr" nor
    "per-case", which says how it is counted), and the rarest word of a dataset described in words ("... on the
    left atrium segmentation dataset?")."""
    cue = fact_cue(question) if focus.fact else ""
    if not cue:
        return []
    # (and what it is a number of: "What parameter count does the collection give for GPT-4?")
    setting = [n for n in focus.names if n in cue or re.search(
        r"\b(?:on|in|for)\s+(?:the\s+|an?\s+)?" + re.escape(n) + r"(?!\w)", question)]
    setting += [w for w in re.findall(r"(?<![\w-])[a-z]{3,}(?:-[a-z]{3,})+(?![\w-])", cue)
                if w.split("-")[0] not in _COUNTED_AS]
    for m in _DESCRIBED_DATASET.finditer(question):
        named = [w for w in m.group(1).split() if content_terms(w)]
        if named and not any(n in m.group(1) for n in setting):
            setting.append(max(named, key=lambda w: max(judge.state.idf(t) for t in content_terms(w))))
    return setting


def _comparison(judge: Judge, focus: Focus, plan: QueryPlan, hits: Sequence[Hit], settings: Settings) -> Coverage:
    """Each side must have its own paper: the side's hit must contain the side's names (as subjects) and enough
    of the side's terms."""
    evidence: list[Hit] = []
    missing: list[str] = []
    reasons: list[str] = []
    absent_sides: list[str] = []
    unknown_sides: list[str] = []  # sides whose head word no abstract uses ("mamba selective ssm")
    for side in plan.sides:
        side_hits = [h for h in hits if h.side == side.label]
        # A side that opens the question ("Winning tickets vs. ...") has a capital because the sentence starts there.
        opens = plan.query.lstrip(" \"'“‘").startswith(side.label)
        side_focus = focus_of(restore_case(side.label, judge.state.case_forms), mid_sentence=not opens)
        # The name a side opens with is what it is about ("MgNO", "the LSTM encoder-decoder approach"); other names
        # in a described side are details.
        label = _SIDE_QUALIFIER.sub("", side.label).lstrip("'‘\"“")  # "the plain LSTM seq2seq model" opens with LSTM
        names = [n for n in side_focus.names if label.lower().startswith(n.lower())][:1]
        if names and judge.absent(names[0]):  # "TabPFN performance on small tabular data": no abstract has it
            absent_sides.append(side.label)
            missing.append(side.label)
            reasons.append(f"No abstract in the collection mentions {names[0]}.")
            continue
        if names and len(content_terms(label[len(names[0]):])) > SIDE_NAME_WORDS:
            names = []  # a description that starts with a name ("the LSTM encoder-decoder approach to ...")
        # (a side that opens with a name is held to its words the collection uses: in "the plain LSTM seq2seq model"
        # the name says which paper, "plain" and the asker's "seq2seq" are no words its abstract must share)
        wanted = {t for t in content_terms(label) if judge.state.doc_freq.get(t, 0)} if names else set(side_focus.terms)
        # (a side with a name, "GPipe's synchronous pipelining", is about the name, which the checks below look for)
        unknown = [] if side_focus.names else judge.unknown_terms(" ".join(label.split()[:SUBJECT_HEAD_WORDS]))
        if unknown:  # what the side is ("capsule networks with ...") is a word no abstract uses
            unknown_sides.append(side.label)
            missing.append(side.label)
            word = next((w for w in unknown if w in side_focus.names), f"“{unknown[0]}”")
            reasons.append(f"No abstract in the collection mentions {word}.")
            continue
        ok = [h for h in side_hits if judge.passes(h, side_focus, wanted, names, settings.min_coverage, side=True)]
        # "the Tensor Programs feature-learning paper": a paper that mentions the name and is about the rest
        rest = content_terms(label[len(names[0]):]) if names else set()
        ok = ok or [h for h in side_hits if rest and judge.mentions(h, names[0])
                    and judge.centrality(h, rest) >= settings.partial_min_coverage]
        if ok:
            evidence.append(ok[0])
            continue
        missing.append(side.label)
        named = next((n for n in names if all(judge.name_problem(h, side_focus, [n], side=True)
                                              for h in side_hits)), None)
        reasons.append(judge.name_reason(named, side_focus) if named else
                       f"No paper in the collection matches “{side.label}”.")
    if not missing:
        return Coverage(True, evidence)
    # Half a comparison is worth answering only when the sides found are clearly there: a side's name is the
    # paper's own or in its title (not only central to it), or the side is a description the paper covers well.
    def strong(h: Hit) -> bool:
        f = focus_of(h.side or "", mid_sentence=not plan.query.lstrip(" \"'“‘").startswith(h.side or ""))
        if f.names:  # (or a central name the paper is about as described: "the LSTM sequence-to-sequence result")
            return judge.titled(h, f.names[0]) or (judge.central(h, f.names[0]) and judge.centrality(
                h, set(f.terms)) >= settings.partial_min_coverage)
        return h.named_as is not None or judge.centrality(h, set(f.terms)) >= settings.partial_min_coverage

    strong_sides = [h for h in evidence if strong(h)]
    # "How does Mamba's throughput compare with transformers at long context?": the question is about the thing
    # no abstract has; a general class on the other side is no half of it
    first = re.sub(r"^(?:the|an?)\s+", "", plan.sides[0].label, flags=re.I)
    lead = [n for n in focus_of(restore_case(first, judge.state.case_forms), mid_sentence=True).names
            if first.lower().startswith(n.lower())][:1]
    first_label = plan.sides[0].label
    about_absent = first_label in missing and (first_label in unknown_sides or bool(lead) and (
        first_label in absent_sides or not judge.papers_mentioning(lead[0]))) and not any(
        (h.side or "").lower().startswith(n.lower()) for h in evidence
        for n in focus_of(h.side or "", mid_sentence=True).names)  # (a name the side opens with, not a detail of it)
    if len(strong_sides) < len(evidence) or not evidence or about_absent:
        return Coverage(False, [], " ".join(reasons), missing)
    answered = ", ".join(f"“{h.side}”" for h in evidence)
    return Coverage(True, evidence, f"Only part of the comparison is covered: {' '.join(reasons)} "
                    f"The answer covers {answered} only.", missing, partial=True)
