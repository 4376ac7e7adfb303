"""ESPNet v2 against the official ImageNet code (sacmehta/ESPNetv2 imagenet/Model.py): widths per scale, the EESP
unit's dilation rates and hierarchical feature fusion, the strided unit and its input reinforcement."""

from __future__ import annotations

import pytest
import torch
import torch.fx
from torch import nn

import lightnets
from lightnets.cost import CONV_KINDS
from lightnets.models.espnet_v2 import EESP, StridedEESP

# Output widths of level1..level5 and of the last 1×1 conv, worked out by hand from Model.py's config rule
# (base 32; base_s = ceil(int(32·s)/4)·4; level1 = min(32, base_s); level i = base_s·2^(i-1);
# last conv 1024, or 1280 for s > 1.5).
WIDTHS = {0.5: (16, 32, 64, 128, 256, 1024), 1.0: (32, 64, 128, 256, 512, 1024),
          1.25: (32, 80, 160, 320, 640, 1024), 1.5: (32, 96, 192, 384, 768, 1024),
          2.0: (32, 128, 256, 512, 1024, 1280)}
# Dilations per unit: r_lim 13/11/9 allow receptive fields 3,5,7,9 (d = 1,2,3,4); 7 caps the 4th branch to 3×3,
# 5 the 3rd and 4th (d = 1,1,2,3 and 1,1,1,2 after sorting).
DILATIONS = {"level2_0": [1, 2, 3, 4], "level3_0": [1, 2, 3, 4], "level3": [1, 2, 3, 4], "level4_0": [1, 2, 3, 4],
             "level4": [1, 1, 2, 3], "level5_0": [1, 1, 2, 3], "level5": [1, 1, 1, 2]}


@pytest.mark.parametrize("scale", sorted(WIDTHS))
def test_level_widths_and_sizes_per_scale(scale: float) -> None:
    blocks = {b.path: b for b in lightnets.profile(lightnets.config("espnet_v2", resolution=224, scale=scale)).blocks}
    widths = WIDTHS[scale]
    assert blocks["level1"].output_shape == (1, widths[0], 112, 112)
    for level, side in zip(range(2, 6), (56, 28, 14, 7)):
        assert blocks[f"level{level}_0"].output_shape == (1, widths[level - 1], side, side)
    units = {level: [p for p in blocks if p.startswith(f"level{level}.") and blocks[p].kind == "eesp"]
             for level in (3, 4, 5)}
    assert [len(units[level]) for level in (3, 4, 5)] == [3, 7, 3]  # official reps = [0, 3, 7, 3]
    for level, paths in units.items():
        assert all(blocks[p].output_shape[1] == widths[level - 1] for p in paths)
    assert blocks["level5.4"].output_shape == (1, widths[5], 7, 7)
    assert blocks["classifier"].output_shape == (1, 1000)


def test_dilation_rates_per_level() -> None:
    model = lightnets.build(lightnets.config("espnet_v2"))
    for name, module in model.named_modules():
        if isinstance(module, EESP):
            level = name.split(".")[0]  # level3.0 → level3, level2_0.eesp → level2_0
            assert [conv.dilation[0] for conv in module.spp_dw] == DILATIONS[level], name
            assert all(conv.groups == conv.in_channels and conv.kernel_size == (3, 3) for conv in module.spp_dw)
            assert module.proj_1x1[0].groups == 4 and module.conv_1x1_exp[0].groups == 4  # K = 4


def test_hierarchical_feature_fusion_adds_the_branches_cumulatively() -> None:
    unit = EESP(64, 64, r_lim=9).eval()
    branch_outputs: list[torch.Tensor] = []
    for conv in unit.spp_dw:
        conv.register_forward_hook(lambda mod, args, out: branch_outputs.append(out))
    fused: list[torch.Tensor] = []
    unit.br_after_cat.register_forward_pre_hook(lambda mod, args: fused.append(args[0]))
    with torch.no_grad():
        unit(torch.randn(1, 64, 12, 12))
    chunks = fused[0].chunk(4, dim=1)
    for i, chunk in enumerate(chunks):
        assert torch.allclose(chunk, sum(branch_outputs[: i + 1]), atol=1e-6), i


