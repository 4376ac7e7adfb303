"""Batch-1 GPU latency: eager against a captured CUDA graph, for every family's default build and torchvision's.

For each model at batch 1, 224×224 px on ``cuda``, measured with ``lightnets.measure_latency`` (CUDA events):
  * lightnets eager, lightnets as a CUDA graph (``cuda_graph=True``), and the deployment form (BatchNorm folded,
    channels_last) as a CUDA graph;
  * torchvision's own model (where importable and implemented), eager and captured the same way.
Before timing, each graph's output is checked against the eager output (a wrong capture must not look fast).
Targets (issue 6): CUDA graph ≥ 4× faster than eager, and no slower than torchvision's model captured the same
way (seen on one H200: torchvision MobileNetV2 3.2 ms eager → 0.73 ms graph; ShuffleNetV2 1.0 3.2 → 0.77 ms).

A lent GPU comes with minutes, so this is one short run (about a minute): ``--budget`` seconds per figure.
    PYTHONPATH=. python benchmarks/gpu_latency.py [--budget 0.4] [--models a,b] [--json $OUT/gpu_latency.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import lightnets  # noqa: E402
from lightnets.latency import _cuda_graph, measure_latency, optimize_for_inference  # noqa: E402

# the CPU benchmark's table of torchvision peers (run as a script, benchmarks/ is on sys.path)
from latency import TORCHVISION, torchvision_model  # noqa: E402


def graph_matches_eager(model: torch.nn.Module, resolution: int) -> float:
    """Largest difference between a captured graph's output and the eager output, on a new input after capture."""
    x = torch.randn(1, 3, resolution, resolution, device="cuda")
    replay, out = _cuda_graph(model, x)
    x.copy_(torch.randn_like(x))  # a graph reads its static input: change it, then replay
    replay()
    expected = model(x)
    torch.cuda.synchronize()
    return float((out - expected).abs().max())


def measure(label: str, model: torch.nn.Module, resolution: int, budget: float, rows: list, name: str) -> None:
    for mode, graph in (("eager", False), ("cuda graph", True)):
        r = measure_latency(model, resolution, device="cuda", cuda_graph=graph, budget_s=budget, min_runs=20)
        rows.append(dict(model=name, variant=label, mode=mode, median_ms=r.median_ms, p25_ms=r.p25_ms,
                         p75_ms=r.p75_ms, runs=r.runs, device=r.device))
        print(f"{name:<20}{label:<12}{mode:<12}{r.median_ms:8.3f} ms  IQR {r.iqr_ms:.3f}  ({r.runs} runs)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="")
    parser.add_argument("--budget", type=float, default=0.4)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if not torch.cuda.is_available():
        sys.exit("no CUDA GPU visible to PyTorch: run this on a machine with one")
    names = [n for n in args.models.split(",") if n] or lightnets.list_models()
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, cudnn {torch.backends.cudnn.version()}")
    start = time.perf_counter()
    rows: list[dict] = []
    for name in names:
        try:
            ours = lightnets.build(lightnets.config(name, **TORCHVISION.get(name, (None, {}))[1])).eval().cuda()
            diff = graph_matches_eager(ours, args.resolution)
            print(f"{name}: graph output vs eager max |Δ| = {diff:.2e}", flush=True)
            measure("lightnets", ours, args.resolution, args.budget, rows, name)
            deployed = optimize_for_inference(ours, resolution=args.resolution)
            measure("ln deploy", deployed, args.resolution, args.budget, rows, name)
            theirs = torchvision_model(name)
            if theirs is not None:
                measure("torchvision", theirs.cuda(), args.resolution, args.budget, rows, name)
        except Exception:  # one model's failure must not cost the rest of a short GPU lease
            traceback.print_exc()
    print("\nsummary (median ms): eager → graph, speed-up; ours/torchvision as graphs")
    by = {(r["model"], r["variant"], r["mode"]): r["median_ms"] for r in rows}
    for name in names:
        eager, graph = by.get((name, "lightnets", "eager")), by.get((name, "lightnets", "cuda graph"))
        if eager is None or graph is None:
            continue
        tv_graph = by.get((name, "torchvision", "cuda graph"))
        speedup = eager / graph
        line = f"{name:<20}{eager:8.3f} → {graph:7.3f} ms  {speedup:5.1f}× {'ok' if speedup >= 4 else 'MISS'}"
        if tv_graph:
            ratio = graph / tv_graph
            line += f"   vs torchvision graph {tv_graph:7.3f} ms: {ratio:.2f} {'ok' if ratio <= 1.05 else 'MISS'}"
        print(line)
    print(f"total {time.perf_counter() - start:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
