"""Follow-up questions → standalone questions. A question is read as a follow-up only when it refers back: a
pronoun ("it", "the second one", "both"), a demonstrative ("that routing problem") or an ellipsis ("And on
ImageNet?"); any other question is answered on its own words, whatever came before. Without an LLM the
reference is replaced by the papers named in the latest turns of the history; with an LLM a condense prompt does
it (falling back to this rule on failure). A reference nothing in the history can resolve is reported, not
guessed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .aliases import AliasIndex
from .cleaning import normalize_title
from .text import BARE_ACRONYM, CONTENT_STOPWORDS, common_english, content_terms, is_coined

# "that paper about underwater images ...": a description of the paper asked for, not a pointer back
_DESCRIBED = r"(?!\s+(?:about|on|that|which|where|proposing|introducing|describing)\b)"
_ANAPHORA = re.compile(
    r"\b(?P<first>the first( one)?|the former)\b|\b(?P<second>the second( one)?|the latter|the other( one)?)\b|"
    r"\b(?P<plural>they|them|both( of them)?|these( two)?( papers| methods| works)?|the two( papers)?|"
    r"those( two)?( papers)?)\b|\b(?P<poss>its)\b|"
    r"\b(?P<single>it|(?:this (paper|work|method|model|approach|one|architecture|technique)|that (paper|work|"
    r"method|model|approach|one))" + _DESCRIBED
    + r"|the (paper|method|model|approach|architecture|technique)|that(?=\s*[?.!]*\s*$))\b",
    re.I)
# "that routing problem", "such subnetworks", "the same idea": points back without naming the paper
_NOUNS = (r"(?:problem|idea|method|approach|model|paper|work|result|technique|dataset|task|setting|architecture|"
          r"network|algorithm|framework|module|layer|benchmark|loss|objective|optimizer|trick|finding|claim)s?")
# "for the same chapter", "in this section": the asker's own writing, not a paper said before
_OWN_WRITING = (r"(?!(?:chapter|section|paragraph|thesis|dissertation|survey|review|write-?up|thread|question|topic|"
                r"story|piece|feature|talk|slide|lecture|draft|post|blog)s?\b)")
_DEMONSTRATIVE = re.compile(r"\b(?:this|these|those|such(?!\s+as\b)|the same)\s+" + _OWN_WRITING + r"[a-z][\w-]+\b"
                            + _DESCRIBED + "|"
                            r"\bthat\s+(?:[a-z][\w-]+\s+){0,2}" + _NOUNS + r"\b" + _DESCRIBED, re.I)
# "it is possible to ...", "it was shown that ...": "it" points at nothing
_EXPLETIVE = re.compile(r"\bit\s+(?:is|was|has\s+been|'s)\s+(?:[a-z]+\s+){0,2}(?:to|that|whether|how)\b|"
                        # "is it true that ...?"
                        r"\bit\s+(?:really\s+)?(?:true|the\s+case|possible|likely|known|correct|right)\s+(?:that|to|whether)\b",
                        re.I)
# "And on ImageNet?", "What about its speed?": continues the previous question
_ELLIPSIS = re.compile(r"^\s*(?:and|also|what\s+about|how\s+about|same\s+for)\b", re.I)
# Pronouns that point at something said before (never a description like "the paper that ...").
_PRONOUN = re.compile(r"\b(?:it|its|they|them|their|(?:this\s+(?:paper|work|method|model|approach|one)|"
                      r"that\s+(?:paper|work|method|model|approach|one))" + _DESCRIBED
                      + r"|the\s+(?:first|second)(?:\s+one)?|the\s+(?:former|latter)|"
                      r"both\s+of\s+them|these\s+two|those\s+two)\b", re.I)
_ASKING = re.compile(r"^(?:please\s+)?(?:summari[sz]e|describe|explain|tell\s+me\s+about|what\s+(?:is|are|does|do)|"
                     r"how\s+(?:does|do|is)|which\s+paper\s+)\s*", re.I)
DESCRIPTION_WORDS = 20
_BOTH_AND = re.compile(r"(?:\s+\S+){1,8}?\s+and\b", re.I)
_EARLY_WORDS = 8  # a reference this close to the start is what the question is about
ANTECEDENT_TERMS = 2  # content words before a pronoun that it can stand for ("the LASSO pruning paper ... it")
SELF_CONTAINED_TERMS = 6  # content words that say what a question is about without the pronoun's help
_BOLD_TITLE = re.compile(r"\*\*(?:\[\d+\]\s*)?([^*]{8,300})\*\*|^\[\d+\]\s+(.+)$", re.M)


MAX_TURNS = 12  # history kept for follow-ups (user and assistant turns)


def clean_history(history: Sequence[dict[str, Any]] | None) -> list[dict[str, str]]:
    """The last turns of a chat history that are well-formed {role: user|assistant, content: str}."""
    out = []
    for turn in history or []:
        if isinstance(turn, dict) and turn.get("role") in ("user", "assistant") and isinstance(
                turn.get("content"), str):
            out.append({"role": turn["role"], "content": turn["content"]})
    return out[-MAX_TURNS:]


def parse_condensed(raw: str, max_chars: int) -> str | None:
    """The standalone question in an LLM's reply to the condense prompt, or None when it is unusable."""
    lines = [ln.strip() for ln in raw.strip().splitlines() if ln.strip()]
    text = re.sub(r"^(standalone question|question)\s*:\s*", "", lines[0], flags=re.I).strip(" \"'“”") \
        if lines else ""
    return text if 3 < len(text) <= max_chars else None


