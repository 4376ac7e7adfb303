"""Plotly figures of the Latency page: measured latency with its spread, where the time goes next to where the
multiply-adds go, per-layer MACs against time, and the lookup-table prediction beside the measurement.

Each function takes ``lightnets.latency`` results and returns a ``go.Figure`` whose numbers are those results,
unchanged (shares in percent), so tests can read them back.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from lightnets.figures.style import OP_COLORS, style
from lightnets.i18n import _, ngettext
from lightnets.latency import LatencyPrediction, LatencyResult, LayerLatency
from lightnets.ops import OP_KINDS, kind_label

MACS_COLOR = "#9e9e9e"
TIME_COLOR = "#d62728"
MARGIN = dict(l=70, r=30, t=80, b=60)


def _style(fig: go.Figure, title: str, height: int = 440) -> go.Figure:
    return style(fig, title, height, margin=MARGIN)


def _percent(values: Sequence[float]) -> list[float]:
    total = sum(values)
    return [100.0 * v / total if total else 0.0 for v in values]


def latency_bars(results: Sequence[LatencyResult], labels: Sequence[str] | None = None) -> go.Figure:
    """Median latency of each result as a bar, whiskers from p25 to p75, and p90 as a marker."""
    labels = list(labels) if labels is not None else [r.mode for r in results]
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=labels, y=[r.median_ms for r in results], name=_("median"),
        marker_color=["#1f77b4" if r.mode == "eager" else "#2ca02c" for r in results],
        error_y=dict(type="data", symmetric=False, array=[r.p75_ms - r.median_ms for r in results],
                     arrayminus=[r.median_ms - r.p25_ms for r in results], thickness=2, width=12),
        # the label sits at the foot of the bar, clear of the whisker that starts at its top
        text=[f"{r.median_ms:.2f} ms" for r in results], textposition="inside", insidetextanchor="start",
        customdata=[[r.p25_ms, r.p75_ms, r.p90_ms, r.runs, r.threads] for r in results],
        hovertemplate=_("median") + " %{y:.3f} ms<br>p25–p75 %{customdata[0]:.3f}–%{customdata[1]:.3f} ms<br>"
                      "p90 %{customdata[2]:.3f} ms<br>"
                      + _("{runs} runs, {threads} threads").format(runs="%{customdata[3]}", threads="%{customdata[4]}")
                      + "<extra></extra>"))
    fig.add_trace(go.Scatter(x=labels, y=[r.p90_ms for r in results], mode="markers", name="p90",
                             marker=dict(symbol="line-ew-open", size=28, line=dict(width=3), color="#555555")))
    fig.update_yaxes(title_text=_("latency per image batch (ms)"), rangemode="tozero")
    return _style(fig, _("Measured latency: median, p25–p75 whiskers, p90"))


def run_times(result: LatencyResult) -> go.Figure:
    """Every timed run in order, with the median as a line: drift, outliers and warm-up effects show up here."""
    fig = go.Figure(go.Scatter(x=list(range(1, result.runs + 1)), y=list(result.times_ms), mode="markers",
                               name=_("runs"), marker=dict(size=6, color="#1f77b4")))
    fig.add_hline(y=result.median_ms, line_dash="dash", line_color=TIME_COLOR,
                  annotation_text=_("median") + f" {result.median_ms:.2f} ms")
    fig.update_xaxes(title_text=_("run"))
    fig.update_yaxes(title_text="ms", rangemode="tozero")
    return _style(fig, ngettext("{runs} timed run ({mode})", "{runs} timed runs ({mode})", result.runs).format(
        runs=result.runs, mode=result.mode), height=320)


def share_by_kind(layers: LayerLatency) -> go.Figure:
    """Share of MACs and share of operator time per op kind, side by side: FLOPs are not latency."""
    kinds_present = layers.by_kind()
    kinds = [k for k in OP_KINDS if k in kinds_present] + [k for k in kinds_present if k not in OP_KINDS]
    macs = _percent([kinds_present[k][0] for k in kinds])
    times = _percent([kinds_present[k][1] for k in kinds])
    names = [kind_label(k) for k in kinds]
    fig = go.Figure([
        go.Bar(x=names, y=macs, name=_("share of MACs"), marker_color=MACS_COLOR,
               hovertemplate=_("{what}: {share} of MACs").format(what="%{x}", share="%{y:.1f}%") + "<extra></extra>"),
        go.Bar(x=names, y=times, name=_("share of time (op colour)"),
               marker_color=[OP_COLORS.get(k, OP_COLORS["other"]) for k in kinds],
               hovertemplate=_("{what}: {share} of operator time").format(what="%{x}", share="%{y:.1f}%")
               + "<extra></extra>"),
    ])
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text=_network_share(), rangemode="tozero")
    return _style(fig, _("Where the multiply-adds go vs where the time goes, by op kind"))


def _network_share() -> str:
    # the % goes in as a value: Babel would read "% o" in a msgid as a %-format
    return _("{percent} of the network").format(percent="%")


def share_by_block(layers: LayerLatency) -> go.Figure:
    """Share of MACs and share of operator time per block (graph node), in forward order."""
    blocks = list(layers.blocks)
    labels = [b.path for b in blocks]
    fig = go.Figure([
        go.Bar(x=labels, y=_percent([b.macs for b in blocks]), name=_("share of MACs"), marker_color=MACS_COLOR,
               customdata=[b.label for b in blocks],
               hovertemplate=_("{what}: {share} of MACs").format(what="%{x} (%{customdata})", share="%{y:.1f}%")
               + "<extra></extra>"),
        go.Bar(x=labels, y=_percent([b.time_ms for b in blocks]), name=_("share of time"), marker_color=TIME_COLOR,
               customdata=[b.label for b in blocks],
               hovertemplate=_("{what}: {share} of time").format(what="%{x} (%{customdata})", share="%{y:.1f}%")
               + "<extra></extra>"),
    ])
    fig.update_layout(barmode="group", bargap=0.15)
    fig.update_xaxes(tickangle=-60)
    fig.update_yaxes(title_text=_network_share(), rangemode="tozero")
    return _style(fig, _("MACs share vs time share per block"), height=480)


def macs_vs_time(layers: LayerLatency) -> go.Figure:
    """Per-layer MACs (x) against measured time (y), log-log, one colour per op kind, for layers with MACs.

    The dashed line is "time proportional to MACs" at the network's overall rate: layers above it are slower
    than their multiply-adds suggest (depthwise convs, typically), layers below it faster.
    """
    rows = [r for r in layers.rows if r.macs > 0 and r.timed and r.time_ms > 0]
    fig = go.Figure()
    for kind in [k for k in OP_KINDS if any(r.op == k for r in rows)]:
        picked = [r for r in rows if r.op == kind]
        fig.add_trace(go.Scatter(
            x=[r.macs / 1e6 for r in picked], y=[r.time_ms for r in picked], mode="markers", name=kind_label(kind),
            marker=dict(size=10, color=OP_COLORS.get(kind, OP_COLORS["other"]), line=dict(width=1, color="white")),
            customdata=[[r.name, "×".join(map(str, r.output_shape[1:]))] for r in picked],
            hovertemplate="%{customdata[0]}<br>→ %{customdata[1]}<br>%{x:.2f} M MACs, %{y:.3f} ms<extra></extra>"))
    if rows:
        rate = sum(r.time_ms for r in rows) / sum(r.macs / 1e6 for r in rows)  # ms per million MACs
        low, high = min(r.macs for r in rows) / 1e6, max(r.macs for r in rows) / 1e6
        fig.add_trace(go.Scatter(x=[low, high], y=[low * rate, high * rate], mode="lines",
                                 name=_("time ∝ MACs"), line=dict(dash="dash", color="#555555")))
    fig.update_xaxes(type="log", dtick="D2", title_text=_("multiply-adds (millions)"))  # D2: label 1, 2, 5 only
    fig.update_yaxes(type="log", dtick="D2", title_text=_("measured time (ms)"))
    return _style(fig, _("Per layer: multiply-adds against measured time"), height=500)


def prediction_vs_measured(prediction: LatencyPrediction, measured: LatencyResult) -> go.Figure:
    """The lookup-table sum next to the measured median, with the relative error in the title."""
    error = prediction.error(measured.median_ms)
    fig = go.Figure(go.Bar(
        x=[_("measured (median)"), _("lookup table (ops + dispatch)")], y=[measured.median_ms, prediction.predicted_ms],
        marker_color=["#1f77b4", "#ff7f0e"], text=[f"{measured.median_ms:.2f} ms", f"{prediction.predicted_ms:.2f} ms"],
        textposition="inside"))
    fig.update_yaxes(title_text="ms", rangemode="tozero")
    return _style(fig, _("Lookup-table prediction: {error} against the measurement").format(error=f"{error:+.0%}"),
                  height=380)
