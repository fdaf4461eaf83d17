"""Question → plan: what kind of question it is (lookup, comparison with its sides, topic) and which papers it
names. Pure: the only collaborator is the name index, passed in. Tested with tables of questions → plans."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .aliases import AliasIndex, AliasMatch

_TOPIC = re.compile(
    r"^\s*(?:(?:which|what)\s+(?:other\s+)?(?:papers|works|studies|articles|publications)|list\s+(?:all\s+)?"
    r"(?:the\s+)?papers|(?:are\s+there\s+|find\s+|show\s+(?:me\s+)?)(?:any\s+)?papers|papers|"
    # "anything on alphafold / protein structure prediction", "is there anything in here about X?"
    r"(?:is\s+there\s+)?anything(?:\s+(?:in\s+here|here|in\s+the\s+collection))?(?=\s+(?:on|about)\b)|"
    # "Does anything here cover speculative decoding ...?"
    r"(?:does|do)\s+anything(?:\s+(?:in\s+here|here|in\s+the\s+collection))?(?=\s+(?:cover|discuss|address|study|"
    r"mention|explore|examine|tackle)\b)|"
    # "Does the collection have anything on X?", "Do you have any papers about X?"
    r"(?:does|do)\s+(?:the\s+collection|this\s+collection|it|you)\s+(?:have|contain|include|hold)\s+"
    r"(?:anything|any\s+(?:papers?|works?|studies)|papers?)(?:\s+(?:in\s+here|here))?(?=\s+(?:on|about)\b)|"
    # "What work here is about X?", "Which research in the collection is on X?"
    r"(?:which|what)\s+(?:work|research)(?:\s+(?:in\s+here|here|in\s+the\s+collection))?\s+(?:is|was)"
    r"(?=\s+(?:on|about)\b)|"
    # "What does the collection say about X?": everything the collection has on X
    r"what\s+does\s+the\s+collection\s+(?:say|report|contain|have|tell\s+us)(?=\s+(?:about|on)\b))\b"
    r"(?:\s+(?:in\s+here|here|in\s+(?:the|this)\s+collection))?\s*(?:(?:that|which)\s+)?(?:(?:try|tries|aim|aims|attempt|attempts|seek|seeks)\s+to\s+)?"
    # "whose method or analysis centres on X"
    r"(?:whose\s+(?:[\w-]+\s+){1,4}?(?:centres|centers|focuses|is\s+based|rests|relies|is)\s+(?:on|upon)\s+)?"
    # (an adverb may come first, "look specifically at", and the verb may be a participle, "papers using X")
    r"(?:(?:specifically|mainly|mostly|primarily|directly|explicitly|actually|really)\s+)?"
    r"(?:study|studies|address|addresses|are\s+about|discuss|investigate|tackle|propose|use|apply|deal\s+with|"
    r"build\s+(?:on|upon)|extend|rely\s+on|cent(?:re|er)\s+on|revolve\s+around|"
    r"focus\s+on|work\s+(?:on|with)|look\s+(?:(?:specifically|closely|mainly)\s+)?(?:at|into)|"
    r"ask(?=\s+(?:whether|if|how|why|what)\b)|"
    r"(?:us|apply|study|propos|address|explor|examin|investigat|tackl|discuss|cover|analy[sz])ing|"
    r"(?:dealing\s+with|focusing\s+on|working\s+(?:on|with)|looking\s+(?:at|into)|building\s+(?:on|upon))|"
    r"on|about|concern|cover|mention|consider|explore|examine|analy[sz]e|explain|"
    r"understand|model|predict|improve|measure)?\s*",
    re.I)
# What a topic is not, set off by a comma or parentheses: "spiking neural networks (the neuromorphic kind, not
# sparse nets)", "pruning, not quantization": the asker rules it out, so its words are none the papers need
_NEGATED_ASIDE = re.compile(r"\s*\([^()]*\b(?:not|rather\s+than|as\s+opposed\s+to|instead\s+of)\s[^()]*\)|"
                            r",\s*(?:but\s+|and\s+)?(?:not|rather\s+than|as\s+opposed\s+to|instead\s+of)\s[^,;()?]*",
                            re.I)
# "the key disagreement between A and B": a comparison, with its sides after "between"
_BETWEEN = (r"(?:diffs?|differences?|distinctions?|disagreements?|contrasts?|similarit(?:y|ies)|relationship|"
            r"connections?)\s+between")
# "NovoGrad or Natural GaLore if ...?", "Should I use ColBERT or MUVERA for ...?": a choice between two names
_CHOICE_LEAD = r"(?i:should\s+(?:i|we)\s+(?:use|pick|choose|go\s+with)\s+|(?:is|are)\s+)?"
_CHOICE_NAME = r"[A-Z][\w.^-]*(?:\s+[A-Z0-9][\w.^-]*){0,3}"
_COMPARE_CUES = re.compile(
    r"\b(compare|compared|comparison|contrast|differ|differs|difference|differences|vs\.?|versus|"
    r"build(?:s)?\s+on|relate(?:s)?\s+to|different\s+from|" + _BETWEEN +
    r"|how\s+does\s+each|each\s+(?:one|of\s+them)|both|"
    # "A and B, how the second is using the first, and how much speedup each report?"
    r"how\s+the\s+(?:second|latter)|each\s+(?:one\s+)?(?:\w+ly\s+)?(?:reports?|uses?|shows?|claims?|gets?|achieves?)|"
    r"(?:\w+er|more\s+\w+|less\s+\w+)\s+than|"
    r"another\s+(?:(?:paper|one|work|study)\s+)?(?:says|claims|argues|suggests|finds|shows|proposes|uses))\b", re.I)
_STUDY_OF = re.compile(r"^\s*(?:is|are)\s+there\s+(?:an?\s+|any\s+)?(?:benchmark|comparison|study|evaluation|"
                       r"analysis|paper|work)s?\s+(?:in\s+here\s+|in\s+the\s+collection\s+)?(?:of|comparing|that\s+compares)\b",
                       re.I)
_CHOICE = re.compile(r"^\s*" + _CHOICE_LEAD + _CHOICE_NAME + r"\s+or\s+[A-Z]")
_EXPLICIT_COMPARE = re.compile(r"\b(compare|contrast|differ|differs|versus|vs\.?)\b", re.I)
# A list after a colon or dash: its first item, then the rest ("B and C" or "B, and C"), split again by items
_LIST_REST = r"(?P<a>[^,]+?),\s+(?P<b>.+,.+|.+\s+and\s+.+)$"
# Ordered from most to least specific; each captures the two sides. True: the frame marks where both sides end
# ("differences between ... and", "how does ... differ from"), so a side may be a long description.
_SPLITTERS: list[tuple[re.Pattern[str], bool]] = [
    (re.compile(r"^(?P<a>.+?)\s+(?:vs\.?|versus)\s+(?P<b>.+)$", re.I), False),
    # "the difference between finding tickets by pruning and retraining, versus finding jackpots": "versus" first
    (re.compile(_BETWEEN + r"\s+(?P<a>.+?),?\s+(?:vs\.?|versus)\s+(?P<b>.+)$", re.I), True),
    (re.compile(_BETWEEN + r"\s+(?P<a>.+?)\s+and\s+(?P<b>.+)$", re.I), True),
    # "How do A and B compare (on X)?": X is what they are compared on, not a side
    (re.compile(r"how\s+(?:does|do|did)\s+(?P<a>.+?)\s+and\s+(?P<b>.+?)\s+(?:compare|differ|relate|each|both)\b",
                re.I), True),
    # "Contrast the vision MLP papers: scaling plain MLPs, ResMLP, and RaftMLP": the list after the colon
    # (or between dashes: "Compare the all-MLP models - A, B, and C - with regard to ...")
    # (after a lead-in clause too: "For my theory section, compare the three analyses - A, B, and C - in terms of")
    (re.compile(r"^(?:[^,]{0,60},\s+)?(?:compare|contrast)\s+[^:—–]{0,60}?(?::|\s[-—–]{1,2})\s+" + _LIST_REST, re.I),
     True),
    # "Contrast the model for convex hulls and TSP with the MDP approach": "with" ends a side before "and" does
    (re.compile(r"(?:compare|contrast)\s+(?!(?:with|to|against|as|on|in)\b)(?P<a>.+?)\s+"
                r"(?:with(?!\s+(?:respect|regard|each|one)\b)|against)\s+(?P<b>.+)$", re.I), True),
    (re.compile(r"(?:compare|contrast)\s+(?!(?:with|to|against|as|on|in)\b)(?P<a>.+?)\s+(?:with|to|and|against)\s+(?P<b>.+)$",
                re.I), True),
    (re.compile(r"how\s+(?:is|are|was|were)\s+(?P<a>.+?)\s+(?:different\s+from|similar\s+to|related\s+to)\s+(?P<b>.+)$",
                re.I), True),
    # "Is the lottery ticket idea basically the same as Han's 'Deep Compression'? How do they compare?"
    (re.compile(r"^(?:is|are|was|were)\s+(?!there\b|any\b)(?P<a>.+?)\s+(?:\w+ly\s+)?(?:the\s+same\s+(?:thing\s+|idea\s+)?as|similar\s+to|"
                r"different\s+from|related\s+to)\s+(?P<b>[^?]+?)(?:\s*\?.*)?$", re.I), True),
    # "What does the MoE paper claim about cost, and how does that compare with the paper arguing ...?": "that" is
    # what the first clause asked about
    (re.compile(r"^(?:what|which)\s+(?:\w+\s+)?(?:does|do|did|is|are)\s+(?P<a>.+?)\s+(?:claim|say|report|show|find|"
                r"achieve|get|propose|use|reach)\b[^?]*?,?\s+and\s+how\s+(?:does|do|did|is|would)\s+(?:that|it|this)\s+"
                r"(?:compare|differ|relate)\s+(?:with|to|from)\s+(?P<b>.+)$", re.I), True),
    (re.compile(r"how\s+(?:does|do|did)\s+(?P<a>.+?)\s+(?:differ\s+from|build\s+(?:on|upon)|improve\s+(?:on|upon|over)|"
                r"relate\s+to|compare\s+(?:to|with))\s+(?P<b>.+)$", re.I), True),
    # "Two PFN papers here: the original '...' one and the learning-curve one. What speedups does each claim?"
    (re.compile(r"^[^:.?!]{0,60}\b(?:papers|works|studies|methods|approaches|models|two|both)\b[^:.?!]{0,80}:\s+"
                r"(?P<a>[^.?!;:]+?)\s+and\s+(?P<b>[^.?!;:]+?)\s*[.?!]\s+\S.*$", re.I), True),
    (re.compile(r"^(?P<a>.+?)\s+and\s+(?P<b>.+?)\s*:\s*.+$", re.I), False),
    # "A and B, how the second uses the first?" (both sides in the same sentence as the question)
    (re.compile(r"^(?P<a>[^.?!;:]+?)\s+and\s+(?P<b>[^,.?!;:]+?),\s+(?:how|what|which|why|where|do|does|did|is|are)\b.*$",
                re.I), False),
    (re.compile(r"^(?P<a>.+?)\s+(?:compared\s+(?:to|with))\s+(?P<b>.+)$", re.I), False),
    # "Is MUVERA faster than PLAID for multi-vector retrieval?": what follows the second side is the setting
    (re.compile(r"^(?:is|are|was|were|does|do|did)\s+(?!there\b|any\b)(?P<a>.+?)\s+(?:(?:more|less)\s+)?\w+(?:er)?\s+than\s+"
                r"(?P<b>.+?)(?:\s+(?:for|on|at|in|when|with)\s+.+)?$", re.I), False),
    # "Both the 'X' paper and the Y paper analyze ...": each side ends at its "paper"
    (re.compile(r"^both\s+(?P<a>.+?)(?:\s+(?:paper|work|study))?\s+and\s+(?P<b>.+?)\s+(?:paper|work|study)s?\b.*$",
                re.I), True),
    # "The original NTK paper and the Tensor Programs paper seem to disagree ... What's the difference?"
    (re.compile(r"^(?:the\s+)?(?P<a>[^,;:?]+?)\s+(?:paper|work|study)\s+and\s+(?:the\s+)?(?P<b>[^,;:?]+?)\s+"
                r"(?:paper|work|study)\b.*$", re.I), True),
    # "One paper uses X; another questions Y. Contrast the two."
    (re.compile(r"^(?:one|the\s+first)\s+(?:paper|work|study)\s+(?P<a>.+?)\s*[;,]\s+(?:another|the\s+other|a\s+second)"
                r"(?:\s+(?:one|paper|work|study))?\s+(?P<b>.+?)(?:\s*[.;]|\s+[-—–]{1,2})\s+.+$", re.I), True),
    # "Several papers try all-MLP classifiers: RaftMLP, ResMLP and the one about plain MLPs. How do they differ?"
    (re.compile(r"^[^:]{0,80}:\s+" + _LIST_REST, re.I), True),
    # "NovoGrad or Natural GaLore if my constraint is memory?": two names, one to choose
    (re.compile(r"^" + _CHOICE_LEAD + r"(?P<a>" + _CHOICE_NAME + r")\s+or\s+(?P<b>" + _CHOICE_NAME + r")"
                r"(?:\s+(?:if|for|when|given|on|in|to)\b.*|\s*[,:?].*)?$"), False),
]
_SIDE_TRIM = re.compile(r"^(?:the\s+|a\s+|an\s+|paper\s+on\s+|papers?\s+|approach\s+of\s+|one\s+(?:about|on|with)\s+|"
                        # "its follow-up DIEN": how the side relates to the other, then the side itself
                        r"(?:its|their)\s+(?:own\s+)?(?:follow-?ups?|successors?|predecessors?|extensions?|variants?|"
                        r"sequels?|descendants?|ancestors?|(?:later|earlier|newer|older)\s+versions?)\s+|"
                        # "the one saying infinitely wide nets can't learn features": what it says
                        r"one\s+(?:saying|claiming|showing|arguing|proving|finding)\s+(?:that\s+)?|"
                        r"(?:saying|claiming|arguing)\s+that\s+|"
                        # "the later claim that good subnetworks exist ...": what is claimed describes the paper
                        r"(?:(?:later|earlier|recent|other|second|first)\s+)?(?:claim|idea|finding|observation|"
                        r"argument|proposal|suggestion)\s+that\s+|"
                        # "One paper says go wider with attention": what it says
                        r"(?:says|claims|argues|suggests|finds)\s+(?:that\s+)?(?:(?:we|you)\s+should\s+)?)+|"
                        # the rest of the question after a side: "SEGNO: how do these two ...", "X, and why"
                        r"\s*[:;,—–]\s*(?:and\s+|but\s+)?(?:how|what|which|why|where|when|who|do|does|did|is|are|"
                        r"can|in\s+what)\b.*$|"
                        r"\s+[-—–]{1,2}\s+.*$|"  # "A vs B - same method?": after a spaced dash, the question
                        r",\s+[^,]*\b(?:vs\.?|versus)\s.*$|"  # "A vs B, top-2 vs top-1 tradeoffs?": what is compared
                        r"\s+(?:tbh|lol|idk|pls|plz|thx|thanks|imo|ngl|btw|right)\s*[?.!]*$|"  # "... RaftMLP tbh"
                        # a second sentence: "... the paper that uses a PFN. What is each one using it for?"
                        r"(?<!\bvs)(?<!\bal)(?<!\betc)(?<!\be\.g)(?<!\bi\.e)(?:[.!]\s+(?=[A-Z])|\?\s+(?=\w)).*$|"
                        r"[\s?.!:;,]+$|\s+(?:in\s+terms\s+of|regarding|with\s+respect\s+to|in\s+the\s+way|in\s+how|"
                        r"as\s+(?:ways?|approaches|methods|means|techniques|tools))\s+.*$", re.I)
_QUOTED_SPAN = re.compile(r"(?:^|(?<=\s))[\"“‘'][^\"“”‘’]{3,120}?(?:[\"”’']|$)")  # its closing quote may be trimmed
MAX_SIDE_WORDS = 10  # a side names or describes one paper; longer "sides" are clauses of a lookup question
# ... except after an explicit frame ("How does <A> differ from <B>?", "differences between <A> and <B>"), where a
# side may be a whole description ("the framework that unifies MoEs and product-key memories as ...")
MAX_FRAMED_SIDE_WORDS = 20
_LIST_SPLIT = re.compile(r",\s*(?:and\s+)?|\s+and\s+|\s+(?:vs\.?|versus)\s+", re.I)
_OXFORD_SPLIT = re.compile(r",\s*(?:and\s+)?|\s+(?:vs\.?|versus)\s+", re.I)  # the list's "and"s are its own
_CHAIN_SPLIT = re.compile(r"\s+(?:vs\.?|versus)\s+", re.I)
_PRONOUN_SIDE = re.compile(r"^(?:their|its|his|her|these|those|them|they|it)\b", re.I)
# A list item that is a clause about the item before it ("the Lion optimizer, discovered by program search").
_PARENS = re.compile(r"\([^()]*\)")
_IN_ONE_PAPER = re.compile(r"\s(?:in|from|according\s+to)\s+(?:the|this|that|their)\s+(?:[\w'-]+\s+){0,5}"
                           r"(?:paper|work|study|abstract|article)$", re.I)
_CLAUSE_ITEM = re.compile(r"^(?:[a-z]+ed|[a-z]+ing|which|that|who|where|when|by|with|from|using|as)\b")


@dataclass(frozen=True)
class Side:
    """One side of a comparison: its label as the question wrote it and the papers that label names."""

    label: str
    named: tuple[AliasMatch, ...] = ()


@dataclass(frozen=True)
class QueryPlan:
    kind: str  # "lookup" | "comparative" | "topic"
    query: str
    topic: str | None = None  # topic questions: what the papers should be about
    sides: tuple[Side, ...] = ()  # comparisons: one per compared paper
    named: tuple[AliasMatch, ...] = ()  # papers the whole question names


def plan_query(query: str, names: AliasIndex) -> QueryPlan:
    """What kind of question `query` is. `names` finds the papers a text names."""
    named = tuple(names.find(query))
    m = _TOPIC.match(query)
    if m and m.end() < len(query) and not _EXPLICIT_COMPARE.search(query):
        topic = _NEGATED_ASIDE.sub("", _SIDE_TRIM.sub("", query[m.end():])).strip()
        if topic:
            return QueryPlan("topic", query, topic=topic, named=named)
    distinct = list(dict.fromkeys(n.paper_id for n in named))
    if _STUDY_OF.match(query):  # "Is there a benchmark in here of A versus B?" asks for one study that compares them
        return QueryPlan("lookup", query, named=named)
    if _COMPARE_CUES.search(query) or _CHOICE.match(query) or (
            len(distinct) >= 2 and re.search(r"\band\b", query, re.I)):
        labels = split_sides(query)
        if len(labels) >= 2:
            return QueryPlan("comparative", query, sides=tuple(Side(x, tuple(names.find(x))) for x in labels),
                             named=named)
        if len(distinct) >= 2:  # the sides come from the names alone: "ResMLP and RaftMLP: ..."
            first = {pid: next(n for n in named if n.paper_id == pid) for pid in distinct}
            return QueryPlan("comparative", query, sides=tuple(Side(n.alias, (n,)) for n in first.values()),
                             named=named)
    return QueryPlan("lookup", query, named=named)


def _list_items(part: str, listed: bool = False) -> list[str]:
    """"A, B, and C" → A, B, C; "A, B and C" too. With a comma before the last "and", an "and" inside an item
    stays ("the variant that mixes tokens vertically and horizontally, and the study of ..."). `listed`: the part
    is the rest of a list ("B and C"), so its "and" separates items even without a comma. A parenthesis is an
    item's aside ("the neuron-matching approach (bipartite matching, sparse prediction)"), never split."""
    hidden = _PARENS.sub(lambda m: m.group(0).replace(",", "\x00").replace(" and ", "\x01"), part)
    return [x.replace("\x00", ",").replace("\x01", " and ") for x in _split_items(hidden, listed)]


