"""Dev / held-out split of evaluation items (questions, BEIR queries), so that retrieval knobs are chosen on
one half and reported on the other. An item's half depends only on its id and a fixed seed: the same id is
always in the same half, and adding items never moves the others."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Literal, TypeVar

Split = Literal["dev", "heldout"]
SPLITS: tuple[Split, ...] = ("dev", "heldout")
CHOICES = ("dev", "heldout", "all")  # what --split / --queries accept
SEED = "paper-rag-split-1"  # changing it reshuffles every split: never, once numbers have been reported
T = TypeVar("T")


def split_of(item_id: str | int, seed: str = SEED) -> Split:
    """'dev' or 'heldout' for an id, about half each: the parity of a SHA-256 of seed and id."""
    digest = hashlib.sha256(f"{seed}\x00{item_id}".encode()).digest()
    return "dev" if digest[0] % 2 == 0 else "heldout"


def select(items: Iterable[T], which: str, key: Callable[[T], str | int]) -> list[T]:
    """The items of one split ('dev', 'heldout'), or all of them ('all')."""
    if which not in CHOICES:
        raise ValueError(f"split must be one of {', '.join(CHOICES)}, not {which!r}")
    return [x for x in items if which == "all" or split_of(key(x)) == which]
