"""The plotly figures carry exactly the lightnets data they are drawn from."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import lightnets
from lightnets import analysis
from lightnets.figures import cost as cost_figures
from lightnets.figures import shuffle as shuffle_figures
from lightnets.figures.style import GROUP_COLORS, OP_COLORS
from lightnets.layers import channel_shuffle

NAMES = lightnets.list_models()


# --------------------------------------------------------------------------------------------------
# cost


def _bars(svg: str, key: str) -> list[tuple[int, int, float, str]]:
    """(layer index, value, bar height, colour) of every bar of the ``key`` panel (macs or params)."""
    found = re.findall(r'<rect [^>]*height="([0-9.]+)" fill="([^"]+)" data-layer="([0-9]+)" data-' + key
                       + r'="([0-9]+)"', svg)
    return [(int(i), int(v), float(h), c) for h, c, i, v in found]


@pytest.mark.parametrize("name", NAMES)
def test_layer_bars_sum_to_the_profile_totals(name: str) -> None:
    p = lightnets.profile(lightnets.config(name))
    svg = cost_figures.layer_svg(p)
    rows = [row for row in p.layers if row.macs]
    macs, params = _bars(svg, "macs"), _bars(svg, "params")
    assert [i for i, *_ in macs] == [i for i, *_ in params] == list(range(len(rows)))
    assert sum(v for _, v, _, _ in macs) == p.macs
    # one bar per conv/FC layer in each panel; the params of layers without MACs (BatchNorm) are named instead
    without_macs = sum(row.params for row in p.layers if not row.macs)
    assert sum(v for _, v, _, _ in params) + without_macs == p.params
    assert bool(re.search(f" adds? {without_macs:,} more", svg)) == bool(without_macs)
    for (_, value, height, color), row in zip(macs, rows):
        assert value == row.macs and color == OP_COLORS[row.op]
    # bar heights are proportional to the values, on one scale per panel
    top = max(macs, key=lambda bar: bar[1])
    for _, value, height, _ in macs:
        assert height == pytest.approx(top[2] * value / top[1], abs=0.01)


def test_layer_chart_marks_the_stages_in_forward_order() -> None:
    p = lightnets.profile(lightnets.config("mobilenet_v2"))
    svg = cost_figures.layer_svg(p)
    stages = list(dict.fromkeys(row.stage for row in p.layers if row.macs))
    assert re.findall(r'class="stage">([^<]+)<', svg) == stages
    assert svg.count('stroke-dasharray="3,3"') == len(stages) - 1  # where each stage after the first begins
    assert "MobileNet V2 at 224×224" in svg and "the 53 conv and FC layers" in svg
    # every bar names its layer, its shapes and its exact cost when hovered
    first = next(row for row in p.layers if row.macs)
    assert f"<title>{first.name} (stem), dense: 3×224×224 → 32×112×112; {first.macs:,} MACs" in svg


def test_nice_ticks_cover_the_largest_value_in_round_steps() -> None:
    assert cost_figures.nice_ticks(20.1e6) == [0, 5e6, 10e6, 15e6, 20e6, 25e6]
    assert cost_figures.nice_ticks(1.28e6) == [0, 0.5e6, 1e6, 1.5e6]
    assert cost_figures.nice_ticks(0.3) == [0, 0.1, 0.2, 0.3]
    for top in (1, 7, 99, 12345, 3.3e8):
        ticks = cost_figures.nice_ticks(top)
        assert ticks[0] == 0 and ticks[-1] >= top and 3 <= len(ticks) <= 7


def test_pointwise_convs_dominate_mobilenet_v2_macs() -> None:
    svg = cost_figures.layer_svg(lightnets.profile(lightnets.config("mobilenet_v2")))
    per_color: dict[str, int] = {}
    for _, value, _, color in _bars(svg, "macs"):
        per_color[color] = per_color.get(color, 0) + value
    assert max(per_color, key=per_color.get) == OP_COLORS["pointwise"]
    assert per_color[OP_COLORS["pointwise"]] > 0.8 * sum(per_color.values())


def test_layer_bars_follow_the_knobs() -> None:
    wide = _bars(cost_figures.layer_svg(lightnets.profile(lightnets.config("mobilenet_v2", alpha=1.4))), "macs")
    narrow = _bars(cost_figures.layer_svg(lightnets.profile(lightnets.config("mobilenet_v2", alpha=0.5))), "macs")
    assert sum(v for _, v, _, _ in wide) > 2 * sum(v for _, v, _, _ in narrow)


def _segments(html: str, what: str) -> dict[str, float]:
    """kind → width in % of the HTML share bar of ``what`` (MACs or params)."""
    found = re.findall(r'title="([^:"]+): [0-9.]+% of the ' + what + r'" style="width:([0-9.]+)%;', html)
    return {kind: float(width) for kind, width in found}


@pytest.mark.parametrize("name", ["mobilenet_v2", "shufflenet_v1", "squeezenet1_0"])
def test_kind_shares_add_up_to_100_percent(name: str) -> None:
    p = lightnets.profile(lightnets.config(name, alpha=0.75) if name == "mobilenet_v2" else lightnets.config(name))
    html = cost_figures.kind_share_html(p)
    for what, by_kind, total in (("MACs", p.macs_by_kind(), p.macs), ("params", p.params_by_kind(), p.params)):
        widths = _segments(html, what)
        assert sum(widths.values()) == pytest.approx(100, abs=0.01)
        assert widths == pytest.approx({k: 100 * v / total for k, v in by_kind.items() if v}, abs=0.001)
    for kind, _, _ in cost_figures.kind_shares(p):  # each kind in its colour everywhere, and in the legend
        assert f"background:{OP_COLORS[kind]};color:white" in html and f"</span>{kind}</span>" in html


def test_mobilenet_v2_share_bar_shows_pointwise_dominating() -> None:
    html = cost_figures.kind_share_html(lightnets.profile(lightnets.config("mobilenet_v2")))
    assert max(_segments(html, "MACs").items(), key=lambda kv: kv[1])[0] == "pointwise"
    assert ">89%</div>" in html  # labelled inside its segment


def test_separable_chart_stacks_the_two_convs_against_the_dense_one() -> None:
    pair = analysis.separable_pairs(lightnets.profile(lightnets.config("mobilenet_v2")))[5]
    fig = cost_figures.separable_chart(pair)
    dense, depthwise, pointwise = fig.data
    assert dense.y[0] == pair.standard_macs
    assert depthwise.y[0] + pointwise.y[0] == pair.separable_macs
    assert f"{pair.ratio:.3f}" in fig.layout.title.text


def test_sweep_highlights_the_current_profile() -> None:
    knobs = {"alpha": 0.75, "expansion": 4, "linear_bottleneck": True}
    points = analysis.knob_sweep(lightnets.Config("mobilenet_v2", knobs), "expansion", rho=6 / 7)
    fig = cost_figures.sweep_chart(points, "t", current=4)
    p = lightnets.profile(lightnets.config("mobilenet_v2", 192, **knobs))
    stars = [t for t in fig.data if t.name == "current"]
    assert [(s.x[0], s.y[0]) for s in stars] == [(4, p.macs), (4, p.params)]
    macs_line = next(t for t in fig.data if t.name == "MACs")
    assert list(macs_line.x) == list(range(1, 11))
    assert list(macs_line.y) == [pt.macs for pt in points]
    # the panels start at zero, so a knob that barely moves the cost does not look like it swings it
    assert fig.layout.yaxis.rangemode == fig.layout.yaxis2.rangemode == "tozero"


def test_sweep_of_a_toggle_uses_a_category_axis_and_shows_latency() -> None:
    points = analysis.knob_sweep(lightnets.config("mobilenet_v2"), "linear_bottleneck")
    latency = {False: (10.0, 9.0, 12.0), True: (11.0, 10.5, 11.5)}
    fig = cost_figures.sweep_chart(points, "linear bottleneck", current=True, latency=latency)
    assert fig.layout.xaxis.type == "category"
    timing = next(t for t in fig.data if t.name == "latency (median)")
    assert list(timing.x) == ["false", "true"] and list(timing.y) == [10.0, 11.0]
    assert list(timing.error_y.array) == [2.0, 0.5] and list(timing.error_y.arrayminus) == [1.0, 0.5]


def test_sweep_leaves_out_settings_that_cannot_build() -> None:
    points = [analysis.SweepPoint(1, {}, 224, 10, 100), analysis.SweepPoint(2, {}, 0, None, None, "no"),
              analysis.SweepPoint(3, {}, 224, 30, 300)]
    fig = cost_figures.sweep_chart(points, "k", current=2)
    assert list(next(t for t in fig.data if t.name == "MACs").x) == [1, 3]
    assert not [t for t in fig.data if t.name == "current"]


def test_family_chart_places_every_published_result_and_the_current_star() -> None:
    points = analysis.family_points()
    p = lightnets.profile(lightnets.config("mobilenet_v2"))
    fig = cost_figures.family_chart(points, p.macs, p.params, 72.0, "MobileNet V2")
    bubbles = [t for t in fig.data if t.name != "current"]
    placed = sorted((x, y) for t in bubbles for x, y in zip(t.x, t.y))
    assert placed == sorted((pt.macs, pt.top1) for pt in points)
    star = next(t for t in fig.data if t.name == "current")
    assert (star.x[0], star.y[0]) == (p.macs, 72.0)
    assert fig.layout.xaxis.type == "log"


def test_family_chart_marks_an_unpublished_setting_with_a_line() -> None:
    p = lightnets.profile(lightnets.config("mobilenet_v2", alpha=0.6))
    fig = cost_figures.family_chart(analysis.family_points(), p.macs, p.params, None, "MobileNet V2")
    assert not [t for t in fig.data if t.name == "current"]
    assert [shape.x0 for shape in fig.layout.shapes] == [p.macs]


@pytest.mark.parametrize(("name", "knobs", "anchor"), [("mobilenet_v3_small", {"alpha": 0.5}, "left"),
                                                        ("mobilenet_v2", {"alpha": 1.6}, "right")])
def test_the_unpublished_label_reads_into_the_chart(name: str, knobs: dict, anchor: str) -> None:
    p = lightnets.profile(lightnets.config(name, **knobs))
    fig = cost_figures.family_chart(analysis.family_points(), p.macs, p.params, None, lightnets.spec(name).title)
    label = fig.layout.annotations[0]
    assert label.xanchor == anchor and label.text.endswith("no published top-1")  # never cut off at an edge


def test_the_family_chart_labels_its_log_axis_in_round_numbers() -> None:
    p = lightnets.profile(lightnets.config("mobilenet_v2"))
    fig = cost_figures.family_chart(analysis.family_points(), p.macs, p.params, 72.0, "MobileNet V2")
    low, high = (10 ** v for v in fig.layout.xaxis.range)
    assert low <= min(pt.macs for pt in analysis.family_points()) and high >= max(pt.macs for pt in
                                                                                  analysis.family_points())
    assert list(fig.layout.xaxis.ticktext)[:3] == ["20 M", "50 M", "100 M"]
    assert all(str(v)[0] in "125" for v in fig.layout.xaxis.tickvals)


# --------------------------------------------------------------------------------------------------
# channel shuffle


def _shuffled(channels: int, groups: int) -> list[int]:
    """The channel order lightnets' own channel_shuffle produces, computed here independently of the frames."""
    return channel_shuffle(torch.arange(channels).view(1, channels, 1, 1), groups).flatten().tolist()


