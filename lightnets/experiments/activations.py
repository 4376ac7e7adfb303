"""Activations (MobileNetV3 Sec. 5.2): is sigmoid, and with it swish, too expensive, so that the hard versions pay?

Two measurements, both timed in alternation:

* every activation alone, applied to the exact activation tensors of MobileNetV3-Large at 224×224 (the 48 inputs
  of its activation layers, SE gates included, 3.8M values in all, in the network's order): ReLU, ReLU6, sigmoid,
  h-sigmoid, swish (x·σ(x), PyTorch's fused ``silu``), h-swish (the fused ``hardswish`` kernel) and h-swish
  written out as x·ReLU6(x+3)/6 (four element-wise passes: the "non-optimized" h-swish of the paper's Table 5);
  eager and as a frozen TorchScript trace (full mode);
* the whole network three ways: ReLU everywhere (the ``hswish=False`` knob), as published (h-swish, h-sigmoid
  gates) and with the soft originals (swish, sigmoid gates), eager and, in full mode, in the deployment form.

The chapter's claim is about phones; the paper's own latency figures are Table 5's (Pixel 1, TFLite): ReLU
50.5 ms, h-swish 51.4 ms optimized and 57.5 ms without the optimization. The first version of the paper adds that
swish instead of h-swish "in quantized mode increased inference latency by 15%"; float mode, it says, is
dominated by memory access.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

import lightnets
from lightnets.experiments import (Chart, Experiment, Finding, Panel, Series, Table, Timings, View, frozen, plan,
                                   time_alternating, timing_finding)
from lightnets.i18n import N_, _
from lightnets.models.mobilenet_v3 import PAPER

MODEL = "mobilenet_v3_large"


class UnfusedHardswish(nn.Module):
    """h-swish as the formula reads, x·ReLU6(x+3)/6: four element-wise passes over memory instead of one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * nn.functional.relu6(x + 3) / 6


# label → the module applied out of place (an in-place activation applied again and again would drive the values
# towards denormals)
ACTIVATIONS: dict[str, type[nn.Module]] = {
    N_("ReLU"): nn.ReLU, N_("ReLU6"): nn.ReLU6, N_("sigmoid"): nn.Sigmoid, N_("h-sigmoid"): nn.Hardsigmoid,
    N_("swish"): nn.SiLU, N_("h-swish"): nn.Hardswish, N_("h-swish, unfused"): UnfusedHardswish,
}
FORMS = {"eager": N_("eager PyTorch"), "deployed": N_("deployment form")}
WHAT = {"activations": N_("activations alone"), "networks": N_("whole network")}
NETWORKS = (N_("ReLU everywhere"), N_("h-swish (as published)"), N_("swish, sigmoid gates"))
# Table 5 (final version), Pixel 1 latency of V3-Large: ReLU, h-swish optimized, h-swish not optimized
PAPER_TABLE5_MS = {"ReLU": 50.5, "h-swish": 51.4, "h-swish, unfused": 57.5}


def activation_shapes() -> list[tuple[int, ...]]:
    """The input shape of every activation call of MobileNetV3-Large at 224 px, in the network's order."""
    p = lightnets.profile(lightnets.config(MODEL, 224))
    return [row.input_shape for row in p.layers if row.op == "act"]


class ActivationSweep(nn.Module):
    """One activation applied to each of ``shapes`` in turn, reading them from one flat input buffer."""

    def __init__(self, activation: nn.Module, shapes: list[tuple[int, ...]]) -> None:
        super().__init__()
        self.activation = activation
        self.shapes = [tuple(s) for s in shapes]
        self.sizes = [math.prod(s) for s in shapes]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.activation(part.view(shape)) for part, shape in zip(x.split(self.sizes), self.shapes))


def soft_network() -> nn.Module:
    """MobileNetV3-Large with every h-swish replaced by swish and every h-sigmoid gate by a sigmoid."""
    model = lightnets.build(lightnets.config(MODEL))
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Hardswish):
                setattr(parent, name, nn.SiLU(inplace=True))
            elif isinstance(child, nn.Hardsigmoid):
                setattr(parent, name, nn.Sigmoid())
    return model.eval()


