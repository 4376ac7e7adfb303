"""GhostNet against the paper's architecture table and the official code's rounding, and the Ghost module's
channel arithmetic and saving."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.fx
from torch import nn

import lightnets
from lightnets.cost import profile_model
from lightnets.models.ghostnet import GhostBottleneck, GhostModule, ghost_saving

TABLE = json.loads((Path(__file__).parent / "data" / "papers.json").read_text())["architectures"]["GhostNet"]


def _bnecks(**knobs) -> list:
    p = lightnets.profile(lightnets.config("ghostnet", resolution=224, **knobs))
    return [b for b in p.blocks if b.kind == "ghost bottleneck"]


def test_bottlenecks_follow_the_paper_table() -> None:
    """Every G-bneck row: input size and width, expansion, output width, SE, stride and depthwise kernel."""
    rows = [r for r in TABLE["rows"] if r[1] == "G-bneck"]
    ours = _bnecks()
    model = dict(lightnets.build(lightnets.config("ghostnet")).named_modules())
    assert len(ours) == len(rows) == 16
    for row, block in zip(rows, ours):
        size_text, _, exp, out, se, stride, kernel = row
        side, channels = (int(v) for v in size_text.replace("^2", "").split("x"))
        assert block.input_shape == (1, channels, side, side), block.path
        assert block.output_shape == (1, out, side // stride, side // stride), block.path
        module = model[block.path]
        assert module.ghost1.out_channels == exp
        assert (module.se is not None) == se, block.path
        dw = module.conv_dw if stride == 2 else module.shortcut[0] if len(module.shortcut) else None
        if dw is not None:
            assert dw.kernel_size == (kernel, kernel) and dw.groups == dw.in_channels, block.path


def test_stride_one_bottlenecks_have_no_depthwise_conv_between_the_ghost_modules() -> None:
    """Paper Figure 3: stride 1 is Ghost module → (SE) → Ghost module; stride 2 puts a depthwise conv between."""
    for block in lightnets.build(lightnets.config("ghostnet")).modules():
        if isinstance(block, GhostBottleneck):
            assert hasattr(block, "conv_dw") == (block.stride == 2)
    assert "k5" not in GhostBottleneck.describe(40, 120, 40, kernel=5, se=True)
    assert "k5" in GhostBottleneck.describe(24, 72, 40, kernel=5, stride=2, se=True)


def test_stem_and_head_follow_the_paper_table() -> None:
    blocks = {b.path: b for b in lightnets.profile(lightnets.config("ghostnet", resolution=224)).blocks}
    assert blocks["conv_stem"].output_shape == (1, 16, 112, 112)
    assert blocks["blocks.9.0"].output_shape == (1, 960, 7, 7)  # Conv2d 1×1, 960
    assert blocks["global_pool"].output_shape == (1, 960, 1, 1)
    assert blocks["conv_head"].output_shape == (1, 1280, 1, 1)
    assert blocks["classifier"].output_shape == (1, 1000)


def test_width_rounds_channels_to_multiples_of_4_like_the_official_code() -> None:
    """1.3×: 16·1.3 = 20.8 → 20, 24·1.3 = 31.2 → 32, 112·1.3 = 145.6 → 144, 960·1.3 = 1248; the 1280 head stays."""
    blocks = {b.path: b for b in lightnets.profile(lightnets.config("ghostnet", resolution=224, width=1.3)).blocks}
    assert blocks["conv_stem"].output_shape[1] == 20
    outs = [b.output_shape[1] for b in _bnecks(width=1.3)]
    assert outs == [20, 32, 32, 52, 52, 104, 104, 104, 104, 144, 144, 208, 208, 208, 208, 208]
    assert blocks["blocks.9.0"].output_shape[1] == 1248
    assert blocks["conv_head"].output_shape[1] == 1280
    half = [b.output_shape[1] for b in _bnecks(width=0.5)]
    assert half[:5] == [8, 12, 12, 20, 20] and all(c % 4 == 0 for c in half)


def test_se_squeezes_to_a_quarter_rounded_to_4_with_a_hard_sigmoid_gate() -> None:
    block = GhostBottleneck(24, 72, 40, kernel=5, stride=2, se=True)
    assert block.se.fc1.out_channels == 20  # 72 / 4 = 18 → make_divisible(18, 4) = 20
    assert isinstance(block.se.scale_activation, nn.Hardsigmoid)
    assert GhostBottleneck(80, 480, 112, se=True).se.fc1.out_channels == 120


@pytest.mark.parametrize("out_ch,ratio", [(16, 2), (16, 3), (40, 4), (72, 5), (7, 2)])
def test_ghost_module_channel_arithmetic(out_ch: int, ratio: int) -> None:
    module = GhostModule(8, out_ch, ratio=ratio, dw_kernel=3).eval()
    intrinsic = math.ceil(out_ch / ratio)
    assert module.primary_conv[0].out_channels == intrinsic
    cheap = module.cheap_operation[0]
    assert (cheap.in_channels, cheap.out_channels, cheap.groups) == (intrinsic, intrinsic * (ratio - 1), intrinsic)
    x = torch.randn(2, 8, 9, 9)
    with torch.no_grad():
        out = module(x)
        primary = module.primary_conv(x)
        ghosts = module.cheap_operation(primary)
    assert out.shape == (2, out_ch, 9, 9)
    # the first maps are the intrinsic ones, the rest ghosts, each computed from one intrinsic map only
    assert torch.equal(out[:, :intrinsic], primary)
    assert torch.equal(out[:, intrinsic:], ghosts[:, : out_ch - intrinsic])


def test_each_ghost_map_depends_on_one_intrinsic_map() -> None:
    module = GhostModule(4, 12, ratio=3, dw_kernel=3).eval()
    primary = torch.randn(1, 4, 6, 6)
    changed = primary.clone()
    changed[:, 1] += 1.0  # perturb intrinsic map 1 only
    with torch.no_grad():
        delta = (module.cheap_operation(changed) - module.cheap_operation(primary)).abs().amax(dim=(0, 2, 3))
    assert delta.nonzero().flatten().tolist() == [2, 3]  # its s − 1 = 2 ghosts, nothing else


@pytest.mark.parametrize("c,n,s,d", [(64, 128, 2, 3), (160, 960, 2, 3), (64, 120, 3, 5), (480, 112, 4, 1)])
def test_ghost_module_saving_matches_the_paper_formula(c: int, n: int, s: int, d: int) -> None:
    """Paper eq. (4) with a 1×1 primary conv: plain c·n·h·w vs. (n/s)·c·h·w + (s−1)·(n/s)·d²·h·w MACs."""
    side = 14
    ghost = profile_model(nn.Sequential(GhostModule(c, n, ratio=s, dw_kernel=d)), side, in_channels=c)
    plain = profile_model(nn.Sequential(nn.Conv2d(c, n, 1, bias=False)), side, in_channels=c)
    m = n // s
    assert ghost.macs == (m * c + (s - 1) * m * d * d) * side * side
    assert plain.macs == c * n * side * side
    assert plain.macs / ghost.macs == pytest.approx(ghost_saving(c, s, d))
    if d == 1:  # the paper's closed form for d = k
        assert ghost_saving(c, s, d) == pytest.approx(s * c / (s + c - 1))
    conv_params = lambda p: sum(r.params for r in p.layers if r.op in ("pointwise", "group", "depthwise"))  # noqa: E731
    speedup, compression = plain.macs / ghost.macs, conv_params(plain) / conv_params(ghost)
    assert speedup < s and compression < s  # never quite s: the cheap ops cost something
    if c >= 10 * (s - 1) * d * d:  # the paper's assumption that the cheap ops are small next to c
        assert speedup > s / 1.1 and compression > s / 1.1


def test_ratio_and_kernel_knobs_change_the_cost_the_right_way() -> None:
    base = lightnets.profile(lightnets.config("ghostnet", resolution=224))
    s4 = lightnets.profile(lightnets.config("ghostnet", resolution=224, ratio=4))
    d7 = lightnets.profile(lightnets.config("ghostnet", resolution=224, dw_kernel=7))
    assert s4.params < base.params and s4.macs < 0.75 * base.macs
    assert d7.macs > base.macs and d7.params > base.params
    cheap = [r for r in d7.layers if ".cheap_operation." in r.name and r.macs]
    assert cheap and all(r.kernel == (7, 7) for r in cheap)


def test_shortcut_is_identity_or_depthwise_plus_pointwise() -> None:
    same = GhostBottleneck(40, 120, 40, kernel=5, se=True).eval()
    down = GhostBottleneck(24, 72, 40, kernel=5, stride=2, se=True).eval()
    assert len(same.shortcut) == 0
    assert [type(m) for m in down.shortcut] == [nn.Conv2d, nn.BatchNorm2d, nn.Conv2d, nn.BatchNorm2d]
    assert down.shortcut[0].groups == 24 and down.shortcut[0].stride == (2, 2)
    assert down.shortcut[2].kernel_size == (1, 1)
    # with the last Ghost module silenced, a block outputs its shortcut: x itself where shapes match
    for block in (same, down):
        for bn in (block.ghost2.primary_conv[1], block.ghost2.cheap_operation[1]):
            nn.init.zeros_(bn.weight)
            nn.init.zeros_(bn.bias)
    x = torch.randn(1, 40, 8, 8)
    with torch.no_grad():
        assert torch.equal(same(x), x)
        y = torch.randn(1, 24, 8, 8)
        assert torch.allclose(down(y), down.shortcut(y))


def test_blocks_trace_with_fx_and_run_on_meta() -> None:
    makers = [(lambda: GhostBottleneck(24, 72, 40, kernel=5, stride=2, se=True, ratio=3), (1, 24, 16, 16)),
              (lambda: GhostModule(16, 30, ratio=4, dw_kernel=5), (1, 16, 8, 8))]
    for make, shape in makers:
        module = make().eval()
        traced = torch.fx.symbolic_trace(module)
        x = torch.randn(shape)
        assert torch.equal(traced(x), module(x))
        with torch.device("meta"):
            meta = make()
        assert meta(torch.empty(shape, device="meta")).shape == module(x).shape


def test_ratio_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="ratio"):
        GhostModule(8, 8, ratio=1)
    with pytest.raises(ValueError, match="ratio"):
        lightnets.build(lightnets.config("ghostnet", ratio=1))
