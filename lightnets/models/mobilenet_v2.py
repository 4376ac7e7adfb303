"""MobileNet V2 (Sandler et al. 2018): inverted residuals with linear bottlenecks.

Module names follow torchvision's ``mobilenet_v2`` so that its ImageNet checkpoint loads unchanged.
"""

from __future__ import annotations

from torch import nn

from lightnets.i18n import N_
from lightnets.layers import ConvBNAct, GlobalAvgPool, InvertedResidual, make_divisible
from lightnets.registry import Block, Knob, ModelSpec, Paper, reference

# Table 2 of the paper: expansion t, output channels c, repeats n, stride of the first repeat s.
# The t of the first row is 1 in the paper whatever the expansion knob says.
STAGES = [
    # t, c, n, s
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


def mobilenet_v2_blocks(alpha: float, expansion: int, linear_bottleneck: bool) -> list[Block]:
    in_ch = make_divisible(32 * alpha, 8)
    # The paper keeps the last 1×1 conv at 1280 channels for α < 1 and widens it for α > 1.
    last_ch = make_divisible(1280 * max(1.0, alpha), 8)
    rows = [Block("features.0", ConvBNAct, dict(in_ch=3, out_ch=in_ch, kernel=3, stride=2, act="relu6"), "stem")]
    index = 1
    for stage, (t, c, n, s) in enumerate(STAGES, start=1):
        out_ch = make_divisible(c * alpha, 8)
        for i in range(n):
            rows.append(Block(f"features.{index}", InvertedResidual,
                              dict(in_ch=in_ch, out_ch=out_ch, stride=s if i == 0 else 1,
                                   expand_ratio=t if t == 1 else expansion,
                                   linear_bottleneck=linear_bottleneck),
                              f"stage {stage}"))
            in_ch = out_ch
            index += 1
    rows += [
        Block(f"features.{index}", ConvBNAct, dict(in_ch=in_ch, out_ch=last_ch, kernel=1, act="relu6"), "head"),
        Block("pool", GlobalAvgPool, {}, "head"),
        Block("classifier.0", nn.Dropout, dict(p=0.2), "head"),
        Block("classifier.1", nn.Linear, dict(in_features=last_ch, out_features=1000), "head"),
    ]
    return rows


PAPER = Paper("MobileNetV2: Inverted Residuals and Linear Bottlenecks",
              "Sandler, Howard, Zhu, Zhmoginov, Chen", 2018, "1801.04381")

MODELS = [
    ModelSpec(
        name="mobilenet_v2",
        family="MobileNet V2",
        title="MobileNet V2",
        paper=PAPER,
        idea=N_("Inverted residual blocks expand a thin bottleneck t-fold, filter it depthwise, and project it back "
                "with a linear 1×1 conv; the shortcut joins the thin ends."),
        knobs=(
            Knob("alpha", N_("width multiplier α"), "float", 1.0, min=0.25, max=2.0, step=0.05,
                 help=N_("Scales every layer's channels (rounded to multiples of 8); the last 1×1 conv stays at 1280 "
                         "for α < 1.")),
            Knob("expansion", N_("expansion ratio t"), "int", 6, min=1, max=10, step=1,
                 help=N_("How many times wider the inside of each inverted residual is than its bottleneck (the first "
                         "block keeps t = 1 as in the paper).")),
            Knob("linear_bottleneck", N_("linear bottleneck"), "bool", True,
                 help=N_("Off puts a ReLU6 after each projection, the ablation of the paper's Fig. 6a.")),
        ),
        blocks=mobilenet_v2_blocks,
        references=(
            reference(43, alpha=1.0, architecture_params_m=3.504872,
                      note=N_("The paper rounds the parameter count down to 3.4M; the architecture of its Table 2 has "
                              "3,504,872 parameters, the count torchvision publishes for its checkpoint.")),
            reference(44, alpha=1.4, architecture_params_m=6.06,
                      note=N_("The paper prints 6.9M parameters for 1.4×, but its own architecture (Table 2 widened "
                              "by 1.4) has 6.1M, as TF-slim's released 1.4 checkpoint (6.06M, README of "
                              "tensorflow/models research/slim/nets/mobilenet) confirms; the multiply-adds agree.")),
            reference(258, alpha=0.35),
        ),
        notes=(N_("Width semantics are the paper's and TF-slim's (channels × α rounded to 8); torchvision's "
                  "width_mult is the same for this family."),),
    ),
]
