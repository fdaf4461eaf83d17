"""How a question is typed against how the collection writes it (pure): names typed in lowercase that the
collection writes as coined names ("alexnet" → "AlexNet"), slips of the commonest words ("teh"), and both
spellings of a prefixed word ("pre-trained" / "pretrained"). Written by hand: these rules depend on the
collection's own spellings, which no spelling library knows."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from bm25s.stopwords import STOPWORDS_EN

from .text import (
    CONTENT_STOPWORDS,
    WRITTEN_WORD,
    common_english,
    defines_acronym,
    is_coined,
    known_word,
    light,
    singular,
    stem,
)

# A coined name the collection writes in capitals but a question may type in lowercase ("alexnet", "bert"): the
# share of its occurrences the collection itself writes in lowercase ("bert-large-uncased") stays below this.
MAX_LOWERCASE_SHARE = 0.25
# "llama 2" typed for "Llama 2": a capitalised word and a version or size, written so at least this often
MIN_VERSIONED_USES = 2
_VERSIONED = re.compile(r"(?<![\w.-])([A-Za-z][a-z]{2,})\s(\d[\w.]*)(?<!\.)(?![\w-])")  # as written, any case
_NUMBERED_NOUNS = {"table", "figure", "section", "appendix", "chapter", "step", "stage", "phase", "level", "type",
                   "version", "round", "task", "experiment", "theorem", "lemma", "equation", "eq", "fig", "part"}


def case_forms(texts: Iterable[str]) -> dict[str, str]:
    """Lowercase word → how the collection writes it, for coined names it (almost) never writes in lowercase:
    "alexnet" → "AlexNet", "nasnet" → "NASNet", and a name with its version ("llama 2" → "Llama 2"). Words it
    also writes in lowercase ("clip", also "CLIP") and English words ("arm", also "ARM") are left out."""
    seen: dict[str, Counter[str]] = {}
    texts = list(texts)
    for text in texts:
        for m in WRITTEN_WORD.finditer(text):
            for part in re.sub(r"['’]s$", "", m.group(0)).split("-"):
                if sum(c.isalpha() for c in part) >= 3:
                    seen.setdefault(part.lower(), Counter())[part] += 1
    for text in texts:
        for m in _VERSIONED.finditer(text):  # "Llama 2", "Mistral 7B": a name with its version or size
            if m.group(1).lower() not in _NUMBERED_NOUNS:
                seen.setdefault(m.group(0).lower(), Counter())[m.group(0)] += 1
    out = {}
    for low, forms in seen.items():
        if " " in low:
            uses = sum(forms.values())
            if uses >= MIN_VERSIONED_USES and forms.get(low, 0) < MAX_LOWERCASE_SHARE * uses:
                out[low] = forms.most_common(1)[0][0]
            continue
        total = sum(forms.values())
        best, _ = forms.most_common(1)[0]
        # an English word ("arm", "talent") stays a word unless its name is unmistakable ("RoBERTa", "MoE")
        mixed = any(c.isupper() for c in best[1:]) and any(c.islower() for c in best)
        if forms.get(low, 0) < MAX_LOWERCASE_SHARE * total and is_coined(best) and (mixed or not common_english(low)):
            out[low] = best
    return out


def restore_case(text: str, forms: dict[str, str]) -> str:
    """`text` with each word typed in lowercase that the collection writes as a coined name in that name's
    spelling: "alexnet top-5 error?" → "AlexNet top-5 error?" (words with any capital are left as written)."""
    if not forms:
        return text
    text = re.sub(r"(?<![\w.-])[a-z]{3,}\s\d[\w.]*(?<!\.)(?![\w-])", lambda m: forms.get(m.group(0), m.group(0)), text)
    return re.sub(r"(?<![\w+-])[a-z][a-z0-9]*[a-z0-9](?![\w+])",  # not a part of "cnn+rnn"
                  lambda m: forms.get(m.group(0), m.group(0)), text)


MIN_PHRASE_USES = 2  # a capitalised phrase written once is no evidence of how the collection names a thing
_PHRASE_WORD = re.compile(r"[A-Za-z][a-z]+")


def phrase_forms(texts: Iterable[str]) -> dict[str, str]:
    """Lowercase two- or three-word phrase → how the collection writes it, for names of capitalised plain words
    that the collection writes capitalised at least as often as not ("vision transformer" → "Vision
    Transformer"); the plural folds into the singular. A question typed in lowercase names the same thing."""
    total: Counter[str] = Counter()
    capital: dict[str, Counter[str]] = {}
    for text in texts:
        words = _PHRASE_WORD.findall(text)
        for n in (2, 3):
            for i in range(len(words) - n + 1):
                gram = words[i:i + n]
                if any(w.lower() in STOPWORDS_EN for w in gram):
                    continue
                written = " ".join(gram[:-1] + [singular(gram[-1])])
                key = written.lower()
                total[key] += 1
                if all(w[0].isupper() for w in gram):
                    capital.setdefault(key, Counter())[written] += 1
    return {key: forms.most_common(1)[0][0] for key, forms in capital.items()
            if sum(forms.values()) >= MIN_PHRASE_USES and 2 * sum(forms.values()) >= total[key]}


def restore_phrases(text: str, forms: dict[str, str]) -> str:
    """`text` with each lowercase phrase the collection writes as a name in that name's spelling (see
    `phrase_forms`): "is the original vision transformer paper here?" names the Vision Transformer."""
    for n in (3, 2):
        words = list(re.finditer(r"(?<![A-Za-z])[a-z]+(?![A-Za-z])", text))  # whole lowercase words
        for i in range(len(words) - n, -1, -1):
            span = words[i:i + n]
            if text[span[0].start(): span[-1].end()] != " ".join(m.group(0) for m in span):
                continue  # not side by side
            last = span[-1].group(0)
            key = " ".join([*(m.group(0) for m in span[:-1]), singular(last)])
            if key in forms:  # (the plural's "s" is kept: "Vision Transformers")
                text = text[: span[0].start()] + forms[key] + last[len(singular(last)):] + text[span[-1].end():]
    return text


def fix_transposed_stopwords(text: str, vocabulary: frozenset[str] | set[str]) -> str:
    """Typing slips of the commonest words, two neighbouring letters swapped ("teh" → "the", "adn" → "and"):
    the slip is not a word a paper could be about. Only for slips that are no English word themselves and no
    word of the collection (`vocabulary`, as in `known_word`: "ehr" may be an acronym there)."""
    def fix(m: re.Match[str]) -> str:
        w = m.group(0)
        if w.lower() in STOPWORDS_EN or common_english(w) or known_word(w, vocabulary):
            return w
        for i in range(len(w) - 1):
            swapped = w[:i] + w[i + 1] + w[i] + w[i + 2:]
            if swapped.lower() in STOPWORDS_EN:
                return swapped
        return w

    return re.sub(r"(?<![\w'-])[a-z]{3,5}(?![\w'-])", fix, text)


def _one_edit(a: str, b: str) -> bool:
    """`a` and `b` differ by one letter added, dropped, changed, or two neighbours swapped (hand-written: the one
    distance this needs, without a dependency)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long_ = sorted((a, b), key=len)
    i = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    return short[i:] == long_[i + 1:]


def _inflected(word: str, vocabulary: frozenset[str] | set[str]) -> bool:
    """The collection writes the word inflected or derived: "quantize" as "quantized" or "quantization"."""
    base = word[:-1] if word.endswith("e") else word
    return any(word + end in vocabulary for end in ("s", "d", "ed", "r", "rs")) or any(
        base + end in vocabulary for end in ("ing", "ation", "ations", "er", "ers"))


def fix_typos(text: str, vocabulary: frozenset[str] | set[str], is_word: Callable[[str], bool]) -> str:
    """A slip in a longer word ("tranformer", "pruining", "distilation") → the one word of the collection it is a
    letter away from, among those `is_word` accepts (plain words, not coined names: "retnet" is not "ResNet").
    Only for words that are no English word and no word of the collection themselves."""
    def fix(m: re.Match[str]) -> str:
        w = m.group(0)
        if common_english(w) or common_english(stem(w)) or known_word(w, vocabulary) or _inflected(w, vocabulary):
            return w  # (an inflection of an English word is no slip: "cloned" is not "closed")
        base = light(w)
        ending = w[len(base):] if w.startswith(base) else ""
        near = {v + ending for v in vocabulary if abs(len(v) - len(base)) <= 1 and _one_edit(base, v)}
        near = {v for v in near if is_word(v)}
        return next(iter(near)) if len(near) == 1 else w

    return re.sub(r"(?<![\w'-])[a-z]{6,}(?![\w'-])", fix, text)


_JOINED_PREFIX = re.compile(r"\b(pre|post|fine|multi|self|non|co|semi|cross|sub|over|re)-([a-z]{3,})\b")
_SPLIT_PREFIX = re.compile(r"\b(pre|post|fine|multi|self|semi)([a-z]{4,})\b")


def compound_terms(text: str) -> set[str]:
    """The other spelling of a prefixed word the text has, as terms: "pre-trained" also as "pretrained", and
    "pretrained" also as "pre" + "trained", so a question written either way shares the terms."""
    low = text.lower()
    joined = {stem(a + b) for a, b in _JOINED_PREFIX.findall(low)}
    split = {stem(w) for a, b in _SPLIT_PREFIX.findall(low) for w in (a, b) if w not in CONTENT_STOPWORDS}
    return joined | split


def upcase_defined_acronyms(text: str) -> str:
    """A lowercase acronym defined in parentheses by the words before it is a name: "fourier neural operator (fno)"
    → "(FNO)", so that it is looked for (and found missing) as one."""
    def up(m: re.Match[str]) -> str:
        name = m.group(1).upper()
        return f"({name})" if defines_acronym(text[: m.start()] + f"({name})", name) else m.group(0)

    return re.sub(r"\(\s*([a-z]{2,6})\s*\)", up, text)


MAX_SKELETON_LETTERS = 5  # "attn", "cnfg": an abbreviation with letters left out is short


def _skeleton(short: str, long: str) -> bool:
    """`short` is the start of `long` with vowels left out ("attn" of "attention", "cnfg" of "configuration")."""
    i = 0
    for c in long:
        if i == len(short):
            return True
        if c == short[i]:
            i += 1
        elif c not in "aeiou" or i == 0:
            return False
    return i == len(short)


def abbreviates(word: str, vocabulary: frozenset[str] | set[str]) -> bool:
    """A lowercase word of at least 4 letters that starts a longer word of the collection ("param",
    "arch") or is one with letters left out ("attn"): typed short, not a word no abstract uses."""
    w = word.lower()
    if not (word.isalpha() and word.islower() and len(w) >= 4):
        return False
    return any(v.startswith(w) and len(v) > len(w) for v in vocabulary) or (
        len(w) <= MAX_SKELETON_LETTERS and any(
            v[0] == w[0] and len(v) > len(w) and _skeleton(w, v) for v in vocabulary))


_X2Y = re.compile(r"(?<![\w-])([A-Za-z]{2,})2([A-Za-z]{2,})(?![\w-])")


def expand_x2y(text: str, vocabulary: frozenset[str] | set[str], texts: Callable[[], Iterable[str]]) -> str:
    """"seq2seq" → "sequence-to-sequence" when the collection never writes the short form but writes the long
    one: the first word starting with each half, joined by "to", most often in `texts` (called only when the
    question has such a word)."""
    def expand(m: re.Match[str]) -> str:
        if m.group(0).lower() in vocabulary:
            return m.group(0)
        a, b = m.group(1).lower(), m.group(2).lower()
        found = Counter(f"{x.lower()}-to-{y.lower()}" for t in texts() for x, y in re.findall(
            r"\b(" + a + r"[a-z]*)[\s-]+to[\s-]+(" + b + r"[a-z]*)\b", t, re.I))
        return found.most_common(1)[0][0] if found else m.group(0)

    return _X2Y.sub(expand, text)


_HALF_REMEMBERED = re.compile(r"(?<![\w-])([A-Za-z][\w]{3,})-?(?:something|whatever|thingy|or\s+something)(?![\w-])",
                              re.I)


def complete_half_remembered(text: str, forms: dict[str, str]) -> str:
    """"UniRepLK-something" → "UniRepLKNet": the asker remembers how a name starts; the collection's one name
    that starts so (`forms`: lowercase → written form of the collection's names) is the one meant."""
    def complete(m: re.Match[str]) -> str:
        start = m.group(1).lower()
        found = {v for k, v in forms.items() if k.startswith(start) and len(k) > len(start)}
        return found.pop() if len(found) == 1 else m.group(0)

    return _HALF_REMEMBERED.sub(complete, text)