# A standalone rewrite says what the conversation said: at most this many content terms of its own, beyond the
# generic nouns a rewrite uses to point at a paper ("What does the KECOR paper report?").
MAX_NEW_REWRITE_TERMS = 1
_REWRITE_WORDS = frozenset(content_terms("paper papers work method methods model models approach study propose "
                                         "proposed introduce introduced describe described"))


def keeps_the_question(rewrite: str, question: str, history: Sequence[dict[str, str]], aliases: AliasIndex
                       ) -> bool:
    """Is an LLM's standalone rewrite of `question` usable? It must still name every paper the follow-up names,
    name one of the earlier papers it points back at, and not just repeat an earlier question of the conversation:
    small models do all three ("How does it compare with RaftMLP?" → "What is ResMLP?"). Nor may it bring in
    content words nobody in the conversation used (a narration of the chat). When it is not, the
    reference rules resolve the follow-up instead."""
    spoken = content_terms(question).union(*(content_terms(t.get("content", "")) for t in history))
    if len(content_terms(rewrite) - spoken - _REWRITE_WORDS) > MAX_NEW_REWRITE_TERMS:
        return False  # "The user requested a summary of the KECOR paper": words nobody said are not a rewrite
    named = {m.paper_id for m in aliases.find(question)}
    kept = {m.paper_id for m in aliases.find(rewrite)}
    earlier = {m.paper_id for n in referents(history, aliases) for m in aliases.find(n)} - named
    if not named <= kept or (refers_back(question) and earlier and not earlier & kept):
        return False
    key = normalize_title(rewrite)  # case- and punctuation-blind, as for titles
    return key == normalize_title(question) or key not in {normalize_title(t["content"]) for t in history
                                                           if t.get("role") == "user"}


def names_in_turn(text: str, aliases: AliasIndex) -> list[str]:
    """Paper names a turn mentions, in order of first mention (aliases as written, or bold titles)."""
    found: list[tuple[int, str, str]] = []  # (position, paper_id, name)
    for m in aliases.find(text):
        found.append((m.start, m.paper_id, m.alias))
    out: list[str] = []
    seen: set[str] = set()
    for _, pid, name in sorted(found):
        if pid not in seen:
            seen.add(pid)
            out.append(name)
    if not out:
        for m in _BOLD_TITLE.finditer(text):
            title = (m.group(1) or m.group(2) or "").strip()
            if title and title not in out:
                out.append(title)
    return out


