"""The chat in a real headless browser (Debian chromium driven by Playwright), at a 1366×768 laptop and a
390×844 phone, each in light and dark mode: nothing off-screen after a comparative answer, a refused question
leaves the answer and the box usable, typed HTML stays text, [1] in the first of two answers shows that
answer's source with its quote marked, the conversation survives a reload and exports as Markdown, the
Collection tab lists the 250 papers, the number box corrects itself with a message, colours keep a readable
contrast. Screenshots go to test-output/; RAG_UPDATE_SCREENSHOT=1 also copies the README's ones to docs/."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, free_port

from ui.app import launch
from ui.collection import collection_papers, filter_papers
from ui.conversation import references_of

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
RESMLP = "ResMLP: Feedforward networks for image classification with data-efficient training"
RAFTMLP = "RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality?"
GCNET = "Global Context Networks"
COMPARE, GCNET_Q = "How does ResMLP differ from RaftMLP?", "What is GCNet?"
OUT = ROOT / "test-output"
SCREENS = {"desktop-light", "desktop-dark", "phone-light", "phone-dark"}
# (state, screen) → the file under docs/ the README shows
DOCS = {("answer", "desktop-light"): "chat.png", ("answer", "phone-light"): "chat-phone.png",
        ("cite", "desktop-dark"): "chat-cite-dark.png", ("cite", "phone-dark"): "chat-cite-phone-dark.png",
        ("refused", "desktop-light"): "chat-refused.png", ("abstain", "desktop-dark"): "chat-abstain-dark.png",
        ("abstain", "phone-light"): "chat-abstain-phone.png", ("collection", "desktop-light"): "collection.png",
        ("collection", "phone-dark"): "collection-phone-dark.png"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:::gradio.queueing"),  # pandas deprecations inside gradio
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium "
                       "(run `make browser`, i.e. apt-get install chromium chromium-driver)"),
]


@pytest.fixture(scope="module")
def app_url(engine):
    demo = launch(engine, "127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True)
    yield demo.local_url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module", params=sorted(SCREENS))
def page(request, browser, app_url):
    """One browser tab per screen (size × colour scheme), shared by the tests of that screen."""
    name = request.param
    size = {"width": 1366, "height": 768} if name.startswith("desktop") else {"width": 390, "height": 844}
    ctx = browser.new_context(viewport=size, color_scheme="dark" if name.endswith("dark") else "light",
                              accept_downloads=True, device_scale_factor=1)
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    pg.screen, pg.url0, pg.dialogs, pg.requests = name, app_url, [], []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("request", lambda r: pg.requests.append(r.url))
    yield pg
    ctx.close()


# --- helpers ---------------------------------------------------------------------------------------------------
def expect(locator):
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def fresh(page) -> None:
    """The chat as a new visitor sees it: no stored conversation."""
    page.goto(page.url0)
    page.wait_for_selector("#question textarea")
    page.evaluate("localStorage.clear()")
    page.reload()
    page.wait_for_selector("#question textarea")
    page.locator("#chat .placeholder-content, #chat .ph").first.wait_for()


def ask(page, question: str) -> None:
    n = answers(page).count()
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    answers(page).nth(n).wait_for(state="attached")
    page.wait_for_timeout(400)  # let the chat settle (autoscroll)


def two_answers(page) -> None:
    """The page shows the comparative answer then the GCNet one (reused when a previous test left it so)."""
    users = [u.strip() for u in page.locator('#chat [data-testid="user"]').all_inner_texts()]
    if users != [COMPARE, GCNET_Q] or answers(page).count() != 2:
        fresh(page)
        ask(page, COMPARE)
        ask(page, GCNET_Q)


def answers(page):
    """Bot messages that are answers (they carry their own sources)."""
    return page.locator('#chat [data-testid="bot"]:has(.ans-sources)')


def titles(where) -> list[str]:
    """"n title" of each source card in `where`."""
    cards = where.locator(".src-card")
    return [f"{c.locator('.src-n').inner_text()} {c.locator('.src-title a').inner_text()}" for c in cards.all()]


def wide(page) -> bool:
    return page.screen.startswith("desktop")


def shot(page, state: str) -> None:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{state}-{page.screen}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    target = DOCS.get((state, page.screen))
    if target and os.environ.get("RAG_UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(path, ROOT / "docs" / target)


OFFSCREEN = """() => {
  const w = document.documentElement.clientWidth, out = [];
  const sel = '#question textarea, #ask-btn, #clear-btn, #export-btn, .mode-badge, .app-header h1, #chat, ' +
              '#chat table, #chat .message-content, #sources-col, #tabs button[role="tab"]';
  for (const el of document.querySelectorAll(sel)) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.left < -1 || r.right > w + 1)) out.push(el.id || el.tagName + '.' + el.className);
  }
  return {scroll: document.documentElement.scrollWidth, width: w, off: out};
}"""

# WCAG contrast of text against the first opaque background behind it.
CONTRAST = """(sel) => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = c => (c /= 255) <= .03928 ? c / 12.92 : ((c + .055) / 1.055) ** 2.4;
                               return .2126 * f(r) + .7152 * f(g) + .0722 * f(b); };
  return Array.from(document.querySelectorAll(sel)).filter(e => e.getBoundingClientRect().width > 0).map(e => {
    let bg = null, n = e;
    while (n && !bg) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length >= 3 && (c[3] ?? 1) > .9) bg = c;
      n = n.parentElement;
    }
    const a = lum(rgb(getComputedStyle(e).color)), b = lum(bg || [255, 255, 255]);
    return Math.round((Math.max(a, b) + .05) / (Math.min(a, b) + .05) * 100) / 100;
  });
}"""


def assert_readable(page, selector: str, minimum: float = 4.5) -> None:
    ratios = page.evaluate(CONTRAST, selector)
    assert ratios and min(ratios) >= minimum, (selector, ratios, page.screen)


# --- the tests -------------------------------------------------------------------------------------------------
def test_browser__comparative_answer_fits_the_screen_and_cites_both_papers(page):
    fresh(page)
    assert "extractive (no LLM configured)" in page.inner_text(".mode-badge")
    examples = page.locator("#chat button:has-text('How does ResMLP differ from RaftMLP?')")
    assert examples.bounding_box()["y"] + 20 < page.viewport_size["height"]  # the examples are above the fold
    ask(page, COMPARE)
    bot = answers(page).last
    bot.get_by_text("Side by side").wait_for()
    assert page.locator("#chat table").count() >= 1  # the comparison table renders as a table
    assert page.input_value("#question textarea") == ""
    if wide(page):
        panel = page.locator("#sources")
        assert titles(panel) == [f"1 {RESMLP}", f"2 {RAFTMLP}"]
        assert not bot.locator(".ans-sources").is_visible()  # on a wide screen they are in the panel
    else:
        assert not page.locator("#sources").is_visible()  # on a phone they are under the answer
        bot.locator(".ans-sources > summary").click()
        assert titles(bot.locator(".ans-sources")) == [f"1 {RESMLP}", f"2 {RAFTMLP}"]
        bot.locator(".ans-sources > summary").click()
    layout = page.evaluate(OFFSCREEN)
    assert layout["scroll"] <= layout["width"] and layout["off"] == [], layout
    for sel in ("#ask-btn", "#clear-btn", "#export-btn"):
        box = page.locator(sel).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= layout["width"], sel
    assert_readable(page, "#chat .cite, .mode-badge")
    page.locator("#chat [role=log]").evaluate("e => { e.scrollTop = 0; }")
    page.wait_for_timeout(300)
    shot(page, "answer")


def test_browser__refused_question_keeps_the_answer_visible_and_the_box_typing(page):
    if answers(page).count() == 0:
        fresh(page)
        ask(page, COMPARE)
    first = answers(page).first
    page.click("#ask-btn")  # an empty question
    notice = page.locator("#chat .chat-notice")
    notice.wait_for()
    assert "The question is empty" in notice.inner_text()
    page.wait_for_timeout(300)
    log, box = page.locator("#chat [role=log]").bounding_box(), notice.bounding_box()
    assert log["y"] <= box["y"] and box["y"] + box["height"] <= log["y"] + log["height"] + 1  # scrolled into view
    assert first.is_visible() and RESMLP in first.inner_text()  # the conversation is still there
    answer_box = first.bounding_box()
    assert answer_box["y"] + answer_box["height"] > log["y"] + 40  # ... and on screen, above the notice
    assert page.locator(".error, [data-testid='status-tracker'].error").count() == 0  # no "Error" overlays
    page.click("#question textarea")
    page.keyboard.type("still typing")
    assert page.input_value("#question textarea") == "still typing"
    if wide(page):
        assert RESMLP in page.inner_text("#sources")  # the panel keeps the answer's sources
    assert_readable(page, "#chat .chat-notice")
    shot(page, "refused")
    page.fill("#question textarea", "")


def test_browser__typed_html_creates_no_element_and_runs_nothing(page):
    fresh(page)
    typed = "<img src=x onerror=alert(1)> <b>bold</b>"
    page.fill("#question textarea", typed)
    page.press("#question textarea", "Enter")
    page.locator('#chat [data-testid="bot"]').first.wait_for()
    page.wait_for_timeout(500)
    user = page.locator('#chat [data-testid="user"]').first
    assert user.inner_text().strip() == typed  # shown exactly as typed
    assert page.locator("#chat img, #chat b:has-text('bold')").count() == 0
    assert page.dialogs == [] and not [u for u in page.requests if re.search(r"/x$", u)]


def test_browser__clicking_1_in_the_first_of_two_answers_shows_that_answers_source(page):
    two_answers(page)
    first, second = answers(page).nth(0), answers(page).nth(1)
    first.locator(".cite", has_text="[1]").first.click()
    where = page.locator("#sources") if wide(page) else first.locator(".ans-sources")
    card = where.locator(".src-card.src-focus")
    card.wait_for()
    assert card.locator(".src-n").inner_text() == "1" and card.locator(".src-title a").inner_text() == RESMLP
    marked = card.locator(".src-quote mark").all_inner_texts()
    assert marked[0].startswith("We present ResMLP, an architecture built entirely upon multi-layer perceptrons")
    assert card.is_visible()
    if wide(page):
        assert "Answer 1 of 2" in page.inner_text("#sources .src-pinned")
        assert GCNET not in page.inner_text("#sources")
    assert_readable(page, ".src-focus mark, .src-focus .src-title, .src-tag")
    shot(page, "cite")

    second.locator(".cite", has_text="[1]").first.click()
    where = page.locator("#sources") if wide(page) else second.locator(".ans-sources")
    assert where.locator(".src-card.src-focus .src-title a").inner_text() == GCNET
    if wide(page):
        assert page.locator("#sources .src-pinned").count() == 0  # the latest answer: no "back" bar
        first.locator(".cite", has_text="[2]").first.click()
        assert "Answer 1 of 2" in page.inner_text("#sources .src-pinned")
        page.click("#sources .src-back")
        assert page.locator("#sources .src-pinned").count() == 0 and GCNET in page.inner_text("#sources")


def test_browser__a_new_answer_replaces_a_pinned_older_answers_sources(page):
    two_answers(page)
    if wide(page):
        answers(page).first.locator(".cite", has_text="[1]").first.click()
        page.locator("#sources .src-pinned").wait_for()
    ask(page, "Which papers study anomaly detection?")
    if wide(page):
        page.locator("#sources .src-q", has_text="anomaly detection").wait_for()
        assert page.locator("#sources .src-pinned").count() == 0 and RESMLP not in page.inner_text("#sources")
    page.click("#clear-btn")
    page.locator("#chat .ph").wait_for()
    assert answers(page).count() == 0
    expect(page.locator("#export-btn")).to_be_disabled()  # nothing to export (updated just after the clear)


def test_browser__export_downloads_markdown_whose_references_are_the_cited_titles(page):
    two_answers(page)
    for _ in range(10):  # the file is rewritten just after each answer: wait for the one with both
        with page.expect_download() as info:
            page.click("#export-btn")
        download = info.value
        text = Path(download.path()).read_text(encoding="utf-8")
        if f"## 2. {GCNET_Q}" in text:
            break
        page.wait_for_timeout(300)
    assert re.fullmatch(r"papers-conversation-\d{4}-\d\d-\d\d-\d{4}\.md", download.suggested_filename)
    assert f"## 1. {COMPARE}" in text and f"## 2. {GCNET_Q}" in text
    assert references_of(text) == [RESMLP, RAFTMLP, GCNET]


def test_browser__the_conversation_survives_a_reload(page):
    two_answers(page)
    page.reload()
    page.wait_for_selector("#question textarea")
    answers(page).nth(1).wait_for(state="attached")
    users = page.locator('#chat [data-testid="user"]').all_inner_texts()
    assert [u.strip() for u in users] == [COMPARE, GCNET_Q]
    if wide(page):
        assert GCNET in page.inner_text("#sources")
    answers(page).first.locator(".cite", has_text="[2]").first.click()  # clickable after a reload too
    where = page.locator("#sources") if wide(page) else answers(page).first.locator(".ans-sources")
    focus = where.locator(".src-card.src-focus")
    assert focus.locator(".src-n").inner_text() == "2" and focus.locator(".src-title a").inner_text() == RAFTMLP


def test_browser__abstention_callout_is_readable(page):
    fresh(page)
    ask(page, "What does the collection say about CRISPR gene editing?")
    callout = page.locator("#chat .abstain")
    callout.wait_for()
    assert "Not covered by the collection" in callout.inner_text()
    assert_readable(page, "#chat .abstain p, #chat .abstain li, #chat .abstain strong")
    if wide(page):
        assert_readable(page, "#sources .src-abstain")
    shot(page, "abstain")


def test_browser__number_box_corrects_out_of_range_values_with_a_message(page):
    box = page.locator("#k input[type=number]")
    for typed, fixed in (("50", "20"), ("-3", "0")):
        box.fill("")
        box.type(typed)
        assert box.input_value() == fixed
        assert page.inner_text("#k-note") == (f"Number of sources must be a whole number from 0 (automatic) to 20; "
                                              f"{typed} was changed to {fixed}.")
    box.fill("")
    box.type("7")
    assert box.input_value() == "7" and page.inner_text("#k-note").strip() == ""


def test_browser__collection_tab_lists_all_250_papers_and_filters_them(page, engine):
    page.get_by_role("tab", name=re.compile("Collection")).click()
    items = page.locator("#collection .coll-item")
    items.nth(249).wait_for(state="attached")
    assert items.count() == 250 and page.inner_text("#coll-count") == "All 250 papers"
    page.fill("#coll-search input, #coll-search textarea", "mlp")
    expected = len(filter_papers(collection_papers(engine), "mlp"))
    page.locator("#coll-count", has_text=f"Showing {expected} of 250 papers").wait_for()
    assert items.count() == expected and RESMLP in page.inner_text("#collection")
    layout = page.evaluate(OFFSCREEN)
    assert layout["scroll"] <= layout["width"], layout
    items.first.locator("summary").click()
    shot(page, "collection")
    page.get_by_role("tab", name="Chat").click()