def networks() -> list[nn.Module]:
    """ReLU everywhere (the ``hswish=False`` knob), as published, and with swish and sigmoid gates."""
    relu = lightnets.build(lightnets.config(MODEL, hswish=False)).eval()
    return [relu, lightnets.build(lightnets.config(MODEL)).eval(), soft_network()]


@dataclass(frozen=True)
class Run:
    what: str  # "activations" or "networks"
    form: str
    timings: Timings


@dataclass(frozen=True)
class ActivationResult:
    device: str
    values: int  # activation values per pass (all shapes)
    calls: int
    runs: tuple[Run, ...]

    def run(self, what: str, form: str = "eager") -> Run | None:
        return next((r for r in self.runs if r.what == what and r.form == form), None)


def run(device: str, threads: int, quick: bool, progress) -> ActivationResult:
    shapes = activation_shapes()
    total = sum(math.prod(s) for s in shapes)
    forms = ("eager",) if quick else tuple(FORMS)
    steps = [("activations", f) for f in forms] + [("networks", f) for f in forms]
    runs = []
    generator = torch.Generator().manual_seed(0)
    for step, (what, form) in enumerate(steps):
        span = (step / len(steps), (step + 1) / len(steps))
        progress(span[0], _("preparing {what} ({form})").format(what=_(WHAT[what]), form=_(FORMS[form])))
        if what == "activations":
            # values spread over −4…4, where the hard functions' pieces all occur
            buffer = (torch.rand(total, generator=generator) * 8 - 4).to(device)
            modules: list[nn.Module] = [ActivationSweep(cls(), shapes).to(device) for cls in ACTIVATIONS.values()]
            if form == "deployed":
                modules = [frozen(m, buffer) for m in modules]
            inputs = [buffer] * len(modules)
            labels, timing = list(ACTIVATIONS), plan(quick)
        else:
            modules = [m.to(device) for m in networks()]
            if form == "deployed":
                modules = [lightnets.optimize_for_inference(m, resolution=224) for m in modules]
            inputs = [torch.randn(1, 3, 224, 224, device=device)] * len(modules)
            labels, timing = list(NETWORKS), plan(quick, networks=True)
        timings = time_alternating(modules, inputs, labels, timing, threads, device, progress, span,
                                   _("{what}, {form}").format(what=_(WHAT[what]), form=_(FORMS[form])))
        runs.append(Run(what, form, timings))
    return ActivationResult(device, total, len(shapes), tuple(runs))


# --------------------------------------------------------------------------------------------------
# verdicts


def _finding(claim: str, t: Timings, slow: str, fast: str, paper: str) -> Finding:
    c = t.compare(slow, fast)
    said = _("{slow} takes {r:.2f}× the time of {fast} here ({paper})").format(
        slow=_(slow), fast=_(fast), r=c.ratio, paper=paper)
    return timing_finding(claim, c, said, _("This CPU computes the exponential with vector instructions about as "
                                            "fast as it moves the values; the claim is about phones and quantized "
                                            "kernels."))


def judge(result: ActivationResult) -> list[Finding]:
    findings = []
    for form in FORMS:
        ops = result.run("activations", form)
        if ops is not None:
            where = _(FORMS[form])
            findings.append(_finding(_("sigmoid against h-sigmoid, alone ({where})").format(where=where),
                                     ops.timings, "sigmoid", "h-sigmoid",
                                     _("the paper: sigmoid is expensive on mobile devices")))
            findings.append(_finding(_("swish against h-swish, alone ({where})").format(where=where),
                                     ops.timings, "swish", "h-swish",
                                     _("the paper's first version: +15% for the whole network, quantized")))
            findings.append(_finding(_("h-swish written out against the fused kernel ({where})").format(where=where),
                                     ops.timings, "h-swish, unfused", "h-swish",
                                     _("Table 5: 57.5 against 51.4 ms for the whole network")))
        nets = result.run("networks", form)
        if nets is not None:
            findings.append(_finding(_("whole network, swish against h-swish ({where})").format(where=_(FORMS[form])),
                                     nets.timings, NETWORKS[2], NETWORKS[1],
                                     _("the paper's first version: +15% in quantized mode")))
    return findings


