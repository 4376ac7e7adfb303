"""ESPNet v2 (Mehta et al. 2019): the EESP unit — reduce, split, transform with dilated depthwise convs, merge.

An EESP unit projects its input to n = out/K channels with a K-group 1×1 conv, runs K depthwise 3×3 convs with
growing dilation rates on that projection (a large receptive field for almost no cost), adds the branch
outputs cumulatively (hierarchical feature fusion, which removes the gridding artefacts of dilated convs),
concatenates them and mixes them back with a K-group 1×1 conv; a residual joins input and output. The
strided unit runs the EESP at stride 2 beside a 3×3 average pool of its input (concatenated), and adds
the input image, average-pooled to the same size and passed through two small convs ("input reinforcement").

Architecture, channel widths per scale s, K = 4, the receptive-field limits r_lim and the head are those of the
official code (sacmehta/ESPNetv2, imagenet/Model.py and cnn_utils.py). Module names follow it; inside its
CBR/CB helpers its ``conv``/``bn``/``act`` are our ``0``/``1``/``2``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from lightnets.i18n import N_, _
from lightnets.layers import ConvBNAct, GlobalAvgPool
from lightnets.registry import Block, Knob, ModelSpec, Paper, Reference, paper_entries, reference
from lightnets.translated import formatted

BRANCHES = 4  # K, the number of parallel dilated branches, at every level
R_LIM = (13, 11, 9, 7, 5)  # receptive-field limit per level (official r_lim)
REPEATS = (0, 3, 7, 3)  # stride-1 EESP units after the strided one at levels 2..5
BASE = 32
SCALES = (0.5, 1.0, 1.25, 1.5, 2.0)  # the official pretrained sizes

# The receptive field of a 3×3 kernel at dilation d is (2d+1)×(2d+1).
_DILATION_OF_SIZE = {2 * d + 1: d for d in range(1, 9)}


def eesp_dilations(branches: int, r_lim: int) -> list[int]:
    """Dilation rates of an EESP's branches: receptive fields 3, 5, 7, … (dilation 1, 2, 3, …), those above
    ``r_lim`` falling back to 3×3 (dilation 1), sorted so that the fused sum grows from small to large fields."""
    sizes = sorted(3 + 2 * i if 3 + 2 * i <= r_lim else 3 for i in range(branches))
    return [_DILATION_OF_SIZE[size] for size in sizes]


def espnet_v2_channels(scale: float) -> list[int]:
    """Output widths of levels 1–5 and of the last 1×1 conv, as the official code computes them."""
    base_s = math.ceil(int(BASE * scale) / BRANCHES) * BRANCHES
    widths = [BASE if base_s > BASE else base_s] + [base_s * 2 ** i for i in range(1, 5)]
    return widths + [1024 if scale <= 1.5 else 1280]


class EESP(nn.Module):
    """Extremely Efficient Spatial Pyramid of depth-wise dilated separable convolutions.

    Reduce (K-group 1×1 conv to out/K channels, BN, PReLU) → split into K depthwise 3×3 convs at dilations
    ``eesp_dilations(K, r_lim)`` → hierarchical feature fusion (branch i gets the sum of branches 0..i) →
    concat → BN, PReLU → K-group 1×1 conv back to ``out_ch`` (BN) → residual add → PReLU.
    With ``downsample=True`` (inside the strided unit) it runs at stride 2 and returns before the residual
    and the last activation, which the strided unit applies after joining the average-pool branch.
    """

    kind = "eesp"
    concepts = ("eesp",)

    def __init__(self, in_ch: int, out_ch: int, branches: int = BRANCHES, r_lim: int = 7,
                 downsample: bool = False) -> None:
        super().__init__()
        width = out_ch // branches
        if width * branches != out_ch or in_ch % branches or width % branches:
            raise ValueError(_("EESP {cin}→{cout} with {branches} branches: the widths must split into {branches} "
                               "groups of whole channels").format(cin=in_ch, cout=out_ch, branches=branches))
        self.downsample = downsample
        stride = 2 if downsample else 1
        self.dilations = eesp_dilations(branches, r_lim)
        self.proj_1x1 = ConvBNAct(in_ch, width, 1, groups=branches, act="prelu")
        self.spp_dw = nn.ModuleList(
            nn.Conv2d(width, width, 3, stride, padding=d, dilation=d, groups=width, bias=False)
            for d in self.dilations)
        self.br_after_cat = nn.Sequential(nn.BatchNorm2d(out_ch), nn.PReLU(out_ch))
        self.conv_1x1_exp = ConvBNAct(out_ch, out_ch, 1, groups=branches, act=None)
        self.use_residual = not downsample and in_ch == out_ch
        # the official strided EESP also builds this PReLU but never runs it; we leave it out
        self.module_act = None if downsample else nn.PReLU(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduced = self.proj_1x1(x)
        fused = [self.spp_dw[0](reduced)]
        for branch in self.spp_dw[1:]:
            fused.append(branch(reduced) + fused[-1])  # hierarchical feature fusion
        out = self.conv_1x1_exp(self.br_after_cat(torch.cat(fused, 1)))
        if self.module_act is None:
            return out
        if self.use_residual:
            out = out + x
        return self.module_act(out)

    @classmethod
    def describe(cls, in_ch: int, out_ch: int, branches: int = BRANCHES, r_lim: int = 7,
                 downsample: bool = False) -> str:
        rates = ",".join(str(d) for d in eesp_dilations(branches, r_lim))
        return f"EESP, K={branches}, d={rates}, {out_ch}" + (", s2" if downsample else "")


class StridedEESP(nn.Module):
    """ESPNet v2's down-sampling unit (the official ``DownSampler``).

    Concatenates a 3×3 stride-2 average pool of the input (``in_ch`` channels) with a stride-2 EESP
    (``out_ch − in_ch`` channels); with input reinforcement it adds the input image, average-pooled ``image_steps``
    times to the same size and passed through a 3×3 conv (3 channels, PReLU) and a 1×1 conv to ``out_ch``.
    The network hands the image to this unit (``takes_image``).
    """

    kind = "strided eesp"
    concepts = ("eesp",)
    takes_image = True

    def __init__(self, in_ch: int, out_ch: int, branches: int = BRANCHES, r_lim: int = 9,
                 image_steps: int = 0) -> None:
        super().__init__()
        self.image_steps = image_steps
        self.eesp = EESP(in_ch, out_ch - in_ch, branches, r_lim, downsample=True)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1)
        self.inp_reinf = (nn.Sequential(ConvBNAct(3, 3, 3, act="prelu"), ConvBNAct(3, out_ch, 1, act=None))
                          if image_steps else None)
        self.act = nn.PReLU(out_ch)

    def forward(self, x: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        out = torch.cat([self.avg(x), self.eesp(x)], 1)
        if self.inp_reinf is not None and image is not None:
            # every 3×3/2 pool (padding 1) and every stride-2 conv of the net map a size n to ceil(n/2), so
            # ``image_steps`` pools bring the image to this unit's output size at any input resolution
            for _step in range(self.image_steps):
                image = F.avg_pool2d(image, 3, stride=2, padding=1)
            out = out + self.inp_reinf(image)
        return self.act(out)

    @classmethod
    def describe(cls, in_ch: int, out_ch: int, branches: int = BRANCHES, r_lim: int = 9,
                 image_steps: int = 0) -> str:
        rates = ",".join(str(d) for d in eesp_dilations(branches, r_lim))
        text = _("strided EESP, K={branches}, d={rates}, {out}, s2, avg-pool shortcut").format(
            branches=branches, rates=rates, out=out_ch)
        return text + (", " + _("input image ÷{factor}").format(factor=2 ** image_steps) if image_steps else "")


def espnet_v2_blocks(scale: float) -> list[Block]:
    ch = espnet_v2_channels(scale)
    rows = [Block("level1", ConvBNAct, dict(in_ch=3, out_ch=ch[0], kernel=3, stride=2, act="prelu"), "level 1")]
    for level in range(2, 6):
        in_ch, out_ch = ch[level - 2], ch[level - 1]
        # The official net feeds the image to the strided units of levels 2–4 only (not level 5).
        rows.append(Block(f"level{level}_0", StridedEESP,
                          dict(in_ch=in_ch, out_ch=out_ch, r_lim=R_LIM[level - 2],
                               image_steps=level if level < 5 else 0), f"level {level}"))
        for i in range(REPEATS[level - 2]):
            rows.append(Block(f"level{level}.{i}", EESP, dict(in_ch=out_ch, out_ch=out_ch, r_lim=R_LIM[level - 1]),
                              f"level {level}"))
    # Head: a depthwise 3×3 and a K-group 1×1 conv widen the last level, then pool, dropout, classifier.
    last, head = ch[4], ch[5]
    rows += [
        Block(f"level5.{REPEATS[3]}", ConvBNAct, dict(in_ch=last, out_ch=last, kernel=3, groups=last, act="prelu"),
              "head"),
        Block(f"level5.{REPEATS[3] + 1}", ConvBNAct,
              dict(in_ch=last, out_ch=head, kernel=1, groups=BRANCHES, act="prelu"), "head"),
        Block("pool", GlobalAvgPool, {}, "head"),
        Block("dropout", nn.Dropout, dict(p=0.2), "head"),
        Block("classifier", nn.Linear, dict(in_features=head, out_features=1000), "head"),
    ]
    return rows


def _reference(entry_id: int, scale: float) -> Reference:
    """The repo's figure, with the multiply-adds it implies in our convention (conv + classifier)."""
    conv_only = paper_entries()[entry_id]["madds_m"]
    classifier = espnet_v2_channels(scale)[-1] * 1000 / 1e6
    return reference(entry_id, scale=scale, architecture_macs_m=round(conv_only + classifier, 2),
                     note=formatted(N_("The repo's {conv}M counts conv layers only; with the {classifier}M of the "
                                       "fully connected classifier the same architecture has the multiply-adds checked "
                                       "here."), conv=conv_only, classifier=f"{classifier:.3f}"))


