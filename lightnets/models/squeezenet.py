"""SqueezeNet (Iandola et al. 2016): Fire modules, late downsampling, no fully connected layer.

The eight Fire modules are generated from the paper's microarchitecture metaparameters (Section 5): Fire module
i (0-based) expands to e_i = base_e + incr_e·⌊i / freq⌋ channels (base_e = incr_e = 128, freq = 2), squeezes to
s_i = SR·e_i, and gives pct3x3·e_i of its expand filters a 3×3 kernel. At SR = 0.125 and pct3x3 = 0.5 this is
exactly Table 1. v1.1 is the official repository's (forresti/SqueezeNet, SqueezeNet_v1.1): a 64-channel 3×3
first conv and the max pools moved forward. Module names follow torchvision's ``squeezenet1_0/1_1``
(``features.N``, ``classifier.1``) so that its ImageNet checkpoints load unchanged.
"""

from __future__ import annotations

from torch import nn

from lightnets.i18n import N_
from lightnets.layers import Fire
from lightnets.registry import Block, Knob, ModelSpec, Paper, reference

BASE_E, INCR_E, FREQ = 128, 128, 2
FIRE_MODULES = 8
NUM_CLASSES = 1000

# The two macroarchitectures as rows of ``features``: ("conv", out, kernel), ("pool",) or ("fire",). A pool
# is 3×3 stride 2 with ceil rounding, as in Caffe (55×55 → 27×27 at 224 px, Table 1).
LAYOUTS: dict[str, list[tuple]] = {
    # Table 1: conv1 96×7×7/2, maxpool1, fire2-4, maxpool4, fire5-8, maxpool8, fire9.
    "1_0": [("conv", 96, 7), ("pool",), ("fire",), ("fire",), ("fire",), ("pool",),
            ("fire",), ("fire",), ("fire",), ("fire",), ("pool",), ("fire",)],
    # SqueezeNet_v1.1 README: conv1 64×3×3/2 and pool_{1,3,5}, i.e. after conv1, fire3 and fire5.
    "1_1": [("conv", 64, 3), ("pool",), ("fire",), ("fire",), ("pool",), ("fire",), ("fire",), ("pool",),
            ("fire",), ("fire",), ("fire",), ("fire",)],
}


def _round(value: float) -> int:
    """Round half up (Python's round() sends 2.5 to 2), so channel counts move monotonically with the knobs."""
    return int(value + 0.5)


