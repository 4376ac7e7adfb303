"""FBNet A, B and C (Wu et al. 2019): the per-layer block choices a differentiable architecture search picked.

The macro-architecture is fixed (the paper's Table 1: a 3×3 stem, 22 searchable layers in 7 stages of
widths 16, 24, 32, 64, 112, 184, 352, a 1×1 conv, pooling and a classifier). For each searchable layer the
search chose one of nine blocks (Table 2): an inverted-residual block with kernel 3 or 5, expansion 1, 3 or 6,
group 1 or 2 for the 1×1 convs (with a channel shuffle after the first one), or "skip".

The choices are those of the official arch definitions (facebookresearch/mobile-vision,
mobile_cv/arch/fbnet_v2/fbnet_modeldef_cls_fbnet.py, "fbnet_a/b/c"; for C also rwightman's gen-efficientnet
``fbnetc_100``) with one exception: FBNet-B's second 64-channel layer is k5 e1 as in the paper's Figure 4 (as
transcribed in AnnaAraslanova/FBNet's fbnet_building_blocks/fbnet_modeldef.py, copied e.g. into
SKKU-ESLAB/Auto-Compression), where mobile-vision
has k5 e6; with e6, B would have 306M multiply-adds instead of the paper's 295M.

The block follows the paper's Figure 3 and the authors' first implementation (maskrcnn-benchmark's IRFBlock):
the first 1×1 conv exists even at expansion 1, both 1×1 convs use the block's groups, and the convs have no bias.
This gives A/B/C 250M / 297M / 385M multiply-adds against the paper's 249M / 295M / 375M. mobile-vision's later
block drops the first 1×1 conv at expansion 1 and adds conv biases (244M / 291M with its e6 / 378M).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from lightnets.i18n import N_, _
from lightnets.layers import ChannelShuffle, ConvBNAct, GlobalAvgPool
from lightnets.registry import Block, ModelSpec, Paper, Reference, reference

# One searched layer: (choice, output channels, stride). A choice is "skip" or "k{kernel}_e{expansion}" with
# "_g2" for the group-2 blocks; the stage widths and strides are the paper's Table 1.
Layer = tuple[str, int, int]

ARCHS: dict[str, list[list[Layer]]] = {
    "fbnet_a": [
        [("skip", 16, 1)],
        [("k3_e3", 24, 2), ("k3_e1", 24, 1), ("skip", 24, 1), ("skip", 24, 1)],
        [("k5_e6", 32, 2), ("k3_e3", 32, 1), ("k5_e1", 32, 1), ("k3_e3", 32, 1)],
        [("k5_e6", 64, 2), ("k5_e3", 64, 1), ("k5_e1_g2", 64, 1), ("k5_e6", 64, 1)],
        [("k3_e6", 112, 1), ("k5_e1_g2", 112, 1), ("k5_e3", 112, 1), ("k3_e1_g2", 112, 1)],
        [("k5_e6", 184, 2), ("k5_e6", 184, 1), ("k5_e3", 184, 1), ("k5_e6", 184, 1)],
        [("k5_e6", 352, 1)],
    ],
    "fbnet_b": [
        [("k3_e1", 16, 1)],
        [("k3_e6", 24, 2), ("k5_e1", 24, 1), ("k3_e1", 24, 1), ("k3_e1", 24, 1)],
        [("k5_e6", 32, 2), ("k5_e3", 32, 1), ("k3_e6", 32, 1), ("k5_e6", 32, 1)],
        # paper Figure 4: k5 e1 (mobile-vision's arch def has k5 e6 for the second layer)
        [("k5_e6", 64, 2), ("k5_e1", 64, 1), ("skip", 64, 1), ("k5_e3", 64, 1)],
        [("k5_e6", 112, 1), ("k3_e1", 112, 1), ("k5_e1", 112, 1), ("k5_e3", 112, 1)],
        [("k5_e6", 184, 2), ("k5_e1", 184, 1), ("k5_e6", 184, 1), ("k5_e6", 184, 1)],
        [("k3_e6", 352, 1)],
    ],
    "fbnet_c": [
        [("k3_e1", 16, 1)],
        [("k3_e6", 24, 2), ("skip", 24, 1), ("k3_e1", 24, 1), ("k3_e1", 24, 1)],
        [("k5_e6", 32, 2), ("k5_e3", 32, 1), ("k5_e6", 32, 1), ("k3_e6", 32, 1)],
        [("k5_e6", 64, 2), ("k5_e3", 64, 1), ("k5_e6", 64, 1), ("k5_e6", 64, 1)],
        [("k5_e6", 112, 1), ("k5_e6", 112, 1), ("k5_e6", 112, 1), ("k5_e3", 112, 1)],
        [("k5_e6", 184, 2), ("k5_e6", 184, 1), ("k5_e6", 184, 1), ("k5_e6", 184, 1)],
        [("k3_e6", 352, 1)],
    ],
}
STEM_CH = 16
# The last 1×1 conv: 1504 channels in FBNet-A, 1984 in B and C (official arch defs; with 1984, A would have
# 4.97M parameters and 259M multiply-adds instead of the paper's 4.3M / 249M).
HEAD_CH = {"fbnet_a": 1504, "fbnet_b": 1984, "fbnet_c": 1984}


def parse_choice(choice: str) -> dict[str, Any]:
    """``"k5_e1_g2"`` → kernel 5, expansion 1, groups 2; ``"skip"`` → skip."""
    if choice == "skip":
        return dict(skip=True, kernel=0, expansion=0, groups=1)
    parts = dict((p[0], int(p[1:])) for p in choice.split("_"))
    return dict(skip=False, kernel=parts["k"], expansion=parts["e"], groups=parts.get("g", 1))


class FBNetBlock(nn.Module):
    """One searched layer of FBNet.

    A block: 1×1 group conv (expand e-fold, ReLU) → channel shuffle (if groups > 1) → k×k depthwise conv
    (stride, ReLU) → 1×1 group conv (project, linear), with a residual add where input and output shapes match.
    "skip" is the identity (a 1×1 conv where the shape changes, so that skipping never breaks the net).
    """

    kind = "fbnet block"
    concepts = ("inverted", "linear")

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, kernel: int = 3, expansion: int = 1,
                 groups: int = 1, skip: bool = False) -> None:
        super().__init__()
        self.skip = skip
        self.use_res_connect = stride == 1 and in_ch == out_ch
        if skip:
            self.conv = None if self.use_res_connect else ConvBNAct(in_ch, out_ch, 1, stride, act="relu")
            return
        mid_ch = in_ch * expansion
        for what, ch in ((N_("input"), in_ch), (N_("expanded"), mid_ch), (N_("output"), out_ch)):
            if ch % groups:
                raise ValueError(_("groups={groups}: the block's {what} width {ch} does not split into {groups} "
                                   "groups").format(groups=groups, what=_(what), ch=ch))
        self.pw = ConvBNAct(in_ch, mid_ch, 1, groups=groups, act="relu")
        # the shuffle lets the second group conv see channels from every group of the first
        self.shuffle = ChannelShuffle(groups) if groups > 1 else None
        self.dw = ConvBNAct(mid_ch, mid_ch, kernel, stride, groups=mid_ch, act="relu")
        self.pwl = ConvBNAct(mid_ch, out_ch, 1, groups=groups, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.skip:
            return x if self.conv is None else self.conv(x)
        y = self.pw(x)
        if self.shuffle is not None:
            y = self.shuffle(y)
        y = self.pwl(self.dw(y))
        return x + y if self.use_res_connect else y

    @classmethod
    def describe(cls, in_ch: int, out_ch: int, stride: int = 1, kernel: int = 3, expansion: int = 1,
                 groups: int = 1, skip: bool = False) -> str:
        what = _("skip") if skip else f"k{kernel} e{expansion} g{groups}"
        return f"{what}, {out_ch}" + (f", s{stride}" if stride != 1 else "")


def fbnet_blocks(name: str) -> list[Block]:
    rows = [Block("stem", ConvBNAct, dict(in_ch=3, out_ch=STEM_CH, kernel=3, stride=2, act="relu"), "stem")]
    in_ch, index = STEM_CH, 0
    for stage, layers in enumerate(ARCHS[name], start=1):
        for choice, out_ch, stride in layers:
            rows.append(Block(f"features.{index}", FBNetBlock,
                              dict(in_ch=in_ch, out_ch=out_ch, stride=stride, **parse_choice(choice)),
                              f"TBS stage {stage}"))
            in_ch, index = out_ch, index + 1
    head = HEAD_CH[name]
    rows += [
        Block("head", ConvBNAct, dict(in_ch=in_ch, out_ch=head, kernel=1, act="relu"), "head"),
        Block("pool", GlobalAvgPool, {}, "head"),
        Block("classifier", nn.Linear, dict(in_features=head, out_features=1000), "head"),
    ]
    return rows


PAPER = Paper("FBNet: Hardware-Aware Efficient ConvNet Design via Differentiable Neural Architecture Search",
              "Wu, Dai, Zhang, Wang, Sun, Wu, Tian, Vajda, Jia, Keutzer", 2019, "1812.03443")

IDEA = N_("A differentiable architecture search (DNAS) trains a super-net whose every layer mixes nine candidate "
          "blocks, and learns which one to keep per layer while penalising the latency measured on the target "
          "phone (a per-block lookup table), instead of training thousands of sampled networks.")

_SOURCE = N_("Architecture from facebookresearch/mobile-vision mobile_cv/arch/fbnet_v2/fbnet_modeldef_cls_fbnet.py "
             "with the paper's block (first 1×1 conv kept at expansion 1, no conv bias).")

_NOTES = (
    N_("FBNet-B's second 64-channel layer is k5 e1 as in the paper's Figure 4; mobile-vision's arch def has k5 e6 "
       "there (306M multiply-adds instead of the paper's 295M)."),
    N_("Each searched block shows its choice: kernel k, expansion e, group g (g2 blocks have a channel shuffle after "
       "the first 1×1 group conv), or skip."),
    N_("mobile-vision's re-implementation of the block omits the first 1×1 conv when the expansion is 1 and adds conv "
       "biases; this build follows the paper's Figure 3 block, whose multiply-adds match the paper."),
    N_("The published latencies are int8 QNNPACK times on a Samsung Galaxy S8; they are not reproducible here."),
)


def _spec(name: str, title: str, refs: tuple[Reference, ...], notes: tuple[str, ...] = ()) -> ModelSpec:
    # 32 px (the project's floor) reaches the classifier as a 1×1 map through the five stride-2 layers
    return ModelSpec(name=name, family="FBNet", title=title, paper=PAPER, idea=IDEA, knobs=(),
                     blocks=functools.partial(fbnet_blocks, name), min_resolution=32, references=refs,
                     notes=_NOTES + notes, concepts=("dnas",))


MODELS = [
    _spec("fbnet_a", "FBNet-A", (reference(245, note=_SOURCE),)),
    _spec("fbnet_b", "FBNet-B", (
        reference(246, architecture_params_m=4.81,
                  note=N_("The 4.5M parameters quoted for FBNet-B (the figure GhostNet's comparison table repeats) "
                           "are fewer than its searched architecture has: 4.81M with the official arch def 'fbnet_b' "
                           "and its 1984-wide last conv. The 295M multiply-adds agree. Architecture from "
                           "facebookresearch/mobile-vision mobile_cv/arch/fbnet_v2/fbnet_modeldef_cls_fbnet.py with "
                           "the paper's block (first 1×1 conv kept at expansion 1, no conv bias).")),
    ), (N_("FBNet-B's quoted parameter count (4.5M) is below what its architecture has (4.81M); the multiply-adds "
           "(295M) match. The architecture's count is the one checked; the quoted figure is kept beside it."),)),
    _spec("fbnet_c", "FBNet-C", (
        reference(247, note=N_("The architecture gives 385M multiply-adds, 2.7% above the paper's 375M; rwightman's "
                                "fbnetc_100 has the same layout. Architecture from facebookresearch/mobile-vision "
                                "mobile_cv/arch/fbnet_v2/fbnet_modeldef_cls_fbnet.py with the paper's block (first "
                                "1×1 conv kept at expansion 1, no conv bias).")),
    ), (N_("FBNet-C's multiply-adds come out at 385M against the paper's 375M (within 3%); the parameters (5.57M) "
           "match the paper's 5.5M."),)),
]