PAPER = Paper("ESPNetv2: A Light-weight, Power Efficient, and General Purpose Convolutional Neural Network",
              "Mehta, Rastegari, Shapiro, Hajishirzi", 2019, "1811.11431")

MODELS = [
    ModelSpec(
        name="espnet_v2",
        family="ESPNet v2",
        title="ESPNet v2",
        paper=PAPER,
        idea=N_("The EESP unit replaces a costly wide conv by a group 1×1 reduction, several depthwise 3×3 convs with "
                "different dilation rates (a spatial pyramid of receptive fields), a cumulative sum of their outputs "
                "against gridding artefacts, and a group 1×1 expansion; strided units also see the input image "
                "again."),
        knobs=(
            Knob("scale", N_("width scale s"), "choice", 1.0, choices=SCALES,
                 help=N_("Scales the widths of levels 2–5 (32·s·2^i channels, rounded to multiples of 4); the last "
                         "1×1 conv has 1024 channels up to s = 1.5 and 1280 at s = 2. Offered: the five sizes of the "
                         "official pretrained models (some others, e.g. 0.75, would not split evenly into the 4 "
                         "branches).")),
        ),
        blocks=espnet_v2_blocks,
        # every stride-2 step maps n to ceil(n/2), so 32 px (the project's floor) ends at 1×1 at level 5
        min_resolution=32,
        references=tuple(_reference(entry, s) for entry, s in zip(range(249, 254), SCALES)),
        notes=(
            N_("The repo's FLOP counter (segmentation/FlopsCompute.py, hooks on nn.Conv2d only) counts convolutions "
               "only — the input-reinforcement convs included, the fully connected classifier not. Our multiply-adds "
               "add the classifier (1024 or 1280 × 1000), so they are about 1M above the repo's table; the conv part "
               "matches it to 0.01M."),
            N_("The official model also builds a PReLU in each strided EESP and input-reinforcement convs at level 5 "
               "that its forward pass never runs (0.002–0.006M parameters); they are left out here."),
            N_("The official code searches the pooled input image's size with a loop; here the number of 3×3/2 "
               "poolings is fixed per level, which gives the same size at every resolution and keeps the unit "
               "traceable."),
        ),
    ),
]
