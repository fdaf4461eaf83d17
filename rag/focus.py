"""What a question is about, read from its words alone (pure): the names it mentions ("AlphaFold", "GPT-4",
"Stable Diffusion", a quoted title), which of them are its subject ("How was GPT-4 trained?"), whether it asks
for the paper that introduced something, whether it asks for a specific fact (a dataset, a number), and its
content terms. `coverage` checks these against the evidence."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import AMOUNT, MEASURE_NAMES, content_terms, find_names, quoted_names, split_sentences

# Names after these are examples ("such as Informer or PatchTST"): not required of the evidence.
_EXAMPLES = re.compile(r"\b(?:e\.g\.|for\s+example|for\s+instance|such\s+as|like|including)\s", re.I)
# "..., i.e. Switch Transformer?", "namely X": the name of what the question describes, so what it is about
_NAMELY = r"(?:\bi\.e\.|\bnamely|\bthat\s+is|\ba\.k\.a\.|\baka)\s*,?\s*(?:the\s+)?"
# what "who first discovered" names: "... neural collapse, was it ...?"
_ORIGIN_OBJECT = re.compile(r"\s+(?:the\s+)?((?:[\w'-]+\s+){0,4}?[\w'-]+)\s*"
                            r"(?=[,?.;:]|\s+(?:was|were|in|by|and|first)\b|$)")
# A thing named before a colon, then a question about "it": the thing is what the question is about
_NAMED_LEAD = re.compile(r"^\s*([^:?]{3,100}?):\s+(?:how|what|why|does|do|did|is|are|was|can|could|has)\b[^?]*"
                         r"\b(?:it|its|it's|this|they|their)\b", re.I)
_CLAUSE_END = re.compile(r"[;?!)]|,\s+(?:and|but|or)\s|\s(?:and|or)\s+(?:how|what|which|why|does|do|is|are)\b", re.I)
# Asks for the paper that introduced something: then that thing must be a paper's own name or in its title.
_ORIGIN = re.compile(r"\b(?:introduc|propos|invent|originat|"
                     r"first (?:describ|present|propos|introduc|discover|observ|report)|"
                     r"coin)\w*\b|\b(?:came|come|coming|comes)\s+up\s+with\b|"
                     # "the original GAN one", "the original SAM from Foret et al.", "which paper is the original X?"
                     r"\boriginal\b(?=\s+(?:[\w'-]+\s+){0,5}(?:paper|work|article|publication|one|from|by)\b)|"
                     r"\b(?:is|was|are)\s+the\s+original\b(?=\s+(?:[\w'-]+\s+){0,5}[\w'-]+\s*[?.!]*\s*$)|"
                     # "Is the LoRA paper (itself) in the collection?", "Does it contain the Tensor Programs V paper"
                     r"\b(?:is|are|has|have|contains?|includes?)\s+the\b(?=\s+(?:[\w.^/&-]+\s+){1,5}"
                     r"(?:paper|article|publication)\b(?!\s+(?:say|says|said|show|shows|find|finds|report|reports|"
                     r"claim|claims|use|uses|propose|proposes)\b))", re.I)
_ORIGINAL_THING = re.compile(r"\bthe\s+original\s+([a-z][\w-]{2,})\s+(?:paper|one|work|article)\b", re.I)
_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:(?:what|who)\s+(?:is|are|was|were|does|do|did)|how\s+(?:does|do|did|is|are|was|were|can|could|would|has|have)|"
    r"(?:what|which|how\s+many|how\s+much)(?:\s+[\w-]+){1,8}?\s+(?:does|do|did|is|are|was|were|has|have)|"
    r"(?:tell\s+me\s+about|explain|describe|summari[sz]e)|"
    r"(?:which|what)\s+(?:papers?|works?|study|studies|articles?)\s+(?:first\s+)?"
    r"(?:introduc|propos|present|invent)(?:ed|es|e|ing)|"
    r"(?:is|are)\s+there\s+(?:an?\s+|any\s+)?(?:papers?|works?|study|studies|research|articles?|results?|"
    r"experiments?|evaluations?|anything)\s+"
    r"(?:(?:here|in\s+the\s+collection)\s+)?"
    r"(?:on|about|into|regarding)|"
    r"(?:is|are)\s+there\s+(?:any\s+)?evidence\s+(?:(?:here|in\s+here|in\s+the\s+collection)\s+)?(?:that|of|for|on|about)|"
    # "Does the collection include the Lion optimizer ...?": whether it has the thing
    r"(?:does|do)\s+(?:the|this)\s+collection\s+(?:include|contain|have|cover|hold))"
    r"\s+(?:(?:the|an?|original|first|new|proposed)\s+)*", re.I)
# "Can SparseGPT prune ...?", "does chain-of-thought prompting help ...?": the subject follows the auxiliary
_YES_NO = re.compile(r"^\s*(?:can|could|does|do|did|is|are|was|were|will|would|has|have)\s+"
                     r"(?!(?:there|any|anyone|anybody|someone|somebody|people|researchers|authors|papers?|works?|it|its|they|"
                     r"their|this|that|these|those|you|we|i|one|such)\b)"
                     r"(?:(?:the|an?)\s+)?", re.I)
# A question that opens like a question (not a bare phrase); its subject, if any, is found by the patterns above
_ASKS = re.compile(r"^\s*(?:what|which|who|whom|whose|how|why|where|when|is|are|was|were|can|could|does|do|did|"
                   r"will|would|should|has|have|tell|explain|describe|summari[sz]e|list|find|show|give|compare|"
                   r"contrast|papers?|works?|any|anything|i|we|please|in|on|for|among|from|according|besides|both|"
                   r"one|the\s+(?:paper|work|study|first|other))\b", re.I)
# "In elastic weight consolidation, how is ...?": the question is about what its opening names
_IN_LEAD = re.compile(r"^\s*(?:in|for)\s+(?:the\s+|an?\s+)?(?P<x>[^,]{3,60}?),\s+(?:how|what|which|why|where|when|does|"
                      r"do|did|is|are|can)\b", re.I)
IN_LEAD_WORDS = 4  # "In the LSTM encoder-decoder work on WMT'14 ..., what ...": a longer opening describes a paper
_CHAT_OPENING = re.compile(r"^\s*(?:(?:btw|ok|okay|so|hey|hi|oh|also|anyway|fyi)\b[\s,.!:]*)+", re.I)
_CHAT_CONTRACTION = re.compile(r"\b(what|how|who|where|when|why)s\b", re.I)
_TERSE_SPLIT = re.compile(r"\s+[—–-]{1,2}\s+|:\s+")
TERSE_HEAD_WORDS = 8  # "<what it is about> — <a question>": a longer opening is a question of its own
# words of a lead-in before a dash or colon ("ok, different question:"), not of what the question is about
_LEAD_IN_WORDS = {"ok", "okay", "so", "now", "next", "then", "also", "and", "another", "other", "different", "new",
                  "something", "else", "question", "topic", "unrelated", "switching", "gears", "changing", "subject",
                  "btw", "by", "the", "way", "one", "more", "thing", "quick", "last", "follow", "up", "separately"}
# The end of a subject phrase: the verb or preposition after it ("speculative decoding | with a draft model").
_SUBJECT_END = re.compile(r"\s(?:does|do|did|is|are|was|were|can|could|would|has|have|with|in|on|for|to|from|by|"
                          r"of|and|or|that|which|when|where|after|before|compared?|work|achieve|reach|report|use|"
                          r"perform|train|speed|improve|handle)\b|[,?;:(]", re.I)
_SIZE = re.compile(r"^[\d.]+[kmbt]?-(?:parameters?|params?|layers?|billion|million)$", re.I)  # "1.5B-parameter"
MODIFIERS_BEFORE_NAME = 2
_ACTION = re.compile(r"[a-z]{2}(?:ing|ly)$", re.I)  # "swapping", "progressively"
_FUNCTION_WORDS = {"over", "than", "versus", "vs", "vs.", "against", "like", "as", "at", "via", "using", "under"}
_GENERIC_HEAD = re.compile(r"(?:model|architecture|network|optimi[sz]er|method|system|algorithm|framework|approach|"
                           r"paper|variant|family)s?$", re.I)
_ASKS_PAPER = re.compile(r"^\s*(?:which|what)\s+(?:paper|work|study|article)\s+(?:is\s+)?(?!(?:reports?|gives?|states?|"
                         r"says?|lists?|reaches|achieves|gets)\b)[a-z]+\b", re.I)
_FACT_AFTER_PAPER = re.compile(r",\s*(?:and\s+)?(?:how|what|which)\b|\band\s+(?:how\s+many|how\s+much|what)\b", re.I)
_LEADING_AMOUNT = re.compile(r"^\d+(?:\.\d+)?[kmbt]\s+(?=\S)", re.I)
FACT_CUES = {
    "dataset": re.compile(r"\b(?:which|what)\s+(?:[\w-]+\s+){0,2}(?:datasets?|benchmarks?|corpus|corpora|data)\b",
                          re.I),
    # (not after a verb that makes it a description: "counting how many linear pieces ... is intractable")
    "number": re.compile(r"\b(?<!counting\s)(?<!estimating\s)(?<!predicting\s)(?<!measuring\s)(?<!computing\s)"
                         r"(?<!determining\s)(?<!deciding\s)(?<!learning\s)(?<!choosing\s)"
                         r"(?:how\s+(?:many|much|fast|large|big|small|long)|(?:what|which)(?:['’]s)?\s+(?:[\w'’]+\s+){0,2}"
                         r"(?:accuracy|score|error|speed-?up|size|percentage|rate|number|count|dice|"
                         r"perplexity|throughput|latency|recall|precision|" + "|".join(MEASURE_NAMES) +
                         r")|by\s+how\s+much|top-?1|\b(?:as\s+a|in)\s+percent(?:age)?\b|\b(?:the|its|their)\s+(?:[\w-]+\s+){0,2}(?:count|tally)\b|"
                         # "Does any paper report a BLEU score for ...?"
                         r"\breports?\s+(?:an?|the|any)\s+(?:[\w'-]+\s+){0,2}(?:score|accuracy|error|perplexity)\b|"
                         # "what did HRM score on ARC-AGI-1?", "what does SLAB get on ImageNet?"
                         r"what\s+(?:did|does|do)\s+(?:\S+\s+){1,4}?(?:score|reach|get|obtain)\s+on)\b", re.I),
}


# A terse phrase that names a measure asks for its number: "nasnet search cost in gpu days?", "DIN AUC gain on
# amazon data?" (a question that opens like one says so with "what ..." / "how many ..." above)
# (with the two words before the measure, which name what it is measured on: "zero-shot imagenet acc?")
_TERSE_NUMBER = re.compile(r"\b(?:gpu|tpu)[-\s]?(?:days|hours)\b|"
                           r"\b(?:score|number|value|figure)s?(?=\s*\??\s*$)|"  # "mixtral mmlu score exact number"
                           r"(?:[\w-]+\s+){0,2}?\b(?:auc|bleu|perplexity|top-?[15]|map|f1|acc|accuracy|error(?:\s+rate)?)"
                           r"(?:\s+(?:gain|improvement|score|accuracy|error(?:\s+rate)?))?"
                           r"(?=\s*(?:\?|$|on\b|in\b|for\b|vs\b))", re.I)


def fact_cue(question: str) -> str:
    """The words that ask for the fact ("What MMLU score", "how many tokens"), or "" when none do."""
    for cue in (*FACT_CUES.values(), _TERSE_NUMBER):
        if m := cue.search(question):
            return m.group(0)
    return ""


@dataclass(frozen=True)
class Focus:
    names: tuple[str, ...]  # as written in the question, in order; examples ("such as X") left out
    subjects: tuple[str, ...]  # the names the question is about (not details of a description)
    quoted: tuple[str, ...]  # quoted titles and phrases: the evidence must contain them
    subject_phrase: str | None  # the words the question is about, when it opens with "How does ...", "What is ..."
    terms: frozenset[str]  # content terms (stems) of the question, names' terms included
    origin: bool  # "which paper introduced X?": X must be a paper's own name or in its title
    fact: str | None  # "dataset" | "number" when the question asks for one specific fact
    bare: bool = False  # a bare phrase ("student-t processes from wide nets ..."): its subject is a description


def examples(question: str, names: list[str]) -> set[str]:
    """The names given as examples ("such as X or Y", "e.g. X"), up to the end of that clause."""
    out: set[str] = set()
    for m in _EXAMPLES.finditer(question):
        end = _CLAUSE_END.search(question, m.end())
        span = question[m.end(): end.start() if end else len(question)]
        out.update(n for n in names if n in span)
    return out


def _without_chat(question: str) -> str:
    """Chat shorthand undone: "btw whats that paper about ..." asks "what is that paper about ..."."""
    return _CHAT_CONTRACTION.sub(r"\1 is", _CHAT_OPENING.sub("", question))


def is_bare(question: str) -> bool:
    """A phrase with no opening that says what it asks ("How does", "In X,", "X — ...", "Can X ...")."""
    q = _without_chat(question)
    return not (_IN_LEAD.match(q) or _SUBJECT_PREFIX.match(q) or _YES_NO.match(q) or _TERSE_SPLIT.search(q)
                or _ASKS.match(q))


def subject_phrase(question: str) -> str | None:
    """The words right after an opening like "How does", "What accuracy does", "Tell me about": what the
    question is about ("speculative decoding", "the LAMB optimizer"), or None."""
    question = _without_chat(question)
    lead = _IN_LEAD.match(question)
    if lead and len(lead.group("x").split()) <= IN_LEAD_WORDS:
        return lead.group("x").strip()
    m = _SUBJECT_PREFIX.match(question) or _YES_NO.match(question)
    if m:
        rest = question[m.end():]
    else:
        # Terse forms: "FedAvg convergence on non-IID data — is there anything on that?", "membership inference
        # attacks: can an adversary tell ...?", or a bare phrase ("K-FAC curvature for natural gradient training").
        split = _TERSE_SPLIT.search(question)
        head = question[: split.start()] if split else question
        if split and set(re.findall(r"[a-z]+", head.lower())) <= _LEAD_IN_WORDS:  # "ok now something else: ..."
            return subject_phrase(question[split.end():])
        if _ASKS.match(head) or (split and len(head.split()) > TERSE_HEAD_WORDS) or (
                not split and len(split_sentences(question)) > 1):  # "A and B both use X. How do they differ?"
            return None
        rest = head
    if re.match(r"(?:i|we|you|one)\s", rest, re.I):
        return None  # "How do I pick the best model ...?" is about what is picked, not the one who picks
    end = _SUBJECT_END.search(rest)
    phrase = rest[: end.start()] if end else rest
    return phrase.strip() or None


def _modifier(word: str) -> bool:
    """"ColBERT-style", "BERT-based": a word that makes what follows a kind of something (a size is not one)."""
    return bool(re.search(r"-[a-z]+$", word.replace("'s", ""))) and not _SIZE.match(word)


def subjects(phrase: str | None, names: list[str]) -> list[str]:
    """The name that opens the subject phrase (the question is about it), unless it only modifies the phrase
    ("ColBERT-style search" is about a kind of search)."""
    if not phrase or _modifier(phrase.split()[0]):
        return []
    opening = [n for n in names if phrase.startswith(n) or phrase.lower().startswith(n.lower())][:1]
    if opening:
        return opening
    # A name after a size or an adjective is still what the phrase is about: "the 1.5B-parameter GPT-2 model",
    # "the original Transformer model" (not after "-style"/"-based" words, which the name only modifies).
    # Only when the name heads the phrase, alone or before a generic noun: in "the multilayer LSTM encoder-decoder"
    # LSTM describes what the question is about.
    words = phrase.split()
    for n in names:
        at = next((i for i in range(1, MODIFIERS_BEFORE_NAME + 1) if " ".join(words[i:]).startswith(n)), None)
        # (not after a verb or an adverb: in "progressively swapping LayerNorm for ..." it is what is acted on)
        if at is not None and not any(_modifier(w) or w.lower() in _FUNCTION_WORDS or _ACTION.search(w)
                                      for w in words[:at]):
            after = words[at + len(n.split()):]
            if not after or _GENERIC_HEAD.match(after[0]):
                return [n]
    return []


def focus_of(question: str, mid_sentence: bool = False) -> Focus:
    """`mid_sentence`: `question` is a part of one (a compared side), so a capitalised first word is a name."""
    # "the 7B-parameter Mixtral model" is found as "7B Mixtral": the size is not part of the name
    found = list(dict.fromkeys(_LEADING_AMOUNT.sub("", n) for n in find_names(question, mid_sentence)))
    given = examples(question, found)
    names = [n for n in found if n not in given and not AMOUNT.fullmatch(n)]  # "7M param model": 7M is a size
    cue = _ORIGIN.search(question)
    origin = cue is not None
    phrase = subject_phrase(question)
    if cue is not None and phrase is None and (what := _ORIGIN_OBJECT.match(question, cue.end())):
        phrase = what.group(1)  # "who first discovered neural collapse, was it ...?": what was introduced
    subj = subjects(phrase, names)
    subj += [n for n in names if n not in subj and re.search(_NAMELY + re.escape(n), question, re.I)]
    if not subj and (lead := _NAMED_LEAD.match(question)):  # "The Lion optimizer ...: how does it do vs AdamW?"
        subj = [n for n in names if n in lead.group(1)][:1]
    if cue is not None and not subj:
        # what is introduced is named right after the verb ("..., also introducing ScheduledDropPath"), else first
        after = [n for n in names if (at := question.find(n, cue.end())) >= 0
                 and len(question[cue.end(): at].split()) <= 3]
        # else the name before the verb ("In which paper was ResNet proposed?"); a name far after it is a detail of
        # what was introduced ("the work that proposes drawing a random subset ... on ImageNet")
        before = [n for n in names if 0 <= question.find(n) < cue.start()]
        subj = after[:1] or before[-1:]
        # "Is the original dropout paper in this collection?": the word between is the name, in any case
        if not names and (thing := _ORIGINAL_THING.search(question)):
            names, subj = [thing.group(1)], [thing.group(1)]
    # (a question for a paper names what it measures as a description: "Which paper trains networks in a random
    # subspace ... to measure how many parameters are needed?")
    asks_paper = _ASKS_PAPER.match(question) and not _FACT_AFTER_PAPER.search(question)
    fact = None if asks_paper else next((kind for kind, cue in FACT_CUES.items() if cue.search(question)), None) or (
        "number" if not _ASKS.match(question) and _TERSE_NUMBER.search(question) else None)
    quoted = tuple(n for n in quoted_names(question) if n in names)
    return Focus(tuple(names), tuple(subj), quoted, phrase, frozenset(content_terms(question)),
                 origin, fact, is_bare(question))
