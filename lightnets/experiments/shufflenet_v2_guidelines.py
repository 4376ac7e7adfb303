"""ShuffleNet V2's four guidelines (Ma et al. 2018, Sec. 2, Tables 1–4), timed on the paper's benchmark networks.

Every network is built from the paper's text and tables (``data/shufflenet_v2_guidelines.json``): ten blocks at
56×56. On a CPU we use the channel counts of the paper's ARM columns (one thread, batch 1, as the Snapdragon 810
runs); on a GPU those of its GPU columns, at batch 8 (the only GPU batch the paper states, Fig. 1).

Where the paper is silent, this is what we chose, and why:

* **×1 / ×2 / ×4 are channel multipliers** (so FLOPs grow ×1 / ×4 / ×16), although the reference file reads them
  as FLOPs multipliers. Tables 3 and 4 head those columns with the channel count itself (c = 128 / 256 / 512 on
  GPU); Table 2's g = 1 row is the same network as Table 3's 1-fragment row (ten 1×1 convs, c = 128 GPU / 64 ARM)
  and their figures agree column by column (2451 / 1289 / 437 against 2446 / 1274 / 434); and ARM throughput falls
  about 4× per column in every table, as 4× the FLOPs would.
* **No batch norm, no ReLU, no bias** in G1–G3: the paper's formulas count only the convolutions' inputs, outputs
  and weights (MAC = hw(c1 + c2) + c1·c2), and it times with "full optimization" (batch norm folded away).
* **G2, ARM ×1, g = 8**: the table's c = 180 does not split into 8 groups; we use 184, the nearest multiple of 8
  (FLOPs +3.3% against the g = 1 row, where 180 would give −1.1%).
* **G3's fragments** (the paper's appendix figure is an image): a k-fragment block holds k 1×1 convs of c/√k
  channels (rounded), so its FLOPs equal the 1-fragment block's, as the caption asks. In series they run one
  after the other; in parallel all read the block's input and their outputs are added, so that series and
  parallel differ in arrangement only (same widths, same FLOPs).
* **G4's unit**: c is the unit's input and output width and the bottleneck is c/4 (ResNet's ratio): 1×1 c → c/4,
  3×3 c/4 → c/4, 1×1 c/4 → c, ReLU after each of the first two convs and after the add; 56×56 as in Tables 1–3
  (Table 4 gives no size). The other reading (c as the bottleneck width, 4c in and out) would give the ARM ×1
  column 546M multiply-adds at 56.7 images/s, some ten times what the same chip reaches in Tables 1–3. No batch
  norm, as above. Timed eager and, in full mode, in the deployment form too (a frozen TorchScript trace, where
  oneDNN fuses each ReLU into its convolution): the paper timed with tensor fusion on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from lightnets.cost import profile_model
from lightnets.experiments import (FAILS, HOLDS, Chart, Experiment, Finding, Panel, Series, Table, Timings, View,
                                   batch_of, frozen, plan, time_alternating, timing_finding)
from lightnets.i18n import N_, _
from lightnets.registry import DATA_DIR, Block, Network, Paper, assemble

PAPER = Paper("ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
              "Ma, Zhang, Zheng, Sun", 2018, "1807.11164")
GUIDE = json.loads((DATA_DIR / "shufflenet_v2_guidelines.json").read_text(encoding="utf-8"))
SIZE = 56  # "Input image size is 56 × 56" (Tables 1–3)
REPEAT = 10  # "stacking 10 building blocks repeatedly"
SCALES = (1, 2, 4)
FORMS = {"eager": N_("eager PyTorch"), "deployed": N_("deployment form (frozen TorchScript)")}


def setup_of(device: str) -> str:
    """Which of the paper's channel sets a device runs: its ARM columns on a CPU, its GPU columns on CUDA."""
    return "gpu" if device == "cuda" else "arm"


# --------------------------------------------------------------------------------------------------
# the benchmark networks' blocks


class Fragments(nn.Module):
    """G3's block: ``count`` 1×1 convs of ``channels`` channels, one after another (series) or all on the block's
    input with their outputs added (parallel)."""

    kind = "fragments"

    def __init__(self, channels: int, count: int, parallel: bool) -> None:
        super().__init__()
        self.parallel = parallel
        self.convs = nn.ModuleList(nn.Conv2d(channels, channels, 1, bias=False) for _ in range(count))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.parallel:
            out = self.convs[0](x)
            for conv in self.convs[1:]:
                out = out + conv(x)
            return out
        for conv in self.convs:
            x = conv(x)
        return x

    @classmethod
    def describe(cls, channels: int, count: int, parallel: bool) -> str:
        return f"{count} × conv 1×1, {channels}, {'parallel, added' if parallel else 'in series'}"