@pytest.mark.parametrize(("channels", "groups"), [(12, 3), (8, 2), (24, 8), (9, 3), (6, 1), (48, 4)])
def test_animation_ends_on_the_shuffle_permutation(channels: int, groups: int) -> None:
    anim = lightnets.shuffle_frames(channels, groups)
    fig = shuffle_figures.shuffle_animation(anim)
    assert shuffle_figures.final_order(fig) == _shuffled(channels, groups) == list(anim.permutation)
    first = fig.frames[0].data[0]
    assert [int(c) for _, c in sorted(zip(first.x, first.ids))] == list(range(channels))


def test_animation_frames_carry_every_channel_with_its_group_colour() -> None:
    anim = lightnets.shuffle_frames(12, 3)
    fig = shuffle_figures.shuffle_animation(anim)
    assert len(fig.frames) == len(anim.frames)
    for frame, data in zip(anim.frames, fig.frames):
        trace = data.data[0]
        assert list(trace.ids) == [str(c) for c in range(12)]
        assert list(zip(trace.x, trace.y)) == list(frame.xy)
        assert list(trace.marker.color) == [GROUP_COLORS[c // 4] for c in range(12)]
    # a slider stop per key frame, and play/pause buttons that animate
    assert [s.label for s in fig.layout.sliders[0].steps] == [f.title.split()[0] for f in anim.key_frames]
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.method for b in buttons] == ["animate", "animate"] and buttons[0].args[0] is None


def test_split_animation_ends_on_the_v2_order_and_marks_the_branch() -> None:
    anim = lightnets.split_shuffle_frames(8)
    fig = shuffle_figures.shuffle_animation(anim, "ShuffleNet V2")
    # concat keeps the order, then the unit shuffles with g = 2
    assert shuffle_figures.final_order(fig) == _shuffled(8, 2)
    widths = list(fig.frames[-1].data[0].marker.line.width)
    assert widths == [0, 0, 0, 0, 4, 4, 4, 4]


def test_the_demo_channel_count_gives_every_group_g_channels_where_it_can() -> None:
    counts = {g: shuffle_figures.demo_channels(g, lightnets.valid_channels(g, max_channels=48)) for g in range(1, 9)}
    assert counts == {1: 12, 2: 12, 3: 12, 4: 16, 5: 25, 6: 36, 7: 42, 8: 48}
    for g, channels in counts.items():  # the shuffle then mixes as far as 48 channels allow
        seen = lightnets.group_visibility(channels, g, True).sum(axis=1)
        assert seen.min() == min(g, channels // g)


@pytest.mark.parametrize(("channels", "groups"), [(12, 3), (6, 3), (16, 4)])
def test_visibility_heatmaps_show_the_matrices(channels: int, groups: int) -> None:
    without = lightnets.group_visibility(channels, groups, False)
    with_shuffle = lightnets.group_visibility(channels, groups, True)
    fig = shuffle_figures.visibility_heatmaps(without, with_shuffle)
    assert np.array_equal(np.array(fig.data[0].z), without.astype(int))
    assert np.array_equal(np.array(fig.data[1].z), with_shuffle.astype(int))
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0] == f"without shuffle: each output sees 1 of {groups} groups"
    seen = sorted(set(with_shuffle.sum(axis=1)))
    expected = f"{seen[0]}" if len(seen) == 1 else f"{seen[0]}–{seen[-1]}"
    assert titles[1] == f"with shuffle: each output sees {expected} of {groups} groups"
