"""GhostNet (Han et al. 2020): many feature maps are near-copies ("ghosts") of others, so make them cheaply.

A Ghost module replaces a 1×1 conv that would make ``out`` channels by a primary 1×1 conv that makes only
ceil(out/s) "intrinsic" channels and cheap d×d depthwise convs that make the other (s−1)/s from them. The
network is MobileNet V3-Large's layout with Ghost bottlenecks in place of inverted residuals.

The stage table and channel rounding are the official code's (huawei-noah/Efficient-AI-Backbones,
ghostnet_pytorch/ghostnet.py, ``cfgs`` rows ``[k, exp, c, SE, s]``): every width is ``make_divisible(c·width, 4)``,
the SE squeeze width ``make_divisible(exp/4, 4)``, and the 1280-channel head conv is never scaled.

Module names follow the official code with a few renames, so its checkpoints load after mapping
``conv_stem``/``bn1`` → ``conv_stem.0``/``conv_stem.1``, ``blocks.9.0.conv``/``.bn1`` → ``blocks.9.0.0``/``.1``
and, inside each SE, ``conv_reduce``/``conv_expand`` → ``fc1``/``fc2`` (the shared ``SqueezeExcite``'s names).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lightnets.i18n import N_, _
from lightnets.layers import ConvBNAct, SqueezeExcite, make_divisible
from lightnets.registry import Block, Knob, ModelSpec, Paper, reference

# The official ``cfgs``: one inner list per container (``blocks.i`` here); rows are
# (depthwise kernel k, expansion width exp, output width c, SE, stride s) at width 1.0.
CFGS: list[list[tuple[int, int, int, bool, int]]] = [
    [(3, 16, 16, False, 1)],
    [(3, 48, 24, False, 2)],
    [(3, 72, 24, False, 1)],
    [(5, 72, 40, True, 2)],
    [(5, 120, 40, True, 1)],
    [(3, 240, 80, False, 2)],
    [(3, 200, 80, False, 1), (3, 184, 80, False, 1), (3, 184, 80, False, 1), (3, 480, 112, True, 1),
     (3, 672, 112, True, 1)],
    [(5, 672, 160, True, 2)],
    [(5, 960, 160, False, 1), (5, 960, 160, True, 1), (5, 960, 160, False, 1), (5, 960, 160, True, 1)],
]
# The paper's table groups the containers by output resolution (112², 56², 28², 14², 7² at 224 px).
STAGE_OF_CFG = (1, 2, 2, 3, 3, 4, 4, 5, 5)
STEM_CH = 16
HEAD_CH = 1280  # the official code keeps the last conv at 1280 for every width
DIVISOR = 4


class GhostModule(nn.Module):
    """Primary 1×1 conv → ceil(out/s) intrinsic maps; a d×d depthwise conv turns each into s−1 ghosts;
    concatenate and keep the first ``out_ch`` channels (ceil can overshoot when s does not divide out).

    A plain 1×1 conv costs in·out MACs per pixel; this one in·out/s + (s−1)/s·out·d², about s× less
    (the paper's r_s = s·c/(s + c − 1) with c = in, d ≈ 1).
    """

    kind = "ghost module"
    concepts = ("ghost",)

    def __init__(self, in_ch: int, out_ch: int, ratio: int = 2, dw_kernel: int = 3, relu: bool = True) -> None:
        super().__init__()
        if ratio < 2:
            raise ValueError(_("ratio={ratio} is not allowed: a Ghost module needs ratio s ≥ 2").format(ratio=ratio))
        self.out_channels = out_ch
        self.intrinsic_channels = math.ceil(out_ch / ratio)
        self.ghost_channels = self.intrinsic_channels * (ratio - 1)
        act = "relu" if relu else None
        self.primary_conv = ConvBNAct(in_ch, self.intrinsic_channels, 1, act=act)
        # groups = intrinsic channels: each intrinsic map feeds its own s−1 ghost maps
        self.cheap_operation = ConvBNAct(self.intrinsic_channels, self.ghost_channels, dw_kernel,
                                         groups=self.intrinsic_channels, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        intrinsic = self.primary_conv(x)
        ghosts = self.cheap_operation(intrinsic)
        return torch.cat([intrinsic, ghosts], dim=1)[:, : self.out_channels]

    @classmethod
    def describe(cls, in_ch: int, out_ch: int, ratio: int = 2, dw_kernel: int = 3, relu: bool = True) -> str:
        primary = math.ceil(out_ch / ratio)
        text = _("Ghost module, {out} = {primary} primary 1×1 + {cheap} cheap {k}×{k} depthwise, s={ratio}").format(
            out=out_ch, primary=primary, cheap=out_ch - primary, k=dw_kernel, ratio=ratio)
        return text if relu else _("{label}, linear").format(label=text)


class GhostBottleneck(nn.Module):
    """Ghost bottleneck: Ghost module (expand, ReLU) → [depthwise k×k, stride 2] → [SE] → Ghost module (project,
    linear), plus a shortcut: the identity, or depthwise k×k + pointwise 1×1 (with BN) where the shape changes.
    """

    kind = "ghost bottleneck"

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, se: bool = False,
                 ratio: int = 2, dw_kernel: int = 3) -> None:
        super().__init__()
        self.stride = stride
        self.ghost1 = GhostModule(in_ch, mid_ch, ratio, dw_kernel, relu=True)
        if stride > 1:
            self.conv_dw = nn.Conv2d(mid_ch, mid_ch, kernel, stride, (kernel - 1) // 2, groups=mid_ch, bias=False)
            self.bn_dw = nn.BatchNorm2d(mid_ch)
        # SE with the official squeeze width (a quarter, rounded to 4) and hard-sigmoid gate
        self.se = (SqueezeExcite(mid_ch, make_divisible(mid_ch * 0.25, DIVISOR), act="relu", gate="hsigmoid")
                   if se else None)
        self.ghost2 = GhostModule(mid_ch, out_ch, ratio, dw_kernel, relu=False)
        if in_ch == out_ch and stride == 1:
            self.shortcut = nn.Sequential()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, in_ch, kernel, stride, (kernel - 1) // 2, groups=in_ch, bias=False),
                nn.BatchNorm2d(in_ch),
                nn.Conv2d(in_ch, out_ch, 1, bias=False),
                nn.BatchNorm2d(out_ch),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.ghost1(x)
        if self.stride > 1:
            out = self.bn_dw(self.conv_dw(out))
        if self.se is not None:
            out = self.se(out)
        return self.ghost2(out) + self.shortcut(x)

    @classmethod
    def describe(cls, in_ch: int, mid_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, se: bool = False,
                 ratio: int = 2, dw_kernel: int = 3) -> str:
        # k sizes the depthwise convs of stride-2 blocks and of reshaping shortcuts only: say it only there
        uses_kernel = stride != 1 or in_ch != out_ch
        return ("G-bneck" + (f" k{kernel}" if uses_kernel else "") + ", " + _("exp {exp}").format(exp=mid_ch)
                + f", {out_ch}"
                + (f", s{stride}" if stride != 1 else "") + (", SE" if se else ""))


def ghostnet_blocks(width: float, ratio: int, dw_kernel: int) -> list[Block]:
    in_ch = make_divisible(STEM_CH * width, DIVISOR)
    rows = [Block("conv_stem", ConvBNAct, dict(in_ch=3, out_ch=in_ch, kernel=3, stride=2, act="relu"), "stem")]
    for i, (cfg, stage) in enumerate(zip(CFGS, STAGE_OF_CFG)):
        for j, (k, exp, c, se, s) in enumerate(cfg):
            out_ch = make_divisible(c * width, DIVISOR)
            mid_ch = make_divisible(exp * width, DIVISOR)
            rows.append(Block(f"blocks.{i}.{j}", GhostBottleneck,
                              dict(in_ch=in_ch, mid_ch=mid_ch, out_ch=out_ch, kernel=k, stride=s, se=se,
                                   ratio=ratio, dw_kernel=dw_kernel), f"stage {stage}"))
            in_ch = out_ch
    last_ch = make_divisible(CFGS[-1][-1][1] * width, DIVISOR)  # 960 at width 1: the last row's expansion width
    rows += [
        Block(f"blocks.{len(CFGS)}.0", ConvBNAct, dict(in_ch=in_ch, out_ch=last_ch, kernel=1, act="relu"), "head"),
        Block("global_pool", nn.AdaptiveAvgPool2d, dict(output_size=1), "head"),
        # the 1280-wide "conv" runs on a 1×1 map: a fully connected layer with bias, then ReLU
        Block("conv_head", nn.Conv2d, dict(in_channels=last_ch, out_channels=HEAD_CH, kernel_size=1, bias=True),
              "head"),
        Block("act2", nn.ReLU, dict(inplace=True), "head"),
        Block("flatten", nn.Flatten, {}, "head"),
        Block("dropout", nn.Dropout, dict(p=0.2), "head"),
        Block("classifier", nn.Linear, dict(in_features=HEAD_CH, out_features=1000), "head"),
    ]
    return rows


def ghost_saving(in_ch: int, ratio: int, dw_kernel: int) -> float:
    """The paper's theoretical speed-up of a Ghost module over a plain conv, r_s = s·c·k² / (k²·c + (s−1)·d²)
    with a 1×1 primary conv (k = 1); for d = 1 it is s·c / (s + c − 1), which tends to s for wide inputs."""
    s, c, d = ratio, in_ch, dw_kernel
    return s * c / (c + (s - 1) * d * d)


PAPER = Paper("GhostNet: More Features from Cheap Operations", "Han, Wang, Tian, Guo, Xu, Xu", 2020,
              "1911.11907")

_WIDTH_NOTE = N_("Checked against the architecture of the official code (huawei-noah/Efficient-AI-Backbones "
                 "ghostnet_pytorch/ghostnet.py) with channels rounded to multiples of 4 as it does.")

MODELS = [
    ModelSpec(
        name="ghostnet",
        family="GhostNet",
        title="GhostNet",
        paper=PAPER,
        idea=N_("Many feature maps of a CNN are near-copies of others, so a Ghost module makes only 1/s of its "
                "channels with an ordinary conv and derives the rest from them with cheap depthwise convs, cutting "
                "the cost of each 1×1 layer about s-fold."),
        knobs=(
            Knob("width", N_("width multiplier"), "float", 1.0, min=0.2, max=2.0, step=0.1,
                 help=N_("Scales every channel count (rounded to a multiple of 4, as the official code does); the "
                         "paper trains 0.5×, 1.0× and 1.3×. The last 1280-wide layer stays fixed.")),
            Knob("ratio", N_("ratio s"), "int", 2, min=2, max=5, step=1,
                 help=N_("Each Ghost module makes 1/s of its output with an ordinary 1×1 conv and the other (s−1)/s "
                         "with cheap depthwise convs: larger s means fewer parameters and MACs (about s× fewer in "
                         "those layers) at some cost in accuracy. GhostNet uses s = 2.")),
            Knob("dw_kernel", N_("cheap-op kernel d"), "choice", 3, choices=(1, 3, 5, 7),
                 help=N_("Kernel size d×d of the cheap depthwise convs that make the ghost channels. d = 1 is a "
                         "per-channel scaling; the paper's ablation picks d = 3.")),
        ),
        blocks=ghostnet_blocks,
        # 32 px (the project's floor) reaches the head as a 1×1 map through the five stride-2 layers
        min_resolution=32,
        references=(
            reference(212, width=0.5, ratio=2, dw_kernel=3, note=_WIDTH_NOTE),
            reference(213, width=1.0, ratio=2, dw_kernel=3, note=_WIDTH_NOTE),
            reference(214, width=1.3, ratio=2, dw_kernel=3, note=_WIDTH_NOTE),
            reference(215, width=1.0, ratio=2, dw_kernel=3,
                      note=N_("The official readme rounds the same architecture's multiply-adds to 142M, the paper to "
                              "141M.")),
        ),
        notes=(
            N_("As in the paper's Figure 3 and the official code, a stride-1 Ghost bottleneck is two Ghost modules "
               "(and SE) with no depthwise conv between them; the table's kernel size k is used by the stride-2 "
               "blocks' depthwise conv and by the depthwise + pointwise shortcut where the width changes."),
            N_("The paper's table 'G-bneck' rows and the official cfgs agree; the depthwise kernel (3 or 5) of each "
               "bottleneck comes from the cfgs, where the paper's table does not print it."),
            N_("The published figures are at s = 2, d = 3; the ratio and kernel knobs explore what the paper ablates "
               "on CIFAR-10 (d from 1 to 7, s from 2 to 5) on the ImageNet network."),
            N_("The parameter figures of the paper come to us through secondary transcriptions of its ImageNet table; "
               "the architecture (official code) agrees with them within 3%."),
        ),
    ),
]

