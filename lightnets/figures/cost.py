"""Plotly figures of the Cost page: per-layer MACs and params, op-kind shares, the depthwise-separable saving,
knob sweeps and the accuracy-vs-MACs comparison across families.

Each function takes lightnets data (a Profile, analysis results) and returns a ``go.Figure``; the numbers in the
figure are those data, unchanged, so tests can read them back. They are redrawn on every slider move, so each is
one ``go.Figure`` made from plain dicts in the house style (``figures.style``).
"""

from __future__ import annotations

import functools
import html
import math
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from lightnets.analysis import FamilyPoint, SeparableSaving, SweepPoint
from lightnets.cost import LayerCost, Profile
from lightnets.figures.style import (CURRENT_COLOR, FONT_FAMILY, FONT_SIZE, GRID_COLOR, OP_COLORS, TEXT_COLOR, axis,
                                     layout)
from lightnets.formatting import format_tick
from lightnets.i18n import _, ngettext
from lightnets.ops import MAC_KINDS, OP_KINDS, kind_label
from lightnets.registry import spec, stage_label

# one colour per family in the cross-family chart: more families than style.GROUP_COLORS has entries
FAMILY_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                 "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d"]

def _text(value: Any) -> str:
    """Text for the HTML and SVG figures: escaped for HTML, and for markdown, which Streamlit runs over them
    (a layer named _blocks.0._se_reduce must not turn into emphasis)."""
    escaped = html.escape(str(value))
    for char in "_*`[]~\\":
        escaped = escaped.replace(char, f"&#{ord(char)};")
    return escaped


def _color(kind: str) -> str:
    return OP_COLORS.get(kind, OP_COLORS["other"])


def _kinds(rows: Sequence[Any]) -> list[str]:
    present = {row.op for row in rows}
    return [kind for kind in OP_KINDS if kind in present]


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape[1:]))


# --------------------------------------------------------------------------------------------------
# per layer


def mac_layers(p: Profile) -> list[LayerCost]:
    """The layers the per-layer chart shows: every conv and fully connected layer (the ones with MACs)."""
    return [row for row in p.layers if row.macs]


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top`` (about ``count`` steps of 1, 2, 2.5 or 5 × 10ⁿ)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [round(i * step, 12) for i in range(math.ceil(top / step - 1e-9) + 1)]


_NO_MAC_NAMES = {"bn": "BatchNorm", "act": "PReLU"}  # the layers without MACs that have parameters
SVG_WIDTH = 1000  # viewBox units; the drawing scales to the page's width
_PLOT_LEFT, _PLOT_RIGHT = 84, 990


def _panel(rows: list[LayerCost], key: str, title: str, top: float, height: float, color_of: Any,
           font: float = FONT_SIZE) -> list[str]:
    """One bar panel of ``layer_svg``: a title, gridlines with tick labels, one bar (with a tooltip) per row."""
    values = [getattr(row, key) for row in rows]
    ticks = nice_ticks(max(values))
    scale = height / ticks[-1]
    slot = (_PLOT_RIGHT - _PLOT_LEFT) / len(rows)
    out = [f'<text x="{_PLOT_LEFT}" y="{top - 12:.1f}" font-size="{(FONT_SIZE + 2) * font / FONT_SIZE:g}">'
           f'{_text(title)}</text>']
    for tick in ticks:
        y = top + height - tick * scale
        out.append(f'<line x1="{_PLOT_LEFT}" x2="{_PLOT_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID_COLOR}"/>'
                   f'<text x="{_PLOT_LEFT - 8}" y="{y + 5 * font / FONT_SIZE:.1f}" text-anchor="end" font-size="{font:g}">'
                   f'{format_tick(tick)}</text>')
    for i, (row, value) in enumerate(zip(rows, values)):
        bar = value * scale
        tip = _("{name} ({stage}), {op}: {input} → {output}; {macs} MACs, {params} params").format(
            name=row.name, stage=stage_label(row.stage), op=kind_label(row.op), input=_shape(row.input_shape),
            output=_shape(row.output_shape), macs=f"{row.macs:,}", params=f"{row.params:,}")
        out.append(f'<rect x="{_PLOT_LEFT + (i + 0.1) * slot:.2f}" y="{top + height - bar:.2f}" '
                   f'width="{0.8 * slot:.2f}" height="{bar:.2f}" fill="{color_of(row.op)}" data-layer="{i}" '
                   f'data-{key}="{value}"><title>{_text(tip)}</title></rect>')
    return out