class Bottleneck(nn.Module):
    """G4's ResNet bottleneck unit without batch norm: 1×1 c → c/4, 3×3, 1×1 → c, with ReLUs and the shortcut
    each optional."""

    kind = "bottleneck"

    def __init__(self, channels: int, relu: bool, shortcut: bool) -> None:
        super().__init__()
        mid = channels // 4
        self.conv1 = nn.Conv2d(channels, mid, 1, bias=False)
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1, bias=False)
        self.conv3 = nn.Conv2d(mid, channels, 1, bias=False)
        self.relu = relu
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        if self.relu:
            out = torch.relu(out)
        out = self.conv2(out)
        if self.relu:
            out = torch.relu(out)
        out = self.conv3(out)
        if self.shortcut:
            out = out + x
        if self.relu:
            out = torch.relu(out)
        return out

    @classmethod
    def describe(cls, channels: int, relu: bool, shortcut: bool) -> str:
        parts = [f"bottleneck {channels}→{channels // 4}→{channels}"]
        parts.append("ReLU" if relu else "no ReLU")
        parts.append("shortcut" if shortcut else "no shortcut")
        return ", ".join(parts)


def _conv(c_in: int, c_out: int, groups: int = 1) -> tuple[type[nn.Module], dict]:
    return nn.Conv2d, dict(in_channels=c_in, out_channels=c_out, kernel_size=1, groups=groups, bias=False)


@dataclass(frozen=True)
class Bench:
    """One benchmark network: a row of a table at one scale, as Block rows (the cost model and the timing read
    the same rows)."""

    label: str
    channels: str  # the widths in words, e.g. "c1 = 22, c2 = 44"
    blocks: tuple[Block, ...]
    in_channels: int
    formula: int | None = None  # the paper's memory access cost, in values (G1, G2)
    bound: float | None = None  # Eq. 1's lower bound at the same FLOPs, in values (G1, G2)

    def build(self) -> Network:
        return assemble(self.blocks)


def _mac_1x1(c1: int, c2: int, groups: int = 1) -> int:
    """The paper's memory access cost of one 1×1 (group) conv at 56×56: hw(c1 + c2) + c1·c2/g (Eq. 1, 2)."""
    return SIZE * SIZE * (c1 + c2) + c1 * c2 // groups


def _bound_1x1(flops: float) -> float:
    """Eq. 1: MAC ≥ 2·√(hw·B) + B/(hw), for a 1×1 conv of B FLOPs on an h×w map (equality when c1 = c2)."""
    hw = SIZE * SIZE
    return 2 * math.sqrt(hw * flops) + flops / hw


def g1_bench(row: Sequence, setup: str, scale: int) -> Bench:
    columns = GUIDE["tables"]["G1"]["columns"]
    c1 = row[columns.index(f"{setup}_c1")] * scale
    c2 = row[columns.index(f"{setup}_c2")] * scale
    blocks = []
    for i in range(REPEAT):
        for j, (a, b) in enumerate(((c1, c2), (c2, c1))):
            layer, args = _conv(a, b)
            blocks.append(Block(f"block{i + 1}.{j}", layer, args, "stage 1"))
    flops = SIZE * SIZE * c1 * c2
    return Bench(row[0], f"c1 = {c1}, c2 = {c2}", tuple(blocks), c1,
                 formula=REPEAT * 2 * _mac_1x1(c1, c2), bound=REPEAT * 2 * _bound_1x1(flops))