def fire_channels(index: int, squeeze_ratio: float, pct3x3: float) -> tuple[int, int, int]:
    """(s1x1, e1x1, e3x3) of Fire module ``index`` (0 = fire2) from the metaparameters.

    Every layer keeps at least one filter: s1x1 ≥ 1, and e3x3 is kept in [1, e_i − 1] so that neither expand
    branch vanishes at pct3x3 = 1% or 99%.
    """
    expand = BASE_E + INCR_E * (index // FREQ)
    squeeze = max(1, _round(squeeze_ratio * expand))
    e3 = min(expand - 1, max(1, _round(pct3x3 * expand)))
    return squeeze, expand - e3, e3


def squeezenet_blocks(version: str, squeeze_ratio: float, pct3x3: float) -> list[Block]:
    rows: list[Block] = []
    in_ch, fire, stage = 3, 0, 0

    def add(layer: type[nn.Module], args: dict) -> None:
        rows.append(Block(f"features.{len(rows)}", layer, args, f"stage {stage}" if stage else "stem"))

    for layer in LAYOUTS[version]:
        if layer[0] == "conv":
            _, out_ch, kernel = layer
            add(nn.Conv2d, dict(in_channels=in_ch, out_channels=out_ch, kernel_size=kernel, stride=2))
            add(nn.ReLU, dict(inplace=True))
            in_ch = out_ch
        elif layer[0] == "pool":
            stage += 1  # each max pool opens a stage at half the resolution
            add(nn.MaxPool2d, dict(kernel_size=3, stride=2, ceil_mode=True))
        else:
            squeeze, e1, e3 = fire_channels(fire, squeeze_ratio, pct3x3)
            add(Fire, dict(in_ch=in_ch, squeeze=squeeze, expand1x1=e1, expand3x3=e3))
            in_ch, fire = e1 + e3, fire + 1
    # conv10 replaces the fully connected layers: a 1×1 conv to one channel per class, then global average pool
    rows += [
        Block("classifier.0", nn.Dropout, dict(p=0.5), "head"),
        Block("classifier.1", nn.Conv2d, dict(in_channels=in_ch, out_channels=NUM_CLASSES, kernel_size=1), "head"),
        Block("classifier.2", nn.ReLU, dict(inplace=True), "head"),
        Block("classifier.3", nn.AdaptiveAvgPool2d, dict(output_size=1), "head"),
        Block("flatten", nn.Flatten, {}, "head"),
    ]
    return rows


def squeezenet1_0_blocks(squeeze_ratio: float, pct3x3: float) -> list[Block]:
    return squeezenet_blocks("1_0", squeeze_ratio, pct3x3)


def squeezenet1_1_blocks(squeeze_ratio: float, pct3x3: float) -> list[Block]:
    return squeezenet_blocks("1_1", squeeze_ratio, pct3x3)


PAPER = Paper("SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size",
              "Iandola, Han, Moskewicz, Ashraf, Dally, Keutzer", 2016, "1602.07360")

KNOBS = (
    Knob("squeeze_ratio", N_("squeeze ratio SR"), "float", 0.125, min=0.125, max=1.0, step=0.025,
         help=N_("Squeeze-layer channels as a fraction of the Fire module's expand channels (s = SR·e). Fewer squeeze "
                 "channels feed fewer inputs to the 3×3 filters. The paper sweeps 0.125 to 1.0: accuracy plateaus at "
                 "SR = 0.75 (86.0% top-5, 19 MB).")),
    Knob("pct3x3", N_("share of 3×3 expand filters"), "float", 0.5, min=0.01, max=0.99, step=0.005,
         help=N_("Fraction of each Fire module's expand filters that are 3×3 (the rest are 1×1, 9× cheaper). The "
                 "paper sweeps 1% to 99% and finds top-5 accuracy plateaus at 50%.")),
)

_SIZE_NOTE = N_("The paper reports no multiply-adds for SqueezeNet, and others disagree by 2×: the ShuffleNet paper "
                "(Table 6) lists 833M, the MobileNet paper (Table 9) 1700M 'mult-adds', the official README 1.72 "
                "GFLOPS for v1.0 and 0.72 for v1.1 (2.4× less), presumably counting a multiply and an add as two "
                "operations. At 224 px the architecture has 819M (v1.0) and 349M (v1.1) multiply-adds, 2.35× apart.")

MODELS = [
    ModelSpec(
        name="squeezenet1_0",
        family="SqueezeNet",
        title="SqueezeNet 1.0",
        paper=PAPER,
        idea=N_("Fire modules squeeze the channels with a few 1×1 filters, then expand them with a mix of 1×1 and 3×3 "
                "filters; late downsampling keeps activation maps large, and a 1×1 conv with global pooling replaces "
                "the fully connected layers."),
        knobs=KNOBS,
        blocks=squeezenet1_0_blocks,
        min_resolution=32,  # the package's floor (v1.0 itself runs from 21 px, v1.1 from 17)
        references=(
            reference(194, squeeze_ratio=0.125, pct3x3=0.5),
            reference(202, squeeze_ratio=0.125, pct3x3=0.5,
                      note=N_("torchvision retrained these weights; the architecture is the paper's")),
            reference(131, squeeze_ratio=0.125, pct3x3=0.5,
                      note=N_("The SqueezeNet paper itself gives no multiply-adds; this is the ShuffleNet paper's "
                              "count at 224 px.")),
        ),
        notes=(
            _SIZE_NOTE,
            N_("Model sizes in the paper are 32-bit weights in MiB: 1,248,424 parameters × 4 bytes = 4.8 MB."),
            N_("Table 1 lists a 224×224 input but 111×111 after conv1 (7×7/2, no padding), which is what the Caffe "
               "model's 227-px crop gives; at 224 px conv1 gives 109×109 and the pools 54, 27 and 13."),
            N_("Fire module channels come from the metaparameters base_e = 128, incr_e = 128, freq = 2; channel "
               "counts are rounded half up, with at least one filter per layer."),
        ),
    ),
    ModelSpec(
        name="squeezenet1_1",
        family="SqueezeNet",
        title="SqueezeNet 1.1",
        paper=PAPER,
        idea=N_("SqueezeNet with a 64-filter 3×3 first conv and the max pools moved forward (after conv1, fire3 and "
                "fire5): 2.4× less computation than 1.0 at the same accuracy (official repository)."),
        knobs=KNOBS,
        blocks=squeezenet1_1_blocks,
        min_resolution=32,
        references=(
            reference(203, squeeze_ratio=0.125, pct3x3=0.5,
                      note=N_("v1.1 appears only in the official repository (forresti/SqueezeNet); torchvision's "
                              "exact parameter count of the same architecture")),
        ),
        notes=(
            _SIZE_NOTE,
            N_("v1.1 is not in the paper: the official repository's README describes it (conv1 64×3×3, pools after "
               "conv1, fire3, fire5) and claims 2.4× less computation than v1.0 (0.72 vs 1.72 GFLOPS)."),
        ),
    ),
]
