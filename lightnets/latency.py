"""Measured latency: whole-network timing, per-layer timing, an FBNet-style lookup table, and a deployment mode.

How the figures are taken, and why they can be trusted:

* ``measure_latency`` runs the model in ``eval()`` under ``torch.inference_mode`` with a fixed intra-op thread
  count (reported with the result), warms it up (oneDNN primitive creation, allocator, caches), then times single
  forward passes one by one with ``time.perf_counter`` (CUDA: events, after a synchronize) until a time budget is
  spent or the median is known to ±1% (95% confidence from the IQR, McGill's notch rule), with the garbage
  collector paused. This follows ``torch.utils.benchmark``'s ``adaptive_autorange`` (warm-up, run until the
  spread is small or time is up) but times each pass on its own instead of in blocks, so that every run's time
  is kept: the result carries the median, quartiles, p90, minimum and every run. At a few milliseconds per pass
  the clock's resolution (well under a microsecond) does not matter.
* ``torch.set_num_threads`` is process-wide, so every measurement holds one process-wide lock and puts the
  thread count back afterwards: two browser sessions measuring at once take turns and cannot corrupt each other.
* ``layer_latency`` times every ATen operator in place, inside a real forward pass (a dispatch mode with a clock
  around each kernel call), so each operator sees the cache and thread state the full network gives it. Its rows
  are ``lightnets.profile``'s rows, one for one, so time can be set against multiply-adds.
* ``predict_latency`` is FBNet's latency lookup table: every distinct operator (ATen op, tensor shapes and layout,
  kernel, stride, groups, padding) is timed once, alone and with cold caches, per device and thread count, and kept
  in a JSON file in the user's cache directory; a network's predicted latency is the sum of its operators' entries
  plus a dispatch cost per call calibrated on a reference network (``DispatchCost``); entries timed while the
  machine was busy are marked and never replace quiet ones; those timed under a high load are timed again when
  it is quiet.
* ``optimize_for_inference`` folds BatchNorm into the preceding convolution, switches to channels_last and, on CPU,
  freezes a TorchScript trace; outputs equal the eager model's to 1e-4 (checked when it is built).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import hashlib
import json
import math
import os
import platform
import re
import statistics
import tempfile
import threading
import time
import warnings
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.utils._pytree as pytree
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from lightnets.i18n import N_, _
from lightnets.registry import Config, Network, build
from lightnets.runtime import shared_cache

# One lock for the whole process: the thread count and the CPU itself are shared by every session.
_LOCK = threading.RLock()

MAX_BATCH = 256
MAX_THREADS = 256

# --------------------------------------------------------------------------------------------------
# statistics


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of already sorted values, interpolating linearly between order statistics.

    The same rule as ``numpy.quantile``'s default and ``statistics.quantiles(method="inclusive")``.
    """
    if not sorted_values:
        raise ValueError("no values to take a quantile of")
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def median_ci95(times_ms: Sequence[float]) -> float:
    """Half-width of the 95% confidence interval of the median: 1.57·IQR/√n (McGill, Tukey & Larsen 1978)."""
    ordered = sorted(times_ms)
    iqr = quantile(ordered, 0.75) - quantile(ordered, 0.25)
    return 1.57 * iqr / math.sqrt(len(ordered))


# --------------------------------------------------------------------------------------------------
# the machine's load while a figure was measured

DISTURBED_CORES = 0.5  # other work wanting this many cores on average, beside ours, disturbs a timing
STRETCHES = 5  # a measurement's runs are cut into this many consecutive stretches; their medians give the interval
WIDE = 0.10  # an interval wider than this share of the median is worth measuring again


@dataclass(frozen=True)
class MachineLoad:
    """What else the machine was doing while a figure was measured.

    ``other_cores``: how many cores' worth of other work wanted to run, on average, beside the measurement's own
    threads (runnable tasks sampled every 50 ms from /proc/stat, minus ours; tasks waiting for a core count too, so
    this sees contention even when every core is busy). ``load_average``: the 1-minute load average at the end,
    slow to react, kept as a second witness. Where /proc/stat is missing, ``other_cores`` is the load average
    minus our threads.
    """

    other_cores: float | None
    load_average: float | None
    cores: int
    threads: int
    samples: int = 0

    @property
    def disturbed(self) -> bool:
        return self.other_cores is not None and self.other_cores >= DISTURBED_CORES


