"""MobileNet V3 Large and Small (Howard et al. 2019): searched inverted residuals with SE and h-swish.

Module names follow torchvision's ``mobilenet_v3_large`` / ``mobilenet_v3_small``, so at α = 1 its ImageNet
checkpoints load unchanged. For α ≠ 1 the width semantics are the paper's (TF-slim ``mobilenet_v3.py``), which
torchvision's ``width_mult`` does not reproduce:

* every conv's output channels are ``make_divisible(c·α, 8)``, the first conv and the last conv before pooling
  included;
* an expansion is a *factor* of the block's already-scaled input (``make_divisible(c_in·e, 8)`` with
  e = exp/c_in of the paper's table), not the table's expansion size scaled by α;
* the final 1×1 layer after pooling (1280 Large, 1024 Small) keeps its width for α < 1 (TF-slim's
  "finegrain classification mode") and widens with α > 1, as MobileNet V2's last conv does;
* the SE squeeze width is ``make_divisible(exp/4, 8)``.

Two knobs undo the redesign of Sec. 5.1 ("Redesigning Expensive Layers"), for the Experiments page; their defaults
are the paper's final design:

* ``efficient_last_stage=False`` is the original last stage of Fig. 5: the last bottleneck's expansion (160 → 960
  for Large) is followed by its depthwise filter and a linear projection to 320 channels, then a 1×1 conv to 1280 at
  7×7, pooling, and the classifier. Fig. 5 is an image; the layers are those of two independent descriptions of it
  and of MobileNet V2's and MnasNet-A1's last stages (an MBConv6 k3 160 → 320, then 1×1 to 1280, pool, FC), which
  the search started from. The paper does not draw an original stage for Small: we apply the same change to its
  last stage (576 expansion, depthwise 3×3, projection to 2 × 96 = 192, as Large's 320 = 2 × 160, then 1×1 to 1024).
  For Large this adds 34.3M multiply-adds, which the paper rounds to "30 millions MAdds".
* ``efficient_stem=False`` is the stem the paper started from: 32 filters with ReLU instead of 16 with h-swish. The
  first bneck then filters 32 channels (its expansion factor stays 1): +10.4M multiply-adds for Large, the paper's
  "10 million MAdds".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from torch import nn

from lightnets.i18n import N_, _
from lightnets.layers import ConvBNAct, GlobalAvgPool, MobileNetV3Block, make_divisible
from lightnets.registry import Block, Knob, ModelSpec, Paper, reference


class Bneck(NamedTuple):
    """One row of the paper's Table 1 / 2 (at α = 1)."""

    kernel: int
    exp: int
    out: int
    se: bool
    act: str  # "relu" (RE) or "hswish" (HS)
    stride: int


STEM = 16
ORIGINAL_STEM = 32  # Sec. 5.1: "Current mobile models tend to use 32 filters in a full 3x3 convolution"
# Table 1: MobileNetV3-Large.
LARGE = [
    Bneck(3, 16, 16, False, "relu", 1),
    Bneck(3, 64, 24, False, "relu", 2),
    Bneck(3, 72, 24, False, "relu", 1),
    Bneck(5, 72, 40, True, "relu", 2),
    Bneck(5, 120, 40, True, "relu", 1),
    Bneck(5, 120, 40, True, "relu", 1),
    Bneck(3, 240, 80, False, "hswish", 2),
    Bneck(3, 200, 80, False, "hswish", 1),
    Bneck(3, 184, 80, False, "hswish", 1),
    Bneck(3, 184, 80, False, "hswish", 1),
    Bneck(3, 480, 112, True, "hswish", 1),
    Bneck(3, 672, 112, True, "hswish", 1),
    Bneck(5, 672, 160, True, "hswish", 2),
    Bneck(5, 960, 160, True, "hswish", 1),
    Bneck(5, 960, 160, True, "hswish", 1),
]
# Table 2: MobileNetV3-Small.
SMALL = [
    Bneck(3, 16, 16, True, "relu", 2),
    Bneck(3, 72, 24, False, "relu", 2),
    Bneck(3, 88, 24, False, "relu", 1),
    Bneck(5, 96, 40, True, "hswish", 2),
    Bneck(5, 240, 40, True, "hswish", 1),
    Bneck(5, 240, 40, True, "hswish", 1),
    Bneck(5, 120, 48, True, "hswish", 1),
    Bneck(5, 144, 48, True, "hswish", 1),
    Bneck(5, 288, 96, True, "hswish", 2),
    Bneck(5, 576, 96, True, "hswish", 1),
    Bneck(5, 576, 96, True, "hswish", 1),
]
# The last conv before pooling, and the 1×1 "NBN" layer after it (a fully connected layer on the pooled vector).
HEADS = {"large": (960, 1280), "small": (576, 1024)}


