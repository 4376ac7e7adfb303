"""No page asks anything of another host: the app works offline and tells no outside server who opened it (the
page icon used to come from fonts.gstatic.com). Fixtures come from browser_support.py."""

from __future__ import annotations

from urllib.parse import quote, urlparse

import pytest

from browser_support import open_app, switch_page, wait_idle

pytestmark = pytest.mark.browser


LINK = "[click here](http://evil.example/)"
IMAGE = "![x](http://evil.example/p.png)"


def test_no_page_requests_anything_from_another_host(app_url: str, page) -> None:
    """Opened from a shared link that carries a markdown link and image: the warning shows them as text."""
    from playwright.sync_api import expect

    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    open_app(page, f"{app_url}/cost?model=mobilenet_v2&alpha={quote(IMAGE)}&expansion={quote(LINK)}")
    warning = page.get_by_test_id("stMain").get_by_test_id("stAlert").filter(has_text="fell back to defaults")
    expect(warning).to_have_count(1)
    text = warning.inner_text().replace("\u2060", "")  # the invisible joiners that keep a URL from linking
    assert f"alpha='{IMAGE}'" in text and f"expansion='{LINK}'" in text
    expect(page.locator("a[href*='evil.example'], img[src*='evil.example']")).to_have_count(0)
    for title in ("Architecture", "Channel shuffle", "Cost", "Latency", "Experiments", "Predict"):
        switch_page(page, title)
    page.wait_for_timeout(1000)  # the favicon is asked for after the page settles
    wait_idle(page)
    own = urlparse(app_url).netloc
    outside = sorted({url for url in requests
                      if urlparse(url).scheme not in ("data", "blob") and urlparse(url).netloc != own})
    assert outside == []
    assert any(url.endswith((".png", ".ico")) or "favicon" in url or "media" in url for url in requests)
