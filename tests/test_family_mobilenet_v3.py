"""MobileNet V3 Large/Small against the paper's Tables 1–2 (widths, kernels, SE, NL, strides), the paper's (TF-slim)
width semantics for α ≠ 1, and the se / hswish knobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import lightnets
from lightnets.layers import SqueezeExcite

DATA = Path(__file__).parent / "data"
ARCH = json.loads((DATA / "papers.json").read_text())["architectures"]
TABLES = {"mobilenet_v3_large": ARCH["MobileNetV3-Large"], "mobilenet_v3_small": ARCH["MobileNetV3-Small"]}
NAMES = sorted(TABLES)


def _build(name: str, **knobs) -> nn.Module:
    with torch.device("meta"):
        return lightnets.build(lightnets.config(name, **knobs))


def _bneck_rows(name: str) -> list[dict]:
    rows = []
    for inp, operator, exp, out, se, nl, stride in TABLES[name]["rows"]:
        if operator.startswith("bneck"):
            side, channels = inp.split("^2x")
            rows.append(dict(kernel=int(operator.split()[1].split("x")[0]), exp=exp, out=out, se=se, nl=nl,
                             stride=stride, input=(int(channels), int(side), int(side))))
    return rows


def _inside(block: nn.Module) -> dict:
    """What a bneck block actually contains."""
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d) and not _in_se(block, m)]
    depthwise = next(m for m in convs if m.groups > 1)
    acts = {type(m) for m in block.modules() if isinstance(m, (nn.ReLU, nn.Hardswish)) and not _in_se(block, m)}
    return dict(kernel=depthwise.kernel_size[0], exp=depthwise.out_channels, out=convs[-1].out_channels,
                stride=depthwise.stride[0], se=any(isinstance(m, SqueezeExcite) for m in block.modules()),
                acts=acts)


def _in_se(block: nn.Module, module: nn.Module) -> bool:
    return any(module in list(se.modules()) for se in block.modules() if isinstance(se, SqueezeExcite))


@pytest.mark.parametrize("name", NAMES)
def test_every_bneck_matches_the_papers_table(name: str) -> None:
    model = _build(name)
    shapes = {b.path: b for b in lightnets.profile(lightnets.config(name, resolution=224)).blocks}
    rows = _bneck_rows(name)
    for index, want in enumerate(rows, start=1):
        path = f"features.{index}"
        got = _inside(model.get_submodule(path))
        assert (got["kernel"], got["exp"], got["out"], got["stride"], got["se"]) == (
            want["kernel"], want["exp"], want["out"], want["stride"], want["se"]), path
        assert got["acts"] == {nn.Hardswish if want["nl"] == "HS" else nn.ReLU}, path
        assert shapes[path].input_shape[1:] == want["input"], path
    assert f"features.{len(rows) + 1}" in shapes  # then the head


@pytest.mark.parametrize("name", NAMES)
def test_stem_and_head_match_the_papers_table(name: str) -> None:
    table = TABLES[name]["rows"]
    stem, last_conv, nbn = table[0], table[-4], table[-2]
    p = lightnets.profile(lightnets.config(name, resolution=224))
    model = _build(name)
    first = model.get_submodule("features.0")
    assert first[0].kernel_size == (3, 3) and first[0].stride == (2, 2) and first[0].out_channels == stem[3]
    assert isinstance(first[2], nn.Hardswish) and stem[5] == "HS"
    head = model.get_submodule(f"features.{len(_bneck_rows(name)) + 1}")
    assert head[0].kernel_size == (1, 1) and head[0].out_channels == last_conv[3]
    assert isinstance(head[2], nn.Hardswish) and last_conv[5] == "HS"
    # "conv2d 1×1, NBN" on the pooled 1×1 map: a fully connected layer with bias and h-swish, no batch norm
    fc = model.get_submodule("classifier.0")
    assert (fc.in_features, fc.out_features) == (last_conv[3], nbn[3]) and fc.bias is not None
    assert isinstance(model.get_submodule("classifier.1"), nn.Hardswish)
    assert not any(r.op == "bn" and r.block.startswith("classifier") for r in p.layers)
    assert p.blocks[-1].output_shape == (1, 1000)


def test_small_has_no_se_on_its_last_conv_despite_table2() -> None:
    """Table 2 prints SE on the 'conv2d 1×1, 576' row; the paper's own 2.5M parameters rule it out."""
    assert TABLES["mobilenet_v3_small"]["rows"][-4][4] is True  # as printed
    model = _build("mobilenet_v3_small")
    assert not any(isinstance(m, SqueezeExcite) for m in model.get_submodule("features.12").modules())
    params = lightnets.profile(lightnets.config("mobilenet_v3_small")).params
    se_576 = 576 * 144 + 144 + 144 * 576 + 576  # an SE with squeeze 576/4 = 144 and biases
    assert round(params / 1e6, 1) == 2.5 and round((params + se_576) / 1e6, 1) != 2.5


