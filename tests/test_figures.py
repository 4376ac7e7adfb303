"""The plotly figures carry exactly the lightnets data they are drawn from."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

import lightnets
from lightnets import analysis
from lightnets.figures import cost as cost_figures
from lightnets.figures import shuffle as shuffle_figures
from lightnets.figures.style import GROUP_COLORS, OP_COLORS
from lightnets.layers import channel_shuffle

NAMES = lightnets.list_models()


def _traces_on(fig: go.Figure, yaxis: str) -> list:
    return [t for t in fig.data if (t.yaxis or "y") == yaxis]


# --------------------------------------------------------------------------------------------------
# cost


@pytest.mark.parametrize("name", NAMES)
def test_layer_bars_sum_to_the_profile_totals(name: str) -> None:
    p = lightnets.profile(name)
    fig = cost_figures.layer_chart(p)
    assert sum(sum(t.y) for t in _traces_on(fig, "y")) == p.macs
    assert sum(sum(t.y) for t in _traces_on(fig, "y2")) == p.params
    for trace in fig.data:
        assert trace.marker.color == OP_COLORS[trace.name]


def test_pointwise_convs_dominate_mobilenet_v2_macs() -> None:
    fig = cost_figures.layer_chart(lightnets.profile("mobilenet_v2"))
    per_kind = {t.name: sum(t.y) for t in _traces_on(fig, "y")}
    assert max(per_kind, key=per_kind.get) == "pointwise"
    assert per_kind["pointwise"] > 0.8 * sum(per_kind.values())


def test_layer_bars_follow_the_knobs() -> None:
    wide = cost_figures.layer_chart(lightnets.profile("mobilenet_v2", alpha=1.4))
    narrow = cost_figures.layer_chart(lightnets.profile("mobilenet_v2", alpha=0.5))
    assert sum(sum(t.y) for t in _traces_on(wide, "y")) > 2 * sum(sum(t.y) for t in _traces_on(narrow, "y"))


def test_kind_shares_add_up_to_100_percent() -> None:
    p = lightnets.profile("mobilenet_v2", alpha=0.75)
    fig = cost_figures.kind_share_chart(p)
    for row in range(2):
        assert sum(t.x[row] for t in fig.data) == pytest.approx(100)
    pointwise = next(t for t in fig.data if t.name == "pointwise")
    assert pointwise.x[0] == pytest.approx(100 * p.macs_by_kind()["pointwise"] / p.macs)


def test_separable_chart_stacks_the_two_convs_against_the_dense_one() -> None:
    pair = analysis.separable_pairs(lightnets.profile("mobilenet_v2"))[5]
    fig = cost_figures.separable_chart(pair)
    dense, depthwise, pointwise = fig.data
    assert dense.y[0] == pair.standard_macs
    assert depthwise.y[0] + pointwise.y[0] == pair.separable_macs
    assert f"{pair.ratio:.3f}" in fig.layout.title.text


def test_sweep_highlights_the_current_profile() -> None:
    knobs = {"alpha": 0.75, "expansion": 4, "linear_bottleneck": True}
    points = analysis.knob_sweep("mobilenet_v2", "expansion", knobs, rho=6 / 7)
    fig = cost_figures.sweep_chart(points, "t", current=4)
    p = lightnets.profile("mobilenet_v2", 192, **knobs)
    stars = [t for t in fig.data if t.name == "current"]
    assert [(s.x[0], s.y[0]) for s in stars] == [(4, p.macs), (4, p.params)]
    macs_line = next(t for t in fig.data if t.name == "MACs")
    assert list(macs_line.x) == list(range(1, 11))
    assert list(macs_line.y) == [pt.macs for pt in points]


def test_sweep_of_a_toggle_uses_a_category_axis_and_shows_latency() -> None:
    points = analysis.knob_sweep("mobilenet_v2", "linear_bottleneck", {})
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
    p = lightnets.profile("mobilenet_v2")
    fig = cost_figures.family_chart(points, p.macs, p.params, 72.0, "MobileNet V2")
    bubbles = [t for t in fig.data if t.name != "current"]
    placed = sorted((x, y) for t in bubbles for x, y in zip(t.x, t.y))
    assert placed == sorted((pt.macs, pt.top1) for pt in points)
    star = next(t for t in fig.data if t.name == "current")
    assert (star.x[0], star.y[0]) == (p.macs, 72.0)
    assert fig.layout.xaxis.type == "log"


def test_family_chart_marks_an_unpublished_setting_with_a_line() -> None:
    p = lightnets.profile("mobilenet_v2", alpha=0.6)
    fig = cost_figures.family_chart(analysis.family_points(), p.macs, p.params, None, "MobileNet V2")
    assert not [t for t in fig.data if t.name == "current"]
    assert [shape.x0 for shape in fig.layout.shapes] == [p.macs]


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
