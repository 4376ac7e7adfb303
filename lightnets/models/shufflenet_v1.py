"""ShuffleNet V1 (Zhang et al. 2018): pointwise group convolutions made to talk to each other by channel shuffle.

Table 1 of the paper: a 24-channel 3×3/2 conv and a 3×3/2 max pool, then stages 2–4 of 4, 8 and 4 ShuffleNet
units whose first unit halves the resolution (3×3 average-pool shortcut, concatenated), global pooling and a
fully connected layer. "ShuffleNet s×" multiplies the stage widths by s. Module names are our own (conv1,
maxpool, stage2.N …, fc), as torchvision has no ShuffleNet V1.
"""

from __future__ import annotations

from torch import nn

from lightnets.i18n import N_, _
from lightnets.layers import ConvBNAct, GlobalAvgPool, ShuffleV1Unit
from lightnets.registry import Block, Knob, ModelSpec, Paper, reference

# Table 1: output channels of stage 2 for each number of groups g (stages 3 and 4 double it each time). They are
# chosen so that every g costs about 140M multiply-adds at 1×.
STAGE2_WIDTH = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}
REPEATS = (4, 8, 4)
# First conv channels per scale, as in the official code (megvii-model/ShuffleNet-Series ShuffleNetV1/network.py:
# 12 at 0.5×, 24 at 1× and 1.5×, 48 at 2×); 0.25× keeps 12, which is what the paper's 13 MFLOPs at 0.25× implies.
STEM_WIDTH = {0.25: 12, 0.5: 12, 1.0: 24, 1.5: 24, 2.0: 48}