@pytest.mark.parametrize("name", NAMES)
def test_residual_adds_where_shapes_allow(name: str) -> None:
    expected = sum(1 for r in _bneck_rows(name) if r["stride"] == 1 and r["input"][0] == r["out"])
    p = lightnets.profile(lightnets.config(name, resolution=224))
    assert sum(1 for r in p.layers if r.op == "add") == expected


def test_large_at_075_follows_the_tf_slim_width_rule() -> None:
    """Worked by hand from TF-slim's rule (make_divisible to 8): out = md(c·0.75); exp = md(c_in·e), e = the
    table's exp / in, of the *already scaled* input. E.g. row 5: in 32, e = 120/40 = 3 → 96 (torchvision's
    width_mult gives md(120·0.75) = 88); row 9: in 64, e = 184/80 → md(147.2) = 144 (torchvision: 136)."""
    expected = [  # (exp, out) per bneck row
        (16, 16), (64, 24), (72, 24), (72, 32), (96, 32), (96, 32), (192, 64), (160, 64), (144, 64), (144, 64),
        (384, 88), (528, 88), (528, 120), (720, 120), (720, 120)]
    model = _build("mobilenet_v3_large", alpha=0.75)
    inside = [_inside(model.get_submodule(f"features.{i}")) for i in range(1, 16)]
    got = [(block["exp"], block["out"]) for block in inside]
    assert got == expected
    assert model.get_submodule("features.0")[0].out_channels == 16  # md(12) = 16
    assert model.get_submodule("features.16")[0].out_channels == 720  # the last conv is scaled …
    assert model.get_submodule("classifier.0").out_features == 1280  # … the layer after pooling is not
    # SE squeeze = md(exp / 4): 72 → md(18) = 24, 96 → 24, 384 → 96, 528 → md(132) = 136
    squeeze = [m.fc1.out_channels for m in model.modules() if isinstance(m, SqueezeExcite)]
    assert squeeze == [24, 24, 24, 96, 136, 136, 184, 184]


@pytest.mark.parametrize("name,head", [("mobilenet_v3_large", 1280), ("mobilenet_v3_small", 1024)])
def test_head_after_pooling_is_not_reduced_below_alpha_1(name: str, head: int) -> None:
    for alpha in (0.25, 0.5, 0.75, 1.0):
        assert _build(name, alpha=alpha).get_submodule("classifier.0").out_features == head
    assert _build(name, alpha=1.5).get_submodule("classifier.0").out_features == head * 3 // 2


@pytest.mark.parametrize("name", NAMES)
def test_se_false_removes_every_squeeze_excite(name: str) -> None:
    on = lightnets.profile(lightnets.config(name, resolution=224))
    off = lightnets.profile(lightnets.config(name, resolution=224, se=False))
    expected = sum(r["se"] for r in _bneck_rows(name))
    assert sum(1 for r in on.layers if r.op == "scale") == expected > 0
    assert not any(r.op == "scale" for r in off.layers)
    assert not any(isinstance(m, SqueezeExcite) for m in _build(name, se=False).modules())
    assert off.params < on.params


@pytest.mark.parametrize("name", NAMES)
def test_hswish_false_is_relu_everywhere_at_the_same_cost(name: str) -> None:
    model = _build(name, hswish=False)
    assert not any(isinstance(m, nn.Hardswish) for m in model.modules())
    assert isinstance(model.get_submodule("features.0")[2], nn.ReLU)
    assert isinstance(model.get_submodule("classifier.1"), nn.ReLU)
    # SE still gates with a hard sigmoid: a gate needs a 0…1 output, which ReLU is not
    assert all(isinstance(m.scale_activation, nn.Hardsigmoid) for m in model.modules() if isinstance(m, SqueezeExcite))
    on, off = lightnets.profile(lightnets.config(name)), lightnets.profile(lightnets.config(name, hswish=False))
    assert (off.params, off.macs) == (on.params, on.macs)


