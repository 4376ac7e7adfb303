"""The ideas a configuration is built from, explained in plain words for the Architecture page.

``concepts(name, **knobs)`` looks at the model those knobs build (on the meta device: no weights, a few
milliseconds) and returns the ideas it actually contains: a Fire module where there is one, h-swish only where
an h-swish runs, the shuffle switched off where ShuffleNet's ``shuffle`` knob is off. The texts are written
once here; which of them apply is read from the model, so a new family gets the right ones for free.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from torch import nn

from lightnets.cost import MetaBuild
from lightnets.registry import build, spec


@dataclass(frozen=True)
class Concept:
    term: str
    text: str


TEXTS = {
    "fire": ("Fire module", "A Fire module squeezes the channels with a few 1×1 filters, then expands them again "
             "with 1×1 and 3×3 filters side by side, whose outputs are concatenated. The few squeeze channels keep "
             "the costly 3×3 filters' input narrow, and most expand filters are cheap 1×1 ones."),
    "low_rank": ("Low-rank filters", "Each 3×3 filter is split into a 3×1 filter followed by a 1×3 one: 6 weights "
                 "instead of 9 per channel pair, a low-rank approximation of the full filter. Two 1×1 squeeze "
                 "layers before them (to half, then a quarter of the channels) keep them narrow too."),
    "depthwise": ("Depthwise separable convolution", "A depthwise conv filters every channel on its own (one k×k "
                  "filter per channel) and a 1×1 pointwise conv then mixes the channels. Together they do the job "
                  "of a full k×k conv for 1/N + 1/k² of its multiply-adds, about 1/8 for 3×3: see the Cost page's "
                  "“Depthwise separable” tab."),
    "full_conv": ("Standard convolutions, the baseline", "Separable convs are switched off: every layer is a full "
                  "3×3 conv that filters and mixes all channels at once, the baseline the paper compares against, "
                  "at about 8 to 9 times the multiply-adds."),
    "group": ("Group convolution", "A group conv splits its channels into g groups and filters each group on its "
              "own, dividing its multiply-adds and weights by g."),
    "shuffle": ("Channel shuffle", "After a group conv every group has seen only its own channels. A channel "
                "shuffle (view the channels as a g × n grid, transpose, flatten) gives each group of the next conv "
                "channels from every group, at no cost in MACs: the Channel shuffle page animates it."),
    "no_shuffle": ("Channel shuffle, switched off", "The shuffle knob is off: stacked group convs never exchange "
                   "information between their groups, so the network acts like g thin networks side by side "
                   "(the paper's ablation; the Channel shuffle page shows why)."),
    "split": ("Channel split (ShuffleNet V2)", "Each unit splits its channels in half: one half passes through "
              "untouched, the other through 1×1 → depthwise 3×3 → 1×1 convs of equal width; the halves are "
              "concatenated and shuffled. This follows the paper's guidelines for measured speed: G1 equal input "
              "and output widths, G2 no group convs, G3 few parallel branches, G4 few element-wise ops (a concat "
              "instead of an add)."),
    "inverted": ("Inverted residual", "The block expands its thin input t-fold with a 1×1 conv, filters the wide "
                 "tensor depthwise and projects it back to a thin output with another 1×1 conv. The shortcut joins "
                 "the thin ends, where input and output shapes match: the inverse of a classic bottleneck."),
    "linear": ("Linear bottleneck", "The projecting 1×1 conv has no activation: a ReLU on the thin, low-dimensional "
               "output would destroy information."),
    "not_linear": ("Linear bottleneck, switched off", "A ReLU6 now follows each projection: the paper's ablation "
                   "(its Fig. 6a), which costs accuracy for no saving."),
    "relu6": ("ReLU6", "ReLU6(x) = min(max(x, 0), 6): a ReLU capped at 6, which keeps activations in a range that "
              "low-precision (8-bit) arithmetic represents well."),
    "se_hsigmoid": ("Squeeze-and-excitation with h-sigmoid", "SE pools each channel to one number, passes that vector "
                    "through two small 1×1 layers and scales every channel by the result: cheap, input-dependent "
                    "channel attention. Its gate is h-sigmoid(x) = ReLU6(x + 3)/6, a piecewise-linear sigmoid that "
                    "is cheap on phones."),
    "se_sigmoid": ("Squeeze-and-excitation", "SE pools each channel to one number, passes that vector through two "
                   "small 1×1 layers and scales every channel by its sigmoid: cheap, input-dependent channel "
                   "attention."),
    "hswish": ("h-swish", "h-swish(x) = x · ReLU6(x + 3)/6 approximates swish (x · sigmoid(x)) with cheap "
               "operations. It is used in the deeper layers only, where the activation maps are small enough for "
               "its extra cost to pay off."),
    "swish": ("Swish", "swish(x) = x · sigmoid(x), a smooth activation found by automated search."),
    "ghost": ("Ghost module", "Many feature maps are near-copies of others, so a Ghost module makes only 1/s of its "
              "output channels with an ordinary 1×1 conv and derives the rest, the “ghosts”, from them with cheap "
              "depthwise convs."),
    "eesp": ("EESP unit", "The unit reduces the channels with a group 1×1 conv, runs K depthwise 3×3 convs with "
             "growing dilation side by side (a pyramid of receptive fields), adds their outputs step by step "
             "(against gridding artefacts) and expands with a group 1×1 conv."),
    "nas_netadapt": ("NAS and NetAdapt", "The layout was found by platform-aware neural architecture search (NAS), "
                     "which chose each block's kernel, expansion and SE by accuracy and by latency measured on a "
                     "phone; NetAdapt then narrowed layers one at a time while latency fell faster than accuracy."),
    "dnas": ("Differentiable architecture search", "Each block was chosen by DNAS: a super-net mixes nine candidate "
             "blocks in every layer and learns which to keep, penalised by latency from a per-operator lookup "
             "table measured on the target phone (the Latency page builds such a table for this machine)."),
    "compound": ("Compound scaling", "The B0 layout comes from a neural architecture search; B1–B3 grow it with one "
                 "coefficient φ: depth × 1.2^φ, width × 1.1^φ and input resolution × 1.15^φ, so that each step of φ "
                 "about doubles the multiply-adds."),
}
# Families whose layout a search found (read from the registry's family name; the blocks cannot show it)
SEARCHED = {"MobileNet V3": "nas_netadapt", "FBNet": "dnas", "EfficientNet": "compound"}
INVERTED_KINDS = {"inverted residual", "bneck", "MBConv", "fbnet block"}


def _present(name: str, knobs: dict[str, Any]) -> list[str]:
    """The keys of ``TEXTS`` that apply to the model these knobs build, in the order a reader meets them."""
    with MetaBuild():  # structure only: no weights are initialised
        model = build(name, **knobs)
    modules = list(model.modules())
    kinds = {getattr(type(m), "kind", None) for m in modules}
    convs = [m for m in modules if isinstance(m, nn.Conv2d)]
    found = []
    if "fire" in kinds:
        found.append("fire")
    if any(c.kernel_size in ((3, 1), (1, 3)) for c in convs):
        found.append("low_rank")
    if "ghost module" in kinds:
        found.append("ghost")
    if kinds & {"eesp", "strided eesp"}:
        found.append("eesp")
    if any(c.groups > 1 and c.groups == c.in_channels for c in convs):
        found.append("depthwise")
    elif knobs.get("separable") is False:
        found.append("full_conv")
    has_group = any(1 < c.groups < c.in_channels for c in convs)
    if has_group:
        found.append("group")
    if "shuffle v2 unit" in kinds:
        found += ["split", "shuffle"]
    elif "shuffle" in kinds:
        found.append("shuffle")
    elif has_group and knobs.get("shuffle") is False:
        found.append("no_shuffle")
    if kinds & INVERTED_KINDS:
        found += ["inverted", "not_linear" if knobs.get("linear_bottleneck") is False else "linear"]
    if any(isinstance(m, nn.ReLU6) for m in modules):
        found.append("relu6")
    gates = [type(m.scale_activation) for m in modules if getattr(type(m), "kind", None) == "squeeze-excite"]
    if nn.Hardsigmoid in gates:
        found.append("se_hsigmoid")
    elif gates or any(getattr(m, "has_se", False) for m in modules):
        found.append("se_sigmoid")
    if any(isinstance(m, nn.Hardswish) for m in modules):
        found.append("hswish")
    if any(isinstance(m, nn.SiLU) for m in modules):
        found.append("swish")
    searched = SEARCHED.get(spec(name).family)
    if searched:
        found.append(searched)
    return found


@functools.lru_cache(maxsize=256)
def _cached(name: str, knob_items: tuple[tuple[str, Any], ...]) -> tuple[Concept, ...]:
    return tuple(Concept(*TEXTS[key]) for key in _present(name, dict(knob_items)))


def concepts(name: str, **knobs: Any) -> list[Concept]:
    """The ideas this configuration contains, each with a 1–3 sentence explanation; ``ValueError`` for knobs
    the model does not take or cannot build."""
    full = spec(name).validate(knobs)
    return list(_cached(name, tuple(sorted(full.items()))))
