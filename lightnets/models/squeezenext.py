"""SqueezeNext (Gholami et al. 2018): SqueezeNet's squeeze idea with a two-stage bottleneck, low-rank 3×1 / 1×3
filters and ResNet-style shortcuts, shaped by simulated hardware efficiency.

Every detail follows the official Caffe definitions (amirgholami/SqueezeNext ``1.0-SqNxt-23/train_val.prototxt``
and ``2.0-SqNxt-23/train_val.prototxt``): a 7×7/2 conv without padding on a 227-px crop, 3×3/2 max pool (Caffe's
ceil rounding), four stages of SqueezeNext blocks with widths 32·w, 64·w, 128·w, 256·w, a 1×1 conv to 128
channels, global average pooling and a bias-free fully connected layer. Every conv is bias-free
(``bias_term: false``) and followed by batch norm (Caffe's BatchNorm + Scale with ``bias_term: true``) and ReLU.

The first block of every stage has a 1×1 projection shortcut (conv + BN + ReLU, with that block's stride), whether
or not the shape changes: in 2.0-SqNxt-23 the first block of stage 1 goes from 64 to 64 channels at stride 1, and
the prototxt still adds ``Convolution2`` (1×1, 64, on ``pool1``) to the block's output (``Eltwise1``), not the
input. All other blocks add their input unchanged. Every sum is followed by a ReLU.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from lightnets.i18n import N_, _
from lightnets.layers import ConvBNAct, GlobalAvgPool
from lightnets.registry import Block, Knob, ModelSpec, Paper, Reference, reference

STAGE_WIDTHS = (32, 64, 128, 256)
# Not scaled by the width multiplier: the official 2.0-SqNxt-23 and 2.0-SqNxt-44 keep the 64-channel first conv and
# the 128-channel last 1×1 conv of the 1.0 models.
STEM_CHANNELS, HEAD_CHANNELS = 64, 128
# Blocks per stage. The depth counts the first conv, the blocks and the fully connected layer.
BLOCKS_PER_STAGE: dict[int, tuple[int, int, int, int]] = {
    23: (6, 6, 8, 1),  # official 1.0-SqNxt-23 / 2.0-SqNxt-23 prototxt
    34: (9, 9, 12, 2),  # not in any definition we could read: 1.5× the 23 layout (see the spec's notes)
    44: (12, 12, 16, 2),  # 2.0-SqNxt-44 Caffe definition (jolibrain/deepdetect template): 2× the 23 layout
}


class SqueezeNextStem(nn.Sequential):
    """7×7/2 conv (no padding, as in Caffe) → BN → ReLU → 3×3/2 max pool with ceil rounding."""

    kind = "conv"

    def __init__(self, out_ch: int) -> None:
        super().__init__(nn.Conv2d(3, out_ch, 7, 2, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True),
                         nn.MaxPool2d(3, 2, ceil_mode=True))

    @classmethod
    def describe(cls, out_ch: int) -> str:
        return _("conv 7×7, {out}, s2, BN, ReLU + max pool 3×3, s2").format(out=out_ch)


class SqueezeNextBlock(nn.Module):
    """SqueezeNext block: 1×1 to C/2 → 1×1 to C/4 (two-stage squeeze) → 3×1 and 1×3 to C/2 (a low-rank 3×3)
    → 1×1 expansion to C, added to the shortcut, then ReLU.

    Each conv has BN and ReLU. The first 1×1 carries the stride. The shortcut is a 1×1 conv (with BN and ReLU, and
    the block's stride) instead of the identity where the shape changes and wherever ``project`` asks for one: the
    network asks in the first block of every stage, as the official definitions have it even where the shape does
    not change (2.0-SqNxt-23's first block, 64 → 64 channels). The official definitions alternate the order of the
    two separable convs from block to block (3×1 first in even blocks of a stage); ``vertical_first`` says which.
    """

    kind = "squeezenext block"

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, vertical_first: bool = True,
                 project: bool = False) -> None:
        super().__init__()
        half, quarter = out_ch // 2, out_ch // 4
        first, second = ((3, 1), (1, 3)) if vertical_first else ((1, 3), (3, 1))
        self.squeeze1 = ConvBNAct(in_ch, half, 1, stride)
        self.squeeze2 = ConvBNAct(half, quarter, 1)
        self.separable1 = ConvBNAct(quarter, half, first)
        self.separable2 = ConvBNAct(half, half, second)
        self.expand = ConvBNAct(half, out_ch, 1)
        reshapes = stride != 1 or in_ch != out_ch
        self.shortcut = ConvBNAct(in_ch, out_ch, 1, stride) if project or reshapes else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(self.separable2(self.separable1(self.squeeze2(self.squeeze1(x)))))
        return self.act(self.shortcut(x) + out)

    @classmethod
    def describe(cls, in_ch: int, out_ch: int, stride: int = 1, vertical_first: bool = True,
                 project: bool = False) -> str:
        order = "3×1, 1×3" if vertical_first else "1×3, 3×1"
        text = _("SqNxt block {half}→{quarter}, {order}, {out}").format(half=out_ch // 2, quarter=out_ch // 4,
                                                                         order=order, out=out_ch)
        return text + (f", s{stride}" if stride != 1 else "")


def squeezenext_blocks(width: float, depth: int) -> list[Block]:
    if depth not in BLOCKS_PER_STAGE:
        allowed = ", ".join(map(str, BLOCKS_PER_STAGE))
        raise ValueError(_("depth={depth!r} is not allowed: depth must be one of {allowed}").format(
            depth=depth, allowed=allowed))
    channels = [int(c * width) for c in STAGE_WIDTHS]
    if any(c % 4 for c in channels):  # C/4 squeeze channels must be whole
        raise ValueError(_("width={width:g} gives stage widths {channels}, which do not divide by 4").format(
            width=width, channels=channels))
    rows = [Block("stem", SqueezeNextStem, dict(out_ch=STEM_CHANNELS), "stem")]
    in_ch = STEM_CHANNELS
    for stage, (out_ch, count) in enumerate(zip(channels, BLOCKS_PER_STAGE[depth]), start=1):
        for i in range(count):
            # the resolution halves at the first block of stages 2-4; the stem already reduced it by 4
            stride = 2 if i == 0 and stage > 1 else 1
            # the first block of each stage projects its shortcut even where the shape stays (width 2.0, stage 1)
            rows.append(Block(f"stage{stage}.{i}", SqueezeNextBlock,
                              dict(in_ch=in_ch, out_ch=out_ch, stride=stride, vertical_first=i % 2 == 0,
                                   project=i == 0),
                              f"stage {stage}"))
            in_ch = out_ch
    rows += [
        Block("head", ConvBNAct, dict(in_ch=in_ch, out_ch=HEAD_CHANNELS, kernel=1), "head"),
        Block("pool", GlobalAvgPool, {}, "head"),
        Block("fc", nn.Linear, dict(in_features=HEAD_CHANNELS, out_features=1000, bias=False), "head"),
    ]
    return rows


PAPER = Paper("SqueezeNext: Hardware-Aware Neural Network Design",
              "Gholami, Kwon, Wu, Tai, Yue, Jin, Zhao, Keutzer", 2018, "1803.10615")
RESOLUTION = 227  # the official definitions' crop_size, for training and test


def _at_crop(ref: Reference, note: str) -> Reference:
    """A papers.json figure of a model the paper evaluated with the official 227-px crop."""
    return dataclasses.replace(ref, resolution=RESOLUTION, note=note)


_ACCURACY_NOTE = N_("Top-1 as quoted from the paper's table by a third-party README; evaluated with the official "
                    "227-px crop.")

MODELS = [
    ModelSpec(
        name="squeezenext",
        family="SqueezeNext",
        title="SqueezeNext",
        paper=PAPER,
        idea=N_("Each block squeezes the channels twice with 1×1 convs (to C/2, then C/4), filters with a 3×1 and a "
                "1×3 conv instead of a 3×3, expands back with a 1×1 conv and adds a shortcut, avoiding depthwise "
                "convolutions that run poorly on many accelerators."),
        knobs=(
            Knob("width", N_("width multiplier"), "choice", 1.0, choices=(0.5, 1.0, 1.5, 2.0),
                 help=N_("Multiplies the channels of every block (the first conv and the last 1×1 conv keep 64 and "
                         "128, as in the official 2.0 models). The paper's 1.0, 1.5 and 2.0-SqNxt.")),
            Knob("depth", N_("depth"), "choice", 23, choices=(23, 34, 44),
                 help=N_("Layers counted as first conv + blocks + classifier: 23 = 6, 6, 8, 1 blocks per stage, 34 = "
                         "9, 9, 12, 2, 44 = 12, 12, 16, 2. Deeper is more accurate at more cost.")),
        ),
        blocks=squeezenext_blocks,
        default_resolution=RESOLUTION,
        # 32 px is the package's floor; the net itself runs from 9 px.
        min_resolution=32,
        references=(
            Reference(
                label=N_("2.0-SqNxt-44 (the abstract's deeper variant at VGG-19 accuracy)"),
                knobs={"width": 2.0, "depth": 44}, resolution=RESOLUTION, params_m=4.4, macs_m=None, top1=None,
                source="Gholami et al. 2018 (arXiv 1803.10615), abstract: 'one of its deeper variants is able to "
                       "achieve VGG-19 accuracy with only 4.4 Million parameters'",
                provenance="paper",
                note=N_("The abstract does not name the variant. 2.0-SqNxt-44, built like the official 2.0-SqNxt-23 "
                        "(a projection shortcut in each stage's first block) with 12, 12, 16, 2 blocks, has 4,428,096 "
                        "parameters (4.43M), the only width/depth here near 4.4M.")),
            _at_crop(reference(204, width=1.0, depth=23), _ACCURACY_NOTE),
            _at_crop(reference(206, width=2.0, depth=23), _ACCURACY_NOTE),
        ),
        notes=(
            N_("The paper's result tables could not be read here (only its abstract); parameter counts follow from "
               "the official Caffe definitions: 1.0-SqNxt-23 has 717,280 parameters and 278M multiply-adds at 227 px, "
               "2.0-SqNxt-23 2,361,728 and 742M. No 1.5 definition is published; 1.5 is built the same way."),
            N_("As in those definitions, the first block of every stage has a 1×1 projection shortcut (conv, BN, "
               "ReLU) even where the shape does not change: 2.0-SqNxt-23's first block (64 to 64 channels, stride 1) "
               "adds a 1×1 conv of its input (Convolution2) rather than the input itself."),
            N_("osmr/imgclsmob's re-implementation (the pretrained models the official README points to) differs: its "
               "convs have biases, its first conv is padded to take 224 px, and it scales the first and last convs "
               "with the width; hence 724,056 parameters for 1.0-SqNxt-23 and its own FLOPs count of 287M."),
            N_("The 44-layer layout (12, 12, 16, 2) is from a 2.0-SqNxt-44 Caffe definition (a jolibrain/deepdetect "
               "template) that could not be read again when the shortcut rule was corrected; built like the official "
               "23-layer nets it has 4.43M parameters, matching the abstract's 4.4M. The 34-layer layout (9, 9, 12, "
               "2) is inferred as 1.5× the 23-layer one (32 blocks) and is not confirmed by a source."),
            N_("The official definitions alternate 3×1-then-1×3 and 1×3-then-3×1 from block to block; the cost is the "
               "same either way."),
        ),
    ),
]

