"""NetAdapt on MobileNetV3 (Howard et al. 2019, Sec. 4.2; Yang et al., ECCV 2018): layer-wise shrinking to a
latency target, guided by the latency lookup table.

From MobileNetV3 at its published widths, each step makes the paper's two kinds of proposal: shrink one expansion
layer (``e<i>`` of the family's ``widths`` knob), or shrink the bottleneck width of all blocks that share it
through residual connections (``b<i>``); each proposal shrinks its layer by as many multiples of 8 channels as it
takes to cut the *predicted* latency (``lightnets.latency``'s table, deployment form, at the run's thread count)
by at least δ = 1% of the start. One proposal is kept per step and the search repeats until the prediction meets the
target.

The search runs on the deployment form (BatchNorm folded, channels_last, a frozen TorchScript graph), because the
paper measured the deployed model on a phone, and because in eager PyTorch every operator and module call also costs
microseconds of Python that no width removes: on MobileNetV3-Small that fixed part was a third of the eager
prediction here, and a search on it stopped short of 80% in two runs of three.

The paper fine-tunes every proposal on ImageNet for 10,000 steps and keeps the one with the best accuracy change per
latency saved. No ImageNet and no MobileNetV3 weights are here, so a proxy picks: the proposal that removes the
fewest multiply-adds per millisecond saved (MACs as a stand-in for capacity). It is not accuracy, and the page says
so. Every step's network is a configuration (the knob text), so the result opens in the other pages.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import torch
from torch import nn

import lightnets
from lightnets.experiments import (FAILS, HOLDS, NOISY, Chart, Experiment, Finding, Panel, Series, Table, Timings,
                                   View, plan, quantile, time_alternating)
from lightnets.i18n import N_, _
from lightnets.latency import LatencyTable, device_name, optimize_for_inference, predict_latency, predict_module
from lightnets.models.mobilenet_v3 import LARGE, PAPER, SMALL, format_widths, width_plan
from lightnets.registry import Block, Config, Knob

DELTA = 0.01  # of the start's predicted latency: the paper's δ = 0.01|L|
STEP = 8  # channels removed at a time (every MobileNet width is a multiple of 8)
MIN_WIDTH = 8
MAX_STEPS = 100
RESOLUTION = 224
MODELS = {"mobilenet_v3_large": N_("V3-Large"), "mobilenet_v3_small": N_("V3-Small")}
PROXY = N_("fewest multiply-adds removed per millisecond of predicted latency saved (a stand-in for the paper's "
           "accuracy change per latency change; it is not accuracy)")
KINDS = {"e": N_("expansion layer"), "b": N_("bottleneck width (all blocks sharing it)"), "": N_("start")}
MARGIN = 0.03  # measured latency within 3 points of the target counts as meeting it


@dataclass(frozen=True)
class Step:
    """One network of the path: the start (``layer`` empty) or the proposal kept at a step."""

    index: int
    layer: str  # the widths key shrunk: "e5" (bneck 5's expansion) or "b4" (the group starting at bneck 4)
    width_from: int
    width_to: int
    widths: str  # the knob text of this network
    predicted_ms: float
    macs: int
    params: int
    proposals: int  # how many proposals met δ at this step
    macs_per_ms: float  # the proxy's score of the kept proposal: MACs removed per ms saved (0 for the start)

    @property
    def kind(self) -> str:
        return self.layer[:1]


@dataclass(frozen=True)
class NetAdaptResult:
    model: str
    device: str
    threads: int
    target: float  # fraction of the start's predicted latency
    delta_ms: float
    steps: tuple[Step, ...]
    reached: bool  # the prediction met the target
    search_s: float  # seconds the search took (table lookups and the entries it had to time)
    new_entries: int  # operators timed for the table during the search
    measured: tuple[int, ...]  # the step indices timed, in the order of ``timings``' labels
    timings: Timings | None
    start_prediction_ms: float  # predict_latency of the whole start network (the blocks' sum must equal it)
    resolution: int = RESOLUTION

    @property
    def start(self) -> Step:
        return self.steps[0]

    @property
    def final(self) -> Step:
        return self.steps[-1]

    def measured_ms(self, index: int) -> float | None:
        if self.timings is None or index not in self.measured:
            return None
        return self.timings.median_ms(self.measured.index(index))

    def measured_ratio(self) -> list[float]:
        """Per round, the final network's measured time over the start's."""
        assert self.timings is not None
        return self.timings.ratios(self.measured.index(self.final.index), self.measured.index(0))

    def config(self, step: Step | None = None) -> Config:
        return lightnets.config(self.model, self.resolution, widths=(step or self.final).widths)

    def link(self, step: Step | None = None, page: str = "cost") -> str:
        """A relative link that opens this network in another page of the app (the sidebar reads the URL)."""
        query = {"model": self.model}
        if (step or self.final).widths:
            query["widths"] = (step or self.final).widths
        own = lightnets.spec(self.model).resolution()
        if self.resolution != own:
            query["rho"] = f"{self.resolution / own:.4g}"
        return f"{page}?{urlencode(query)}"


# --------------------------------------------------------------------------------------------------
# the cost of a configuration, block by block (a proposal changes one or a few blocks)


def _row_key(row: Block, shape: tuple[int, ...]) -> tuple:
    return row.path, row.layer, tuple(sorted(row.args.items())), shape


@functools.lru_cache(maxsize=4096)
def _row_cost(path: str, layer: type, args: tuple, shape: tuple[int, ...]) -> tuple[int, int, tuple[int, ...]]:
    """(multiply-adds, parameters, output shape) of one row on an input of ``shape``: conv and linear MACs, as
    ``lightnets.profile`` counts them (checked against it by the tests), on the meta device."""
    macs = 0

    def count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(module, nn.Conv2d):
            macs += output.numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
        elif isinstance(module, nn.Linear):
            macs += output.numel() // module.out_features * module.in_features * module.out_features

    with torch.device("meta"):
        module = Block(path, layer, dict(args)).make().eval()
    handles = [m.register_forward_hook(count) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            out = module(torch.empty(shape, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return macs, sum(p.numel() for p in module.parameters()), tuple(out.shape)


class _Costs:
    """Predicted ms, MACs and parameters of MobileNetV3 configurations, summed over their rows, each row's
    prediction (``lightnets.latency.predict_module``) cached by its arguments and input shape."""

    def __init__(self, table: LatencyTable, device: str) -> None:
        self.table = table
        self.device = device
        self.ms: dict[tuple, float] = {}
        self.new_entries = 0
        self.offset = 0.0  # the whole network's prediction minus its rows' (its own module call)

    def of(self, config: Config) -> tuple[float, int, int]:
        shape: tuple[int, ...] = (1, 3, config.resolution, config.resolution)
        total_ms, macs, params = self.offset, 0, 0
        for row in config.blocks:
            key = _row_key(row, shape)
            m, p, out = _row_cost(*key)
            if key not in self.ms:
                module = row.make().eval().to(self.device)
                self.ms[key], new = predict_module(module, torch.randn(shape, device=self.device), self.table,
                                                   self.device, optimized=True)
                self.new_entries += new
            total_ms += self.ms[key]
            macs += m
            params += p
            shape = out
        return total_ms, macs, params


# --------------------------------------------------------------------------------------------------
# the search


def _config(model: str, widths: dict[str, int], start: dict[str, int], resolution: int) -> Config:
    changed = {k: v for k, v in widths.items() if v != start[k]}
    return lightnets.config(model, resolution, widths=format_widths(changed))


def netadapt(model: str, target: float = 0.8, threads: int = 1, device: str = "cpu",
             table: LatencyTable | None = None, progress: Callable[[float, str], None] | None = None,
             max_steps: int = MAX_STEPS, resolution: int = RESOLUTION
             ) -> tuple[tuple[Step, ...], bool, float, int, float]:
    """NetAdapt's search on ``model`` down to ``target`` × the start's predicted latency: (the path, whether the
    target was met, δ in ms, entries timed, the whole start network's ``predict_latency``).

    Each step tries every expansion layer and every bottleneck group, shrinking it by the fewest multiples of 8
    channels that save at least δ of predicted latency (it extrapolates from the first try), and keeps the
    proposal the proxy prefers (fewest MACs removed per ms saved)."""
    if model not in MODELS:
        raise ValueError(f"NetAdapt runs on {' or '.join(MODELS)}, not {model!r}")
    if not 0 < target < 1:
        raise ValueError(f"target={target!r} is not allowed: it must be a fraction of the start between 0 and 1")
    table = table if table is not None else LatencyTable.load(device_name(device), threads)
    costs = _Costs(table, device)
    start_plan = width_plan(LARGE if model.endswith("large") else SMALL, 1.0, True)
    start = start_plan.widths()
    first = lightnets.config(model, resolution)
    whole = predict_latency(first, threads=threads, device=device, optimized=True, table=table,
                            save=False).predicted_ms
    rows_ms, macs, params = costs.of(first)
    costs.offset = whole - rows_ms
    start_ms = whole
    delta = DELTA * start_ms
    goal = target * start_ms
    widths = dict(start)
    steps = [Step(0, "", 0, 0, "", start_ms, macs, params, 0, 0.0)]
    current = start_ms
    report = progress or (lambda fraction, text: None)
    while current > goal and len(steps) <= max_steps:
        report(min(0.99, (start_ms - current) / max(start_ms - goal, 1e-9)),
               _("step {n}: {ms:.2f} ms predicted, target {goal:.2f} ms").format(n=len(steps), ms=current,
                                                                                   goal=goal))
        proposals = []
        for key, width in widths.items():
            found = _shrink(model, widths, start, key, width, current, steps[-1].macs, delta, costs, resolution)
            if found is not None:
                proposals.append(found)
        if not proposals:
            break
        # the proxy: fewest MACs removed per ms saved; ties go to the first layer in the network's order
        best = min(proposals, key=lambda p: (p[4], int(p[0][1:])))
        key, new_width, ms, (new_macs, new_params), score = best
        old = widths[key]
        widths[key] = new_width
        steps.append(Step(len(steps), key, old, new_width, _config(model, widths, start, resolution).knobs["widths"], ms,
                          new_macs, new_params, len(proposals), score))
        current = ms
    table.save()
    return tuple(steps), current <= goal, delta, costs.new_entries, whole


def _shrink(model: str, widths: dict[str, int], start: dict[str, int], key: str, width: int, current: float,
            macs: int, delta: float, costs: _Costs, resolution: int) -> tuple | None:
    """The smallest shrink of ``key`` (in multiples of 8 channels) that saves at least ``delta`` ms predicted:
    (key, width, ms, (MACs, params), MACs removed per ms saved), or None if even the narrowest does not."""
    candidate = width - STEP
    for _try in range(6):
        if candidate < MIN_WIDTH:
            return None
        ms, new_macs, new_params = costs.of(_config(model, {**widths, key: candidate}, start, resolution))
        saved = current - ms
        if saved >= delta:
            return key, candidate, ms, (new_macs, new_params), (macs - new_macs) / saved
        removed = width - candidate
        # latency falls about linearly with a layer's width: jump to where δ should be met, at least 8 further
        need = math.ceil(delta / (saved / removed) / STEP) * STEP if saved > 0 else 2 * removed
        candidate = min(candidate - STEP, width - need)
    return None


# --------------------------------------------------------------------------------------------------
# the experiment


def _measured_steps(steps: tuple[Step, ...], quick: bool) -> tuple[int, ...]:
    """The start and the final network; full mode also three steps between them."""
    last = len(steps) - 1
    if quick or last < 4:
        return tuple(sorted({0, last}))
    return tuple(sorted({0, last // 4, last // 2, (3 * last) // 4, last}))


def run(device: str, threads: int, quick: bool, progress, target: int, large: int) -> NetAdaptResult:
    model = "mobilenet_v3_large" if large else "mobilenet_v3_small"
    began = time.perf_counter()
    steps, reached, delta, new, whole = netadapt(
        model, target / 100, threads, device, progress=lambda f, text: progress(0.7 * f, text),
        resolution=RESOLUTION)
    search_s = time.perf_counter() - began
    measured = _measured_steps(steps, quick)
    modules = [optimize_for_inference(lightnets.build(lightnets.config(model, RESOLUTION, widths=steps[i].widths))
                                      .eval().to(device), resolution=RESOLUTION) for i in measured]
    inputs = [torch.randn(1, 3, RESOLUTION, RESOLUTION, device=device) for _m in modules]
    timings = time_alternating(modules, inputs, [str(i) for i in measured], plan(quick, networks=True), threads,
                               device, progress, (0.7, 1.0), _("timing the start and the adapted network"))
    return NetAdaptResult(model, device, threads, target / 100, delta, steps, reached, search_s, new, measured,
                          timings, whole, RESOLUTION)


def judge(result: NetAdaptResult) -> list[Finding]:
    start, final = result.start, result.final
    claim = _("the search reaches the target on the lookup table")
    said = _("{n} steps took the predicted latency from {a:.2f} to {b:.2f} ms ({p:.0f}%\u00a0of the start; target "
             "{t:.0f}%), keeping {m:.0f}%\u00a0of the multiply-adds, in {s:.1f} s").format(
        n=len(result.steps) - 1, a=start.predicted_ms, b=final.predicted_ms,
        p=100 * final.predicted_ms / start.predicted_ms, t=100 * result.target, m=100 * final.macs / start.macs,
        s=result.search_s)
    findings = [Finding(claim, HOLDS, said + ".") if result.reached else
                Finding(claim, FAILS, _("{said}: no proposal saved δ any more before the target.").format(said=said))]
    claim = _("every step saves at least δ on the table")
    short = [s.index for s, before in zip(result.steps[1:], result.steps) if before.predicted_ms - s.predicted_ms
             < result.delta_ms - 1e-9]
    findings.append(Finding(claim, FAILS if short else HOLDS, _(
        "δ = {d:.3f} ms (1%\u00a0of the start); steps saving less: {which}.").format(
        d=result.delta_ms, which=", ".join(map(str, short)) or _("none"))))
    if result.timings is not None and final.index != 0:
        ratios = result.measured_ratio()
        ratio = sorted(ratios)[len(ratios) // 2]
        low, high = quantile(ratios, 0.1), quantile(ratios, 0.9)
        measured_start = result.measured_ms(0)
        said = _("measured, the adapted network takes {r:.0%} of the start's time ({a:.2f} → {b:.2f} ms; the table "
                 "predicted {p:.0%})").format(r=ratio, a=measured_start, b=result.measured_ms(final.index),
                                              p=final.predicted_ms / start.predicted_ms)
        claim = _("the measured latency meets the target")
        limit = result.target + MARGIN
        if high <= limit:
            findings.append(Finding(claim, HOLDS, said + "."))
        elif low > limit:
            findings.append(Finding(claim, FAILS, _(
                "{said}: the table's prediction of the savings does not carry over fully to the whole network "
                "here.").format(said=said)))
        else:
            findings.append(Finding(claim, NOISY, _(
                "{said}, but the rounds disagree ({lo:.0%} to {hi:.0%}): the machine's other work moved the times "
                "more than the margin; measure again when it is quieter.").format(said=said, lo=low, hi=high)))
    return findings


def view(result: NetAdaptResult) -> View:
    rows = []
    for step in result.steps:
        measured = result.measured_ms(step.index)
        change = f"{step.layer}: {step.width_from} → {step.width_to}" if step.layer else "—"
        rows.append((step.index, change, _(KINDS[step.kind]), f"{step.predicted_ms:.2f}",
                     "—" if measured is None else f"{measured:.2f}", f"{step.macs / 1e6:.1f}",
                     f"{step.params / 1e6:.2f}", step.proposals or "—",
                     f"{step.macs_per_ms / 1e6:.1f}" if step.layer else "—"))
    path = Table(_("The path: one proposal kept per step"),
                 (_("step"), _("layer shrunk"), _("proposal kind"), _("predicted ms"), _("measured ms"),
                  _("MACs (M)"), _("params (M)"), _("proposals meeting δ"), _("proxy: M MACs removed per ms")),
                 tuple(rows), note=_("Proxy used to pick each step: {proxy}. Predicted: the lookup table, deployment "
                                     "form (BatchNorm folded, frozen graph), {threads} thread(s); δ = {d:.3f} ms. "
                                     "Measured: the deployed networks, median of alternated rounds, only for the "
                                     "steps shown.").format(proxy=_(PROXY), threads=result.threads,
                                                                         d=result.delta_ms))
    final = result.final
    name = _(MODELS[result.model])
    link = _("[open in the Cost page]({cost}) · [Architecture]({arch}) · [Latency]({lat})").format(
        cost=result.link(), arch=result.link(page="architecture"), lat=result.link(page="latency"))
    adapted = Table(_("The adapted network as a configuration"),
                    (_("model"), _("widths knob"), _("proposals picked by"), _("open it")),
                    ((name, final.widths or "—", _(PROXY), link),),
                    note=_("Paste the widths into the sidebar's “per-layer widths (NetAdapt)” box of {model}, or "
                           "follow the links.").format(model=result.model))
    steps = tuple(s.index for s in result.steps)
    series = [Series(_("predicted (lookup table)"), steps, tuple(s.predicted_ms for s in result.steps), "line",
                     color="#ff7f0e"),
              Series(_("target"), (steps[0], steps[-1]), (result.target * result.start.predicted_ms,) * 2, "line",
                     color="#555555")]
    if result.timings is not None:
        series.append(Series(_("measured (median)"), result.measured,
                             tuple(result.timings.median_ms(k) for k in range(len(result.measured))), "markers",
                             color="#1f77b4"))
    chart = Chart(_("{model}: latency along the path").format(model=name),
                  (Panel(_("latency per step"), tuple(series)),), x_title=_("step"), y_title=_("ms per image"))
    return View((path, adapted), (chart,))


def preview(device: str) -> View:
    rows = []
    for model, label in MODELS.items():
        plan_ = width_plan(LARGE if model.endswith("large") else SMALL, 1.0, True)
        expansions = [k for k in plan_.widths() if k[0] == "e"]
        groups = [_("b{a} (bnecks {a}–{b})").format(a=g[0], b=g[-1]) if len(g) > 1 else f"b{g[0]}"
                  for g in plan_.groups]
        rows.append((_(label), len(expansions), ", ".join(groups)))
    return View((Table(_("What the search may shrink"), (_("model"), _("expansion layers"), _("bottleneck groups")),
                       tuple(rows), note=_("Proxy: {proxy}.").format(proxy=_(PROXY))),))


EXPERIMENTS = [Experiment(
    id="netadapt", title=N_("NetAdapt: shrinking MobileNetV3 layer by layer to a latency target"), paper=PAPER,
    where=N_("Sec. 4.2 “Layer-wise Search with NetAdapt”"),
    claim=N_("“Each proposal represents a modification of an architecture that generates at least δ reduction in "
             "latency compared to the previous step. … Iterate previous step until target latency is reached.” "
             "Proposals: “Reduce the size of any expansion layer; Reduce bottleneck in all blocks that share the "
             "same bottleneck size – to maintain residual connections.” δ = 0.01|L|."),
    setup=N_("MobileNetV3 starts at its published widths. Each step, every expansion layer and every bottleneck "
             "group (the blocks a residual connection ties to one width) is shrunk by the fewest multiples of 8 "
             "channels that cut the latency this machine's lookup table predicts for the deployed network (BatchNorm "
             "folded, a frozen graph: the form a phone runs, and the paper measured on one) by δ = 1%\u00a0of the "
             "start; one proposal is kept, until the prediction meets the target. The paper keeps the proposal whose "
             "fine-tuned accuracy drops least per latency saved; without ImageNet a proxy picks here (named in "
             "the table). The deployed start and final networks are timed in alternation (full mode: three steps "
             "between them too)."),
    run=run, judge=judge, view=view, preview=preview, order=80,
    knobs=(Knob("target", N_("latency target (%\u00a0of the start)"), "int", 80, min=50, max=95, step=5,
                help=N_("The search stops once the predicted latency is at most this share of the start's.")),
           Knob("large", N_("V3-Large (1) or V3-Small (0)"), "int", 1, min=0, max=1, step=1,
                help=N_("Which MobileNetV3 to adapt."))),
    notes=(N_("The paper fine-tunes each proposal for 10,000 steps and picks by accuracy; no ImageNet or "
              "MobileNetV3 weights are available offline, so the proxy is MACs kept per latency saved, and the "
              "networks' accuracy is not known here."),
           N_("Why the deployment form: in eager PyTorch every operator and module call also costs microseconds of "
              "Python, which no width change removes; on a small network that fixed part is a large share of the "
              "time, and the search could not reach the target on it."),
           N_("Widths shrink in multiples of 8 channels, the rounding every MobileNet uses; a layer is never made "
              "narrower than 8.")),
)]