def test_stride_one_unit_is_residual() -> None:
    unit = EESP(32, 32, r_lim=7).eval()
    nn.init.zeros_(unit.conv_1x1_exp[1].weight)
    nn.init.zeros_(unit.conv_1x1_exp[1].bias)
    x = torch.randn(1, 32, 8, 8)
    with torch.no_grad():
        assert torch.allclose(unit(x), unit.module_act(x))


def test_strided_unit_concatenates_an_average_pool_shortcut() -> None:
    unit = StridedEESP(32, 64, r_lim=13).eval()
    assert unit.inp_reinf is None and unit.eesp.spp_dw[0].stride == (2, 2)
    nn.init.ones_(unit.act.weight)  # PReLU slope 1: the identity, so the concat shows through
    x = torch.randn(1, 32, 16, 16)
    with torch.no_grad():
        out = unit(x)
    assert out.shape == (1, 64, 8, 8)
    assert torch.allclose(out[:, :32], nn.functional.avg_pool2d(x, 3, 2, 1))
    assert torch.allclose(out[:, 32:], unit.eesp(x))


def test_input_reinforcement_in_the_strided_units_of_levels_2_to_4() -> None:
    model = lightnets.build(lightnets.config("espnet_v2")).eval()
    strided = {name: m for name, m in model.named_children() if isinstance(m, StridedEESP)}
    assert sorted(strided) == ["level2_0", "level3_0", "level4_0", "level5_0"]
    assert [strided[n].inp_reinf is not None for n in sorted(strided)] == [True, True, True, False]
    seen: dict[str, tuple] = {}
    handles = [unit.register_forward_pre_hook(lambda mod, args, name=name: seen.update({name: args}))
               for name, unit in strided.items()]
    image = torch.randn(1, 3, 97, 97)  # odd size: the pooled image must still match each level
    with torch.no_grad():
        model(image)
    for handle in handles:
        handle.remove()
    for name in ("level2_0", "level3_0", "level4_0"):
        x, passed = seen[name]
        assert passed is image, name  # the network hands the input image to the unit
        unit = strided[name]
        with torch.no_grad():
            with_image, without = unit(x, image), unit(x)
            other = unit(x, torch.randn_like(image))
        assert not torch.allclose(with_image, without) and not torch.allclose(with_image, other), name


def test_multiply_adds_follow_the_official_counting_convention() -> None:
    """The repo's FLOPs are conv MACs only (its FlopsCompute hooks nn.Conv2d), reinforcement convs included."""
    for scale, published in ((0.5, 28.37), (1.0, 85.72), (1.25, 123.39), (1.5, 168.6), (2.0, 284.8)):
        p = lightnets.profile(lightnets.config("espnet_v2", resolution=224, scale=scale))
        conv = sum(r.macs for r in p.layers if r.op in CONV_KINDS) / 1e6
        reinforcement = sum(r.macs for r in p.layers if ".inp_reinf." in r.name) / 1e6
        assert conv == pytest.approx(published, abs=0.015), scale
        assert abs(conv - reinforcement - published) > 0.8, scale  # without them it would not match
        assert p.macs / 1e6 == pytest.approx(published + WIDTHS[scale][5] * 1000 / 1e6, abs=0.015)


def test_blocks_trace_with_fx_and_run_on_meta() -> None:
    makers = [(lambda: EESP(64, 64, r_lim=7), ((1, 64, 10, 10),)),
              (lambda: StridedEESP(64, 128, r_lim=11, image_steps=3), ((1, 64, 20, 20), (1, 3, 80, 80)))]
    for make, shapes in makers:
        module = make().eval()
        inputs = [torch.randn(s) for s in shapes]
        assert torch.equal(torch.fx.symbolic_trace(module)(*inputs), module(*inputs))
        with torch.device("meta"):
            meta = make()
        assert meta(*[torch.empty(s, device="meta") for s in shapes]).shape == module(*inputs).shape


def test_widths_that_do_not_split_into_the_branches_are_refused() -> None:
    with pytest.raises(ValueError, match="4 groups"):
        EESP(24, 24)
    with pytest.raises(ValueError, match="scale"):
        lightnets.build(lightnets.config("espnet_v2", scale=0.75))
