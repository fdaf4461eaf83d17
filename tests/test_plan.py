"""The planner alone: a table of questions → plans (kind, topic, side labels and the papers each side names),
over a small hand-made name index. No model, no index."""

from __future__ import annotations

import pytest

from rag.aliases import AliasIndex
from rag.focus import focus_of
from rag.plan import plan_query, split_sides

PAPERS = [
    ("resmlp", "ResMLP: Feedforward networks for image classification with data-efficient training",
     "We present ResMLP, an architecture built entirely upon multi-layer perceptrons for image classification."),
    ("raftmlp", "RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality?",
     "We propose RaftMLP, a model that mixes tokens along each axis without attention."),
    ("gcnet", "Global Context Networks",
     "We simplify the non-local block into a lightweight global context block; the network is called the global "
     "context network (GCNet)."),
    ("ptr", "Pointer Networks",
     "We introduce a new neural architecture, called Pointer Net (Ptr-Net), whose outputs are input positions."),
    ("ssvi", "Training Bayesian Neural Networks with Sparse Subspace Variational Inference",
     "We propose Sparse Subspace Variational Inference (SSVI), the first fully sparse BNN framework."),
]


@pytest.fixture(scope="module")
def names() -> AliasIndex:
    return AliasIndex.build(PAPERS)


# question → (kind, topic, [(side label, [paper ids it names])], [paper ids the question names])
TABLE = [
    ("How does ResMLP differ from RaftMLP?", "comparative", None,
     [("ResMLP", ["resmlp"]), ("RaftMLP", ["raftmlp"])], ["resmlp", "raftmlp"]),
    ("ResMLP vs RaftMLP vs GCNet", "comparative", None,
     [("ResMLP", ["resmlp"]), ("RaftMLP", ["raftmlp"]), ("GCNet", ["gcnet"])], ["resmlp", "raftmlp", "gcnet"]),
    ("Compare ResMLP, RaftMLP and GCNet", "comparative", None,
     [("ResMLP", ["resmlp"]), ("RaftMLP", ["raftmlp"]), ("GCNet", ["gcnet"])], ["resmlp", "raftmlp", "gcnet"]),
    ("Compare SSVI with functional priors for Bayesian deep learning", "comparative", None,
     [("SSVI", ["ssvi"]), ("functional priors for Bayesian deep learning", [])], ["ssvi"]),
    ("What is the difference between Pointer Networks and GCNet?", "comparative", None,
     [("Pointer Networks", ["ptr"]), ("GCNet", ["gcnet"])], ["ptr", "gcnet"]),
    # no comparison word: the two names are the sides
    ("ResMLP and RaftMLP: which one needs less data?", "comparative", None,
     [("ResMLP", ["resmlp"]), ("RaftMLP", ["raftmlp"])], ["resmlp", "raftmlp"]),
    ("Which papers study anomaly detection?", "topic", "anomaly detection", [], []),
    ("List all papers on pruning", "topic", "pruning", [], []),
    ("Are there any papers about graph neural networks?", "topic", "graph neural networks", [], []),
    # "A faster than B": a comparison; what follows the second side is the setting, not part of it
    ("Is ResMLP faster than RaftMLP for image classification?", "comparative", None,
     [("ResMLP", ["resmlp"]), ("RaftMLP", ["raftmlp"])], ["resmlp", "raftmlp"]),
    ("Is there a paper better than ResMLP?", "lookup", None, [], ["resmlp"]),
    ("What is GCNet?", "lookup", None, [], ["gcnet"]),
    ("Tell me about Ptr-Net", "lookup", None, [], ["ptr"]),
    ("What is the capital of France?", "lookup", None, [], []),
    # a long clause with "vs." inside a lookup question is not a comparison of papers
    ("Which work optimizes models inside a randomly oriented low-dimensional subspace of parameter space and uses "
     "the smallest subspace size at which solutions appear to compare problem difficulty, e.g. inverted pendulum "
     "vs. MNIST?", "lookup", None, [], []),
]


@pytest.mark.parametrize("question, kind, topic, sides, named", TABLE, ids=[t[0][:40] for t in TABLE])
def test_plan_query__table(names, question, kind, topic, sides, named):
    plan = plan_query(question, names)
    assert plan.kind == kind
    assert plan.topic == topic
    assert [(s.label, [m.paper_id for m in s.named]) for s in plan.sides] == sides
    assert [m.paper_id for m in plan.named] == named
    assert plan.query == question


