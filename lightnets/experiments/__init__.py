"""Experiments: the chapter's claims, run on this machine beside the papers' figures, each with a verdict computed
from what was measured.

An experiment is one file in this package that defines ``EXPERIMENTS``, a list of ``Experiment``; the package
discovers those files as the registry discovers model families, so adding an experiment changes no page and no
command. An ``Experiment`` states the claim (the paper's words, its section and table), the setup in plain words,
how to run it (``run(device, threads, quick, progress, **knobs)`` returns a typed result), how the result is judged
(``judge(result)`` → ``Finding`` rows, each "holds here", "does not hold here" or "too noisy to say" with a
sentence that quotes the measured figures beside the paper's) and what to show (``view(result)`` → tables and
charts as plain data; ``lightnets.figures.experiments`` draws the charts).

``run_experiment`` runs one, checking the device and thread count first and recording the machine's load
average before and after, and returns an ``Outcome``. Verdicts and views are computed when they are asked for,
so they come out in the current language.

Timing goes through ``lightnets.measure_interleaved``: ``time_alternating`` times several modules one round at a
time, in rotating order, holding the process-wide measurement lock for one round only, so that whatever else the
machine does hits every variant alike and other sessions' measurements are never kept waiting for long.
``compare`` turns the paired per-round ratios into one of the three outcomes.
"""

from __future__ import annotations

import importlib
import math
import os
import pkgutil
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

import torch
from torch import nn

from lightnets.i18n import N_, _
from lightnets.latency import quantile as sorted_quantile
from lightnets.registry import Knob, Paper, validate_knobs

# --------------------------------------------------------------------------------------------------
# verdicts

HOLDS, FAILS, NOISY = "holds", "fails", "noisy"
OUTCOMES = (HOLDS, FAILS, NOISY)
OUTCOME_LABELS = {HOLDS: N_("holds here"), FAILS: N_("does not hold here"), NOISY: N_("too noisy to say")}

# The smallest difference in time called a difference: 3%. Below that, two variants run alike on this machine.
MARGIN = 0.03
MIN_ROUNDS = 3  # fewer paired rounds than this say nothing about the spread


@dataclass(frozen=True)
class Finding:
    """One part of a claim, judged: ``outcome`` is HOLDS, FAILS or NOISY; ``text`` one sentence that gives the
    measured figures beside the paper's (and, where the claim does not hold, why)."""

    claim: str
    outcome: str
    text: str

    @property
    def label(self) -> str:
        return _(OUTCOME_LABELS[self.outcome])


@dataclass(frozen=True)
class Comparison:
    """How much slower ``slow`` ran than ``fast``, round by round: the median paired ratio and the 10–90% range
    of the per-round ratios, judged against a claimed slowdown."""

    ratio: float
    low: float
    high: float
    rounds: int
    outcome: str

    @property
    def percent(self) -> float:
        """The time saved by the fast variant, as a share of the slow one's (11.0: 11%)."""
        return 100.0 * (1.0 - 1.0 / self.ratio)


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of unsorted values, interpolated like numpy's default (``latency.quantile``)."""
    return sorted_quantile(sorted(values), q)


def compare(ratios: Sequence[float], margin: float = MARGIN) -> Comparison:
    """Judge the claim "A is slower than B" from per-round paired ratios time(A) / time(B).

    * HOLDS when 90% of the rounds or more show A slower by more than ``margin`` (the 10% quantile of the ratios is
      above 1 + margin);
    * FAILS when 90% of the rounds or more show A *not* slower by more than ``margin`` (the 90% quantile is below
      1 + margin): the claimed difference is absent here, or reversed;
    * NOISY otherwise, or with fewer than ``MIN_ROUNDS`` rounds: the rounds disagree, so the machine's other work
      moved the times more than the variants differ.
    """
    if not ratios:
        raise ValueError("no rounds to compare")
    ratio = statistics.median(ratios)
    low, high = quantile(ratios, 0.1), quantile(ratios, 0.9)
    if len(ratios) < MIN_ROUNDS:
        outcome = NOISY
    elif low > 1 + margin:
        outcome = HOLDS
    elif high < 1 + margin:
        outcome = FAILS
    else:
        outcome = NOISY
    return Comparison(ratio, low, high, len(ratios), outcome)


