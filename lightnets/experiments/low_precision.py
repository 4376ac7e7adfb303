"""ReLU6 and low precision (MobileNetV2 Sec. 4; MobileNetV3 Table 4): does the clamp at 6 keep activations in a
range that int8 represents well?

On EfficientNet-Lite0 with its real ImageNet weights (ReLU6 everywhere, shipped offline), fed 100 deterministic
crops and mirror images of the five bundled photos:

* every activation's range and histogram in float32;
* int8 post-training quantisation with PT2E and the x86 quantizer (``lightnets.quantization``): activations uint8
  per tensor, weights int8 per output channel or per tensor, calibrated with min–max on the photos' centre crops;
* float16 and bfloat16 (full mode);
* each compared with float32 without labels: top-1 agreement, top-5 overlap, the output's and every layer's SQNR,
  model size, CPU latency;
* the ablation: the same weights with every ReLU6 replaced by ReLU, quantised the same way, compared with its own
  float32 version. The network was trained with ReLU6, so this isolates the range effect only.
"""

from __future__ import annotations

import copy
import math
import statistics
from dataclasses import dataclass

import torch
from torch import nn

import lightnets
from lightnets import quantization as Q
from lightnets.experiments import (FAILS, HOLDS, MARGIN, NOISY, Chart, Experiment, Finding, Panel, Plan, Series,
                                   Table, Timings, View, plan, time_alternating, timing_finding)
from lightnets.i18n import N_, _
from lightnets.models.mobilenet_v2 import PAPER
from lightnets.registry import paper_entries

MODEL = "efficientnet_lite0"
CLAMP = 6.0
HIST_STEP, HIST_MAX = 0.5, 32.0  # histogram bins of every activation: 0–0.5, …, 31.5–32, then everything above
AGREE_HOLDS, AGREE_FAILS = 0.95, 0.90  # top-1 agreement: "keeps the predictions" / "does not"
SQNR_DB_MARGIN = 1.0  # the smallest difference in output SQNR called a difference
FP16_INPUTS = 10  # float16 convolutions are slow on CPUs (no fast kernels): judged on the first 10 inputs
TIMING_SLOW = Plan(rounds=3, budget_s=0.01)  # float16 runs take a second or more: three rounds of three runs

# (key, label, activation, precision, weights)
VARIANTS = {
    "fp32": (N_("float32 (reference)"), "relu6", "fp32", ""),
    "int8_pc": (N_("int8, per-channel weights"), "relu6", "int8", "per-channel"),
    "int8_pt": (N_("int8, per-tensor weights"), "relu6", "int8", "per-tensor"),
    "fp16": (N_("float16"), "relu6", "fp16", ""),
    "bf16": (N_("bfloat16"), "relu6", "bf16", ""),
    "relu_fp32": (N_("ReLU, float32 (its reference)"), "relu", "fp32", ""),
    "relu_int8_pc": (N_("ReLU, int8, per-channel weights"), "relu", "int8", "per-channel"),
    "relu_int8_pt": (N_("ReLU, int8, per-tensor weights"), "relu", "int8", "per-tensor"),
}
QUICK_VARIANTS = ("fp32", "int8_pc", "relu_fp32", "relu_int8_pc")
TIMED_LABELS = {
    "fp32": N_("float32, eager"), "fp32_deployed": N_("float32, deployment form"),
    "int8_reference": N_("int8 reference graph, eager"), "int8_compiled": N_("int8, compiled (oneDNN int8)"),
    "bf16": N_("bfloat16, eager"), "fp16": N_("float16, eager"),
}
# torchvision's quantized ShuffleNet V2 (eager-mode PTQ, fbgemm): ImageNet top-1 of the int8 model and of the
# float model it came from; torchvision.models.quantization.shufflenetv2 ShuffleNet_V2_X*_QuantizedWeights
# .IMAGENET1K_FBGEMM_V1 ("acc@1") and torchvision.models.shufflenetv2 ShuffleNet_V2_X*_Weights.IMAGENET1K_V1
TORCHVISION_SHUFFLENET_V2 = (("ShuffleNet V2 ×0.5", 60.552, 57.972), ("ShuffleNet V2 ×1.0", 69.362, 68.360),
                             ("ShuffleNet V2 ×1.5", 72.996, 72.052), ("ShuffleNet V2 ×2.0", 76.230, 75.354))