# --------------------------------------------------------------------------------------------------
# what the page shows


def view(result: ActivationResult) -> View:
    tables, panels = [], []
    for what in ("activations", "networks"):
        runs = [r for r in result.runs if r.what == what]
        labels = runs[0].timings.labels
        base = 0 if what == "activations" else 1  # ReLU alone; the published network
        rows = []
        for k, label in enumerate(labels):
            cells = [_(label)]
            for form in FORMS:
                r = result.run(what, form)
                cells.append("—" if r is None else f"{r.timings.median_ms(k):.3f} ({r.timings.ratio(k, base):.2f}×)")
            if what == "activations":
                cells.append(f"{PAPER_TABLE5_MS[label]:.1f}" if label in PAPER_TABLE5_MS else "—")
            rows.append(tuple(cells))
        if what == "activations":
            title = _("Each activation on all {n} activation tensors of MobileNetV3-Large ({v:.1f}M values): "
                      "ms per pass (× ReLU's time)").format(n=result.calls, v=result.values / 1e6)
            columns = (_("activation"), _("eager"), _("deployment form"), _("paper: whole network, ms (Table 5)"))
            note = _("Table 5 gives the whole network's Pixel 1 latency with ReLU, with h-swish, and with h-swish "
                     "not optimized (computed as written).")
        else:
            title = _("MobileNetV3-Large three ways: ms per image (× the published network's time)")
            columns = (_("network"), _("eager"), _("deployment form"))
            note = ""
        tables.append(Table(title, columns, tuple(rows), note))
        for r in runs:
            t = r.timings
            panels.append(Panel(_("{what}, {form}").format(what=_(WHAT[what]), form=_(FORMS[r.form])), (
                Series(_("time relative to the first bar"), tuple(_(label) for label in t.labels),
                       tuple(t.ratio(k, 0) for k in range(len(t.labels))), "bar",
                       tuple(min(t.ratios(k, 0)) for k in range(len(t.labels))),
                       tuple(max(t.ratios(k, 0)) for k in range(len(t.labels))), "#1f77b4"),)))
    chart = Chart(_("Time relative to ReLU (activations alone) and to ReLU everywhere (networks)"), tuple(panels),
                  y_title=_("relative time"), reference_y=1.0)
    return View(tuple(tables), (chart,))


def preview(device: str) -> View:
    shapes = activation_shapes()
    by_size: dict[tuple[int, ...], int] = {}
    for s in shapes:
        by_size[s] = by_size.get(s, 0) + 1
    rows = tuple(("×".join(map(str, s[1:])), str(n)) for s, n in by_size.items())
    return View((Table(_("The activation tensors of MobileNetV3-Large at 224×224 (channels × height × width)"),
                       (_("shape"), _("calls")), rows),))


EXPERIMENTS = [Experiment(
    id="activations", title=N_("Activations: sigmoid, swish and their hard versions"), paper=PAPER,
    where=N_("Sec. 5.2 “Nonlinearities”, Table 5"),
    claim=N_("Swish, x·σ(x), improves accuracy, but “computing the sigmoid function is much more expensive on "
             "mobile devices”; the hard versions h-sigmoid = ReLU6(x+3)/6 and h-swish = x·ReLU6(x+3)/6 keep the "
             "accuracy and are cheap, and “h-swish can be implemented as a piece-wise function to reduce the number "
             "of memory accesses”."),
    setup=N_("Each activation is applied, on its own, to the 48 activation tensors of MobileNetV3-Large at "
             "224×224 (3.8M values), and all seven are timed in alternation: ReLU, ReLU6, sigmoid, h-sigmoid, "
             "swish, h-swish as one fused kernel, and h-swish written out as four element-wise steps. Then the "
             "whole network is timed with ReLU everywhere, as published (h-swish), and with swish and sigmoid "
             "gates. Quick mode runs eager PyTorch; full mode adds the deployment form."),
    run=run, judge=judge, view=view, preview=preview, order=30,
    notes=(N_("The paper times on a phone with TFLite; this measures what holds on this machine's CPU with "
              "PyTorch's kernels."),),
)]