# --------------------------------------------------------------------------------------------------
# Sec. 5.1, "Redesigning Expensive Layers": the designs the paper started from, as knobs


def _macs(name: str, **knobs) -> int:
    return lightnets.profile(lightnets.config(name, **knobs)).macs


def test_original_last_stage_costs_what_sec_5_1_saved() -> None:
    """'reduces the number of operations by 30 millions MAdds': the original stage of Fig. 5 keeps the last
    bottleneck's depthwise 3×3 (960 ch) and projection (960 → 320) and runs the 320 → 1280 conv at 7×7 (49 px)
    instead of 960 → 1280 on the pooled vector; worked by hand that is 34.3M, which the paper prints as 30M."""
    by_hand = 9 * 960 * 49 + 960 * 320 * 49 + 320 * 1280 * 49 - 960 * 1280
    diff = _macs("mobilenet_v3_large", efficient_last_stage=False) - _macs("mobilenet_v3_large")
    assert diff == by_hand
    assert round(diff / 1e7) * 10 == 30  # the paper's rounding: tens of millions


def test_original_stem_costs_what_sec_5_1_saved() -> None:
    """'This saves an additional 2 milliseconds and 10 million MAdds': 32 instead of 16 stem filters at 112×112
    double the stem and the first bneck (depthwise 3×3 on 32 channels, projection 32 → 16)."""
    px = 112 * 112
    by_hand = (27 * 32 - 27 * 16) * px + (9 * 32 - 9 * 16) * px + (32 * 16 - 16 * 16) * px
    diff = _macs("mobilenet_v3_large", efficient_stem=False) - _macs("mobilenet_v3_large")
    assert diff == by_hand
    assert round(diff / 1e6) == 10


HEADS_OF = {"mobilenet_v3_large": (960, 1280), "mobilenet_v3_small": (576, 1024)}  # (last expansion, head width)


@pytest.mark.parametrize("name", NAMES)
def test_original_last_stage_layers(name: str) -> None:
    model = _build(name, efficient_last_stage=False)
    rows = len(_bneck_rows(name))
    last_out = _bneck_rows(name)[-1]["out"]
    exp, head = HEADS_OF[name]
    bneck = _inside(model.get_submodule(f"features.{rows + 1}"))
    assert (bneck["exp"], bneck["out"], bneck["kernel"], bneck["stride"], bneck["se"]) == (exp, 2 * last_out, 3, 1,
                                                                                           False)
    wide = model.get_submodule(f"features.{rows + 2}")
    assert (wide[0].in_channels, wide[0].out_channels, wide[0].kernel_size) == (2 * last_out, head, (1, 1))
    fc = [m for m in model.get_submodule("classifier").modules() if isinstance(m, nn.Linear)]
    assert [(f.in_features, f.out_features) for f in fc] == [(head, 1000)]  # the classifier follows the pool
    p = lightnets.profile(lightnets.config(name, efficient_last_stage=False))
    assert next(b for b in p.blocks if b.path == f"features.{rows + 2}").output_shape == (1, head, 7, 7)
    assert p.blocks[-1].output_shape == (1, 1000)


@pytest.mark.parametrize("name", NAMES)
def test_original_stem_is_32_filters_with_relu(name: str) -> None:
    model = _build(name, efficient_stem=False)
    stem = model.get_submodule("features.0")
    assert stem[0].out_channels == 32 and isinstance(stem[2], nn.ReLU)
    first = _inside(model.get_submodule("features.1"))
    assert (first["exp"], first["out"]) == (32, 16)  # the first bneck filters all 32 channels, expansion 1
    assert not model.get_submodule("features.1").use_res_connect


@pytest.mark.parametrize("name", NAMES)
def test_redesign_knobs_default_to_the_final_design(name: str) -> None:
    final = lightnets.config(name)
    assert final.knobs["efficient_last_stage"] is True and final.knobs["efficient_stem"] is True
    both = lightnets.config(name, efficient_last_stage=False, efficient_stem=False)
    extra = (_macs(name, efficient_last_stage=False) - _macs(name)) + (_macs(name, efficient_stem=False) - _macs(name))
    assert lightnets.profile(both).macs - lightnets.profile(final).macs == extra
    # at α < 1 the original layers scale like every other conv
    narrow = _build(name, alpha=0.5, efficient_last_stage=False, efficient_stem=False)
    assert narrow.get_submodule("features.0")[0].out_channels == 16


