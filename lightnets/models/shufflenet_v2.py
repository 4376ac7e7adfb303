"""ShuffleNet V2 (Ma et al. 2018): channel split, concat and shuffle, designed from measured speed, not FLOPs.

Module names follow torchvision's ``shufflenet_v2_x*`` (conv1, maxpool, stage2..4, conv5, fc) so that its ImageNet
checkpoints load unchanged.
"""

from __future__ import annotations

from torch import nn

from lightnets.i18n import N_
from lightnets.layers import ConvBNAct, GlobalAvgPool, ShuffleV2Unit
from lightnets.registry import Block, Knob, ModelSpec, Paper, reference

# Table 5 of the paper: output channels of Conv1, Stage2, Stage3, Stage4 and Conv5 for each width.
WIDTHS: dict[float, tuple[int, int, int, int, int]] = {
    0.5: (24, 48, 96, 192, 1024),
    1.0: (24, 116, 232, 464, 1024),
    1.5: (24, 176, 352, 704, 1024),
    2.0: (24, 244, 488, 976, 2048),
}
# Units per stage (Table 5 "Repeat": one down-sampling unit, then 3, 7, 3 basic units).
REPEATS = (4, 8, 4)


def shufflenet_v2_blocks(width: float) -> list[Block]:
    stem, *stage_widths, last = WIDTHS[width]
    rows = [
        Block("conv1", ConvBNAct, dict(in_ch=3, out_ch=stem, kernel=3, stride=2, act="relu"), "stem"),
        Block("maxpool", nn.MaxPool2d, dict(kernel_size=3, stride=2, padding=1), "stem"),
    ]
    in_ch = stem
    for stage, (out_ch, repeats) in enumerate(zip(stage_widths, REPEATS), start=2):
        for i in range(repeats):
            rows.append(Block(f"stage{stage}.{i}", ShuffleV2Unit,
                              dict(in_ch=in_ch, out_ch=out_ch, stride=2 if i == 0 else 1), f"stage {stage}"))
            in_ch = out_ch
    rows += [
        Block("conv5", ConvBNAct, dict(in_ch=in_ch, out_ch=last, kernel=1, act="relu"), "head"),
        Block("pool", GlobalAvgPool, {}, "head"),
        Block("fc", nn.Linear, dict(in_features=last, out_features=1000), "head"),
    ]
    return rows


PAPER = Paper("ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
              "Ma, Zhang, Zheng, Sun", 2018, "1807.11164")

_TORCHVISION_NOTE = N_("torchvision's checkpoint metadata; its x1.5 and x2.0 weights were trained by torchvision, "
                       "so their accuracy is not the paper's")

MODELS = [
    ModelSpec(
        name="shufflenet_v2",
        family="ShuffleNet V2",
        title="ShuffleNet V2",
        paper=PAPER,
        idea=N_("Each unit splits its channels in two: one half passes through untouched, the other goes through 1×1 "
                "→ depthwise 3×3 → 1×1 convs of equal width; the halves are concatenated and shuffled, following four "
                "guidelines for real speed (equal widths, few groups, little fragmentation, few element-wise ops)."),
        knobs=(
            Knob("width", N_("width (channel multiplier)"), "choice", 1.0, choices=(0.5, 1.0, 1.5, 2.0),
                 help=N_("The paper's four sizes 0.5×, 1×, 1.5×, 2×: the stage widths of its Table 5 (not a plain "
                         "multiple of 1×; 2× also doubles the last 1×1 conv to 2048).")),
        ),
        blocks=shufflenet_v2_blocks,
        # Every conv and the max pool pad, so the net runs on any size; 32 px (a 1×1 final map) is the floor.
        min_resolution=32,
        references=(
            reference(145, width=0.5),
            reference(146, width=1.0),
            reference(147, width=1.5),
            reference(148, width=2.0),
            reference(189, width=0.5),
            reference(188, width=1.0),
            reference(187, width=1.5),
            reference(186, width=2.0),
            reference(190, width=0.5, note=_TORCHVISION_NOTE),
            reference(191, width=1.0, note=_TORCHVISION_NOTE),
            reference(192, width=1.5, note=_TORCHVISION_NOTE),
            reference(193, width=2.0, note=_TORCHVISION_NOTE),
        ),
        notes=(
            N_("The paper's top-1 for 0.5× (60.3%, Table 8) differs from the official re-release (61.1%); both are "
               "listed."),
            N_("Channel shuffle with 2 groups after every unit mixes the untouched half with the processed half, so "
               "information crosses between the branches in the next unit."),
        ),
    ),
]
