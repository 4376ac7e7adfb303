"""The app in a real browser (Debian chromium + playwright): what only a browser shows — the graph's SVG, plotly's
paint, keyboard on sliders, the URL bar, page links — and never a Streamlit exception box.

Fixtures and waits come from browser_support.py (see ../shared/BROWSER.md for why each wait is there).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

import lightnets
import ui
from lightnets.formatting import format_count
from browser_support import (assert_no_exception, open_app, press_slider, sidebar_slider, start_server, stop_server,
                             switch_page, wait_idle)

pytestmark = pytest.mark.browser

# url path of each page (st.Page infers it from the file name) and what proves it rendered
PAGES = {
    "": "[data-testid=stMarkdown] table",  # the family table
    "architecture": "[data-testid=stGraphVizChart]",
    "channel_shuffle": "[data-testid=stPlotlyChart]",
    "cost": "[data-testid=stMarkdown] svg",  # the per-layer chart
    "latency": "[data-testid=stMain] [data-testid=stHeading]",
    "predict": "[data-testid=stMain] [data-testid=stHeading]",
}


def _expect():
    from playwright.sync_api import expect

    return expect


def _metric(page, label: str):
    """The value element of the st.metric labelled exactly ``label``."""
    label_el = page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    return page.get_by_test_id("stMetric").filter(has=label_el).get_by_test_id("stMetricValue")


def _plotly_painted(page) -> None:
    _expect()(page.get_by_test_id("stPlotlyChart").first.locator("svg.main-svg").first).to_be_visible()


def _query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}


@pytest.mark.parametrize("path", list(PAGES), ids=lambda p: p or "home")
def test_every_page_renders_without_exception(app_url: str, page, path: str) -> None:
    open_app(page, f"{app_url}/{path}")
    _expect()(page.locator(PAGES[path]).first).to_be_visible()
    if "stPlotlyChart" in PAGES[path]:
        _plotly_painted(page)
    if "stGraphVizChart" in PAGES[path]:
        graph = page.get_by_test_id("stGraphVizChart").first
        _expect()(graph.locator("svg g.node").first).to_be_visible()
        # the edges carry the real tensor shapes: the stem's output at the default configuration
        stem = lightnets.profile(lightnets.config(ui.default_model())).blocks[0].output_shape
        assert "×".join(map(str, stem[1:])) in graph.locator("svg").first.text_content()
    wait_idle(page)
    assert_no_exception(page)
    # the shared sidebar is on every page
    _expect()(sidebar_slider(page, "resolution multiplier")).to_be_visible()


def _layer_chart(page):
    return page.get_by_test_id("stMarkdown").locator("svg").filter(has_text="multiply-adds per layer")


def test_moving_a_slider_updates_the_metrics_the_charts_and_the_url(app_url: str, page) -> None:
    open_app(page, f"{app_url}/cost?model=mobilenet_v2")
    params = _metric(page, "params")
    _expect()(params).to_have_text(format_count(lightnets.profile(lightnets.config("mobilenet_v2")).params))
    _expect()(_layer_chart(page)).to_contain_text(f"sum {lightnets.profile(lightnets.config('mobilenet_v2')).macs:,}")
    press_slider(page, "width multiplier", "ArrowLeft")  # α 1.0 → 0.95
    p = lightnets.profile(lightnets.config("mobilenet_v2", alpha=0.95))
    _expect()(params).to_have_text(format_count(p.params))
    _expect()(_metric(page, "MACs")).to_have_text(format_count(p.macs))
    _expect()(_layer_chart(page)).to_contain_text(f"sum {p.macs:,}")  # the per-layer chart was redrawn
    _expect()(_layer_chart(page)).to_have_count(1)
    _expect()(sidebar_slider(page, "width multiplier").get_by_test_id("stSliderThumbValue")).to_have_text("0.95")
    assert _query(page)["alpha"] == "0.95"
    assert_no_exception(page)


def test_cost_tabs_draw_their_section_and_stay_open(app_url: str, page) -> None:
    open_app(page, f"{app_url}/cost?model=mobilenet_v2")
    _expect()(_layer_chart(page)).to_be_visible()
    page.get_by_role("tab", name="Sweeps").click()
    wait_idle(page)
    sweep = page.get_by_test_id("stPlotlyChart").filter(has_text="Cost against width multiplier α")
    _expect()(sweep.locator("svg.main-svg").first).to_be_visible()
    press_slider(page, "expansion ratio", "ArrowRight")  # t 6 → 7: the Sweeps tab stays open
    seven = lightnets.profile(lightnets.config("mobilenet_v2", expansion=7))
    _expect()(_metric(page, "MACs")).to_have_text(format_count(seven.macs))
    _expect()(sweep.locator("svg.main-svg").first).to_be_visible()
    page.get_by_role("tab", name="Across families").click()
    wait_idle(page)
    _expect()(page.get_by_test_id("stPlotlyChart").filter(has_text="Accuracy against cost")).to_be_visible()
    assert_no_exception(page)


def _sweep_title(page):
    return page.get_by_test_id("stPlotlyChart").filter(has_text="Cost against").locator(".gtitle")


def _pick_model(page, name: str) -> None:
    spec = lightnets.spec(name)
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name=f"{spec.title} ({spec.paper.year})").click()
    wait_idle(page)


def test_the_swept_knob_stays_chosen_while_the_sidebar_moves(app_url: str, page) -> None:
    """Regression: moving a sidebar knob while the Sweeps tab was open reset its radio to α."""
    open_app(page, f"{app_url}/cost?model=mobilenet_v2")
    page.get_by_role("tab", name="Sweeps").click()
    wait_idle(page)
    page.get_by_test_id("stRadio").get_by_text("expansion ratio t").click()
    wait_idle(page)
    _expect()(_sweep_title(page)).to_have_text(["Cost against expansion ratio t"])
    press_slider(page, "width multiplier", "ArrowLeft", times=2)
    page.get_by_test_id("stSidebar").get_by_test_id("stCheckbox").filter(has_text="linear bottleneck").click()
    wait_idle(page)
    press_slider(page, "resolution multiplier", "ArrowLeft")
    _expect()(page.get_by_role("tab", name="Sweeps")).to_have_attribute("aria-selected", "true")
    _expect()(page.get_by_test_id("stRadio").locator("label").filter(has_text="expansion ratio t")
              .locator("input")).to_be_checked()
    _expect()(_sweep_title(page)).to_have_text(["Cost against expansion ratio t"])
    _pick_model(page, "shufflenet_v1")  # another model has its own choice …
    _expect()(_sweep_title(page)).to_have_text([f"Cost against {lightnets.spec('shufflenet_v1').knobs[0].label}"])
    _pick_model(page, "mobilenet_v2")  # … and coming back finds this one's
    _expect()(_sweep_title(page)).to_have_text(["Cost against expansion ratio t"])
    assert_no_exception(page)


def test_selection_is_kept_across_page_switches(app_url: str, page) -> None:
    open_app(page, f"{app_url}/cost?model=mobilenet_v2")
    _expect()(_layer_chart(page)).to_be_visible()
    press_slider(page, "width multiplier", "End")  # α = 2
    wide = lightnets.profile(lightnets.config("mobilenet_v2", alpha=2.0))
    _expect()(_metric(page, "params")).to_have_text(format_count(wide.params))
    switch_page(page, "Architecture")
    thumb = sidebar_slider(page, "width multiplier").get_by_test_id("stSliderThumbValue")
    _expect()(thumb).to_have_text("2.00")
    graph = page.get_by_test_id("stGraphVizChart").first
    _expect()(graph.locator("svg g.node").first).to_be_visible()
    stem = lightnets.profile(lightnets.config("mobilenet_v2", alpha=2.0)).blocks[0].output_shape  # 64 channels at α = 2
    _expect()(graph.locator("svg")).to_contain_text("×".join(map(str, stem[1:])))
    switch_page(page, "Cost")
    wide = lightnets.profile(lightnets.config("mobilenet_v2", alpha=2.0))
    _expect()(_metric(page, "params")).to_have_text(format_count(wide.params))
    assert _query(page)["alpha"] == "2"
    assert_no_exception(page)


def test_a_shared_url_opens_its_configuration(app_url: str, page) -> None:
    open_app(page, f"{app_url}/cost?model=mobilenet_v2&alpha=0.5&expansion=4&rho=0.714")
    p = lightnets.profile(lightnets.config("mobilenet_v2", 160, alpha=0.5, expansion=4))
    _expect()(_metric(page, "MACs")).to_have_text(format_count(p.macs))
    _expect()(_metric(page, "params")).to_have_text(format_count(p.params))
    _expect()(sidebar_slider(page, "width multiplier").get_by_test_id("stSliderThumbValue")).to_have_text("0.50")
    _expect()(page.get_by_test_id("stSidebar")).to_contain_text("input 160×160 px")
    _expect()(page.get_by_test_id("stAlert")).to_have_count(0)
    assert_no_exception(page)


def test_a_bad_link_warns_and_shows_the_defaults(app_url: str, page) -> None:
    open_app(page, f"{app_url}/cost?model=resnet50&alpha=banana")
    _expect()(page.get_by_test_id("stAlert").first).to_contain_text("unknown model 'resnet50'")
    default = lightnets.profile(lightnets.config(ui.default_model()))
    _expect()(_metric(page, "params")).to_have_text(format_count(default.params))
    assert _query(page)["model"] == ui.default_model()
    assert_no_exception(page)


def test_a_deep_link_to_a_fresh_server_goes_through_the_app(browser) -> None:
    """The first request a new server gets decides Streamlit's multipage mode: with a pages/ folder it runs the
    page alone until some session has called st.navigation. ui.sidebar() reroutes it through app.py."""
    proc, url = start_server()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        open_app(page, f"{url}/cost?model=mobilenet_v2&alpha=0.75")
        _expect()(sidebar_slider(page, "width multiplier").get_by_test_id("stSliderThumbValue")).to_have_text("0.75")
        _expect()(_metric(page, "params")).to_have_text(
            format_count(lightnets.profile(lightnets.config("mobilenet_v2", alpha=0.75)).params))
        # the navigation is app.py's (titled pages), not one generated from the folder ("app", "channel shuffle")
        links = page.get_by_test_id("stSidebarNavLink")
        _expect()(links).to_have_count(len(ui.PAGES))
        _expect()(links.nth(2)).to_contain_text("Channel shuffle")
        assert_no_exception(page)
    finally:
        context.close()
        stop_server(proc)


def test_the_shuffle_animation_plays_to_the_permutation(app_url: str, page) -> None:
    open_app(page, f"{app_url}/channel_shuffle")
    _plotly_painted(page)
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.scroll_into_view_if_needed()
    plot = chart.locator(".js-plotly-plot")
    order = "el => el.data[0].ids.map((id, i) => [el.data[0].x[i], Number(id)]).sort((a, b) => a[0] - b[0])" \
            ".map(p => p[1])"
    channels = page.get_by_test_id("stSlider").filter(has_text="channels").first \
        .get_by_test_id("stSliderThumbValue").inner_text()
    groups = page.get_by_test_id("stSlider").filter(has_text="groups g").first \
        .get_by_test_id("stSliderThumbValue").inner_text()
    assert plot.evaluate(order) == list(range(int(channels)))
    chart.get_by_text("play").click()
    expected = list(lightnets.shuffle_frames(int(channels), int(groups)).permutation)
    page.wait_for_function(f"() => {{ const el = document.querySelector('[data-testid=stPlotlyChart] "
                           f".js-plotly-plot'); const o = ({order})(el); return JSON.stringify(o) === "
                           f"'{expected}'.replace(/ /g, ''); }}", timeout=30_000)
    assert_no_exception(page)


@pytest.mark.parametrize("path", list(PAGES), ids=lambda p: p or "home")
def test_a_projector_screen_shows_every_page_without_sideways_overflow(browser, app_url: str, path: str) -> None:
    """1280×720, a classroom projector: nothing sticks out of the main column (no sideways scrolling)."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        open_app(page, f"{app_url}/{path}")
        _expect()(page.locator(PAGES[path]).first).to_be_visible()
        wait_idle(page)
        sticking_out = page.evaluate(
            "() => { const box = document.querySelector('[data-testid=stMainBlockContainer]')"
            ".getBoundingClientRect(); return [...document.querySelectorAll('[data-testid=stMain] *')]"
            ".filter(e => e.getBoundingClientRect().right > box.right + 2).map(e => e.dataset.testid || e.tagName)"
            ".slice(0, 5); }")
        assert sticking_out == []
        main = page.get_by_test_id("stMain")
        assert main.evaluate("m => m.scrollWidth <= m.clientWidth")
        assert_no_exception(page)
    finally:
        context.close()
