"""Plotly figures of the Cost page: per-layer MACs and params, op-kind shares, the depthwise-separable saving,
knob sweeps and the accuracy-vs-MACs comparison across families.

Each function takes lightnets data (a Profile, analysis results) and returns a ``go.Figure``; the numbers in the
figure are those data, unchanged, so tests can read them back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lightnets.analysis import FamilyPoint, SeparableSaving, SweepPoint
from lightnets.cost import OP_KINDS, Profile
from lightnets.figures.style import OP_COLORS

# one colour per family in the cross-family chart: more families than style.GROUP_COLORS has entries
FAMILY_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                 "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d"]

FONT_SIZE = 16  # readable on a projector
CURRENT_COLOR = "#000000"


def style(fig: go.Figure, title: str, height: int = 480) -> go.Figure:
    """The house look: white template, large fonts, a legend that does not cover the data."""
    fig.update_layout(template="plotly_white", title=dict(text=title, font=dict(size=FONT_SIZE + 4)),
                      font=dict(size=FONT_SIZE), height=height, margin=dict(l=70, r=30, t=80, b=60),
                      legend=dict(font=dict(size=FONT_SIZE - 2)))
    return fig


def _kinds(rows: Sequence[Any]) -> list[str]:
    present = {row.op for row in rows}
    return [kind for kind in OP_KINDS if kind in present]


# --------------------------------------------------------------------------------------------------
# per layer


def layer_chart(p: Profile) -> go.Figure:
    """MACs (top) and params (bottom) of every layer that has either, in forward order, coloured by op kind.

    One trace per op kind, so the legend names the kinds; the bars of all traces sum to the profile's totals.
    """
    rows = [row for row in p.layers if row.macs or row.params]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("multiply-adds per layer", "parameters per layer"))
    for kind in _kinds(rows):
        index = [i for i, row in enumerate(rows) if row.op == kind]
        custom = [[rows[i].name, "×".join(map(str, rows[i].input_shape[1:])),
                   "×".join(map(str, rows[i].output_shape[1:])), rows[i].macs, rows[i].params] for i in index]
        hover = ("%{customdata[0]}<br>" + kind + ": %{customdata[1]} → %{customdata[2]}"
                 "<br>MACs %{customdata[3]:,}<br>params %{customdata[4]:,}<extra></extra>")
        common = dict(name=kind, legendgroup=kind, marker_color=OP_COLORS.get(kind, OP_COLORS["other"]),
                      customdata=custom, hovertemplate=hover)
        fig.add_trace(go.Bar(x=index, y=[rows[i].macs for i in index], **common), row=1, col=1)
        fig.add_trace(go.Bar(x=index, y=[rows[i].params for i in index], showlegend=False, **common), row=2, col=1)
    fig.update_layout(barmode="overlay", bargap=0.1)
    fig.update_yaxes(title_text="MACs", row=1, col=1)
    fig.update_yaxes(title_text="params", row=2, col=1)
    fig.update_xaxes(title_text="layer, in forward order", row=2, col=1)
    return style(fig, f"Where the cost is: {len(rows)} layers of {p.name} at {p.resolution}×{p.resolution}",
                 height=620)


def kind_share_chart(p: Profile) -> go.Figure:
    """The share of MACs and of params by op kind, as two 100% stacked bars."""
    macs, params = p.macs_by_kind(), p.params_by_kind()
    fig = go.Figure()
    for kind in [k for k in OP_KINDS if k in macs or k in params]:
        shares = [100 * macs.get(kind, 0) / p.macs if p.macs else 0,
                  100 * params.get(kind, 0) / p.params if p.params else 0]
        fig.add_trace(go.Bar(y=["MACs", "params"], x=shares, name=kind, orientation="h",
                             marker_color=OP_COLORS.get(kind, OP_COLORS["other"]),
                             text=[f"{s:.0f}%" if s >= 4 else "" for s in shares], textposition="inside",
                             hovertemplate=kind + ": %{x:.1f}%<extra></extra>"))
    fig.update_layout(barmode="stack", xaxis=dict(title="share of the total (%)", range=[0, 100]))
    return style(fig, "Share by op kind", height=300)


def separable_chart(saving: SeparableSaving) -> go.Figure:
    """One standard k×k conv against the depthwise + 1×1 pair that replaces it, in MACs."""
    fig = go.Figure()
    fig.add_trace(go.Bar(x=["standard conv"], y=[saving.standard_macs], name="standard k×k conv",
                         marker_color=OP_COLORS["dense"]))
    fig.add_trace(go.Bar(x=["depthwise separable"], y=[saving.depthwise.macs], name="depthwise",
                         marker_color=OP_COLORS["depthwise"]))
    one_by_one = "group" if saving.groups > 1 else "pointwise"
    fig.add_trace(go.Bar(x=["depthwise separable"], y=[saving.pointwise.macs], name=f"{one_by_one} 1×1",
                         marker_color=OP_COLORS[one_by_one]))
    fig.update_layout(barmode="stack", yaxis_title="MACs")
    return style(fig, f"Separable costs {saving.ratio:.3f} × the standard conv", height=420)


# --------------------------------------------------------------------------------------------------
# sweeps


def _axis_values(values: Sequence[Any]) -> list[Any]:
    """Bools as words (a category axis), numbers unchanged."""
    return [("true" if v else "false") if isinstance(v, bool) else v for v in values]


def sweep_chart(points: Sequence[SweepPoint], label: str, current: Any,
                latency: Mapping[Any, tuple[float, float, float]] | None = None) -> go.Figure:
    """MACs and params (and measured latency: median with p25–p75) against one knob; ``current`` highlighted.

    Settings that cannot build are left out. ``latency`` maps a swept value to (median, p25, p75) in ms.
    """
    good = [pt for pt in points if pt.macs is not None]
    panels = [("MACs", [pt.macs for pt in good]), ("params", [pt.params for pt in good])]
    rows = 3 if latency else 2
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.07)
    x = _axis_values([pt.value for pt in good])
    here = [i for i, pt in enumerate(good) if pt.value == current]
    for row, (name, values) in enumerate(panels, start=1):
        fig.add_trace(go.Scatter(x=x, y=values, mode="lines+markers", name=name, line=dict(width=3),
                                 marker=dict(size=9), customdata=[pt.resolution for pt in good],
                                 hovertemplate=label + " %{x}<br>" + name + " %{y:,}<br>%{customdata} px"
                                                                            "<extra></extra>"),
                      row=row, col=1)
        fig.update_yaxes(title_text=name, row=row, col=1)
        if here:
            fig.add_trace(go.Scatter(x=[x[here[0]]], y=[values[here[0]]], mode="markers", name="current",
                                     showlegend=row == 1, legendgroup="current",
                                     marker=dict(size=20, symbol="star", color=CURRENT_COLOR),
                                     hovertemplate="current: %{y:,}<extra></extra>"),
                          row=row, col=1)
    if latency:
        measured = [v for v in [pt.value for pt in good] if v in latency]
        med = [latency[v][0] for v in measured]
        fig.add_trace(go.Scatter(
            x=_axis_values(measured), y=med, mode="lines+markers", name="latency (median)",
            error_y=dict(type="data", symmetric=False, array=[latency[v][2] - latency[v][0] for v in measured],
                         arrayminus=[latency[v][0] - latency[v][1] for v in measured]),
            hovertemplate=label + " %{x}<br>median %{y:.2f} ms<extra></extra>"), row=3, col=1)
        fig.update_yaxes(title_text="latency (ms)", row=3, col=1)
    fig.update_xaxes(title_text=label, row=rows, col=1)
    if any(isinstance(pt.value, bool) for pt in good):
        fig.update_xaxes(type="category")
    return style(fig, f"Cost against {label}", height=260 * rows + 80)


# --------------------------------------------------------------------------------------------------
# across families


def family_chart(points: Sequence[FamilyPoint], current_macs: int, current_params: int,
                 current_top1: float | None, current_label: str) -> go.Figure:
    """Published ImageNet top-1 against MACs, bubble area ∝ params, one colour per family; the current
    configuration as a star where a paper publishes its top-1, otherwise as a vertical line at its MACs."""
    fig = go.Figure()
    families = list(dict.fromkeys(pt.family for pt in points))
    biggest = max([pt.params for pt in points] + [current_params, 1])
    sizeref = 2.0 * biggest / 60 ** 2  # the largest bubble is 60 px across
    for i, family in enumerate(families):
        group = [pt for pt in points if pt.family == family]
        fig.add_trace(go.Scatter(
            x=[pt.macs for pt in group], y=[pt.top1 for pt in group], mode="markers", name=family,
            marker=dict(size=[pt.params for pt in group], sizemode="area", sizeref=sizeref, sizemin=5,
                        color=FAMILY_COLORS[i % len(FAMILY_COLORS)], opacity=0.75, line=dict(width=1, color="white")),
            customdata=[[pt.label, pt.params, pt.resolution, pt.source] for pt in group],
            hovertemplate="%{customdata[0]}<br>%{x:,} MACs, %{customdata[1]:,} params, %{customdata[2]} px"
                          "<br>top-1 %{y}%<br>%{customdata[3]}<extra></extra>"))
    if current_top1 is not None:
        fig.add_trace(go.Scatter(x=[current_macs], y=[current_top1], mode="markers+text", name="current",
                                 text=[current_label], textposition="top center",
                                 marker=dict(size=22, symbol="star", color=CURRENT_COLOR),
                                 hovertemplate="current: %{x:,} MACs, top-1 %{y}%<extra></extra>"))
    else:
        fig.add_vline(x=current_macs, line=dict(color=CURRENT_COLOR, dash="dash", width=2),
                      annotation_text=f"{current_label}: no published top-1", annotation_position="top left")
    fig.update_layout(xaxis=dict(title="multiply-adds (log scale)", type="log"),
                      yaxis=dict(title="ImageNet top-1 (%)"))
    if points:
        span = [math.log10(min(pt.macs for pt in points)), math.log10(max(pt.macs for pt in points))]
        span = [min(span[0], math.log10(current_macs)) - 0.1, max(span[1], math.log10(current_macs)) + 0.1]
        fig.update_xaxes(range=span)
    return style(fig, "Accuracy against cost, across families (published top-1)", height=560)

