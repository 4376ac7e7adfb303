"""SqueezeNext against the official Caffe definitions (amirgholami/SqueezeNext), the abstract's 4.4M parameters
and osmr/imgclsmob's exact parameter count; the block's behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.fx
from torch import nn

import lightnets
from lightnets.cost import CONV_KINDS
from lightnets.models.squeezenext import SqueezeNextBlock, squeezenext_blocks

DATA = Path(__file__).parent / "data"
ENTRIES = {e["id"]: e for e in json.loads((DATA / "papers.json").read_text())["entries"]}


def _blocks(model: nn.Module) -> list[SqueezeNextBlock]:
    return [m for m in model.modules() if isinstance(m, SqueezeNextBlock)]


# The convolutions of the official definitions, transcribed from amirgholami/SqueezeNext 1.0-SqNxt-23/ and
# 2.0-SqNxt-23/train_val.prototxt: (layers, how many, C_in, C_out, kh·kw, output side on the 227-px crop). Every
# conv has bias_term: false and is followed by BatchNorm (mean, variance and the moving-average factor, all with
# lr_mult 0: buffers in PyTorch) and Scale with bias_term: true (C_out scales + C_out biases, which is PyTorch's
# BatchNorm2d weight + bias), then ReLU. Sides: Convolution1 (7×7/2, pad 0) 227 → 111; pool1 (3×3/2, Caffe's ceil
# rounding) → 55; the stride-2 1×1 convs 55 → 28 → 14 → 7. The first block of each stage adds its shortcut conv
# (Convolution2, 33, 64, 105) to its last conv (Eltwise1, 7, 13, 21); the other blocks add their input. The
# 3×1 and 1×3 convs alternate in order but both have kh·kw = 3. The head is fc1000 (128 → 1000, bias_term: false).
SQNXT_2_0_23 = (
    ("Convolution1", 1, 3, 64, 49, 111),
    ("Convolution2 (shortcut on pool1)", 1, 64, 64, 1, 55),
    ("Convolution3", 1, 64, 32, 1, 55),
    ("Convolution4", 1, 32, 16, 1, 55),
    ("Convolution5 (3×1)", 1, 16, 32, 3, 55),
    ("Convolution6 (1×3)", 1, 32, 32, 3, 55),
    ("Convolution7", 1, 32, 64, 1, 55),
    ("Convolution8, 13, 18, 23, 28", 5, 64, 32, 1, 55),
    ("Convolution9, 14, …, 29", 5, 32, 16, 1, 55),
    ("Convolution10, 15, …, 30", 5, 16, 32, 3, 55),
    ("Convolution11, 16, …, 31", 5, 32, 32, 3, 55),
    ("Convolution12, 17, …, 32", 5, 32, 64, 1, 55),
    ("Convolution33 (shortcut, s2)", 1, 64, 128, 1, 28),
    ("Convolution34 (s2)", 1, 64, 64, 1, 28),
    ("Convolution35", 1, 64, 32, 1, 28),
    ("Convolution36", 1, 32, 64, 3, 28),
    ("Convolution37", 1, 64, 64, 3, 28),
    ("Convolution38", 1, 64, 128, 1, 28),
    ("Convolution39, 44, …, 59", 5, 128, 64, 1, 28),
    ("Convolution40, 45, …, 60", 5, 64, 32, 1, 28),
    ("Convolution41, 46, …, 61", 5, 32, 64, 3, 28),
    ("Convolution42, 47, …, 62", 5, 64, 64, 3, 28),
    ("Convolution43, 48, …, 63", 5, 64, 128, 1, 28),
    ("Convolution64 (shortcut, s2)", 1, 128, 256, 1, 14),
    ("Convolution65 (s2)", 1, 128, 128, 1, 14),
    ("Convolution66", 1, 128, 64, 1, 14),
    ("Convolution67", 1, 64, 128, 3, 14),
    ("Convolution68", 1, 128, 128, 3, 14),
    ("Convolution69", 1, 128, 256, 1, 14),
    ("Convolution70, 75, …, 100", 7, 256, 128, 1, 14),
    ("Convolution71, 76, …, 101", 7, 128, 64, 1, 14),
    ("Convolution72, 77, …, 102", 7, 64, 128, 3, 14),
    ("Convolution73, 78, …, 103", 7, 128, 128, 3, 14),
    ("Convolution74, 79, …, 104", 7, 128, 256, 1, 14),
    ("Convolution105 (shortcut, s2)", 1, 256, 512, 1, 7),
    ("Convolution106 (s2)", 1, 256, 256, 1, 7),
    ("Convolution107", 1, 256, 128, 1, 7),
    ("Convolution108", 1, 128, 256, 3, 7),
    ("Convolution109", 1, 256, 256, 3, 7),
    ("Convolution110", 1, 256, 512, 1, 7),
    ("Convolution111", 1, 512, 128, 1, 7),
)
SQNXT_1_0_23 = (
    ("Convolution1", 1, 3, 64, 49, 111),
    ("Convolution2 (shortcut on pool1)", 1, 64, 32, 1, 55),
    ("Convolution3", 1, 64, 16, 1, 55),
    ("Convolution4", 1, 16, 8, 1, 55),
    ("Convolution5 (3×1)", 1, 8, 16, 3, 55),
    ("Convolution6 (1×3)", 1, 16, 16, 3, 55),
    ("Convolution7", 1, 16, 32, 1, 55),
    ("Convolution8, 13, 18, 23, 28", 5, 32, 16, 1, 55),
    ("Convolution9, 14, …, 29", 5, 16, 8, 1, 55),
    ("Convolution10, 15, …, 30", 5, 8, 16, 3, 55),
    ("Convolution11, 16, …, 31", 5, 16, 16, 3, 55),
    ("Convolution12, 17, …, 32", 5, 16, 32, 1, 55),
    ("Convolution33 (shortcut, s2)", 1, 32, 64, 1, 28),
    ("Convolution34 (s2)", 1, 32, 32, 1, 28),
    ("Convolution35", 1, 32, 16, 1, 28),
    ("Convolution36", 1, 16, 32, 3, 28),
    ("Convolution37", 1, 32, 32, 3, 28),
    ("Convolution38", 1, 32, 64, 1, 28),
    ("Convolution39, 44, …, 59", 5, 64, 32, 1, 28),
    ("Convolution40, 45, …, 60", 5, 32, 16, 1, 28),
    ("Convolution41, 46, …, 61", 5, 16, 32, 3, 28),
    ("Convolution42, 47, …, 62", 5, 32, 32, 3, 28),
    ("Convolution43, 48, …, 63", 5, 32, 64, 1, 28),
    ("Convolution64 (shortcut, s2)", 1, 64, 128, 1, 14),
    ("Convolution65 (s2)", 1, 64, 64, 1, 14),
    ("Convolution66", 1, 64, 32, 1, 14),
    ("Convolution67", 1, 32, 64, 3, 14),
    ("Convolution68", 1, 64, 64, 3, 14),
    ("Convolution69", 1, 64, 128, 1, 14),
    ("Convolution70, 75, …, 100", 7, 128, 64, 1, 14),
    ("Convolution71, 76, …, 101", 7, 64, 32, 1, 14),
    ("Convolution72, 77, …, 102", 7, 32, 64, 3, 14),
    ("Convolution73, 78, …, 103", 7, 64, 64, 3, 14),
    ("Convolution74, 79, …, 104", 7, 64, 128, 1, 14),
    ("Convolution105 (shortcut, s2)", 1, 128, 256, 1, 7),
    ("Convolution106 (s2)", 1, 128, 128, 1, 7),
    ("Convolution107", 1, 128, 64, 1, 7),
    ("Convolution108", 1, 64, 128, 3, 7),
    ("Convolution109", 1, 128, 128, 3, 7),
    ("Convolution110", 1, 128, 256, 1, 7),
    ("Convolution111", 1, 256, 128, 1, 7),
)
FC_IN, FC_OUT = 128, 1000


def _prototxt_cost(convs: tuple) -> tuple[int, int, int]:
    """(convolutions, parameters, multiply-adds) of a transcribed definition: per conv C_in·C_out·kh·kw weights
    + 2·C_out Scale parameters, and C_in·C_out·kh·kw·side² multiply-adds; plus fc1000's 128·1000 of each."""
    count = sum(n for _, n, *_ in convs)
    params = sum(n * (c_in * c_out * area + 2 * c_out) for _, n, c_in, c_out, area, _ in convs) + FC_IN * FC_OUT
    macs = sum(n * c_in * c_out * area * side ** 2 for _, n, c_in, c_out, area, side in convs) + FC_IN * FC_OUT
    return count, params, macs


