"""ShuffleNet V1 against the paper's Table 1 for every g, the official code's channel table, and what channel
shuffle does (and costs)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch
import torch.fx
from table_support import assert_stage_follows_table
from torch import nn

import lightnets
from lightnets.layers import ChannelShuffle, ShuffleV1Unit
from lightnets.models.shufflenet_v1 import shufflenet_v1_blocks

DATA = Path(__file__).parent / "data"
TABLE1 = json.loads((DATA / "papers.json").read_text())["architectures"]["ShuffleNetV1"]
GROUPS = (1, 2, 3, 4, 8)
SCALES = (0.25, 0.5, 1.0, 1.5, 2.0)


def _table1(groups: int) -> list[tuple[str, tuple[int, int], int | None, int | None, int]]:
    """(layer, output size, stride, repeat, output channels for g) per row of Table 1."""
    col = TABLE1["columns"].index("out_channels_g1" if groups == 1 else f"g{groups}")
    rows = []
    for layer, size, _k, stride, repeat, *_ in TABLE1["rows"]:
        if layer in ("Image", "GlobalPool", "FC"):
            continue
        side = tuple(int(n) for n in size.split("x"))
        row = next(r for r in TABLE1["rows"] if r[0] == layer and r[3] == stride)
        rows.append((layer, side, stride, repeat, row[col]))
    return rows


@pytest.mark.parametrize("groups", GROUPS)
def test_output_sizes_and_widths_follow_table1(groups: int) -> None:
    blocks = lightnets.profile(lightnets.config("shufflenet_v1", resolution=224, groups=groups)).blocks
    by_path = {b.path: b for b in blocks}
    for layer, side, stride, repeat, channels in _table1(groups):
        if layer in ("Conv1", "MaxPool"):
            assert by_path[layer.lower()].output_shape == (1, channels, *side)
            continue
        assert_stage_follows_table(blocks, layer, side, stride, repeat, channels)
    assert by_path["fc"].output_shape == (1, 1000)


@pytest.mark.parametrize("groups", GROUPS)
def test_table1_complexity_per_g(groups: int) -> None:
    macs = lightnets.profile(lightnets.config("shufflenet_v1", groups=groups)).macs / 1e6
    assert macs == pytest.approx(TABLE1["complexity_MFLOPs"][f"g{groups}"], rel=0.03)


@pytest.mark.parametrize("groups", [2, 3, 8])
def test_unit_layers_follow_the_paper(groups: int) -> None:
    """Bottleneck = 1/4 of the output; stage 2's first pointwise conv ungrouped, every other 1×1 conv grouped;
    no ReLU after the depthwise conv; a stride-2 unit's branch makes out − in channels, the avg pool the rest."""
    model = lightnets.build(lightnets.config("shufflenet_v1", groups=groups))
    units = [(name, m) for name, m in model.named_modules() if isinstance(m, ShuffleV1Unit)]
    assert len(units) == 16
    for name, unit in units:
        out = unit.gconv2[0].out_channels + (unit.gconv1[0].in_channels if unit.stride == 2 else 0)
        assert unit.gconv1[0].out_channels == out // 4
        assert unit.gconv1[0].groups == (1 if name == "stage2.0" else groups)
        assert unit.gconv2[0].groups == groups
        assert unit.dwconv[0].groups == unit.dwconv[0].in_channels and len(unit.dwconv) == 2  # conv, BN
        assert isinstance(unit.shortcut, nn.AvgPool2d if unit.stride == 2 else nn.Identity)


def test_stride_2_unit_concatenates_the_pooled_input() -> None:
    unit = ShuffleV1Unit(24, 240, groups=3, stride=2, first_group_conv=False).eval()
    x = torch.rand(1, 24, 8, 8)
    with torch.no_grad():
        out = unit(x)
        assert out.shape == (1, 240, 4, 4)
        torch.testing.assert_close(out[:, :24], nn.functional.avg_pool2d(x, 3, 2, 1))


# megvii-model/ShuffleNet-Series, ShuffleNetV1/network.py: stage_out_channels (first conv, stages 2-4)
OFFICIAL = {(3, 0.5): [12, 120, 240, 480], (3, 1.0): [24, 240, 480, 960], (3, 1.5): [24, 360, 720, 1440],
            (3, 2.0): [48, 480, 960, 1920], (8, 0.5): [16, 192, 384, 768], (8, 1.0): [24, 384, 768, 1536],
            (8, 1.5): [24, 576, 1152, 2304], (8, 2.0): [48, 768, 1536, 3072]}


@pytest.mark.parametrize("groups, scale", sorted(OFFICIAL))
def test_channels_equal_the_official_code(groups: int, scale: float) -> None:
    model = lightnets.build(lightnets.config("shufflenet_v1", groups=groups, scale=scale))
    widths = [model.conv1[0].out_channels] + [s[-1].gconv2[0].out_channels for s in
                                              (model.stage2, model.stage3, model.stage4)]
    assert widths == OFFICIAL[groups, scale]


