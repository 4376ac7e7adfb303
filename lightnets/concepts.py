"""The ideas a configuration is built from, explained in plain words for the Architecture page.

``concepts(config)`` looks at the blocks the configuration's profile is built from (each built once on the meta
device and cached: no weights) and returns the ideas they actually contain: a Fire module where there is one,
h-swish only where an h-swish runs, the shuffle switched off where a ShuffleNet unit has none. The texts are
written once here; which apply is read from the blocks, in three ways, none of which names a family:

* operators seen in the modules (depthwise and group convs, 3×1/1×3 kernels, ReLU6, h-swish, swish, SE gates);
* a ``concepts`` attribute of a block (class or instance: ``("fire",)``; an inverted residual sets
  ``("inverted", "not_linear")`` when built without its linear bottleneck);
* knob metadata (``Knob.concepts``: MobileNet V1's ``separable`` off means standard convs) and the spec's own
  ``concepts`` (how the layout was found: NAS, DNAS, compound scaling).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from torch import nn

from lightnets.cost import _block_module, _freeze
from lightnets.i18n import N_, _
from lightnets.ops import conv_module_kind
from lightnets.registry import Config


@dataclass(frozen=True)
class Concept:
    term: str
    text: str


# Each idea's name and explanation, in English (marked for the catalog); ``concepts`` returns them translated.
TEXTS = {
    "fire": (N_("Fire module"),
             N_("A Fire module squeezes the channels with a few 1×1 filters, then expands them again with 1×1 and 3×3 "
                "filters side by side, whose outputs are concatenated. The few squeeze channels keep the costly 3×3 "
                "filters' input narrow, and most expand filters are cheap 1×1 ones.")),
    "low_rank": (N_("Low-rank filters"),
                 N_("Each 3×3 filter is split into a 3×1 filter followed by a 1×3 one: 6 weights instead of 9 per "
                    "channel pair, a low-rank approximation of the full filter. Two 1×1 squeeze layers before them "
                    "(to half, then a quarter of the channels) keep them narrow too.")),
    "depthwise": (N_("Depthwise separable convolution"),
                  N_("A depthwise conv filters every channel on its own (one k×k filter per channel) and a 1×1 "
                     "pointwise conv then mixes the channels. Together they do the job of a full k×k conv for 1/N + "
                     "1/k² of its multiply-adds, about 1/8 for 3×3: see the Cost page's “Depthwise separable” tab.")),
    "full_conv": (N_("Standard convolutions, the baseline"),
                  N_("Separable convs are switched off: every layer is a full 3×3 conv that filters and mixes all "
                     "channels at once, the baseline the paper compares against, at about 8 to 9 times the "
                     "multiply-adds.")),
    "group": (N_("Group convolution"),
              N_("A group conv splits its channels into g groups and filters each group on its own, dividing its "
                 "multiply-adds and weights by g.")),
    "shuffle": (N_("Channel shuffle"),
                N_("After a group conv every group has seen only its own channels. A channel shuffle (view the "
                   "channels as a g × n grid, transpose, flatten) gives each group of the next conv channels from "
                   "every group, at no cost in MACs: the Channel shuffle page animates it.")),
    "no_shuffle": (N_("Channel shuffle, switched off"),
                   N_("The shuffle knob is off: stacked group convs never exchange information between their groups, "
                      "so the network acts like g thin networks side by side (the paper's ablation; the Channel "
                      "shuffle page shows why).")),
    "split": (N_("Channel split (ShuffleNet V2)"),
              N_("Each unit splits its channels in half: one half passes through untouched, the other through 1×1 → "
                 "depthwise 3×3 → 1×1 convs of equal width; the halves are concatenated and shuffled. This follows "
                 "the paper's guidelines for measured speed: G1 equal input and output widths, G2 no group convs, G3 "
                 "few parallel branches, G4 few element-wise ops (a concat instead of an add).")),
    "inverted": (N_("Inverted residual"),
                 N_("The block expands its thin input t-fold with a 1×1 conv, filters the wide tensor depthwise and "
                    "projects it back to a thin output with another 1×1 conv. The shortcut joins the thin ends, where "
                    "input and output shapes match: the inverse of a classic bottleneck.")),
    "linear": (N_("Linear bottleneck"),
               N_("The projecting 1×1 conv has no activation: a ReLU on the thin, low-dimensional output would "
                  "destroy information.")),
    "not_linear": (N_("Linear bottleneck, switched off"),
                   N_("A ReLU6 now follows each projection: the paper's ablation (its Fig. 6a), which costs accuracy "
                      "for no saving.")),
    "relu6": (N_("ReLU6"),
              N_("ReLU6(x) = min(max(x, 0), 6): a ReLU capped at 6, which keeps activations in a range that "
                 "low-precision (8-bit) arithmetic represents well.")),
    "se_hsigmoid": (N_("Squeeze-and-excitation with h-sigmoid"),
                    N_("SE pools each channel to one number, passes that vector through two small 1×1 layers and "
                       "scales every channel by the result: cheap, input-dependent channel attention. Its gate is "
                       "h-sigmoid(x) = ReLU6(x + 3)/6, a piecewise-linear sigmoid that is cheap on phones.")),
    "se_sigmoid": (N_("Squeeze-and-excitation"),
                   N_("SE pools each channel to one number, passes that vector through two small 1×1 layers and "
                      "scales every channel by its sigmoid: cheap, input-dependent channel attention.")),
    "hswish": (N_("h-swish"),
               N_("h-swish(x) = x · ReLU6(x + 3)/6 approximates swish (x · sigmoid(x)) with cheap operations. It is "
                  "used in the deeper layers only, where the activation maps are small enough for its extra cost to "
                  "pay off.")),
    "swish": (N_("Swish"),
              N_("swish(x) = x · sigmoid(x), a smooth activation found by automated search.")),
    "ghost": (N_("Ghost module"),
              N_("Many feature maps are near-copies of others, so a Ghost module makes only 1/s of its output "
                 "channels with an ordinary 1×1 conv and derives the rest, the “ghosts”, from them with cheap "
                 "depthwise convs.")),
    "eesp": (N_("EESP unit"),
             N_("The unit reduces the channels with a group 1×1 conv, runs K depthwise 3×3 convs with growing "
                "dilation side by side (a pyramid of receptive fields), adds their outputs step by step (against "
                "gridding artefacts) and expands with a group 1×1 conv.")),
    "nas_netadapt": (N_("NAS and NetAdapt"),
                     N_("The layout was found by platform-aware neural architecture search (NAS), which chose each "
                        "block's kernel, expansion and SE by accuracy and by latency measured on a phone; NetAdapt "
                        "then narrowed layers one at a time while latency fell faster than accuracy.")),
    "dnas": (N_("Differentiable architecture search"),
             N_("Each block was chosen by DNAS: a super-net mixes nine candidate blocks in every layer and learns "
                "which to keep, penalised by latency from a per-operator lookup table measured on the target phone "
                "(the Latency page builds such a table for this machine).")),
    "compound": (N_("Compound scaling"),
                 N_("The B0 layout comes from a neural architecture search; B1–B3 grow it with one coefficient φ: "
                    "depth × 1.2^φ, width × 1.1^φ and input resolution × 1.15^φ, so that each step of φ about doubles "
                    "the multiply-adds.")),
}
# the order a reader meets the ideas in
ORDER = ("fire", "low_rank", "ghost", "eesp", "depthwise", "full_conv", "group", "split", "shuffle", "no_shuffle",
         "inverted", "linear", "not_linear", "relu6", "se_hsigmoid", "se_sigmoid", "hswish", "swish",
         "nas_netadapt", "dnas", "compound")


def _seen(module: nn.Module) -> set[str]:
    """The ideas one built block shows: its modules' operators and ``concepts`` attributes."""
    found: set[str] = set()
    for m in module.modules():
        found.update(getattr(m, "concepts", ()))
        if isinstance(m, nn.Conv2d):
            kind = conv_module_kind(m)
            if kind in ("depthwise", "group"):
                found.add(kind)
            if m.kernel_size in ((3, 1), (1, 3)):
                found.add("low_rank")
        elif isinstance(m, nn.ReLU6):
            found.add("relu6")
        elif isinstance(m, nn.Hardswish):
            found.add("hswish")
        elif isinstance(m, nn.SiLU):
            found.add("swish")
        gate = getattr(m, "scale_activation", None)  # a squeeze-and-excitation module's gate
        if gate is not None:
            found.add("se_hsigmoid" if isinstance(gate, nn.Hardsigmoid) else "se_sigmoid")
    return found


def _present(config: Config) -> list[str]:
    """The keys of ``TEXTS`` that apply to this configuration, in the order a reader meets them."""
    found: set[str] = set()
    for row in dict.fromkeys((row.layer, _freeze(dict(row.args))) for row in config.blocks):
        found |= _seen(_block_module(*row))
    for knob in config.spec.knobs:
        tag = knob.concepts.get(config.knobs[knob.name])
        if tag:
            found.add(tag)
    found.update(config.spec.concepts)
    if "se_hsigmoid" in found:
        found.discard("se_sigmoid")
    return [key for key in ORDER if key in found]


@functools.lru_cache(maxsize=256)
def _cached(config: Config) -> tuple[str, ...]:
    # the keys only: the texts are translated per call, in the caller's language
    return tuple(_present(config))


def concepts(config: Config) -> list[Concept]:
    """The ideas this configuration contains, each with a 1–3 sentence explanation, in the current language."""
    return [Concept(_(TEXTS[key][0]), _(TEXTS[key][1])) for key in _cached(config.architecture)]
