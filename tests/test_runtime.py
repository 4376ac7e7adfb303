"""lightnets.runtime: the once-per-process warm-up and the cache that computes a key once for many threads."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from lightnets import runtime


def test_a_key_asked_for_by_many_threads_at_once_is_computed_once() -> None:
    calls: list[int] = []
    gate = threading.Event()

    @runtime.shared_cache(maxsize=4)
    def slow(x: int) -> list[int]:
        calls.append(x)
        gate.wait(5)
        return [x]

    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda: results.append(slow(1))) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(10)
    assert calls == [1]
    assert len(results) == 8 and all(r is results[0] for r in results)  # one shared object, not eight copies


def test_different_keys_are_computed_in_parallel_and_old_ones_evicted() -> None:
    started = threading.Barrier(2, timeout=5)

    @runtime.shared_cache(maxsize=2)
    def both(x: int) -> int:
        started.wait()  # deadlocks (BrokenBarrierError) if the two keys were computed one after the other
        return x * 10

    out: dict[int, int] = {}
    threads = [threading.Thread(target=lambda k=k: out.__setitem__(k, both(k))) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert out == {1: 10, 2: 20}
    assert both.cache_len() == 2


def test_an_exception_is_not_cached() -> None:
    attempts: list[int] = []

    @runtime.shared_cache(maxsize=2)
    def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) == 1:
            raise ValueError("first time fails")
        return x

    with pytest.raises(ValueError):
        flaky(3)
    assert flaky(3) == 3 and flaky(3) == 3
    assert attempts == [3, 3]


def test_warmup_runs_once_for_callers_arriving_together() -> None:
    took: list[float] = []
    threads = [threading.Thread(target=lambda: took.append(runtime.warmup())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert runtime.warmed()
    assert sum(1 for s in took if s > 0) <= 1  # at most one caller did the work (none if an earlier test did)
    # what plotly looks up without importing is complete now: no half-initialised pandas
    assert hasattr(sys.modules["pandas"], "Series") and "torch._dynamo" in sys.modules
