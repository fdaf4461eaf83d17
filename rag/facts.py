"""Does an abstract state the one fact a question asks for ("What perplexity does SLAB reach on WikiText-103?")?
A sentence states a number when it has a digit, and a dataset when it names one; for a number it must also
share a word with what the question asks about (beyond the paper's own name and the verbs every result sentence
has): "SLAB-Swin obtains 83.6% top-1 accuracy on ImageNet-1K" states a number, not the perplexity asked for.
Pure functions, used by coverage (is the question answered at all?) and the extractive answer (which sentence
comes first)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .text import MEASURE_NAMES, content_terms, find_names, split_digits, split_sentences

_NUMBER = re.compile(r"(?<![\w'’/-])\d")  # a number of its own, not one inside a name ("CIFAR-10", "WMT'14")
_CODED = r"[A-Z][\w-]*[A-Z0-9][\w-]*"  # a coined name: "MNIST", "CIFAR10", "ImageNet"
_DATASET_WORD = re.compile(r"\b(?:datasets?|benchmarks?|corpus|corpora|suite|challenge|competition)\b", re.I)
FACT_WORDS = {"number": "this number", "dataset": "the dataset or benchmark"}
# Verbs of any result sentence ("X obtains / reaches / achieves 83.6%"): sharing one says nothing of what is measured
_RESULT_VERBS = content_terms("reach reaches achieve achieves obtain obtains get gets attain attains yield yields "
                              "show shows give gives have has need needs require requires take takes score scores "
                              "perform performs")


# Named measures: a sentence gives a BLEU score only if it says BLEU (a parameter count in the same sentence is not it)
_METRIC = re.compile(r"\b(?:rouge(?:-\w+)?|" + "|".join(m for m in (*MEASURE_NAMES, "dice", "perplexity")
                                                        if m != "rouge") + r")\b", re.I)


_VALUE = re.compile(r"(?<![\w'’/.-])\d[\d,.]*(?:\s?[kmbt]\b|%|x\b|times\b)?", re.I)  # "83.6%", "1.1B", "3x"
_SIZE_VALUE = re.compile(r"[\d,.]+\s?[mbt]", re.I)  # "60M", "1.1B" parameters
_ON_NAME = re.compile(r"\b(?:on|in)\s+(?:the\s+)?(" + _CODED + ")")  # "on ImageNet", "on CIFAR-10"
# "English to German", "English-to-French", "English→German" (not "Navier-Stokes")
_PAIR = re.compile(r"\b([A-Z][a-z]{3,})(?:\s+to\s+|-to-|\s*→\s*)([A-Z][a-z]{3,})\b")
_ON_DATASET = re.compile(_ON_NAME.pattern + r"\s+(?:datasets?|benchmarks?)\b")  # "on CIFAR-10 dataset"
# a number, a magnitude word, then the next three words ("27 million parameters", "128-layer Transformer")
_COUNTED = re.compile(r"(?<![\w'’/.-])(\d[\d,.]*)[-\s]?((?:[^\s,.;:()]+\s*){0,3})")
_POINTS = {"point", "percent", "percentag"}  # stems: "how many (percentage) points"
_MAGNITUDES = {"k", "m", "b", "t", "thousand", "million", "billion", "trillion"}
# a model's version and size in its name: "Llama 2 70B", "Mixtral 8x7B"
_VERSION = re.compile(r"[1-9](?:\.\d)?")
_SIZE_NAME = re.compile(r"\d+(?:\.\d+)?[BM]|\d+x\d+[BM]")
# (not _SIZE_ASKED, which has "tokens" and "how many": "how many training tokens" asks no model's size)
_MODEL_SIZE_ASKED = re.compile(r"\b(?:parameters?|params?|size|sizes|big|bigger|large|largest|small|smallest|"
                               r"billion|million)\b", re.I)
# a measure of its own just before a number: "a context size of", "a window length of up to"
_MEASURE_OF = re.compile(r"\b(?:[a-z]+\s+)?(?:size|length|window|batch|vocabulary|dimension|width|depth|rate|"
                         r"resolution)\s+of\s+(?:up\s+to\s+|over\s+|about\s+|around\s+|only\s+)?$", re.I)
# "how many patient cases did ...": what is counted, up to two words before the verb
_HOW_MANY = re.compile(r"\bhow\s+many\s+([A-Za-z][\w-]*(?:\s+(?!(?:did|do|does|is|are|was|were|has|have|had|can|could|"
                       r"would|will|they|it|in|on|of|for|to|per|the)\b)[A-Za-z][\w-]*)?)", re.I)
_HOW_BIG = re.compile(r"\b(?:how\s+(?:big|large)\s+(?:is|are|was|were)|(?:what\s+is\s+)?the\s+size\s+of)\s+"
                      r"(?:the\s+)?([A-Za-z][\w^.-]*[A-Z0-9][\w^.-]*)")
_SIZE_ASKED = re.compile(r"\b(?:parameters?|params?|size|big|large|small|tokens?|memory|how\s+many)\b", re.I)


def _values(text: str) -> list[str]:
    return [v.rstrip(",.").replace(" ", "") for v in _VALUE.findall(re.sub(r"\(\d\)", " ", text))]


def _terms(text: str) -> set[str]:
    """Content terms, digits after letters apart ("LLMEval2" and "LLMEval^2" share "llmeval")."""
    return content_terms(split_digits(text))


def states_fact(sentence: str, fact: str) -> bool:
    """Does the sentence state a fact of this kind: a number, or a named dataset / benchmark?"""
    if fact == "number":  # not an enumeration "(1)", "1)" or a dimension "1D"
        return bool(_NUMBER.search(_without_enumeration(sentence)))
    return bool(_DATASET_WORD.search(sentence)) and bool(find_names(sentence)) or bool(
        re.search(r"\b(?:on|using|with)\s+(?:the\s+)?" + _CODED, sentence)) or bool(
        # "... architectures for MNIST and CIFAR10": a list of coined names after "for"
        re.search(r"\bfor\s+(?:the\s+)?" + _CODED + r"(?:,\s*" + _CODED + r")*,?\s+and\s+" + _CODED, sentence))


_MARKS = re.compile(r"\(\d\)|(?<![\w(.])\d\)|\b\d[Dd]\b")


def _without_enumeration(sentence: str) -> str:
    """`sentence` without enumeration marks ("(1)", "1) a search space; 2) ...") and dimensions ("1D"); a "2)" that
    closes a parenthesis ("(about 2)") is a number."""
    def drop(m: re.Match[str]) -> str:
        before = sentence[: m.start()]
        closes = m.group(0)[0] != "(" and m.group(0).endswith(")") and before.count("(") > before.count(")")
        return m.group(0) if closes else " "

    return _MARKS.sub(drop, sentence)


def _counts_other(sentence: str, counted: set[str], given: set[str], question_terms: set[str],
                  names_count: bool) -> bool:
    """Every number of the sentence (other than those the question gives) counts something other than `counted`:
    in "We train a single 128-layer Transformer on over 100 languages" the numbers are of layers and languages,
    not of accelerators, and "84.4%" or "3x" counts nothing. A number followed by no plain noun ("8 A100 GPUs"
    when GPUs are counted, a number at the end of the sentence) may be the one asked for. `names_count`: a
    number in a model's name ("Llama 2 70B") may be the answer, as when the question asks a model's size."""
    text = _without_enumeration(sentence)
    for m in _COUNTED.finditer(text):
        if m.group(1).rstrip(",.") in given:
            continue
        # "trained with a context size of 32k tokens": the number is the context size, not how many tokens of
        # training data, unless the question asks for that measure ("how many tokens of context ...?")
        if (measure := _MEASURE_OF.search(text[: m.start()])) and not _terms(measure.group(0)) & question_terms:
            continue
        # "Llama 2 70B", "Mixtral 8x7B": a model's name, unless its size is what is asked
        if not names_count and _names_version(text[: m.start()], text[m.start():]):
            continue
        words = [w for w in m.group(2).replace("-", " ").split() if w.lower() not in _MAGNITUDES]
        first = words[0] if words else ""
        if first[:1] in ("%", "×") or first.lower() in ("x", "times", "percent"):  # a share or a ratio counts nothing
            if counted & _POINTS and first[:1] == "%":  # ... but points: "improved INT2 accuracy by 3.3%p"
                return False
            continue
        if not first.isalpha() or not first.islower() or counted & _terms(" ".join(words)):
            return False
    return True


def _names_version(before: str, rest: str) -> bool:
    """The number at the start of `rest` is a model's size in its name, not a count: a size ("70B", "8x7B") right
    after a capitalised word and maybe its version, or a version followed by a size ("Llama 2 70B", "Mistral 7B");
    a value after a measure in capitals ("BLEU 34.8") or a count at the start of a sentence is not."""
    words, after = before.split(), rest.split()[:2]
    if not after:
        return False
    if _SIZE_NAME.fullmatch(after[0].rstrip(",.;:")):
        if words and _VERSION.fullmatch(words[-1]):
            words = words[:-1]
    elif not (_VERSION.fullmatch(after[0]) and len(after) > 1 and _SIZE_NAME.fullmatch(after[1].rstrip(",.;:"))):
        return False
    return len(words) >= 2 and re.fullmatch(r"[A-Z][a-z]+", words[-1]) is not None


# What a comparative asks for is measured in its nouns: "how much smaller" is stated as a size or a compression
_COMPARATIVE_MEASURES = {
    "smaller": "size compression compressed reduction parameters memory", "larger": "size parameters scale",
    "bigger": "size parameters scale", "faster": "speed speedup time latency throughput",
    "slower": "speed time latency", "cheaper": "cost compute flops", "shorter": "length time",
    "longer": "length time", "lighter": "size parameters memory flops",
}


def asked_terms(question: str, own_names: Iterable[str]) -> set[str]:
    """What a fact question asks about: its content terms without the paper's names and result verbs (with the
    measures its comparatives are stated in)."""
    terms = _terms(question) - _RESULT_VERBS - set().union(*(_terms(n) for n in own_names))
    return terms | set().union(*(_terms(m) for w, m in _COMPARATIVE_MEASURES.items() if w in terms))


def states_asked(abstract: str, question: str, fact: str, own_names: Iterable[str]) -> bool:
    """Does some sentence of `abstract` state the `fact` the question asks for? A number needs a sentence with a
    digit that shares a term with what is asked, and that names the measure asked for if the question names one
    ("How many BLEU points ..."); when nothing is left to share (only the name was asked about), any sentence
    with a number does."""
    sentences = [s for s in split_sentences(abstract) if states_fact(s, fact)]
    if fact != "number":  # a dataset has a name of its own, not the paper's ("one public dataset ... DTRN")
        own = {n.lower() for n in own_names}
        return any(any(n.lower() not in own for n in find_names(s)) for s in sentences)
    asked = asked_terms(question, own_names)
    if sized := _HOW_BIG.search(question):  # "how big is LLMEval2?": the size of that name, the paper's own or not
        asked = _terms(sized.group(1))
    metrics = {m.lower() for m in _METRIC.findall(question)}
    given = set(_values(question))
    # "... on ImageNet?" is not stated by "we achieve 2.69 FID ... on CIFAR-10 dataset": that number is of another
    # benchmark (a sentence that names none is judged by its words, as before)
    where = [m.group(1).lower() for m in _ON_NAME.finditer(question)]

    def elsewhere(s: str) -> bool:
        return bool(where) and bool(_ON_DATASET.search(s)) and not any(w in s.lower() for w in where)

    # "... on the WMT'14 English to German task?" is not stated by a BLEU score "on an English to French
    # translation task": when the abstract names language pairs and not the one asked, its numbers are of those
    pairs = {(a.lower(), b.lower()) for a, b in _PAIR.findall(question)}
    named_pairs = {(a.lower(), b.lower()) for a, b in _PAIR.findall(abstract)}
    if pairs and named_pairs and not named_pairs & pairs:
        return False
    sentences = [s for s in sentences if not elsewhere(s)]
    if re.search(r"\bpercent(?:age)?\b", question, re.I):  # "..., as a percentage?": a share, written as one
        sentences = [s for s in sentences if re.search(r"%|\bpercent", s)]
    # "How many accelerators ...?" is counted in accelerators: a sentence with a number of layers or languages is
    # not the answer ("128-layer" counts layers; the counted noun is matched by its stem)
    if (many := _HOW_MANY.search(question)) and (counted := _terms(many.group(1)) - _terms(" ".join(own_names))):
        question_terms, names_count = _terms(question), bool(_MODEL_SIZE_ASKED.search(question))
        sentences = [s for s in sentences if not _counts_other(s, counted, given, question_terms, names_count)]
    # the number is one the question does not give itself ("... for the 1.1B Llama model?"), and not a model size
    # unless a size is asked
    sizes_asked = bool(_SIZE_ASKED.search(question))
    return any((not asked or asked & _terms(s)) and (not metrics or metrics & {m.lower() for m in _METRIC.findall(s)})
               and any(v not in given and (sizes_asked or not _SIZE_VALUE.fullmatch(v)) for v in _values(s))
               for s in sentences)