def _multiple(value: float, divisor: int) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (halves up), at least ``divisor``."""
    return max(divisor, int(value / divisor + 0.5) * divisor)


def stem_width(groups: int, scale: float) -> int:
    """The first conv's channels, rounded *up* to a multiple of g: the first unit's residual branch, a group conv,
    produces (stage-2 width − stem) channels. The official code does the same for g = 8 at 0.5× (16, not 12)."""
    stem = STEM_WIDTH[scale]
    return -(-stem // groups) * groups


def shufflenet_v1_blocks(groups: int, scale: float, shuffle: bool) -> list[Block]:
    if groups not in STAGE2_WIDTH:
        raise ValueError(_("groups={groups!r} is not allowed: groups must be one of {allowed} (Table 1)").format(
            groups=groups, allowed=", ".join(map(str, STAGE2_WIDTH))))
    if scale not in STEM_WIDTH:
        raise ValueError(_("scale={scale!r} is not allowed: scale must be one of {allowed}").format(
            scale=scale, allowed=", ".join(map(str, STEM_WIDTH))))
    stem = stem_width(groups, scale)
    rows = [
        Block("conv1", ConvBNAct, dict(in_ch=3, out_ch=stem, kernel=3, stride=2, act="relu"), "stem"),
        Block("maxpool", nn.MaxPool2d, dict(kernel_size=3, stride=2, padding=1), "stem"),
    ]
    in_ch = stem
    width = _multiple(STAGE2_WIDTH[groups] * scale, groups)
    for stage, repeats in enumerate(REPEATS, start=2):
        # The bottleneck is a quarter of the output, rounded to a multiple of g: both 1×1 group convs and the
        # shuffle split it into g groups (at 1× Table 1's widths make it exact).
        mid = _multiple(width / 4, groups)
        for i in range(repeats):
            stride = 2 if i == 0 else 1
            branch = width - in_ch if stride == 2 else width
            if branch % groups or width % groups:
                raise ValueError(_("groups={groups} cannot split the {branch} channels of stage {stage} at "
                                   "scale={scale:g}").format(groups=groups, branch=branch, stage=stage, scale=scale))
            rows.append(Block(f"stage{stage}.{i}", ShuffleV1Unit, dict(
                in_ch=in_ch, out_ch=width, groups=groups, stride=stride,
                # Stage 2's first pointwise layer is an ordinary conv: its 24 input channels are too few to split.
                first_group_conv=not (stage == 2 and i == 0), shuffle=shuffle, mid_ch=mid), f"stage {stage}"))
            in_ch = width
        width *= 2
    rows += [
        Block("pool", GlobalAvgPool, {}, "head"),
        # bias-free, as in the official code
        Block("fc", nn.Linear, dict(in_features=in_ch, out_features=1000, bias=False), "head"),
    ]
    return rows


PAPER = Paper("ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile Devices",
              "Zhang, Zhou, Lin, Sun", 2018, "1707.01083")

_G8_NOTE = N_("Table 2 prints one complexity for the whole 0.5× row (38M); for g = 8 no buildable net reaches it, "
              "as the first conv must have a multiple of 8 channels: 8 gives 36.6M, 16 (the official code's choice) "
              "40.5M, the official README's 40M for this model.")

MODELS = [
    ModelSpec(
        name="shufflenet_v1",
        family="ShuffleNet V1",
        title="ShuffleNet V1",
        paper=PAPER,
        idea=N_("Replace the costly 1×1 convolutions of a bottleneck by group convolutions, and shuffle the channels "
                "between them so that each group sees information from every other group."),
        knobs=(
            Knob("groups", N_("groups g"), "choice", 3, choices=(1, 2, 3, 4, 8),
                 help=N_("Number of groups of the 1×1 convolutions. More groups make each 1×1 conv cheaper, which "
                         "Table 1 spends on wider layers (144 to 384 channels in stage 2) at about the same cost.")),
            Knob("scale", N_("scale s×"), "choice", 1.0, choices=(0.25, 0.5, 1.0, 1.5, 2.0),
                 help=N_("Multiplies the number of filters of every stage by s; the cost grows about as s².")),
            Knob("shuffle", N_("channel shuffle"), "bool", True,
                 help=N_("Off removes the channel shuffle, so each group only ever sees its own channels: the paper's "
                         "Table 3 ablation (1.9 to 5.8 points worse top-1). Cost is unchanged.")),
        ),
        blocks=shufflenet_v1_blocks,
        min_resolution=32,  # the package's floor; 32 px already ends stage 4 at 1×1
        references=(
            *(reference(entry, groups=g, scale=1.0) for entry, g in zip(range(99, 104), (1, 2, 3, 4, 8))),
            *(reference(entry, groups=g, scale=0.5) for entry, g in zip(range(104, 108), (1, 2, 3, 4))),
            reference(108, groups=8, scale=0.5, architecture_macs_m=40, note=_G8_NOTE),
            *(reference(entry, groups=g, scale=0.25) for entry, g in zip(range(109, 113), (1, 2, 3, 4))),
            reference(114, groups=3, scale=1.0, shuffle=False),
            reference(115, groups=8, scale=1.0, shuffle=False),
            reference(116, groups=3, scale=0.5, shuffle=False),
            reference(117, groups=8, scale=0.5, shuffle=False),
            reference(118, groups=3, scale=0.25, shuffle=False),
            reference(119, groups=8, scale=0.25, shuffle=False),
            reference(122, groups=3, scale=1.5),
            reference(120, groups=3, scale=2.0),
            reference(141, groups=3, scale=1.0),
            reference(142, groups=8, scale=1.0),
            reference(143, groups=3, scale=0.5),
            reference(144, groups=8, scale=0.5),
            reference(139, groups=3, scale=1.5),
            reference(140, groups=8, scale=1.5),
            reference(137, groups=3, scale=2.0),
            reference(138, groups=8, scale=2.0),
        ),
        notes=(
            N_("The paper gives no parameter counts; those listed come from the official PyTorch re-release."),
            N_("Stage widths are Table 1's times s. The first conv has 12 channels at 0.25× and 0.5×, 24 at 1× and "
               "1.5×, 48 at 2× (the official code's choice, which the paper's 0.5×, 0.25× and 2× complexities need), "
               "rounded up to a multiple of g. At 0.25× and 0.5× the bottleneck (a quarter of the output) is rounded "
               "to a multiple of g where g = 2 or 4 would not divide it."),
            N_("Table 2 prints one complexity for the whole 0.5× row (38M); for g = 8 no buildable net reaches it, as "
               "the first conv must have a multiple of 8 channels: 8 gives 36.6M, 16 (the official code's choice) "
               "40.5M, the official README's 40M for this model. At 0.25× (Table 2: 13M) g = 8 gives 15.7M with 16 "
               "channels, 12.4M with 8; that row is left out of the references."),
            N_("The official code shuffles after the depthwise conv, the paper (Fig. 2) before it; a depthwise conv "
               "acts on each channel alone, so the two are the same network with permuted weights. At a stride-2 unit "
               "it applies the final ReLU to the residual branch only; the pooled shortcut is already non-negative, "
               "so the result is identical."),
            N_("Table 8 quotes 140M for 1× g = 3 (the 1× row's complexity); Table 1 gives 137M for that net."),
        ),
    ),
]
