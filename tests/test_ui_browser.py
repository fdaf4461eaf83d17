"""The chat in a real headless browser (Debian chromium driven by Playwright): type a comparative question,
watch the answer stream in, check the sources panel, and save screenshots to test-output/ (chat.png scrolled
to the question, chat-end.png as streaming left it).
Set RAG_UPDATE_SCREENSHOT=1 to also refresh docs/chat.png (the README's picture)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, free_port

from ui.app import launch

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
RESMLP = "ResMLP: Feedforward networks for image classification with data-efficient training"
RAFTMLP = "RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality?"
OUT = ROOT / "test-output"

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
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pg = browser.new_page(viewport={"width": 1360, "height": 900}, device_scale_factor=1)
        pg.set_default_timeout(30_000)
        yield pg
        browser.close()


def test_browser__comparative_question_streams_a_cited_answer_with_sources(app_url, page):
    page.goto(app_url)
    page.wait_for_selector("#question textarea")
    assert "extractive (no LLM configured)" in page.inner_text(".mode-badge")
    page.fill("#question textarea", "How does ResMLP differ from RaftMLP?")
    page.press("#question textarea", "Enter")

    sources = page.locator("#sources")
    sources.locator(".src-card").nth(1).wait_for()
    bot = page.locator("#chat .message.bot, #chat [data-testid='bot']").last
    bot.get_by_text("Side by side").wait_for()
    answer = bot.inner_text()
    panel = sources.inner_text()
    for title in (RESMLP, RAFTMLP):
        assert title in panel
        assert title in answer
    assert page.locator("#chat table").count() >= 1  # the comparison table renders as a table
    assert page.input_value("#question textarea") == ""

    OUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUT / "chat-end.png"), full_page=True)  # as left after streaming: the table
    page.wait_for_timeout(600)  # let the chat's smooth autoscroll finish before scrolling back up
    log = page.locator("#chat [role=log]")
    log.evaluate("e => { e.scrollTop = 0; }")  # the question and the cited sections
    page.wait_for_timeout(300)
    assert log.evaluate("e => e.scrollTop") == 0
    shot = OUT / "chat.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    if os.environ.get("RAG_UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, ROOT / "docs" / "chat.png")


def test_browser__empty_question_shows_an_error_toast(app_url, page):
    page.goto(app_url)
    page.wait_for_selector("#question textarea")
    page.click("#ask-btn")
    page.get_by_text("The question is empty").first.wait_for()
    assert page.locator("#chat .message").count() == 0
