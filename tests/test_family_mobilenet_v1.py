"""MobileNet V1 against the paper's Tables 1–3 and the TF-slim width rule; the full-convolution baseline."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

import lightnets
from lightnets.cost import CONV_KINDS

DATA = Path(__file__).parent / "data"
ARCH = json.loads((DATA / "papers.json").read_text())["architectures"]["MobileNetV1"]


def _hwc(text: str) -> tuple[int, int, int]:
    """'112x112x32' → (32, 112, 112), channels first as in torch."""
    h, w, c = (int(n) for n in text.split("x"))
    return c, h, w


def _table1() -> list[dict]:
    """Table 1's conv and fc layers, the '5×' row expanded, as dicts of what each layer must be."""
    layers = []
    for kind, stride, shape, input_size in ARCH["layers"]:
        if kind.startswith("5x"):
            for _ in range(5):
                layers.append(dict(op="depthwise", stride=1, k=3, cin=512, cout=512, input=_hwc(input_size)))
                layers.append(dict(op="pointwise", stride=1, k=1, cin=512, cout=512, input=_hwc(input_size)))
        elif kind == "conv":
            k, _, cin, cout = (int(n) for n in shape.split("x"))
            layers.append(dict(op="dense" if k == 3 else "pointwise", stride=stride, k=k, cin=cin, cout=cout,
                               input=_hwc(input_size)))
        elif kind == "conv_dw":
            channels = int(shape.split()[0].split("x")[2])
            layers.append(dict(op="depthwise", stride=stride, k=3, cin=channels, cout=channels,
                               input=_hwc(input_size)))
        elif kind == "fc":
            cin, cout = (int(n) for n in shape.split("x"))
            layers.append(dict(op="linear", cin=cin, cout=cout))
    return layers


def test_every_layer_matches_table1() -> None:
    p = lightnets.profile(lightnets.config("mobilenet_v1", resolution=224))
    ours = [r for r in p.layers if r.op in CONV_KINDS + ("linear",)]
    table = _table1()
    assert len(ours) == len(table) == 28  # the paper's 28 layers: depthwise and pointwise apart, fc included
    for i, (row, want) in enumerate(zip(ours, table)):
        assert row.op == want["op"], i
        assert (row.input_shape[1], row.output_shape[1]) == (want["cin"], want["cout"]), i
        if want["op"] == "linear":
            continue
        assert row.input_shape[1:] == want["input"], i
        assert row.kernel == (want["k"], want["k"]), i
        next_input = table[i + 1].get("input")
        if want["stride"] == 2 and next_input is not None and next_input[1] == want["input"][1]:
            # Table 1's misprint: the second-to-last depthwise conv is printed s2, yet the next layer's input
            # is still 7×7; it must be stride 1.
            assert want["input"][1:] == (7, 7) and row.stride == (1, 1), i
        else:
            assert row.stride == (want["stride"], want["stride"]), i


def test_resource_split_by_layer_type_matches_table2() -> None:
    """Table 2: 1×1 convs hold 94.86% of the mult-adds and 74.59% of the parameters (conv and fc weights)."""
    table = ARCH["resource_per_layer_type_table2"]
    kinds = {"Conv 1x1": "pointwise", "Conv DW 3x3": "depthwise", "Conv 3x3": "dense", "Fully Connected": "linear"}
    p = lightnets.profile(lightnets.config("mobilenet_v1", resolution=224))
    macs = {k: v for k, v in p.macs_by_kind().items() if k in kinds.values()}
    params = {k: v for k, v in p.params_by_kind().items() if k in kinds.values()}
    for label, kind in kinds.items():
        assert 100 * params[kind] / sum(params.values()) == pytest.approx(table[label]["params_pct"], abs=0.05)
        if label != "Conv 3x3":
            assert 100 * macs[kind] / sum(macs.values()) == pytest.approx(table[label]["mult_adds_pct"], abs=0.01)
    # The paper prints 1.19% for the first 3×3 conv, but its rows then sum to 99.29%; the architecture gives
    # the remainder, 1.91% (a transposed digit), which the spec's notes explain.
    rest = sum(table[label]["mult_adds_pct"] for label in kinds if label != "Conv 3x3")
    assert 100 * macs["dense"] / sum(macs.values()) == pytest.approx(100 - rest, abs=0.01)
    assert 100 * macs["dense"] / sum(macs.values()) == pytest.approx(1.91, abs=0.005)