def _bneck_rows(table: Sequence[Bneck], alpha: float, se: bool, hswish: bool, efficient_stem: bool,
                widths: str = "") -> tuple[list[Block], int]:
    act_of = (lambda act: act) if hswish else (lambda act: "relu")
    plan = width_plan(table, alpha, efficient_stem)
    if widths:
        plan = plan.with_widths(parse_widths(widths))
    stem_act = act_of("hswish") if efficient_stem else "relu"
    rows = [Block("features.0", ConvBNAct, dict(in_ch=3, out_ch=plan.stem, kernel=3, stride=2, act=stem_act,
                                                  bn_eps=0.001), "stem")]
    stage = 1
    in_ch = plan.stem
    for index, row in enumerate(table, start=1):
        if row.stride == 2 and index > 1:  # a new stage at every halving of the resolution after the stem's
            stage += 1
        i = index - 1
        args = dict(in_ch=in_ch, exp_ch=plan.exp[i] if plan.expand[i] else in_ch, out_ch=plan.out[i],
                    kernel=row.kernel, stride=row.stride, se=se and row.se, act=act_of(row.act))
        if widths:  # explicit widths say whether the block expands (the default rows stay the paper's)
            args["expand"] = plan.expand[i]
        rows.append(Block(f"features.{index}", MobileNetV3Block, args, f"stage {stage}"))
        in_ch = plan.out[i]
    return rows, in_ch


# --------------------------------------------------------------------------------------------------
# per-layer widths (NetAdapt): the ``widths`` knob

WIDTHS_PATTERN = r"[eb]\d{1,3}=\d{1,4}(,[eb]\d{1,3}=\d{1,4})*"
MAX_WIDTH = 2048


@dataclass(frozen=True)
class WidthPlan:
    """The channel widths of a MobileNetV3's stem and bnecks: what the ``widths`` knob overrides.

    ``exp[i]``/``out[i]`` are bneck i+1's expansion and output widths; ``expand[i]`` whether it has a 1×1
    expansion layer (where it has none, its depthwise filter runs on its input width). ``groups`` are the runs of
    bnecks whose widths residual connections tie together (bneck numbers, 1-based); ``stem_tied`` says that the
    stem's output is added to bneck 1's (Large: 16 → 16, stride 1), so it shares the first group's width.
    """

    stem: int
    exp: tuple[int, ...]
    out: tuple[int, ...]
    expand: tuple[bool, ...]
    groups: tuple[tuple[int, ...], ...]
    stem_tied: bool

    def group_of(self, block: int) -> tuple[int, ...]:
        return next(g for g in self.groups if block in g)

    def widths(self) -> dict[str, int]:
        """Every width the knob can set, at its current value: e<i> for each expansion, b<i> per group."""
        out = {f"e{i + 1}": w for i, w in enumerate(self.exp) if self.expand[i]}
        out.update({f"b{g[0]}": self.out[g[0] - 1] for g in self.groups})
        return out

    def with_widths(self, widths: dict[str, int]) -> WidthPlan:
        """This plan with ``widths`` (parsed knob text) applied; ``ValueError`` naming the knob for a key that
        names no layer, an expansion the block does not have, a width tied to another one, or a bad width."""
        exp, out = list(self.exp), list(self.out)
        stem = self.stem
        count = len(self.exp)
        for key, width in widths.items():
            kind, block = key[0], int(key[1:])
            if not 1 <= block <= count:
                raise ValueError(_("widths: {key} names no bneck; this model has bnecks 1 to {n}").format(
                    key=key, n=count))
            if not 1 <= width <= MAX_WIDTH:
                raise ValueError(_("widths: {key}={w} is not allowed: a width must be from 1 to {most}").format(
                    key=key, w=width, most=MAX_WIDTH))
            if kind == "e":
                if not self.expand[block - 1]:
                    raise ValueError(_("widths: bneck {i} has no expansion layer (its depthwise filter runs on "
                                       "its input width), so {key} cannot be set").format(i=block, key=key))
                exp[block - 1] = width
                continue
            group = self.group_of(block)
            if group[0] != block:
                raise ValueError(_("widths: {key} is tied to b{first} by residual connections (bnecks {first} to "
                                   "{last} share one width); set b{first}").format(
                    key=key, first=group[0], last=group[-1]))
            for member in group:
                out[member - 1] = width
            if self.stem_tied and group[0] == 1:
                stem = width
        return WidthPlan(stem, tuple(exp), tuple(out), self.expand, self.groups, self.stem_tied)


