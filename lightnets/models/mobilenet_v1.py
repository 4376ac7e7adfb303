"""MobileNet V1 (Howard et al. 2017): a plain stack of depthwise separable convolutions.

Width semantics are the paper's as implemented in TF-slim's ``mobilenet_v1.py``: the width multiplier α scales
every layer, the first 3×3 conv included, and channels are rounded down, ``max(int(c·α), 8)``. No torchvision
model exists for this family, so module names are our own (``features.N``, ``classifier``).
"""

from __future__ import annotations

from torch import nn

from lightnets.i18n import N_
from lightnets.layers import ConvBNAct, DepthwiseSeparable, GlobalAvgPool
from lightnets.registry import Block, Knob, ModelSpec, Paper, reference

STEM_CHANNELS = 32
# Table 1 of the paper, one row per depthwise separable layer: output channels, stride of its depthwise conv.
# The paper prints stride 2 for the second-to-last depthwise conv (input 7×7×1024), but the next layer's input
# is still 7×7: it is stride 1, as in TF-slim.
LAYERS = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2),
    (1024, 1),
]
MIN_DEPTH = 8


def width(channels: int, alpha: float) -> int:
    """Channels of a layer at width multiplier ``alpha``: TF-slim's ``max(int(c·α), 8)``.

    The small epsilon keeps a product that is a whole number in exact arithmetic (0.75·64) from being truncated
    one channel short by binary floating point.
    """
    return max(int(channels * alpha + 1e-6), MIN_DEPTH)


def mobilenet_v1_blocks(alpha: float, separable: bool) -> list[Block]:
    in_ch = width(STEM_CHANNELS, alpha)
    rows = [Block("features.0", ConvBNAct, dict(in_ch=3, out_ch=in_ch, kernel=3, stride=2, act="relu"), "stem")]
    stage = 1
    for index, (channels, stride) in enumerate(LAYERS, start=1):
        out_ch = width(channels, alpha)
        if stride == 2:  # a new stage at every halving of the resolution
            stage += 1
        if separable:
            row = Block(f"features.{index}", DepthwiseSeparable, dict(in_ch=in_ch, out_ch=out_ch, stride=stride),
                        f"stage {stage}")
        else:
            # Table 4's baseline: the same layer widths with one full 3×3 conv in place of depthwise + pointwise.
            row = Block(f"features.{index}", ConvBNAct,
                        dict(in_ch=in_ch, out_ch=out_ch, kernel=3, stride=stride, act="relu"), f"stage {stage}")
        rows.append(row)
        in_ch = out_ch
    rows += [
        Block("pool", GlobalAvgPool, {}, "head"),
        Block("classifier", nn.Linear, dict(in_features=in_ch, out_features=1000), "head"),
    ]
    return rows


PAPER = Paper("MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
              "Howard, Zhu, Chen, Kalenichenko, Wang, Weyand, Andreetto, Adam", 2017, "1704.04861")

MODELS = [
    ModelSpec(
        name="mobilenet_v1",
        family="MobileNet V1",
        title="MobileNet V1",
        paper=PAPER,
        idea=N_("Factorise every 3×3 convolution into a depthwise 3×3 conv (one filter per channel) and a 1×1 "
                "pointwise conv that mixes channels, cutting the cost by a factor of about 1/N + 1/9."),
        knobs=(
            Knob("alpha", N_("width multiplier α"), "float", 1.0, min=0.25, max=2.0, step=0.05,
                 help=N_("Scales the number of channels of every layer (rounded down, at least 8); cost falls roughly "
                         "as α². The paper trains 1, 0.75, 0.5 and 0.25.")),
            Knob("separable", N_("depthwise separable"), "bool", True,
                 help=N_("Off replaces each depthwise + pointwise pair by one full 3×3 convolution of the same width: "
                         "the paper's Table 4 baseline, about 8× the cost for 1% more accuracy."),
                 concepts={False: "full_conv"}),
        ),
        blocks=mobilenet_v1_blocks,
        # Every conv pads, so the net runs on any size; 32 px (a 1×1 final map) is the package's floor.
        min_resolution=32,
        references=(
            reference(0, alpha=1.0),
            reference(1, alpha=0.75),
            reference(2, alpha=0.5),
            reference(3, alpha=0.25),
            reference(4, alpha=1.0),
            reference(5, alpha=1.0),
            reference(6, alpha=1.0),
            reference(7, alpha=1.0, separable=False),
            reference(8, alpha=1.0, separable=True),
            reference(10, alpha=0.5),
        ),
        notes=(
            N_("Table 1 prints stride 2 for the second-to-last depthwise conv (input 7×7×1024), yet its output stays "
               "7×7: it is stride 1, as in TF-slim."),
            N_("Table 2's resource split lists the first 3×3 conv at 1.19% of the mult-adds and its four rows sum to "
               "99.29%; the architecture gives 1.91% (10.8M of 569M), which makes the rows sum to 100%, so 1.19 is a "
               "transposition of 1.91. The other rows (1×1 94.86%, depthwise 3.06%, FC 0.18%) agree."),
            N_("The width multiplier rounds as TF-slim does, max(int(c·α), 8), without the multiple-of-8 rounding of "
               "MobileNet V2/V3; for α = 0.25…1 in steps of 0.25 the two agree."),
            N_("Table 5's 'shallow' MobileNet (the five 14×14×512 layers removed) is not a knob here."),
        ),
    ),
]
