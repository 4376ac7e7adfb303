"""The house style of every figure and the block graph: colours that stay distinguishable on a projector, and
a white, large-font plotly look.

Figures are built without a plotly template (a template is deep-copied into every figure in Python and applied to
every trace in the browser: it doubled the time plotly.js took to draw the per-layer chart); ``LOOK`` and ``axis``
give them the look instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the block graph reads the colours here without importing plotly
    import plotly.graph_objects as go

FONT_SIZE = 16  # readable on a projector
# Streamlit's own face for Latin text, then CJK faces for Chinese (fonts-noto-cjk on Linux, PingFang on macOS,
# YaHei on Windows): the browser takes each character from the first face that has it, so 中文 never shows as
# tofu boxes while English looks as before.
FONT_FAMILY = ("Source Sans Pro, Noto Sans CJK SC, Noto Sans SC, PingFang SC, Microsoft YaHei, WenQuanYi Micro Hei, "
               "Arial, sans-serif")
TEXT_COLOR = "#262730"  # Streamlit's text colour
GRID_COLOR = "#e6e6e6"
CURRENT_COLOR = "#000000"
LOOK = dict(template="none", paper_bgcolor="white", plot_bgcolor="white",
            font=dict(size=FONT_SIZE, color=TEXT_COLOR, family=FONT_FAMILY),
            hoverlabel=dict(font_size=FONT_SIZE - 1, align="left"), legend=dict(font=dict(size=FONT_SIZE - 2)),
            margin=dict(l=80, r=30, t=80, b=60))


def axis(title: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """An axis in the house style: light grid, grey zero line, a title in the axis font."""
    out: dict[str, Any] = dict(gridcolor=GRID_COLOR, zerolinecolor="#b0b0b0", linecolor="#b0b0b0",
                               ticks="outside", tickcolor="#b0b0b0", automargin=True)
    if title is not None:
        out["title"] = dict(text=title, standoff=10)
    return {**out, **kwargs}


def layout(title: str, height: int, **kwargs: Any) -> dict[str, Any]:
    """A figure layout in the house style; ``kwargs`` add to it (axes, legend, shapes …)."""
    return {**LOOK, "title": dict(text=title, font=dict(size=FONT_SIZE + 4), x=0.01, xanchor="left"),
            "height": height, **kwargs}


def style(fig: "go.Figure", title: str, height: int = 480, **kwargs: Any) -> "go.Figure":
    """Give a figure built trace by trace the house look; what it set on its axes itself stays."""
    fig.update_layout(layout(title, height, **kwargs))

    def defaults(ax: Any) -> None:
        for key, value in axis().items():
            if ax[key] is None:
                ax[key] = value

    fig.for_each_xaxis(defaults)
    fig.for_each_yaxis(defaults)
    return fig

# op kinds of cost.LayerCost.op
OP_COLORS: dict[str, str] = {
    "dense": "#d62728",      # full k×k convolution: the expensive kind
    "pointwise": "#1f77b4",  # 1×1: where MobileNets spend their multiply-adds
    "depthwise": "#2ca02c",  # cheap in MACs, not always in time
    "group": "#9467bd",
    "linear": "#8c564b",
    "bn": "#bcbd22",
    "act": "#ff7f0e",
    "add": "#17becf",
    "scale": "#e377c2",
    "pool": "#7f7f7f",
    "shuffle": "#aec7e8",
    "concat": "#98df8a",
    "pad": "#c7c7c7",
    "other": "#dbdb8d",
}

# one colour per channel group in the shuffle animations (up to 8 groups)
GROUP_COLORS: list[str] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


# Projector mode (the app's ?present=1): every chart's text this many times larger. A plotly figure gets it in one
# place, when it is shown (``scaled``: text, height, margins), so that every figure follows whatever sizes it set
# itself, and cached figures serve both modes; the HTML and SVG drawings (cost.kind_share_html, cost.layer_svg)
# take it as their ``scale`` argument, because their layout makes room for their text.
PRESENT_SCALE = 1.5
PLOTLY_DEFAULT_FONT_SIZE = 12  # what plotly.js uses where a figure sets no font size


def _scale_fonts(node: Any, factor: float) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if (key == "font" or key.endswith("font")) and isinstance(value, dict) and "size" in value:
                size = value["size"]
                value["size"] = [s * factor for s in size] if isinstance(size, (list, tuple)) else size * factor
            _scale_fonts(value, factor)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _scale_fonts(item, factor)


def scaled(fig: "go.Figure | dict[str, Any]", factor: float = PRESENT_SCALE) -> dict[str, Any]:
    """A copy of the figure, as plotly's JSON dict, with every font size (layout, titles, axes, legend, hover,
    annotations, buttons, the traces' and frames' text), the height and the margins multiplied by ``factor``."""
    import copy

    out = fig.to_dict() if hasattr(fig, "to_dict") else copy.deepcopy(fig)
    layout = out.setdefault("layout", {})
    layout.setdefault("font", {}).setdefault("size", PLOTLY_DEFAULT_FONT_SIZE)
    _scale_fonts(out, factor)
    if layout.get("height"):
        layout["height"] = round(layout["height"] * factor)
    for side, value in (layout.get("margin") or {}).items():
        if side in ("l", "r", "t", "b", "pad") and isinstance(value, (int, float)):
            layout["margin"][side] = round(value * factor)
    return out

