"""The Chinese app in a real browser (Debian chromium + playwright, fonts-noto-cjk): every page with ?lang=zh
renders, shows no exception box and no untranslated English sentence in the main area, charts and SVG included
(tests/i18n_support.py says what counts); the browser's own language decides without ?lang; the sidebar's
switch changes the language in place and keeps the configuration and the URL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from i18n_support import english_runs

from browser_support import TIMEOUT_MS, assert_no_exception, open_app, wait_idle

pytestmark = pytest.mark.browser

# url path of each page and what proves it rendered (as in test_browser.py)
PAGES = {
    "": "[data-testid=stMarkdown] table",
    "architecture": "[data-testid=stGraphVizChart] svg g.node",
    "channel_shuffle": "[data-testid=stPlotlyChart] svg.main-svg",
    "cost": "[data-testid=stMarkdown] svg",
    "latency": "[data-testid=stMain] [data-testid=stButton]",
    "experiments": "[data-testid=stMain] [data-testid=stButton]",
    "predict": "[data-testid=stPlotlyChart] svg.main-svg",
    "compare": "[data-testid=stMain] [data-testid=stCaptionContainer]",
    "own_model": "[data-testid=stMain] [data-testid=stFileUploader]",
}


def _expect():
    from playwright.sync_api import expect

    return expect


def _query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}


# Streamlit's own uploader chrome ("Browse files", "Limit 20MB per file • JPG, …") cannot be translated
# (streamlit#1353): our labels above it say what to do
CHROME = "[data-testid=stFileUploaderDropzoneInstructions], [data-testid=stFileUploaderDropzone] button"


def _main_text(page) -> list[str]:
    """What the main area shows: its rendered text, and the text of its SVG drawings (plotly, graphviz, ours)."""
    main = page.get_by_test_id("stMain")
    chrome = {line for text in main.locator(CHROME).all_inner_texts() for line in text.splitlines() if line}
    return [line for line in main.inner_text().splitlines() + main.locator("svg text").all_text_contents()
            if line not in chrome]


def _settled(page, path: str) -> None:
    _expect()(page.locator(PAGES[path]).first).to_be_visible()
    wait_idle(page)
    _expect()(page.locator("[data-testid=stMain] [data-stale=true]")).to_have_count(0)


@pytest.mark.parametrize("path", list(PAGES), ids=lambda p: p or "home")
def test_every_page_in_chinese_renders_without_english_sentences(app_url: str, page, path: str) -> None:
    open_app(page, f"{app_url}/{path}?lang=zh")
    _settled(page, path)
    assert_no_exception(page)
    found = [run for line in _main_text(page) for run in english_runs(line)]
    assert not found, f"{path or 'home'}: untranslated English: {sorted(set(found))[:8]}"
    assert _query(page).get("lang") == "zh"
    # the navigation is Chinese too
    _expect()(page.get_by_test_id("stSidebarNavLink").filter(has_text="网络结构")).to_have_count(1)


def test_the_browser_language_decides_without_lang(app_url: str, browser) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        open_app(page, f"{app_url}/cost?model=mobilenet_v1&alpha=0.5")
        _expect()(page.get_by_test_id("stMain").get_by_test_id("stHeading").first).to_have_text("代价")
        wait_idle(page)
        assert _query(page)["lang"] == "zh" and _query(page)["alpha"] == "0.5"
    finally:
        context.close()


def test_the_switch_changes_language_in_place_and_keeps_the_configuration(app_url: str, page) -> None:
    open_app(page, f"{app_url}/cost?lang=zh&model=shufflenet_v1&groups=8&rho=0.5")
    _settled(page, "cost")
    heading = page.get_by_test_id("stMain").get_by_test_id("stHeading").first
    _expect()(heading).to_have_text("代价")
    before = _query(page)
    page.get_by_test_id("stSidebar").get_by_text("English", exact=True).click()
    _expect()(heading).to_have_text("Cost")
    wait_idle(page)
    assert_no_exception(page)
    after = _query(page)
    assert after.pop("lang") == "en" and before.pop("lang") == "zh"
    assert after == before and after["groups"] == "8" and after["rho"] == "0.5"
    page.get_by_test_id("stSidebar").get_by_text("中文", exact=True).click()
    _expect()(heading).to_have_text("代价")
    wait_idle(page)
    assert _query(page)["lang"] == "zh"


def test_two_sessions_in_two_languages_keep_their_own(app_url: str, browser, page) -> None:
    """Sessions are threads of one server process: each rerun sets its own language, whatever ran before it."""
    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    other.set_default_timeout(TIMEOUT_MS)
    try:
        english = other.new_page()
        open_app(page, f"{app_url}/cost?lang=zh")
        open_app(english, f"{app_url}/cost?lang=en")
        for _round in range(2):  # reruns of both sessions, one after the other
            for session in (page, english):
                thumb = session.get_by_test_id("stSidebar").get_by_test_id("stSlider").first.get_by_role("slider")
                thumb.focus()
                thumb.press("ArrowLeft")
                wait_idle(session)
        _expect()(page.get_by_test_id("stMain").get_by_test_id("stHeading").first).to_have_text("代价")
        _expect()(english.get_by_test_id("stMain").get_by_test_id("stHeading").first).to_have_text("Cost")
        assert_no_exception(page)
        assert_no_exception(english)
    finally:
        other.close()
