"""Plotly figures of the Predict page: the top-k classes as bars, the image as the model sees it, and a grid
of one layer's feature maps.

Each function takes lightnets data (a ``Prediction``, a C×H×W tensor) and returns a ``go.Figure`` whose numbers
are those data, so tests can read them back.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch

from lightnets.figures.style import style
from lightnets.i18n import _
from lightnets.prediction import Prediction

BAR_COLOR = "#1f77b4"
MARGIN = dict(l=20, r=30, t=70, b=40)


def _style(fig: go.Figure, title: str, height: int) -> go.Figure:
    return style(fig, title, height, margin=MARGIN)


def topk_bars(prediction: Prediction) -> go.Figure:
    """Horizontal bars, most probable class on top, labelled with its probability in percent."""
    rows = prediction.topk[::-1]  # plotly draws the first bar at the bottom
    percent = [100 * p for _, _, p in rows]
    fig = go.Figure(go.Bar(
        x=percent, y=[label for _, label, _ in rows], orientation="h", marker_color=BAR_COLOR,
        text=[f"{p:.1f}%" for p in percent], textposition="outside", cliponaxis=False,
        customdata=[index for index, _, _ in rows],
        hovertemplate=_("{label} (class {index})").format(label="%{y}", index="%{customdata}")
        + "<br>%{x:.2f}%<extra></extra>"))
    fig.update_xaxes(title=_("probability (%)"), range=[0, 110], ticksuffix="%")
    fig.update_yaxes(automargin=True)
    return _style(fig, _("Top-{k} ImageNet classes").format(k=len(rows)), height=120 + 50 * len(rows))


def model_input(prediction: Prediction) -> go.Figure:
    """The resized and centre-cropped image the network receives (before mean/std normalisation)."""
    pixels = np.asarray(prediction.view)
    size = pixels.shape[0]
    fig = go.Figure(go.Image(z=pixels, hovertemplate="x %{x}, y %{y}<br>RGB %{z}<extra></extra>"))
    fig.update_xaxes(showticklabels=False, showgrid=False, ticks="", showline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, ticks="", showline=False, scaleanchor="x")
    return _style(fig, _("As the model sees it: {size}×{size} px").format(size=size), height=460)


def feature_grid(maps: torch.Tensor, layer: str, channels: int = 16) -> go.Figure:
    """The first ``channels`` feature maps of a C×H×W tensor as a grid of small images, each scaled to its own
    min–max range (so weak and strong channels are equally visible), gaps between them left blank."""
    if maps.dim() != 3:
        raise ValueError(_("feature maps must be C×H×W, got shape {shape}").format(shape=tuple(maps.shape)))
    shown = maps[:max(1, min(channels, maps.shape[0]))].float().cpu().numpy()
    count, height, width = shown.shape
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    gap = 1
    grid = np.full((rows * (height + gap) - gap, cols * (width + gap) - gap), np.nan)
    channel = np.full(grid.shape, -1)
    for i, fmap in enumerate(shown):
        low, high = float(fmap.min()), float(fmap.max())
        scaled = (fmap - low) / (high - low) if high > low else np.zeros_like(fmap)
        r, c = divmod(i, cols)
        top, left = r * (height + gap), c * (width + gap)
        grid[top:top + height, left:left + width] = scaled
        channel[top:top + height, left:left + width] = i
    fig = go.Figure(go.Heatmap(z=grid, customdata=channel, colorscale="Viridis", showscale=False,
                               hovertemplate=_("channel {index}").format(index="%{customdata}") + "<br>"
                               + _("activation (scaled)") + " %{z:.2f}<extra></extra>"))
    fig.update_xaxes(visible=False)  # no axis line across the top of the grid
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return _style(fig, _("{layer}: {count} of {total} channels, {height}×{width} each").format(
        layer=layer, count=count, total=maps.shape[0], height=height, width=width), height=560)
