"""Every registered model builds, runs in train and eval mode, and rejects bad knobs; property-tested."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lightnets
from lightnets.registry import Knob

NAMES = lightnets.list_models()


def knob_values(knob: Knob) -> st.SearchStrategy:
    return st.sampled_from(knob.values())


def valid_knobs(name: str) -> st.SearchStrategy:
    return st.fixed_dictionaries({k.name: knob_values(k) for k in lightnets.spec(name).knobs})


def _resolutions(name: str) -> st.SearchStrategy:
    low = max(64, lightnets.spec(name).min_resolution)
    return st.integers(low, 224)


@pytest.mark.parametrize("name", NAMES)
def test_default_build_forward_eval_and_train(name: str) -> None:
    model = lightnets.build(lightnets.config(name))
    res = lightnets.spec(name).default_resolution
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, res, res))
    assert out.shape == (1, 1000)
    assert torch.isfinite(out).all()
    model.train()
    out = model(torch.randn(2, 3, 96, 96))
    assert out.shape == (2, 1000)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=6)
@given(data=st.data())
def test_any_valid_knobs_build_profile_and_run(name: str, data: st.DataObject) -> None:
    knobs = data.draw(valid_knobs(name), label="knobs")
    resolution = data.draw(_resolutions(name), label="resolution")
    p = lightnets.profile(lightnets.config(name, resolution=resolution, **knobs))
    model = lightnets.build(lightnets.config(name, **knobs)).eval()
    assert sum(t.numel() for t in model.parameters()) == p.params
    with torch.no_grad():
        out = model(torch.randn(1, 3, resolution, resolution))
    assert out.shape == (1, 1000)
    assert torch.isfinite(out).all()


def _invalid_value(knob: Knob) -> st.SearchStrategy:
    bad = st.sampled_from(["", "abc", None, float("nan"), float("inf"), [1]])
    if knob.type == "bool":
        return st.one_of(bad, st.sampled_from([2, -1, 0.5, "maybe"]))
    if knob.type == "text":  # not text, too long, or outside the knob's pattern
        return st.one_of(st.sampled_from([None, 3, [1], "x" * 700, "e2=", "=48", "e2=48;b4=32", "zz9=1"]))
    if knob.type == "choice":
        numbers = [c for c in knob.choices if isinstance(c, (int, float)) and not isinstance(c, bool)]
        off = st.floats(-1e6, 1e6, allow_nan=False).filter(
            lambda v: all(not math.isclose(v, float(c), abs_tol=1e-9) for c in numbers))
        return st.one_of(bad, off)
    outside = st.one_of(st.floats(max_value=knob.min - knob.step / 2, allow_nan=False, allow_infinity=False),
                        st.floats(min_value=knob.max + knob.step / 2, allow_nan=False, allow_infinity=False))
    off_grid = st.integers(0, int(round((knob.max - knob.min) / knob.step)) - 1).map(
        lambda i: knob.min + (i + 0.5) * knob.step)
    return st.one_of(bad, outside, off_grid)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=20)
@given(data=st.data())
def test_any_invalid_knob_raises_value_error_naming_it(name: str, data: st.DataObject) -> None:
    knobs = lightnets.spec(name).knobs
    if not knobs:
        with pytest.raises(ValueError, match="alpha"):
            lightnets.build(lightnets.config(name, alpha=1.0))
        return
    knob = data.draw(st.sampled_from(knobs), label="knob")
    value = data.draw(_invalid_value(knob), label="value")
    with pytest.raises(ValueError, match=knob.name):
        lightnets.build(lightnets.config(name, **{knob.name: value}))
    with pytest.raises(ValueError, match=knob.name):
        lightnets.profile(lightnets.config(name, **{knob.name: value}))


@pytest.mark.parametrize("name", NAMES)
def test_unknown_knob_is_named(name: str) -> None:
    with pytest.raises(ValueError, match="no_such_knob"):
        lightnets.build(lightnets.config(name, no_such_knob=1))


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="mobilenet_v2"):
        lightnets.build(lightnets.config("resnet50"))


@pytest.mark.parametrize("name", NAMES)
def test_spec_is_complete(name: str) -> None:
    s = lightnets.spec(name)
    assert s.paper.title and s.paper.authors and s.paper.year >= 2016 and s.paper.arxiv
    assert len(s.idea) > 40
    assert s.default_resolution >= s.min_resolution >= 32
    for knob in s.knobs:
        assert knob.label and knob.help
        assert knob.validate(knob.default) == knob.default
        assert knob.default in knob.values()


@pytest.mark.parametrize("name", NAMES)
def test_smallest_resolution_runs(name: str) -> None:
    res = lightnets.spec(name).min_resolution
    model = lightnets.build(lightnets.config(name)).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, res, res)).shape == (1, 1000)
    with pytest.raises(ValueError, match="resolution"):
        lightnets.profile(lightnets.config(name, resolution=res - 1))


class _Holder(torch.nn.Module):
    def __init__(self, block: torch.nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class _ImageHolder(_Holder):
    def forward(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.block(x, image)


def _traced_configs() -> list[lightnets.Config]:
    """Every registered model at its defaults, and with each on/off knob flipped (the ablations change blocks)."""
    out = []
    for name in NAMES:
        out.append(lightnets.config(name, 64))
        for knob in lightnets.spec(name).knobs:
            if knob.type == "bool":
                out.append(lightnets.config(name, 64, **{knob.name: not knob.default}))
    return out


@pytest.mark.parametrize("config", _traced_configs(), ids=lambda c: c.describe())
def test_every_block_traces_with_torch_fx(config: lightnets.Config) -> None:
    """Each block of the built model traces symbolically, and the trace computes exactly what the block does
    (the inside-a-block graphs are drawn from such traces)."""
    model = lightnets.build(config).eval()
    blocks = {b.path: b for b in lightnets.profile(config).blocks}
    image = torch.randn(1, 3, config.resolution, config.resolution)
    for row in model.block_rows:
        # held, a plain layer (a BatchNorm row) traces as one call
        module = (_ImageHolder if row.takes_image else _Holder)(model.get_submodule(row.path))
        traced = torch.fx.symbolic_trace(module)
        inputs = (torch.randn(blocks[row.path].input_shape),) + ((image,) if row.takes_image else ())
        with torch.no_grad():
            torch.testing.assert_close(traced(*inputs), module(*inputs), rtol=0, atol=0, msg=row.path)
