"""Latency on a shared server: whole measurements take turns across sessions (with each waiting session's
place in the line), a measured setting is shared with the next session, every figure carries the load it was
measured under, and its interval is the spread actually seen. Fake or tiny measurements keep this fast."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import torch
from streamlit.testing.v1 import AppTest

import lightnets
from lightnets import latency as L
from markdown_support import shown


def _wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_measurements_take_turns_first_come_first_served_and_say_how_many_are_ahead() -> None:
    queue = L.MeasurementQueue()
    release = threading.Event()
    order: list[str] = []
    seen: dict[str, list[int]] = {"b": [], "c": [], "d": []}

    def first() -> None:
        with queue.turn():
            order.append("a")
            release.wait(10)

    def later(name: str) -> None:
        with queue.turn(lambda ahead: seen[name].append(ahead), poll_s=0.02):
            order.append(name)
            time.sleep(0.05)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    _wait_until(lambda: order == ["a"])
    for i, name in enumerate("bcd"):
        threads.append(threading.Thread(target=later, args=(name,)))
        threads[-1].start()
        _wait_until(lambda: len(queue) == i + 2)
    _wait_until(lambda: all(seen.values()))
    assert {name: values[-1] for name, values in seen.items()} == {"b": 1, "c": 2, "d": 3}
    got = L._LOCK.acquire(blocking=False)  # the running measurement holds the process-wide lock
    if got:
        L._LOCK.release()
    assert not got
    release.set()
    for t in threads:
        t.join(10)
    assert order == ["a", "b", "c", "d"]
    assert seen["d"] == sorted(seen["d"], reverse=True) and seen["d"][-1] == 1  # d's place came down to 1 ahead
    assert len(queue) == 0


def test_a_session_that_stops_waiting_gives_up_its_place() -> None:
    queue = L.MeasurementQueue()
    release = threading.Event()

    def hold() -> None:
        with queue.turn():
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    _wait_until(lambda: len(queue) == 1)

    class Rerun(Exception):
        pass

    def stop(ahead: int) -> None:
        raise Rerun  # what Streamlit does to a script the user reran

    with pytest.raises(Rerun):
        with queue.turn(stop, poll_s=0.01):
            pass
    assert len(queue) == 1
    release.set()
    holder.join(10)
    with queue.turn():
        pass


def test_a_figure_measured_beside_other_work_is_marked_disturbed_with_the_load_it_saw() -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        time.sleep(0.3)
        result = L.measure_latency(model, resolution=32, threads=1, budget_s=1.0, min_runs=20, precision=0.0)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    assert result.load is not None and result.load.samples >= 3
    assert result.load.other_cores >= 2 and result.disturbed  # three busy loops wanted about three cores
    assert result.load.threads == 1 and result.load.cores >= 1


def test_the_load_flag_follows_what_other_work_wanted() -> None:
    quiet = L.MachineLoad(other_cores=0.2, load_average=1.1, cores=2, threads=2)
    busy = L.MachineLoad(other_cores=1.4, load_average=3.0, cores=2, threads=2)
    assert not quiet.disturbed and busy.disturbed
    assert L.LatencyResult.from_times([1.0] * 20, load=busy).disturbed
    assert not L.LatencyResult.from_times([1.0] * 20, load=quiet).disturbed
    assert not L.LatencyResult.from_times([1.0] * 20).disturbed  # no load watched: nothing claimed


def test_the_interval_is_the_spread_of_the_stretch_medians() -> None:
    steady = L.LatencyResult.from_times([10.0, 10.2, 9.9, 10.1] * 10)
    assert steady.interval_ms == (pytest.approx(10.0, abs=0.11), pytest.approx(10.1, abs=0.11))
    assert not steady.wide
    # the machine slowed down halfway: the spread shows it, and says it is worth measuring again
    drift = L.LatencyResult.from_times([10.0] * 20 + [13.0] * 20)
    assert drift.interval_ms == (10.0, 13.0) and drift.wide
    assert L.stretch_medians([float(t) for t in range(1, 10)]) == (2.0, 5.0, 8.0)  # at least 3 runs per stretch
    # a few slow runs (a busy machine): the interval is their whole range, never a zero-width certainty
    few = L.LatencyResult.from_times([800.0, 1100.0, 950.0, 1300.0, 900.0])
    assert few.interval_ms == (800.0, 1300.0) and few.wide


TINY = dict(model="mobilenet_v1", alpha="0.25", rho="0.25")


def _latency_page() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=120)
    for key, value in TINY.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("pages/latency.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_setting_measured_by_one_session_is_shown_to_the_next_with_when_and_what_load(monkeypatch) -> None:
    first = _latency_page()
    config = first.session_state["ui.selection"].config
    first.toggle(key="latency.deploy").set_value(False).run()
    first.selectbox(key="latency.threads").set_value(1).run()
    assert first.button(key="latency.measure").proto.label == "Measure latency"
    first.button(key="latency.measure").click().run()
    assert not first.exception, [e.message for e in first.exception]
    report = L.shared_report(config, 1, 1, False)
    assert report is not None and report.eager.load is not None
    assert [m.value for m in first.metric if m.label == "median"] == [f"{report.eager.median_ms:.2f} ms"]
    assert not any("another session" in i.value for i in first.info)

    def no_timing(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the second session timed a setting that was already measured")

    monkeypatch.setattr(lightnets, "latency_report", no_timing)
    second = _latency_page()
    second.toggle(key="latency.deploy").set_value(False).run()
    second.selectbox(key="latency.threads").set_value(1).run()
    assert not second.exception
    notes = " ".join(i.value for i in second.info)
    assert "Measured by another session at " + time.strftime("%H:%M:%S", time.localtime(report.measured_at)) in notes
    assert [m.value for m in second.metric if m.label == "median"] == [f"{report.eager.median_ms:.2f} ms"]
    assert second.button(key="latency.measure").proto.label == "Measure again"
    texts = " ".join(shown(x.value) for x in [*second.caption, *second.warning])
    load = report.eager.load
    assert (f"load average {load.load_average}" in texts or "spread is wide" in texts)
    if report.eager.disturbed:
        assert "Disturbed: other work wanted" in texts and "measure again" in texts
    low, high = report.eager.interval_ms
    assert f"{low:.2f}–{high:.2f} ms is the spread seen" in texts
