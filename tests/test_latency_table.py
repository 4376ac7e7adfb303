"""The latency lookup table's model beyond the sum of operators: the calibrated dispatch cost per call, the
deployment form predicted from its frozen graph's own operators, and entries timed under load kept apart."""

from __future__ import annotations

import json
import statistics

import pytest
import torch
from torch import nn

import lightnets
from lightnets import latency
from lightnets.latency import DispatchCost, LatencyTable


@pytest.fixture(autouse=True)
def small_references(monkeypatch: pytest.MonkeyPatch) -> None:
    """The calibration's logic, on two of the reference networks at 64 px, timed briefly (the five at 224 px take
    15 s a calibration); no calibration made here outlives the test (``_CALIBRATED`` would serve it to later tests'
    fresh tables)."""
    monkeypatch.setattr(latency, "REFERENCES", tuple((name, knobs, 64) for name, knobs, _res in latency.REFERENCES[:2]))
    monkeypatch.setattr(latency, "CALIBRATION_ROUND_S", 0.05)
    monkeypatch.setattr(latency, "_CALIBRATED", {})


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> LatencyTable:
    return LatencyTable(latency.device_name("cpu"), 1, tmp_path_factory.mktemp("lut") / "table.json")


class _Chain(nn.Sequential):
    def __init__(self, k: int) -> None:
        super().__init__(*[nn.ReLU() for _ in range(k)])


def test_the_dispatch_cost_is_calibrated_and_scales_with_the_calls(shared) -> None:
    short = lightnets.predict_latency(_Chain(4), resolution=8, threads=1, table=shared)
    long = lightnets.predict_latency(_Chain(36), resolution=8, threads=1, table=shared)
    cost = shared.dispatch
    assert cost is not None and long.dispatch == short.dispatch == cost
    assert cost.call_us > 0  # Python between the operators, which no replayed operator pays
    assert len(cost.reference_call_us) == len(latency.REFERENCES)
    assert (short.form, len(short.ops), short.module_calls) == ("eager", 4, 5)  # four ReLUs, five module calls
    assert (len(long.ops), long.module_calls) == (36, 37)
    # every call adds the calibrated cost once: k tiny ops cost k × (their entry + an operator and a module call)
    per_call = shared.entries[long.ops[0].key] + 2 * cost.call_us / 1000
    assert long.predicted_ms - short.predicted_ms == pytest.approx(32 * per_call)
    assert long.dispatch_ms == pytest.approx((36 + 37) * cost.call_us / 1000)
    saved = json.loads(shared.path.read_text())["dispatch"]
    assert DispatchCost(**saved) == cost  # kept with the table


def test_deployment_is_predicted_from_the_frozen_graphs_own_operators(shared) -> None:
    config = lightnets.config("mobilenet_v3_small", resolution=32)
    deployed = lightnets.predict_latency(config, threads=1, optimized=True, table=shared)
    eager = lightnets.predict_latency(config, threads=1, table=shared)
    assert deployed.form == "script" and deployed.module_calls == 0 and eager.form == "eager"
    ops = {op.key.split("(")[0] for op in deployed.ops}
    assert "aten._convolution.default" in ops  # what the TorchScript interpreter runs ...
    assert not any("batch_norm" in op for op in ops)  # ... with BatchNorm folded away
    assert any("batch_norm" in op.key for op in eager.ops)
    # no Python between a frozen graph's operators: its entries alone
    assert deployed.dispatch_ms == 0.0 and deployed.predicted_ms == pytest.approx(deployed.ops_ms)


def test_an_entry_timed_under_load_never_replaces_a_quiet_one(tmp_path) -> None:
    table = LatencyTable("cpu: x", 1, tmp_path / "t.json")
    assert table.add("op", 1.0, 0.4) and table.quiet("op")
    assert not table.add("op", 40.0, 19.0, busy=True)  # a busy timing is dropped: the quiet entry stays
    assert table.entries["op"] == 1.0 and table.quiet("op")
    assert table.add("other", 30.0, 19.0, busy=True) and not table.quiet("other")
    assert table.add("other", 2.0, 0.5) and table.quiet("other")  # a quiet timing replaces a busy one
    table.add("third", 50.0, 19.0, busy=True)
    table.save()
    again = LatencyTable.load("cpu: x", 1, tmp_path / "t.json")
    assert again.busy == {"third"} and again.entries == table.entries
    # another session timed "third" quietly and saved; ours, still busy, takes the quiet one on saving
    mine = LatencyTable.load("cpu: x", 1, tmp_path / "t.json")
    again.add("third", 3.0, 0.5)
    again.save()
    mine.save()
    assert LatencyTable.load("cpu: x", 1, tmp_path / "t.json").entries["third"] == 3.0


