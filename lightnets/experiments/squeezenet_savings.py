"""SqueezeNet's three strategies and SqueezeNext's low-rank filters: parameters, multiply-adds and measured latency,
beside the accuracy figures of SqueezeNet's design-space exploration (Iandola et al. 2016, Sec. 3.1 and 5).

* AlexNet against SqueezeNet 1.0: AlexNet's 60 million parameters (Krizhevsky et al. 2012, abstract) against our
  exact count of SqueezeNet 1.0; accuracies as SqueezeNet's Table 2 lists them.
* Strategy 1, 1×1 instead of 3×3 filters: the ``pct3x3`` knob swept at SR = 0.5, as the paper's Fig. 3(b).
* Strategy 2, fewer inputs to the 3×3 filters: the ``squeeze_ratio`` knob swept at pct3x3 = 50%, as Fig. 3(a).
  Fig. 3's plots are images; the figures its text gives are used: 4.8 MB / 80.3% top-5 at SR = 0.125, 13 MB /
  85.6% at SR = 0.5 (the same network as Fig. 3(b)'s 50%), 19 MB / 86.0% at SR = 0.75, no gain at SR = 1.0. The
  paper's "MB" are MiB of 32-bit weights (1,248,424 × 4 bytes = 4.8 MiB).
* Strategy 3, late downsampling: SqueezeNet 1.0 against 1.1, whose max pools come earlier (after conv1, fire3 and
  fire5 instead of conv1, fire4 and fire8). 1.1 also has a smaller first conv (64 × 3×3 instead of 96 × 7×7), so
  the comparison is not of the pools alone; the cost model splits the difference between conv1 and the rest. The
  paper has no ablation of strategy 3; the official repository says 1.1 needs "2.4x less computation than
  SqueezeNet v1.0 without diminishing accuracy", and torchvision's checkpoints reach 58.09% and 58.18% top-1.
* SqueezeNext (Gholami et al. 2018) splits a k×k filter into k×1 and 1×k, "from K² to 2K" weights per channel
  pair. Timed at the separable layers' shapes in each of SqueezeNext-23's four stages: a 3×3 c → c against
  3×1 c → c then 1×3 c → c (the claim's setting, c = the block's C/2), and, as the block really is, 3×1 C/4 → C/2
  then 1×3 C/2 → C/2 against one 3×3 C/4 → C/2 — which has exactly as many weights (9·C²/8 both): there the split
  adds depth and a nonlinearity, not savings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

import lightnets
from lightnets.experiments import (FAILS, HOLDS, Chart, Experiment, Finding, Panel, Series, Table, Timings, View, plan,
                                   time_alternating, timing_finding)
from lightnets.i18n import N_, _
from lightnets.models.squeezenet import PAPER
from lightnets.registry import Reference

ALEXNET = Reference(
    label="AlexNet", knobs={}, resolution=224, params_m=60, macs_m=720, top1=57.2,
    source="Krizhevsky, Sutskever, Hinton 2012 (NeurIPS), abstract: 'The neural network, which has 60 million "
           "parameters and 650,000 neurons'; top-1 57.2% / top-5 80.3% as SqueezeNet's Table 2 lists it; 720M "
           "multiply-adds as the ShuffleNet paper's Table 6 lists it",
    provenance="paper")
SQUEEZENET_TOP5 = 80.3  # SqueezeNet's Table 2 (and AlexNet's baseline there)
# Sec. 5.2 / 5.3 text: (squeeze ratio, pct3x3) → (model size in MB, top-5 %)
PAPER_POINTS = {(0.125, 0.5): (4.8, 80.3), (0.5, 0.5): (13.0, 85.6), (0.75, 0.5): (19.0, 86.0)}
SR_SWEEP = (0.125, 0.25, 0.5, 0.75, 1.0)
PCT_SWEEP = (0.01, 0.25, 0.5, 0.75, 0.99)
QUICK_SR = (0.125, 0.5)
QUICK_PCT = (0.5, 0.99)


def _label(sr: float, pct: float) -> str:
    return f"SR {sr:g}, 3×3 {pct:.0%}"


@dataclass(frozen=True)
class NetRow:
    label: str
    name: str
    squeeze_ratio: float
    pct3x3: float
    params: int
    macs: int
    conv1_macs: int
    median_ms: float
    paper_mb: float | None
    paper_top5: float | None

    @property
    def size_mb(self) -> float:
        """32-bit weights in MiB, as the paper's "MB"."""
        return 4 * self.params / 2**20