def timing_finding(claim: str, c: Comparison, said: str, why: str) -> Finding:
    """A finding about a claimed slowdown in words: ``said`` states the measured ratio beside the paper's; ``why``
    is the likely reason, should the claim not hold here."""
    if c.outcome == HOLDS:
        return Finding(claim, HOLDS, said + ".")
    if c.outcome == FAILS:
        return Finding(claim, FAILS, _("{said}: not slower by more than {m:.0f}% here. {why}").format(
            said=said, m=100 * MARGIN, why=why))
    return Finding(claim, NOISY, _("{said}, but the rounds disagree ({lo:.2f}× to {hi:.2f}×): the machine's other "
                                   "work moved the times more than the variants differ; measure again when it is "
                                   "quieter, or in full mode.").format(said=said, lo=c.low, hi=c.high))


# --------------------------------------------------------------------------------------------------
# what a page or the command line shows: tables and charts as plain data


@dataclass(frozen=True)
class Table:
    """A table: translated title and column headers; cells are numbers or short text."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Series:
    """One trace: ``kind`` "bar" (x are labels), "line" (x numeric, joined), "markers" or "points" (a cloud of
    x, y points, e.g. a spiral). ``low``/``high`` draw error bars."""

    name: str
    x: tuple[Any, ...]
    y: tuple[float, ...]
    kind: str = "bar"
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None
    color: str | None = None


@dataclass(frozen=True)
class Panel:
    title: str
    series: tuple[Series, ...]


@dataclass(frozen=True)
class Chart:
    """A figure of one or more side-by-side panels with shared axis titles."""

    title: str
    panels: tuple[Panel, ...]
    x_title: str = ""
    y_title: str = ""
    log_y: bool = False
    equal_axes: bool = False  # x and y on one scale (the spirals)
    reference_y: float | None = None  # a dashed line, e.g. 1.0 for "same as the first row"
    height: int = 420


@dataclass(frozen=True)
class View:
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()


# --------------------------------------------------------------------------------------------------
# an experiment


Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Experiment:
    """One claim of the chapter, the setup that tests it, and how the result is run, judged and shown.

    Text fields are marked with ``N_`` and translated when shown. ``run(device, threads, quick, progress,
    **knobs)`` returns a typed result (a dataclass); ``judge(result)`` the findings; ``view(result)`` the tables
    and charts; ``preview(device)`` the setup as a table before anything runs. ``knobs`` are the experiment's own
    inputs (the page draws widgets for them, the command line takes ``--KNOB VALUE``). An experiment that measures
    no time (``timed=False``) is deterministic and fast: the page shows it at once, without a Run button.
    """

    id: str
    title: str
    paper: Paper
    where: str  # section, table or figure of the paper
    claim: str  # the claim, quoted
    setup: str  # what is built and measured, in plain words
    run: Callable[..., Any]
    judge: Callable[[Any], list[Finding]]
    view: Callable[[Any], View]
    preview: Callable[[str], View] | None = None
    knobs: tuple[Knob, ...] = ()
    timed: bool = True
    order: int = 100  # position in the list: the chapter's order
    notes: tuple[str, ...] = ()  # what the paper leaves open and what was chosen
    # Knobs that change only how a measured result is read (a target, a weight), not what is measured: the page
    # keeps one measurement for every value of them and calls ``reread(result, **values)`` for the result at new
    # values, so moving their sliders measures nothing again. ``run`` receives them like any other knob.
    live: tuple[str, ...] = ()
    reread: Callable[..., Any] | None = None

    def validate(self, knobs: Mapping[str, Any]) -> dict[str, Any]:
        """Every knob of the experiment, defaults filled in, each checked against its schema."""
        return validate_knobs(f"experiment {self.id}", self.knobs, knobs)


_LOCK = threading.Lock()  # sessions discover the experiments concurrently on a cold start
_FOUND: dict[str, Experiment] | None = None


def _registry() -> dict[str, Experiment]:
    global _FOUND
    with _LOCK:
        if _FOUND is None:
            found: dict[str, Experiment] = {}
            for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
                if info.name.startswith("_"):
                    continue
                module = importlib.import_module(f"{__name__}.{info.name}")
                for exp in getattr(module, "EXPERIMENTS", ()):
                    if exp.id in found:
                        raise RuntimeError(f"experiment {exp.id} registered twice")
                    found[exp.id] = exp
            _FOUND = dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))
        return _FOUND


def list_experiments() -> list[str]:
    """Experiment ids in the chapter's order."""
    return list(_registry())


