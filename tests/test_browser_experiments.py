"""The Experiments page in a real browser (Debian chromium + playwright): a quick run with its progress, verdicts
and plotly charts; the spiral's slider; and another session's slider reruns going on while an experiment runs.

The server runs in its own process, so the experiments run with their real quick-mode budgets (seconds each).
"""

from __future__ import annotations

import pytest
from browser_support import assert_no_exception, open_app, press_slider, wait_idle

import lightnets
from lightnets.formatting import format_count

pytestmark = pytest.mark.browser
RUN_MS = 90_000  # a quick run on a busy 2-core machine, with room to spare


def _expect():
    from playwright.sync_api import expect

    return expect


def _pick(page, title: str) -> None:
    page.get_by_test_id("stMain").get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name=title).click()
    wait_idle(page)


def _verdicts(page):
    return page.get_by_test_id("stMain").get_by_test_id("stAlert")


def test_a_quick_run_shows_verdicts_and_charts(app_url: str, page) -> None:
    open_app(page, f"{app_url}/experiments")
    _pick(page, "ShuffleNet V2 G2: group convolutions")
    _expect()(page.get_by_text("Excessive group convolution increases MAC", exact=False).first).to_be_visible()
    _expect()(_verdicts(page)).to_have_count(0)
    page.get_by_role("button", name="Run the experiment").click()
    _expect()(_verdicts(page)).to_have_count(2, timeout=RUN_MS)
    wait_idle(page, RUN_MS)
    _expect()(_verdicts(page).first).to_contain_text("memory access (cost model, ×1)")
    _expect()(_verdicts(page).nth(1)).to_contain_text("g = 8 against g = 1")
    chart = page.get_by_test_id("stPlotlyChart").filter(has_text="G2: throughput relative to the first row")
    _expect()(chart.locator("svg.main-svg").first).to_be_visible()
    _expect()(page.get_by_text("Machine load", exact=False).first).to_be_visible()
    assert_no_exception(page)


def test_the_spiral_redraws_on_its_slider(app_url: str, page) -> None:
    open_app(page, f"{app_url}/experiments")
    _pick(page, "MobileNetV2: why the bottleneck is linear")
    title = page.get_by_test_id("stPlotlyChart").filter(has_text="the spiral recovered after ReLU").locator(".gtitle")
    _expect()(title).to_have_text(["n = 3, seed 0: the spiral recovered after ReLU, and after a linear layer"])
    slider = page.get_by_test_id("stMain").get_by_test_id("stSlider").filter(has_text="dimensions n")
    slider.get_by_role("slider").focus()
    slider.get_by_role("slider").press("ArrowRight")
    wait_idle(page)
    _expect()(title).to_have_text(["n = 4, seed 0: the spiral recovered after ReLU, and after a linear layer"])
    _expect()(_verdicts(page)).to_have_count(2)
    assert_no_exception(page)


def test_other_sessions_rerun_while_an_experiment_runs(app_url: str, browser, page) -> None:
    """A classroom: one student runs an experiment; another moves a slider on the Cost page meanwhile and sees the
    new figures at once, not after the experiment."""
    open_app(page, f"{app_url}/experiments")
    _pick(page, "SqueezeNet and SqueezeNext: parameter savings")  # about 15 s in quick mode
    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        student = other.new_page()
        open_app(student, f"{app_url}/cost?model=mobilenet_v2")
        page.get_by_role("button", name="Run the experiment").click()
        _expect()(page.get_by_test_id("stProgress")).to_be_visible()  # the run has started
        press_slider(student, "width multiplier", "ArrowLeft")  # α 1.0 → 0.95
        p = lightnets.profile(lightnets.config("mobilenet_v2", alpha=0.95))
        metric = student.get_by_test_id("stMetric").filter(has_text="MACs").first.get_by_test_id("stMetricValue")
        _expect()(metric).to_have_text(format_count(p.macs))
        # … while the experiment still runs: the rerun did not wait for it (how fast it was is benchmarks' business)
        _expect()(page.get_by_test_id("stProgress")).to_be_visible(timeout=1000)
        _expect()(_verdicts(page)).to_have_count(6, timeout=RUN_MS)
        assert_no_exception(student)
    finally:
        other.close()
    assert_no_exception(page)


def test_the_nas_reward_rereads_its_measurement_as_w_moves(app_url: str, page) -> None:
    open_app(page, f"{app_url}/experiments")
    _pick(page, "The NAS reward: accuracy against latency at a target")
    page.get_by_role("button", name="Run the experiment").click()
    _expect()(_verdicts(page)).to_have_count(2, timeout=RUN_MS)
    wait_idle(page, RUN_MS)
    _expect()(_verdicts(page).first).to_contain_text("w = -0.07")
    slider = page.get_by_test_id("stMain").get_by_test_id("stSlider").filter(has_text="exponent w")
    slider.get_by_role("slider").focus()
    slider.get_by_role("slider").press("ArrowLeft")  # −0.08: the same measurement, reread
    wait_idle(page)
    _expect()(_verdicts(page).first).to_contain_text("w = -0.08")
    _expect()(page.get_by_text("Not run yet", exact=False)).to_have_count(0)
    _expect()(page.get_by_test_id("stPlotlyChart").filter(has_text="Reward of the three leaders")).to_be_visible()
    assert_no_exception(page)