def width_plan(table: Sequence[Bneck], alpha: float, efficient_stem: bool) -> WidthPlan:
    """The widths the paper's table gives at ``alpha`` (TF-slim's rounding; see the module docstring)."""
    stem = make_divisible((STEM if efficient_stem else ORIGINAL_STEM) * alpha, 8)
    in_ch, table_in = stem, STEM
    exp, out, expand, groups = [], [], [], []
    stem_tied = False
    for index, row in enumerate(table, start=1):
        e = make_divisible(in_ch * row.exp / table_in, 8)
        o = make_divisible(row.out * alpha, 8)
        exp.append(e)
        out.append(o)
        expand.append(e != in_ch)
        if row.stride == 1 and in_ch == o and groups:
            groups[-1].append(index)
        else:
            groups.append([index])
            stem_tied = stem_tied or (index == 1 and row.stride == 1 and in_ch == o)
        in_ch, table_in = o, row.out
    return WidthPlan(stem, tuple(exp), tuple(out), tuple(expand), tuple(tuple(g) for g in groups), stem_tied)


def parse_widths(text: str) -> dict[str, int]:
    """'e2=48,b4=32' → {'e2': 48, 'b4': 32}; ``ValueError`` naming the knob for a key given twice."""
    out: dict[str, int] = {}
    for item in filter(None, text.split(",")):
        key, _sep, value = item.partition("=")
        if key in out:
            raise ValueError(_("widths: {key} is given twice").format(key=key))
        out[key] = int(value)
    return out


def format_widths(widths: dict[str, int]) -> str:
    """The knob's text for ``widths``, in a fixed order (by bneck, b before e), so one setting has one spelling."""
    return ",".join(f"{k}={widths[k]}" for k in sorted(widths, key=lambda k: (int(k[1:]), k[0])))


def _mobilenet_v3_blocks(size: str, alpha: float, se: bool, hswish: bool, efficient_last_stage: bool,
                         efficient_stem: bool, widths: str = "") -> list[Block]:
    table = LARGE if size == "large" else SMALL
    rows, in_ch = _bneck_rows(table, alpha, se, hswish, efficient_stem, widths)
    last_conv, head = HEADS[size]
    last_ch = make_divisible(last_conv * alpha, 8)
    head_ch = make_divisible(head * max(1.0, alpha), 8)
    act = "hswish" if hswish else "relu"
    index = len(table) + 1
    if not efficient_last_stage:
        return rows + _original_last_stage(index, rows[-1].stage, in_ch, last_ch,
                                           make_divisible(2 * table[-1].out * alpha, 8), head_ch, act)
    rows += [
        Block(f"features.{index}", ConvBNAct, dict(in_ch=in_ch, out_ch=last_ch, kernel=1, act=act, bn_eps=0.001),
              "head"),
        Block("avgpool", GlobalAvgPool, {}, "head"),
        Block("classifier.0", nn.Linear, dict(in_features=last_ch, out_features=head_ch), "head"),
        Block("classifier.1", nn.Hardswish if hswish else nn.ReLU, dict(inplace=True), "head"),
        Block("classifier.2", nn.Dropout, dict(p=0.2, inplace=True), "head"),
        Block("classifier.3", nn.Linear, dict(in_features=head_ch, out_features=1000), "head"),
    ]
    return rows


