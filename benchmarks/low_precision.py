"""int8 (PT2E, x86 quantizer) and bfloat16 EfficientNet-Lite0 against float32 on this machine: top-1 agreement and
top-5 overlap over the 100 photo inputs, model size, and CPU latency (batch 1) measured in alternation with float32
in the same run, with the ratio to float32.

The int8 reference graph (what ``convert_pt2e`` returns) computes in float32 between int8 roundings; the compiled
one (``--compile``, inductor with freezing: oneDNN int8 convolutions) is the network that runs in integers, against
float32 in its deployment form (frozen TorchScript). Compiling takes tens of seconds.

    python benchmarks/low_precision.py [--threads 1] [--rounds 11] [--budget 0.25] [--compile]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import lightnets  # noqa: E402
from lightnets import quantization as Q  # noqa: E402
from lightnets.experiments import Plan, time_alternating  # noqa: E402
from lightnets.experiments import low_precision as L  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--budget", type=float, default=0.25, help="seconds per variant per round")
    parser.add_argument("--compile", action="store_true", help="also the compiled int8 network (slow to start)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start; {args.threads} thread(s)")
    model = lightnets.pretrained_model(lightnets.config(L.MODEL)).eval()
    inputs, calibration = Q.photo_inputs(model)
    start = time.perf_counter()
    exported = Q.export(model, calibration)
    quantized = {pc: Q.quantize_int8(exported, calibration, per_channel=pc) for pc in (True, False)}
    print(f"export + two quantisations: {time.perf_counter() - start:.1f} s")
    reference = L._logits(model, inputs)
    rows = [("float32", 1.0, 1.0, Q.size_bytes(model))]
    for pc, q in quantized.items():
        logits = L._logits(q.graph, inputs)
        rows.append((f"int8, {'per-channel' if pc else 'per-tensor'} weights", Q.top1_agreement(reference, logits),
                     Q.top5_overlap(reference, logits), Q.size_bytes(q.graph)))
    bf16 = L._cast(model, torch.bfloat16)
    logits = L._logits(bf16, inputs, torch.bfloat16)
    rows.append(("bfloat16", Q.top1_agreement(reference, logits), Q.top5_overlap(reference, logits),
                 Q.size_bytes(bf16)))
    print(f"\n{len(inputs)} inputs; agreement with float32")
    print(f"{'network':32} {'top-1':>7} {'top-5':>7} {'MB':>7} {'× fp32':>7}")
    for name, top1, top5, size in rows:
        print(f"{name:32} {top1:7.0%} {top5:7.0%} {size / 1e6:7.2f} {size / rows[0][3]:7.2f}")

    x = inputs[:1]
    modules = [model, quantized[True].graph, bf16]
    labels = ["float32, eager", "int8 reference graph, eager", "bfloat16, eager"]
    if args.compile:
        start = time.perf_counter()
        modules += [lightnets.optimize_for_inference(model, resolution=224), Q.compiled_int8(quantized[True], x, args.threads)]
        labels += ["float32, deployment form", "int8, compiled"]
        print(f"\ncompiling the int8 graph: {time.perf_counter() - start:.1f} s")
    xs = [x.to(torch.bfloat16) if "bfloat16" in label else x for label in labels]
    t = time_alternating(modules, xs, labels, Plan(args.rounds, args.budget), args.threads, "cpu")
    print(f"\nlatency, batch 1, {args.rounds} rounds in alternation, {args.threads} thread(s)")
    print(f"{'network':32} {'ms':>8} {'× fp32 eager':>13}")
    for k, label in enumerate(t.labels):
        print(f"{label:32} {t.median_ms(k):8.2f} {t.ratio(k, 0):12.2f}×")
    if args.compile:
        c = t.compare("float32, deployment form", "int8, compiled")
        print(f"float32 deployment form / int8 compiled: {c.ratio:.2f}× (10–90% of rounds {c.low:.2f}–{c.high:.2f})")
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
