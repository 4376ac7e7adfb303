"""Plotly figures of the Channel shuffle page: the animated shuffle (and ShuffleNet V2's split → branch →
concat → shuffle) and the group-visibility heatmaps of two stacked group convolutions.

The animation draws every channel as one square cell coloured by its group. Each frame carries the cells'
positions from ``lightnets.shuffle``; plotly's ``ids`` tie a cell to its channel across frames, so the move
of every channel is animated, not just the end result.
"""

from __future__ import annotations

import textwrap

import numpy as np
import plotly.graph_objects as go

from lightnets.figures.style import FONT_SIZE, GROUP_COLORS, axis, layout, style
from lightnets.i18n import _
from lightnets.shuffle import ShuffleAnimation, ShuffleFrame

PLOT_WIDTH_PX = 1000  # the width a cell size is planned for (the chart stretches to the page)
FRAME_MS = 350
TRANSITION_MS = 300


def _cell_px(anim: ShuffleAnimation) -> float:
    xs = [x for frame in anim.frames for x, _ in frame.xy]
    span = max(xs) - min(xs) + 2
    return max(8.0, min(46.0, 0.85 * PLOT_WIDTH_PX / span))


def _frame_trace(anim: ShuffleAnimation, frame: ShuffleFrame, size: float) -> go.Scatter:
    marked = frame.marked or (False,) * anim.channels
    show_text = size >= 18
    return go.Scatter(
        x=[x for x, _ in frame.xy], y=[y for _, y in frame.xy], ids=[str(c) for c in range(anim.channels)],
        mode="markers+text" if show_text else "markers",
        text=[str(c) for c in range(anim.channels)], textfont=dict(color="white", size=max(10, size * 0.42)),
        marker=dict(symbol="square", size=size, color=[GROUP_COLORS[g % len(GROUP_COLORS)] for g in anim.group_of],
                    line=dict(width=[4 if m else 0 for m in marked], color="black")),
        customdata=[[c, g + 1] for c, g in enumerate(anim.group_of)],
        hovertemplate=_("channel {channel} (group {group})").format(channel="%{customdata[0]}",
                                                                     group="%{customdata[1]}") + "<extra></extra>",
        showlegend=False)


def _wrap(text: str, width: int = 95) -> str:
    return "<br>".join(textwrap.wrap(text, width))


def _frame_layout(frame: ShuffleFrame, heading: str) -> dict:
    title = f"{heading}: <b>{frame.title}</b>" if heading else f"<b>{frame.title}</b>"
    # the caption sits between the title and the cells, wrapped: plotly does not wrap text itself
    return dict(title=dict(text=title),
                annotations=[dict(text=_wrap(frame.caption), xref="paper", yref="paper", x=0, y=1.03,
                                  xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=FONT_SIZE),
                                  align="left")])


def shuffle_animation(anim: ShuffleAnimation, heading: str = "") -> go.Figure:
    """The animation: play/pause buttons, a frame slider, one coloured cell per channel."""
    size = _cell_px(anim)
    frames = [go.Frame(name=str(i), data=[_frame_trace(anim, frame, size)], traces=[0],
                       layout=_frame_layout(frame, heading)) for i, frame in enumerate(anim.frames)]
    fig = go.Figure(data=[_frame_trace(anim, anim.frames[0], size)], frames=frames)
    for g in range(anim.groups):  # legend only: one entry per group colour
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=_("group {number}").format(number=g + 1),
                                 marker=dict(symbol="square", size=16, color=GROUP_COLORS[g % len(GROUP_COLORS)])))
    xs = [x for frame in anim.frames for x, _ in frame.xy]
    ys = [y for frame in anim.frames for _, y in frame.xy]
    play = dict(frame=dict(duration=FRAME_MS, redraw=True), transition=dict(duration=TRANSITION_MS,
                                                                          easing="cubic-in-out"),
                fromcurrent=True, mode="immediate")
    pause = dict(frame=dict(duration=0, redraw=False), transition=dict(duration=0), mode="immediate")
    # the slider stops at key frames only (their labels stay legible); play runs through every frame, and
    # plotly moves the slider along whenever it reaches a key frame
    steps = [dict(method="animate", label=frame.title.split()[0], value=str(i),
                  args=[[str(i)], dict(frame=dict(duration=0, redraw=True), transition=dict(duration=TRANSITION_MS),
                                       mode="immediate")])
             for i, frame in enumerate(anim.frames) if frame.key]
    fig.update_layout(
        _frame_layout(anim.frames[0], heading),
        xaxis=dict(range=[min(xs) - 1, max(xs) + 1], visible=False, fixedrange=True),
        yaxis=dict(range=[min(ys) - 1, max(ys) + 1], visible=False, fixedrange=True, scaleanchor="x",
                   scaleratio=1),
        updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.04, xanchor="left", yanchor="top",
                          showactive=False, pad=dict(r=10, t=10), font=dict(size=FONT_SIZE),
                          buttons=[dict(label="▶ " + _("play"), method="animate", args=[None, play]),
                                   dict(label="❚❚ " + _("pause"), method="animate", args=[[None], pause])])],
        sliders=[dict(active=0, steps=steps, x=0.25, len=0.75, y=-0.04, yanchor="top", pad=dict(t=10),
                      currentvalue=dict(visible=False), font=dict(size=FONT_SIZE - 2))],
        legend=dict(x=1.01, xanchor="left", y=1.0, yanchor="top"),
    )
    rows = max(ys) - min(ys) + 3
    style(fig, fig.layout.title.text, height=int(min(760, max(400, 260 + rows * size * 1.25))))
    fig.update_layout(margin=dict(t=150, b=110))
    return fig


