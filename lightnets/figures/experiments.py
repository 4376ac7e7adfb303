"""Plotly figures of the Experiments page: one function draws any ``lightnets.experiments.Chart`` (bars, lines,
point clouds; one or more panels side by side), so an experiment describes its charts as data and no page or
figure code changes when an experiment is added. The numbers on screen are the chart's, unchanged.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lightnets.experiments import Chart, Series
from lightnets.figures.style import GROUP_COLORS, style

MARGIN = dict(l=70, r=30, t=90, b=60)


def _trace(series: Series, color: str, show_legend: bool) -> go.BaseTraceType:
    error = None
    if series.low is not None and series.high is not None:
        error = dict(type="data", symmetric=False, array=[h - y for h, y in zip(series.high, series.y)],
                     arrayminus=[y - lo for y, lo in zip(series.y, series.low)], thickness=1.5, width=6)
    common = dict(name=series.name, legendgroup=series.name, showlegend=show_legend)
    if series.kind == "bar":
        return go.Bar(x=list(series.x), y=list(series.y), marker_color=color, error_y=error,
                      hovertemplate="%{x}: %{y:.3g}<extra>" + series.name + "</extra>", **common)
    mode = {"line": "lines+markers", "markers": "markers", "points": "markers"}[series.kind]
    marker = dict(size=4 if series.kind == "points" else 9, color=color)
    return go.Scatter(x=list(series.x), y=list(series.y), mode=mode, marker=marker, line=dict(color=color),
                      error_y=error, **common)


def chart(spec: Chart) -> go.Figure:
    """The figure of one ``Chart``: its panels side by side, one legend entry per series name."""
    panels = spec.panels
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p.title for p in panels],
                        shared_yaxes=not spec.equal_axes, horizontal_spacing=0.06 if len(panels) > 1 else 0.1)
    colors: dict[str, str] = {}
    for col, panel in enumerate(panels, start=1):
        for series in panel.series:
            first = series.name not in colors
            color = series.color or colors.get(series.name) or GROUP_COLORS[len(colors) % len(GROUP_COLORS)]
            colors.setdefault(series.name, color)
            fig.add_trace(_trace(series, color, first), row=1, col=col)
        if spec.equal_axes:
            fig.update_xaxes(scaleanchor=f"y{col if col > 1 else ''}", scaleratio=1, showticklabels=False,
                             row=1, col=col)
            fig.update_yaxes(showticklabels=False, row=1, col=col)
    if spec.reference_y is not None:
        fig.add_hline(y=spec.reference_y, line_dash="dash", line_color="#555555", line_width=1)
    if spec.x_title:
        fig.update_xaxes(title_text=spec.x_title)
    if spec.y_title:
        fig.update_yaxes(title_text=spec.y_title, row=1, col=1)
    if spec.log_y:
        fig.update_yaxes(type="log")
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=-0.18, x=0))
    for annotation in fig.layout.annotations:  # the panel titles: a little smaller than the figure's
        annotation.font.size = 15
    return style(fig, spec.title, spec.height, margin=MARGIN)