def referents(history: Sequence[dict[str, str]], aliases: AliasIndex) -> list[str]:
    """Names from the most recent turn (user turns first) that names any paper."""
    turns = [t for t in history if isinstance(t, dict) and isinstance(t.get("content"), str)]
    for i in range(len(turns) - 1, -1, -1):
        if turns[i].get("role") == "user":
            names = names_in_turn(turns[i]["content"], aliases)
            if names and all(BARE_ACRONYM.fullmatch(n) for n in names):
                # "... for learning PDE solution maps?" names the paper whose acronym is PDE only by accident when
                # the answer after it is about other papers: those are what "the two" means
                answered = [n for t in turns[i + 1:] for n in names_in_turn(t["content"], aliases)]
                if answered and not _papers(names, aliases) & _papers(answered, aliases):
                    names = answered
            compared = _compared_titles(turns[i + 1:i + 2])
            if names and len(compared) > len(names) and _papers(names, aliases) <= _papers(compared, aliases):
                # "the lottery ticket paper and Lottery Jackpots": the answer's sides say which, each by the name
                # the question gave it or else by its title's head ("The Lottery Ticket Hypothesis")
                given = {m.paper_id: m.alias for m in aliases.find(" . ".join(names))}
                names = [next((given[p] for p in _papers([t], aliases) if p in given), t.split(":", 1)[0].strip())
                         for t in compared]
            if names:
                return names
    for turn in reversed(turns):
        names = names_in_turn(turn["content"], aliases)
        if names:
            return names
    return []


_SIDE_HEADER = re.compile(r"^### \[\d+\] (.+?)(?: \(for “[^”]*”\))?$", re.M)


def _compared_titles(turns: Sequence[dict[str, str]]) -> list[str]:
    """The titles of the sides of a comparison answer (its "### [n] Title" sections), in order."""
    return [m.group(1).strip() for t in turns if t.get("role") == "assistant"
            for m in _SIDE_HEADER.finditer(t["content"])]


def _papers(names: Sequence[str], aliases: AliasIndex) -> set[str]:
    return {m.paper_id for n in names for m in aliases.find(n)}


SHORT_QUESTION = 12  # words: in a question this short, a pronoun anywhere points back


def _anaphor(question: str) -> re.Match[str] | None:
    """The first pronoun that points at an earlier turn: near the start, or anywhere in a short question (in
    "Which paper casts attention as GEMM and writes kernels for it?" the late "it" points inside the question)."""
    short = len(question.split()) <= SHORT_QUESTION
    for m in _ANAPHORA.finditer(question):
        if m.group("single") and m.group(0).lower() == "it" and _EXPLETIVE.match(question, m.start()):
            continue
        if m.group(0).lower() == "both" and _BOTH_AND.match(question, m.end()):
            continue  # "both the type and the polarity": a conjunction, not "both of them"
        if short or len(question[: m.start()].split()) < _EARLY_WORDS:
            return m
    return None


def refers_back(question: str) -> str | None:
    """The words by which `question` points at an earlier turn ("it", "that routing problem", "And ..."),
    or None for a self-contained question."""
    m = _anaphor(question) or _DEMONSTRATIVE.search(question) or _ELLIPSIS.match(question)
    return m.group(0).strip() if m else None


def dangling(question: str, history: Sequence[dict[str, str]] | None, aliases: AliasIndex) -> str | None:
    """The pronoun ("it", "the second one") a question opens with when there is no earlier question it could
    point at, so the answer can say so instead of guessing; None otherwise. A description ("the paper that ...",
    "the two accounts of grokking: ...") says what it means and is not a dangling reference."""
    m = _PRONOUN.search(question)
    if m is None or len(question[: m.start()].split()) > _EARLY_WORDS or aliases.find(question[: m.start()]):
        return None
    if any(t.get("role") == "user" for t in history or ()):
        return None
    before = content_terms(question[: m.start()])
    if m.group(0).lower() in ("its", "their") and before:
        return None  # a possessive after a noun of its own question ("a model that outputs positions in its input")
    if len(before) >= ANTECEDENT_TERMS:
        return None  # "Does the LASSO channel-selection pruning paper say it works on ResNets?": "it" is that paper
    if len(content_terms(question[: m.start()] + " " + question[m.end():])) >= SELF_CONTAINED_TERMS:
        return None  # "How do they make multi-vector retrieval work with single-vector search?": a generic "they"
    return m.group(0)