@dataclass(frozen=True)
class LowRankRow:
    stage: str
    height: int
    c_in: int  # the block's C/4 (the split's input)
    c_out: int  # the block's C/2


@dataclass(frozen=True)
class SavingsResult:
    device: str
    nets: tuple[NetRow, ...]
    net_timings: Timings
    stages: tuple[LowRankRow, ...]
    low_rank_timings: Timings  # labels: LOW_RANK

    def net(self, label: str) -> NetRow:
        return next(r for r in self.nets if r.label == label)


V10, V11 = N_("SqueezeNet 1.0"), N_("SqueezeNet 1.1")
LOW_RANK = (N_("3×3, c → c"), N_("3×1 + 1×3, c → c"), N_("3×3, C/4 → C/2"), N_("3×1 + 1×3, C/4 → C/2 → C/2"))


def _net_configs(quick: bool) -> dict[str, lightnets.Config]:
    configs = {}
    for sr in QUICK_SR if quick else SR_SWEEP:
        configs[_label(sr, 0.5)] = lightnets.config("squeezenet1_0", squeeze_ratio=sr, pct3x3=0.5)
    for pct in QUICK_PCT if quick else PCT_SWEEP:
        configs.setdefault(_label(0.5, pct), lightnets.config("squeezenet1_0", squeeze_ratio=0.5, pct3x3=pct))
    configs[V11] = lightnets.config("squeezenet1_1")
    return configs


def low_rank_stages() -> list[LowRankRow]:
    """The shapes of SqueezeNext-23's first 3×1 layer in each stage (default width, 227 px)."""
    p = lightnets.profile(lightnets.config("squeezenext"))
    rows, seen = [], set()
    for layer in p.layers:
        if layer.kernel == (3, 1) and layer.stage not in seen:
            seen.add(layer.stage)
            rows.append(LowRankRow(layer.stage, layer.input_shape[2], layer.input_shape[1], layer.output_shape[1]))
    return rows