def layer_svg(p: Profile, scale: float = 1.0) -> str:
    """MACs (top) and params (bottom) of every conv and FC layer, in forward order, coloured by op kind (as in
    ``kind_share_html``), with the network's stages marked along the bottom; hovering a bar names the layer.

    Drawn as SVG rather than plotly for the same reason as ``kind_share_html``: the Cost page redraws it on every
    slider move. The MAC bars sum to the profile's MACs; the parameter bars leave out the layers without MACs
    (BatchNorm's scale and shift), whose count the caption gives. Each bar carries its value (``data-macs`` /
    ``data-params``) and its index (``data-layer``), so tests can read the drawing back. ``scale`` multiplies
    every font size (projector mode: style.PRESENT_SCALE); the text's room grows with it, the title wraps.
    """
    rows = mac_layers(p)
    other_params = p.params - sum(row.params for row in rows)
    font, title_font = FONT_SIZE * scale, (FONT_SIZE + 5) * scale
    label = _("Where the cost is: the {count} conv and FC layers of {model} at {resolution}×{resolution}").format(
        count=len(rows), model=spec(p.name).title, resolution=p.resolution)
    lines = [label]
    colon = next((c for c in (": ", "：") if c in label), None)
    if _text_width(label, title_font) > SVG_WIDTH and colon:  # too long for one line at this size
        head, tail = label.split(colon, 1)
        lines = [head + colon.strip(), tail]
    line_height = 1.25 * title_font
    title_bottom = (len(lines) - 1) * line_height + 22 * scale
    top1 = title_bottom + 60 * scale
    height1, height2 = 250, 150
    top2 = top1 + height1 + 58 * scale
    out = [f'<text x="0" y="{title_bottom - (len(lines) - 1 - i) * line_height:g}" font-size="{title_font:g}">'
           f'{_text(line)}</text>' for i, line in enumerate(lines)]
    out += _panel(rows, "macs", _("multiply-adds per layer, in forward order (sum {macs})").format(macs=f"{p.macs:,}"),
                  top1, height1, _color, font)
    others = [_NO_MAC_NAMES.get(kind, kind_label(kind)) for kind in p.params_by_kind() if kind not in MAC_KINDS]
    title = _("parameters per layer")
    if other_params:
        names = functools.reduce(lambda a, b: _("{first} and {second}").format(first=a, second=b), others or [""])
        title += " (" + ngettext("{names} adds {count} more", "{names} add {count} more", len(others)).format(
            names=names, count=f"{other_params:,}") + ")"
    out += _panel(rows, "params", title, top2, height2, _color, font)
    slot = (_PLOT_RIGHT - _PLOT_LEFT) / len(rows)
    bottom = top2 + height2
    stages: list[list[Any]] = []  # [name, first index, last index]
    for i, row in enumerate(rows):
        if stages and stages[-1][0] == row.stage:
            stages[-1][2] = i
        else:
            stages.append([row.stage, i, i])
    for stage in stages:
        stage[0] = stage_label(stage[0])
    middles = [_PLOT_LEFT + (first + last + 1) / 2 * slot for _, first, last in stages]
    widths = [_text_width(name, font) for name, _, _ in stages]
    crowded = any(middles[k] - middles[k - 1] < (widths[k] + widths[k - 1]) / 2 + 8 for k in range(1, len(stages)))
    for k, (name, first, _last) in enumerate(stages):
        x0 = _PLOT_LEFT + first * slot
        if k:  # a dotted line through both panels where each stage after the first begins
            out.append(f'<line x1="{x0:.1f}" x2="{x0:.1f}" y1="{top1}" y2="{bottom + 8}" stroke="#b0b0b0" '
                       'stroke-dasharray="3,3"/>')
        row_y = bottom + (28 + (22 * (k % 2) if crowded else 0)) * scale  # two rows where they would overlap
        out.append(f'<text x="{middles[k]:.1f}" y="{row_y:.1f}" text-anchor="middle" font-size="{font:g}" '
                   f'class="stage">{_text(name)}</text>')
    total = round(bottom + (76 if crowded else 52) * scale)
    return (f'<svg viewBox="0 0 {SVG_WIDTH} {total}" width="100%" role="img" aria-label="{_text(label)}" '
            f'font-family="{FONT_FAMILY}" fill="{TEXT_COLOR}" style="max-width:1400px">'
            + "".join(out) + "</svg>")


def _text_width(text: str, font: float = FONT_SIZE) -> float:
    """About how wide ``text`` is at font size ``font``: a Latin letter 0.55 em, a CJK character a full em."""
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in text)
    return 0.55 * font * (len(text) - wide) + font * wide


def kind_shares(p: Profile) -> list[tuple[str, float, float]]:
    """(op kind, % of MACs, % of params) for every kind with either, in ``OP_KINDS`` order."""
    macs, params = p.macs_by_kind(), p.params_by_kind()
    return [(kind, 100 * macs.get(kind, 0) / p.macs if p.macs else 0.0,
             100 * params.get(kind, 0) / p.params if p.params else 0.0)
            for kind in OP_KINDS if kind in macs or kind in params]