def _layer_cost(resolution: int, **knobs) -> tuple[int, int]:
    """Conv mult-adds and weights of features.7, the first of the five 14×14×512 → 512 layers (at 224 px)."""
    p = lightnets.profile(lightnets.config("mobilenet_v1", resolution=resolution, **knobs))
    rows = [r for r in p.layers if r.block == "features.7" and r.op in CONV_KINDS]
    return sum(r.macs for r in rows), sum(r.params for r in rows)


def test_one_layer_follows_table3_and_the_separable_saving() -> None:
    """Table 3 (cumulative rows): full conv 462M / 2.36M, separable 52.3M / 0.27M, α=0.75 29.6M / 0.15M,
    ρ=0.714 (160 px) 15.1M / 0.15M; separable / full = 1/N + 1/D_K² exactly (Sec. 3.1)."""
    rows = ARCH["layer_modification_table3"]["rows"]
    settings = [(224, dict(separable=False)), (224, {}), (224, dict(alpha=0.75)), (160, dict(alpha=0.75))]
    costs = [_layer_cost(res, **knobs) for res, knobs in settings]
    for row, (macs, params) in zip(rows, costs):
        decimals = len(str(row["million_mult_adds"]).partition(".")[2])
        assert round(macs / 1e6, decimals) == row["million_mult_adds"], row["modification"]
        assert round(params / 1e6, 2) == row["million_params"], row["modification"]
    (full, _), (separable, _) = costs[:2]
    assert Fraction(separable, full) == Fraction(1, 512) + Fraction(1, 9)


def test_width_multiplier_rounds_down_as_tf_slim() -> None:
    """TF-slim: max(int(c·α), 8); e.g. α=0.3 gives 9 stem channels (9.6 rounded down), never a multiple-of-8
    rounding, and the narrowest layers stop at 8."""

    def widths(alpha: float) -> list[int]:
        p = lightnets.profile(lightnets.config("mobilenet_v1", resolution=224, alpha=alpha))
        return [r.output_shape[1] for r in p.layers if r.op in ("dense", "pointwise")]

    assert widths(0.3) == [9, 19, 38, 38, 76, 76, 153, 153, 153, 153, 153, 153, 307, 307]
    assert widths(0.25) == [8, 16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256]
    assert widths(1.0) == [32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]
    assert widths(2.0)[-1] == 2048


def test_resolution_changes_macs_not_params() -> None:
    """Table 7: the resolution multiplier leaves the 4.2M parameters alone and scales the cost by about ρ²."""
    p224 = lightnets.profile(lightnets.config("mobilenet_v1", resolution=224))
    p160 = lightnets.profile(lightnets.config("mobilenet_v1", resolution=160))
    assert p160.params == p224.params
    fc = 1024 * 1000
    assert (p160.macs - fc) / (p224.macs - fc) == pytest.approx((160 / 224) ** 2, rel=0.02)


def test_full_convolution_baseline_has_only_dense_3x3_convs() -> None:
    full = lightnets.profile(lightnets.config("mobilenet_v1", resolution=224, separable=False))
    sep = lightnets.profile(lightnets.config("mobilenet_v1", resolution=224))
    convs = [r for r in full.layers if r.op in CONV_KINDS]
    assert len(convs) == 14
    assert all(r.op == "dense" and r.kernel == (3, 3) and r.groups == 1 for r in convs)
    assert not any(r.op in ("depthwise", "pointwise") for r in full.layers)
    # the same layer widths and output sizes as the separable net
    assert [b.output_shape for b in full.blocks] == [b.output_shape for b in sep.blocks]
    assert full.macs / sep.macs == pytest.approx(4866 / 569, rel=0.01)