# --------------------------------------------------------------------------------------------------
# the widths knob (NetAdapt's per-layer widths)


@pytest.mark.parametrize("name", NAMES)
def test_default_widths_leave_the_papers_rows_unchanged(name: str) -> None:
    default = lightnets.config(name)
    assert default.knobs["widths"] == ""
    assert lightnets.config(name, widths="  ") == default
    assert all("expand" not in b.args for b in default.blocks)  # the default rows are the paper's, unchanged
    from lightnets.models.mobilenet_v3 import format_widths, parse_widths, width_plan, LARGE, SMALL

    # every width the knob can set, given at its current value, builds the same network
    plan = width_plan(LARGE if name.endswith("large") else SMALL, 1.0, True)
    text = format_widths(plan.widths())
    assert parse_widths(text) == plan.widths() and format_widths(parse_widths(text)) == text
    same = lightnets.config(name, widths=text)
    assert [b.args["out_ch"] for b in same.blocks[1:-5]] == [b.args["out_ch"] for b in default.blocks[1:-5]]
    assert lightnets.profile(same).params == lightnets.profile(default).params
    assert lightnets.profile(same).macs == lightnets.profile(default).macs


def test_widths_set_an_expansion_and_a_residual_group() -> None:
    config = lightnets.config("mobilenet_v3_large", widths="b4=32, E5=64")
    assert config.knobs["widths"] == "b4=32,e5=64"  # spaces dropped, lower case: one spelling in the URL
    model = lightnets.build(config)
    for i in (4, 5, 6):  # the three bnecks of the 40-wide group all become 32 wide
        assert _inside(model.features[i])["out"] == 32
    assert next(m for m in model.features[7].modules() if isinstance(m, nn.Conv2d)).in_channels == 32
    assert model.features[5].use_res_connect and model.features[6].use_res_connect
    assert _inside(model.features[5])["exp"] == 64 and _inside(model.features[6])["exp"] == 120
    se = next(m for m in model.features[5].modules() if isinstance(m, SqueezeExcite))
    assert se.fc1.out_channels == 16  # the SE squeeze follows its expansion: make_divisible(64 / 4, 8)
    with torch.no_grad():
        assert lightnets.build(config).eval()(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_widths_b1_of_large_also_sets_the_stem_its_residual_adds() -> None:
    model = lightnets.build(lightnets.config("mobilenet_v3_large", widths="b1=8"))
    assert next(m for m in model.features[0].modules() if isinstance(m, nn.Conv2d)).out_channels == 8 and _inside(model.features[1])["out"] == 8
    assert model.features[1].use_res_connect


def test_an_expansion_shrunk_to_its_input_width_keeps_its_layer() -> None:
    model = lightnets.build(lightnets.config("mobilenet_v3_large", widths="e3=24"))  # bneck 3 reads 24 channels
    convs = [m for m in model.features[3].modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 3 and convs[0].kernel_size == (1, 1) and convs[0].out_channels == 24


@pytest.mark.parametrize("text, message", [
    ("b5=32", "b5 is tied to b4"), ("e1=8", "bneck 1 has no expansion layer"), ("e16=8", "e16 names no bneck"),
    ("b4=0", "a width must be from 1"), ("e2=48,e2=40", "e2 is given twice"), ("e2=48;b4=32", "widths="),
    ("b4", "widths="), ("q2=8", "widths="),
])
def test_bad_widths_raise_a_one_line_error_naming_the_knob(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        lightnets.config("mobilenet_v3_large", widths=text)
    assert "widths" in str(err.value) and "\n" not in str(err.value)


def test_widths_through_the_command_line(capsys) -> None:
    from lightnets.cli import main

    assert main(["profile", "mobilenet_v3_small", "--widths", "e2=48,b2=16", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    p = lightnets.profile(lightnets.config("mobilenet_v3_small", widths="e2=48,b2=16"))
    assert shown["knobs"]["widths"] == "e2=48,b2=16" and shown["macs"] == p.macs
    assert p.macs < lightnets.profile(lightnets.config("mobilenet_v3_small")).macs