TORCHVISION_SOURCE = "torchvision 0.2x, models/quantization/shufflenetv2.py (acc@1)"
# MobileNetV3 paper Table 4 'Quantized performance' (float rows from its Table 3), papers.json entry ids
MOBILENET_V3_TABLE4 = ((71, 82), (79, 83), (73, 84), (81, 85))
LITE0_ENTRY = 240


# --------------------------------------------------------------------------------------------------
# the result


@dataclass(frozen=True)
class LayerStats:
    """One activation of the float32 network over all evaluation inputs."""

    path: str
    low: float
    high: float
    mean: float
    above: float  # share of values at or above 6: clamped (ReLU6) or beyond the clamp (ReLU)
    counts: tuple[int, ...]  # histogram, bins of HIST_STEP from 0, the last one everything above HIST_MAX


@dataclass(frozen=True)
class Variant:
    key: str
    inputs: int  # evaluation inputs compared
    top1_agreement: float  # with its float32 reference (ReLU6 → the network, ReLU → the ablation's float32)
    top5_overlap: float
    output_sqnr_db: float
    layer_sqnr_db: tuple[tuple[str, float], ...]
    size_bytes: int
    steps: tuple[tuple[str, float], ...] = ()  # int8: each activation's quantisation step
    ranges: tuple[tuple[str, float, float], ...] = ()  # int8: each activation's calibrated range
    float_layers: tuple[str, ...] = ()  # int8: weight layers the quantizer left in float32

    @property
    def label(self) -> str:
        return _(VARIANTS[self.key][0])

    @property
    def median_layer_sqnr_db(self) -> float:
        values = [v for _, v in self.layer_sqnr_db if math.isfinite(v)]
        return statistics.median(values) if values else math.inf


@dataclass(frozen=True)
class LowPrecisionResult:
    device: str
    quick: bool
    inputs: int
    calibration: int
    sqnr_inputs: int
    relu6_layers: tuple[LayerStats, ...]
    relu_layers: tuple[LayerStats, ...]
    variants: tuple[Variant, ...]
    relu_vs_relu6_agreement: float  # float32 with the clamp lifted against the network as trained
    timings: Timings | None
    slow_timings: Timings | None = None  # float16 against float32, a few runs

    def variant(self, key: str) -> Variant | None:
        return next((v for v in self.variants if v.key == key), None)


# --------------------------------------------------------------------------------------------------
# measuring


class _Stats:
    """Forward hooks on every activation module that accumulate range, mean and histogram over batches."""

    def __init__(self, model: nn.Module) -> None:
        self.data: dict[str, list] = {}
        self.handles = [m.register_forward_hook(self._hook(name)) for name, m in model.named_modules()
                        if isinstance(m, (nn.ReLU, nn.ReLU6))]
        self.outputs: dict[str, torch.Tensor] | None = None  # set to a dict to keep the outputs too

    def _hook(self, name: str):
        def hook(module: nn.Module, args, out: torch.Tensor) -> None:
            x = out.detach().float()
            flat = _in_memory_order(x)  # reductions over a channels_last tensor as such take ten times as long
            bins = int(HIST_MAX / HIST_STEP)
            # each value's bin as a byte (values are ≥ 0; everything from HIST_MAX on in the last bin), counted by
            # bincount: a third of histc's time, and histc was most of the hooks', a fifth of quick mode
            counts = torch.bincount(torch.clamp(flat, max=HIST_MAX).mul_(1 / HIST_STEP).to(torch.uint8),
                                    minlength=bins + 1)
            low, high = torch.aminmax(flat)  # one pass over the tensor, not two
            entry = self.data.setdefault(name, [math.inf, -math.inf, 0.0, 0, torch.zeros(bins + 1, dtype=torch.long)])
            entry[0] = min(entry[0], float(low))
            entry[1] = max(entry[1], float(high))
            entry[2] += float(flat.sum())
            entry[3] += x.numel()
            entry[4] += counts
            if self.outputs is not None:
                self.outputs[name] = x.clone()
        return hook

    def close(self) -> tuple[LayerStats, ...]:
        for h in self.handles:
            h.remove()
        clamp_bin = int(CLAMP / HIST_STEP)  # the clamp is a bin edge: the values at or above it are the bins from it
        return tuple(LayerStats(name, lo, hi, total / n, int(counts[clamp_bin:].sum()) / n,
                                tuple(int(c) for c in counts))
                     for name, (lo, hi, total, n, counts) in self.data.items())


