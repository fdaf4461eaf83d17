"""Retrieval on the real corpus (250 papers, real embedder, real embedded Chroma): exact titles at rank 1,
nicknames, comparisons with sides, topic questions, hostile input, and `rag search --json` matching the API."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import RAW, ROOT, VENV_BIN

from rag.corpus import load_corpus
from rag.errors import InputError
from rag.types import Hit

RESMLP = "ResMLP: Feedforward networks for image classification with data-efficient training"
RAFTMLP = "RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality?"
SCALING_MLPS = "Scaling MLPs: A Tale of Inductive Bias"
SSVI = "Training Bayesian Neural Networks with Sparse Subspace Variational Inference"
FUNCTIONAL_PRIOR = "All You Need is a Good Functional Prior for Bayesian Deep Learning"
GCNET = "Global Context Networks"
MIXED_TEACHER = "MixedTeacher : Knowledge Distillation for fast inference textural anomaly detection"
FOD = "Focus the Discrepancy: Intra- and Inter-Correlation Learning for Image Anomaly Detection"


@pytest.fixture(scope="module")
def papers():
    result = load_corpus([RAW])
    assert len(result.papers) == 250, f"expected the 250-paper corpus, parsed {len(result.papers)}"
    return result.papers


@pytest.fixture(scope="module")
def titles(papers) -> list[str]:
    out = [p.title for p in papers]
    assert len(set(out)) == len(out), "titles in the corpus are expected to be unique"
    return out


@pytest.fixture(scope="module")
def eval_questions() -> list[dict]:
    path = ROOT / "eval" / "questions.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def titles_of(hits: list[Hit]) -> list[str]:
    return [h.title for h in hits]


def assert_well_formed(hits, k: int, corpus_titles: set[str]) -> None:
    assert isinstance(hits, list)
    assert len(hits) <= k
    assert all(isinstance(h, Hit) for h in hits)
    assert len({h.paper_id for h in hits}) == len(hits), "one hit per paper"
    assert all(h.paper_id and isinstance(h.text, str) and h.text for h in hits)
    assert set(titles_of(hits)) <= corpus_titles
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True), "hits must be best first"
    json.dumps([h.to_dict() for h in hits])  # the CLI's --json must be able to print them


# --- exact titles -----------------------------------------------------------------------------------------
def test_index_holds_every_corpus_paper(engine, titles):
    assert engine.stats()["papers"] == len(titles) == 250


def test_every_title_verbatim_is_rank_1(engine, titles):
    failures = []
    for title in titles:
        hits = engine.search(title, k=5)
        if not hits or hits[0].title != title:
            failures.append(f"{title!r} → {titles_of(hits)[:3]}")
    assert failures == [], f"{len(failures)}/{len(titles)} titles not at rank 1:\n" + "\n".join(failures)


# --- nicknames --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("query, expected", [
    ("How does ResMLP differ from RaftMLP?", [RESMLP, RAFTMLP]),
    ("Compare SSVI with functional priors for Bayesian deep learning", [SSVI]),
    ("What is GCNet?", [GCNET]),
])
def test_nickname_query_puts_named_papers_in_top_3(engine, query, expected):
    top3 = titles_of(engine.search(query, k=5))[:3]
    missing = [t for t in expected if t not in top3]
    assert missing == [], f"{query!r}: {missing} not in top 3 {top3}"


def test_gcnet_nickname_is_rank_1_and_named(engine):
    hits = engine.search("What is GCNet?", k=5)
    assert hits[0].title == GCNET
    assert hits[0].named_as == "GCNet"
    assert all(h.named_as is None for h in hits[1:])


@pytest.mark.parametrize("query, expected", [
    ("resmlp", RESMLP),
    ("RESMLP", RESMLP),
    ('"RaftMLP"', RAFTMLP),
    ("RaftMLPs", RAFTMLP),
    ("(RaftMLP).", RAFTMLP),
    ("gcnet", GCNET),
    ("GCNets!", GCNET),
    ("ssvi", SSVI),
    ('"SortedNet"', "SortedNet, a Place for Every Network and Every Network in its Place: Towards a Generalized "
                    "Solution for Training Many-in-One Neural Networks"),
])
def test_nickname_tolerates_case_punctuation_and_plural(engine, query, expected):
    hits = engine.search(query, k=5)
    assert hits[0].title == expected, f"{query!r} → {titles_of(hits)[:3]}"
    assert hits[0].named_as is not None, f"{query!r} was not recognised as a name"


@pytest.mark.parametrize("query, expected", [("'SSVI'", SSVI), ("What does 'Scaling MLPs' conclude?", SCALING_MLPS)])
def test_single_quoted_name_starting_with_s_is_recognised(engine, query, expected):
    hits = engine.search(query, k=5)
    assert hits[0].title == expected
    assert hits[0].named_as is not None


# --- comparisons ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("query, sides", [
    ("How does ResMLP differ from RaftMLP?", [("ResMLP", RESMLP), ("RaftMLP", RAFTMLP)]),
    ("Compare SSVI with functional priors for Bayesian deep learning",
     [("SSVI", SSVI), ("functional priors for Bayesian deep learning", FUNCTIONAL_PRIOR)]),
    ("MixedTeacher vs FOD", [("MixedTeacher", MIXED_TEACHER), ("FOD", FOD)]),
    ("resmlp VS raftmlp", [("resmlp", RESMLP), ("raftmlp", RAFTMLP)]),
    ("ResMLP and RaftMLP: which is better?", [("ResMLP", RESMLP), ("RaftMLP", RAFTMLP)]),  # sides from names
])
def test_comparative_hits_carry_sides_and_each_sides_best_paper_leads(engine, query, sides):
    hits = engine.search(query, k=5)
    assert [(h.side, h.title) for h in hits[:len(sides)]] == sides
    assert all(h.side is None for h in hits[len(sides):]), [(h.side, h.title) for h in hits]
    assert len(hits) == 5
    assert [h.to_dict()["side"] for h in hits[:len(sides)]] == [s for s, _ in sides]
    assert all("side" not in h.to_dict() for h in hits[len(sides):])


def test_comparative_returns_every_side_even_when_k_is_smaller(engine):
    hits = engine.search("How does ResMLP differ from RaftMLP?", k=1)
    assert titles_of(hits) == [RESMLP, RAFTMLP]


def test_lookup_hits_have_no_side(engine):
    assert all(h.side is None for h in engine.search("pruning at initialization", k=5))


def test_three_way_comparison_gives_each_paper_a_side(engine):
    hits = engine.search("Compare GCNet, ResMLP and RaftMLP", k=5)
    with_side = {h.title for h in hits if h.side}
    assert with_side == {GCNET, RESMLP, RAFTMLP}


def test_eval_comparative_questions_have_both_gold_papers_in_top_5(engine, eval_questions):
    failures = []
    # "partial" comparisons have one side outside the collection: only that side is gold
    comparative = [q for q in eval_questions if q["type"] == "comparative" and not q.get("partial")]
    assert len(comparative) == 24
    for q in comparative:
        top5 = titles_of(engine.search(q["question"], k=5))
        missing = [t for t in q["gold_titles"] if t not in top5]
        if missing:
            failures.append(f"{q['id']}: missing {missing}; got {top5}")
    assert failures == [], "\n".join(failures)


# --- topics -----------------------------------------------------------------------------------------------
def test_anomaly_detection_gold_set_matches_the_corpus(papers, eval_questions):
    by_corpus = {p.title for p in papers if "anomal" in (p.title + " " + p.abstract).lower()}
    by_eval = next(set(q["gold_titles"]) for q in eval_questions if q["id"] == "topic-01")
    assert by_corpus == by_eval == {MIXED_TEACHER, FOD}


def test_topic_query_returns_all_anomaly_detection_papers_first(engine):
    hits = engine.search("Which papers study anomaly detection?", k=10)
    assert set(titles_of(hits)[:2]) == {MIXED_TEACHER, FOD}, titles_of(hits)


# --- bad input --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["", "   ", "\n\t  \u3000"])
def test_empty_or_whitespace_query_raises_input_error(engine, query):
    with pytest.raises(InputError, match=r"the query is empty"):
        engine.search(query, k=5)


def test_non_string_query_raises_input_error(engine):
    with pytest.raises(InputError):
        engine.search(None, k=5)  # type: ignore[arg-type]


def test_10000_character_query_returns_hits_with_a_truncation_notice(engine, titles):
    unit = "sparse subspace variational inference SSVI for Bayesian neural networks "
    query = (unit * (10_000 // len(unit) + 1))[:10_000]
    assert len(query) == 10_000
    hits = engine.search(query, k=5)
    assert_well_formed(hits, 5, set(titles))
    assert len(hits) == 5
    assert hits[0].title == SSVI
    result = engine.searcher.search_with_plan(query, 5)  # the notice is only exposed on the plan level
    limit = engine.settings.max_query_chars
    assert result.notice is not None and f"only the first {limit} were used" in result.notice
    assert titles_of(result.hits) == titles_of(hits)


def test_short_query_has_no_notice(engine):
    assert engine.searcher.search_with_plan("GCNet", 5).notice is None


@pytest.mark.parametrize("query", ["@#$%^&*", "机器学习的注意力机制", "apprentissage par renforcement",
                                   "\u200b", "💥🔥", "' OR 1=1; --", "<script>alert(1)</script>"])
def test_odd_queries_return_a_well_formed_list(engine, titles, query):
    hits = engine.search(query, k=5)
    assert_well_formed(hits, 5, set(titles))


@pytest.mark.parametrize("k, expected", [(1, 1), (3, 3), (10, 10)])
def test_k_bounds_the_number_of_lookup_hits(engine, k, expected):
    assert len(engine.search("neural network pruning", k=k)) == expected


@pytest.mark.parametrize("k", [0, -4])
def test_k_below_one_is_refused(engine, k):
    with pytest.raises(InputError, match=f"k must be a whole number of at least 1, not {k}"):
        engine.search("neural network pruning", k=k)


# --- CLI --------------------------------------------------------------------------------------------------
def run_rag(corpus_index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_INDEX_DIR": str(corpus_index), "RAG_DATA_DIR": str(RAW)}
    return subprocess.run([str(VENV_BIN / "rag"), *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)


@pytest.mark.parametrize("query, k", [("How does ResMLP differ from RaftMLP?", 5), ("pruning at initialization", 3),
                                      ("Which papers study anomaly detection?", 10)])
def test_cli_search_json_prints_exactly_the_api_hits(engine, cli_index, query, k):
    expected = [h.to_dict() for h in engine.search(query, k)]
    proc = run_rag(cli_index, "search", query, "-k", str(k), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected


def test_cli_search_empty_query_is_a_one_line_error(cli_index):
    proc = run_rag(cli_index, "search", "")
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert lines == ["error: the query is empty; type some words, a title or a paper's name"], proc.stderr
    assert "Traceback" not in proc.stderr


def test_aliases__a_one_word_title_that_many_papers_use_is_no_name():
    from rag.aliases import AliasIndex

    others = [(f"p{i}", f"Paper {i} on tissue", f"In summary, cells grow in culture {i}.") for i in range(5)]
    idx = AliasIndex.build([("odd", "in", "A paper whose title is a stray word."),
                            ("sum", "Summary", "Cells divide."), ("mamba", "Mamba", "A state space model."), *others])
    assert idx.find("Insulin release in islets: a summary") == []  # SciFact has documents titled "in", "Summary"
    assert [m.paper_id for m in idx.find("what is mamba?")] == ["mamba"]  # a rare one-word title is still a name


def test_aliases__examples_and_earlier_work_are_not_the_papers_names():
    from rag.aliases import AliasIndex

    idx = AliasIndex.build([("final", "FinalMLP: An Enhanced Two-Stream MLP Model",
                             "Many two-stream models (e.g., DeepFM and DCN) have been proposed. We propose FinalMLP.")])
    assert idx.find("How does DeepFM work?") == [] and idx.find("What is DCN?") == []
    assert [m.paper_id for m in idx.find("What is FinalMLP?")] == ["final"]



def test_aliases__a_title_head_many_papers_use_is_a_term_not_a_name():
    from rag.aliases import AliasIndex

    others = [(f"p{i}", f"Study {i}", f"Cell death follows stress in tissue {i}.") for i in range(4)]
    idx = AliasIndex.build([("cd", "Cell death: a review of its pathways", "We review pathways."),
                            ("resmlp", "ResMLP: Feedforward networks", "We present ResMLP."), *others])
    assert idx.find("Immune complexes trigger cell death") == []  # 5 papers use "cell death"
    assert [m.paper_id for m in idx.find("How does ResMLP work?")] == ["resmlp"]


# --- exact dense search -----------------------------------------------------------------------------------
def test_dense_search_is_exact_over_every_stored_embedding(engine):
    import numpy as np

    searcher = engine.searcher
    state = searcher.state
    assert state.vectors is not None and state.vectors.shape == (state.count, engine.embedder.dim)
    query = "pruning neural networks at initialization"
    stored = engine.store().vectors(state.chunk_ids)
    matrix = np.stack([stored[c] for c in state.chunk_ids])
    vec = engine.embedder.embed([query])[0]
    sims = matrix @ vec / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(vec))
    want = [int(r) for r in np.argsort(-sims, kind="stable")[:20]]
    got = searcher.dense(state, query, 20)
    assert sorted(got, key=lambda r: -got[r]) == want  # the true 20 nearest chunks, in order
    assert got[want[0]] == pytest.approx(float(sims[want[0]]), abs=1e-5)


def test_exact_search_off_uses_the_hnsw_index(engine):
    from rag.retrieve import Searcher

    hnsw = Searcher(engine.store(), engine.embedder, engine.settings.model_copy(update={"exact_search_max_chunks": 0}))
    assert hnsw.state.vectors is None
    hits = hnsw.search("Pointer Networks", 3)
    assert hits[0].title == "Pointer Networks"
