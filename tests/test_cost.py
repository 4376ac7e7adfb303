"""The cost model: exact against FlopCounterMode and hand formulas, consistent with the built model."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import lightnets
from lightnets.cost import CONV_KINDS, profile_model

NAMES = lightnets.list_models()


@pytest.mark.parametrize("name", NAMES)
def test_macs_equal_flop_counter_mode(name: str) -> None:
    res = 160
    model = lightnets.build(lightnets.config(name)).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 3, res, res))
    assert lightnets.profile(lightnets.config(name, resolution=res)).macs == counter.get_total_flops() // 2


@pytest.mark.parametrize("name", NAMES)
def test_rows_add_up_and_match_the_model(name: str) -> None:
    p = lightnets.profile(lightnets.config(name))
    model = lightnets.build(lightnets.config(name))
    assert p.params == sum(t.numel() for t in model.parameters())
    assert sum(r.params for r in p.layers) == p.params
    assert sum(b.params for b in p.blocks) == p.params
    assert sum(b.macs for b in p.blocks) == p.macs
    assert p.flops == 2 * p.macs
    assert p.elementwise_total == sum(r.elementwise for r in p.layers)
    assert p.mem_bytes == sum(r.mem_bytes for r in p.layers)
    assert p.peak_activation_bytes <= p.mem_bytes
    assert [b.path for b in p.blocks] == [b.path for b in model.block_rows]
    names = dict(model.named_modules())
    for row in p.layers:
        assert row.name in names and row.block
        assert row.op in lightnets.cost.OP_KINDS


@pytest.mark.parametrize("name", NAMES)
def test_conv_rows_follow_the_formula(name: str) -> None:
    p = lightnets.profile(lightnets.config(name, resolution=128))
    modules = dict(lightnets.build(lightnets.config(name)).named_modules())
    for row in p.layers:
        if row.op not in CONV_KINDS:
            continue
        conv = modules[row.name]
        if not isinstance(conv, nn.Conv2d):  # a conv inside a custom module: take the module's own conv
            conv = next(m for m in conv.modules() if isinstance(m, nn.Conv2d))
        cin, cout, g = conv.in_channels, conv.out_channels, conv.groups
        kh, kw = conv.kernel_size
        _, c, h, w = row.output_shape
        assert c == cout
        assert row.macs == kh * kw * (cin // g) * cout * h * w
        assert row.groups == g and row.kernel == (kh, kw)
        kind = ("depthwise" if g == cin and g > 1 and cin // g == 1 else "group" if g > 1
                else "pointwise" if (kh, kw) == (1, 1) else "dense")
        assert row.op == kind


def test_profile_of_a_built_model_equals_profile_by_name() -> None:
    model = lightnets.build(lightnets.config("mobilenet_v2", alpha=0.75))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    by_model = lightnets.profile(model, resolution=192)
    by_name = lightnets.profile(lightnets.config("mobilenet_v2", resolution=192, alpha=0.75))
    assert (by_model.params, by_model.macs, by_model.mem_bytes) == (by_name.params, by_name.macs, by_name.mem_bytes)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training  # the profile put it back the way it was


def test_depthwise_separable_layer_by_hand() -> None:
    """MobileNet V1 paper, Table 3: a 14×14×512 → 512 layer costs 462M as a full conv, 52.3M separable."""
    full = nn.Sequential(nn.Conv2d(512, 512, 3, padding=1, bias=False))
    sep = nn.Sequential(nn.Conv2d(512, 512, 3, padding=1, groups=512, bias=False), nn.Conv2d(512, 512, 1, bias=False))
    assert profile_model(full, 14, in_channels=512).macs == 3 * 3 * 512 * 512 * 14 * 14  # 462.4M
    p = profile_model(sep, 14, in_channels=512)
    assert p.macs == 3 * 3 * 512 * 14 * 14 + 512 * 512 * 14 * 14  # 52.3M
    assert [r.op for r in p.layers] == ["depthwise", "pointwise"]
    assert round(p.macs / 1e6, 1) == 52.3


def test_memory_access_counts_reads_and_writes() -> None:
    conv = nn.Sequential(nn.Conv2d(8, 16, 1, bias=False), nn.ReLU())
    p = profile_model(conv, 10, in_channels=8)
    conv_row, relu_row = p.layers
    assert conv_row.mem_bytes == 4 * (8 * 10 * 10 + 16 * 8 + 16 * 10 * 10)
    assert relu_row.mem_bytes == 4 * (2 * 16 * 10 * 10)
    assert relu_row.elementwise == 16 * 10 * 10
    assert conv_row.intensity == pytest.approx(2 * conv_row.macs / conv_row.mem_bytes)


def test_activation_memory_leaves_weights_out() -> None:
    """The peak counts the tensors an op reads and writes, not its weights (a linear layer reads a transposed
    view of its weight matrix)."""
    fc = nn.Sequential(nn.Flatten(), nn.Linear(8 * 2 * 2, 1000))
    p = profile_model(fc, 2, in_channels=8)
    (row,) = p.layers
    assert row.mem_bytes == 4 * (32 + 32 * 1000 + 1000 + 1000)
    assert p.peak_activation_bytes == 4 * (32 + 1000)


def test_profile_is_cached_per_configuration() -> None:
    half = lightnets.profile(lightnets.config("mobilenet_v2", alpha=0.5))
    assert half is lightnets.profile(lightnets.config("mobilenet_v2", alpha=0.50000000001 * 1))
    assert half is not lightnets.profile(lightnets.config("mobilenet_v2", alpha=0.55))


def test_resolution_scales_macs_quadratically_for_a_fully_convolutional_net() -> None:
    a = lightnets.profile(lightnets.config("mobilenet_v2", resolution=448))
    b = lightnets.profile(lightnets.config("mobilenet_v2", resolution=224))
    fc = 1280 * 1000
    assert (a.macs - fc) == 4 * (b.macs - fc)  # every stride halves an even size


def _row_key(row):
    return (row.name, row.block, row.op, row.input_shape, row.output_shape, row.kernel, row.stride, row.groups,
            row.params, row.macs, row.elementwise, row.mem_bytes)


@pytest.mark.parametrize("name", NAMES)
def test_profile_by_name_equals_profile_of_the_built_model_row_by_row(name: str) -> None:
    """profile(name) costs standard layers from their attributes and repeated blocks once; profiling the built
    model records every ATen op. Both must give the same rows."""
    res = 96
    by_name = lightnets.profile(lightnets.config(name, resolution=res))
    by_model = lightnets.profile(lightnets.build(lightnets.config(name)), resolution=res)
    assert [_row_key(r) for r in by_name.layers] == [_row_key(r) for r in by_model.layers]
    assert by_name.blocks == by_model.blocks
    assert (by_name.activation_bytes, by_name.peak_activation_bytes) == (
        by_model.activation_bytes, by_model.peak_activation_bytes)


def test_cached_blocks_give_the_same_profile_as_a_cold_start() -> None:
    from lightnets.cost import clear_caches

    warm = [lightnets.profile(lightnets.config("mobilenet_v2", resolution=r, alpha=0.5)) for r in (128, 160)]
    clear_caches()
    cold = [lightnets.profile(lightnets.config("mobilenet_v2", resolution=r, alpha=0.5)) for r in (160, 128)][::-1]
    for a, b in zip(warm, cold):
        assert [_row_key(r) for r in a.layers] == [_row_key(r) for r in b.layers]
        assert a.blocks == b.blocks


def test_profiles_from_several_threads_agree() -> None:
    """Sessions of the app profile at the same time; the shared block modules must not mix their rows."""
    from concurrent.futures import ThreadPoolExecutor

    from lightnets.cost import clear_caches

    configs = [("mobilenet_v2", 96 + 8 * i, {"alpha": 0.5 + 0.25 * (i % 3)}) for i in range(8)]
    expected = [lightnets.profile(lightnets.config(n, resolution=r, **k)) for n, r, k in configs]
    clear_caches()
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda c: lightnets.profile(lightnets.config(c[0], resolution=c[1], **c[2])), configs))
    for a, b in zip(expected, got):
        assert [_row_key(r) for r in a.layers] == [_row_key(r) for r in b.layers]


def test_a_conv_that_pads_first_keeps_its_weights_on_the_conv_row() -> None:
    # EfficientNet's stride-2 convs pad their input "same"-style before convolving: the pad reads no weight
    p = lightnets.profile(lightnets.config("efficientnet"))
    assert not [row for row in p.layers if row.op == "pad" and row.params]
    stem = next(row for row in p.layers if row.name == "_conv_stem" and row.op == "dense")
    assert stem.params == 3 * 3 * 3 * 32


def test_meta_build_skips_initialisation_in_its_own_thread_only() -> None:
    import threading

    from lightnets.cost import MetaBuild

    built: dict[str, nn.Module] = {}
    with MetaBuild():
        meta = nn.Sequential(nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16), nn.Linear(16, 4))
        # a real model built meanwhile in another thread (as the app's latency or predict pages do)
        worker = threading.Thread(target=lambda: built.setdefault("real", nn.Conv2d(8, 16, 3)))
        worker.start()
        worker.join()
    assert all(p.is_meta for p in meta.parameters()) and all(b.is_meta for b in meta.buffers())
    weight = built["real"].weight
    assert not weight.is_meta
    bound = 1 / (8 * 9) ** 0.5  # kaiming_uniform_(a=√5) on a conv: U(−1/√fan_in, 1/√fan_in)
    assert weight.abs().max() <= bound and weight.std() > bound / 4


class _ScaledConv(nn.Module):
    """A layer that uses its own parameter in forward: profiled on meta stand-ins, never on its real values."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(channels, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(x, self.weight) * 2