class StageConvs(nn.Module):
    """One variant of the 3×3 filter at every stage's shape, each stage reading its own part of one flat input."""

    def __init__(self, variant: int, stages: list[LowRankRow]) -> None:
        super().__init__()
        self.shapes = [((s.c_out if variant < 2 else s.c_in), s.height, s.height) for s in stages]
        self.sizes = [math.prod(shape) for shape in self.shapes]
        self.stages = nn.ModuleList()
        for s in stages:
            c_in = s.c_out if variant < 2 else s.c_in  # the claim's setting: c → c with c = C/2
            if variant in (0, 2):
                self.stages.append(nn.Conv2d(c_in, s.c_out, 3, padding=1, bias=False))
            else:
                self.stages.append(nn.Sequential(nn.Conv2d(c_in, s.c_out, (3, 1), padding=(1, 0), bias=False),
                                                 nn.Conv2d(s.c_out, s.c_out, (1, 3), padding=(0, 1), bias=False)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(conv(part.view(1, *shape)) for conv, part, shape in
                     zip(self.stages, x.split(self.sizes), self.shapes))


def stage_params(variant: int, stages: list[LowRankRow]) -> int:
    return sum(p.numel() for p in StageConvs(variant, stages).parameters())


def run(device: str, threads: int, quick: bool, progress) -> SavingsResult:
    progress(0.0, _("building the SqueezeNet variants"))
    configs = _net_configs(quick)
    modules, costs = [], []
    for label, cfg in configs.items():
        modules.append(lightnets.build(cfg).eval().to(device))
        p = lightnets.profile(cfg)
        costs.append((p.params, p.macs, p.blocks[0].macs))
    inputs = [torch.randn(1, 3, 224, 224, device=device)] * len(modules)
    timings = time_alternating(modules, inputs, list(configs), plan(quick, networks=True), threads, device, progress,
                               (0.0, 0.8), _("SqueezeNet variants"))
    nets = []
    for k, ((label, cfg), (params, macs, conv1)) in enumerate(zip(configs.items(), costs)):
        sr, pct = cfg.knobs["squeeze_ratio"], cfg.knobs["pct3x3"]
        mb, top5 = PAPER_POINTS.get((sr, pct), (None, None)) if cfg.name == "squeezenet1_0" else (None, None)
        nets.append(NetRow(label, cfg.name, sr, pct, params, macs, conv1, timings.median_ms(k), mb, top5))
    stages = low_rank_stages()
    convs = [StageConvs(v, stages).eval().to(device) for v in range(len(LOW_RANK))]
    flat = [torch.randn(sum(m.sizes), device=device) for m in convs]
    low_rank = time_alternating(convs, flat, list(LOW_RANK), plan(quick), threads, device, progress, (0.8, 1.0),
                                _("SqueezeNext's filters"))
    return SavingsResult(device, tuple(nets), timings, tuple(stages), low_rank)


# --------------------------------------------------------------------------------------------------
# verdicts


def _within(ours: float, published: float) -> bool:
    """The project's rule for a published figure: within 3%, or within the printed number's rounding."""
    text = repr(float(published))
    decimals = 0 if text.endswith(".0") else len(text.split(".")[1])
    return abs(ours - published) <= max(0.03 * published, 0.5 * 10 ** -decimals)


def judge(result: SavingsResult) -> list[Finding]:
    findings = []
    v10 = result.net(_label(0.125, 0.5))
    ratio = ALEXNET.params_m * 1e6 / v10.params
    findings.append(Finding(
        _("50× fewer parameters than AlexNet"), HOLDS if 45 <= ratio < 55 else FAILS,
        _("AlexNet's {a}M parameters are {r:.1f}× SqueezeNet 1.0's {s:.2f}M (paper: 50×), at {t1}% against 57.5% "
          "top-1 and {t5}% top-5 for both (SqueezeNet's Table 2).").format(
            a=ALEXNET.params_m, r=ratio, s=v10.params / 1e6, t1=ALEXNET.top1, t5=SQUEEZENET_TOP5)))
    # strategy 1: beyond 50% 3×3 filters the paper finds no accuracy, so the extra filters are pure cost
    many, half = result.net(_label(0.5, 0.99)), result.net(_label(0.5, 0.5))
    c = result.net_timings.compare(many.label, half.label)
    findings.append(timing_finding(
        _("strategy 1: 1×1 instead of 3×3 filters"), c,
        _("at SR = 0.5, 99% 3×3 filters take {r:.2f}× the time of 50% here, with {p:.2f}× the parameters and "
          "{m:.2f}× the MACs, for no accuracy (the paper: top-5 plateaus at 85.6% from 50%)").format(
            r=c.ratio, p=many.params / half.params, m=many.macs / half.macs),
        _("The 3×3 filters' extra multiply-adds are not what sets this CPU's time.")))
    # strategy 2: fewer squeeze channels, fewer inputs to the 3×3 filters
    wide = max((r for r in result.nets if r.pct3x3 == 0.5 and r.name == "squeezenet1_0"),
               key=lambda r: r.squeeze_ratio)
    c = result.net_timings.compare(wide.label, v10.label)
    findings.append(timing_finding(
        _("strategy 2: squeeze the 3×3 inputs"), c,
        _("SR = {sr:g} takes {r:.2f}× the time of SR = 0.125 here, with {p:.2f}× the parameters (the paper: "
          "{a}% top-5 at SR = 0.125 rising to 86.0% at SR = 0.75)").format(
            sr=wide.squeeze_ratio, r=c.ratio, p=wide.params / v10.params, a=SQUEEZENET_TOP5),
        _("The squeeze layers' savings are too small a share of this CPU's time.")))
    sizes = [r for r in result.nets if r.paper_mb is not None]
    agree = all(_within(r.size_mb, r.paper_mb) for r in sizes)
    findings.append(Finding(
        _("model sizes of the design-space exploration"), HOLDS if agree else FAILS,
        _("sizes here against the paper's: {pairs}.").format(pairs="; ".join(
            _("SR {sr:g}: {ours:.1f} MB against {paper:g} MB").format(sr=r.squeeze_ratio, ours=r.size_mb,
                                                                      paper=r.paper_mb) for r in sizes))))
    # strategy 3, as SqueezeNet 1.1 tests it
    v11 = result.net(V11)
    c = result.net_timings.compare(v10.label, V11)
    findings.append(timing_finding(
        _("late downsampling costs computation (1.0 against 1.1)"), c,
        _("SqueezeNet 1.0 takes {r:.2f}× the time of 1.1 here, with {m:.2f}× the MACs (official README: 2.4× the "
          "computation; {c1:.0f}M of the {d:.0f}M MACs more are conv1's, the rest the Fire modules' larger maps), "
          "at the same accuracy (torchvision: 58.09% against 58.18% top-1)").format(
            r=c.ratio, m=v10.macs / v11.macs, c1=(v10.conv1_macs - v11.conv1_macs) / 1e6,
            d=(v10.macs - v11.macs) / 1e6),
        _("Here the larger activation maps cost little time.")))
    # SqueezeNext
    t = result.low_rank_timings
    c = t.compare(0, 1)
    stages = list(result.stages)
    full, split = stage_params(0, stages), stage_params(1, stages)
    findings.append(timing_finding(
        _("SqueezeNext: 3×1 + 1×3 instead of 3×3"), c,
        _("a 3×3 filter takes {r:.2f}× the time of 3×1 then 1×3 at SqueezeNext's four stage shapes, with "
          "{p:.2f}× the weights (the paper: K² → 2K, 9 → 6 weights per channel pair)").format(
            r=c.ratio, p=full / split),
        _("Two thin convolutions cost two passes over the activations; the saved multiply-adds do not pay for "
          "that here.")))
    return findings


# --------------------------------------------------------------------------------------------------
# what the page shows


def view(result: SavingsResult) -> View:
    t = result.net_timings
    base = t.index(_label(0.125, 0.5))
    rows = []
    for k, r in enumerate(result.nets):
        rows.append((_(r.label), f"{r.params / 1e6:.2f}", f"{r.size_mb:.1f}", f"{r.macs / 1e6:.0f}",
                     f"{r.median_ms:.1f}", f"{t.ratio(k, base):.2f}",
                     "—" if r.paper_mb is None else f"{r.paper_mb:g}",
                     "—" if r.paper_top5 is None else f"{r.paper_top5:g}"))
    nets = Table(_("SqueezeNet variants: cost model and measured latency, beside the paper's figures"),
                 (_("network"), _("params (M)"), _("size (MB)"), _("MACs (M)"), _("median ms"),
                  _("time vs SqueezeNet 1.0"), _("paper: size (MB)"), _("paper: top-5 (%)")), tuple(rows),
                 note=_("AlexNet, for comparison: {p}M parameters ({mb:.0f} MB), {m}M multiply-adds, {t1}% top-1 "
                        "({src}). The paper's top-5 figures are from its Sec. 5 text; Fig. 3's other points are "
                        "plotted only.").format(p=ALEXNET.params_m, mb=ALEXNET.params_m * 4e6 / 2**20,
                                                m=ALEXNET.macs_m, t1=ALEXNET.top1, src=ALEXNET.source))
    lr = result.low_rank_timings
    stages = list(result.stages)
    lr_rows = tuple((_(label), str(stage_params(k, stages)), f"{lr.median_ms(k):.3f}", f"{lr.ratio(k, 0):.2f}")
                    for k, label in enumerate(lr.labels))
    low_rank = Table(_("SqueezeNext's low-rank filters, at the four stages' shapes ({shapes})").format(
        shapes=", ".join(f"C = {2 * s.c_out} at {s.height}×{s.height}" for s in stages)),
        (_("filters"), _("weights"), _("median ms"), _("time vs 3×3, c → c")), lr_rows,
        note=_("In SqueezeNext's block the split goes from C/4 to C/2 channels and then C/2 to C/2: a single "
               "3×3 from C/4 to C/2 has exactly as many weights."))
    sweeps = []
    for title, rows_of, x_of, x_title in (
            (_("squeeze ratio SR (3×3 share 50%)"), lambda r: r.pct3x3 == 0.5, lambda r: r.squeeze_ratio, "SR"),
            (_("3×3 share (SR = 0.5)"), lambda r: r.squeeze_ratio == 0.5, lambda r: r.pct3x3, "pct3x3")):
        points = sorted((r for r in result.nets if r.name == "squeezenet1_0" and rows_of(r)), key=x_of)
        sweeps.append(Panel(title, (
            Series(_("params (relative)"), tuple(x_of(r) for r in points),
                   tuple(r.params / points[0].params for r in points), "line", color="#9e9e9e"),
            Series(_("MACs (relative)"), tuple(x_of(r) for r in points),
                   tuple(r.macs / points[0].macs for r in points), "line", color="#2ca02c"),
            Series(_("measured time (relative)"), tuple(x_of(r) for r in points),
                   tuple(t.ratio(t.index(r.label), t.index(points[0].label)) for r in points), "line",
                   color="#d62728"))))
    chart = Chart(_("SqueezeNet's knobs: cost and time, relative to the first point"), tuple(sweeps),
                  y_title=_("relative to the first point"))
    return View((nets, low_rank), (chart,))


def preview(device: str) -> View:
    rows = []
    for label, cfg in _net_configs(quick=False).items():
        p = lightnets.profile(cfg)
        rows.append((_(label), f"{p.params / 1e6:.2f}", f"{p.macs / 1e6:.0f}"))
    rows.append((ALEXNET.label, f"{ALEXNET.params_m:g}", f"{ALEXNET.macs_m:g}"))
    return View((Table(_("What is compared (full mode; quick mode times fewer points)"),
                       (_("network"), _("params (M)"), _("MACs (M)")), tuple(rows)),))


EXPERIMENTS = [Experiment(
    id="squeezenet_savings", title=N_("SqueezeNet and SqueezeNext: parameter savings"), paper=PAPER,
    where=N_("SqueezeNet Sec. 3.1 and 5 (Fig. 3); SqueezeNext Sec. 3"),
    claim=N_("SqueezeNet reaches “AlexNet-level accuracy with 50x fewer parameters” by three strategies: "
             "“Replace 3x3 filters with 1x1 filters” (9× fewer parameters each), “Decrease the number of input "
             "channels to 3x3 filters” (squeeze layers) and “Downsample late in the network” (for accuracy). "
             "SqueezeNext splits each 3×3 filter into 3×1 and 1×3, “from K² to 2K” parameters."),
    setup=N_("SqueezeNet 1.0 is built with its knobs swept as in the paper's design-space exploration: the share "
             "of 3×3 filters at squeeze ratio 0.5, and the squeeze ratio at 50% 3×3 filters; beside it SqueezeNet "
             "1.1, whose pools come earlier. The cost model counts parameters and multiply-adds; all variants are "
             "timed in alternation at 224×224. SqueezeNext's split filters are timed against full 3×3 filters at "
             "the shapes of its four stages."),
    run=run, judge=judge, view=view, preview=preview, order=40,
    notes=(N_("SqueezeNet's Fig. 3 is a plot: only the points its text gives are shown beside ours. 1.0 and 1.1 "
              "also differ in the first convolution, so the late-downsampling comparison is not of the pools "
              "alone."),),
)]
