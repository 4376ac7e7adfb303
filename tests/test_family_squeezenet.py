"""SqueezeNet against the paper's Table 1 and metaparameters (Section 5), the v1.1 README, and torchvision's layout."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.fx
from hypothesis import given, settings
from hypothesis import strategies as st

import lightnets
from lightnets.layers import Fire
from tv_reference import manifest

DATA = Path(__file__).parent / "data"
PAPERS = json.loads((DATA / "papers.json").read_text())
ARCH = PAPERS["architectures"]
ENTRIES = {e["id"]: e for e in PAPERS["entries"]}


def _fires(name: str, **knobs) -> list[Fire]:
    return [m for m in lightnets.build(lightnets.config(name, **knobs)).modules() if isinstance(m, Fire)]


def _fire_dims(fire: Fire) -> tuple[int, int, int]:
    return fire.squeeze.out_channels, fire.expand1x1.out_channels, fire.expand3x3.out_channels


def test_v1_0_matches_table1_layer_by_layer() -> None:
    """Every conv and Fire module of Table 1: output size (at the Caffe crop of 227 px, see the spec's notes),
    s1x1 / e1x1 / e3x3, and the '#parameter before pruning' column."""
    p = lightnets.profile(lightnets.config("squeezenet1_0", resolution=227))
    blocks = [b for b in p.blocks if b.path.startswith(("features", "classifier.1", "classifier.3"))]
    model = dict(lightnets.build(lightnets.config("squeezenet1_0")).named_modules())
    rows = [r for r in ARCH["SqueezeNet_v1.0"]["rows"] if r[0] != "input image"]
    assert len(rows) == len([b for b in blocks if b.kind != "act"]) == 14
    ours = iter(b for b in blocks if b.kind != "act")
    for name, out_size, _f, _depth, s1, e1, e3, *_sparsity, params, _pruned in rows:
        block = next(ours)
        # the transcription prints maxpool8 as "13x12x512 (... presumably 13x13x512)"; fire9 after it is 13×13
        h, w, c = (int(n) for n in out_size.split()[0].replace("13x12", "13x13").split("x"))
        assert block.output_shape == (1, c, h, w), name
        if name.startswith("fire"):
            assert _fire_dims(model[block.path]) == (s1, e1, e3), name
        if params is not None:
            assert block.params == params, name
    assert p.params == ARCH["SqueezeNet_v1.0"]["totals"]["params_before_pruning"]


def test_metaparameters_generate_table1() -> None:
    """Section 5.1: e_i = base_e + incr_e·⌊i/freq⌋, s_i = SR·e_i, e3x3 = pct3x3·e_i with base_e = incr_e = 128,
    freq = 2, SR = 0.125, pct3x3 = 0.5."""
    meta = ARCH["SqueezeNet_v1.0"]["metaparameters"]
    for i, fire in enumerate(_fires("squeezenet1_0", squeeze_ratio=meta["SR"], pct3x3=meta["pct3x3"])):
        e = meta["base_e"] + meta["incr_e"] * (i // meta["freq"])
        assert _fire_dims(fire) == (meta["SR"] * e, e - meta["pct3x3"] * e, meta["pct3x3"] * e)


@settings(max_examples=30)
@given(data=st.data())
def test_every_knob_value_gives_the_formula_and_no_empty_layer(data: st.DataObject) -> None:
    spec = lightnets.spec("squeezenet1_1")
    sr = data.draw(st.sampled_from(spec.knob("squeeze_ratio").values()), label="SR")
    pct = data.draw(st.sampled_from(spec.knob("pct3x3").values()), label="pct3x3")
    for i, fire in enumerate(_fires("squeezenet1_1", squeeze_ratio=sr, pct3x3=pct)):
        e = 128 * (1 + i // 2)
        s, e1, e3 = _fire_dims(fire)
        assert e1 + e3 == e  # the expand width does not depend on the knobs
        assert min(s, e1, e3) >= 1
        assert abs(s - sr * e) <= 0.5 and abs(e3 - pct * e) <= 0.5 or e3 in (1, e - 1)


def test_extremes_of_the_sweeps_build() -> None:
    """SR = 1.0 squeezes nothing away; pct3x3 = 1% and 99% keep one filter of the scarce kind."""
    fires = _fires("squeezenet1_0", squeeze_ratio=1.0, pct3x3=0.01)
    assert [_fire_dims(f)[0] for f in fires] == [128, 128, 256, 256, 384, 384, 512, 512]
    assert [_fire_dims(f)[2] for f in fires] == [1, 1, 3, 3, 4, 4, 5, 5]
    fires = _fires("squeezenet1_0", pct3x3=0.99)
    assert [_fire_dims(f)[1] for f in fires] == [1, 1, 3, 3, 4, 4, 5, 5]
    model = lightnets.build(lightnets.config("squeezenet1_0", squeeze_ratio=1.0, pct3x3=0.99)).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


@pytest.mark.parametrize("entry_id, knobs", [(194, {}), (197, {"squeeze_ratio": 0.75}),
                                            (198, {"squeeze_ratio": 0.5, "pct3x3": 0.5})])
def test_model_sizes_of_the_paper(entry_id: int, knobs: dict) -> None:
    """4.8 MB for SqueezeNet, 19 MB at SR = 0.75 (Fig. 3a), 13 MB at SR = 0.5 (Fig. 3a/3b): 32-bit weights, MiB."""
    mib = lightnets.profile(lightnets.config("squeezenet1_0", **knobs)).size_fp32_bytes / 2**20
    assert mib == pytest.approx(ENTRIES[entry_id]["model_size_mb"], rel=0.03)


def test_v1_1_is_the_readme_architecture() -> None:
    """conv1 64 filters 3×3/2; max pools after conv1, fire3 and fire5; the same Fire modules as v1.0."""
    blocks = lightnets.profile(lightnets.config("squeezenet1_1", resolution=224)).blocks
    kinds = [b.kind for b in blocks if b.path.startswith("features")]
    assert kinds == ["conv", "act", "pool", "fire", "fire", "pool", "fire", "fire", "pool",
                     "fire", "fire", "fire", "fire"]
    assert blocks[0].label == "conv 3×3, 64, s2"
    v10 = [_fire_dims(f) for f in _fires("squeezenet1_0")]
    assert [_fire_dims(f) for f in _fires("squeezenet1_1")] == v10 == [
        tuple(dims) for dims in ARCH["SqueezeNet_v1.1"]["fire_modules_s1x1_e1x1_e3x3"].values()]


def test_v1_1_needs_2_4x_less_computation() -> None:
    """The official README: 1.72 vs 0.72 GFLOPS per image."""
    ratio = (lightnets.profile(lightnets.config("squeezenet1_0")).macs
             / lightnets.profile(lightnets.config("squeezenet1_1")).macs)
    assert ratio == pytest.approx(1.72 / 0.72, rel=0.03)


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1"])
def test_knobs_change_shapes_not_the_torchvision_keys(name: str) -> None:
    theirs = [key for key, _shape, _ in manifest(name)["state_dict"]]
    model = lightnets.build(lightnets.config(name, squeeze_ratio=0.5, pct3x3=0.25))
    assert list(model.state_dict()) == theirs
    squeeze = model.state_dict()["features.3.squeeze.weight"]
    assert squeeze.shape[0] == 0.5 * 128 != 16


def test_fire_output_is_the_concat_of_both_expand_branches() -> None:
    fire = Fire(8, 4, 5, 7).eval()
    x = torch.randn(2, 8, 9, 9)
    with torch.no_grad():
        out = fire(x)
        s = torch.relu(fire.squeeze(x))
        assert out.shape == (2, 12, 9, 9)
        torch.testing.assert_close(out[:, :5], torch.relu(fire.expand1x1(s)))
        torch.testing.assert_close(out[:, 5:], torch.relu(fire.expand3x3(s)))


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1"])
def test_traceable_by_fx(name: str) -> None:
    model = lightnets.build(lightnets.config(name, squeeze_ratio=0.25)).eval()
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), model(x))
    inner = torch.fx.symbolic_trace(model.features[3])
    assert sum(n.op == "call_module" for n in inner.graph.nodes) == 6  # 3 convs, 3 ReLUs


def test_resolution_floor() -> None:
    spec = lightnets.spec("squeezenet1_0")
    smallest = lightnets.profile(lightnets.config("squeezenet1_0", resolution=spec.min_resolution))
    assert smallest.blocks[-1].output_shape == (1, 1000)
    with pytest.raises(ValueError, match="resolution"):
        lightnets.profile(lightnets.config("squeezenet1_0", resolution=spec.min_resolution - 1))
    assert math.isfinite(lightnets.profile(lightnets.config("squeezenet1_1", resolution=32)).macs)