def _original_last_stage(index: int, stage: str, in_ch: int, exp_ch: int, project_ch: int, head_ch: int,
                         act: str) -> list[Block]:
    """Fig. 5's original last stage: a last bottleneck (expansion, depthwise 3×3, linear projection) in the last
    stage, then a 1×1 conv to the head width at 7×7, pooling, and the classifier straight after."""
    return [
        Block(f"features.{index}", MobileNetV3Block,
              dict(in_ch=in_ch, exp_ch=exp_ch, out_ch=project_ch, kernel=3, stride=1, se=False, act=act), stage),
        Block(f"features.{index + 1}", ConvBNAct,
              dict(in_ch=project_ch, out_ch=head_ch, kernel=1, act=act, bn_eps=0.001), "head"),
        Block("avgpool", GlobalAvgPool, {}, "head"),
        Block("classifier.0", nn.Dropout, dict(p=0.2, inplace=True), "head"),
        Block("classifier.1", nn.Linear, dict(in_features=head_ch, out_features=1000), "head"),
    ]


def mobilenet_v3_large_blocks(alpha: float, se: bool, hswish: bool, efficient_last_stage: bool,
                              efficient_stem: bool, widths: str = "") -> list[Block]:
    return _mobilenet_v3_blocks("large", alpha, se, hswish, efficient_last_stage, efficient_stem, widths)


def mobilenet_v3_small_blocks(alpha: float, se: bool, hswish: bool, efficient_last_stage: bool,
                              efficient_stem: bool, widths: str = "") -> list[Block]:
    return _mobilenet_v3_blocks("small", alpha, se, hswish, efficient_last_stage, efficient_stem, widths)


PAPER = Paper("Searching for MobileNetV3",
              "Howard, Sandler, Chu, Chen, Chen, Tan, Wang, Zhu, Pang, Vasudevan, Le, Adam", 2019, "1905.02244")


def _knobs() -> tuple[Knob, ...]:
    return (
        Knob("alpha", N_("width multiplier α"), "float", 1.0, min=0.25, max=2.0, step=0.05,
             help=N_("Scales every layer's channels (rounded to multiples of 8); expansions stay the same factor of "
                     "each block's input, and the last 1×1 layer after pooling keeps its width for α < 1.")),
        Knob("se", N_("squeeze-and-excite"), "bool", True,
             help=N_("Off removes every squeeze-and-excite module (the per-channel reweighting the paper puts in some "
                     "blocks).")),
        Knob("hswish", N_("h-swish"), "bool", True,
             help=N_("Off uses ReLU everywhere instead of h-swish(x) = x·ReLU6(x+3)/6, the activations of the "
                     "'minimalistic' variant; the SE gate stays a hard sigmoid.")),
        Knob("efficient_last_stage", N_("efficient last stage"), "bool", True,
             help=N_("Off restores the original last stage of the paper's Fig. 5: the last bottleneck keeps its "
                     "depthwise filter and projection, and the wide 1×1 layer runs at 7×7 before pooling instead of "
                     "after it (Large: +34M multiply-adds).")),
        Knob("efficient_stem", N_("efficient stem (16 filters, h-swish)"), "bool", True,
             help=N_("Off restores the stem the paper started from: 32 filters with ReLU instead of 16 with h-swish "
                     "(Large: +10M multiply-adds).")),
        Knob("widths", N_("per-layer widths (NetAdapt)"), "text", "", pattern=WIDTHS_PATTERN, example="e2=48,b4=32",
             help=N_("Channel counts that replace the table's, as NetAdapt's layer-wise search sets them: e<i>=n is "
                     "bneck i's expansion width, b<i>=n the output width of bneck i and of every bneck its residual "
                     "connections tie to it (name the first of them). Empty: the paper's widths at this α.")),
    )


