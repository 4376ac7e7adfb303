"""Latency: statistics, argument checks, serialised measurements, BatchNorm folding, deployment mode for every
family, per-layer rows aligned with the profile, the lookup table, and the figures built from these results.

No assertion here depends on how fast this machine is; speed targets live in benchmarks/latency.py.
"""

from __future__ import annotations

import json
import statistics
import threading
import time

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import lightnets
from lightnets import latency
from lightnets.cost import CONV_KINDS
from lightnets.figures import latency as figures
from lightnets.latency import LatencyResult, LatencyTable, fold_batchnorm, optimize_for_inference

NAMES = lightnets.list_models()
SMALL = dict(resolution=64, budget_s=0.05, min_runs=3)


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: the 2-core test machine is shared, and two threads on a busy machine crawl.
    (Tests that are about thread counts set their own.)"""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics, so that a wrong fold changes the outputs visibly."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.5 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                if m.affine:
                    m.weight.copy_(1 + 0.3 * torch.randn(m.num_features, generator=g))
                    m.bias.copy_(0.3 * torch.randn(m.num_features, generator=g))
    return model.eval()


def _resolution(name: str) -> int:
    return max(lightnets.spec(name).min_resolution, 64)


# --------------------------------------------------------------------------------------------------
# statistics


def test_statistics_of_known_times() -> None:
    r = LatencyResult.from_times([5, 1, 9, 3, 7, 2, 8, 4, 6], threads=2, batch=4)
    assert (r.median_ms, r.p25_ms, r.p75_ms, r.iqr_ms, r.min_ms, r.mean_ms) == (5, 3, 7, 4, 1, 5)
    assert r.p90_ms == pytest.approx(8.2)
    assert r.runs == 9 and r.times_ms == (5, 1, 9, 3, 7, 2, 8, 4, 6)  # in run order, as measured
    assert r.ci95_ms == pytest.approx(1.57 * 4 / 3)
    assert r.images_per_s == pytest.approx(800.0)
    even = LatencyResult.from_times([4, 1, 3, 2])
    assert (even.median_ms, even.p25_ms, even.p75_ms) == (2.5, 1.75, 3.25)
    assert LatencyResult.from_times([2.0]).speedup_over(LatencyResult.from_times([5.0])) == 2.5


def test_stable_only_with_enough_runs_and_a_narrow_interval() -> None:
    assert LatencyResult.from_times([10.0] * 12).stable
    assert not LatencyResult.from_times([10.0] * 5).stable  # too few runs to tell
    assert not LatencyResult.from_times([1.0, 20.0] * 10).stable
    with pytest.raises(ValueError):
        LatencyResult.from_times([])


@given(st.lists(st.floats(0.01, 1000, allow_nan=False), min_size=2, max_size=60))
def test_quantiles_agree_with_the_statistics_module(times: list[float]) -> None:
    r = LatencyResult.from_times(times)
    q = statistics.quantiles(times, n=20, method="inclusive")  # 5%, 10%, …, 95%
    assert r.median_ms == pytest.approx(statistics.median(times))
    assert (r.p25_ms, r.p75_ms, r.p90_ms) == pytest.approx((q[4], q[14], q[17]))
    assert r.min_ms <= r.p25_ms <= r.median_ms <= r.p75_ms <= r.p90_ms <= max(times)


# --------------------------------------------------------------------------------------------------
# measuring


def test_measure_by_name_reports_what_it_did() -> None:
    before = torch.get_num_threads()
    r = lightnets.measure_latency(lightnets.config("mobilenet_v2", SMALL["resolution"], alpha=0.5), threads=1, batch=2,
                                  **{k: v for k, v in SMALL.items() if k != "resolution"})
    assert torch.get_num_threads() == before
    assert (r.name, r.threads, r.batch, r.resolution, r.mode) == ("mobilenet_v2", 1, 2, 64, "eager")
    assert r.knobs["alpha"] == 0.5 and r.device.startswith("cpu: ")
    assert r.runs >= 3 and len(r.times_ms) == r.runs and all(t > 0 for t in r.times_ms)
    assert r.warmup_runs >= 2 and r.p25_ms <= r.median_ms <= r.p75_ms <= r.p90_ms
    # the built model is cached per configuration
    model = latency._built(lightnets.config("mobilenet_v2", alpha=0.5).architecture, "cpu")
    assert model is latency._built(lightnets.config("mobilenet_v2", 96, alpha=0.50).architecture, "cpu")


def test_measure_runs_the_given_module_in_eval_and_inference_mode_and_restores_it() -> None:
    seen = []

    class Probe(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append((self.training, torch.is_inference_mode_enabled(), tuple(x.shape)))
            return x.mean()

    probe = Probe().train()
    r = lightnets.measure_latency(probe, resolution=16, batch=3, budget_s=0.01, min_runs=4)
    assert probe.training  # put back the way it was
    assert set(seen) == {(False, True, (3, 3, 16, 16))}
    assert len(seen) == r.runs + r.warmup_runs and r.runs >= 4


@pytest.mark.parametrize("kwargs, words", [
    (dict(device="tpu"), "unknown device"),
    (dict(threads=0), "threads=0"),
    (dict(threads=1.5), "whole number"),
    (dict(batch=0), "batch=0"),
    (dict(budget_s=0), "budget_s"),
    (dict(cuda_graph=True), "cuda_graph"),
    (dict(resolution=8), "resolution=8"),
    (dict(alpha=7.0), "alpha"),
    (dict(wings=2), "no knob wings"),
])
def test_bad_arguments_raise_one_plain_sentence(kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError) as err:
        config_args = {k: v for k, v in kwargs.items() if k in ("resolution", "alpha", "wings")}
        lightnets.measure_latency(lightnets.config("mobilenet_v2", **config_args),
                                  **{k: v for k, v in kwargs.items() if k not in config_args})
    assert words in str(err.value) and "\n" not in str(err.value)


def test_bad_model_arguments() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        lightnets.measure_latency(lightnets.config("resnet9000"))
    # knobs travel only inside a Config: a resolution beside one is refused, not silently preferred
    with pytest.raises(ValueError, match="carries its resolution"):
        lightnets.measure_latency(lightnets.config("mobilenet_v2"), resolution=160)
    with pytest.raises(ValueError, match=r"lightnets.config\(\.\.\.\) or an nn.Module"):
        lightnets.measure_latency(42)

    class Broken(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return nn.functional.conv2d(x, torch.ones(1, 5, 1, 1))  # wants 5 channels, gets 3

    before = torch.get_num_threads()
    with pytest.raises(ValueError, match="cannot run on a 1×3×32×32 input"):
        lightnets.measure_latency(Broken(), resolution=32, threads=1)
    assert torch.get_num_threads() == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("call", [lightnets.measure_latency, lightnets.layer_latency, lightnets.predict_latency])
def test_cuda_without_a_gpu_is_a_clear_error(call) -> None:
    with pytest.raises(ValueError, match="device='cuda' is not available"):
        call("mobilenet_v2", device="cuda")


def test_concurrent_measurements_take_turns_and_restore_the_thread_count() -> None:
    """Two sessions measuring at once: each sees its own thread count throughout, and they never overlap."""
    log: list[tuple[str, int, float, float]] = []

    class Probe(nn.Module):
        def __init__(self, tag: str) -> None:
            super().__init__()
            self.tag = tag
            self.conv = nn.Conv2d(3, 8, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            start = time.perf_counter()
            out = self.conv(x)
            time.sleep(0.001)  # let the other thread run, if the lock did not stop it
            log.append((self.tag, torch.get_num_threads(), start, time.perf_counter()))
            return out

    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        results: dict[str, LatencyResult] = {}
        errors: list[BaseException] = []

        def session(tag: str, threads: int) -> None:
            try:
                results[tag] = lightnets.measure_latency(Probe(tag), resolution=16, threads=threads, budget_s=0.15)
            except BaseException as err:  # pragma: no cover - reported below
                errors.append(err)

        workers = [threading.Thread(target=session, args=("a", 1)), threading.Thread(target=session, args=("b", 2))]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert not errors
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    assert results["a"].threads == 1 and results["b"].threads == 2
    assert {threads for tag, threads, _, _ in log if tag == "a"} == {1}
    assert {threads for tag, threads, _, _ in log if tag == "b"} == {2}
    # serialised: all of one session's passes lie before all of the other's
    a = [(s, e) for tag, _, s, e in log if tag == "a"]
    b = [(s, e) for tag, _, s, e in log if tag == "b"]
    assert max(e for _, e in a) < min(s for s, _ in b) or max(e for _, e in b) < min(s for s, _ in a)


# --------------------------------------------------------------------------------------------------
# BatchNorm folding and deployment mode


def test_fold_batchnorm_matches_the_formula_and_the_outputs() -> None:
    torch.manual_seed(0)
    model = _randomize_bn(nn.Sequential(
        nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, groups=4, bias=True), nn.BatchNorm2d(8, eps=1e-3),
        nn.ReLU(), nn.BatchNorm2d(8)))  # the last BN follows a ReLU: it must stay
    bn = model[1]
    expected_w = model[0].weight.detach().double() * (bn.weight.double() / torch.sqrt(bn.running_var.double() + 1e-5)
                                                      ).view(-1, 1, 1, 1)
    expected_b = -bn.running_mean.double() * bn.weight.double() / torch.sqrt(bn.running_var.double() + 1e-5) \
        + bn.bias.double()
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        before = model(x)
    assert fold_batchnorm(model) == 2
    assert [type(m).__name__ for m in model] == ["Conv2d", "Identity", "ReLU", "Conv2d", "Identity", "ReLU",
                                                 "BatchNorm2d"]
    torch.testing.assert_close(model[0].weight.double(), expected_w, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(model[0].bias.double(), expected_b, rtol=1e-6, atol=1e-7)
    with torch.no_grad():
        torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-5)


def test_fold_batchnorm_follows_data_flow_not_attribute_order() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bn = nn.BatchNorm2d(4)  # declared first, runs second
            self.conv = nn.Conv2d(4, 4, 1, bias=False)
            self.conv2 = nn.Conv2d(4, 4, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv2(x)
            return self.bn(self.conv(x)) + self.bn2(y) + y  # y is read twice: bn2 cannot be folded

    model = _randomize_bn(Block())
    x = torch.randn(1, 4, 5, 5)
    with torch.no_grad():
        before = model(x)
    assert fold_batchnorm(model) == 0  # without an example input only Sequential chains are folded
    assert fold_batchnorm(model, x) == 1
    assert isinstance(model.bn, nn.Identity) and isinstance(model.bn2, nn.BatchNorm2d)
    with torch.no_grad():
        torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_deployment_mode_equals_eager_for_every_family(name: str) -> None:
    res = _resolution(name)
    model = _randomize_bn(lightnets.build(lightnets.config(name)), seed=len(name))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    deployed = optimize_for_inference(model, resolution=res)
    assert deployed.scripted is not None and "frozen TorchScript trace" in deployed.steps
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())  # the given model is untouched
    x = torch.randn(1, 3, res, res, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        torch.testing.assert_close(deployed(x), model(x), atol=1e-4, rtol=0)  # the frozen trace
        x2 = torch.randn(2, 3, res + 32, res + 32)
        torch.testing.assert_close(deployed(x2), model(x2), atol=1e-4, rtol=0)  # another shape: the eager path
    # no BatchNorm that reads a conv's output is left unfolded
    assert latency._dataflow_pairs(deployed.eager, x.contiguous(memory_format=torch.channels_last)) == []
    assert deployed.folded_batchnorms == sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) - sum(
        isinstance(m, nn.BatchNorm2d) for m in deployed.eager.modules())


def test_optimize_for_inference_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="unknown backend"):
        optimize_for_inference(nn.Identity(), backend="tensorrt")
    with pytest.raises(ValueError, match="nn.Module"):
        optimize_for_inference("mobilenet_v2")
    eager = optimize_for_inference(_randomize_bn(lightnets.build(lightnets.config("mobilenet_v2", alpha=0.25))),
                                   backend="eager",
                                   resolution=64)
    assert eager.scripted is None and eager.folded_batchnorms == 52


# --------------------------------------------------------------------------------------------------
# per-layer time


@pytest.mark.parametrize("name", NAMES)
def test_layer_rows_are_the_profile_rows_and_every_conv_is_timed(name: str) -> None:
    res = _resolution(name)
    ll = lightnets.layer_latency(lightnets.config(name, resolution=res), budget_s=0.01, min_runs=2, end_to_end=False)
    prof = lightnets.profile(lightnets.config(name, res))
    assert [(r.name, r.op, r.macs) for r in ll.rows] == [(r.name, r.op, r.macs) for r in prof.layers]
    assert [b.path for b in ll.blocks] == [b.path for b in prof.blocks]
    assert all(r.timed and r.time_ms > 0 for r in ll.rows if r.op in CONV_KINDS)
    assert all(r.timed for r in ll.rows)  # eager: every profiled op ran
    assert sum(b.time_ms for b in ll.blocks) == pytest.approx(sum(r.time_ms for r in ll.rows))
    kinds = ll.by_kind()
    for kind, (macs, _) in kinds.items():
        assert macs == sum(r.macs for r in prof.layers if r.op == kind)
    assert sum(m for m, _ in ll.shares().values()) == pytest.approx(1.0)
    assert sum(t for _, t in ll.shares().values()) == pytest.approx(1.0)


def test_layer_latency_in_deployment_mode_and_end_to_end() -> None:
    ll = lightnets.layer_latency(lightnets.config("mobilenet_v2", resolution=64), budget_s=0.05, optimized=True,
                                 threads=1)
    assert ll.mode == "optimized" and ll.threads == 1 and ll.runs >= 3
    assert all(not r.timed and r.time_ms == 0 for r in ll.rows if r.op == "bn")  # folded away
    assert all(r.timed for r in ll.rows if r.op in CONV_KINDS)
    assert ll.measured is not None and ll.measured.mode == "optimized"
    assert ll.overhead_ms == pytest.approx(ll.measured.median_ms - ll.ops_ms)


# --------------------------------------------------------------------------------------------------
# the lookup table


def test_lookup_table_round_trips_and_its_prediction_sums_the_entries(tmp_path) -> None:
    device = latency.device_name("cpu")
    table = LatencyTable.load(device, 1, tmp_path / "table.json")
    assert len(table) == 0
    first = lightnets.predict_latency(lightnets.config("squeezenet1_1", resolution=64), threads=1, table=table)
    assert first.new_entries == len(table) > 10 and first.table_path == str(tmp_path / "table.json")
    assert first.ops_ms == pytest.approx(sum(table.entries[op.key] for op in first.ops))
    # eager: plus the calibrated cost of its operator and module calls
    assert first.predicted_ms == pytest.approx(first.ops_ms + first.dispatch_ms)
    assert first.dispatch_ms == pytest.approx(first.dispatch.cost_ms("eager", len(first.ops), first.module_calls))
    assert len(first.ops) > len(table)  # repeated ops (same shapes) share an entry
    again = LatencyTable.load(device, 1, tmp_path / "table.json")
    assert again.entries == table.entries
    assert set(again.loads) == set(again.entries)  # when each entry was timed, the machine's load is kept
    second = lightnets.predict_latency(lightnets.config("squeezenet1_1", resolution=64), threads=1, table=again)
    assert second.new_entries == 0 and second.predicted_ms == pytest.approx(first.predicted_ms)
    assert again.predict([op.key for op in second.ops]) == pytest.approx(second.ops_ms)
    refreshed = lightnets.predict_latency(lightnets.config("squeezenet1_1", resolution=64), threads=1, table=again,
                                          refresh=True)
    assert refreshed.new_entries == len({op.key for op in first.ops})  # each distinct operator timed again, once
    assert refreshed.ops_ms == pytest.approx(again.predict([op.key for op in refreshed.ops]))
    assert second.error(second.predicted_ms / 2) == pytest.approx(1.0)
    # a table from another PyTorch version, device or thread count is not reused
    data = json.loads((tmp_path / "table.json").read_text())
    (tmp_path / "old.json").write_text(json.dumps({**data, "torch": "1.0"}))
    assert len(LatencyTable.load(device, 1, tmp_path / "old.json")) == 0
    assert len(LatencyTable.load(device, 2, tmp_path / "table.json")) == 0
    with pytest.raises(ValueError, match="measured on"):
        lightnets.predict_latency(lightnets.config("squeezenet1_1", resolution=64), threads=2, table=again)


def test_saving_keeps_entries_another_session_wrote(tmp_path) -> None:
    device, path = latency.device_name("cpu"), tmp_path / "shared.json"
    first = LatencyTable(device, 1, path)
    lightnets.predict_latency(nn.Sequential(nn.Conv2d(3, 4, 3)), resolution=16, threads=1, table=first)
    second = LatencyTable(device, 1, path)  # opened before the first one saved: knows nothing of its entries
    lightnets.predict_latency(nn.Sequential(nn.Conv2d(3, 4, 5)), resolution=16, threads=1, table=second)
    merged = LatencyTable.load(device, 1, path)
    assert set(first.entries) | set(second.entries) == set(merged.entries)
    assert set(first.entries) != set(second.entries)


def test_lookup_keys_tell_kernel_stride_and_groups_apart(tmp_path) -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, stride=2, padding=1),
                          nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 8, 1))
    table = LatencyTable(latency.device_name("cpu"), 1, tmp_path / "t.json")
    pred = lightnets.predict_latency(model, resolution=16, threads=1, table=table)
    convs = [op.key for op in pred.ops if "conv" in op.key]
    assert len(convs) == 4 and len(set(convs)) == 4
    assert "[2, 2]" in convs[1] and convs[2].endswith(", 8)")


def test_default_table_lives_in_the_user_cache(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LIGHTNETS_CACHE_DIR", str(tmp_path))
    path = LatencyTable.default_path(latency.device_name("cpu"), 2)
    assert path.parent == tmp_path and path.suffix == ".json"
    monkeypatch.delenv("LIGHTNETS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert LatencyTable.default_path("cpu: x", 1).parent == tmp_path / "xdg" / "lightnets"


# --------------------------------------------------------------------------------------------------
# figures


def test_figures_show_these_results() -> None:
    eager = LatencyResult.from_times([10, 12, 11, 30, 11])
    fast = LatencyResult.from_times([4, 5, 4, 4], mode="optimized")
    fig = figures.latency_bars([eager, fast], ["eager", "deployment mode"])
    bars = fig.data[0]
    assert list(bars.y) == [11, 4] and list(bars.error_y.array) == [1, 0.25]
    assert list(bars.error_y.arrayminus) == [0, 0] and list(fig.data[1].y) == [eager.p90_ms, fast.p90_ms]
    assert list(figures.run_times(eager).data[0].y) == [10, 12, 11, 30, 11]

    ll = lightnets.layer_latency(lightnets.config("mobilenet_v2", resolution=64), budget_s=0.01, min_runs=2,
                                 end_to_end=False)
    shares = ll.shares()
    kinds_fig = figures.share_by_kind(ll)
    macs_bar, time_bar = kinds_fig.data
    for kind, m, t in zip(macs_bar.x, macs_bar.y, time_bar.y):
        assert (m / 100, t / 100) == pytest.approx(shares[kind])
    blocks_fig = figures.share_by_block(ll)
    assert list(blocks_fig.data[0].x) == [b.path for b in ll.blocks]
    assert sum(blocks_fig.data[1].y) == pytest.approx(100)
    scatter = figures.macs_vs_time(ll)
    points = {(x, y) for trace in scatter.data if trace.mode == "markers" for x, y in zip(trace.x, trace.y)}
    assert points == {(r.macs / 1e6, r.time_ms) for r in ll.rows if r.macs > 0}
    depthwise = next(trace for trace in scatter.data if trace.name == "depthwise")
    assert len(depthwise.x) == sum(r.op == "depthwise" for r in ll.rows)

    prediction = latency.LatencyPrediction(name="m", mode="eager", device="cpu: x", threads=1, batch=1,
                                           resolution=64, predicted_ms=8.0, ops=(), new_entries=0, table_entries=0,
                                           table_path=None)
    lut = figures.prediction_vs_measured(prediction, eager)
    assert list(lut.data[0].y) == [11, 8.0] and "-27%" in lut.layout.title.text


# --------------------------------------------------------------------------------------------------
# the page


def test_latency_page_measures_on_the_button_only(monkeypatch, tmp_path) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LIGHTNETS_CACHE_DIR", str(tmp_path))  # the page's lookup table goes here, not to ~/.cache
    calls = []
    real = latency.measure_latency

    def counting(*args, **kwargs):
        calls.append(kwargs.get("optimized", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(latency, "measure_latency", counting)  # what latency_report calls
    at = AppTest.from_file("../app.py", default_timeout=300)
    at.query_params["model"] = "squeezenet1_1"
    at.query_params["rho"] = "0.25"  # 56 px: quick to measure
    at.run()
    at.switch_page("pages/latency.py").run()
    assert not at.exception and not calls and not at.metric
    at.button(key="latency.measure").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert calls == [False, True]  # eager, then deployment mode
    medians = [m.value for m in at.metric if m.label == "median"]
    assert len(medians) == 2 and all(v.endswith(" ms") for v in medians)
    assert {"Measured latency", "Where the time goes, next to where the MACs go",
            "Predicted from a latency lookup table"} <= {h.value for h in at.header}
    assert list(tmp_path.glob("latency-table-*.json"))
    at.select_slider(key="ui.rho").set_value(8).run()  # a new configuration: nothing measured for it yet
    assert len(calls) == 2 and not at.metric and not at.exception
    at.select_slider(key="ui.rho").set_value(7).run()  # back: the earlier result is shown again, not re-measured
    assert len(calls) == 2 and [m.value for m in at.metric if m.label == "median"] == medians


def test_interleaved_timing_alternates_and_pairs_rounds() -> None:
    order: list[str] = []

    class Sleeper(nn.Module):
        def __init__(self, tag: str, ms: float) -> None:
            super().__init__()
            self.tag, self.ms = tag, ms

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not order or order[-1] != self.tag:
                order.append(self.tag)
            time.sleep(self.ms / 1000)
            return x

    result = lightnets.measure_interleaved([Sleeper("slow", 4.0), Sleeper("fast", 2.0)], rounds=4, budget_s=0.03,
                                           resolution=8, threads=1, min_runs=3)
    assert result.rounds == 4 and len(result.ratios(0, 1)) == 4
    assert result.ratio(0, 1) == pytest.approx(2.0, rel=0.25)  # sleeps of 4 and 2 ms
    assert all(r.runs >= 4 * 3 for r in result.results)
    # each round times both, the order rotating (slow fast | fast slow | slow fast | fast slow): 5 runs of calls,
    # where a fixed order would give 8
    assert order == ["slow", "fast", "slow", "fast", "slow"]
    with pytest.raises(ValueError, match="nothing to time"):
        lightnets.measure_interleaved([])
    with pytest.raises(ValueError, match="rounds"):
        lightnets.measure_interleaved([Sleeper("a", 1)], rounds=0)