def test_entries_timed_under_load_are_marked_and_timed_again_when_quiet(tmp_path, monkeypatch) -> None:
    table = LatencyTable(latency.device_name("cpu"), 1, tmp_path / "t.json")
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 1))
    monkeypatch.setattr(latency, "machine_busy", lambda load=None: True)
    busy = lightnets.predict_latency(model, resolution=16, threads=1, table=table)
    distinct = len({op.key for op in busy.ops})
    assert busy.busy_entries == distinct and not busy.trusted and table.dispatch.busy
    again = lightnets.predict_latency(model, resolution=16, threads=1, table=table)
    assert again.new_entries == 0  # still busy: nothing better to time now
    monkeypatch.setattr(latency, "machine_busy", lambda load=None: False)
    monkeypatch.setattr(latency, "QUIET_SPREAD", float("inf"))
    quiet = lightnets.predict_latency(model, resolution=16, threads=1, table=table)
    assert quiet.new_entries == distinct and quiet.busy_entries == 0  # timed again, now quiet
    assert not table.dispatch.busy and quiet.trusted
    assert lightnets.predict_latency(model, resolution=16, threads=1, table=table).new_entries == 0


def test_a_few_jittery_entries_leave_the_calibration_trusted(tmp_path, monkeypatch) -> None:
    """Regression: one µs-scale entry of the reference whose bursts disagreed marked every quiet calibration
    "calibrated while busy", and so every prediction untrusted. Beyond ``BUSY_SHARE`` of them it still is."""
    monkeypatch.setattr(latency, "machine_busy", lambda load=None: False)
    monkeypatch.setattr(latency, "QUIET_SPREAD", float("inf"))  # only the entries marked below are busy
    real_fill, marked = latency._fill, {"share": 0.0}

    def fill_then_mark(table, calls, device, refresh):
        timed = real_fill(table, calls, device, refresh)
        keys = sorted(table.entries)
        table.busy |= set(keys[:max(1, round(marked["share"] * len(keys)))])  # as if their bursts disagreed
        return timed

    monkeypatch.setattr(latency, "_fill", fill_then_mark)
    cost = {}
    for share in (0.0, 0.5):  # 0.0: a single entry
        marked["share"] = share
        table = LatencyTable(latency.device_name("cpu"), 1, tmp_path / f"t{share}.json")
        cost[share] = latency.calibrate_dispatch(table, torch.device("cpu"))
    assert not cost[0.0].busy and cost[0.5].busy and not cost[0.5].under_load


def test_a_damaged_table_file_starts_afresh(tmp_path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"version": LatencyTable.VERSION, "device": "cpu: x", "threads": 1,
                                "torch": torch.__version__, "entries": {"a": "fast"}}))
    assert len(LatencyTable.load("cpu: x", 1, path)) == 0
    path.write_text("[1, 2]")
    assert len(LatencyTable.load("cpu: x", 1, path)) == 0


def test_the_cost_per_call_is_the_references_median_gap_between_eager_and_entries(tmp_path, monkeypatch) -> None:
    """Calibration: each reference's (eager pass − its entries) / (operator + module calls), and their median."""
    monkeypatch.setattr(latency, "machine_busy", lambda load=None: False)
    monkeypatch.setattr(latency, "REFERENCES", latency.REFERENCES + (("squeezenet1_1", {}, 64),))  # three: a median
    monkeypatch.setattr(latency, "_time_alone", lambda call, device: (0.01, 1.0))  # every entry 10 µs
    real_timed_runs = latency._timed_runs

    def three_ms(fn, *args, **kwargs):  # every eager pass of a reference takes 3 ms
        times, work = real_timed_runs(fn, *args, **kwargs)
        return [3.0 for _ in times], work

    monkeypatch.setattr(latency, "_timed_runs", three_ms)
    table = LatencyTable(latency.device_name("cpu"), 1, tmp_path / "t.json")
    cost = latency.calibrate_dispatch(table, torch.device("cpu"))
    expected = []
    for name, knobs, res in latency.REFERENCES:
        calls, modules = latency._recorded(lightnets.build(lightnets.config(name, res, **knobs)).eval(),
                                           torch.randn(1, 3, res, res), torch.device("cpu"), script=False)
        expected.append(1000 * (3.0 - 0.01 * len(calls)) / (len(calls) + modules))  # in µs
    assert len(set(expected)) == 3 and cost.reference_call_us == pytest.approx(expected, abs=1e-3)
    assert cost.call_us == pytest.approx(statistics.median(expected), abs=1e-3)
    assert not table.entries  # the references' entries stayed in their scratch table