# Every conv pads, so the net runs on any size; 32 px (a 1×1 final map) is the package's floor.
MIN_RESOLUTION = 32

_KNOB_NOTE = N_("se=False and hswish=False are ablations of the paper's knobs: the paper reports no parameter or "
                "mult-add figures for them. efficient_last_stage=False and efficient_stem=False are the designs "
                "Sec. 5.1 started from; it reports only their differences (30M and 10M mult-adds, 7 ms and 2 ms).")

MODELS = [
    ModelSpec(
        name="mobilenet_v3_large",
        family="MobileNet V3",
        concepts=("nas_netadapt",),
        title="MobileNet V3-Large",
        paper=PAPER,
        idea=N_("A MobileNet V2-style net found by platform-aware architecture search and layer-wise tuning, with "
                "squeeze-and-excite in some inverted residuals, the cheap h-swish activation in the deeper half, and "
                "a slimmed head that pools before its last wide 1×1 layer."),
        knobs=_knobs(),
        blocks=mobilenet_v3_large_blocks,
        min_resolution=MIN_RESOLUTION,
        references=(
            reference(71, alpha=1.0),
            reference(72, alpha=0.75),
            reference(90, alpha=1.0),
            reference(92, alpha=0.75),
        ),
        notes=(
            N_("The paper prints 219M mult-adds for Large 1.0, TF-slim's README 217M; the architecture of Table 1 "
               "gives 216.6M."),
            N_("torchvision's width_mult scales the expansion sizes and the 1280-wide last layer by α: at α = 0.75 it "
               "gives 3.38M / 140M, not the paper's 4.0M / 155M. The widths here follow TF-slim and the paper."),
            N_("TF-slim's 'minimalistic' checkpoints (README of tensorflow/models research/slim/nets/mobilenet) drop "
               "SE and h-swish and also replace every 5×5 depthwise kernel by 3×3; se=False, hswish=False here keeps "
               "the 5×5 kernels, so their published figures (Large: 3.9M / 209M, 72.3%) are not cited."),
            _KNOB_NOTE,
        ),
    ),
    ModelSpec(
        name="mobilenet_v3_small",
        family="MobileNet V3",
        concepts=("nas_netadapt",),
        title="MobileNet V3-Small",
        paper=PAPER,
        idea=N_("The small MobileNet V3, searched for low latency: squeeze-and-excite in most inverted residuals, 5×5 "
                "depthwise kernels and h-swish in the deeper blocks, and a slimmed head that pools before its last "
                "wide 1×1 layer."),
        knobs=_knobs(),
        blocks=mobilenet_v3_small_blocks,
        min_resolution=MIN_RESOLUTION,
        references=(
            reference(73, alpha=1.0),
            reference(74, alpha=0.75),
        ),
        notes=(
            N_("The final paper (Table 2) has a 1024-wide last layer: 2.5M / 56M for Small 1.0, 2.0M / 44M for 0.75, "
               "as torchvision builds it. An earlier arXiv version and TF-slim's README list 2.9M / 66M and 2.4M / "
               "44M with a 1280-wide last layer; that layer explains the 0.4M extra parameters but only 0.4M of the "
               "10M extra mult-adds, so those figures are not cited."),
            N_("Table 2 marks SE on the final 'conv2d 1×1, 576' row; neither TF-slim nor torchvision has an SE there, "
               "and the paper's parameter count (2.5M) is that of the net without it."),
            N_("TF-slim's 'minimalistic' checkpoints (README of tensorflow/models research/slim/nets/mobilenet) drop "
               "SE and h-swish and also replace every 5×5 depthwise kernel by 3×3; se=False, hswish=False here keeps "
               "the 5×5 kernels, so their published figures (Small: 2.0M / 65M, 61.9%) are not cited."),
            _KNOB_NOTE,
        ),
    ),
]