def experiment(name: str) -> Experiment:
    """The ``Experiment`` called ``name``; ``ValueError`` naming the known ones otherwise."""
    try:
        return _registry()[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown experiment {name!r}; known experiments: {', '.join(_registry())}") from None


# --------------------------------------------------------------------------------------------------
# running one


def load_average() -> float | None:
    """The machine's 1-minute load average (other programs' work competes with a measurement), or None."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


@dataclass(frozen=True)
class Outcome:
    """One run of an experiment: the typed result and the conditions it was measured under."""

    experiment: str
    device: str  # "cpu" or "cuda"
    device_name: str  # "cpu: <processor>"
    threads: int
    quick: bool
    knobs: tuple[tuple[str, Any], ...]
    result: Any
    load_before: float | None
    load_after: float | None
    cores: int
    seconds: float
    finished_at: float  # time.time()

    @property
    def spec(self) -> Experiment:
        return experiment(self.experiment)

    def findings(self) -> list[Finding]:
        return self.spec.judge(self.result)

    def reread(self, **values: Any) -> Outcome:
        """This outcome at other values of the experiment's live knobs, from the same measurement."""
        spec = self.spec
        unknown = set(values) - set(spec.live)
        if unknown or spec.reread is None:
            raise ValueError(f"experiment {self.experiment} cannot reread {', '.join(sorted(unknown)) or 'knobs'}")
        knobs = spec.validate({**dict(self.knobs), **values})
        from dataclasses import replace

        return replace(self, knobs=tuple(knobs.items()),
                       result=spec.reread(self.result, **{k: knobs[k] for k in spec.live}))

    def view(self) -> View:
        return self.spec.view(self.result)

    def to_json(self) -> dict[str, Any]:
        """Everything as JSON-ready data: conditions, findings, tables and the raw result."""
        view = self.view()
        return {
            "experiment": self.experiment, "title": _(self.spec.title), "device": self.device,
            "device_name": self.device_name, "threads": self.threads, "quick": self.quick,
            "knobs": dict(self.knobs), "load_before": self.load_before, "load_after": self.load_after,
            "cores": self.cores, "seconds": round(self.seconds, 2),
            "findings": [{"claim": f.claim, "outcome": f.outcome, "text": f.text} for f in self.findings()],
            "tables": [{"title": t.title, "columns": list(t.columns), "rows": [list(r) for r in t.rows],
                        "note": t.note} for t in view.tables],
            "result": _plain(self.result),
        }


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def check_threads(threads: Any) -> int:
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 256:
        raise ValueError(f"threads={threads!r} is not allowed: it must be a whole number from 1 to 256")
    return threads


def run_experiment(name: str, device: str = "cpu", threads: int = 1, quick: bool = False,
                   progress: Progress | None = None, **knobs: Any) -> Outcome:
    """Run experiment ``name`` on ``device`` with ``threads`` intra-op threads (quick: the classroom-sized
    version) and return its ``Outcome``. ``progress(fraction, text)`` is told as it goes. Bad arguments raise a
    one-line ``ValueError`` before anything runs."""
    from lightnets.latency import device_name

    spec = experiment(name)
    values = spec.validate(knobs)
    where = device_name(device)  # raises for an unknown or absent device
    threads = check_threads(threads)
    report = progress or (lambda fraction, text: None)
    before, start = load_average(), time.perf_counter()
    result = spec.run(device=str(device).strip().lower().split(":")[0], threads=threads, quick=bool(quick),
                      progress=report, **values)
    seconds = time.perf_counter() - start
    report(1.0, _("done"))
    return Outcome(spec.id, str(device).strip().lower(), where, threads, bool(quick), tuple(values.items()), result,
                   before, load_average(), os.cpu_count() or 1, seconds, time.time())


# --------------------------------------------------------------------------------------------------
# timing several variants in alternation


@dataclass(frozen=True)
class Timings:
    """Per-round median times of several variants timed in alternation (``round_ms[variant][round]``, ms)."""

    labels: tuple[str, ...]
    round_ms: tuple[tuple[float, ...], ...]
    runs: tuple[int, ...] = ()  # timed runs per variant, all rounds

    def index(self, label: str) -> int:
        return self.labels.index(label)

    def median_ms(self, i: int) -> float:
        return statistics.median(self.round_ms[i])

    def ratios(self, i: int, j: int) -> list[float]:
        """Per round, variant ``i``'s time over variant ``j``'s (2.0: ``i`` took twice as long)."""
        return [a / b for a, b in zip(self.round_ms[i], self.round_ms[j])]

    def ratio(self, i: int, j: int) -> float:
        return statistics.median(self.ratios(i, j))

    def total_ratios(self, group: Sequence[int], other: Sequence[int]) -> list[float]:
        """Per round, the summed time of the variants in ``group`` over that of ``other``."""
        rounds = range(len(self.round_ms[0]))
        return [sum(self.round_ms[i][r] for i in group) / sum(self.round_ms[j][r] for j in other) for r in rounds]

    def compare(self, slow: str | int, fast: str | int, margin: float = MARGIN) -> Comparison:
        """The claim "``slow`` takes longer than ``fast``", judged (see ``compare``)."""
        i = slow if isinstance(slow, int) else self.index(slow)
        j = fast if isinstance(fast, int) else self.index(fast)
        return compare(self.ratios(i, j), margin)


@dataclass(frozen=True)
class Plan:
    """How long to time: rounds of alternation and seconds per variant per round."""

    rounds: int
    budget_s: float


# Many short rounds rather than a few long ones: the two sides of a pair are timed closer together, and with nine
# rounds or more one round hit by another program's burst of work no longer decides the verdict.
QUICK = Plan(rounds=9, budget_s=0.06)
FULL = Plan(rounds=15, budget_s=0.12)
# whole networks take tens of milliseconds a pass: longer rounds, so each round's median has a few runs
QUICK_NETWORKS = Plan(rounds=7, budget_s=0.12)
FULL_NETWORKS = Plan(rounds=11, budget_s=0.25)


def plan(quick: bool, networks: bool = False) -> Plan:
    """How long to time: quick (the classroom) or full; ``networks`` for whole ImageNet networks."""
    if networks:
        return QUICK_NETWORKS if quick else FULL_NETWORKS
    return QUICK if quick else FULL


def time_alternating(modules: Sequence[nn.Module], inputs: Sequence[torch.Tensor], labels: Sequence[str],
                     plan: Plan, threads: int, device: str, progress: Progress | None = None,
                     span: tuple[float, float] = (0.0, 1.0), text: str = "") -> Timings:
    """Time ``modules`` (each on its own input) in ``plan.rounds`` rounds of ``lightnets.measure_interleaved``,
    one call per round with the order rotated, so the measurement lock is held for one round at a time.
    ``progress`` moves from ``span[0]`` to ``span[1]`` with ``text``.
    """
    from lightnets.latency import measure_interleaved

    count = len(modules)
    medians: list[list[float]] = [[] for _ in range(count)]
    runs = [0] * count
    for r in range(plan.rounds):
        if progress is not None:
            progress(span[0] + (span[1] - span[0]) * r / plan.rounds,
                     _("{what}: round {r} of {n}").format(what=text, r=r + 1, n=plan.rounds))
        order = [(r + k) % count for k in range(count)]
        timed = measure_interleaved([modules[k] for k in order], rounds=1, budget_s=plan.budget_s,
                                    threads=threads, device=device, inputs=[inputs[k] for k in order], min_runs=3)
        for position, k in enumerate(order):
            medians[k].append(timed.round_medians[position][0])
            runs[k] += timed.results[position].runs
    return Timings(tuple(labels), tuple(tuple(m) for m in medians), tuple(runs))


class Frozen(nn.Module):
    """A frozen TorchScript trace as an ordinary module (a frozen trace has no ``training`` flag to set)."""

    def __init__(self, scripted: nn.Module) -> None:
        super().__init__()
        self.scripted = scripted

    def forward(self, x: torch.Tensor) -> Any:
        return self.scripted(x)


def frozen(module: nn.Module, example: torch.Tensor) -> Frozen:
    """``module`` as a frozen TorchScript trace on ``example`` (constants inlined, conv + ReLU fused by oneDNN):
    the deployment form, for modules that do not take an image (``lightnets.optimize_for_inference`` does that
    for networks)."""
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TorchScript's deprecation warnings
        scripted = torch.jit.freeze(torch.jit.trace(module.eval(), example, check_trace=False))
        for _run in range(3):  # TorchScript's profiling executor optimises the graph during its first calls
            scripted(example)
    return Frozen(scripted)


def batch_of(device: str) -> int:
    """The batch the papers time at: 1 on a CPU (phones, one image at a time); 8 on a GPU, as ShuffleNet V2's
    GPU figures (Fig. 1: "GPU results, batchsize = 8")."""
    return 8 if device == "cuda" else 1


__all__ = [
    "FAILS",
    "FULL",
    "FULL_NETWORKS",
    "HOLDS",
    "MARGIN",
    "NOISY",
    "OUTCOMES",
    "OUTCOME_LABELS",
    "QUICK",
    "QUICK_NETWORKS",
    "Chart",
    "Comparison",
    "Experiment",
    "Finding",
    "Outcome",
    "Panel",
    "Plan",
    "Series",
    "Table",
    "Timings",
    "View",
    "batch_of",
    "compare",
    "experiment",
    "frozen",
    "list_experiments",
    "load_average",
    "plan",
    "run_experiment",
    "time_alternating",
]