def test_1_0_sqnxt_23_is_the_official_caffe_net() -> None:
    """1.0-SqNxt-23/train_val.prototxt: 111 convolutions (Convolution1 … Convolution111), 21 blocks in stages
    of 6, 6, 8, 1, feature maps 111 → 55 (pool) → 55, 28, 14, 7 on the 227-px crop, a 128-channel 1×1 conv and
    fc1000."""
    p = lightnets.profile(lightnets.config("squeezenext"))
    convs = [r for r in p.layers if r.op in CONV_KINDS]
    assert len(convs) == 111
    assert convs[0].kernel == (7, 7) and convs[0].output_shape == (1, 64, 111, 111)
    stages = {}
    for b in p.blocks:
        if b.kind == "squeezenext block":
            stages.setdefault(b.stage, []).append(b)
    assert [len(v) for v in stages.values()] == [6, 6, 8, 1]
    assert [v[-1].output_shape for v in stages.values()] == [(1, 32, 55, 55), (1, 64, 28, 28), (1, 128, 14, 14),
                                                             (1, 256, 7, 7)]
    assert convs[-1].output_shape == (1, 128, 7, 7)
    assert [r for r in p.layers if r.op == "linear"][0].output_shape == (1, 1000)


def test_block_channels_follow_the_paper() -> None:
    """Two 1×1 squeezes halving the channels twice, a 3×1 and a 1×3 conv to C/2, a 1×1 expansion to C."""
    for block in _blocks(lightnets.build(lightnets.config("squeezenext", width=1.5))):
        out = block.expand[0].out_channels
        convs = [block.squeeze1[0], block.squeeze2[0], block.separable1[0], block.separable2[0], block.expand[0]]
        assert [c.out_channels for c in convs] == [out // 2, out // 4, out // 2, out // 2, out]
        assert {convs[2].kernel_size, convs[3].kernel_size} == {(3, 1), (1, 3)}
        assert all(c.bias is None for c in convs)  # bias-free convs with batch norm, as in Caffe


def test_separable_order_alternates_as_in_the_prototxt() -> None:
    """Convolution5/6 are 3×1 then 1×3, Convolution10/11 1×3 then 3×1, and so on; each stage restarts with 3×1."""
    model = lightnets.build(lightnets.config("squeezenext"))
    for stage in (model.stage1, model.stage2, model.stage3):
        kernels = [block.separable1[0].kernel_size for block in stage]
        assert kernels == [(3, 1) if i % 2 == 0 else (1, 3) for i in range(len(stage))]


def test_shortcut_is_a_projection_in_each_stages_first_block() -> None:
    model = lightnets.build(lightnets.config("squeezenext", depth=34))
    for stage_index, stage in enumerate((model.stage1, model.stage2, model.stage3, model.stage4)):
        for i, block in enumerate(stage):
            projects = not isinstance(block.shortcut, nn.Identity)
            assert projects == (i == 0)  # stage 1's first block goes from 64 to 32 channels
            stride = block.squeeze1[0].stride
            assert stride == ((2, 2) if i == 0 and stage_index > 0 else (1, 1))
            if projects:
                assert block.shortcut[0].stride == stride


def test_identity_shortcut_adds_the_input() -> None:
    """With the expansion's batch norm zeroed the residual branch adds nothing: a block returns ReLU(x)."""
    block = SqueezeNextBlock(32, 32).eval()
    nn.init.zeros_(block.expand[1].weight)
    nn.init.zeros_(block.expand[1].bias)
    x = torch.randn(2, 32, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(block(x), torch.relu(x))
    strided = SqueezeNextBlock(32, 64, stride=2).eval()
    with torch.no_grad():
        assert strided(x).shape == (2, 64, 5, 5)


@pytest.mark.parametrize("depth, layout", [(23, [6, 6, 8, 1]), (34, [9, 9, 12, 2]), (44, [12, 12, 16, 2])])
def test_depth_counts_first_conv_blocks_and_classifier(depth: int, layout: list[int]) -> None:
    model = lightnets.build(lightnets.config("squeezenext", depth=depth))
    assert [len(s) for s in (model.stage1, model.stage2, model.stage3, model.stage4)] == layout
    assert 1 + sum(layout) + 1 == depth


@pytest.mark.parametrize("width", [0.5, 1.0, 1.5, 2.0])
def test_width_scales_the_blocks_but_not_the_first_and_last_conv(width: float) -> None:
    """As in the official 2.0-SqNxt definitions: conv1 keeps 64 filters, the last 1×1 conv 128."""
    model = lightnets.build(lightnets.config("squeezenext", width=width))
    assert [s[-1].expand[0].out_channels for s in (model.stage1, model.stage2, model.stage3, model.stage4)] == [
        int(c * width) for c in (32, 64, 128, 256)]
    assert model.stem[0].out_channels == 64 and model.head[0].out_channels == 128


def test_parameters_equal_imgclsmob_once_its_biases_are_added() -> None:
    """imgclsmob's sqnxt23_w1 (724,056 parameters) is the same 1.0-SqNxt-23 with a bias on every conv and on the
    classifier; at width 1 its padding and scaling differences do not touch the parameter count."""
    model = lightnets.build(lightnets.config("squeezenext"))
    ours = sum(p.numel() for p in model.parameters())
    biases = sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)) + 1000
    assert ours + biases == ENTRIES[208]["params_exact"]
    assert ours == 717_280  # the official net: 0.72M


