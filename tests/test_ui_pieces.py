"""The chat's pieces without a server: source cards (the quoted sentence marked inside its abstract), links,
dates, escaping of typed text, the stored conversation and its restore, the Markdown export and the
Collection filters (the last three over the real 250-paper corpus)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from rag import Answer, Citation, Hit, Paper
from rag.errors import InputError
from ui.collection import (
    ALL_FILES,
    ANY_YEAR,
    NO_DATE,
    SORTS,
    collection_html,
    collection_papers,
    filter_choices,
    filter_papers,
)
from ui.conversation import export_markdown, references_of, stored, turn_record, valid_turns
from ui.render import (
    SEARCH_URL,
    answer_markdown,
    cite_links,
    mark_spans,
    nice_date,
    paper_link,
    passage_html,
    quoted_for,
    sources_html,
    user_markdown,
)
from ui.session import answer_turns, check_k, new_session, restore_session

RESMLP = "ResMLP: Feedforward networks for image classification with data-efficient training"
RAFTMLP = "RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality?"
GCNET = "Global Context Networks"
ABSTRACT = ("We study cats. Cats sleep a lot, more than 12 hours a day. We measure it with collars. Collars are "
            "cheap. Results hold for dogs.")


def _answer() -> Answer:
    paper = Paper("p1", "A & B: Title?", ABSTRACT, date="2021-08-09", date_text="Aug 9", upvotes=12,
                  n_authors=5, authors=["Ann One", "Bo Two", "Cy Three", "Di Four"])
    hit = Hit("p1", "A & B: Title?", 1.0377, "Cats sleep a lot", named_as="A&B", similarity=0.61, paper=paper)
    other = Hit("p2", "Uncited <paper>", 0.015, "x", paper=Paper("p2", "Uncited <paper>", "x", upvotes=0,
                                                                  date_text="May 24"))
    text = "Cats sleep a lot, more than 12 hours a day. [1] We measure it with collars. [1] Also [3]."
    return Answer("How long do cats sleep?", text,
                  [Citation(1, "p1", "A & B: Title?", "Cats sleep a lot, more than 12 hours a day.")], [hit, other],
                  False, "extractive")


def test_sources_html__card_marks_every_quoted_sentence_inside_its_abstract_with_meta_and_link():
    out = sources_html(_answer())
    card = out.split('class="src-card"', 1)[1].split("</details>", 1)[0]
    assert '<span class="src-n">1</span>' in card and "A &amp; B: Title?" in card
    excerpt = card.split('class="src-quote">', 1)[1].split("</div>", 1)[0]
    assert excerpt == ("We study cats. <mark>Cats sleep a lot, more than 12 hours a day.</mark> "
                       "<mark>We measure it with collars.</mark> Collars are cheap. <span class=\"gap\">…</span>")
    assert "Aug 9, 2021" in out and "Ann One, Bo Two, Cy Three et al." in out and "▲ 12" in out
    assert "score" not in out.split('title="', 1)[0]  # raw scores only inside the explained tooltip
    assert "named in the question: A&amp;B" in out and "Retrieval score 1.038" in out
    assert f'href="{SEARCH_URL}%22A+%26+B%3A+Title%3F%22"' in out  # no URL, no arXiv id: exact-title search
    assert ">Google Scholar title search ↗</a>" in out
    assert "1 more retrieved, not cited" in out and "Uncited &lt;paper&gt;" in out
    assert "May 24" not in out and "▲ 0" not in out and "upvote" not in out.replace("Upvotes on", "")


def test_passage_html__quote_not_in_the_abstract_is_shown_as_given():
    out = passage_html(ABSTRACT, ["An LLM paraphrase <of> it."])
    assert '<div class="src-quote">“An LLM paraphrase &lt;of&gt; it.”</div>' in out and "<mark>" not in out
    assert mark_spans(ABSTRACT, ["cats SLEEP a lot"]) == [(15, 31)]  # any case, whitespace normalised


def test_quoted_for__the_sentences_an_answer_puts_n_after_including_clipped_table_cells():
    text = ("### [1] Title\nFirst quoted sentence of one. [1] The second one is right here. [2]\n\n"
            "| Paper | Problem |\n|---|---|\n| Title [1] | A long sentence clipped by the table … [1] |")
    assert quoted_for(text, 1) == ["First quoted sentence of one.", "A long sentence clipped by the table"]
    assert quoted_for(text, 2) == ["The second one is right here."]


def test_cite_links__only_numbers_that_are_citations_become_clickable():
    out = cite_links("a [1] b [2] c [10]", {1, 10})
    assert out == ('a <span class="cite" role="button" tabindex="0" title="Show source 1">[1]</span> b [2] c '
                   '<span class="cite" role="button" tabindex="0" title="Show source 10">[10]</span>')


def test_answer_markdown__engine_text_is_inert_and_sources_fold_under_it():
    ans = _answer()
    ans.text = "For “<img src=x>” ![t](http://e/x.png) [1]\n- Some paper (similarity 0.00)"
    out = answer_markdown(ans)
    assert "<img" not in out and "&lt;img src=x&gt;" in out and "!\\[t]" in out
    assert "- Some paper\n" in out and "similarity 0.00" not in out
    assert out.count('<details class="ans-sources"><summary>Sources (1)</summary><div class="src-panel">') == 1


@pytest.mark.parametrize(("paper_id", "url", "expected"), [
    ("p", "https://example.org/paper", ("https://example.org/paper", "paper page")),
    ("p", "https://arxiv.org/abs/2105.03404", ("https://arxiv.org/abs/2105.03404", "arXiv:2105.03404")),
    ("arxiv-2105.03404v2", None, ("https://arxiv.org/abs/2105.03404v2", "arXiv:2105.03404v2")),
    ("2105.03404", "javascript:alert(1)", ("https://arxiv.org/abs/2105.03404", "arXiv:2105.03404")),
    ("cs/0501001", None, ("https://arxiv.org/abs/cs/0501001", "arXiv:cs/0501001")),
    ("resmlp-d1dce80c", None, (SEARCH_URL + "%22Res+MLP%3A+x%22", "Google Scholar title search")),
])
def test_paper_link__url_then_arxiv_id_then_exact_title_search(paper_id, url, expected):
    assert paper_link(paper_id, "Res MLP: x", Paper(paper_id, "t", "a", url=url)) == expected


def test_nice_date_and_user_markdown():
    assert [nice_date(d) for d in ("2021-08-09", "2021-08", "2021", None, "May 24", "2021-02-30")] == [
        "Aug 9, 2021", "Aug 2021", "2021", None, None, None]
    assert user_markdown("<img src=x onerror=alert(1)> *a* [l](u) # h") == \
        "&lt;img src=x onerror=alert(1)&gt; \\*a\\* \\[l\\](u) # h"
    assert user_markdown("# title") == "\\# title" and user_markdown("1. item") == "1\\. item"


def test_check_k__whole_numbers_0_to_20_with_a_message_otherwise():
    assert [check_k(v) for v in (None, "", 0, 0.0, 5, 20.0)] == [None, None, None, None, 5, 20]
    for bad in (-3, 50, 2.5, "x"):
        with pytest.raises(InputError, match="whole number from 0 \\(automatic\\) to 20"):
            check_k(bad)


# --- the conversation as data, over the real corpus ----------------------------------------------------------
@pytest.fixture(scope="module")
def live(engine):
    """Two real answers and a refused question, as a browser session would have them."""
    session = new_session()
    for q in ("How does ResMLP differ from RaftMLP?", "", "What is GCNet?"):
        *_, (chat, panel, accepted) = answer_turns(engine, q, 0, None, session)
    return session


def test_restore_session__stored_turns_rebuild_the_same_chat_and_history(live, engine):
    saved = json.loads(json.dumps(stored(live["turns"])))  # what the browser keeps
    papers = {p.paper_id: p for p in collection_papers(engine)}
    again = restore_session(saved, papers)
    assert [t["q"] for t in again["turns"]] == ["How does ResMLP differ from RaftMLP?", "What is GCNet?"]
    assert again["chat"] == live["chat"] and again["panel"] == live["panel"]  # same rendering as when asked
    bad = {"v": 1, "turns": [{"q": "<x>", "answer": {"text": 3}}, "junk", {"q": 5}, {"q": "ok", "error": "e"},
                             {"q": "a", "answer": {"text": "t [1]", "citations": [{"n": "1"}], "sources": [None]}}]}
    assert [t["q"] for t in valid_turns(bad)] == ["ok", "a"]
    assert restore_session(bad, papers)["chat"][1]["content"].startswith('<div class="chat-error">')
    assert valid_turns({"v": 99, "turns": live["turns"]}) == [] and valid_turns("nonsense") == []


def test_export_markdown__each_answer_with_its_sources_then_the_cited_references(live, engine):
    papers = {p.paper_id: p for p in collection_papers(engine)}
    md = export_markdown(live["turns"], papers, now=datetime(2025, 1, 2, 3, 4))
    assert md.startswith("# Ask the papers: conversation\n\nExported 2025-01-02 03:04 · 2 questions.")
    assert "## 1. How does ResMLP differ from RaftMLP?" in md and "## 2. What is GCNet?" in md
    assert references_of(md) == [RESMLP, RAFTMLP, GCNET]
    assert f"1. [{RESMLP}]({SEARCH_URL}" in md and "<span" not in md and "<div" not in md
    assert turn_record("q", error="boom") == {"q": "q", "error": "boom"}
    assert "*Could not answer: boom*" in export_markdown([turn_record("q", error="boom")], {})


def test_collection__250_papers_searchable_and_filterable_by_year_and_file(engine):
    papers = collection_papers(engine)
    assert len(papers) == 250 and len({p.paper_id for p in papers}) == 250
    years, files = filter_choices(papers)
    assert years[0] == ANY_YEAR and years[-1] == f"{NO_DATE} (224)" and "2023 (9)" in years
    assert files[0] == ALL_FILES and len(files) == 6
    assert sum(int(f.rsplit("(", 1)[1].rstrip(")")) for f in files[1:]) == 291  # every dump entry counted
    mlp = filter_papers(papers, "mlp feedforward")
    assert RESMLP in [p.title for p in mlp] and all("mlp" in (p.title + p.abstract).lower() for p in mlp)
    y2023 = filter_papers(papers, year="2023 (9)")
    assert len(y2023) == 9 and all(p.date.startswith("2023") for p in y2023)
    assert len(filter_papers(papers, year=f"{NO_DATE} (224)")) == 224
    one_file = files[1].rsplit(" (", 1)
    assert len(filter_papers(papers, source=files[1])) == int(one_file[1].rstrip(")"))
    newest = filter_papers(papers, sort=SORTS[1])
    assert newest[0].date == max(p.date for p in papers if p.date) and newest[-1].date is None
    html = collection_html(papers, mlp)
    assert f"Showing {len(mlp)} of 250 papers" in html and html.count('class="coll-item"') == len(mlp)
    assert "All 250 papers" in collection_html(papers, papers)
    assert "<mark>MLP</mark>" in collection_html(papers, mlp, "mlp")  # the search words are marked
