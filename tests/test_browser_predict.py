"""The Predict page in a real browser: a corrupt upload shows a one-line error and the server keeps serving; a
good photo then gets its predictions. Fixtures (server, chromium, waits) come from browser_support.py; without
chromium or playwright these skip, unless LIGHTNETS_REQUIRE_BROWSER=1."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import lightnets
from browser_support import assert_no_exception, open_app, switch_page, wait_idle

SAMPLES = lightnets.sample_images()


def _image_input(page):
    # the photo uploader comes first on the page; the checkpoint uploader sits further down, in an expander
    return page.get_by_test_id("stFileUploaderDropzoneInput").first


def test_corrupt_upload_then_good_photo(app_url: str, page) -> None:
    from playwright.sync_api import expect

    open_app(page, app_url)
    switch_page(page, "Predict")
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts.nth(1)).to_contain_text("Top-5 ImageNet classes")  # the sample photo's predictions
    assert_no_exception(page)

    broken = SAMPLES["cat"].read_bytes()[:4000]  # a JPEG cut short
    _image_input(page).set_input_files({"name": "broken.jpg", "mimeType": "image/jpeg", "buffer": broken})
    wait_idle(page)
    error = page.get_by_test_id("stAlert").filter(has_text="truncated or damaged")
    expect(error).to_have_count(1)
    assert "\n" not in error.inner_text().strip()
    expect(charts).to_have_count(0)
    assert_no_exception(page)
    with urllib.request.urlopen(f"{app_url}/_stcore/health", timeout=10) as response:
        assert response.read().decode().strip() == "ok"

    _image_input(page).set_input_files(str(Path(SAMPLES["coffee"])))
    wait_idle(page)
    expect(page.get_by_test_id("stAlert").filter(has_text="truncated or damaged")).to_have_count(0)
    expect(charts.nth(1)).to_contain_text("espresso")
    expect(page.get_by_test_id("stMetric").filter(has_text="inference time")).to_contain_text("ms")
    assert_no_exception(page)

    # a file that is no photo: the page says why, in view, and the espresso prediction goes with the photo
    _image_input(page).set_input_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo"})
    wait_idle(page)
    refusal = page.get_by_test_id("stMain").get_by_test_id("stAlert").filter(has_text="notes.txt")
    expect(refusal).to_have_count(1)
    expect(refusal).to_contain_text("not a")
    expect(charts).to_have_count(0)
    expect(page.get_by_test_id("stMetric").filter(has_text="inference time")).to_have_count(0)
    assert_no_exception(page)
