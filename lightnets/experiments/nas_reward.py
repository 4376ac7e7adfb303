"""The NAS reward (MnasNet Sec. 3; MobileNetV3 Sec. 4.1): ACC(m) · [LAT(m) / TAR]^w over every registered model.

Every registered model at its default setting has a published ImageNet top-1 (papers.json, the reference taken at
exactly that configuration); its latency is measured here, all models timed in alternation (batch 1, eager). The
reward of each model at the target TAR and exponent w, the winner, and the accuracy–latency Pareto front are
computed from those figures; TAR and w are live knobs: moving them rereads the same measurement.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

import lightnets
from lightnets.experiments import (HOLDS, NOISY, Chart, Experiment, Finding, Panel, Series, Table, View, plan,
                                   time_alternating)
from lightnets.i18n import N_, _
from lightnets.models.mobilenet_v3 import PAPER
from lightnets.registry import Knob, paper_entries

MNASNET_W, MOBILENET_V3_SMALL_W = -0.07, -0.15
PHONE_KEYS = ("Pixel1", "Pixel1_CPU_TFLite", "SamsungS8", "224x224")  # the phone figure shown, first found


def reward(accuracy: float, latency_ms: float, target_ms: float, w: float) -> float:
    """MnasNet's soft-constrained objective ACC(m) · [LAT(m)/TAR]^w (its α = β = w)."""
    if not (latency_ms > 0 and target_ms > 0):
        raise ValueError("latency and target must be positive")
    return accuracy * (latency_ms / target_ms) ** w


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (latency, accuracy) points no other point beats: as fast or faster and at least as accurate,
    better in one of the two. Ordered by latency."""
    front = []
    for i, (lat, acc) in enumerate(points):
        beaten = any((l2 <= lat and a2 >= acc) and (l2 < lat or a2 > acc) for j, (l2, a2) in enumerate(points)
                     if j != i)
        if not beaten:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


@dataclass(frozen=True)
class Candidate:
    name: str
    title: str
    top1: float
    reference: str  # the published row's label and source
    ms: float  # median of the per-round medians, here
    low_ms: float  # 10% and 90% quantiles of the rounds
    high_ms: float
    phone_ms: float | None
    phone: str  # which device the paper timed on


@dataclass(frozen=True)
class RewardResult:
    device: str
    threads: int
    candidates: tuple[Candidate, ...]
    target_ms: float
    w: float

    def rewards(self, latency: str = "ms") -> list[float]:
        return [reward(c.top1, getattr(c, latency), self.target_ms, self.w) for c in self.candidates]

    def winner(self, latency: str = "ms") -> Candidate:
        values = self.rewards(latency)
        return self.candidates[max(range(len(values)), key=values.__getitem__)]

    def front(self) -> list[Candidate]:
        return [self.candidates[i] for i in pareto_front([(c.ms, c.top1) for c in self.candidates])]


def candidates() -> list[tuple[str, float, str, float | None, str]]:
    """(model, published top-1, reference, phone latency, phone) of every registered model at its default
    setting with a published top-1 there (the paper's own row first)."""
    rows = []
    for name in lightnets.list_models():
        spec = lightnets.spec(name)
        refs = [r for r in spec.matching_references(lightnets.config(name)) if r.top1 is not None]
        if not refs:
            continue
        ref = next((r for r in refs if r.provenance == "paper"), refs[0])
        phone_ms, phone = None, ""
        for r in refs:
            latency = paper_entries().get(r.entry, {}).get("latency_ms") if r.entry is not None else None
            if isinstance(latency, dict):
                key = next((k for k in PHONE_KEYS if isinstance(latency.get(k), (int, float))), None)
                if key is not None:
                    phone_ms = float(latency[key])
                    phone = str(latency.get("device", key))
                    break
        rows.append((name, float(ref.top1), f"{ref.label} ({ref.source})", phone_ms, phone))
    return rows


def run(device: str, threads: int, quick: bool, progress, target_ms: float, w: float) -> RewardResult:
    rows = candidates()
    progress(0.0, _("building {n} networks").format(n=len(rows)))
    modules = [lightnets.build(lightnets.config(name)).eval().to(device) for name, *_ in rows]
    inputs = [torch.randn(1, 3, lightnets.config(name).resolution, lightnets.config(name).resolution,
                          device=device) for name, *_ in rows]
    t = time_alternating(modules, inputs, [name for name, *_ in rows], plan(quick, networks=True), threads, device,
                         progress, (0.05, 1.0), _("every model"))
    from lightnets.experiments import quantile

    found = []
    for k, (name, top1, ref, phone_ms, phone) in enumerate(rows):
        found.append(Candidate(name, lightnets.spec(name).title, top1, ref, t.median_ms(k),
                               quantile(t.round_ms[k], 0.1), quantile(t.round_ms[k], 0.9), phone_ms, phone))
    return RewardResult(device, threads, tuple(found), float(target_ms), float(w))


def reread(result: RewardResult, target_ms: float, w: float) -> RewardResult:
    return replace(result, target_ms=float(target_ms), w=float(w))


# --------------------------------------------------------------------------------------------------
# verdicts


def judge(result: RewardResult) -> list[Finding]:
    win = result.winner()
    # the rounds' spread: the winner at its slowest (90% quantile) against every other at its fastest (10%)
    rivals = [reward(c.top1, c.low_ms, result.target_ms, result.w) for c in result.candidates if c is not win]
    margin = reward(win.top1, win.high_ms, result.target_ms, result.w)
    robust = not rivals or margin > max(rivals)
    findings = [Finding(
        _("the reward picks one model at this target"), HOLDS if robust else NOISY,
        _("At TAR = {tar:g} ms and w = {w:+.2f}, {m} wins with {acc:.1f}% top-1 at {ms:.1f} ms here (reward "
          "{r:.2f})").format(tar=result.target_ms, w=result.w, m=win.title, acc=win.top1, ms=win.ms,
                             r=reward(win.top1, win.ms, result.target_ms, result.w))
        + (_("; it stays the winner across the timing rounds' spread.") if robust else
           _("; within the timing rounds' spread another model could win: measure again in full mode or when the "
             "machine is quieter.")))]
    front = result.front()
    findings.append(Finding(
        _("the winner lies on the accuracy–latency Pareto front"), HOLDS if win in front else NOISY,
        _("{n} of {m} models are on the front here: {names}.").format(
            n=len(front), m=len(result.candidates), names=", ".join(c.title for c in front))))
    return findings


# --------------------------------------------------------------------------------------------------
# what the page shows


def view(result: RewardResult) -> View:
    rewards = result.rewards()
    win = result.winner()
    front = {c.name for c in result.front()}
    order = sorted(range(len(result.candidates)), key=lambda i: -rewards[i])
    rows = []
    for i in order:
        c = result.candidates[i]
        phone = f"{c.phone_ms:g} ({c.phone})" if c.phone_ms is not None else "—"
        rows.append((c.title + (" ★" if c is win else ""), f"{c.top1:.1f}", f"{c.ms:.1f}",
                     f"{c.low_ms:.1f}–{c.high_ms:.1f}", f"{(c.ms / result.target_ms) ** result.w:.3f}",
                     f"{rewards[i]:.2f}", "✓" if c.name in front else "", phone))
    table = Table(
        _("Reward ACC·(LAT/TAR)^w at TAR = {tar:g} ms, w = {w:+.2f}, latency measured here ({threads} thread(s), "
          "batch 1)").format(tar=result.target_ms, w=result.w, threads=result.threads),
        (_("model"), _("top-1, %"), _("ms here"), _("10–90% of rounds"), _("(LAT/TAR)^w"), _("reward"),
         _("Pareto front"), _("paper: phone, ms")), tuple(rows),
        _("Top-1 is each paper's figure at the model's default setting (papers.json); ms is measured here in "
          "eager PyTorch. With w = −0.07 a model twice as slow must be {a:.1%} more accurate to tie; with w = "
          "−0.15, {b:.1%}.").format(a=2 ** 0.07 - 1, b=2 ** 0.15 - 1))
    ours = [c for c in result.candidates]
    here = Series(_("measured here"), tuple(c.ms for c in ours), tuple(c.top1 for c in ours), "markers",
                  color="#1f77b4")
    line = Series(_("Pareto front here"), tuple(c.ms for c in result.front()),
                  tuple(c.top1 for c in result.front()), "line", color="#1f77b4")
    phones = [c for c in ours if c.phone_ms is not None]
    panels = [Panel(_("this machine"), (here, line))]
    if phones:
        phone_front = [phones[i] for i in pareto_front([(c.phone_ms, c.top1) for c in phones])]
        panels.append(Panel(_("the papers' phones"), (
            Series(_("paper's phone latency"), tuple(c.phone_ms for c in phones), tuple(c.top1 for c in phones),
                   "markers", color="#d62728"),
            Series(_("Pareto front, phones"), tuple(c.phone_ms for c in phone_front),
                   tuple(c.top1 for c in phone_front), "line", color="#d62728"))))
    chart = Chart(_("Accuracy against latency: here and on the papers' phones"), tuple(panels),
                  x_title=_("latency, ms"), y_title=_("ImageNet top-1, %"))
    # the reward of the three leaders across w, at this target: where the exponent changes the winner
    ws = tuple(round(-0.3 + 0.01 * k, 2) for k in range(31))
    leaders = order[:3]
    curves = tuple(Series(result.candidates[i].title, ws,
                          tuple(reward(result.candidates[i].top1, result.candidates[i].ms, result.target_ms, x)
                                for x in ws), "line") for i in leaders)
    sweep = Chart(_("Reward of the three leaders as w changes (TAR = {tar:g} ms)").format(tar=result.target_ms),
                  (Panel("", curves),), x_title="w", y_title=_("reward"))
    return View((table,), (chart, sweep))


def preview(device: str) -> View:
    rows = tuple((lightnets.spec(name).title, f"{top1:.1f}", ref, f"{ms:g} ({phone})" if ms else "—")
                 for name, top1, ref, ms, phone in candidates())
    return View((Table(_("The models: each at its default setting, with the paper's top-1 there"),
                       (_("model"), _("top-1, %"), _("published row"), _("paper: phone, ms")), rows),))


EXPERIMENTS = [Experiment(
    id="nas_reward", title=N_("The NAS reward: accuracy against latency at a target"), paper=PAPER,
    where=N_("Sec. 4.1 “Platform-Aware NAS for Block-wise Search”; MnasNet Sec. 3"),
    claim=N_("The search maximises “ACC(m) × [LAT(m)/TAR]^w”, a soft latency constraint: MnasNet uses w = −0.07; "
             "for MobileNetV3-Small “we observe that accuracy changes much more dramatically with latency for "
             "small models; therefore, we need a smaller weight factor w = −0.15 to compensate for the larger "
             "accuracy change for different latencies.”"),
    setup=N_("Every registered model at its default setting, with the paper's ImageNet top-1 there, is timed on "
             "this machine (batch 1, eager, all models in alternation). The reward of each at the target TAR and "
             "exponent w, the winner, and the accuracy–latency Pareto front follow; the papers' phone latencies "
             "stand beside ours where papers.json gives them. Moving TAR or w rereads the same measurement."),
    run=run, judge=judge, view=view, preview=preview, order=70,
    knobs=(Knob("target_ms", N_("target latency TAR, ms"), "int", 20, min=1, max=300, step=1,
                help=N_("The latency the search aims at, on this machine.")),
           Knob("w", N_("exponent w"), "float", MNASNET_W, min=-0.5, max=0.0, step=0.01,
                help=N_("How much latency costs: −0.07 is MnasNet's (and MobileNetV3-Large's), −0.15 "
                        "MobileNetV3-Small's; 0 ignores latency."))),
    live=("target_ms", "w"), reread=reread,
    notes=(N_("Why −0.15 for V3-Small: for small models accuracy changes much more with latency, so with −0.07 "
              "the accuracy a slower model gains would outweigh its latency penalty and the search would drift past "
              "the target. The more negative w = −0.15 makes latency cost more, compensating for that larger "
              "accuracy change."),
           N_("The papers time on phones (Pixel, TFLite); the latency here is this machine's, so the target is in "
              "this machine's milliseconds.")),
)]
