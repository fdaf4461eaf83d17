"""Synthetic corpus generator for scale benchmarks: papers made by recombining the real abstracts.

    python -m eval.synth --n 10000 --out file.jsonl [--seed 0] [--data data/raw]

The real corpus (parsed with `rag.corpus.load_corpus`, default data/raw) is split into sentences; each
synthetic paper draws its number of sentences from the real distribution (sentences per real abstract) and
then that many sentences at random from the pool of all real sentences. Titles are recombined from the words
of real titles (length drawn from the real title-length distribution) and made unique with a short suffix
when needed, since `rag.corpus.merge` folds papers with the same normalized title into one. Ids are
`synth-<seed>-<index>`: stable for a given (seed, index) and independent of n. (`rag ingest` keeps a JSONL `id`
only when it looks like an arXiv id, so in the index these papers get the title-slug id of
`rag.corpus.paper_id_for`, which is just as stable since the titles are deterministic.)

The text is realistic in length and vocabulary but not in meaning: use it to measure speed, memory and disk,
not retrieval quality. The output is JSONL with `title`, `abstract`, `id`, which `rag ingest` reads.

Sentences come from `split_sentences`, and only sentences that split back to themselves are kept in the pool,
so an abstract built by joining pool sentences with spaces splits back into exactly those sentences
(eval/bench_scale.py relies on this to compose chunk vectors from cached sentence vectors).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.corpus import load_corpus, normalize_title
from rag.text import split_sentences
from rag.types import Paper

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "data" / "raw"

_TITLE_WORD = re.compile(r"[^\s]+")


def _well_formed(sentence: str) -> bool:
    return (len(sentence) >= 20 and split_sentences(sentence) == [sentence]
            and sentence[0].isupper() and sentence[-1] in ".!?")


@dataclass(frozen=True)
class Pool:
    sentences: tuple[str, ...]  # distinct well-formed real sentences
    n_sentences: tuple[int, ...]  # sentences per real abstract (the length distribution)
    title_words: tuple[str, ...]  # every word of every real title (with repeats: frequency-weighted)
    title_lengths: tuple[int, ...]  # words per real title


@lru_cache(maxsize=4)
def load_pool(data: Path = DEFAULT_DATA) -> Pool:
    parsed = load_corpus([data])
    if not parsed.papers:
        raise SystemExit(f"no papers could be read from {data}")
    seen: dict[str, None] = {}
    lengths: list[int] = []
    words: list[str] = []
    title_lengths: list[int] = []
    for p in parsed.papers:
        sents = split_sentences(p.abstract)
        lengths.append(max(1, len(sents)))
        for s in sents:
            if _well_formed(s):
                seen.setdefault(s, None)
        tw = _TITLE_WORD.findall(p.title)
        words.extend(tw)
        title_lengths.append(max(2, len(tw)))
    return Pool(tuple(seen), tuple(lengths), tuple(words), tuple(title_lengths))


def generate(n_papers: int, seed: int = 0, data: Path = DEFAULT_DATA) -> list[Paper]:
    """`n_papers` synthetic papers, deterministic for (n_papers, seed); paper i is the same for any n > i."""
    pool = load_pool(Path(data))
    titles: set[str] = set()
    out: list[Paper] = []
    for i in range(n_papers):
        rng = random.Random(f"{seed}:{i}")  # per-paper stream: paper i does not depend on n
        n = rng.choice(pool.n_sentences)
        abstract = " ".join(rng.choice(pool.sentences) for _ in range(n))
        words = [rng.choice(pool.title_words) for _ in range(rng.choice(pool.title_lengths))]
        title = " ".join(words)
        key = normalize_title(title)
        if key in titles:  # keep titles unique (the corpus merges papers by normalized title)
            title = f"{title} {i:x}"
            key = normalize_title(title)
        titles.add(key)
        out.append(Paper(paper_id=f"synth-{seed}-{i}", title=title, abstract=abstract))
    return out


def write_jsonl(papers: list[Paper], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for p in papers:
            f.write(json.dumps({"title": p.title, "abstract": p.abstract, "id": p.paper_id}, ensure_ascii=False))
            f.write("\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.synth", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, required=True, help="number of papers")
    ap.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="real corpus to recombine (default data/raw)")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be at least 1")
    papers = generate(args.n, args.seed, args.data)
    write_jsonl(papers, args.out)
    pool = load_pool(args.data)
    print(f"wrote {len(papers)} papers to {args.out} (from {len(pool.sentences)} real sentences, "
          f"{len(pool.n_sentences)} real abstracts)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
