"""MobileNet V2 against the paper's Table 2, and what its knobs (expansion t, linear bottleneck, α) change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import lightnets
from lightnets.cost import Profile

DATA = Path(__file__).parent / "data"
PAPERS = json.loads((DATA / "papers.json").read_text())
TABLE2 = PAPERS["architectures"]["MobileNetV2"]["rows"]


def _input(text: str) -> tuple[int, int, int]:
    """'112^2x32' → (32, 112, 112)."""
    side, channels = text.split("^2x")
    return int(channels), int(side), int(side)


def _bottlenecks(p: Profile) -> list:
    return [b for b in p.blocks if b.kind == "inverted residual"]


def _hidden(p: Profile, path: str) -> int:
    """Width of the depthwise conv inside a block: the expanded 'hidden' width."""
    return next(r.output_shape[1] for r in p.layers if r.block == path and r.op == "depthwise")


def test_layers_follow_table2() -> None:
    p = lightnets.profile(lightnets.config("mobilenet_v2", resolution=224))
    blocks = iter(_bottlenecks(p))
    for inp, operator, t, c, n, s in TABLE2:
        if operator != "bottleneck":
            continue
        in_shape = _input(inp)
        for i in range(n):
            block = next(blocks)
            assert block.input_shape[1:] == in_shape, block.path
            stride = s if i == 0 else 1
            assert block.output_shape[1:] == (c, in_shape[1] // stride, in_shape[2] // stride), block.path
            assert _hidden(p, block.path) == t * in_shape[0], block.path
            in_shape = block.output_shape[1:]
    assert next(blocks, None) is None  # exactly the 17 bottlenecks of the table
    stem, last = p.blocks[0], p.blocks[len(_bottlenecks(p)) + 1]
    assert stem.output_shape == (1, 32, 112, 112)
    assert last.input_shape == (1, 320, 7, 7) and last.output_shape == (1, 1280, 7, 7)
    assert p.blocks[-1].output_shape == (1, 1000)


def _fixed_convs(p: Profile) -> list[tuple[str, str, tuple[int, ...]]]:
    """Stem, head and classifier, and each block's projection (its last 1×1 conv), with their output shapes."""
    rows = [r for r in p.layers if r.op in ("dense", "pointwise", "linear")]
    last_of_block = {r.block: r for r in rows}
    return [(r.block, r.op, r.output_shape) for r in rows if r.op != "pointwise" or last_of_block[r.block] is r]


def test_expansion_changes_exactly_the_hidden_widths() -> None:
    base = lightnets.profile(lightnets.config("mobilenet_v2", resolution=224))
    for t in (1, 4, 10):
        other = lightnets.profile(lightnets.config("mobilenet_v2", resolution=224, expansion=t))
        assert [b.output_shape for b in other.blocks] == [b.output_shape for b in base.blocks]
        for block in _bottlenecks(other):
            table_t = 1 if block.path == "features.1" else t  # the paper's first row keeps t = 1
            assert _hidden(other, block.path) == table_t * block.input_shape[1], (t, block.path)
        # outside the bottlenecks' expand and depthwise convs, every conv is the same
        assert _fixed_convs(other) == _fixed_convs(base)


def test_linear_bottleneck_false_puts_an_activation_after_each_projection() -> None:
    linear = lightnets.profile(lightnets.config("mobilenet_v2", resolution=224))
    relu = lightnets.profile(lightnets.config("mobilenet_v2", resolution=224, linear_bottleneck=False))
    acts = lambda p, path: [r for r in p.layers if r.block == path and r.op == "act"]  # noqa: E731
    for block in _bottlenecks(relu):
        assert len(acts(relu, block.path)) == len(acts(linear, block.path)) + 1, block.path
        rows = [r for r in relu.layers if r.block == block.path and r.op != "add"]
        assert [r.op for r in rows[-3:]] == ["pointwise", "bn", "act"], block.path
        linear_rows = [r for r in linear.layers if r.block == block.path and r.op != "add"]
        assert [r.op for r in linear_rows[-2:]] == ["pointwise", "bn"], block.path
    assert (relu.params, relu.macs) == (linear.params, linear.macs)


def test_linear_bottleneck_false_changes_the_output() -> None:
    torch.manual_seed(0)
    linear = lightnets.build(lightnets.config("mobilenet_v2")).eval()
    relu = lightnets.build(lightnets.config("mobilenet_v2", linear_bottleneck=False)).eval()
    relu.load_state_dict(linear.state_dict())  # same weights: only the activations differ
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        assert not torch.allclose(linear(x), relu(x))


def test_residual_connections_join_equal_bottlenecks() -> None:
    """A shortcut wherever a block keeps its stride and width: 1 + 2 + 3 + 2 + 2 = 10 adds."""
    p = lightnets.profile(lightnets.config("mobilenet_v2", resolution=224))
    expected = sum(n - 1 + (s == 1 and c == _input(inp)[0])
                   for inp, operator, t, c, n, s in TABLE2 if operator == "bottleneck")
    assert sum(1 for r in p.layers if r.op == "add") == expected == 10


def test_width_multiplier_035_matches_the_published_figure() -> None:
    """α = 0.35: 1.66M parameters / 59M mult-adds (MnasNet paper, Table 4, quoting MobileNet V2); the last conv stays
    at 1280 and every other width is a multiple of 8."""
    entry = next(e for e in PAPERS["entries"] if e["id"] == 258)
    p = lightnets.profile(lightnets.config("mobilenet_v2", resolution=224, alpha=0.35))
    assert p.params / 1e6 == pytest.approx(entry["params_m"], rel=0.03)
    assert p.macs / 1e6 == pytest.approx(entry["madds_m"], rel=0.03)
    widths = [b.output_shape[1] for b in p.blocks if len(b.output_shape) == 4]
    assert widths[0] == 16  # 32·0.35 = 11.2 → 16 (rounding to 8 may not lose more than 10%)
    assert widths[-1] == 1280 and all(w % 8 == 0 for w in widths)
    head = {b.path: b for b in lightnets.profile(lightnets.config("mobilenet_v2", alpha=1.4)).blocks}["features.18"]
    assert head.output_shape[1] == 1792  # widened for α > 1: 1280·1.4