def _segment(kind: str, share: float, what: str) -> str:
    label = f"{share:.0f}%" if share >= 4 else ""  # narrower segments have no room for a label
    tip = _("{kind}: {share} of the {what}").format(kind=kind_label(kind), share=f"{share:.1f}%", what=what)
    return (f'<div title="{_text(tip)}" style="width:{share:.3f}%;'
            f'background:{_color(kind)};color:white;text-align:center;overflow:hidden;white-space:nowrap">'
            f'{label}</div>')


def kind_share_html(p: Profile, scale: float = 1.0) -> str:
    """The share of MACs and of params by op kind, as two 100% stacked bars drawn in plain HTML.

    The Cost page redraws this on every slider move: HTML costs the browser next to nothing, where a plotly
    chart takes about a tenth of a second to draw on a 2-core machine. A segment's width is its share in percent;
    hovering shows the share to one decimal. ``scale`` multiplies the font sizes (projector mode).
    """
    shares = kind_shares(p)
    rows = []
    for column, what in ((1, "MACs"), (2, _("params"))):
        cells = "".join(_segment(row[0], row[column], what) for row in shares if row[column] > 0)
        rows.append('<div style="display:flex;align-items:center;gap:0.75rem;margin:0.3rem 0">'
                    f'<div style="width:4.5rem;text-align:right">{what}</div>'
                    '<div style="display:flex;flex:1;height:2.2rem;line-height:2.2rem;border-radius:3px;'
                    f'overflow:hidden">{cells}</div></div>')
    legend = "".join('<span style="margin-right:1.1rem;white-space:nowrap"><span style="display:inline-block;'
                     f'width:0.9rem;height:0.9rem;background:{_color(kind)};vertical-align:-0.1rem;'
                     f'margin-right:0.3rem"></span>{_text(kind_label(kind))}</span>' for kind, _, _ in shares)
    heading = _text(_("Share by op kind"))  # outside the f-string: Babel does not read calls inside one
    return (f'<div style="font-size:{FONT_SIZE * scale:g}px"><div style="font-size:{(FONT_SIZE + 4) * scale:g}px;'
            f'margin-bottom:0.3rem">{heading}</div>{"".join(rows)}<div style="margin:0.4rem 0 0 5.25rem">{legend}'
            '</div></div>')


def separable_chart(saving: SeparableSaving) -> go.Figure:
    """One standard k×k conv against the depthwise + 1×1 pair that replaces it, in MACs."""
    one_by_one = "group" if saving.groups > 1 else "pointwise"
    standard, separable = _("standard conv"), _("depthwise separable")
    data = [dict(type="bar", x=[standard], y=[saving.standard_macs], name=_("standard k×k conv"),
                 marker=dict(color=OP_COLORS["dense"])),
            dict(type="bar", x=[separable], y=[saving.depthwise.macs], name=kind_label("depthwise"),
                 marker=dict(color=OP_COLORS["depthwise"])),
            dict(type="bar", x=[separable], y=[saving.pointwise.macs], name=f"{kind_label(one_by_one)} 1×1",
                 marker=dict(color=OP_COLORS[one_by_one]))]
    return go.Figure(data=data, layout=layout(
        _("Separable costs {ratio} × the standard conv").format(ratio=f"{saving.ratio:.3f}"), height=420,
        barmode="stack", yaxis=axis("MACs"), xaxis=axis()))


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
    panels = [("MACs", [pt.macs for pt in good]), (_("params"), [pt.params for pt in good])]
    if latency:
        panels.append((_("latency (ms)"), None))
    current_name = _("current")
    rows = len(panels)
    gap = 0.07
    height = (1 - gap * (rows - 1)) / rows
    x = _axis_values([pt.value for pt in good])
    here = [i for i, pt in enumerate(good) if pt.value == current]
    data: list[dict[str, Any]] = []
    axes: dict[str, Any] = {}
    for row, (name, values) in enumerate(panels, start=1):
        suffix = "" if row == 1 else str(row)
        top = 1 - (row - 1) * (height + gap)
        # from zero: ShuffleNet's g sweep, nearly flat by design (the paper widens the channels to keep the
        # MACs), must not look like a 7% swing filling the panel
        axes[f"yaxis{suffix}"] = axis(name, domain=[max(0.0, round(top - height, 6)), round(top, 6)],
                                      rangemode="tozero")
        axes[f"xaxis{suffix}"] = axis(label if row == rows else None, anchor=f"y{suffix}",
                                      matches=None if row == 1 else "x", showticklabels=row == rows,
                                      **({"type": "category"} if any(isinstance(pt.value, bool) for pt in good)
                                         else {}))
        if values is None:
            continue
        data.append(dict(type="scatter", x=x, y=values, mode="lines+markers", name=name, line=dict(width=3),
                         marker=dict(size=9), customdata=[pt.resolution for pt in good], xaxis=f"x{suffix}",
                         yaxis=f"y{suffix}",
                         hovertemplate=label + " %{x}<br>" + name + " %{y:,}<br>%{customdata} px<extra></extra>"))
        if here:
            data.append(dict(type="scatter", x=[x[here[0]]], y=[values[here[0]]], mode="markers", name=current_name,
                             showlegend=row == 1, legendgroup="current", xaxis=f"x{suffix}", yaxis=f"y{suffix}",
                             marker=dict(size=20, symbol="star", color=CURRENT_COLOR),
                             hovertemplate=current_name + ": %{y:,}<extra></extra>"))
    if latency:
        measured = [v for v in [pt.value for pt in good] if v in latency]
        suffix = str(rows)
        data.append(dict(
            type="scatter", x=_axis_values(measured), y=[latency[v][0] for v in measured], mode="lines+markers",
            name=_("latency (median)"), xaxis=f"x{suffix}", yaxis=f"y{suffix}",
            error_y=dict(type="data", symmetric=False, array=[latency[v][2] - latency[v][0] for v in measured],
                         arrayminus=[latency[v][0] - latency[v][1] for v in measured]),
            hovertemplate=label + " %{x}<br>" + _("median") + " %{y:.2f} ms<extra></extra>"))
    return go.Figure(data=data, layout=layout(_("Cost against {knob}").format(knob=label), height=260 * rows + 80,
                                              **axes))