def _in_memory_order(x: torch.Tensor) -> torch.Tensor:
    """All of ``x``'s values as one flat view, in the order they lie in memory (a copy only if they are not dense)."""
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return x.permute(0, 2, 3, 1).reshape(-1)
    return x.reshape(-1)


def _logits(module: nn.Module, x: torch.Tensor, dtype: torch.dtype = torch.float32, chunk: int = 10) -> torch.Tensor:
    # batches of 10: a batch's feature maps then stay in the caches (100 inputs took 1.9 s in float32 and 2.9 s in
    # int8 here, against 2.6 s and 4.6 s in batches of 25)
    with torch.no_grad():
        return torch.cat([module(x[i:i + chunk].to(dtype)).float() for i in range(0, len(x), chunk)])


def _hooked_outputs(model: nn.Module, x: torch.Tensor, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    stats = _Stats(model)
    stats.outputs = {}
    try:
        with torch.no_grad():
            model(x.to(dtype))
    finally:
        stats.close()
    return stats.outputs


def _layer_sqnr(reference: dict[str, torch.Tensor], other: dict[str, torch.Tensor]) -> tuple[tuple[str, float], ...]:
    return tuple((path, Q.sqnr_db(reference[path], other[path])) for path in reference if path in other)


def _compare(key: str, reference: torch.Tensor, logits: torch.Tensor, layers: tuple[tuple[str, float], ...],
             size: int, quantized: Q.Quantized | None = None) -> Variant:
    n = len(logits)
    return Variant(key, n, Q.top1_agreement(reference[:n], logits), Q.top5_overlap(reference[:n], logits),
                   Q.sqnr_db(reference[:n], logits), layers, size,
                   quantized.steps if quantized else (), quantized.ranges if quantized else (),
                   quantized.float_layers if quantized else ())


def run(device: str, threads: int, quick: bool, progress) -> LowPrecisionResult:
    if device != "cpu":
        raise ValueError("this experiment quantises for the CPU's int8 kernels: choose device cpu")
    progress(0.0, _("loading EfficientNet-Lite0's ImageNet weights and the photos"))
    model = lightnets.pretrained_model(lightnets.config(MODEL)).eval()
    inputs, calibration = Q.photo_inputs(model)
    sqnr_x = inputs[::20] if quick else inputs[::10]  # one (two) crops of every photo for the per-layer errors
    keys = QUICK_VARIANTS if quick else tuple(VARIANTS)
    steps_total = len(keys) + 2
    variants: list[Variant] = []
    layers: dict[str, tuple[LayerStats, ...]] = {}
    references: dict[str, torch.Tensor] = {}
    float_layers: dict[str, dict[str, torch.Tensor]] = {}
    exported: dict[str, torch.fx.GraphModule] = {}
    quantized: dict[str, Q.Quantized] = {}
    networks = {"relu6": model, "relu": Q.relu_instead_of_relu6(model)}
    # evaluated channels_last (the same arithmetic, about 30% faster here: oneDNN's depthwise convolutions) on
    # private copies, whose hooks no other session's prediction can trip; exported and timed as they are
    evaluated = {k: _channels_last(v) for k, v in networks.items()}
    inputs_cl = inputs.contiguous(memory_format=torch.channels_last)
    sqnr_cl = sqnr_x.contiguous(memory_format=torch.channels_last)
    for step, key in enumerate(keys):
        label, activation, precision, weights = VARIANTS[key]
        progress(step / steps_total, _("{what}: on {n} inputs").format(what=_(label), n=len(inputs)))
        network = networks[activation]
        if precision == "fp32":
            stats = _Stats(evaluated[activation])
            try:
                references[activation] = _logits(evaluated[activation], inputs_cl)
            finally:
                layers[activation] = stats.close()
            float_layers[activation] = _hooked_outputs(evaluated[activation], sqnr_cl)
            variants.append(_compare(key, references[activation], references[activation], (),
                                     Q.size_bytes(network)))
        elif precision == "int8":
            if "relu6" not in exported:
                exported["relu6"] = Q.export(networks["relu6"], calibration)
            if activation not in exported:  # the ablation's graph: the same export with the clamp lifted
                exported[activation] = Q.lift_clamp(exported["relu6"])
            q = Q.quantize_int8(exported[activation], calibration, per_channel=weights == "per-channel")
            quantized[key] = q
            logits = _logits(q.graph, inputs_cl)
            per_layer = _layer_sqnr(float_layers[activation], Q.activation_outputs(q.graph, sqnr_cl))
            variants.append(_compare(key, references[activation], logits, per_layer, Q.size_bytes(q.graph), q))
        else:
            dtype = torch.float16 if precision == "fp16" else torch.bfloat16
            half = _cast(network, dtype)
            x = inputs[:FP16_INPUTS] if precision == "fp16" else inputs
            logits = _logits(half, x, dtype)
            per_layer = _layer_sqnr(float_layers[activation], _hooked_outputs(half, sqnr_x, dtype))
            variants.append(_compare(key, references[activation], logits, per_layer, Q.size_bytes(half)))
    agreement = Q.top1_agreement(references["relu6"], references["relu"])

    # latency, batch 1: eager float32 against the int8 graph as converted (and, in full mode, compiled)
    example = inputs[:1]
    progress(len(keys) / steps_total, _("timing"))
    modules = [model, Q.InferenceOnly(quantized["int8_pc"].graph)]
    labels = [TIMED_LABELS["fp32"], TIMED_LABELS["int8_reference"]]
    slow = None
    if not quick:
        progress(len(keys) / steps_total, _("compiling the int8 graph (tens of seconds)"))
        modules += [lightnets.optimize_for_inference(model, resolution=example.shape[-1]),
                    Q.compiled_int8(quantized["int8_pc"], example, threads), _cast(model, torch.bfloat16)]
        labels += [TIMED_LABELS["fp32_deployed"], TIMED_LABELS["int8_compiled"], TIMED_LABELS["bf16"]]
    inputs_for = [example.to(torch.bfloat16) if "bfloat16" in label else example for label in labels]
    timings = time_alternating(modules, inputs_for, labels, plan(quick, networks=True), threads, device, progress,
                               ((len(keys) + 0.3) / steps_total, 1.0 if quick else (len(keys) + 1.5) / steps_total),
                               _("latency"))
    if not quick:
        slow = time_alternating([model, _cast(model, torch.float16)], [example, example.to(torch.float16)],
                                [TIMED_LABELS["fp32"], TIMED_LABELS["fp16"]], TIMING_SLOW, threads, device,
                                progress, ((len(keys) + 1.5) / steps_total, 1.0), _("float16 latency"))
    return LowPrecisionResult(device, quick, len(inputs), len(calibration), len(sqnr_x), layers["relu6"],
                              layers["relu"], tuple(variants), agreement, timings, slow)


def _cast(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    return copy.deepcopy(model).to(dtype).eval()


def _channels_last(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).to(memory_format=torch.channels_last).eval()


# --------------------------------------------------------------------------------------------------
# verdicts


def _agreement_outcome(a: float) -> str:
    if a >= AGREE_HOLDS:
        return HOLDS
    if a < AGREE_FAILS:
        return FAILS
    return NOISY


def _published_lite0() -> tuple[float, float]:
    entry = paper_entries()[LITE0_ENTRY]
    return entry["top1"], entry["top1_int8"]


def median_step_ratio(result: LowPrecisionResult, relu_key: str = "relu_int8_pc", key: str = "int8_pc") -> float:
    """The median over activations of (quantisation step with the clamp lifted) / (step with ReLU6)."""
    lifted, clamped = result.variant(relu_key), result.variant(key)
    if lifted is None or clamped is None:
        return math.nan
    steps = dict(clamped.steps)
    ratios = [s / steps[path] for path, s in lifted.steps if path in steps and steps[path] > 0]
    return statistics.median(ratios) if ratios else math.nan


def judge(result: LowPrecisionResult) -> list[Finding]:
    findings = []
    float_top1, int8_top1 = _published_lite0()
    for key in ("int8_pc", "int8_pt", "bf16", "fp16"):
        v = result.variant(key)
        if v is None:
            continue
        outcome = _agreement_outcome(v.top1_agreement)
        text = _("{what} gives float32's top-1 class on {a:.0%} of {n} inputs (top-5 overlap {o:.0%}, output "
                 "SQNR {s:.1f} dB); the published int8 EfficientNet-Lite0 keeps top-1 within {d:.1f} points "
                 "({f:.1f}% → {q:.1f}%)").format(what=v.label, a=v.top1_agreement, n=v.inputs, o=v.top5_overlap,
                                                 s=v.output_sqnr_db, d=float_top1 - int8_top1, f=float_top1,
                                                 q=int8_top1)
        if outcome == FAILS:
            text += _(": more than one input in ten changes its answer.")
        elif outcome == NOISY:
            text += _(": between {lo:.0%} and {hi:.0%}, and {n} crops of five photos are too few to tell one "
                      "point of accuracy from several.").format(lo=AGREE_FAILS, hi=AGREE_HOLDS, n=v.inputs)
        else:
            text += "."
        findings.append(Finding(_("{what} keeps the predictions").format(what=v.label), outcome, text))

    clamped, lifted = result.variant("int8_pc"), result.variant("relu_int8_pc")
    high6 = max(layer.high for layer in result.relu6_layers)
    high = max(layer.high for layer in result.relu_layers)
    ratio = median_step_ratio(result)
    bounded = high6 <= CLAMP + 1e-6 and high > CLAMP and ratio > 1 + MARGIN
    findings.append(Finding(
        _("the clamp bounds the range, and with it the int8 step"), HOLDS if bounded else FAILS,
        _("With ReLU6 no activation exceeds {c:.3g} (largest {h6:.2f}); with the clamp lifted the largest is "
          "{h:.1f}, and the median activation's quantisation step grows {r:.1f}×.").format(
            c=CLAMP, h6=high6, h=high, r=ratio)))
    d_sqnr = clamped.output_sqnr_db - lifted.output_sqnr_db
    if d_sqnr > SQNR_DB_MARGIN and clamped.top1_agreement >= lifted.top1_agreement:
        outcome = HOLDS
    elif d_sqnr <= 0:
        outcome = FAILS
    else:
        outcome = NOISY
    findings.append(Finding(
        _("ReLU6 makes the network quantise better than ReLU"), outcome,
        _("Quantised the same way (per-channel weights, per-tensor activations), the network keeps {a6:.0%} of "
          "its top-1 answers with ReLU6 and {a:.0%} with ReLU (each against its own float32), output SQNR "
          "{s6:.1f} against {s:.1f} dB. The network was trained with ReLU6: lifting the clamp also changes its "
          "float32 answers ({f:.0%} agree with the trained network), so this isolates the range effect only, not "
          "what a network trained with ReLU would do.").format(
            a6=clamped.top1_agreement, a=lifted.top1_agreement, s6=clamped.output_sqnr_db,
            s=lifted.output_sqnr_db, f=result.relu_vs_relu6_agreement)))

    t = result.timings
    if t is not None and TIMED_LABELS["int8_compiled"] in t.labels:
        c = t.compare(TIMED_LABELS["fp32_deployed"], TIMED_LABELS["int8_compiled"])
        said = _("float32 in its deployment form takes {r:.2f}× the time of the compiled int8 network here "
                 "({a:.1f} against {b:.1f} ms; the Lite README: 12 ms float32 against 6.5 ms int8 on a Pixel 4 "
                 "CPU)").format(r=c.ratio, a=t.median_ms(t.index(TIMED_LABELS["fp32_deployed"])),
                                b=t.median_ms(t.index(TIMED_LABELS["int8_compiled"])))
        findings.append(timing_finding(_("int8 runs faster than float32"), c, said,
                                       _("This CPU's int8 kernels do not beat its float32 ones on this network.")))
    return findings


# --------------------------------------------------------------------------------------------------
# what the page shows


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f}"


def _db(value: float) -> str:
    return "∞" if not math.isfinite(value) else f"{value:.1f}"


def view(result: LowPrecisionResult) -> View:
    fp32 = result.variant("fp32")
    t = result.timings
    rows = []
    for v in result.variants:
        rows.append((v.label, str(v.inputs), f"{v.top1_agreement:.0%}", f"{v.top5_overlap:.0%}",
                     _db(v.output_sqnr_db), _db(v.median_layer_sqnr_db) if v.layer_sqnr_db else "—",
                     _mb(v.size_bytes), f"{v.size_bytes / fp32.size_bytes:.2f}×"))
    left = result.variant("int8_pc").float_layers
    comparison = Table(
        _("Each low-precision network against float32, without labels ({n} inputs: crops and mirror images of the "
          "five photos)").format(n=result.inputs),
        (_("network"), _("inputs"), _("top-1 agreement"), _("top-5 overlap"), _("output SQNR, dB"),
         _("median layer SQNR, dB"), _("size, MB"), _("size × float32")), tuple(rows),
        _("Agreement and SQNR compare each network with its own float32 version: the ReLU6 network with itself, "
          "the ReLU ablation with the ablation in float32. Layer SQNR is measured on {k} inputs; int8 sizes count "
          "the int8 weights with their scales and zero points. int8 calibrated on the {c} photos' centre crops "
          "(min–max, per tensor).").format(k=result.sqnr_inputs, c=result.calibration)
        + (_(" The x86 quantizer left {n} weight layers in float32: {layers} (each reads a TF-“same” padded "
             "input, which it does not observe).").format(n=len(left), layers=", ".join(left)) if left else ""))
    tables = [comparison]

    clamped, lifted = result.variant("int8_pc"), result.variant("relu_int8_pc")
    steps6, steps = dict(clamped.steps), dict(lifted.steps)
    sqnr6, sqnr = dict(clamped.layer_sqnr_db), dict(lifted.layer_sqnr_db)
    relu_by_path = {layer.path: layer for layer in result.relu_layers}
    layer_rows = []
    for layer in result.relu6_layers:
        other = relu_by_path.get(layer.path)
        layer_rows.append((
            layer.path, f"{layer.high:.2f}", f"{other.high:.2f}" if other else "—", f"{layer.above:.2%}",
            f"{other.above:.2%}" if other else "—",
            f"{steps6[layer.path]:.4f}" if layer.path in steps6 else "—",
            f"{steps[layer.path]:.4f}" if layer.path in steps else "—",
            _db(sqnr6[layer.path]) if layer.path in sqnr6 else "—",
            _db(sqnr[layer.path]) if layer.path in sqnr else "—"))
    tables.append(Table(
        _("Every activation: range, share at or above 6, int8 step and SQNR, with ReLU6 and with the clamp lifted"),
        (_("activation"), _("max, ReLU6"), _("max, ReLU"), _("≥ 6, ReLU6 (clamped)"), _("≥ 6, ReLU"),
         _("int8 step, ReLU6"), _("int8 step, ReLU"), _("SQNR dB, ReLU6"), _("SQNR dB, ReLU")),
        tuple(layer_rows),
        _("The step is the calibrated range divided by 255 levels (per tensor). SQNR is that of the activation the "
          "next layer reads, errors of all earlier layers included; per-channel weights in both. The network was "
          "trained with ReLU6: the ReLU columns show the range effect only.")))

    if t is not None:
        base = t.index(TIMED_LABELS["fp32"])
        timing_rows = [(_(label), f"{t.median_ms(k):.1f}", f"{t.ratio(k, base):.2f}×") for k, label in
                       enumerate(t.labels)]
        if result.slow_timings is not None:
            s = result.slow_timings
            timing_rows.append((_(s.labels[1]), f"{s.median_ms(1):.0f}", f"{s.ratio(1, 0):.2f}×"))
        tables.append(Table(
            _("CPU latency, batch 1, one image 224×224: ms (× float32 eager)"),
            (_("network"), _("ms"), _("× float32, eager")), tuple(timing_rows),
            _("The int8 reference graph is what convert_pt2e returns: int8 weights and uint8-rounded activations, "
              "but float32 arithmetic between them, so it is slower than float32 and says nothing about int8 "
              "speed. Integer kernels need the graph compiled (inductor, oneDNN int8 convolutions): full mode does "
              "that, which takes tens of seconds.")))

    published = []
    entries = paper_entries()
    for float_id, int8_id in MOBILENET_V3_TABLE4:
        f, q = entries[float_id]["top1"], entries[int8_id]["top1"]
        published.append((entries[int8_id]["variant"].replace(" (quantized)", ""), f"{f:.1f}", f"{q:.1f}",
                          f"{q - f:+.1f}", _("MobileNetV3 paper, Tables 3 and 4 (Pixel, TFLite)")))
    lite = entries[LITE0_ENTRY]
    published.append(("EfficientNet-Lite0", f"{lite['top1']:.1f}", f"{lite['top1_int8']:.1f}",
                      f"{lite['top1_int8'] - lite['top1']:+.1f}", _("tensorflow/tpu Lite README (int8 PTQ)")))
    for name, f, q in TORCHVISION_SHUFFLENET_V2:
        published.append((name, f"{f:.3f}", f"{q:.3f}", f"{q - f:+.2f}", TORCHVISION_SOURCE))
    tables.append(Table(_("Published: ImageNet top-1 of float and int8 networks (%)"),
                        (_("network"), _("float"), _("int8"), _("change"), _("source")), tuple(published),
                        _("These are accuracies against ImageNet labels; the agreement above compares two of our "
                          "networks with each other, without labels, on {n} crops of five photos.").format(
                            n=result.inputs)))

    paths = [layer.path for layer in result.relu6_layers]
    panels = [
        Panel(_("largest activation"), (
            Series(_("ReLU6 (as trained)"), tuple(paths), tuple(layer.high for layer in result.relu6_layers),
                   "line", color="#1f77b4"),
            Series(_("ReLU (clamp lifted)"), tuple(paths),
                   tuple(relu_by_path[p].high if p in relu_by_path else math.nan for p in paths), "line",
                   color="#d62728"))),
        Panel(_("int8 step (per tensor)"), (
            Series(_("ReLU6 (as trained)"), tuple(p for p in paths if p in steps6),
                   tuple(steps6[p] for p in paths if p in steps6), "line", color="#1f77b4"),
            Series(_("ReLU (clamp lifted)"), tuple(p for p in paths if p in steps),
                   tuple(steps[p] for p in paths if p in steps), "line", color="#d62728"))),
    ]
    range_chart = Chart(_("Every activation of EfficientNet-Lite0, in the network's order"), tuple(panels),
                        y_title=_("value (log scale)"), log_y=True)
    sqnr_series = []
    for key, color in (("int8_pc", "#1f77b4"), ("int8_pt", "#9467bd"), ("relu_int8_pc", "#d62728"),
                       ("relu_int8_pt", "#ff7f0e"), ("bf16", "#2ca02c"), ("fp16", "#8c564b")):
        v = result.variant(key)
        if v is not None and v.layer_sqnr_db:
            sqnr_series.append(Series(v.label, tuple(p for p, _ in v.layer_sqnr_db),
                                      tuple(min(s, 99.0) for _, s in v.layer_sqnr_db), "line", color=color))
    sqnr_chart = Chart(_("Quantisation error of every activation: SQNR against float32 (higher is better)"),
                       (Panel("", tuple(sqnr_series)),), y_title=_("SQNR, dB"))
    edges = tuple(f"{i * HIST_STEP:g}" for i in range(int(HIST_MAX / HIST_STEP))) + (f">{HIST_MAX:g}",)

    def pooled(stats: tuple[LayerStats, ...]) -> tuple[float, ...]:
        total = [sum(layer.counts[i] for layer in stats) for i in range(len(edges))]
        n = sum(total) or 1
        return tuple(c / n if c else math.nan for c in total)

    histogram = Chart(_("All activation values, pooled over layers and inputs (bins of {w:g})").format(w=HIST_STEP),
                      (Panel("", (Series(_("ReLU6 (as trained)"), edges, pooled(result.relu6_layers), "bar",
                                         color="#1f77b4"),
                                  Series(_("ReLU (clamp lifted)"), edges, pooled(result.relu_layers), "bar",
                                         color="#d62728"))),),
                      x_title=_("activation value, from"), y_title=_("share of values (log scale)"), log_y=True)
    return View(tuple(tables), (range_chart, sqnr_chart, histogram))


def preview(device: str) -> View:
    rows = [(_(label), activation, precision, weights or "—") for label, activation, precision, weights in
            VARIANTS.values()]
    return View((Table(_("The networks compared: EfficientNet-Lite0 with its ImageNet weights, 100 inputs from the "
                         "five photos (quick mode: float32, int8 with per-channel weights, and the ReLU ablation of "
                         "both)"),
                       (_("network"), _("activation"), _("precision"), _("weights")), tuple(rows)),))


EXPERIMENTS = [Experiment(
    id="low_precision", title=N_("ReLU6 and low precision: int8, float16 and bfloat16 on real weights"),
    paper=PAPER, where=N_("Sec. 4 “Model Architecture”; MobileNetV3 Table 4"),
    claim=N_("“We use ReLU6 as the non-linearity because of its robustness when used with low-precision "
             "computation.” Clamping activations at 6 keeps their range small, so a fixed number of int8 levels "
             "resolves them finely; in the MobileNetV3 paper's Table 4 int8 costs 1.1 to 3.6 points of top-1."),
    setup=N_("EfficientNet-Lite0 (ReLU6, real ImageNet weights) sees 100 crops and mirror images of the five "
             "photos. Every activation's range and histogram is recorded; the network is quantised to int8 with "
             "PyTorch's PT2E flow (x86 quantizer; weights per channel or per tensor, activations per tensor, "
             "calibrated on the photos), and cast to float16 and bfloat16 (full mode). Each is compared with "
             "float32 without labels: top-1 agreement, top-5 overlap, SQNR of every layer, size, CPU latency. The "
             "ablation lifts the clamp (ReLU instead of ReLU6, same weights) and quantises the same way."),
    run=run, judge=judge, view=view, preview=preview, order=60,
    notes=(N_("Agreement is not accuracy: without labels, it says how often the low-precision network gives "
              "float32's answer. 100 crops of five photos are far from independent; ImageNet's validation set "
              "does not ship offline."),
           N_("The published int8 models were quantised by TFLite or torchvision's eager flow, some with "
              "quantisation-aware training; here it is post-training quantisation with min–max calibration on "
              "five photos."),
           N_("The network was trained with ReLU6, so lifting the clamp isolates the range effect only: a network "
              "trained with ReLU would have learnt other weights.")),
)]
