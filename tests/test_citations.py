"""Citation handling as pure functions: the forms models write, renumbering in order of first appearance,
quoted bracket numbers shown as text, claims found in sentences and table cells, and the support check
(with the real embedder, since support is partly semantic)."""

from __future__ import annotations

import pytest

from rag import citations as cite
from rag.text import split_sentences


@pytest.mark.parametrize("group, expected", [("1", [1]), ("1, 3", [1, 3]), ("1-3", [1, 2, 3]), ("2–4", [2, 3, 4]),
                                             ("2-2021", [2, 2021])])
def test_numbers__lists_and_ranges(group, expected):
    assert cite.numbers(group) == expected


def test_normalize__source_forms_become_brackets():
    assert cite.normalize("It works [Source 2] and [sources 1, 3].") == "It works [2] and [1, 3]."


@pytest.mark.parametrize("text, n, expected, order", [
    ("A [3]. B [1]. C [3].", 3, "A [1]. B [2]. C [1].", [3, 1]),
    ("A [2, 9]. B [1-2].", 2, "A [1]. B [2][1].", [2, 1]),  # [9] is not a source: dropped
    ("Only [7] here .", 3, "Only here.", []),
    ("A [1][1].", 1, "A [1][1].", [1]),
])
def test_renumber__valid_citations_numbered_in_order_of_appearance(text, n, expected, order):
    assert cite.renumber(text, n) == (expected, order)


def test_defuse__bracket_numbers_that_are_not_citations_become_parentheses():
    assert cite.defuse("As in [99], we cite [1].", {1}) == "As in (99), we cite [1]."


def test_claims__sentences_and_table_cells_with_their_citations():
    text = ("### [1] A heading\nResMLP uses only linear layers and MLPs [1]. See [2].\n"
            "| Paper | Result |\n|---|---|\n| ResMLP [1] | Reaches good accuracy on ImageNet [1] |")
    assert cite.claims(text) == [("ResMLP uses only linear layers and MLPs [1].", [1]),
                                 ("Reaches good accuracy on ImageNet [1]", [1])]


ABSTRACT = ("We present ResMLP, an architecture built entirely upon multi-layer perceptrons for image classification. "
            "When trained with heavy data augmentation, it attains surprisingly good accuracy/complexity trade-offs "
            "on ImageNet.")


@pytest.fixture(scope="module")
def sentences(engine):
    sents = split_sentences(ABSTRACT)
    return {1: (sents, engine.embedder.embed(sents))}


def test_check_support__supported_and_unsupported_claims(engine, sentences):
    text = ("ResMLP is built entirely from multi-layer perceptrons for image classification [1]. "
            "The authors won a Nobel prize for protein folding in 1998 [1].")
    support = cite.check_support(text, sentences, engine.embedder.embed, threshold=0.35)
    assert support.unsupported == ["The authors won a Nobel prize for protein folding in 1998 [1]."]
    assert support.quotes == {1: split_sentences(ABSTRACT)[0]}
    marked = cite.mark_unsupported(text, support.unsupported)
    assert marked.endswith("in 1998 [1]. *(unsupported by the cited abstract)*")


def test_check_support__claims_citing_no_known_source_are_not_checked(engine, sentences):
    assert cite.check_support("Something entirely different about rockets [4].", sentences,
                              engine.embedder.embed, 0.35) == cite.Support([], {})
