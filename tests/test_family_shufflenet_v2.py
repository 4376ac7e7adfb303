"""ShuffleNet V2 against the paper's Table 5 and torchvision's layout at every width, and the unit's behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from table_support import assert_stage_follows_table
from tv_reference import manifest

import lightnets
from lightnets.layers import ShuffleV2Unit

DATA = Path(__file__).parent / "data"
TABLE5 = json.loads((DATA / "papers.json").read_text())["architectures"]["ShuffleNetV2"]
COLUMNS = {0.5: "out_0.5x", 1.0: "out_1x", 1.5: "out_1.5x", 2.0: "out_2x"}
# torchvision's shufflenetv2.py: stages_out_channels of shufflenet_v2_x0_5 … x2_0 (conv1, stage2-4, conv5)
TV_STAGE_WIDTHS = {0.5: [24, 48, 96, 192, 1024], 1.0: [24, 116, 232, 464, 1024],
                   1.5: [24, 176, 352, 704, 1024], 2.0: [24, 244, 488, 976, 2048]}


def _table5(width: float) -> list[tuple[str, tuple[int, int], int, int, int]]:
    """Table 5 rows as (layer, output size, stride, repeat, output channels at ``width``)."""
    col = TABLE5["columns"].index(COLUMNS[width])
    rows = []
    for row in TABLE5["rows"]:
        layer, out_size, _k, stride, repeat = row[:5]
        if layer in ("Image", "FC", "GlobalPool"):
            continue
        side = tuple(int(n) for n in out_size.split("x"))
        rows.append((layer, side, stride, repeat, row[col]))
    return rows


@pytest.mark.parametrize("width", [0.5, 1.0, 1.5, 2.0])
def test_output_sizes_and_channels_follow_table5(width: float) -> None:
    blocks = lightnets.profile(lightnets.config("shufflenet_v2", resolution=224, width=width)).blocks
    by_path = {b.path: b for b in blocks}
    for layer, side, stride, repeat, channels in _table5(width):
        if layer == "Conv1":
            assert by_path["conv1"].output_shape == (1, channels, *side)
        elif layer == "MaxPool":
            assert by_path["maxpool"].output_shape == (1, channels, *side)
        elif layer == "Conv5":
            assert by_path["conv5"].output_shape == (1, channels, *side)
        else:  # StageN: one stride-2 row with repeat 1, then a stride-1 row with repeat 3 / 7 / 3
            assert_stage_follows_table(blocks, layer, side, stride, repeat, channels)
    assert by_path["fc"].output_shape == (1, 1000)


def _torchvision_layout(widths: list[int]) -> list[tuple[str, list[int]]]:
    """The state_dict keys and shapes torchvision's ShuffleNetV2 constructor makes from its stage widths."""
    keys: list[tuple[str, list[int]]] = []

    def conv(prefix: str, out_ch: int, in_per_group: int, k: int) -> None:
        keys.append((f"{prefix}.weight", [out_ch, in_per_group, k, k]))

    def bn(prefix: str, ch: int) -> None:
        keys.extend([(f"{prefix}.weight", [ch]), (f"{prefix}.bias", [ch]), (f"{prefix}.running_mean", [ch]),
                     (f"{prefix}.running_var", [ch]), (f"{prefix}.num_batches_tracked", [])])

    conv("conv1.0", widths[0], 3, 3)
    bn("conv1.1", widths[0])
    in_ch = widths[0]
    for stage, out_ch, repeats in zip((2, 3, 4), widths[1:4], (4, 8, 4)):
        half = out_ch // 2
        for i in range(repeats):
            p = f"stage{stage}.{i}"
            if i == 0:
                conv(f"{p}.branch1.0", in_ch, 1, 3)
                bn(f"{p}.branch1.1", in_ch)
                conv(f"{p}.branch1.2", half, in_ch, 1)
                bn(f"{p}.branch1.3", half)
            conv(f"{p}.branch2.0", half, in_ch if i == 0 else half, 1)
            bn(f"{p}.branch2.1", half)
            conv(f"{p}.branch2.3", half, 1, 3)
            bn(f"{p}.branch2.4", half)
            conv(f"{p}.branch2.5", half, half, 1)
            bn(f"{p}.branch2.6", half)
            in_ch = out_ch
    conv("conv5.0", widths[4], in_ch, 1)
    bn("conv5.1", widths[4])
    keys += [("fc.weight", [1000, widths[4]]), ("fc.bias", [1000])]
    return keys


@pytest.mark.parametrize("width", [0.5, 1.0])
def test_layout_generator_reproduces_the_torchvision_manifests(width: float) -> None:
    """The generator below is checked against torchvision's real state_dicts before it is trusted for 1.5 and 2."""
    tv_name = {0.5: "shufflenet_v2_x0_5", 1.0: "shufflenet_v2_x1_0"}[width]
    theirs = [(k, shape) for k, shape, _ in manifest(tv_name)["state_dict"]]
    assert _torchvision_layout(TV_STAGE_WIDTHS[width]) == theirs


@pytest.mark.parametrize("width", [0.5, 1.0, 1.5, 2.0])
def test_state_dict_layout_equals_torchvision_at_every_width(width: float) -> None:
    with torch.device("meta"):
        model = lightnets.build(lightnets.config("shufflenet_v2", width=width))
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert ours == _torchvision_layout(TV_STAGE_WIDTHS[width])


def test_stride1_unit_passes_half_the_channels_through_untouched() -> None:
    """Channel split: the first half skips the branch; the shuffle then puts input channel j at output 2j."""
    unit = ShuffleV2Unit(116, 116, 1).eval()
    x = torch.randn(2, 116, 14, 14)
    with torch.no_grad():
        out = unit(x)
    torch.testing.assert_close(out[:, 0::2], x[:, :58], rtol=0, atol=0)
    assert not torch.allclose(out[:, 1::2], x[:, 58:])  # the other half was transformed


def test_downsampling_unit_halves_the_size_and_sees_all_channels() -> None:
    unit = ShuffleV2Unit(116, 232, 2).eval()
    x = torch.randn(1, 116, 28, 28)
    with torch.no_grad():
        out = unit(x)
        y = x.clone()
        y[:, 100:] = 0  # a change in any input channel reaches both halves of the output
        changed = (unit(y) - out).abs().flatten(2).amax(-1)[0]
    assert out.shape == (1, 232, 14, 14)
    assert (changed[0::2] > 0).all() and (changed[1::2] > 0).all()


@pytest.mark.parametrize("width", [0.5, 1.0, 1.5, 2.0])
def test_guidelines_equal_pointwise_widths_and_no_elementwise_add(width: float) -> None:
    """G1: inside stages 3 and 4 every 1×1 conv keeps its width; G4: concat replaces the residual add."""
    p = lightnets.profile(lightnets.config("shufflenet_v2", resolution=224, width=width))
    pointwise = [r for r in p.layers if r.op == "pointwise" and r.block.startswith(("stage3", "stage4"))]
    assert pointwise and all(r.input_shape[1] == r.output_shape[1] for r in pointwise)
    assert not any(r.op == "add" for r in p.layers)
    assert p.elementwise["shuffle"] > 0 and p.elementwise["concat"] > 0


def test_width_outside_the_papers_four_is_refused() -> None:
    with pytest.raises(ValueError, match="width"):
        lightnets.build(lightnets.config("shufflenet_v2", width=0.75))
