"""Records that flow through the pipeline: Paper → Chunk → Hit → Answer (with Citations).
Plain dataclasses so every face (API, CLI JSON, UI, eval) shares one shape; `to_dict()` is the JSON contract."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Source:
    """Where one copy of a paper was read: file, 1-based line of its title, ordinal within the file."""

    file: str
    line: int
    position: int


@dataclass
class Paper:
    paper_id: str
    title: str
    abstract: str
    authors: list[str] = field(default_factory=list)
    n_authors: int | None = None
    date: str | None = None  # ISO yyyy-mm-dd when the year is known
    date_text: str | None = None  # as printed on the page ("Jun 12" when no year is shown)
    upvotes: int | None = None
    url: str | None = None
    sources: list[Source] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Chunk:
    chunk_id: str  # "<paper_id>#<ordinal>"
    paper_id: str
    title: str
    ordinal: int
    text: str  # the passage (part of the abstract)
    embed_text: str  # what the embedder sees: title + passage


@dataclass
class Hit:
    """One paper found for a query. `text` is its best-matching passage; the typed fields below say why it
    was found and are read by the answerer and the chat (they are not part of `to_dict()`)."""

    paper_id: str
    title: str
    score: float
    text: str
    side: str | None = None  # for comparisons: which side of the question this paper answers
    similarity: float = 0.0  # best cosine similarity of the paper's passages to the query
    bm25: float = 0.0  # best BM25 score of the paper's passages
    named_as: str | None = None  # the paper's own name as the query wrote it ("ResMLP"), if any
    chunk_id: str | None = None  # the passage `text` comes from
    paper: Paper | None = None  # the whole record: abstract, authors, date, url, sources

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"paper_id": self.paper_id, "title": self.title, "score": round(self.score, 4),
                             "text": self.text}
        if self.side is not None:
            d["side"] = self.side
        return d


@dataclass
class Citation:
    n: int
    paper_id: str
    title: str
    quote: str

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "paper_id": self.paper_id, "title": self.title, "quote": self.quote}


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    sources: list[Hit]
    abstained: bool
    mode: Literal["llm", "extractive"]
    standalone_question: str | None = None
    notice: str | None = None  # e.g. "LLM endpoint failed (HTTP 500); showing the extractive answer"
    unsupported: list[str] = field(default_factory=list)  # sentences whose citation does not support them
    model: str | None = None
    # Why the answer abstains or covers the question only in part, in words ("No abstract in the collection
    # mentions AlphaFold."), and the focus terms of the question that no cited evidence contains.
    reason: str | None = None
    missing: list[str] = field(default_factory=list)
    # LLM mode: sentences whose citation was added by post-hoc attribution (the model wrote them uncited; they
    # are shown as written here, with the added [n]), the share of the model's sentences the sources support,
    # and seconds to the model's first token and for the whole LLM part.
    attributed: list[str] = field(default_factory=list)
    supported_share: float | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "sources": [h.to_dict() for h in self.sources],
            "abstained": self.abstained,
            "mode": self.mode,
            "standalone_question": self.standalone_question,
            "notice": self.notice,
            "unsupported": list(self.unsupported),
            "model": self.model,
            "reason": self.reason,
            "missing": list(self.missing),
            "attributed": list(self.attributed),
            "supported_share": self.supported_share,
            "timings": dict(self.timings),
        }


class Waiting(str):
    """What `Engine.ask_stream` yields, as an empty text piece, when a request has gone to the model and nothing
    has come back yet: `model` is who is being waited for, `step` what for ("rewriting the follow-up",
    "answering from 3 sources"). Code that only joins text pieces is unaffected."""

    model: str
    step: str

    def __new__(cls, model: str, step: str) -> Waiting:
        obj = super().__new__(cls, "")
        obj.model, obj.step = model, step
        return obj
