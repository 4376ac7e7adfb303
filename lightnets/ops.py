"""What an operator is, said once: op kinds, conv kinds, activation names.

The cost model, the block graphs, the concepts, the figures and the block labels all ask the same questions
("is this conv depthwise?", "what is this activation called?"); they ask them here, so a layer is called the
same thing on every page.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from lightnets.i18n import N_, _

# conv kinds first (they do the multiply-adds), then everything else an operator row can be
CONV_KINDS = ("dense", "pointwise", "depthwise", "group")
MAC_KINDS = CONV_KINDS + ("linear",)
ELEMENTWISE_KINDS = ("bn", "act", "add", "scale", "pool", "shuffle", "concat", "pad", "other")
OP_KINDS = MAC_KINDS + ELEMENTWISE_KINDS

# how a kind is called in legends and tables (in English: ``op_label`` gives the current language)
OP_LABELS = {
    "dense": N_("dense conv"), "pointwise": N_("pointwise 1×1 conv"), "depthwise": N_("depthwise conv"),
    "group": N_("group conv"), "linear": N_("fully connected"), "bn": N_("batch norm"), "act": N_("activation"),
    "add": N_("add"), "scale": N_("scale"), "pool": N_("pooling"), "shuffle": N_("channel shuffle"),
    "concat": N_("concat"), "pad": N_("padding"), "other": N_("other"),
}


def op_label(kind: str) -> str:
    """How an op kind (``OP_KINDS``) is called on screen, in the current language; an unknown kind as it is."""
    return _(OP_LABELS[kind]) if kind in OP_LABELS else kind


# Op kinds (``OP_KINDS``) and block kinds (``Block.kind``) are identifiers; on screen they are written as these
# words, in English the kind itself (``kind_label`` translates them).
_KIND_WORDS = frozenset((
    N_("dense"), N_("pointwise"), N_("depthwise"), N_("group"), N_("linear"), N_("bn"), N_("act"), N_("add"),
    N_("scale"), N_("pool"), N_("shuffle"), N_("concat"), N_("pad"), N_("other"), N_("conv"), N_("squeeze-excite"),
    N_("dropout"), N_("flatten"), N_("fire"), N_("depthwise separable"), N_("inverted residual"),
    N_("shuffle unit"), N_("shuffle v2 unit"), N_("squeezenext block"), N_("ghost bottleneck"), N_("ghost module"),
    N_("fbnet block"), N_("strided eesp"),
))


def kind_label(kind: str) -> str:
    """An op kind or block kind as legends and tables write it, in the current language."""
    return _(kind) if kind in _KIND_WORDS else kind


def conv_kind(in_channels: int, groups: int, kernel: Sequence[int]) -> str:
    """``dense`` (k×k, one group), ``pointwise`` (1×1, one group), ``depthwise`` (one input channel per group,
    whatever the channel multiplier) or ``group`` (several channels per group)."""
    if groups == 1:
        return "pointwise" if all(k == 1 for k in kernel) else "dense"
    if in_channels == groups:
        return "depthwise"
    return "group"


def conv_module_kind(conv: nn.Conv2d) -> str:
    return conv_kind(conv.in_channels, conv.groups, conv.kernel_size)


def conv_word(in_channels: int, groups: int) -> str:
    """The words a block label uses for a k×k conv: 'conv', 'depthwise conv' or 'group conv g=4'."""
    kind = conv_kind(in_channels, groups, (3,))
    if kind == "depthwise":
        return _("depthwise conv")
    return _("group conv g={groups}").format(groups=groups) if kind == "group" else _("conv")


# --------------------------------------------------------------------------------------------------
# activations

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "hswish": nn.Hardswish, "hsigmoid": nn.Hardsigmoid, "swish": nn.SiLU,
    "sigmoid": nn.Sigmoid, "prelu": nn.PReLU,
}
ACTIVATION_LABELS: dict[str, str] = {
    "relu": "ReLU", "relu6": "ReLU6", "hswish": "h-swish", "hsigmoid": "h-sigmoid", "swish": "swish",
    "sigmoid": "sigmoid", "prelu": "PReLU", "tanh": "tanh", "gelu": "GELU", "leaky_relu": "leaky ReLU",
    "elu": "ELU", "hardtanh": "hardtanh",
}
_CLASS_NAMES: dict[type, str] = {
    **{cls: name for name, cls in ACTIVATIONS.items()},
    nn.Tanh: "tanh", nn.GELU: "gelu", nn.LeakyReLU: "leaky_relu", nn.ELU: "elu", nn.Hardtanh: "hardtanh",
}
ACTIVATION_CLASSES: tuple[type, ...] = tuple(_CLASS_NAMES)
# functional / ATen names of the same activations (torch.fx call targets, dispatch op names)
_FUNCTION_NAMES = {"relu": "relu", "relu_": "relu", "relu6": "relu6", "hardswish": "hswish", "hardswish_": "hswish",
                   "hardsigmoid": "hsigmoid", "hardsigmoid_": "hsigmoid", "sigmoid": "sigmoid", "sigmoid_": "sigmoid",
                   "silu": "swish", "silu_": "swish", "prelu": "prelu", "_prelu_kernel": "prelu", "tanh": "tanh",
                   "gelu": "gelu", "leaky_relu": "leaky_relu", "leaky_relu_": "leaky_relu", "elu": "elu",
                   "elu_": "elu", "hardtanh": "hardtanh", "hardtanh_": "hardtanh", "threshold": "relu"}


def activation_name(what: str | type | nn.Module) -> str | None:
    """The short name (``relu6``, ``hswish``) of an activation class, module or functional/ATen op name."""
    if isinstance(what, str):
        return what if what in ACTIVATION_LABELS else _FUNCTION_NAMES.get(what)
    cls = what if isinstance(what, type) else type(what)
    return _CLASS_NAMES.get(cls)


def activation_label(what: str | type | nn.Module) -> str | None:
    """How an activation is written on screen ('ReLU6', 'h-swish'), or None if ``what`` is not one."""
    name = activation_name(what)
    return None if name is None else ACTIVATION_LABELS[name]


def make_act(name: str, channels: int | None = None) -> nn.Module:
    """An activation module by short name; ``prelu`` needs ``channels`` (one slope per channel)."""
    if name == "prelu":
        if channels is None:
            raise ValueError(_("prelu needs a channel count"))
        return nn.PReLU(channels)
    if name not in ACTIVATIONS:
        raise ValueError(_("unknown activation {name!r}; known: {known}").format(
            name=name, known=", ".join(sorted(ACTIVATIONS))))
    if name == "sigmoid":
        return nn.Sigmoid()
    return ACTIVATIONS[name](inplace=True)