@pytest.mark.parametrize("question, sides", [
    ("Compare dropout with batch norm", ["dropout", "batch norm"]),
    ("What are the differences between the first method and the second method?", ["first method", "second method"]),
    ("How does MgNO build on DeepONet?", ["MgNO", "DeepONet"]),
    ("MgNO compared to DeepONet", ["MgNO", "DeepONet"]),
    ("'SSVI' vs 'GCNet'", ["SSVI", "GCNet"]),
    ("Can you compare Adam to SGD in terms of speed?", ["Adam", "SGD"]),
    ("What is GCNet?", []),
    ("How does the Lion optimizer, discovered by program search, compare with AdamW?", ["Lion optimizer", "AdamW"]),
    ("How do GraphSAGE and graph attention networks compare on node classification?",
     ["GraphSAGE", "graph attention networks"]),
    ("How does MgNO compare on Darcy flow?", []),
    ("How do 2DMSE and AdANNS each build on Matryoshka representations?", ["2DMSE", "AdANNS"]),
    ("How do RWKV and RetNet compare as recurrent alternatives to the Transformer?",
     ["RWKV", "RetNet"]),
    # terse: after a spaced dash comes the question about the two (set G)
    ("ptr-net vs lstm seq2seq - how do they differ?", ["ptr-net", "lstm seq2seq"]),
    ("What is the key disagreement between the NTK paper and SVCCA?", ["NTK paper", "SVCCA"]),
])
def test_split_sides__table(question, sides):
    assert split_sides(question) == sides


@pytest.mark.parametrize("question, sides", [
    # after an explicit frame a side may be a whole description, longer than a name
    ("How does the idea of sparse subnetworks that train well from their original random initialization differ "
     "from finding high-performing sparse subnetworks inside pre-trained models without any weight training?",
     ["idea of sparse subnetworks that train well from their original random initialization",
      "finding high-performing sparse subnetworks inside pre-trained models without any weight training"]),
    ("Both the 'SGD finds then tunes features' paper and the random feature amplification paper analyze XOR data. "
     "How do their findings differ?", ["SGD finds then tunes features", "random feature amplification"]),
    ("One paper uses a sharpness-aware optimizer to train ViTs; another questions whether flatness explains "
     "generalization. Contrast the two.",
     ["uses a sharpness-aware optimizer to train ViTs", "questions whether flatness explains generalization"]),
    # without a frame, a long "side" is still a clause of a lookup question
    ("Which method is better for long documents with many tables and figures in scanned pages vs. the plain "
     "text extraction baseline?", []),
])
def test_split_sides__framed_descriptions(question, sides):
    assert split_sides(question) == sides


def test_split_sides__a_quoted_title_counts_as_one_word():
    sides = split_sides("Compare the associative memory of 'Hopfield Networks is All You Need' with the dense Hebbian "
                        "networks analysed via statistical mechanics")
    assert sides == ["associative memory of 'Hopfield Networks is All You Need",
                     "dense Hebbian networks analysed via statistical mechanics"]


@pytest.mark.parametrize("question, phrase, subjects", [
    ("Can SparseGPT prune OPT-175B in one shot?", "SparseGPT prune OPT-175B", ("SparseGPT",)),
    ("FedAvg convergence on non-IID data — is there anything on that?", "FedAvg convergence", ("FedAvg",)),
    ("membership inference attacks: can an adversary tell?", "membership inference attacks", ()),
    ("ok now something else: metric learning for zero-shot retrieval", "metric learning", ()),
    ("What zero-shot perplexity did the 1.5B-parameter GPT-2 model report?", "1.5B-parameter GPT-2 model",
     ("GPT-2",)),
    ("What BLEU did the multilayer LSTM encoder-decoder get?", "multilayer LSTM encoder-decoder get", ()),
    ("speedup over FlashAttention-2 when heads attend to shards?", "speedup over FlashAttention-2", ()),
    ("Did anyone later tackle that routing problem?", None, ()),
    ("NeuRBF and the location encoder both use sinusoids. How do they differ?", None, ()),
    # set F/G: "In X, how ...?" is about X (not a long description of a paper); chat shorthand is not; a subject
    # after a long object; a size is not a name
    ("In elastic weight consolidation, how is the Fisher information used?", "elastic weight consolidation", ()),
    ("In the LSTM encoder-decoder work on WMT'14 English-to-French, what BLEU did it get?", None, ()),
    ("btw whats ResMLP?", "ResMLP", ("ResMLP",)),
    ("what sliding-window size and grouped-query attention configuration does Mistral 7B use?", "Mistral 7B",
     ("Mistral 7B",)),
    ("7M param recursive 2-layer model on arc-agi-1 accuracy?", "7M param recursive 2-layer model", ()),
])
def test_focus__subject_phrase_of_terse_and_long_openings(question, phrase, subjects):
    f = focus_of(question)
    assert (f.subject_phrase, f.subjects) == (phrase, subjects)
