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


def test_shortcut_is_a_projection_only_where_the_shape_changes() -> None:
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