def described(history: Sequence[dict[str, str]]) -> str | None:
    """What the last user question was about, when it names no paper: "Summarize the paper that translates
    English to French with two deep LSTMs." → "the paper that translates English to French with two deep LSTMs"."""
    last = next((t["content"] for t in reversed(history) if t.get("role") == "user"), None)
    if not last:
        return None
    text = _ASKING.sub("", " ".join(last.split())).rstrip("?.! ")
    words = text.split()
    return " ".join(words[:DESCRIPTION_WORDS]) if words else None


def resolve(question: str, history: Sequence[dict[str, str]] | None, aliases: AliasIndex) -> str:
    """A standalone version of `question`: unchanged when it does not refer back or nothing can be resolved."""
    if not history or not refers_back(question):
        return question
    names = referents(history, aliases)
    if not names:  # the earlier question named no paper: it is what "it" means, in its own words
        about = described(history)
        m = _anaphor(question)
        if about is None:
            return question
        if m is None:
            return f"{question.rstrip('?. ')} ({about})?"
        return question[: m.start()] + about + question[m.end():]
    own = aliases.find(question)
    m = _anaphor(question)
    if m is None:  # a demonstrative or an ellipsis: the earlier papers are what it is about
        return f"{question.rstrip('?. ')} ({' and '.join(names[:2])})?"
    if m.group("first"):
        repl = names[0]
    elif m.group("second"):
        if len(names) < 2:  # the question named one thing, the answer two papers: "the second one" is the answer's
            said = next((names_in_turn(t["content"], aliases) for t in reversed(history)
                         if t.get("role") == "assistant" and isinstance(t.get("content"), str)), [])
            names = said if len(said) > 1 else names
        repl = names[1] if len(names) > 1 else names[0]
    elif m.group("plural"):
        repl = " and ".join(names[:3]) if len(names) > 1 else names[0]
    elif m.group("poss"):
        repl = f"{names[0]}'s"
    else:
        # "How does it compare with RaftMLP?": "it" is the earlier paper not named in the question.
        named_now = {a.alias.lower() for a in own}
        repl = next((n for n in names if n.lower() not in named_now), names[0])
    return question[: m.start()] + repl + question[m.end():]


# A conversational lead-in before a dash or colon: "ok switching gears —", "Something else:", "Different question -".
_LEAD_IN = re.compile(r"^\s*([^—–:?]{1,40}?)\s*(?:—|–|:|\s-\s)\s*(?=\S)")
# ... or before a comma, only when it is all about the subject changing: "unrelated, but which paper ...?",
# "On a different note, ..." (not "For a different task, ...")
_COMMA_LEAD_IN = re.compile(
    r"^\s*((?:(?:ok(?:ay)?|so|and|now|also|anyway)\s+)*(?:(?:totally|completely|somewhat)\s+)?(?:unrelated|separately|"
    r"moving\s+on|switching\s+(?:gears|topics?)|changing\s+(?:the\s+)?(?:subject|topics?)|something\s+(?:else|different)|"
    r"(?:(?:a|an|on\s+an?)\s+)?(?:different|another|new|separate|unrelated|other)\s+(?:question|topic|note|thing|story|"
    r"subject)))\s*,\s*(?:(?:but|and|so)\s+)?(?=\S)", re.I)
_ASKS = re.compile(r"(?:what|which|how|why|who|where|when|is|are|was|were|does|do|did|can|could|has|have|any|"
                   r"anything|tell|explain|describe|compare|find|show|"
                   r"someone|somebody|people|i|i've|i'm)\b", re.I)  # "someone said ...", "I read about ..."
LEAD_WORDS, NEW_TOPIC_LEAD_WORDS = 4, 6  # longest lead-in, and one that says the subject changes
# A lead-in that says the subject changes ("Moving on:", "Switching gears -"): what follows is no follow-up,
# even when it opens like one ("what about ...")
_NEW_TOPIC = re.compile(r"\b(?:moving|switching|unrelated|different|another|new|else|changing|separately|separate|"
                        r"story|now\s+something)\b", re.I)