def group_channels(channels: int, groups: int) -> int:
    """``channels`` where ``groups`` divides it, else the nearest multiple of ``groups`` above it (the paper's
    ARM g = 8 row prints c = 180)."""
    return channels if channels % groups == 0 else (channels // groups + 1) * groups


def g2_bench(row: Sequence, setup: str, scale: int) -> Bench:
    columns = GUIDE["tables"]["G2"]["columns"]
    groups = row[0]
    c = group_channels(row[columns.index(f"{setup}_c")] * scale, groups)
    blocks = []
    for i in range(REPEAT):
        layer, args = _conv(c, c, groups)
        blocks.append(Block(f"layer{i + 1}", layer, args, "stage 1"))
    flops = SIZE * SIZE * c * c // groups
    return Bench(f"g = {groups}", f"c = {c}", tuple(blocks), c,
                 formula=REPEAT * _mac_1x1(c, c, groups), bound=REPEAT * _bound_1x1(flops))


def g3_base(setup: str) -> int:
    """The 1-fragment width at ×1: Table 3 heads its columns c = 128 (GPU) and c = 64 (ARM), as Table 2's g = 1."""
    columns = GUIDE["tables"]["G2"]["columns"]
    return GUIDE["tables"]["G2"]["rows"][0][columns.index(f"{setup}_c")]


def g3_bench(row: Sequence, setup: str, scale: int) -> Bench:
    structure = row[0]
    count = int(structure.split("-")[0])
    width = round(g3_base(setup) * scale / math.sqrt(count))
    blocks = tuple(Block(f"block{i + 1}", Fragments, dict(channels=width, count=count,
                                                          parallel=structure.endswith("parallel")), "stage 1")
                   for i in range(REPEAT))
    return Bench(structure, f"{count} × c = {width}", blocks, width)


G4_BASE = 32  # Table 4 heads its columns c = 32 / 64 / 128 (GPU and ARM alike)


def g4_label(relu: bool, shortcut: bool) -> str:
    return {(True, True): "ReLU + shortcut", (True, False): "ReLU, no shortcut",
            (False, True): "shortcut, no ReLU", (False, False): "neither"}[(relu, shortcut)]


def g4_bench(row: Sequence, setup: str, scale: int) -> Bench:
    relu, shortcut = bool(row[0]), bool(row[1])
    c = G4_BASE * scale
    blocks = tuple(Block(f"unit{i + 1}", Bottleneck, dict(channels=c, relu=relu, shortcut=shortcut), "stage 1")
                   for i in range(REPEAT))
    return Bench(g4_label(relu, shortcut), f"c = {c} (bottleneck {c // 4})", blocks, c)


# --------------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Row:
    """One benchmark network at one scale (and form), measured."""

    label: str
    channels: str
    scale: int
    form: str
    macs: int  # multiply-adds per image: the paper's "FLOPs"
    memory_access: int  # values read and written (cost model's bytes / 4)
    formula: int | None
    bound: float | None
    median_ms: float
    relative: float  # throughput relative to the table's first row at this scale: paired time ratio first / this
    paper_gpu: float  # the paper's throughput relative to its first row, same scale
    paper_arm: float


@dataclass(frozen=True)
class Run:
    scale: int
    form: str
    timings: Timings


@dataclass(frozen=True)
class GuidelineResult:
    guideline: str  # "G1" …
    device: str
    setup: str  # "arm" or "gpu": whose channel counts were built
    batch: int
    rows: tuple[Row, ...]
    runs: tuple[Run, ...]

    def run(self, scale: int, form: str = "eager") -> Run:
        return next(r for r in self.runs if r.scale == scale and r.form == form)


@dataclass(frozen=True)
class Guideline:
    key: str
    bench: Callable[[Sequence, str, int], Bench]
    comparisons: tuple[tuple[int, int], ...]  # (slow row, fast row) whose time ratio the claim is about
    forms: tuple[str, ...] = ("eager",)  # forms timed in full mode
    why_not: str = ""  # why the claim may fail on a CPU, given the figures

    @property
    def table(self) -> dict:
        return GUIDE["tables"][self.key]

    def paper(self, row: int, setup: str, scale: int) -> float:
        """The paper's throughput of ``row`` at ``scale`` relative to its first row, on ``setup``'s hardware."""
        columns = self.table["columns"]
        col = columns.index(f"{setup}_x{scale}")
        return self.table["rows"][row][col] / self.table["rows"][0][col]

    def benches(self, setup: str, scale: int) -> list[Bench]:
        return [self.bench(row, setup, scale) for row in self.table["rows"]]


def _profile(bench: Bench) -> tuple[int, int]:
    with torch.device("meta"):
        model = bench.build()
    p = profile_model(model, SIZE, in_channels=bench.in_channels)
    return p.macs, p.mem_bytes // p.dtype_bytes


def run_guideline(guide: Guideline, device: str, threads: int, quick: bool, progress) -> GuidelineResult:
    setup, batch, timing = setup_of(device), batch_of(device), plan(quick)
    scales = SCALES[:1] if quick else SCALES
    forms = ("eager",) if quick else guide.forms
    steps = [(s, f) for s in scales for f in forms]
    rows: list[Row] = []
    runs: list[Run] = []
    for step, (scale, form) in enumerate(steps):
        span = (step / len(steps), (step + 1) / len(steps))
        progress(span[0], _("building the ×{s} networks").format(s=scale))
        benches = guide.benches(setup, scale)
        costs = [_profile(b) for b in benches]
        inputs = [torch.randn(batch, b.in_channels, SIZE, SIZE, device=device) for b in benches]
        modules = [b.build().eval().to(device) for b in benches]
        if form == "deployed":
            modules = [frozen(m, x) for m, x in zip(modules, inputs)]
        timings = time_alternating(modules, inputs, [b.label for b in benches], timing, threads, device, progress,
                                   span, _("{g}, ×{s}, {form}").format(g=guide.key, s=scale, form=_(FORMS[form])))
        runs.append(Run(scale, form, timings))
        for k, (bench, (macs, memory)) in enumerate(zip(benches, costs)):
            rows.append(Row(bench.label, bench.channels, scale, form, macs, memory, bench.formula, bench.bound,
                            timings.median_ms(k), timings.ratio(0, k), guide.paper(k, "gpu", scale),
                            guide.paper(k, "arm", scale)))
    return GuidelineResult(guide.key, device, setup, batch, tuple(rows), tuple(runs))


# --------------------------------------------------------------------------------------------------
# verdicts


def judge_guideline(guide: Guideline, result: GuidelineResult) -> list[Finding]:
    findings = []
    first = [r for r in result.rows if r.scale == result.runs[0].scale and r.form == result.runs[0].form]
    if first[0].formula is not None:
        findings.append(_memory_finding(first))
    for run in result.runs:
        rows = [r for r in result.rows if r.scale == run.scale and r.form == run.form]
        for slow, fast in guide.comparisons:
            c = run.timings.compare(slow, fast)
            claim = _("{slow} against {fast}, ×{s}, {form}").format(slow=rows[slow].label, fast=rows[fast].label,
                                                                    s=run.scale, form=_(FORMS[run.form]))
            said = _("{slow} takes {r:.2f}× the time of {fast} here (paper: {gpu:.2f}× on its GPU, {arm:.2f}× on "
                     "its ARM CPU)").format(slow=rows[slow].label, fast=rows[fast].label, r=c.ratio,
                                            gpu=rows[fast].paper_gpu / rows[slow].paper_gpu,
                                            arm=rows[fast].paper_arm / rows[slow].paper_arm)
            findings.append(timing_finding(claim, c, said, _(guide.why_not)))
    return findings


def _memory_finding(rows: Sequence[Row]) -> Finding:
    """G1/G2 in the cost model: memory access grows down the table at (nearly) equal FLOPs — exact arithmetic,
    no timing; and the cost model's count is the paper's formula."""
    exact = all(r.memory_access == r.formula for r in rows)
    rising = all(a.memory_access < b.memory_access for a, b in zip(rows, rows[1:]))
    text = _("lightnets' cost model gives {last} {r:.2f}× the memory access of {first} at {f:.2f}× the FLOPs, "
             "exactly the paper's formula for every row{tail}").format(
        last=rows[-1].label, first=rows[0].label, r=rows[-1].memory_access / rows[0].memory_access,
        f=rows[-1].macs / rows[0].macs, tail="." if exact else _(" — except where marked in the table."))
    claim = _("memory access (cost model, ×{s})").format(s=rows[0].scale)
    return Finding(claim, HOLDS if rising and exact else FAILS, text)


# --------------------------------------------------------------------------------------------------
# what the page shows


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.2f}"