def _split_items(part: str, listed: bool) -> list[str]:
    if "," not in part and listed:
        return [x for x in _LIST_SPLIT.split(part) if x.strip()]
    if "," not in part:
        return [x for x in _CHAIN_SPLIT.split(part) if x.strip()]
    if re.search(r",\s*and\s", part):
        return [x for x in _OXFORD_SPLIT.split(part) if x.strip()]
    return [x for x in _LIST_SPLIT.split(part) if x.strip()]


def split_sides(query: str) -> list[str]:
    """The compared items of a comparison question ("A vs B", "compare A with B", "A, B and C"), or []."""
    q = query.strip().rstrip("?.! ")
    q = re.sub(r"^(?:please\s+|can\s+you\s+|could\s+you\s+)", "", q, flags=re.I)
    for pat, framed in _SPLITTERS:
        m = pat.search(q)
        if not m:
            continue
        a = _SIDE_TRIM.sub("", m.group("a")).strip()
        if not framed and not m.group("a").rstrip(" ?.!,;:").endswith(a.rstrip(" ?.!,;:")):
            continue  # "In the KAN paper, how does X work and what exponent did KANs show versus MLPs?": the "versus"
            # is inside a later clause, not between two sides
        sides = []
        for part in (a, _SIDE_TRIM.sub("", m.group("b")).strip()):
            # "A, B and C" or "A vs B vs C" on either side → one side per item ("vs" joins sides, never a clause:
            # "resmlp vs raftmlp vs scaling plain mlps")
            items = _list_items(part, listed=pat.pattern.endswith(_LIST_REST))
            chain = _CHAIN_SPLIT.search(part) is not None
            sides += [_SIDE_TRIM.sub("", x).strip(" '\"‘’“”") for i, x in enumerate(items)
                      if i == 0 or chain or not _CLAUSE_ITEM.match(x.strip())]
        # "the 'attention is not all you need' one": the quoted words
        sides = [re.sub(r"^[\'‘\"“]?([^\'’\"”]{3,}?)[\'’\"”]\s+(?:one|paper|work)$", r"\1", s) for s in sides]
        # "How did the Fourier Neural Operator do on ... compared with ...": the side is what follows the opening
        sides = [re.sub(r"^(?:how\s+(?:does|do|did|is|are|was|were)\s+(?:the\s+)?|what\s+(?:is|are|was|were)\s+"
                        r"(?:the\s+)?|is\s+)", "", s, flags=re.I) for s in sides]
        sides = [s for s in sides if len(s) >= 2]
        if any(x.count("(") != x.count(")") for x in sides):
            continue  # "A (found by pruning and resetting) differ from B": the "and" is inside A
        limit = MAX_FRAMED_SIDE_WORDS if framed else MAX_SIDE_WORDS
        if any(len(_QUOTED_SPAN.sub("Q", s).split()) > limit for s in sides):  # a quoted title: 1 word
            continue  # a clause, not a paper: "... to compare problem difficulty, e.g. pendulum vs. MNIST"
        if any(_PRONOUN_SIDE.match(s) for s in sides):
            continue  # "how do their goals and designs differ": what is compared, not the papers
        if _IN_ONE_PAPER.search(sides[-1]):
            return []  # "... compared to FlashAttention2 in the sigmoid attention paper?": one paper's own comparison
        return sides
    return []