def _procs_running() -> int | None:
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("procs_running"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


class _LoadWatch:
    """Samples the machine's runnable tasks every ``period_s`` in a thread of its own (it sleeps in between:
    ~50 µs of work per sample) while a measurement runs."""

    def __init__(self, threads: int, period_s: float = 0.05) -> None:
        self.threads = threads
        self.period_s = period_s
        self.others: list[int] = []  # runnable tasks that are not ours, per sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lightnets-load-watch", daemon=True)

    def _sample(self, ours: int) -> None:
        n = _procs_running()
        if n is not None:
            self.others.append(max(0, n - ours))

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self._sample(1 + self.threads)  # the sampler reading, and the measurement's threads

    def __enter__(self) -> _LoadWatch:
        self._sample(1)  # before the measurement starts, only the reading thread is ours
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(1)

    def load(self) -> MachineLoad:
        average = _load_average()
        if self.others:
            other = statistics.fmean(self.others)
        elif average is not None:
            other = max(0.0, average - self.threads)
        else:
            other = None
        return MachineLoad(None if other is None else round(other, 2), average, os.cpu_count() or 1,
                           self.threads, len(self.others))


def stretch_medians(times_ms: Sequence[float], stretches: int = STRETCHES) -> tuple[float, ...]:
    """The medians of ``stretches`` consecutive, equal stretches of the runs, at least 3 runs each; with fewer
    than 9 runs (3 stretches of 3) every run stands alone, so that the interval is the runs' whole range (one
    stretch would give an interval of width 0, claiming a certainty that a few runs do not give)."""
    n = len(times_ms)
    if n < 9:
        return tuple(float(t) for t in times_ms)
    k = min(stretches, n // 3)
    bounds = [round(i * n / k) for i in range(k + 1)]
    return tuple(statistics.median(times_ms[a:b]) for a, b in zip(bounds, bounds[1:]))


@dataclass(frozen=True)
class Timed:
    """What every timing says about how it was taken."""

    name: str
    mode: str  # "eager" | "optimized" | "cuda graph"
    device: str  # "cpu: <processor>" or "cuda: <GPU name>"
    threads: int  # intra-op threads used for the measurement
    batch: int
    resolution: int


@dataclass(frozen=True)
class LatencyResult(Timed):
    """Timing of one configuration: statistics over ``runs`` single forward passes, all in milliseconds."""

    median_ms: float
    p25_ms: float
    p75_ms: float
    p90_ms: float
    min_ms: float
    mean_ms: float
    ci95_ms: float  # half-width of the median's 95% confidence interval
    runs: int
    warmup_runs: int
    stable: bool  # the median was known to ±1% before the budget ran out
    load_average: float | None  # the machine's 1-minute load when the measurement ended (other work disturbs it)
    times_ms: tuple[float, ...] = field(repr=False)
    knobs: dict[str, Any] = field(default_factory=dict)
    load: MachineLoad | None = None  # what else ran meanwhile (None: not watched)

    @property
    def iqr_ms(self) -> float:
        return self.p75_ms - self.p25_ms

    @property
    def interval_ms(self) -> tuple[float, float]:
        """The spread actually seen: lowest and highest median of the runs' consecutive stretches. Drift within
        the measurement (clock speed, caches, other work) shows here, where the median's confidence interval
        from the IQR assumes independent runs and came out far too narrow for repeat presses."""
        medians = stretch_medians(self.times_ms)
        return min(medians), max(medians)

    @property
    def wide(self) -> bool:
        """The interval is wider than ``WIDE`` of the median: another measurement would tell more."""
        low, high = self.interval_ms
        return high - low > WIDE * self.median_ms

    @property
    def disturbed(self) -> bool:
        """Other work wanted at least ``DISTURBED_CORES`` cores beside the measurement's threads."""
        return self.load is not None and self.load.disturbed

    @property
    def images_per_s(self) -> float:
        return 1000.0 * self.batch / self.median_ms

    def speedup_over(self, baseline: LatencyResult) -> float:
        """How many times faster this median is than ``baseline``'s (2.0: half the time)."""
        return baseline.median_ms / self.median_ms

    @classmethod
    def from_times(cls, times_ms: Sequence[float], *, name: str = "", mode: str = "eager", device: str = "cpu",
                   threads: int = 1, batch: int = 1, resolution: int = 224, warmup_runs: int = 0,
                   knobs: dict[str, Any] | None = None, load_average: float | None = None,
                   precision: float = 0.01, load: MachineLoad | None = None) -> LatencyResult:
        """Statistics of the given per-run times."""
        if not times_ms:
            raise ValueError("no timed runs")
        ordered = sorted(float(t) for t in times_ms)
        median = quantile(ordered, 0.5)
        ci = median_ci95(ordered)
        return cls(name=name, mode=mode, device=device, threads=threads, batch=batch, resolution=resolution,
                   median_ms=median, p25_ms=quantile(ordered, 0.25), p75_ms=quantile(ordered, 0.75),
                   p90_ms=quantile(ordered, 0.9), min_ms=ordered[0], mean_ms=statistics.fmean(ordered),
                   ci95_ms=ci, runs=len(ordered), warmup_runs=warmup_runs,
                   stable=len(ordered) >= 10 and ci <= precision * median, load_average=load_average,
                   times_ms=tuple(float(t) for t in times_ms), knobs=dict(knobs or {}), load=load)


# --------------------------------------------------------------------------------------------------
# arguments, devices, threads


def _check_int(what: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(_("{what}={value!r} is not allowed: it must be a whole number from {low} to {high}").format(
            what=what, value=value, low=low, high=high))
    if not low <= int(value) <= high:
        raise ValueError(_("{what}={value} is not allowed: it must be from {low} to {high}").format(
            what=what, value=int(value), low=low, high=high))
    return int(value)


def _check_run(batch: Any, threads: Any, device: Any, budget_s: Any) -> tuple[int, int | None, torch.device]:
    """The arguments every timing function takes, checked: batch, threads (None = current), device, budget."""
    batch = _check_int("batch", batch, 1, MAX_BATCH)
    if threads is not None:
        threads = _check_int("threads", threads, 1, MAX_THREADS)
    dev = _check_device(device)
    if not (isinstance(budget_s, (int, float)) and 0 < budget_s <= 600):
        raise ValueError(_("budget_s={value!r} is not allowed: it must be a number of seconds from 0 to 600").format(
            value=budget_s))
    return batch, threads, dev


def _check_device(device: Any) -> torch.device:
    text = str(device).strip().lower()
    if not re.fullmatch(r"cpu|cuda(:\d+)?", text):
        raise ValueError(_("unknown device {device!r}: use 'cpu' or 'cuda'").format(device=device))
    dev = torch.device(text)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(_("device='cuda' is not available: this machine's PyTorch sees no CUDA GPU; use 'cpu'"))
        index = dev.index or 0
        if index >= torch.cuda.device_count():
            raise ValueError(_("device={device!r} does not exist: this machine has {n} GPU(s)").format(
                device=device, n=torch.cuda.device_count()))
        dev = torch.device("cuda", index)
    return dev


@functools.cache
def cpu_name() -> str:
    """The processor's marketing name (Linux /proc/cpuinfo), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def device_name(device: str | torch.device = "cpu") -> str:
    """``cpu: <processor>`` or ``cuda: <GPU name>``, as results report it."""
    dev = _check_device(device)
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    return f"cpu: {cpu_name()}"


@contextmanager
def _exclusive(threads: int | None) -> Iterator[int]:
    """Hold the process-wide measurement lock with ``threads`` intra-op threads; restore the setting afterwards."""
    with _LOCK:
        before = torch.get_num_threads()
        used = before if threads is None else threads
        try:
            if used != before:
                torch.set_num_threads(used)
            yield torch.get_num_threads()
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------------------------------
# models of a configuration, cached


@shared_cache(maxsize=8)
def _built(architecture: Config, device: str) -> nn.Module:
    return build(architecture).eval().to(device)


@shared_cache(maxsize=8)  # tracing takes seconds: sessions asking for the same form wait for one trace
def _deployed(architecture: Config, device: str, resolution: int, batch: int) -> nn.Module:
    return optimize_for_inference(_built(architecture, device), resolution=resolution, batch=batch)


def _resolve(target: Config | nn.Module, resolution: int | None, device: torch.device, optimized: bool,
             batch: int) -> tuple[nn.Module, str, dict[str, Any], int]:
    """(model on ``device``, display name, knobs, resolution) for a configuration or a module."""
    if isinstance(target, Config):
        if resolution is not None:
            raise ValueError(_("a configuration carries its resolution: use config.replace(resolution=…)"))
        res = target.resolution
        if optimized:
            model = _deployed(target.architecture, str(device), res, batch)
        else:
            model = _built(target.architecture, str(device))
        return model, target.name, dict(target.knobs), res
    if not isinstance(target, nn.Module):
        raise ValueError(_("expected a lightnets.config(...) or an nn.Module, got {kind}").format(
            kind=type(target).__name__))
    res = _check_int("resolution", 224 if resolution is None else resolution, 8, 4096)
    model = target
    if optimized and not isinstance(model, DeployedModel):
        model = optimize_for_inference(model, resolution=res, batch=batch)
    return model, getattr(target, "name", "") or type(target).__name__, \
        dict(getattr(target, "knobs", {}) or {}), res


def _param_device(model: nn.Module) -> torch.device | None:
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    return None if tensor is None else tensor.device


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """``model`` in eval mode for the duration, put back the way it was (a user's model is not ours to change)."""
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


# --------------------------------------------------------------------------------------------------
# whole-network latency


def _timed_runs(fn: Callable[[], Any], device: torch.device, budget_s: float, min_runs: int, max_runs: int,
                precision: float) -> tuple[list[float], int]:
    """(per-run milliseconds, warm-up runs) of ``fn``; see the module docstring for the stopping rule."""
    start = time.perf_counter()
    warm_until = start + min(0.3, 0.2 * budget_s)
    warmup = 0
    while warmup < 2 or (time.perf_counter() < warm_until and warmup < 50):
        fn()
        warmup += 1
    _sync(device)
    deadline = start + budget_s
    times: list[float] = []
    events = device.type == "cuda"
    gc_was = gc.isenabled()
    gc.disable()  # a collection inside a run would be charged to the model
    try:
        while len(times) < max_runs:
            if events:
                begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                begin.record()
                fn()
                end.record()
                end.synchronize()
                times.append(begin.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1000.0)
            n = len(times)
            if n >= min_runs and time.perf_counter() >= deadline:
                break
            if n >= 30 and n % 10 == 0 and median_ci95(times) <= precision * statistics.median(times):
                break
    finally:
        if gc_was:
            gc.enable()
    return times, warmup


def _cuda_graph(model: nn.Module, x: torch.Tensor) -> tuple[Callable[[], None], Any]:
    """Capture one forward pass of ``model`` on the static input ``x`` as a CUDA graph: (replay, static output).

    A graph replays every kernel with one launch, which removes the CPU launch overhead that dominates
    batch-1 latency of small nets. Replays read ``x`` and overwrite the static output in place. Warm-up runs
    on a side stream first, as capture requires.
    """
    stream = torch.cuda.Stream(device=x.device)
    stream.wait_stream(torch.cuda.current_stream(x.device))
    with torch.cuda.stream(stream):
        for _attempt in range(3):
            model(x)
    torch.cuda.current_stream(x.device).wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = model(x)
    return graph.replay, out


def measure_latency(target: Config | nn.Module, resolution: int | None = None, batch: int = 1,
                    threads: int | None = None, device: str = "cpu", *, optimized: bool = False,
                    cuda_graph: bool = False, budget_s: float = 2.0, min_runs: int = 5, max_runs: int = 5000,
                    precision: float = 0.01) -> LatencyResult:
    """Median latency of one forward pass (batch ``batch``) and its spread.

    ``target`` is a configuration (built with random weights, cached; timed at its resolution) or any
    ``nn.Module`` taking a 3-channel image (at ``resolution``² px, default 224). ``threads``
    defaults to the process's current intra-op thread count. ``optimized`` times the deployment mode
    (``optimize_for_inference``); ``cuda_graph`` replays a captured CUDA graph (``device="cuda"`` only).
    Timing stops after ``budget_s`` seconds (warm-up included, at least ``min_runs`` runs) or once the median is
    known to ±``precision``. Raises ``ValueError`` with one sentence for bad arguments.
    """
    batch, threads, dev = _check_run(batch, threads, device, budget_s)
    min_runs = _check_int("min_runs", min_runs, 1, 100000)
    max_runs = _check_int("max_runs", max_runs, min_runs, 1000000)
    if cuda_graph and dev.type != "cuda":
        raise ValueError(_("cuda_graph=True needs device='cuda': CUDA graphs exist only on NVIDIA GPUs"))
    with _exclusive(threads) as used:
        model, name, full_knobs, res = _resolve(target, resolution, dev, optimized, batch)
        where = _param_device(model)
        if where is not None and where != dev and not isinstance(target, Config):
            raise ValueError(_("the model's weights are on {where}, not on {dev}; move it with .to({name!r})").format(
                where=where, dev=dev, name=str(dev)))
        x = torch.randn(batch, 3, res, res, device=dev)
        with _evaluating(model), torch.inference_mode(), _LoadWatch(used if dev.type == "cpu" else 1) as watch:
            try:
                fn: Callable[[], Any] = _cuda_graph(model, x)[0] if cuda_graph else functools.partial(model, x)
                times, warmup = _timed_runs(fn, dev, float(budget_s), min_runs, max_runs, precision)
            except RuntimeError as err:
                raise ValueError(_("{name} cannot run on a {batch}×3×{res}×{res} input: {why}").format(
                    name=name, batch=batch, res=res, why=str(err).splitlines()[0])) from None
        mode = "cuda graph" if cuda_graph else "optimized" if optimized else "eager"
        return LatencyResult.from_times(times, name=name, mode=mode, device=device_name(dev), threads=used,
                                        batch=batch, resolution=res, warmup_runs=warmup, knobs=full_knobs,
                                        load_average=_load_average(), precision=precision, load=watch.load())


@dataclass(frozen=True)
class Interleaved:
    """Several models timed in alternation, round after round, so that whatever else the machine does in a moment
    hits all of them alike: the fair way to compare two latencies on a shared machine."""

    results: tuple[LatencyResult, ...]  # one per target, every run of every round pooled
    round_medians: tuple[tuple[float, ...], ...]  # [target][round], ms

    @property
    def rounds(self) -> int:
        return len(self.round_medians[0]) if self.round_medians else 0

    def ratios(self, i: int, j: int) -> list[float]:
        """Per round, target ``i``'s median over target ``j``'s (2.0: ``i`` takes twice as long)."""
        return [a / b for a, b in zip(self.round_medians[i], self.round_medians[j])]

    def ratio(self, i: int, j: int) -> float:
        """The median over rounds of ``ratios(i, j)``."""
        return statistics.median(self.ratios(i, j))


def measure_interleaved(targets: Sequence[Config | nn.Module], rounds: int = 5, budget_s: float = 0.3,
                        batch: int = 1, threads: int | None = None, device: str = "cpu", *,
                        resolution: int | None = None, optimized: bool = False,
                        min_runs: int = 5, inputs: Sequence[torch.Tensor] | None = None) -> Interleaved:
    """Time ``targets`` (configurations or modules) in alternation: every round times each once, for
    ``budget_s`` seconds (at least ``min_runs`` runs), the order rotating from round to round.

    ``inputs`` gives each target its own input tensor (default: a random batch×3×resolution² image at the
    target's resolution). The whole run is one measurement: it holds the process-wide lock throughout.
    """
    batch, threads, dev = _check_run(batch, threads, device, budget_s)
    rounds = _check_int("rounds", rounds, 1, 1000)
    min_runs = _check_int("min_runs", min_runs, 1, 100000)
    if not targets:
        raise ValueError(_("nothing to time: give at least one model"))
    if inputs is not None and len(inputs) != len(targets):
        raise ValueError(_("{inputs} inputs for {models} models").format(inputs=len(inputs), models=len(targets)))
    with _exclusive(threads) as used:
        resolved = [_resolve(t, resolution, dev, optimized, batch) for t in targets]
        fns = []
        for k, (model, _name, _knobs, res) in enumerate(resolved):
            x = inputs[k].to(dev) if inputs is not None else torch.randn(batch, 3, res, res, device=dev)
            fns.append(functools.partial(model, x))
        times: list[list[float]] = [[] for _ in targets]
        medians: list[list[float]] = [[] for _ in targets]
        warmups = [0] * len(targets)
        models = [m for m, *_ in resolved]
        with contextlib.ExitStack() as stack, torch.inference_mode():
            for model in models:
                stack.enter_context(_evaluating(model))
            for r in range(rounds):
                for k in [(r + i) % len(targets) for i in range(len(targets))]:
                    try:
                        run, warm = _timed_runs(fns[k], dev, float(budget_s), min_runs, 100000, precision=0.0)
                    except RuntimeError as err:
                        raise ValueError(_("{name} cannot run: {why}").format(
                            name=resolved[k][1], why=str(err).splitlines()[0])) from None
                    times[k] += run
                    medians[k].append(statistics.median(run))
                    warmups[k] += warm
        mode = "optimized" if optimized else "eager"
        load = _load_average()
        results = tuple(LatencyResult.from_times(times[k], name=name, mode=mode, device=device_name(dev),
                                                 threads=used, batch=batch, resolution=res, warmup_runs=warmups[k],
                                                 knobs=knobs, load_average=load)
                        for k, (_, name, knobs, res) in enumerate(resolved))
    return Interleaved(results, tuple(tuple(m) for m in medians))


# --------------------------------------------------------------------------------------------------
# timing every operator in place


@dataclass(frozen=True)
class _TensorSpec:
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: torch.dtype

    def text(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        layout = ""
        if len(self.shape) == 4 and not _is_contiguous(self.shape, self.stride):
            layout = ":cl" if self.stride == _channels_last_strides(self.shape) else f":s{list(self.stride)}"
        return f"{dtype}{list(self.shape)}{layout}"

    def make(self, device: torch.device) -> torch.Tensor:
        """A tensor of this shape, stride and dtype with harmless values (positive: no NaN from sqrt or log)."""
        size = 1 + sum((s - 1) * st for s, st in zip(self.shape, self.stride)) if all(self.shape) else 0
        if self.dtype.is_floating_point:
            base = torch.rand(size, device=device).mul_(0.9).add_(0.1).to(self.dtype)
        else:
            base = torch.zeros(size, dtype=self.dtype, device=device)
        return base.as_strided(self.shape, self.stride)


def _is_contiguous(shape: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    expected = 1
    for size, st in reversed(list(zip(shape, stride))):
        if size != 1 and st != expected:
            return False
        expected *= size
    return True


def _channels_last_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    n, c, h, w = shape
    return (h * w * c, 1, w * c, c)


def _spec_of(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return _TensorSpec(tuple(value.shape), tuple(value.stride()), value.dtype)
    return value


def _op_key(func: Any, specs: Any) -> str:
    """The lookup-table key of one operator call: the ATen overload and every argument (shapes, kernel, stride…)."""
    args, kwargs = specs
    parts = [a.text() if isinstance(a, _TensorSpec) else _arg_text(a) for a in args]
    parts += [f"{k}={_arg_text(v)}" for k, v in sorted(kwargs.items())]
    return f"{func}({', '.join(parts)})"


def _arg_text(value: Any) -> str:
    if isinstance(value, _TensorSpec):
        return value.text()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_arg_text(v) for v in value) + "]"
    return repr(value)


@dataclass
class _OpCall:
    module: str  # qualified name of the innermost module running the op
    func: Any
    out_shape: tuple[int, ...]
    specs: Any  # (args, kwargs) with tensors replaced by _TensorSpec, for the lookup table

    @property
    def key(self) -> str:
        return _op_key(self.func, self.specs)


class _OpClock(TorchDispatchMode):
    """Times every ATen call of a forward pass; on the first pass also records what each call was."""

    def __init__(self, device: torch.device) -> None:
        super().__init__()
        self.device = device
        self.stack: list[str] = [""]
        self.calls: list[_OpCall] | None = None  # filled on the recording pass
        self.times: list[float] = []
        self.module_calls = 0  # nn.Module calls seen by the module stack (each costs Python time in eager mode)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D105
        kwargs = kwargs or {}
        cuda = self.device.type == "cuda"
        if cuda:
            torch.cuda.synchronize(self.device)
        t0 = time.perf_counter()
        out = func(*args, **kwargs)
        if cuda:
            torch.cuda.synchronize(self.device)
        self.times.append((time.perf_counter() - t0) * 1000.0)
        if self.calls is not None:
            outs = [t for t in pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]
            self.calls.append(_OpCall(self.stack[-1], func, tuple(outs[0].shape) if outs else (),
                                      pytree.tree_map(_spec_of, (tuple(args), dict(kwargs)))))
        return out


@contextmanager
def _module_stack(model: nn.Module, clock: _OpClock) -> Iterator[None]:
    """Keep ``clock.stack`` naming the innermost module running, through forward hooks."""
    def enter(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any) -> None:
            clock.stack.append(name)
            clock.module_calls += 1
        return hook

    def leave(module: nn.Module, args: Any, output: Any) -> None:  # returns None: the output stays untouched
        clock.stack.pop()

    handles = []
    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_pre_hook(enter(name)))
            handles.append(module.register_forward_hook(leave))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _eager_of(model: nn.Module) -> nn.Module:
    """The eager module to instrument: the folded channels_last model inside a deployed one, else the model."""
    return model.eager if isinstance(model, DeployedModel) else model


def _clocked_runs(model: nn.Module, x: torch.Tensor, device: torch.device, budget_s: float,
                  min_runs: int) -> tuple[list[_OpCall], list[list[float]]]:
    """Run ``model`` under the op clock until the budget is spent: (the op calls, per-run op times)."""
    eager = _eager_of(model)
    clock = _OpClock(device)
    feed = channels_last(x) if isinstance(model, DeployedModel) else x
    runs: list[list[float]] = []
    with _evaluating(eager), torch.inference_mode(), _module_stack(eager, clock):
        eager(feed)  # warm-up outside the clock
        calls: list[_OpCall] = []
        clock.calls = calls  # the first clocked pass also records what each call is
        deadline = time.perf_counter() + budget_s
        while len(runs) < min_runs or (time.perf_counter() < deadline and len(runs) < 1000):
            clock.times = []
            with clock:
                eager(feed)
            clock.calls = None
            if len(clock.times) != len(calls):
                raise RuntimeError(_("the network ran a different sequence of operators on a later pass"))
            runs.append(clock.times)
    return calls, runs


@dataclass(frozen=True)
class LayerTime:
    """One row of ``lightnets.profile`` with its measured time (median over passes; 0 for a folded op)."""

    name: str
    block: str
    stage: str
    op: str
    output_shape: tuple[int, ...]
    macs: int
    elementwise: int
    mem_bytes: int
    time_ms: float
    timed: bool  # False where the op did not run (BatchNorm folded into its conv in deployment mode)


@dataclass(frozen=True)
class BlockTime:
    path: str
    label: str
    kind: str
    stage: str
    macs: int
    time_ms: float


@dataclass(frozen=True)
class LayerLatency(Timed):
    """Where the time goes: per-operator times aligned with ``lightnets.profile``'s rows and blocks."""

    runs: int  # instrumented forward passes the per-op medians come from
    rows: tuple[LayerTime, ...] = field(repr=False)
    blocks: tuple[BlockTime, ...] = field(repr=False)
    unattributed_ms: float  # ops outside the profile's rows (views, layout conversion)
    measured: LatencyResult | None  # the whole network timed without instrumentation

    @property
    def ops_ms(self) -> float:
        """Sum of the operators' own times."""
        return sum(r.time_ms for r in self.rows) + self.unattributed_ms

    @property
    def overhead_ms(self) -> float | None:
        """Measured end-to-end time not spent inside operators: Python, dispatch, allocation."""
        return None if self.measured is None else self.measured.median_ms - self.ops_ms

    def by_kind(self) -> dict[str, tuple[int, float]]:
        """op kind → (MACs, milliseconds), in the order kinds first appear."""
        out: dict[str, list[float]] = {}
        for row in self.rows:
            entry = out.setdefault(row.op, [0, 0.0])
            entry[0] += row.macs
            entry[1] += row.time_ms
        return {kind: (int(m), t) for kind, (m, t) in out.items()}

    def shares(self) -> dict[str, tuple[float, float]]:
        """op kind → (share of the MACs, share of the operator time), as fractions of the profile's rows."""
        kinds = self.by_kind()
        macs = sum(m for m, _ in kinds.values())
        total = sum(t for _, t in kinds.values())
        return {kind: (m / macs if macs else 0.0, t / total if total else 0.0) for kind, (m, t) in kinds.items()}


def layer_latency(target: Config | nn.Module, resolution: int | None = None, batch: int = 1,
                  threads: int | None = None, device: str = "cpu", *, optimized: bool = False,
                  budget_s: float = 1.5, min_runs: int = 3, end_to_end: bool = True) -> LayerLatency:
    """Time of every operator of ``lightnets.profile``'s rows, measured in place in real forward passes.

    Method: the network runs under a dispatch mode that reads a clock just before and just after each ATen
    kernel call (CUDA: synchronising around it), with forward hooks naming the module that runs it, repeatedly
    for ``budget_s`` seconds; each op's time is its median over the passes. The ops are matched in execution
    order to the profile's rows (same module, same output shape), so ``rows[i]`` is ``profile.layers[i]``.
    An op's time includes the few microseconds PyTorch needs to dispatch it (what it costs in eager mode),
    not the Python between ops; that remainder is ``overhead_ms`` against the uninstrumented measurement
    (``end_to_end``). In deployment mode (``optimized``) the folded channels_last eager network is timed, and
    folded BatchNorm rows take no time.
    """
    batch, threads, dev = _check_run(batch, threads, device, budget_s)
    from lightnets.cost import profile

    with _exclusive(threads) as used:
        model, name, full_knobs, res = _resolve(target, resolution, dev, optimized, batch)
        prof = profile(target) if isinstance(target, Config) else profile(
            target.eager if isinstance(target, DeployedModel) else target, res)
        x = torch.randn(batch, 3, res, res, device=dev)
        calls, runs = _clocked_runs(model, x, dev, float(budget_s), min_runs)
        medians = [statistics.median(col) for col in zip(*runs)]
        rows, used_calls = _align(prof, calls, medians)
        unattributed = sum(t for i, t in enumerate(medians) if i not in used_calls)
        measured = measure_latency(model, res, batch, used, str(dev), optimized=optimized,
                                   budget_s=max(0.5, budget_s * 0.6)) if end_to_end else None
    return LayerLatency(name=name, mode="optimized" if optimized else "eager", device=device_name(dev),
                        threads=used, batch=batch, resolution=res, runs=len(runs), rows=rows,
                        blocks=_block_times(prof, rows), unattributed_ms=unattributed, measured=measured)


def _align(prof: Any, calls: list[_OpCall], medians: list[float]) -> tuple[tuple[LayerTime, ...], set[int]]:
    """Match profile rows to timed calls in execution order (same module name, same output shape but batch)."""
    rows: list[LayerTime] = []
    used: set[int] = set()
    pointer = 0
    for layer in prof.layers:
        found = None
        for j in range(pointer, min(len(calls), pointer + 64)):
            if calls[j].module == layer.name and calls[j].out_shape[1:] == tuple(layer.output_shape[1:]):
                found = j
                break
        if found is not None:
            used.add(found)
            pointer = found + 1
        rows.append(LayerTime(name=layer.name, block=layer.block, stage=layer.stage, op=layer.op,
                              output_shape=tuple(layer.output_shape), macs=layer.macs, elementwise=layer.elementwise,
                              mem_bytes=layer.mem_bytes, time_ms=medians[found] if found is not None else 0.0,
                              timed=found is not None))
    return tuple(rows), used


def _block_times(prof: Any, rows: tuple[LayerTime, ...]) -> tuple[BlockTime, ...]:
    per_block: dict[str, float] = defaultdict(float)
    for row in rows:
        per_block[row.block] += row.time_ms
    return tuple(BlockTime(path=b.path, label=b.label, kind=b.kind, stage=b.stage, macs=b.macs,
                           time_ms=per_block.get(b.path, 0.0)) for b in prof.blocks)


# --------------------------------------------------------------------------------------------------
# the latency lookup table (FBNet)


def cache_dir() -> Path:
    """Where measured tables live: ``$LIGHTNETS_CACHE_DIR``, else ``$XDG_CACHE_HOME/lightnets``, else ~/.cache."""
    if os.environ.get("LIGHTNETS_CACHE_DIR"):
        return Path(os.environ["LIGHTNETS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lightnets"


class LatencyTable:
    """Per-operator latencies of one device at one thread count, persisted as JSON, with the calibrated dispatch
    cost between operators.

    An entry is keyed by the operator call (``aten.convolution.default(float32[1, 32, 112, 112], …, [2, 2],
    …, 32)``: op, shapes, layout, kernel, stride, padding, groups) and holds its median time in ms, measured
    alone on random data, with the machine's load average at that moment in ``loads``. An entry timed while other
    work competed for the processor (``busy``: the load average above the number of cores, or its runs spread
    wider than ``QUIET_SPREAD``) is marked: it never replaces a quiet entry; one timed under a high load
    (``under_load``) is timed again by ``predict_latency`` as soon as the machine is quiet. ``dispatch`` holds
    the calibrated per-call costs (``DispatchCost``). A table belongs to one device, thread count and PyTorch
    version; a file written by another version is ignored.
    """

    # 2: entries timed with cold caches; 3: busy marks and the calibrated dispatch cost; 4: one cost per eager call,
    # calibrated on five references, none per TorchScript node
    VERSION = 4

    def __init__(self, device: str, threads: int, path: Path | None = None,
                 entries: dict[str, float] | None = None, loads: dict[str, float | None] | None = None,
                 busy: set[str] | None = None, dispatch: DispatchCost | None = None,
                 under_load: set[str] | None = None) -> None:
        self.device = device
        self.threads = threads
        self.torch = torch.__version__
        self.path = path
        self.entries: dict[str, float] = dict(entries or {})
        self.loads: dict[str, float | None] = {k: (loads or {}).get(k) for k in self.entries}
        self.busy: set[str] = set(busy or ()) & set(self.entries)
        # the busy entries timed while the load average was high: these are timed again once it is quiet. Entries
        # marked busy only by their own spread stay as they are (timing them again gives another spread, and a
        # prediction that changes from one call to the next); predictions count both in ``busy_entries``.
        self.under_load: set[str] = set(under_load or ()) & self.busy
        self.dispatch = dispatch

    @classmethod
    def default_path(cls, device: str, threads: int) -> Path:
        digest = hashlib.sha1(f"{device}|{threads}|{torch.__version__}".encode()).hexdigest()[:10]
        slug = re.sub(r"[^a-z0-9]+", "-", device.lower()).strip("-")[:40]
        return cache_dir() / f"latency-table-{slug}-{threads}t-{digest}.json"

    @classmethod
    def load(cls, device: str, threads: int, path: Path | str | None = None) -> LatencyTable:
        """The table stored at ``path`` (default: the user cache), or an empty one if none matches."""
        where = Path(path) if path is not None else cls.default_path(device, threads)
        try:
            data = json.loads(where.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(device, threads, where)
        same = (isinstance(data, dict) and data.get("version") == cls.VERSION and data.get("device") == device
                and data.get("threads") == threads and data.get("torch") == torch.__version__)
        if not same:
            return cls(device, threads, where)
        try:
            entries = {str(k): float(v) for k, v in data.get("entries", {}).items()}
            dispatch = DispatchCost(**data["dispatch"]) if data.get("dispatch") else None
            return cls(device, threads, where, entries, data.get("loads", {}), set(data.get("busy", ())), dispatch,
                       set(data.get("under_load", ())))
        except (TypeError, ValueError, AttributeError):  # a damaged file: start afresh rather than fail
            return cls(device, threads, where)

    def add(self, key: str, ms: float, load: float | None, busy: bool = False, under_load: bool = False) -> bool:
        """Store an entry; one timed while the machine was busy does not replace a quiet one (False then).
        ``under_load``: busy because the load average was high (it is timed again when the machine is quiet)."""
        busy = busy or under_load
        if busy and key in self.entries and key not in self.busy:
            return False
        self.entries[key] = ms
        self.loads[key] = load
        if busy:
            self.busy.add(key)
        else:
            self.busy.discard(key)
        if under_load:
            self.under_load.add(key)
        else:
            self.under_load.discard(key)
        return True

    def quiet(self, key: str) -> bool:
        return key in self.entries and key not in self.busy

    def save(self) -> None:
        """Write the table atomically (a reader never sees half a file), keeping entries another process added
        (and its quiet entries over our busy ones)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        on_disk = LatencyTable.load(self.device, self.threads, self.path)
        for key, ms in on_disk.entries.items():
            if key not in self.entries or (key in self.busy and on_disk.quiet(key)):
                self.add(key, ms, on_disk.loads.get(key), key in on_disk.busy, key in on_disk.under_load)
        if self.dispatch is None or (self.dispatch.busy and on_disk.dispatch is not None and not on_disk.dispatch.busy):
            self.dispatch = on_disk.dispatch
        keys = sorted(self.entries)
        data = {"version": self.VERSION, "device": self.device, "threads": self.threads, "torch": self.torch,
                "entries": {k: self.entries[k] for k in keys}, "loads": {k: self.loads.get(k) for k in keys},
                "busy": sorted(self.busy), "under_load": sorted(self.under_load),
                "dispatch": asdict(self.dispatch) if self.dispatch else None}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".latency-table-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=0)
        os.replace(tmp, self.path)

    def __len__(self) -> int:
        return len(self.entries)

    def predict(self, keys: Sequence[str]) -> float:
        """Sum of the entries of ``keys`` (one per operator call, repeats included); KeyError if one is missing."""
        return sum(self.entries[k] for k in keys)


COLD_BYTES = 48 * 2**20  # more than this machine's 32 MB last-level cache (and most CPUs')
# An entry is timed in BURSTS short bursts and keeps the fastest burst's median; bursts this far apart mean other
# work interrupted the timing
BURSTS = 3
QUIET_SPREAD = 1.5


def machine_busy(load: float | None = None) -> bool:
    """Whether other work competes for the processor now: the 1-minute load average above the number of cores
    (plus a half, for the measuring process's own threads)."""
    load = _load_average() if load is None else load
    return load is not None and load > (os.cpu_count() or 1) + 0.5


def _time_alone(call: _OpCall, device: torch.device, budget_s: float = 0.01, min_runs: int = 5,
                cold: bool = True) -> tuple[float, float]:
    """(median ms, spread) of one operator call replayed alone on fresh random tensors of the recorded shapes: the
    fastest of ``BURSTS`` bursts' medians, and the slowest burst's median over it.

    Replaying one call on the same tensors keeps its weights and inputs in cache, which a network's forward
    pass never does for its weights (each is read once per image). With ``cold``, the replays cycle through
    enough copies of the arguments (up to 32) to overflow the cache, so each replay reads from memory.
    """
    first = pytree.tree_map(lambda v: v.make(device) if isinstance(v, _TensorSpec) else v, call.specs,
                            is_leaf=lambda v: isinstance(v, _TensorSpec))
    size = sum(t.numel() * t.element_size() for t in pytree.tree_leaves(first) if isinstance(t, torch.Tensor))
    extra = min(31, COLD_BYTES // max(size, 1)) if cold else 0
    copies = [first] + [pytree.tree_map(lambda v: v.clone() if isinstance(v, torch.Tensor) else v, first)
                        for _ in range(extra)]
    for args, kwargs in copies[:2]:
        call.func(*args, **kwargs)
    medians: list[float] = []
    done = 0
    for _burst in range(BURSTS):  # other work only ever adds time: keep the best burst's median
        times: list[float] = []
        deadline = time.perf_counter() + budget_s / BURSTS
        while len(times) < min_runs or (time.perf_counter() < deadline and len(times) < 200):
            args, kwargs = copies[done % len(copies)]
            done += 1
            _sync(device)
            t0 = time.perf_counter()
            call.func(*args, **kwargs)
            _sync(device)
            times.append((time.perf_counter() - t0) * 1000.0)
        medians.append(statistics.median(times))
    best = min(medians)
    return best, (max(medians) / best if best > 0 else 1.0)


def _fill(table: LatencyTable, calls: Sequence[_OpCall], device: torch.device, refresh: bool) -> int:
    """Time the distinct calls the table lacks (all with ``refresh``; busy ones again when the machine is quiet);
    returns how many were timed. Each entry is marked busy where the load or its own spread says so."""
    quiet_now = not machine_busy()
    timed: set[str] = set()
    with torch.inference_mode():
        for call in calls:
            key = call.key
            if key in timed:
                continue
            if refresh or key not in table.entries or (quiet_now and key in table.under_load):
                ms, spread = _time_alone(call, device)
                load = _load_average()
                table.add(key, ms, load, ms > 0.02 and spread > QUIET_SPREAD, under_load=machine_busy(load))
                timed.add(key)
    return len(timed)


# --------------------------------------------------------------------------------------------------
# the cost between operators, calibrated on this machine


@dataclass(frozen=True)
class DispatchCost:
    """What an eager forward pass costs beyond its operators' entries, per operator or ``nn.Module`` call, in
    microseconds, on this machine (``call_us``): the Python between operators, and what an operator costs inside a
    network beyond its entry timed alone. Calibrated by ``calibrate_dispatch`` on the reference networks, whose
    own figures are kept in ``reference_call_us``. A frozen TorchScript graph runs no Python between its operators
    and is predicted from its entries alone: measured on the references, (frozen − entries) per node came out
    negative or near 0 at 1 and 2 threads in every calibration (benchmarks/README.md)."""

    call_us: float
    load: float | None = None
    busy: bool = False
    under_load: bool = False  # busy because the load average was high: calibrated again once it is quiet
    reference_call_us: tuple[float, ...] = ()

    def __post_init__(self) -> None:  # read back from JSON, the references' figures are a list
        object.__setattr__(self, "reference_call_us", tuple(float(v) for v in self.reference_call_us))

    def cost_ms(self, form: str, calls: int, modules: int) -> float:
        """The dispatch time of ``calls`` operator calls and ``modules`` module calls in ``form``."""
        if form == "script":
            return 0.0
        return (calls + modules) * self.call_us / 1000.0


# The reference networks the per-call cost is calibrated on: real networks at the default resolution (between a
# small one's calls the interpreter's code and data stay in cache: MobileNetV2 α 0.5 at 160 px gave 2.8 µs a call
# where the registered networks needed 4.5–11.5 on one machine), of five families' styles, none a registered
# model's default setting, so that predictions of those are out of sample. Each reference's figure moves by a few
# µs from one calibration to the next, and networks differ by more (7–35 µs measured here): the median of five
# is kept.
REFERENCES = (("mobilenet_v2", {"alpha": 0.75}, 224), ("shufflenet_v2", {"width": 0.5}, 224),
              ("ghostnet", {"width": 0.5}, 224), ("mobilenet_v3_large", {"alpha": 0.75}, 224),
              ("espnet_v2", {"scale": 0.5}, 224))
# A calibration counts as disturbed when more than this share of the references' entries were (a few µs-scale
# entries whose bursts disagree by 1.5x are usual on a quiet machine and move the sums by far less than 1%)
BUSY_SHARE = 0.05
CALIBRATION_ROUNDS, CALIBRATION_ROUND_S = 5, 0.2  # each reference's eager pass: five rounds of 0.2 s
_CALIBRATED: dict[tuple[str, int], DispatchCost] = {}  # per process: fresh tables need not calibrate again


def _reference_call_us(name: str, knobs: dict[str, Any], res: int, scratch: LatencyTable, device: torch.device
                       ) -> float:
    """(eager − its entries' sum) / (operator + module calls) of one reference network, in µs: the eager pass
    timed as ``measure_latency`` times a network (the median of ``CALIBRATION_ROUNDS`` round medians)."""
    from lightnets.registry import config as make_config

    eager = build(make_config(name, res, **knobs)).eval().to(device)
    x = torch.randn(1, 3, res, res, device=device)
    calls, modules = _recorded(eager, x, device, script=False)
    _fill(scratch, calls, device, refresh=False)
    entries = sum(scratch.entries[c.key] for c in calls)
    with torch.inference_mode():
        rounds = [statistics.median(_timed_runs(functools.partial(eager, x), device, CALIBRATION_ROUND_S, 5, 5000,
                                                0.0)[0]) for _round in range(CALIBRATION_ROUNDS)]
    return 1000 * (statistics.median(rounds) - entries) / (len(calls) + modules)


def calibrate_dispatch(table: LatencyTable, device: torch.device) -> DispatchCost:
    """Measure the per-call cost (``DispatchCost``) on this machine, store it in ``table`` and return it: the
    median over ``REFERENCES`` of each one's (eager − entries) per call. The references' entries go to a scratch
    table: they stay out of ``table``. Call with the measurement lock held at the table's thread count."""
    scratch = LatencyTable(table.device, table.threads)
    per_call = [_reference_call_us(name, knobs, res, scratch, device) for name, knobs, res in REFERENCES]
    load = _load_average()
    under_load = machine_busy(load) or bool(scratch.under_load)
    disturbed = len(scratch.busy) > BUSY_SHARE * len(scratch.entries)
    cost = DispatchCost(round(statistics.median(per_call), 3), load, under_load or disturbed, under_load,
                        tuple(round(v, 3) for v in per_call))
    _CALIBRATED[(table.device, table.threads)] = cost
    if table.dispatch is None or table.dispatch.busy or not cost.busy:
        table.dispatch = cost
    return table.dispatch


def _dispatch(table: LatencyTable, device: torch.device, refresh: bool) -> DispatchCost:
    """The table's dispatch cost, calibrated now if it has none, if ``refresh``, or if it was calibrated under
    a high load and the machine is quiet now."""
    cost = table.dispatch
    if cost is None and not refresh:
        known = _CALIBRATED.get((table.device, table.threads))
        if known is not None and not (known.under_load and not machine_busy()):
            table.dispatch = cost = known
    if cost is None or refresh or (cost.under_load and not machine_busy()):
        cost = calibrate_dispatch(table, device)
    return cost


# --------------------------------------------------------------------------------------------------
# predictions


def _recorded(model: nn.Module, x: torch.Tensor, device: torch.device, script: bool | None = None
              ) -> tuple[list[_OpCall], int]:
    """(the operator calls one forward pass of ``model`` makes, the nn.Module calls it makes, root included).

    A deployed model with its frozen trace (or ``script=True``) is recorded as it runs, trace and all: its graph's
    operators, no module calls. Otherwise the eager module is recorded with its module calls."""
    if script is None:
        script = isinstance(model, DeployedModel) and model.scripted is not None and \
            tuple(x.shape) == model.example_shape
    if script:
        runner = model.scripted if isinstance(model, DeployedModel) else model
        clock = _OpClock(device)
        with torch.inference_mode():
            for _warm in range(3):  # TorchScript's profiling executor settles its graph during the first calls
                runner(x)
            clock.calls = []
            with clock:
                runner(x)
        return clock.calls, 0
    eager = _eager_of(model)
    clock = _OpClock(device)
    feed = channels_last(x) if isinstance(model, DeployedModel) else x
    with _evaluating(eager), torch.inference_mode(), _module_stack(eager, clock):
        eager(feed)  # warm-up outside the clock
        clock.calls, clock.module_calls = [], 0
        with clock:
            eager(feed)
    return clock.calls, clock.module_calls + 1


@dataclass(frozen=True)
class OpEstimate:
    module: str
    key: str
    ms: float


@dataclass(frozen=True)
class LatencyPrediction(Timed):
    """A network's latency predicted from the lookup table: its operators' entries plus the calibrated dispatch
    cost of its calls (``ops_ms + dispatch_ms``)."""

    predicted_ms: float
    ops: tuple[OpEstimate, ...] = field(repr=False)
    new_entries: int  # operators measured for this prediction (the rest came from the table)
    table_entries: int
    table_path: str | None
    max_load: float | None = None  # highest load average while any entry used here was timed
    ops_ms: float | None = None  # the sum of the operators' entries
    dispatch_ms: float = 0.0  # calls × the calibrated cost per call
    module_calls: int = 0  # nn.Module calls of one pass (eager form)
    form: str = "eager"  # "eager" (Python calls modules and operators) or "script" (a frozen TorchScript graph)
    busy_entries: int = 0  # distinct entries used here that were timed while the machine was busy
    dispatch: DispatchCost | None = None  # the eager form's calibrated cost per call (None for the script form)

    @property
    def trusted(self) -> bool:
        """Every entry and the dispatch cost were timed on a quiet machine."""
        return self.busy_entries == 0 and not (self.dispatch is not None and self.dispatch.busy)

    def error(self, measured_ms: float) -> float:
        """Relative error of the prediction against a measurement: (predicted − measured) / measured."""
        if measured_ms <= 0:
            raise ValueError(_("a measured latency must be positive"))
        return (self.predicted_ms - measured_ms) / measured_ms


def predict_latency(target: Config | nn.Module, resolution: int | None = None, batch: int = 1,
                    threads: int | None = None, device: str = "cpu", *, optimized: bool = False,
                    table: LatencyTable | None = None, save: bool = True, refresh: bool = False
                    ) -> LatencyPrediction:
    """Predicted latency from the per-device lookup table, timing (and storing) only operators it lacks.

    The network runs once to list its operator calls: the eager network's (and how many modules it calls), or in
    deployment mode the frozen TorchScript graph's, as it runs. Each call not yet in the table is timed alone on
    random inputs of its shapes, cycling through copies of them so that its weights come from memory as they do
    in a network (a replay on one hot copy came out about half as long). The prediction is the sum over all
    calls, plus in eager mode the calibrated cost per operator or module call (``DispatchCost``). Entries timed
    under a high load are timed again when the machine is quiet; the prediction counts every busy entry (load or
    spread) in ``busy_entries``. ``table`` defaults to the one stored for this device and thread count in
    ``cache_dir()``; ``refresh`` times this network's operators and the dispatch cost again.
    """
    batch = _check_int("batch", batch, 1, MAX_BATCH)
    if threads is not None:
        threads = _check_int("threads", threads, 1, MAX_THREADS)
    dev = _check_device(device)
    with _exclusive(threads) as used:
        model, name, _knobs, res = _resolve(target, resolution, dev, optimized, batch)
        where = device_name(dev)
        if table is None:
            table = LatencyTable.load(where, used)
        elif (table.device, table.threads) != (where, used):
            raise ValueError(_("the table was measured on {device} with {threads} thread(s), not on {where} with "
                               "{used}").format(device=table.device, threads=table.threads, where=where, used=used))
        x = torch.randn(batch, 3, res, res, device=dev)
        with _evaluating(_eager_of(model)):
            calls, modules = _recorded(model, x, dev)
        form = "eager" if modules else "script"
        before = table.dispatch
        new = _fill(table, calls, dev, refresh)
        # the deployment form has no Python between its operators: it needs no calibration (about 15 s)
        dispatch = _dispatch(table, dev, refresh) if form == "eager" else None
        if save and (new or dispatch is not before):
            table.save()
        ops = tuple(OpEstimate(c.module, c.key, table.entries[c.key]) for c in calls)
        keys = {c.key for c in calls}
        loads = [table.loads.get(k) for k in keys]
        ops_ms = sum(o.ms for o in ops)
        overhead = dispatch.cost_ms(form, len(calls), modules) if dispatch is not None else 0.0
    return LatencyPrediction(name=name, mode="optimized" if optimized else "eager", device=where, threads=used,
                             batch=batch, resolution=res, predicted_ms=ops_ms + overhead, ops=ops,
                             new_entries=new, table_entries=len(table), table_path=str(table.path or "") or None,
                             max_load=max((v for v in loads if v is not None), default=None), ops_ms=ops_ms,
                             dispatch_ms=overhead, module_calls=modules, form=form,
                             busy_entries=len(keys & table.busy), dispatch=dispatch)


def predict_module(module: nn.Module, example: torch.Tensor, table: LatencyTable, device: str = "cpu", *,
                   optimized: bool = False) -> tuple[float, int]:
    """Predicted time of one call ``module(example)`` from ``table`` (timing what it lacks, not saving):
    (ms, entries timed now). The parts of a network add up to the network: in eager mode a block's prediction
    counts its own module call, as the network's pass does; ``optimized`` predicts the block in deployment mode
    (BatchNorm folded, channels_last, on CPU a frozen trace: its graph's entries alone), as ``predict_latency``
    does the whole network. For searches that change a few blocks at a time (NetAdapt)."""
    dev = _check_device(device)
    with _exclusive(table.threads):
        if table.device != device_name(dev):
            raise ValueError(f"the table was measured on {table.device}, not on {device_name(dev)}")
        if optimized:
            example = channels_last(example)  # as feature maps travel through the deployed network
            module = _deploy(module, example, "auto", check=False)
        with _evaluating(_eager_of(module)):
            calls, modules = _recorded(module, example, dev, script=None if optimized else False)
        new = _fill(table, calls, dev, refresh=False)
        ms = sum(table.entries[c.key] for c in calls)
        if modules:  # eager (a frozen graph's operators run with no Python between them)
            ms += _dispatch(table, dev, refresh=False).cost_ms("eager", len(calls), modules)
        return ms, new


# --------------------------------------------------------------------------------------------------
# deployment mode


def _runs_in_order(module: nn.Module) -> bool:
    """True if ``module`` feeds each child's output to the next child only (a plain Sequential chain)."""
    return type(module).forward is nn.Sequential.forward or isinstance(module, Network)


def _sequential_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """(conv, BN) names of adjacent children of containers that run their children in order."""
    pairs = []
    for prefix, module in model.named_modules():
        if not _runs_in_order(module):
            continue
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            if isinstance(module._modules[first], nn.Conv2d) and isinstance(module._modules[second], nn.BatchNorm2d):
                pairs.append((f"{prefix}.{first}" if prefix else first, f"{prefix}.{second}" if prefix else second))
    return pairs


def _dataflow_pairs(model: nn.Module, example: torch.Tensor) -> list[tuple[str, str]]:
    """(conv, BN) names where, in a real forward pass, a BN's input is a conv's output and nothing else reads it.

    Needed for blocks that call ``self.bn(self.conv(x))`` in their own ``forward`` (EfficientNet's MBConv,
    GhostNet's stride-2 bottleneck): attribute order says nothing about data flow there, the run does. A conv
    or BN called more than once (shared weights) is left alone.
    """
    stack = [""]
    produced: dict[str, list[torch.Tensor]] = defaultdict(list)
    fed: dict[str, list[torch.Tensor]] = defaultdict(list)
    readers: dict[int, set[str]] = defaultdict(set)
    alive: list[torch.Tensor] = []  # keeps every seen tensor alive, so an id() cannot be reused mid-pass

    class Readers(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D105
            for t in pytree.tree_leaves((args, kwargs or {})):
                if isinstance(t, torch.Tensor):
                    readers[id(t)].add(stack[-1])
                    alive.append(t)
            return func(*args, **(kwargs or {}))

    def enter(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any) -> None:
            stack.append(name)
            if isinstance(module, nn.BatchNorm2d) and args:
                fed[name].append(args[0])
        return hook

    def leave(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            stack.pop()
            if isinstance(module, nn.Conv2d) and isinstance(output, torch.Tensor):
                produced[name].append(output)
        return hook

    handles = []
    for name, module in model.named_modules():
        if name:
            handles += [module.register_forward_pre_hook(enter(name)), module.register_forward_hook(leave(name))]
    try:
        with _evaluating(model), torch.no_grad(), Readers():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    by_output = {id(outs[0]): conv for conv, outs in produced.items() if len(outs) == 1}
    return [(by_output[id(ins[0])], bn) for bn, ins in fed.items()
            if len(ins) == 1 and id(ins[0]) in by_output and readers[id(ins[0])] == {bn}]


@torch.no_grad()
def fold_batchnorm(model: nn.Module, example: torch.Tensor | None = None) -> int:
    """Fold every eval-mode BatchNorm2d that reads only a Conv2d's output into that conv, in place.

    An eval-mode BN is the per-channel affine map y = γ·(x − μ)/√(σ² + ε) + β, so conv followed by BN equals one
    conv with weight W·s (s = γ/√(σ² + ε), per output channel) and bias (b − μ)·s + β; the BN becomes
    ``nn.Identity``. Pairs are adjacent children of a Sequential chain (the conv's output can only go to the BN)
    and, given an ``example`` input, every pair a real forward pass shows (the BN reads the conv's output, and
    nothing else does). Computed in float64. Returns the number of BatchNorms folded.
    """
    pairs = dict((bn, conv) for conv, bn in _sequential_pairs(model))
    if example is not None:
        pairs.update((bn, conv) for conv, bn in _dataflow_pairs(model, example))
    modules = dict(model.named_modules())
    folded = 0
    for bn_name, conv_name in pairs.items():
        conv, bn = modules[conv_name], modules[bn_name]
        if bn.running_mean is None or bn.running_var is None or bn.num_features != conv.out_channels:
            continue  # a BN without running statistics normalises with batch statistics: not foldable
        scale = torch.rsqrt(bn.running_var.double() + bn.eps)
        if bn.affine:
            scale = scale * bn.weight.double()
        shift = bn.bias.double() if bn.affine else torch.zeros_like(scale)
        bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
        dtype = conv.weight.dtype
        conv.weight = nn.Parameter((conv.weight.double() * scale.view(-1, 1, 1, 1)).to(dtype), requires_grad=False)
        conv.bias = nn.Parameter(((bias - bn.running_mean.double()) * scale + shift).to(dtype), requires_grad=False)
        parent, _dot, leaf = bn_name.rpartition(".")
        setattr(modules[parent] if parent else model, leaf, nn.Identity())
        folded += 1
    return folded


@contextmanager
def _exact_fp32() -> Iterator[None]:
    """TF32 off for the duration (GPUs use it for fp32 convs by default): the check compares the transform's
    arithmetic, and TF32's 10-bit mantissa alone would differ by more than 1e-4."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` in the deployed form's memory format: channels_last for a feature map (a block's flat input as is)."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


class DeployedModel(nn.Module):
    """A model in deployment mode: BatchNorm folded, channels_last, and (CPU) a frozen TorchScript trace.

    The trace is specialised to the input shape it was traced with; any other shape runs ``eager`` (the folded
    channels_last network), which gives the same outputs. Inference only: there is no BatchNorm left to train.
    """

    def __init__(self, eager: nn.Module, scripted: nn.Module | None, example_shape: tuple[int, ...],
                 folded: int, steps: tuple[str, ...]) -> None:
        super().__init__()
        self.eager = eager
        self.scripted = scripted
        self.example_shape = example_shape
        self.folded_batchnorms = folded
        self.steps = steps
        self.name = getattr(eager, "name", "")
        self.knobs = getattr(eager, "knobs", {})
        self.config = getattr(eager, "config", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scripted is not None and tuple(x.shape) == self.example_shape:
            return self.scripted(x)
        return self.eager(channels_last(x))


class _ChannelsLastInput(nn.Module):
    """Converts the input to channels_last inside the traced graph, so callers may pass ordinary NCHW tensors."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(channels_last(x))


BACKENDS = ("auto", "eager", "torchscript")


_DIFFER = {"deployed": N_("the deployed model's outputs differ from the eager model's by up to {diff:.2e}"),
           "folded": N_("the folded model's outputs differ from the eager model's by up to {diff:.2e}")}


def optimize_for_inference(model: nn.Module, *, backend: str = "auto", resolution: int = 224, batch: int = 1,
                           check: bool = True) -> DeployedModel:
    """A copy of ``model`` for deployment: BatchNorm folded into convs, channels_last, frozen TorchScript.

    ``backend``: ``"eager"`` stops after folding and channels_last; ``"torchscript"`` also traces the network
    at ``batch``×3×``resolution``² and freezes it (constants inlined, conv+ReLU fused by oneDNN); ``"auto"`` picks
    TorchScript on CPU and eager elsewhere. ``torch.compile`` is not offered: it takes tens of seconds to compile
    on a 2-core CPU, too long for an interactive app, and its gain over the frozen trace is small here
    (see benchmarks/README.md). With ``check`` the copy's outputs are compared with the eager model's on a random
    input and a ``RuntimeError`` is raised if they differ by more than 1e-4. The given model is not changed.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(_("optimize_for_inference needs an nn.Module, got {kind}").format(kind=type(model).__name__))
    if backend not in BACKENDS:
        raise ValueError(_("unknown backend {backend!r}; use one of {backends}").format(
            backend=backend, backends=", ".join(BACKENDS)))
    if isinstance(model, DeployedModel):
        return model
    resolution = _check_int("resolution", resolution, 8, 4096)
    batch = _check_int("batch", batch, 1, MAX_BATCH)
    device = _param_device(model) or torch.device("cpu")
    return _deploy(model, torch.randn(batch, 3, resolution, resolution, device=device), backend, check)


def _deploy(model: nn.Module, example: torch.Tensor, backend: str, check: bool) -> DeployedModel:
    """``optimize_for_inference``'s work on any module and input (a network's image, or a block's feature map)."""
    device = example.device
    eager = copy.deepcopy(model).eval()
    for p in eager.parameters():
        p.requires_grad_(False)
    folded = fold_batchnorm(eager, example)
    for module in eager.modules():  # the folded BatchNorms' Identity stand-ins cost a module call each: drop them
        if _runs_in_order(module):
            for child in [k for k, v in module._modules.items() if type(v) is nn.Identity]:
                del module._modules[child]
    eager = eager.to(memory_format=torch.channels_last)
    steps = [f"folded {folded} BatchNorm layers into their convolutions", "channels_last memory format"]
    scripted = None
    if backend == "torchscript" or (backend == "auto" and device.type == "cpu"):
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # TorchScript's deprecation and tracer warnings: the check below decides
            # check_trace=False: the tracer's own check re-runs the trace (doubling the wait); ours below compares
            # the outputs with the original model instead
            try:
                # a block's feature map comes channels_last already (predict_module): no conversion in its graph,
                # so that the blocks' operators add up to the network's
                ready = example.dim() == 4 and example.is_contiguous(memory_format=torch.channels_last)
                traced = eager if ready else _ChannelsLastInput(eager).eval()
                scripted = torch.jit.freeze(torch.jit.trace(traced, example, check_trace=False))
                steps.append("frozen TorchScript trace")
            except (RuntimeError, TypeError) as err:
                if backend == "torchscript":
                    raise ValueError(_("TorchScript cannot trace this model: {why}").format(
                        why=str(err).splitlines()[0])) from None
                steps.append("no TorchScript (the trace failed): eager")  # auto: still folded and channels_last
    deployed = DeployedModel(eager, scripted, tuple(example.shape), folded, tuple(steps))
    if check:
        with _LOCK, _exact_fp32(), _evaluating(model), torch.inference_mode():
            expected, got = model(example), deployed(example)
            both = deployed.eager(channels_last(example))
        for what, out in (("deployed", got), ("folded", both)):
            if not torch.allclose(out, expected, atol=1e-4, rtol=1e-4):
                diff = float((out - expected).abs().max())
                raise RuntimeError(_(_DIFFER[what]).format(diff=diff))
    return deployed


# --------------------------------------------------------------------------------------------------
# one measurement at a time, in the order asked, and results shared by every session


class MeasurementQueue:
    """Whole measurements, one after the other, first come first served, across every session of the process.

    ``turn(on_wait)`` waits for this caller's turn and then holds the process-wide measurement lock for the whole
    block; meanwhile ``on_wait(ahead)`` is called about twice a second with the number of measurements ahead
    (the page shows it). If ``on_wait`` raises (Streamlit stops a script that the user reran), the place in the
    line is given up.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: deque[object] = deque()

    def __len__(self) -> int:
        """Measurements running or waiting."""
        with self._cond:
            return len(self._line)

    @contextmanager
    def turn(self, on_wait: Callable[[int], None] | None = None, poll_s: float = 0.5) -> Iterator[None]:
        ticket = object()
        with self._cond:
            self._line.append(ticket)
        try:
            while True:
                with self._cond:
                    ahead = self._line.index(ticket)
                if ahead == 0:
                    break
                if on_wait is not None:
                    on_wait(ahead)
                with self._cond:
                    if self._line.index(ticket):
                        self._cond.wait(poll_s)
            with _LOCK:
                yield
        finally:
            with self._cond:
                self._line.remove(ticket)
                self._cond.notify_all()


QUEUE = MeasurementQueue()


class SharedResults:
    """The latest result of each measured setting, for every session of the process: a setting one student
    measured is shown to the next with when and under what load, instead of being timed again. Bounded (the
    oldest settings go first)."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._items: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        with self._lock:
            return self._items.get(key)

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


REPORTS = SharedResults()


# --------------------------------------------------------------------------------------------------
# everything the Latency page shows, in one go


@dataclass(frozen=True)
class LatencyReport:
    """One configuration timed four ways on this machine: eager, deployment mode (optional), every operator in
    place, and the lookup-table prediction."""

    config: Config
    eager: LatencyResult
    optimized: LatencyResult | None
    layers: LayerLatency
    prediction: LatencyPrediction
    measured_at: float  # time.time() when the report was finished
    batch: int = 1
    deploy: bool = True

    @property
    def key(self) -> tuple[Config, int, int, bool]:
        """(configuration, threads, batch, deployment mode beside eager): what makes two reports the same setting."""
        return report_key(self.config, self.eager.threads, self.batch, self.deploy)

    @property
    def disturbed(self) -> bool:
        return any(r.disturbed for r in self.results)

    @property
    def results(self) -> list[LatencyResult]:
        return [self.eager] + ([self.optimized] if self.optimized is not None else [])

    @property
    def speedup(self) -> float | None:
        """How many times faster deployment mode runs than eager PyTorch."""
        return None if self.optimized is None else self.optimized.speedup_over(self.eager)


def report_key(config: Config, threads: int | None, batch: int = 1, deploy: bool = True) -> tuple:
    """The key of a report in ``REPORTS`` (threads None: the process's current count)."""
    return (config, torch.get_num_threads() if threads is None else threads, batch, deploy)


def shared_report(config: Config, threads: int | None, batch: int = 1, deploy: bool = True) -> LatencyReport | None:
    """The latest report any session measured for this setting, or None."""
    return REPORTS.get(report_key(config, threads, batch, deploy))


def latency_report(config: Config, threads: int | None = None, batch: int = 1, deploy: bool = True,
                   refresh: bool = False, progress: Callable[[float, str], None] | None = None,
                   on_wait: Callable[[int], None] | None = None) -> LatencyReport:
    """Measure ``config`` for the Latency page: eager (and, with ``deploy``, deployment mode), per-operator time
    and the lookup-table prediction (``refresh`` times its entries again).

    The whole report is one measurement: it waits for its turn in ``QUEUE`` (``on_wait(ahead)`` is told how
    many measurements are ahead while it waits) and holds the process-wide lock from the first run to the last,
    so two reports never interleave. ``progress(fraction, text)`` is told before each step. The report is kept
    in ``REPORTS`` for every session.
    """
    steps = [N_("measuring eager latency …"),
             N_("measuring deployment mode (tracing takes a few seconds the first time) …"),
             N_("measuring per-layer time …"), N_("measuring lookup table (first time: every new op is timed alone) …")]
    if not deploy:
        steps.pop(1)
    done = 0

    def advance() -> None:
        nonlocal done
        if progress is not None:
            progress(done / len(steps), _(steps[done]))
        done += 1

    with QUEUE.turn(on_wait):
        advance()
        eager = measure_latency(config, batch=batch, threads=threads, budget_s=2.0)
        optimized = None
        if deploy:
            advance()
            optimized = measure_latency(config, batch=batch, threads=threads, optimized=True, budget_s=2.0)
        advance()
        layers = layer_latency(config, batch=batch, threads=threads, budget_s=1.5, end_to_end=False)
        advance()
        prediction = predict_latency(config, batch=batch, threads=threads, refresh=refresh)
    if progress is not None:
        progress(1.0, _("done"))
    report = LatencyReport(config, eager, optimized, layers, prediction, time.time(), batch, deploy)
    REPORTS.put(report.key, report)
    return report