def test_every_groups_and_scale_builds() -> None:
    """Every channel count divides by g, including the bottleneck the shuffle splits into g rows; profile builds
    and runs each distinct unit (on the meta device, so this stays fast)."""
    for groups, scale in itertools.product(GROUPS, SCALES):
        p = lightnets.profile(lightnets.config("shufflenet_v1", resolution=64, groups=groups, scale=scale))
        assert p.blocks[-1].output_shape == (1, 1000)
        for row in p.layers:
            if row.op == "group":  # every bottleneck is some group conv's input, so this covers the shuffle too
                assert row.input_shape[1] % groups == 0 and row.output_shape[1] % groups == 0, (groups, scale)
    for groups in GROUPS:  # and the smallest ones really run
        model = lightnets.build(lightnets.config("shufflenet_v1", groups=groups, scale=0.25)).eval()
        with torch.no_grad():
            assert torch.isfinite(model(torch.randn(1, 3, 64, 64))).all()


def test_scale_multiplies_the_stage_widths() -> None:
    for groups in GROUPS:
        base = lightnets.build(lightnets.config("shufflenet_v1", groups=groups)).stage4[0].gconv2[0].out_channels
        for scale in SCALES:
            model = lightnets.build(lightnets.config("shufflenet_v1", groups=groups, scale=scale))
            unit = model.stage4[0]
            assert unit.gconv2[0].out_channels + unit.gconv1[0].in_channels == scale * (base + base)


@pytest.mark.parametrize("groups", [2, 3, 8])
def test_no_shuffle_removes_exactly_the_shuffles(groups: int) -> None:
    on = lightnets.profile(lightnets.config("shufflenet_v1", groups=groups, scale=0.5))
    off = lightnets.profile(lightnets.config("shufflenet_v1", groups=groups, scale=0.5, shuffle=False))
    assert sum(r.op == "shuffle" for r in on.layers) == 16  # one per unit
    assert not any(r.op == "shuffle" for r in off.layers)
    assert (on.params, on.macs) == (off.params, off.macs)
    strip = [(r.name, r.op, r.output_shape) for r in on.layers if r.op != "shuffle"]
    assert strip == [(r.name, r.op, r.output_shape) for r in off.layers]
    a = lightnets.build(lightnets.config("shufflenet_v1", groups=groups, shuffle=False)).state_dict()
    b = lightnets.build(lightnets.config("shufflenet_v1", groups=groups)).state_dict()
    assert [(k, v.shape) for k, v in a.items()] == [(k, v.shape) for k, v in b.items()]


def test_one_group_has_nothing_to_shuffle() -> None:
    p = lightnets.profile(lightnets.config("shufflenet_v1", groups=1))
    assert not any(r.op == "shuffle" for r in p.layers)
    one_group = lightnets.build(lightnets.config("shufflenet_v1", groups=1))
    assert not any(isinstance(m, ChannelShuffle) for m in one_group.modules())


@pytest.mark.parametrize("shuffle", [True, False])
def test_shuffle_lets_every_group_see_every_other(shuffle: bool) -> None:
    """Fig. 1: without shuffle, an output group depends only on the same input group; with it, on all of them."""
    torch.manual_seed(0)
    groups, channels = 3, 48
    unit = ShuffleV1Unit(channels, channels, groups=groups, stride=1, shuffle=shuffle).eval()
    with torch.no_grad():
        for conv in (m for m in unit.modules() if isinstance(m, nn.Conv2d)):
            conv.weight.abs_()  # positive weights: a larger input raises every unit it reaches past the ReLUs
    x = torch.rand(1, channels, 6, 6)
    bumped = x.clone()
    bumped[:, : channels // groups] += 1.0  # change input group 0 only
    with torch.no_grad():
        changed = (unit(bumped) - unit(x)).abs().amax(dim=(0, 2, 3)) > 1e-6
    if shuffle:  # every channel of every output group moves
        assert changed.view(groups, -1).all(dim=1).tolist() == [True, True, True]
    else:  # only group 0's
        assert changed.view(groups, -1).any(dim=1).tolist() == [True, False, False]


def test_ablation_references_are_the_no_shuffle_nets() -> None:
    """Table 3's rows are cited at shuffle=False, and each is worse than the same net with shuffle (Table 2)."""
    entries = json.loads((DATA / "papers.json").read_text())["entries"]
    table2 = {(e["knobs"]["groups"], e["knobs"]["scale"]): e["top1"] for e in entries
              if e["source"].startswith("Zhang et al. 2018 (ShuffleNet), Table 2")}
    refs = [r for r in lightnets.spec("shufflenet_v1").references if "WITHOUT" in r.label]
    assert len(refs) == 6 and all(r.knobs["shuffle"] is False for r in refs)
    for r in refs:
        assert r.top1 < table2[r.knobs["groups"], f"{r.knobs['scale']:g}x"]


@pytest.mark.parametrize("knobs, knob", [({"groups": 5, "scale": 1.0, "shuffle": True}, "groups"),
                                         ({"groups": 3, "scale": 0.75, "shuffle": True}, "scale")])
def test_unbuildable_rows_name_the_knob(knobs: dict, knob: str) -> None:
    with pytest.raises(ValueError, match=knob):
        shufflenet_v1_blocks(**knobs)


@pytest.mark.parametrize("shuffle", [True, False])
def test_traceable_by_fx(shuffle: bool) -> None:
    model = lightnets.build(lightnets.config("shufflenet_v1", groups=8, scale=0.5, shuffle=shuffle)).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(torch.fx.symbolic_trace(model)(x), model(x))
    graph = torch.fx.symbolic_trace(model.stage3[1]).graph
    # the shuffle shows as one wrapped ``channel_shuffle`` call (layers.py keeps it a leaf for fx)
    assert any(n.op == "call_function" and n.target.__name__ == "channel_shuffle" for n in graph.nodes) == shuffle
