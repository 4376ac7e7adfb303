"""Shared building blocks of the lightweight CNNs, each written once.

Every block class carries two small pieces of metadata used by the rest of the package:
``kind`` (a short name for the block type, used for colours and the cost table) and ``describe(**args)``
(the label the block graph shows for one instance). Module attribute names follow torchvision where a
torchvision checkpoint must load into the block (Fire, ShuffleNet V2 unit, MobileNet V2/V3 blocks).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.fx
from torch import nn

from lightnets.i18n import _
from lightnets.ops import ACTIVATION_LABELS, conv_word, make_act

# --------------------------------------------------------------------------------------------------
# small helpers


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of ``divisor``, never dropping more than 10%.

    This is the rounding of the TensorFlow MobileNet reference code (and torchvision's ``_make_divisible``);
    hardware-friendly channel counts are why every MobileNet width is a multiple of 8.
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _kernel_text(kernel: int | tuple[int, int]) -> str:
    kh, kw = _pair(kernel)
    return f"{kh}×{kw}"


# --------------------------------------------------------------------------------------------------
# convolution + batch norm + activation


class ConvBNAct(nn.Sequential):
    """Conv2d → BatchNorm2d → activation (omitted when ``act`` is None).

    A Sequential so that its state_dict keys are ``0.weight`` / ``1.*`` like torchvision's
    ``Conv2dNormActivation``.
    """

    kind = "conv"

    def __init__(self, in_ch: int, out_ch: int, kernel: int | tuple[int, int] = 3, stride: int = 1,
                 groups: int = 1, act: str | None = "relu", dilation: int = 1, bn_eps: float = 1e-5,
                 bias: bool = False) -> None:
        kh, kw = _pair(kernel)
        padding = ((kh - 1) // 2 * dilation, (kw - 1) // 2 * dilation)
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, (kh, kw), stride, padding, dilation=dilation, groups=groups, bias=bias),
            nn.BatchNorm2d(out_ch, eps=bn_eps),
        ]
        if act is not None:
            layers.append(make_act(act, out_ch))
        super().__init__(*layers)
        self.out_channels = out_ch

    @classmethod
    def describe(cls, in_ch: int, out_ch: int, kernel: int | tuple[int, int] = 3, stride: int = 1,
                 groups: int = 1, act: str | None = "relu", **_ignored: Any) -> str:
        text = f"{conv_word(in_ch, groups)} {_kernel_text(kernel)}, {out_ch}"
        if stride != 1:
            text += f", s{stride}"
        return text + (f", BN, {ACTIVATION_LABELS[act]}" if act else ", BN")


# --------------------------------------------------------------------------------------------------
# squeeze-and-excitation and channel shuffle


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: global pool → 1×1 conv → act → 1×1 conv → gate → rescale the channels.

    Attribute names (avgpool, fc1, activation, fc2, scale_activation) are torchvision's.
    MobileNet V3 gates with h-sigmoid (cheap on phones), EfficientNet with sigmoid.
    """

    kind = "squeeze-excite"

    def __init__(self, channels: int, squeeze_channels: int, act: str = "relu", gate: str = "hsigmoid") -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.activation = make_act(act, squeeze_channels)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.scale_activation = make_act(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return x * scale

    @classmethod
    def describe(cls, channels: int, squeeze_channels: int, gate: str = "hsigmoid", **_ignored: Any) -> str:
        return f"SE {channels}→{squeeze_channels}→{channels}, {ACTIVATION_LABELS[gate]}"


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: view channels as a (groups, n) grid, transpose it to (n, groups), flatten.

    Channel ``i·n + j`` (group ``i``, position ``j``) moves to position ``j·groups + i``, so after the
    shuffle every group of the next group convolution holds one channel from each previous group.
    """
    batch, channels, height, width = x.shape
    if channels % groups:
        raise ValueError(_("channel shuffle: {channels} channels do not split into {groups} groups").format(
            channels=channels, groups=groups))
    x = x.view(batch, groups, channels // groups, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batch, channels, height, width)


# A leaf for torch.fx: its shape check is Python control flow on the tensor's size, which symbolic tracing
# cannot follow; wrapped, a traced block shows the shuffle as one ``channel_shuffle`` node.
torch.fx.wrap("channel_shuffle")


class ChannelShuffle(nn.Module):
    """``channel_shuffle`` as a (parameter-free) module, so graphs and cost tables see it by name."""

    kind = "shuffle"
    concepts = ("shuffle",)

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


# --------------------------------------------------------------------------------------------------
# SqueezeNet


class Fire(nn.Module):
    """SqueezeNet's Fire module: a 1×1 "squeeze" layer feeding parallel 1×1 and 3×3 "expand" layers, concatenated.

    Few squeeze channels keep the 3×3 filters' input narrow (strategy 2); many 1×1 expand filters
    replace 3×3 ones (strategy 1). Attribute names are torchvision's.
    """

    kind = "fire"
    concepts = ("fire",)

    def __init__(self, in_ch: int, squeeze: int, expand1x1: int, expand3x3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(in_ch, squeeze, 1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, 1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, 3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)

    @classmethod
    def describe(cls, in_ch: int, squeeze: int, expand1x1: int, expand3x3: int) -> str:
        return f"Fire s1×1={squeeze}, e1×1={expand1x1}, e3×3={expand3x3}"


# --------------------------------------------------------------------------------------------------
# MobileNet V1


class DepthwiseSeparable(nn.Module):
    """MobileNet V1's depthwise separable convolution: depthwise 3×3 → BN → ReLU, then pointwise 1×1 → BN → ReLU.

    Costs D_K²·M·D_F² + M·N·D_F² multiply-adds instead of D_K²·M·N·D_F², a saving of 1/N + 1/D_K².
    """

    kind = "depthwise separable"

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = ConvBNAct(in_ch, in_ch, 3, stride, groups=in_ch, act="relu")
        self.pointwise = ConvBNAct(in_ch, out_ch, 1, act="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))

    @classmethod
    def describe(cls, in_ch: int, out_ch: int, stride: int = 1) -> str:
        return _("depthwise separable, {out}").format(out=out_ch) + (f", s{stride}" if stride != 1 else "")


# --------------------------------------------------------------------------------------------------
# MobileNet V2 / V3


class InvertedResidual(nn.Module):
    """MobileNet V2's inverted residual with linear bottleneck.

    Expand the thin input t-fold with a 1×1 conv (ReLU6), filter it with a depthwise 3×3 (ReLU6), project back
    to a thin output with a *linear* 1×1 conv: a ReLU there would destroy information in the low-dimensional
    space. The shortcut joins the thin bottlenecks, only where input and output shapes match.
    Attribute names are torchvision's (``conv``).
    """

    kind = "inverted residual"

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand_ratio: float, kernel: int = 3,
                 act: str = "relu6", linear_bottleneck: bool = True) -> None:
        super().__init__()
        hidden = int(round(in_ch * expand_ratio))
        self.use_res_connect = stride == 1 and in_ch == out_ch
        self.concepts = ("inverted", "linear" if linear_bottleneck else "not_linear")
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNAct(in_ch, hidden, 1, act=act))
        layers += [ConvBNAct(hidden, hidden, kernel, stride, groups=hidden, act=act),
                   nn.Conv2d(hidden, out_ch, 1, bias=False),
                   nn.BatchNorm2d(out_ch)]
        if not linear_bottleneck:
            layers.append(make_act(act))
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)

    @classmethod
    def describe(cls, in_ch: int, out_ch: int, stride: int, expand_ratio: float, kernel: int = 3,
                 linear_bottleneck: bool = True, **_ignored: Any) -> str:
        text = _("inverted residual, t={t:g}, k{kernel}, s{stride}, {out}").format(
            t=expand_ratio, kernel=kernel, stride=stride, out=out_ch)
        return text if linear_bottleneck else _("{label}, ReLU6 after projection").format(label=text)


class MobileNetV3Block(nn.Module):
    """MobileNet V3's bneck: 1×1 expand → depthwise k×k → optional SE (h-sigmoid gate) → linear 1×1 project.

    The nonlinearity is ReLU in early layers and h-swish (x·ReLU6(x+3)/6) in later ones, where the
    activation maps are small enough for its extra cost to be worth the accuracy.
    Attribute names are torchvision's (``block``), with its BatchNorm epsilon of 0.001.
    """

    kind = "bneck"
    concepts = ("inverted", "linear")

    def __init__(self, in_ch: int, exp_ch: int, out_ch: int, kernel: int, stride: int, se: bool,
                 act: str, expand: bool | None = None) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        # ``expand`` None: a 1×1 expansion exactly where the widths differ (the paper's table); explicit per-layer
        # widths (NetAdapt) say it, so that a shrunk expansion equal to its input keeps its layer
        if (exp_ch != in_ch) if expand is None else expand:
            layers.append(ConvBNAct(in_ch, exp_ch, 1, act=act, bn_eps=0.001))
        layers.append(ConvBNAct(exp_ch, exp_ch, kernel, stride, groups=exp_ch, act=act, bn_eps=0.001))
        if se:
            layers.append(SqueezeExcite(exp_ch, make_divisible(exp_ch // 4, 8), act="relu", gate="hsigmoid"))
        layers.append(ConvBNAct(exp_ch, out_ch, 1, act=None, bn_eps=0.001))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_res_connect else out

    @classmethod
    def describe(cls, in_ch: int, exp_ch: int, out_ch: int, kernel: int, stride: int, se: bool,
                 act: str, expand: bool | None = None) -> str:
        return (_("bneck k{kernel}, exp {exp}, {out}, s{stride}").format(kernel=kernel, exp=exp_ch, out=out_ch,
                                                                          stride=stride)
                + (", SE" if se else "") + f", {ACTIVATION_LABELS[act]}")


# --------------------------------------------------------------------------------------------------
# ShuffleNet V1 / V2


class ShuffleV1Unit(nn.Module):
    """ShuffleNet V1 unit: 1×1 group conv → channel shuffle → depthwise 3×3 → 1×1 group conv.

    Stride 1 adds the input back; stride 2 concatenates a 3×3 average-pooled copy of the input, so the
    residual branch only has to produce ``out_ch - in_ch`` channels. The bottleneck is a quarter of the
    output width. ``first_group_conv`` is False in the very first unit, whose 24-channel input is too
    narrow to split into groups.
    """

    kind = "shuffle unit"

    def __init__(self, in_ch: int, out_ch: int, groups: int, stride: int, first_group_conv: bool = True,
                 shuffle: bool = True, mid_ch: int | None = None) -> None:
        super().__init__()
        self.stride = stride
        self.concepts = ("no_shuffle",) if groups > 1 and not shuffle else ()
        mid_ch = out_ch // 4 if mid_ch is None else mid_ch
        branch_out = out_ch - in_ch if stride == 2 else out_ch
        self.gconv1 = ConvBNAct(in_ch, mid_ch, 1, groups=groups if first_group_conv else 1, act="relu")
        self.shuffle = ChannelShuffle(groups) if shuffle and groups > 1 else nn.Identity()
        self.dwconv = ConvBNAct(mid_ch, mid_ch, 3, stride, groups=mid_ch, act=None)
        self.gconv2 = ConvBNAct(mid_ch, branch_out, 1, groups=groups, act=None)
        self.shortcut = nn.AvgPool2d(3, stride=2, padding=1) if stride == 2 else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.gconv2(self.dwconv(self.shuffle(self.gconv1(x))))
        if self.stride == 2:
            return self.act(torch.cat([self.shortcut(x), out], 1))
        return self.act(x + out)

    @classmethod
    def describe(cls, in_ch: int, out_ch: int, groups: int, stride: int, shuffle: bool = True,
                 **_ignored: Any) -> str:
        text = _("ShuffleNet unit g={groups}, {out}, s{stride}").format(groups=groups, out=out_ch, stride=stride)
        return text if shuffle or groups == 1 else _("{label}, no shuffle").format(label=text)


class ShuffleV2Unit(nn.Module):
    """ShuffleNet V2 unit. Stride 1: split the channels in half, pass one half through untouched (G1: equal
    widths; G3: one branch), run 1×1 → depthwise 3×3 → 1×1 on the other, concatenate (no element-wise add,
    G4) and shuffle. Stride 2: no split; both branches see the whole input and the output doubles.
    Attribute names are torchvision's (``branch1``, ``branch2``).
    """

    kind = "shuffle v2 unit"
    concepts = ("split", "shuffle")

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        if out_ch % 2:
            raise ValueError(_("ShuffleNet V2 unit needs an even output width, got {out}").format(out=out_ch))
        self.stride = stride
        half = out_ch // 2
        if stride == 1 and in_ch != out_ch:
            raise ValueError(_("a stride-1 ShuffleNet V2 unit keeps its width"))
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(in_ch, in_ch, 3, stride, 1, groups=in_ch, bias=False), nn.BatchNorm2d(in_ch),
                nn.Conv2d(in_ch, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(in_ch if stride > 1 else half, half, 1, bias=False), nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        self.shuffle = ChannelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return self.shuffle(out)

    @classmethod
    def describe(cls, in_ch: int, out_ch: int, stride: int) -> str:
        text = _("ShuffleNet V2 unit, {out}, s{stride}").format(out=out_ch, stride=stride)
        return _("{label} (down-sampling)").format(label=text) if stride > 1 else text


# --------------------------------------------------------------------------------------------------
# head


class GlobalAvgPool(nn.Module):
    """Global average pooling to a flat ``(batch, channels)`` vector."""

    kind = "pool"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)

    @classmethod
    def describe(cls) -> str:
        return _("global average pool")
