"""ShuffleNet V2's benchmark networks against the paper's setup (tests/data/shufflenet_v2_guidelines.json, a copy
of the shared reference): every row's FLOPs from the paper's channel counts, equal within a table, and lightnets'
memory access equal to the paper's formula, exactly, for G1 and G2."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from lightnets.cost import profile_model
from lightnets.experiments import shufflenet_v2_guidelines as sv2

GUIDE = json.loads((Path(__file__).parent / "data" / "shufflenet_v2_guidelines.json").read_text())["tables"]
HW = 56 * 56
SETUPS = ("gpu", "arm")
SCALES = (1, 2, 4)


def _profile(bench: sv2.Bench):
    with torch.device("meta"):
        model = bench.build()
    return profile_model(model, 56, in_channels=bench.in_channels)


def _col(key: str, name: str) -> int:
    return GUIDE[key]["columns"].index(name)


@pytest.mark.parametrize("setup", SETUPS)
@pytest.mark.parametrize("scale", SCALES)
def test_g1_rows_have_the_papers_flops_and_memory_access(setup: str, scale: int) -> None:
    macs = []
    for row, bench in zip(GUIDE["G1"]["rows"], sv2.GUIDELINES["G1"].benches(setup, scale)):
        c1, c2 = row[_col("G1", f"{setup}_c1")] * scale, row[_col("G1", f"{setup}_c2")] * scale
        p = _profile(bench)
        assert p.macs == 10 * 2 * HW * c1 * c2, bench.label  # ten blocks of c1 → c2 → c1
        convs = [r for r in p.layers if r.op == "pointwise"]
        assert len(convs) == 20 and len(p.layers) == 20  # nothing but the convolutions
        for layer in convs:
            a, b = layer.input_shape[1], layer.output_shape[1]
            assert layer.mem_bytes // 4 == HW * (a + b) + a * b  # MAC = hw(c1 + c2) + c1·c2, exactly
        assert p.mem_bytes // 4 == bench.formula == 10 * 2 * (HW * (c1 + c2) + c1 * c2)
        bound = 10 * 2 * (2 * math.sqrt(HW * HW * c1 * c2) + c1 * c2)  # Eq. 1 at B = hw·c1·c2
        assert bench.bound == pytest.approx(bound) and bench.formula >= bound - 1e-6
        macs.append(p.macs)
    assert _profile(sv2.GUIDELINES["G1"].benches(setup, scale)[0]).mem_bytes // 4 == pytest.approx(
        sv2.GUIDELINES["G1"].benches(setup, scale)[0].bound)  # equality at 1:1
    # equal within the table as the paper prints it: its 1:12 row has 5% fewer FLOPs than 1:1
    assert max(macs) / min(macs) < 1.06


@pytest.mark.parametrize("setup", SETUPS)
@pytest.mark.parametrize("scale", SCALES)
def test_g2_rows_have_the_papers_flops_and_memory_access(setup: str, scale: int) -> None:
    macs = []
    for row, bench in zip(GUIDE["G2"]["rows"], sv2.GUIDELINES["G2"].benches(setup, scale)):
        g, printed = row[0], row[_col("G2", f"{setup}_c")] * scale
        c = printed if printed % g == 0 else printed + (g - printed % g)  # 180 channels cannot make 8 groups
        assert c == printed or (setup, scale, g, printed, c) == ("arm", 1, 8, 180, 184)
        p = _profile(bench)
        assert p.macs == 10 * HW * c * c // g
        for layer in p.layers:
            assert layer.groups == g and layer.mem_bytes // 4 == HW * 2 * c + c * c // g  # Eq. 2
        assert p.mem_bytes // 4 == bench.formula
        macs.append(p.macs)
    assert max(macs) / min(macs) < 1.045


@pytest.mark.parametrize("setup", SETUPS)
@pytest.mark.parametrize("scale", SCALES)
def test_g3_fragments_match_the_one_fragment_flops(setup: str, scale: int) -> None:
    c = {"gpu": 128, "arm": 64}[setup] * scale  # Table 3's column headers
    benches = sv2.GUIDELINES["G3"].benches(setup, scale)
    macs = {b.label: _profile(b).macs for b in benches}
    assert macs["1-fragment"] == 10 * HW * c * c
    for label, value in macs.items():
        count = int(label[0])
        width = round(c / math.sqrt(count))
        assert value == 10 * count * HW * width * width
        assert abs(value / macs["1-fragment"] - 1) < 0.015, label  # the widths are rounded
    assert macs["2-fragment-series"] == macs["2-fragment-parallel"]
    assert macs["4-fragment-series"] == macs["4-fragment-parallel"] == macs["1-fragment"]


def test_g3_parallel_fragments_add_their_outputs_and_series_chain_them() -> None:
    x = torch.randn(1, 8, 5, 5)
    parallel, series = sv2.Fragments(8, 2, parallel=True), sv2.Fragments(8, 2, parallel=False)
    series.load_state_dict(parallel.state_dict())
    a, b = parallel.convs
    assert torch.allclose(parallel(x), a(x) + b(x)) and torch.allclose(series(x), b(a(x)))


@pytest.mark.parametrize("scale", SCALES)
def test_g4_rows_differ_only_in_element_wise_work(scale: int) -> None:
    c = 32 * scale
    profiles = {b.label: _profile(b) for b in sv2.GUIDELINES["G4"].benches("arm", scale)}
    per_unit = c * (c // 4) + 9 * (c // 4) ** 2 + (c // 4) * c
    assert {p.macs for p in profiles.values()} == {10 * HW * per_unit}
    ops = {label: {r.op for r in p.layers} - {"pointwise", "dense"} for label, p in profiles.items()}
    assert ops == {"ReLU + shortcut": {"act", "add"}, "ReLU, no shortcut": {"act"}, "shortcut, no ReLU": {"add"},
                   "neither": set()}
    assert sum(r.op == "act" for r in profiles["ReLU + shortcut"].layers) == 30  # three ReLUs per unit


def test_g4_unit_is_the_resnet_bottleneck_without_batch_norm() -> None:
    unit = sv2.Bottleneck(32, relu=True, shortcut=True)
    shapes = [(m.in_channels, m.out_channels, m.kernel_size) for m in unit.modules() if isinstance(m, nn.Conv2d)]
    assert shapes == [(32, 8, (1, 1)), (8, 8, (3, 3)), (8, 32, (1, 1))]
    x = torch.randn(1, 32, 6, 6)
    expected = torch.relu(unit.conv3(torch.relu(unit.conv2(torch.relu(unit.conv1(x))))) + x)
    assert torch.allclose(unit(x), expected)


@pytest.mark.parametrize("key", ["G1", "G2", "G3", "G4"])
def test_paper_columns_are_normalised_to_the_first_row(key: str) -> None:
    guide = sv2.GUIDELINES[key]
    rows = GUIDE[key]["rows"]
    for setup in SETUPS:
        for scale in SCALES:
            col = _col(key, f"{setup}_x{scale}")
            assert guide.paper(0, setup, scale) == 1.0
            assert guide.paper(len(rows) - 1, setup, scale) == pytest.approx(rows[-1][col] / rows[0][col])


def test_x1_x2_x4_read_as_channel_multipliers() -> None:
    """Table 2's g = 1 row is Table 3's 1-fragment network (the same ten 1×1 convs at c = 128 / 64): both read
    as channel multipliers they are the same networks at every scale, and the paper's figures agree."""
    for setup in SETUPS:
        for scale in SCALES:
            g2 = _profile(sv2.GUIDELINES["G2"].benches(setup, scale)[0])
            g3 = _profile(sv2.GUIDELINES["G3"].benches(setup, scale)[0])
            assert g2.macs == g3.macs == 10 * HW * ({"gpu": 128, "arm": 64}[setup] * scale) ** 2
    g2_gpu = GUIDE["G2"]["rows"][0][2:5]
    g3_gpu = GUIDE["G3"]["rows"][0][1:4]
    assert all(abs(a / b - 1) < 0.02 for a, b in zip(g2_gpu, g3_gpu))