def _m(value: float | None) -> str:
    return "—" if value is None else f"{value / 1e6:.3f}"


def view_guideline(guide: Guideline, result: GuidelineResult) -> View:
    tables, charts = [], []
    for run in result.runs:
        rows = [r for r in result.rows if r.scale == run.scale and r.form == run.form]
        tables.append(Table(
            _("{g} at ×{s}, {form}: measured throughput beside the paper's, each relative to the first row").format(
                g=guide.key, s=run.scale, form=_(FORMS[run.form])),
            (_("network"), _("widths"), _("FLOPs (M multiply-adds)"), _("median ms"), _("measured here"),
             _("paper, GPU"), _("paper, ARM")),
            tuple((r.label, r.channels, f"{r.macs / 1e6:.1f}", _ms(r.median_ms), f"{r.relative:.2f}",
                   f"{r.paper_gpu:.2f}", f"{r.paper_arm:.2f}") for r in rows),
            note=_("Throughput relative to the first row: 0.50 means half as many images per second. Measured as "
                   "the median over {n} rounds of the paired time ratio, first row over this row.").format(
                n=len(run.timings.round_ms[0]))))
        charts.append(_throughput_panel(rows, run, result))
    if result.rows[0].formula is not None:
        tables.append(memory_table(guide.key, [r for r in result.rows if r.form == "eager"]))
    return View(tuple(tables), (_merge(charts, guide.key),))


