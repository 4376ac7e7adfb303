"""A classroom on one fresh server: eight sessions open at the same moment, before any session has warmed
anything up. Every page must come up without an exception box, and the server's log must show no traceback
(plotly's lazy pandas import, torch's first ops, fx tracing and caches filled on first use all raced here before
``lightnets.warmup`` ran once at server start)."""

from __future__ import annotations

import tempfile

import pytest

from browser_support import TIMEOUT_MS, assert_no_exception, start_server, stop_server, wait_idle

pytestmark = pytest.mark.browser

SESSIONS = 8
# what proves each page rendered; the pages with plotly charts come twice (plotly's lazy imports raced)
PAGES = [
    ("channel_shuffle", "[data-testid=stPlotlyChart] svg.main-svg"),
    ("cost", "[data-testid=stMarkdown] svg"),
    ("architecture", "[data-testid=stGraphVizChart] svg g.node"),
    ("predict", "[data-testid=stPlotlyChart] svg.main-svg"),
    ("latency", "[data-testid=stButton]"),
    ("experiments", "[data-testid=stMain] [data-testid=stHeading]"),
    ("", "[data-testid=stMarkdown] table"),
    ("channel_shuffle", "[data-testid=stPlotlyChart] svg.main-svg"),
]


def _rendered(page, selector: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator(selector).first).to_be_visible(timeout=3 * TIMEOUT_MS)
    wait_idle(page, 3 * TIMEOUT_MS)
    assert_no_exception(page)


def test_eight_sessions_open_at_once_on_a_cold_server(browser) -> None:
    with tempfile.TemporaryFile() as log:
        proc, url = start_server(log=log)
        contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(SESSIONS)]
        try:
            pages = [context.new_page() for context in contexts]
            # "commit" returns as soon as the navigation starts: the eight loads (and script runs) overlap
            for page, (path, _) in zip(pages, PAGES):
                page.goto(f"{url}/{path}", wait_until="commit")
            for page, (_, selector) in zip(pages, PAGES):
                _rendered(page, selector)
            # and every session moves on to the next page at once (each page is opened again, now warm)
            for k, page in enumerate(pages):
                page.goto(f"{url}/{PAGES[(k + 1) % SESSIONS][0]}", wait_until="commit")
            for k, page in enumerate(pages):
                _rendered(page, PAGES[(k + 1) % SESSIONS][1])
        finally:
            for context in contexts:
                context.close()
            stop_server(proc)
        log.seek(0)
        output = log.read().decode(errors="replace")
    assert "Traceback" not in output and "Exception" not in output, output[-3000:]
