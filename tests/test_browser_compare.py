"""The Compare page in a real browser: A and B from the address bar, a slider of B moving the URL, the interleaved
latency on its button, the reloaded link showing the same pair, and "compare with…" one click from another page.
Fixtures come from browser_support.py; without chromium or playwright these skip, unless
LIGHTNETS_REQUIRE_BROWSER=1."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

import lightnets
from browser_support import assert_no_exception, open_app, wait_idle

pytestmark = pytest.mark.browser


def _query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}


def _exact(page) -> str:
    return page.get_by_test_id("stCaptionContainer").filter(has_text="Exactly: A").inner_text()


def test_compare_page_url_latency_and_link(app_url: str, page) -> None:
    from playwright.sync_api import expect

    open_app(page, f"{app_url}/compare?a_model=squeezenet1_1&a_rho=0.25&b_model=squeezenet1_1&b_rho=0.5")
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text="Exactly: A")).to_be_visible()
    a, b = lightnets.config("squeezenet1_1", 56), lightnets.config("squeezenet1_1", 112)
    text = _exact(page)
    assert f"A {lightnets.profile(a).macs:,} MACs" in text and f"B {lightnets.profile(b).macs:,} MACs" in text
    query = _query(page)
    assert query["a_rho"] == "0.25" and query["b_rho"] == "0.5" and query["b_model"] == "squeezenet1_1"

    # B's ρ slider (the second one on the page) moves the URL and the figures
    thumb = page.get_by_test_id("stMain").get_by_test_id("stSlider").filter(
        has_text="resolution multiplier").nth(1).get_by_role("slider")
    thumb.focus()
    thumb.press("ArrowRight")
    wait_idle(page)
    b = lightnets.config("squeezenet1_1", 120)
    expect(page.get_by_test_id("stCaptionContainer").filter(
        has_text=f"B {lightnets.profile(b).macs:,} MACs")).to_be_visible()
    assert _query(page)["b_rho"] == "0.5357"

    page.get_by_role("button", name="Measure A and B").click()
    ratio = page.get_by_test_id("stMetric").filter(has_text="B/A").get_by_test_id("stMetricValue")
    expect(ratio).to_contain_text("×", timeout=180_000)  # 5 rounds of both; a busy machine takes longer
    wait_idle(page)
    assert page.get_by_test_id("stCaptionContainer").filter(has_text="Per-round ratios B/A").count() == 1
    assert_no_exception(page)

    # the link, opened again, shows the same pair
    link = page.url
    open_app(page, link)
    expect(page.get_by_test_id("stCaptionContainer").filter(
        has_text=f"B {lightnets.profile(b).macs:,} MACs")).to_be_visible()

    # one click from another page: A (and B) start at the sidebar's configuration
    open_app(page, f"{app_url}/cost?model=ghostnet")
    page.get_by_test_id("stSidebar").get_by_role("link", name="Compare with…").click()
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text="Exactly: A")).to_be_visible()
    wait_idle(page)
    query = _query(page)
    assert urlparse(page.url).path.endswith("/compare")
    assert query["a_model"] == query["b_model"] == "ghostnet"
    assert "same configuration" in page.get_by_test_id("stAlert").first.inner_text()
    assert_no_exception(page)