def memory_table(key: str, rows: Sequence[Row]) -> Table:
    return Table(
        _("{g}: memory access cost of every row (millions of values)").format(g=key),
        (_("network"), _("network size"), _("FLOPs (M)"), _("cost model"), _("paper's formula"), _("lower bound (Eq. 1)")),
        tuple((r.label, f"×{r.scale}", f"{r.macs / 1e6:.1f}", _m(r.memory_access), _m(r.formula), _m(r.bound))
              for r in rows),
        note=_("The cost model counts every value each convolution reads (input and weights) and writes (output); "
               "the paper's formula is hw(c1 + c2) + c1·c2/g per 1×1 convolution. Eq. 1's bound is the least "
               "memory access any 1×1 convolution of the same FLOPs can have: it is reached when c1 = c2 and g = 1."))


def _throughput_panel(rows: Sequence[Row], run: Run, result: GuidelineResult) -> Panel:
    labels = tuple(r.label for r in rows)
    lows = [min(run.timings.ratios(0, k)) for k in range(len(rows))]
    highs = [max(run.timings.ratios(0, k)) for k in range(len(rows))]
    here = _("measured here ({device})").format(device=result.device)
    return Panel(_("×{s}, {form}").format(s=run.scale, form=_(FORMS[run.form])), (
        Series(here, labels, tuple(r.relative for r in rows), "bar", tuple(lows), tuple(highs), "#1f77b4"),
        Series(_("paper, GPU"), labels, tuple(r.paper_gpu for r in rows), "bar", color="#9e9e9e"),
        Series(_("paper, ARM"), labels, tuple(r.paper_arm for r in rows), "bar", color="#ff7f0e")))


def _merge(panels: Sequence[Panel], key: str) -> Chart:
    return Chart(_("{g}: throughput relative to the first row").format(g=key), tuple(panels),
                 y_title=_("relative throughput"), reference_y=1.0)


def preview_guideline(guide: Guideline, device: str) -> View:
    """The ×1 networks, their FLOPs and (G1, G2) their memory access, before anything is timed."""
    setup = setup_of(device)
    benches = guide.benches(setup, 1)
    rows = []
    for bench in benches:
        macs, memory = _profile(bench)
        rows.append((bench.label, bench.channels, bench.blocks[0].label, f"{macs / 1e6:.1f}", _m(memory)))
    hardware = _("GPU") if setup == "gpu" else _("ARM")
    return View((Table(
        _("The ×1 networks: ten blocks at 56×56, the paper's {hw} channel counts").format(hw=hardware),
        (_("network"), _("widths"), _("first block"), _("FLOPs (M multiply-adds)"), _("memory access (M values)")),
        tuple(rows)),))


# --------------------------------------------------------------------------------------------------
# the four experiments


GUIDELINES = {
    "G1": Guideline("G1", g1_bench, ((3, 0),), why_not=N_(
        "At these sizes the time follows the (nearly equal) multiply-adds more than the memory access, which this "
        "CPU's caches absorb.")),
    "G2": Guideline("G2", g2_bench, ((3, 0),), why_not=N_(
        "The extra memory access of group convolutions does not cost time here: this CPU's convolution kernels "
        "keep the data in cache.")),
    "G3": Guideline("G3", g3_bench, ((2, 0), (4, 0)), why_not=N_(
        "Fragments cost time by leaving a wide parallel processor idle between small kernels; a CPU with one or "
        "two threads has little parallelism to lose.")),
    "G4": Guideline("G4", g4_bench, ((0, 3),), forms=("eager", "deployed"), why_not=N_(
        "ReLU and the add are cheap here next to the convolutions, or fused into them in the deployment form.")),
}