# --------------------------------------------------------------------------------------------------
# across families


def family_chart(points: Sequence[FamilyPoint], current_macs: int, current_params: int,
                 current_top1: float | None, current_label: str) -> go.Figure:
    """Published ImageNet top-1 against MACs, bubble area ∝ params, one colour per family; the current
    configuration as a star where a paper publishes its top-1, otherwise as a vertical line at its MACs."""
    families = list(dict.fromkeys(pt.family for pt in points))
    biggest = max([pt.params for pt in points] + [current_params, 1])
    sizeref = 2.0 * biggest / 60 ** 2  # the largest bubble is 60 px across
    data: list[dict[str, Any]] = []
    for i, family in enumerate(families):
        group = [pt for pt in points if pt.family == family]
        data.append(dict(
            type="scatter", x=[pt.macs for pt in group], y=[pt.top1 for pt in group], mode="markers", name=family,
            marker=dict(size=[pt.params for pt in group], sizemode="area", sizeref=sizeref, sizemin=5,
                        color=FAMILY_COLORS[i % len(FAMILY_COLORS)], opacity=0.75, line=dict(width=1, color="white")),
            customdata=[[pt.label, pt.params, pt.resolution, pt.source] for pt in group],
            hovertemplate="%{customdata[0]}<br>%{x:,} MACs, %{customdata[1]:,} " + _("params")
                          + ", %{customdata[2]} px<br>top-1 %{y}%<br>%{customdata[3]}<extra></extra>"))
    current_name = _("current")
    shapes, annotations = [], []
    if current_top1 is not None:
        data.append(dict(type="scatter", x=[current_macs], y=[current_top1], mode="markers+text", name=current_name,
                         text=[current_label], textposition="top center",
                         marker=dict(size=22, symbol="star", color=CURRENT_COLOR),
                         hovertemplate=current_name + ": %{x:,} MACs, top-1 %{y}%<extra></extra>"))
    else:
        shapes.append(dict(type="line", xref="x", yref="paper", x0=current_macs, x1=current_macs, y0=0, y1=1,
                           line=dict(color=CURRENT_COLOR, dash="dash", width=2)))
    macs = [pt.macs for pt in points] + [current_macs]
    span = [math.log10(min(macs)) - 0.1, math.log10(max(macs)) + 0.1]
    if current_top1 is None:  # the label reads away from the nearer edge, so it is never cut off
        left_half = math.log10(current_macs) < sum(span) / 2
        annotations.append(dict(text=_("{model}: no published top-1").format(model=_text(current_label)), xref="x",
                                yref="paper",
                                x=math.log10(current_macs), y=1, xanchor="left" if left_half else "right",
                                xshift=6 if left_half else -6, yanchor="bottom", showarrow=False))
    ticks = [m * 10 ** k for k in range(int(span[0]) - 1, int(span[1]) + 2) for m in (1, 2, 5)
             if span[0] <= math.log10(m * 10 ** k) <= span[1]]
    xaxis = axis(_("multiply-adds (log scale)"), type="log", range=span, tickvals=ticks,
                 ticktext=[format_tick(t) for t in ticks])
    return go.Figure(data=data, layout=layout(
        _("Accuracy against cost, across families (published top-1)"), height=560, xaxis=xaxis,
        yaxis=axis(_("ImageNet top-1 (%)")), shapes=shapes, annotations=annotations))