def demo_channels(groups: int, choices: list[int]) -> int:
    """The channel count to show first for ``groups`` groups: g channels per group where ``choices`` allow it
    (then the shuffle hands every group one channel of each: full mixing), at least 12, else the largest."""
    wanted = max(12, groups * groups)
    return next((c for c in choices if c >= wanted), choices[-1])


def final_order(fig: go.Figure) -> list[int]:
    """Channel indices left to right in the figure's last frame (what the animation ends on)."""
    last = fig.frames[-1].data[0]
    return [int(c) for _, c in sorted(zip(last.x, last.ids))]


def visibility_heatmaps(without: np.ndarray, with_shuffle: np.ndarray) -> go.Figure:
    """Two heatmaps side by side: the input groups each output channel of two stacked group convs can see."""
    channels, groups = without.shape
    x = list(range(1, groups + 1))  # group numbers: short ticks that never overlap the axis title
    data, axes, titles = [], {}, []
    for col, (name, matrix) in enumerate(((_("without shuffle"), without), (_("with shuffle"), with_shuffle)),
                                         start=1):
        suffix = "" if col == 1 else "2"
        left = 0.0 if col == 1 else 0.56
        data.append(dict(type="heatmap", z=matrix.astype(int).tolist(), x=x, y=list(range(channels)), zmin=0, zmax=1,
                         colorscale=[[0, "#f2f2f2"], [1, GROUP_COLORS[0]]], showscale=False, xgap=2,
                         ygap=1 if channels <= 48 else 0, xaxis=f"x{suffix}", yaxis=f"y{suffix}",
                         hovertemplate=_("output channel {channel} sees input group {group}: {seen}").format(
                             channel="%{y}", group="%{x}", seen="%{z}") + "<extra></extra>"))
        axes[f"xaxis{suffix}"] = axis(_("input group of the first conv"), domain=[left, left + 0.44],
                                      tickmode="array", tickvals=x, anchor=f"y{suffix}", showgrid=False, ticks="")
        axes[f"yaxis{suffix}"] = axis(_("output channel") if col == 1 else None, autorange="reversed",
                                      anchor=f"x{suffix}", showgrid=False, ticks="", zeroline=False)
        titles.append(dict(text=_seen_title(name, matrix), xref="paper", yref="paper", x=left + 0.22, y=1.0,
                           xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=FONT_SIZE)))
    return go.Figure(data=data, layout=layout(_("Which input groups can each output channel see?"),
                                              height=max(420, 170 + 14 * channels), annotations=titles,
                                              margin=dict(l=80, r=30, t=110, b=70), **axes))


def _seen_title(name: str, matrix: np.ndarray) -> str:
    seen = matrix.sum(axis=1)
    low, high = int(seen.min()), int(seen.max())
    count = f"{low}" if low == high else f"{low}–{high}"
    return _("{name}: each output sees {count} of {groups} groups").format(name=name, count=count,
                                                                           groups=matrix.shape[1])

