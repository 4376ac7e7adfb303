"""Colours shared by every figure and the block graph, chosen to stay distinguishable on a projector."""

from __future__ import annotations

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