# Where to look and how to ask, not what is asked: "According to the collection, which papers ...?", "Could you
# tell me how ...?"
_SCOPE_LEAD = re.compile(r"^\s*(?:(?:according\s+to|based\s+on|in|within)\s+(?:the|this)\s+(?:collection|corpus|"
                         r"abstracts?|papers?)\s*,\s*|(?:could|can|would)\s+you\s+(?:please\s+)?(?:(?:tell|show)\s+me\s*,?\s*"
                         r"(?=(?:how|what|which|why|who|where|when|about)\b)|(?=(?:compare|contrast|summari[sz]e|"
                         r"explain|describe|list)\b)))", re.I)


# An analogy of the asker's own before the question: "This sounds like sample barcoding in sequencing: is there ...?"
_ANALOGY_LEAD = re.compile(r"^\s*(?:this|it|that)\s+(?:sounds|seems|looks|feels)\s+(?:a\s+(?:lot|bit)\s+)?like\s+"
                           r"[^:?]{1,80}:\s*(?=(?:is|are|does|do|which|what|how|can|has|any)\b)", re.I)


# "..., according to this collection?": where to look, at the end
_SCOPE_TAIL = re.compile(r",?\s+(?:according\s+to|based\s+on|in)\s+(?:the|this)\s+(?:collection|corpus|abstracts?)"
                         r"(?=\s*[?.!]*\s*$)", re.I)


def _changes_subject(lead: str, rest: str) -> bool:
    """The lead-in says the subject changes and what follows opens like a continuation without pointing back
    ("Moving on: what about X?"): a new question, not a follow-up."""
    return bool(_NEW_TOPIC.search(lead) and _ELLIPSIS.match(rest)) and not _anaphor(rest)


def without_lead_in(question: str) -> str:
    """`question` without a lead-in of at most four plain words before a dash or colon, when what follows is a
    question of its own ("ok switching gears — anything on detecting rumours ...?"): its words are not what the
    question is about. A lead-in with a name ("ResMLP: how does it work?") or a rest that points back stays.
    A scope or a polite opening ("According to the collection,", "Could you tell me") goes too."""
    question = _SCOPE_TAIL.sub("", question)
    if (unlike := _ANALOGY_LEAD.sub("", question, count=1)) != question:  # "This sounds like barcoding: is ...?"
        question = unlike[0].upper() + unlike[1:]
    scoped = _SCOPE_LEAD.sub("", question, count=1)
    if scoped != question and len(scoped.split()) >= 2:
        question = scoped[0].upper() + scoped[1:]
    m = _LEAD_IN.match(question) or _COMMA_LEAD_IN.match(question)
    if not m:
        return question
    lead, rest = m.group(1), question[m.end():]
    words = re.findall(r"[A-Za-z][\w']*", lead)
    continues = refers_back(rest) and not _changes_subject(lead, rest)
    new_topic = bool(_NEW_TOPIC.search(lead))
    # (a lead-in that says the subject changes may be longer: "Ok, and totally different question:")
    longest = NEW_TOPIC_LEAD_WORDS if new_topic else LEAD_WORDS
    # (after a lead-in that changes the subject, the question may come after a sentence that sets it up:
    # "Something else entirely: diffusion generators make six-fingered hands. Is there a paper ...?")
    # (whose "those" then points into that sentence)
    later = new_topic and not _ASKS.match(rest) and bool(re.search(r"[.!]\s+" + _ASKS.pattern, rest, re.I))
    if not words or len(lead.split()) > longest or not (_ASKS.match(rest) or later) or (continues and not later) \
            or len(rest.split()) < 3:
        return question
    # (a lead-in that says the subject changes may set the scene in a lowercase word: "for a robotics story:";
    # a name in it is what the question is about)
    if any(is_coined(w) or not (w.lower() in CONTENT_STOPWORDS or common_english(w) or len(w) <= 3
                                or new_topic and w.islower()) for w in words):
        return question
    return rest[0].upper() + rest[1:]


def asks_back(question: str, history: Sequence[dict[str, str]] | None) -> bool:
    """Is `question` a follow-up to rewrite: there is a history and, past any lead-in, it refers back to it
    ("Moving on: what about X?" changes the subject: its "what about" continues nothing)."""
    rest = without_lead_in(question)
    lead = _LEAD_IN.match(question)
    if rest != question and lead and _changes_subject(lead.group(1), rest):
        return False
    return bool(history) and refers_back(rest) is not None
