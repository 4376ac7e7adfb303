"""Projector mode (?present=1): every chart's text 1.5× (read back from the figure objects), the page's CSS, and
the mode kept in the URL across reruns and page switches."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import lightnets
from lightnets import analysis
from lightnets.figures import cost, shuffle, style

SCALE = style.PRESENT_SCALE
TIMEOUT = 120


def _font_sizes(node: Any, path: str = "") -> dict[str, Any]:
    """Every font size set in a plotly figure dict, by its path."""
    out: dict[str, Any] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            if (key == "font" or key.endswith("font")) and isinstance(value, dict) and "size" in value:
                out[f"{path}.{key}.size"] = value["size"]
            out.update(_font_sizes(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            out.update(_font_sizes(item, f"{path}[{i}]"))
    return out


def _figures() -> dict[str, Any]:
    p = lightnets.profile(lightnets.config("mobilenet_v2"))
    return {
        "shuffle animation (frames, buttons, slider, annotations)":
            shuffle.shuffle_animation(lightnets.shuffle_frames(12, 3), "12 channels, g = 3"),
        "visibility heatmaps": shuffle.visibility_heatmaps(lightnets.group_visibility(12, 3, False),
                                                           lightnets.group_visibility(12, 3, True)),
        "family bubbles": cost.family_chart(analysis.family_points(), p.macs, p.params, None, "MobileNet V2"),
        "separable saving": cost.separable_chart(analysis.separable_pairs(p)[0]),
    }


@pytest.mark.parametrize("name", list(_figures()))
def test_every_font_size_of_a_figure_is_scaled(name: str) -> None:
    fig = _figures()[name]
    before = _font_sizes(fig.to_dict())
    shown = style.scaled(fig)
    after = _font_sizes(shown)
    assert before and set(after) == set(before)
    for path, size in before.items():
        assert after[path] == pytest.approx([s * SCALE for s in size] if isinstance(size, list) else size * SCALE), path
    assert shown["layout"]["font"]["size"] == style.FONT_SIZE * SCALE >= 24
    assert shown["layout"]["height"] == round(fig.layout.height * SCALE)
    assert shown["layout"]["margin"]["l"] == round(fig.layout.margin.l * SCALE)
    assert fig.layout.font.size == style.FONT_SIZE  # the figure itself (perhaps cached) is left as it was
    json.dumps(shown)  # st.plotly_chart takes it as is


def test_a_figure_without_a_font_size_gets_plotly_s_default_scaled() -> None:
    shown = style.scaled({"data": [{"type": "bar", "x": [1], "y": [2]}], "layout": {}})
    assert shown["layout"]["font"]["size"] == style.PLOTLY_DEFAULT_FONT_SIZE * SCALE


def test_html_and_svg_drawings_take_the_scale() -> None:
    p = lightnets.profile(lightnets.config("mobilenet_v2"))
    sizes = re.compile(r'font-size[=:]"?(\d+(?:\.\d+)?)')
    for draw in (cost.layer_svg, cost.kind_share_html):
        normal = [float(s) for s in sizes.findall(draw(p))]
        large = [float(s) for s in sizes.findall(draw(p, SCALE))]
        assert len(large) >= len(normal) > 0  # the SVG's title may wrap onto a second line
        assert min(large) == pytest.approx(min(normal) * SCALE) and max(large) == pytest.approx(max(normal) * SCALE)
    # every line of text still fits the drawing's width (about 0.55 em per character in this font)
    svg = cost.layer_svg(p, SCALE)
    for size, text in re.findall(r'<text [^>]*font-size="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        assert 0.55 * float(size) * len(text) <= cost.SVG_WIDTH, text
    # the bars keep their values (tests and tooltips read them back)
    assert re.findall(r'data-macs="(\d+)"', svg) == re.findall(r'data-macs="(\d+)"', cost.layer_svg(p))


def _app(**query: str) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _presenting(at: AppTest) -> bool:
    css = [h.value for h in at.get("html") if "font-size: 150%" in h.value]
    return bool(css)


def _chart_fonts(at: AppTest) -> list[float]:
    return [json.loads(chart.proto.spec)["layout"]["font"]["size"] for chart in at.get("plotly_chart")]


def test_present_1_survives_reruns_and_page_switches_and_scales_the_charts() -> None:
    at = _app(present="1", model="shufflenet_v1")
    assert not at.exception
    assert _presenting(at) and dict(at.query_params)["present"] == "1"
    assert at.toggle(key="ui.present").value is True
    for page in ("pages/channel_shuffle.py", "pages/cost.py", "pages/channel_shuffle.py"):
        at.switch_page(page).run()
        assert not at.exception, [e.message for e in at.exception]
        assert _presenting(at) and dict(at.query_params)["present"] == "1", page
        assert dict(at.query_params)["model"] == "shufflenet_v1"
    fonts = _chart_fonts(at)
    assert fonts and all(size == style.FONT_SIZE * SCALE for size in fonts)
    at.select_slider(key="ui.rho").set_value(24).run()  # a sidebar move (its URL sync) keeps it
    assert dict(at.query_params)["rho"] == "0.8571"
    assert _presenting(at) and dict(at.query_params)["present"] == "1"
    # switched off from the sidebar: the link, the CSS and the charts follow
    at.toggle(key="ui.present").set_value(False).run()
    assert not _presenting(at) and "present" not in dict(at.query_params)
    assert all(size == style.FONT_SIZE for size in _chart_fonts(at))


def test_the_sidebar_toggle_puts_present_1_into_the_link() -> None:
    at = _app(model="mobilenet_v2")
    at.toggle(key="ui.present").set_value(True).run()
    assert not at.exception
    assert _presenting(at) and dict(at.query_params)["present"] == "1"
    assert dict(at.query_params)["model"] == "mobilenet_v2"


def test_without_present_the_app_is_unchanged_and_bad_values_mean_off() -> None:
    for query in ({}, {"present": "0"}, {"present": "<b>x</b>"}):
        at = _app(**query)
        assert not at.exception
        assert not _presenting(at) and "present" not in dict(at.query_params)
        assert at.toggle(key="ui.present").value is False


@pytest.mark.browser
def test_in_a_browser_the_link_keeps_present_1_across_page_links_and_the_type_is_larger(app_url: str, page) -> None:
    """The frontend rewrites the URL on a page switch: the mode must come back into it, and the CSS with it; the
    Cost page's drawings are larger too."""
    from browser_support import assert_no_exception, open_app, switch_page
    from playwright.sync_api import expect

    open_app(page, f"{app_url}/channel_shuffle?present=1")
    root_px = "() => parseFloat(getComputedStyle(document.documentElement).fontSize)"
    larger = f"() => ({root_px})() === {16 * SCALE}"  # waited for: the CSS arrives with the script's output
    page.wait_for_function(larger, timeout=20_000)
    for title in ("Cost", "Architecture"):
        switch_page(page, title)
        expect(page).to_have_url(re.compile(r"[?&]present=1(&|$)"))
        page.wait_for_function(larger, timeout=20_000)
        if title == "Cost":
            title_size = page.locator("[data-testid=stMarkdown] svg text").first.get_attribute("font-size")
            assert float(title_size) == (style.FONT_SIZE + 5) * SCALE
    assert_no_exception(page)
    page.get_by_test_id("stSidebar").get_by_test_id("stCheckbox").filter(has_text="Projector mode").click()
    expect(page).not_to_have_url(re.compile(r"present="))
    page.wait_for_function(f"() => ({root_px})() === 16")  # off: the CSS went with it