def test_profiling_a_real_model_leaves_it_as_it_was() -> None:
    # a "same"-padded conv takes the slow path of a standard leaf; _ScaledConv is no standard leaf at all
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding="same"), nn.BatchNorm2d(8), nn.ReLU(), _ScaledConv(8))
    model.train()
    model[1].eval()  # a frozen BatchNorm inside a model in training mode stays frozen
    x = torch.randn(2, 3, 20, 20)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    model.eval()
    expected = model(x)
    for m, mode in zip(model.modules(), modes):
        m.training = mode

    p = profile_model(model, 20)
    assert [r.op for r in p.layers if r.macs] == ["dense", "pointwise"]
    assert [r.macs for r in p.layers if r.macs] == [8 * 3 * 9 * 20 * 20, 8 * 8 * 20 * 20]
    assert p.params == sum(t.numel() for t in model.parameters())
    # weights, mode, forward methods and hooks as before; the same outputs
    assert [m.training for m in model.modules()] == [True, True, False, True, True]
    assert all("forward" not in m.__dict__ and not m._forward_hooks and not m._forward_pre_hooks
               for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(t.is_meta for t in model.state_dict().values())
    model.eval()
    assert torch.equal(model(x), expected)


def test_a_profile_leaves_the_garbage_collector_as_it_found_it() -> None:
    import gc

    from lightnets.cost import clear_caches

    assert gc.isenabled()
    clear_caches()
    lightnets.profile(lightnets.config("squeezenet1_1", 96))
    lightnets.profile(lightnets.build(lightnets.config("squeezenet1_1")), 96)
    assert gc.isenabled()
    gc.disable()
    try:
        clear_caches()
        lightnets.profile(lightnets.config("squeezenet1_1", 96))
        assert not gc.isenabled()  # someone else's choice is kept
    finally:
        gc.enable()


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "efficientnet_lite0"])  # the latter: SameConv2d, no leaf
def test_a_model_runs_correctly_in_another_thread_while_it_is_profiled(name: str) -> None:
    import threading

    model = lightnets.build(lightnets.config(name)).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        expected = model(x)
    errors: list[BaseException] = []
    outputs: list[torch.Tensor] = []
    done = threading.Event()

    def run() -> None:
        try:
            with torch.no_grad():
                while not done.is_set():
                    outputs.append(model(x))
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        profiles = [profile_model(model, 96) for _ in range(5)]
    finally:
        done.set()
        worker.join()
    assert not errors and outputs
    assert all(torch.equal(out, expected) for out in outputs)
    assert len({(p.params, p.macs, len(p.layers)) for p in profiles}) == 1
    assert profiles[0].macs == lightnets.profile(lightnets.config(name, 96)).macs


def test_a_shuffle_row_shows_the_tensor_it_shuffles() -> None:
    p = lightnets.profile(lightnets.config("shufflenet_v2", 224))
    rows = [r for r in p.layers if r.op == "shuffle"]
    assert len(rows) == 16
    first = rows[0]
    assert first.input_shape == first.output_shape == (1, 116, 28, 28)
    assert first.elementwise == 116 * 28 * 28 and first.mem_bytes == 2 * 4 * 116 * 28 * 28


def test_profile_rows_are_the_dataclass_the_constructor_makes() -> None:
    import dataclasses

    from lightnets.cost import LayerCost

    p = lightnets.profile(lightnets.config("espnet_v2", 128))
    for row in p.layers:
        assert row == LayerCost(**dataclasses.asdict(row)) and type(row) is LayerCost
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.layers[0].macs = 0