def _experiment(key: str, order: int, title: str, where: str, claim: str, setup: str) -> Experiment:
    guide = GUIDELINES[key]
    return Experiment(
        id=f"shufflenet_v2_{key.lower()}", title=title, paper=PAPER, where=where, claim=claim, setup=setup,
        run=lambda device, threads, quick, progress: run_guideline(guide, device, threads, quick, progress),
        judge=lambda result: judge_guideline(guide, result),
        view=lambda result: view_guideline(guide, result),
        preview=lambda device: preview_guideline(guide, device),
        order=order, notes=(NOTES[key],))


NOTES = {
    "G1": N_("The paper's 1:12 row has about 5% fewer FLOPs than its 1:1 row (c1·c2 = 15552 against 16384 at "
             "×1 on GPU): we build its channel counts as printed."),
    "G2": N_("Ten 1×1 group convolutions, no channel shuffle (the paper mentions none). On a CPU the ARM "
             "×1 row g = 8 has 184 channels, not the printed 180, which 8 groups cannot split."),
    "G3": N_("The paper's appendix figure of the fragment blocks is an image: a k-fragment block here has k 1×1 "
             "convs of c/√k channels, in series, or in parallel with their outputs added."),
    "G4": N_("c is the unit's input and output width, its bottleneck c/4, at 56×56; no batch norm (folded away "
             "in a deployed network)."),
}

EXPERIMENTS = [
    _experiment("G1", 10, N_("ShuffleNet V2 G1: equal channel widths"), N_("Sec. 2, guideline G1, Table 1"),
                N_("“Equal channel width minimizes memory access cost (MAC).” With the FLOPs fixed, a 1×1 "
                   "convolution moves the fewest bytes when its input and output widths are equal, and the paper's "
                   "benchmark runs fastest at 1:1."),
                N_("Ten blocks of two 1×1 convolutions, c1 → c2 → c1, on a 56×56 map, at the paper's four ratios "
                   "c1:c2 = 1:1, 1:2, 1:6 and 1:12, with the widths chosen so that every network has the same "
                   "FLOPs. All four are timed in alternation on this machine; throughput is compared with the first "
                   "row's, as in the paper's table.")),
    _experiment("G2", 11, N_("ShuffleNet V2 G2: group convolutions"), N_("Sec. 2, guideline G2, Table 2"),
                N_("“Excessive group convolution increases MAC.” At equal FLOPs, more groups mean wider layers and "
                   "more memory traffic: “8 groups is more than two times slower than 1 group on GPU and up to 30% "
                   "slower on ARM”."),
                N_("Ten stacked 1×1 group convolutions on a 56×56 map with g = 1, 2, 4 and 8 groups; the width "
                   "grows with g so that the FLOPs stay the same. Timed in alternation; throughput relative to "
                   "g = 1.")),
    _experiment("G3", 12, N_("ShuffleNet V2 G3: fragmentation"), N_("Sec. 2, guideline G3, Table 3"),
                N_("“Network fragmentation reduces degree of parallelism.” Splitting one convolution into several "
                   "small ones, in series or in parallel, runs slower at the same FLOPs: on GPU the 4-fragment "
                   "structure is “3× slower than 1-fragment”."),
                N_("Blocks of one, two or four 1×1 convolutions, in series or in parallel, each stacked ten times "
                   "on a 56×56 map; the fragments are narrower so that every network has the FLOPs of the "
                   "1-fragment one. Timed in alternation; throughput relative to 1-fragment.")),
    _experiment("G4", 13, N_("ShuffleNet V2 G4: element-wise operations"), N_("Sec. 2, guideline G4, Table 4"),
                N_("“Element-wise operations are non-negligible.” ReLU, adds and the like have few FLOPs but "
                   "much memory access: removing ReLU and the shortcut from ResNet's bottleneck gives “around 20% "
                   "speedup” on GPU and ARM."),
                N_("ResNet's bottleneck unit (1×1, 3×3, 1×1 convolutions with ReLUs and a shortcut) stacked ten "
                   "times on a 56×56 map, then the same with the ReLUs removed, the shortcut removed, and both. "
                   "The FLOPs are identical; only the element-wise work differs. Timed in alternation, eager and "
                   "(in full mode) in the deployment form.")),
]