@pytest.mark.parametrize("width, convs", [(1.0, SQNXT_1_0_23), (2.0, SQNXT_2_0_23)])
def test_cost_equals_the_prototxt_layer_by_layer(width: float, convs: tuple) -> None:
    """Parameters and multiply-adds of 1.0- and 2.0-SqNxt-23 summed from the transcribed prototxt layers."""
    count, params, macs = _prototxt_cost(convs)
    p = lightnets.profile(lightnets.config("squeezenext", width=width, depth=23))
    assert len([r for r in p.layers if r.op in CONV_KINDS]) == count == 111
    model = lightnets.build(lightnets.config("squeezenext", width=width))
    assert p.params == params == sum(t.numel() for t in model.parameters())
    assert p.macs == macs


def test_prototxt_counts_by_hand() -> None:
    """The sums of the tables above, worked out stage by stage (weights + 2·C_out per conv).

    2.0-SqNxt-23: Convolution1 3·64·49 + 128 = 9,536. Stage 1: first block 64·64 (Convolution2) + 64·32 + 32·16
    + 16·32·3 + 32·32·3 + 32·64 = 13,312 weights + 2·240 = 13,792; five more blocks of 9,216 + 352 = 9,568: 61,632.
    Stage 2: 40,960 + 960 = 41,920, then 5 × (36,864 + 704): 229,760. Stage 3: 163,840 + 1,920 = 165,760, then
    7 × (147,456 + 1,408): 1,207,808. Stage 4: 655,360 + 3,840 = 659,200. Convolution111 512·128 + 256 = 65,792;
    fc1000 128,000. Total 2,361,728, of which Convolution2's 64·64 + 128 = 4,224 sits where an identity shortcut
    would add nothing. Multiply-adds: the same weights times the output area, 742,070,464 (Convolution2: 64·64·55²
    = 12,390,400).

    1.0-SqNxt-23, the same way: 9,536 + (5,104 + 5 × 2,480) + (10,720 + 5 × 9,568) + (41,920 + 7 × 37,568)
    + 165,760 + (32,768 + 256) + 128,000 = 717,280 parameters and 277,999,808 multiply-adds.
    """
    assert _prototxt_cost(SQNXT_2_0_23) == (111, 2_361_728, 742_070_464)
    assert _prototxt_cost(SQNXT_1_0_23) == (111, 717_280, 277_999_808)
    assert lightnets.profile(lightnets.config("squeezenext", width=2.0, depth=23)).params == 2_361_728
    assert lightnets.profile(lightnets.config("squeezenext", width=2.0, depth=23)).macs == 742_070_464


def test_2_0_first_block_projects_although_its_shape_stays() -> None:
    """2.0-SqNxt-23's Eltwise1 sums Convolution2 (1×1, 64, stride 1, on pool1, with BatchNorm2, Scale2 and ReLU1)
    and Convolution7: a projection shortcut from 64 to 64 channels, not the identity."""
    model = lightnets.build(lightnets.config("squeezenext", width=2.0))
    first = model.stage1[0]
    assert first.squeeze1[0].in_channels == first.expand[0].out_channels == 64
    conv, bn, act = first.shortcut
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride) == (64, 64, (1, 1), (1, 1))
    assert conv.bias is None and isinstance(bn, nn.BatchNorm2d) and isinstance(act, nn.ReLU)
    for stage in (model.stage1, model.stage2, model.stage3, model.stage4):
        assert [not isinstance(b.shortcut, nn.Identity) for b in stage] == [True] + [False] * (len(stage) - 1)


def test_projection_shortcut_adds_its_conv() -> None:
    """With the expansion's batch norm zeroed a projecting block returns ReLU(shortcut(x)), not ReLU(x)."""
    block = SqueezeNextBlock(64, 64, project=True).eval()
    nn.init.zeros_(block.expand[1].weight)
    nn.init.zeros_(block.expand[1].bias)
    x = torch.randn(2, 64, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(block(x), torch.relu(block.shortcut(x)))
        assert not torch.allclose(block(x), torch.relu(x))


def test_2_0_sqnxt_44_counts_follow_the_23_layer_pattern() -> None:
    """Not a transcription (the 2.0-SqNxt-44 definition could not be read here): the 2.0-SqNxt-23 layers with
    11, 11, 15 and 1 identity blocks after each stage's first block. Stage 4's extra block costs 512·256 + 256·128
    + 128·256·3 + 256·256·3 + 256·512 = 589,824 weights + 2·1,408 = 592,640 parameters."""
    extra = {"Convolution8, 13, 18, 23, 28": 11, "Convolution9, 14, …, 29": 11, "Convolution10, 15, …, 30": 11,
             "Convolution11, 16, …, 31": 11, "Convolution12, 17, …, 32": 11, "Convolution39, 44, …, 59": 11,
             "Convolution40, 45, …, 60": 11, "Convolution41, 46, …, 61": 11, "Convolution42, 47, …, 62": 11,
             "Convolution43, 48, …, 63": 11, "Convolution70, 75, …, 100": 15, "Convolution71, 76, …, 101": 15,
             "Convolution72, 77, …, 102": 15, "Convolution73, 78, …, 103": 15, "Convolution74, 79, …, 104": 15}
    convs = tuple((name, extra.get(name, n), *rest) for name, n, *rest in SQNXT_2_0_23) + (
        ("stage 4, second block", 1, 512, 256, 1, 7), ("", 1, 256, 128, 1, 7), ("", 1, 128, 256, 3, 7),
        ("", 1, 256, 256, 3, 7), ("", 1, 256, 512, 1, 7))
    count, params, macs = _prototxt_cost(convs)
    p = lightnets.profile(lightnets.config("squeezenext", width=2.0, depth=44))
    assert (len([r for r in p.layers if r.op in CONV_KINDS]), p.params, p.macs) == (count, params, macs)
    assert (count, params) == (216, 4_428_096)


def test_2_0_sqnxt_44_has_the_abstracts_4_4m_parameters() -> None:
    params = lightnets.profile(lightnets.config("squeezenext", width=2.0, depth=44)).params
    assert round(params / 1e6, 1) == 4.4


def test_deeper_and_wider_cost_more() -> None:
    macs = {(w, d): lightnets.profile(lightnets.config("squeezenext", width=w, depth=d)).macs for w in (0.5, 1.0, 2.0)
            for d in (23, 34, 44)}
    for w in (0.5, 1.0, 2.0):
        assert macs[w, 23] < macs[w, 34] < macs[w, 44]
    for d in (23, 34, 44):
        assert macs[0.5, d] < macs[1.0, d] < macs[2.0, d]


@pytest.mark.parametrize("knobs, knob", [({"width": 1.0, "depth": 30}, "depth"), ({"width": 0.3, "depth": 23},
                                                                                   "width")])
def test_unbuildable_rows_name_the_knob(knobs: dict, knob: str) -> None:
    with pytest.raises(ValueError, match=knob):
        squeezenext_blocks(**knobs)


def test_traceable_by_fx() -> None:
    model = lightnets.build(lightnets.config("squeezenext", width=0.5)).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(torch.fx.symbolic_trace(model)(x), model(x))
    graph = torch.fx.symbolic_trace(model.stage2[0]).graph
    targets = [n.target for n in graph.nodes if n.op == "call_module"]
    assert targets[:2] == ["squeeze1.0", "squeeze1.1"] and "shortcut.0" in targets
