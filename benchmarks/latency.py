"""CPU latency of every family's default build: eager and deployment mode, against torchvision's own models.

For each model at batch 1, 224×224 px, at 1 and 2 intra-op threads, in one process:
  * lightnets eager (``lightnets.build``), lightnets deployment mode (``optimize_for_inference``);
  * where torchvision is importable and implements the architecture: torchvision's model eager, and the same
    deployment transform applied to it (to separate "our code" from "the transform"). Where the state_dict
    layouts agree, torchvision's weights are loaded into ours, so both compute on the same numbers.
Variants are interleaved: each round measures every variant once, in a shuffled order, with
``lightnets.measure_latency`` (adaptive, ``--budget`` seconds each); a figure is the median of the round medians
and the spread is the range of round medians; a ratio is the median over rounds of the ratio within a round.
Targets (issue 6, 2-core CPU): lightnets eager ≤ 1.05× torchvision eager for mobilenet_v2, mobilenet_v3_large/small,
shufflenet_v2 1.0 and squeezenet1_1; deployment mode ≤ 0.7× torchvision eager.

Then the lookup table's error per model (issue 13, target ±10% for every model, eager and deployment, 1 and 2
threads): ``lightnets.predict_latency`` of the same modules, from a fresh table in a temporary directory (as a user
meets it; ``--table DIR`` keeps one), against the measured median of round medians above; beside it the error of the
old sum of operators alone (without the calibrated dispatch cost). Entries timed while the machine was busy are
counted (``busy``): on a loaded machine neither figure means much. This part needs only lightnets:
    python3 benchmarks/latency.py --lut-only [--models a,b] [--threads 1,2]

torchvision does not install beside the project's torch pin; run this with a separate interpreter:
    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install --no-cache-dir torch==2.14.1 torchvision==0.29.1 numpy
    PYTHONPATH=. /tmp/tvenv/bin/python benchmarks/latency.py [--rounds 15] [--budget 0.3] [--models a,b]
    PYTHONPATH=. /tmp/tvenv/bin/python benchmarks/latency.py --compile mobilenet_v2   # torch.compile's cost
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import lightnets  # noqa: E402
from lightnets.latency import LatencyTable, measure_latency, optimize_for_inference, predict_latency  # noqa: E402

# our name → (torchvision builder name, our knobs)
TORCHVISION = {
    "mobilenet_v2": ("mobilenet_v2", {}),
    "mobilenet_v3_large": ("mobilenet_v3_large", {}),
    "mobilenet_v3_small": ("mobilenet_v3_small", {}),
    "shufflenet_v2": ("shufflenet_v2_x1_0", {"width": 1.0}),
    "squeezenet1_0": ("squeezenet1_0", {}),
    "squeezenet1_1": ("squeezenet1_1", {}),
    "efficientnet": ("efficientnet_b0", {}),
}
TARGETS = ("mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "shufflenet_v2", "squeezenet1_1")
EAGER_TARGET, DEPLOY_TARGET = 1.05, 0.7


def torchvision_model(name: str) -> torch.nn.Module | None:
    try:
        import torchvision.models as tvm
    except ImportError:
        return None
    return getattr(tvm, TORCHVISION[name][0])(weights=None).eval() if name in TORCHVISION else None


def variants(name: str, resolution: int, lightnets_only: bool = False) -> dict[str, torch.nn.Module]:
    """The modules to time for one model, and how long building the deployment form took."""
    knobs = {} if lightnets_only else TORCHVISION.get(name, (None, {}))[1]
    ours = lightnets.build(lightnets.config(name, **knobs)).eval()
    out: dict[str, torch.nn.Module] = {"ln eager": ours}
    theirs = None if lightnets_only else torchvision_model(name)
    if theirs is not None:
        try:
            ours.load_state_dict(theirs.state_dict(), strict=True)  # same numbers in both
        except RuntimeError:
            pass  # another layout (EfficientNet): same architecture, own random weights
        out["tv eager"] = theirs
    start = time.perf_counter()
    out["ln deploy"] = optimize_for_inference(ours, resolution=resolution)
    print(f"  {name}: deployment form built in {time.perf_counter() - start:.1f} s", flush=True)
    if theirs is not None:
        out["tv deploy"] = optimize_for_inference(theirs, resolution=resolution)
    return out


def bench(name: str, threads: int, rounds: int, budget: float, resolution: int,
          modules: dict[str, torch.nn.Module]) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Round medians of each variant, and each variant's fastest single run over all rounds."""
    medians: dict[str, list[float]] = {key: [] for key in modules}
    fastest = {key: float("inf") for key in modules}
    for _ in range(rounds):
        order = list(modules)
        random.shuffle(order)  # no variant always runs first (or right after the heaviest one)
        for key in order:
            result = measure_latency(modules[key], resolution, threads=threads, budget_s=budget, min_runs=10)
            medians[key].append(result.median_ms)
            fastest[key] = min(fastest[key], result.min_ms)
    return medians, fastest


def fmt(values: list[float] | None) -> str:
    if not values:
        return f"{'—':>17}"
    return f"{statistics.median(values):7.2f} [{min(values):.1f}–{max(values):.1f}]".rjust(17)


def compile_cost(name: str, resolution: int, threads: int) -> None:
    """How long torch.compile takes to be ready, and what it then gives, against the deployment mode."""
    torch.set_num_threads(threads)
    model = lightnets.build(lightnets.config(name)).eval()
    x = torch.randn(1, 3, resolution, resolution)
    start = time.perf_counter()
    deployed = optimize_for_inference(model, resolution=resolution)
    print(f"optimize_for_inference ready in {time.perf_counter() - start:.1f} s")
    for mode in ("default", "max-autotune-no-cudagraphs"):
        compiled = torch.compile(deployed.eager, mode=mode)
        start = time.perf_counter()
        with torch.inference_mode():
            compiled(x.contiguous(memory_format=torch.channels_last))
        print(f"torch.compile(mode={mode!r}) ready in {time.perf_counter() - start:.1f} s")
        for label, module in (("compiled", compiled), ("deployed", deployed), ("eager", model)):
            r = measure_latency(module, resolution, threads=threads, budget_s=2.0)
            print(f"  {label:9s} {r.median_ms:7.2f} ms (IQR {r.iqr_ms:.2f}, {r.runs} runs)")


def lut_errors(name: str, threads: int, resolution: int, modules: dict[str, torch.nn.Module],
               medians: dict[str, list[float]], table_dir: Path) -> list[tuple]:
    """(form, measured, predicted, error, error of the operators' sum alone, busy entries) for eager and deployment."""
    device = lightnets.latency.device_name("cpu")
    table = LatencyTable.load(device, threads, table_dir / LatencyTable.default_path(device, threads).name)
    rows = []
    for form, key in (("eager", "ln eager"), ("deploy", "ln deploy")):
        p = predict_latency(modules[key], resolution, threads=threads, table=table)
        measured = statistics.median(medians[key])
        rows.append((form, measured, p.predicted_ms, p.error(measured), (p.ops_ms - measured) / measured,
                     p.busy_entries, p.dispatch, {"ops_ms": p.ops_ms, "calls": len(p.ops),
                                                  "module_calls": p.module_calls, "rounds": medians[key]}))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated subset (default: every registered model)")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per variant per round")
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--json", default="",
                        help="also write the round medians here (with --lut-only: each prediction, its call counts "
                             "and rounds)")
    parser.add_argument("--compile", default="", metavar="MODEL", help="only measure torch.compile on MODEL")
    parser.add_argument("--lut-only", action="store_true",
                        help="lightnets only, each model at its defaults: the lookup table's error per model")
    parser.add_argument("--table", default="", metavar="DIR", help="keep the lookup tables here (default: fresh)")
    parser.add_argument("--cold-mb", type=float, default=0, metavar="MB",
                        help="bytes of argument copies an entry cycles through (default: the package's, 48 MB, "
                             "more than the last-level cache; a few MB leaves weights L3-warm as back-to-back "
                             "passes of a small network do)")
    args = parser.parse_args()
    if args.cold_mb:
        lightnets.latency.COLD_BYTES = int(args.cold_mb * 2**20)
    warnings.simplefilter("ignore")
    if args.compile:
        compile_cost(args.compile, args.resolution, int(args.threads.split(",")[-1]))
        return
    names = [n for n in args.models.split(",") if n] or lightnets.list_models()
    thread_counts = [int(t) for t in args.threads.split(",")]
    try:
        import torchvision
        tv = f"torchvision {torchvision.__version__}"
    except ImportError:
        tv = "torchvision not importable: lightnets only"
    print(f"torch {torch.__version__}, {tv}, {lightnets.latency.device_name()}, {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.2f}; batch 1, {args.resolution} px, {args.rounds} rounds × "
          f"{args.budget:g} s; ms as median [range] of round medians")
    table, fastest, lut = {}, {}, {}
    table_dir = Path(args.table) if args.table else Path(tempfile.mkdtemp(prefix="lightnets-lut-"))
    for name in names:
        modules = variants(name, args.resolution, args.lut_only)
        for threads in thread_counts:
            key = f"{name}@{threads}"
            table[key], fastest[key] = bench(name, threads, args.rounds, args.budget, args.resolution, modules)
            lut[key] = lut_errors(name, threads, args.resolution, modules, table[key], table_dir)
    print_lut(lut)
    if args.lut_only:
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
        if args.json:  # what a different dispatch model would predict can be worked out from these
            Path(args.json).write_text(json.dumps({key: [{"form": r[0], "measured_ms": r[1], "predicted_ms": r[2],
                                                          "dispatch": r[6] and dataclasses.asdict(r[6]), **r[7]}
                                                         for r in rows] for key, rows in lut.items()}, indent=1))
        return
    print("\nms: median of round medians [range]. Ratios: median over rounds of the ratio within each round "
          "(variants of a round run seconds apart, so load from other work affects both), and (in parentheses) "
          "the ratio of the fastest runs, which such load disturbs least")
    print(f"{'model':<20}{'thr':>4}{'ln eager':>17}{'tv eager':>17}{'ln/tv':>14}{'ln deploy':>17}"
          f"{'dep/tv':>14}{'tv deploy':>17}  targets")
    for key, medians in table.items():
        name, threads = key.split("@")
        m = {k: statistics.median(v) for k, v in medians.items()}
        low = fastest[key]
        verdict, eager_ratio, deploy_ratio = "", "", ""
        if "tv eager" in m:
            e = statistics.median(a / b for a, b in zip(medians["ln eager"], medians["tv eager"]))
            d = statistics.median(a / b for a, b in zip(medians["ln deploy"], medians["tv eager"]))
            eager_ratio = f"{e:.3f} ({low['ln eager'] / low['tv eager']:.2f})"
            deploy_ratio = f"{d:.3f} ({low['ln deploy'] / low['tv eager']:.2f})"
            if name in TARGETS:
                verdict = (f"eager {'ok' if e <= EAGER_TARGET else 'MISS'}, "
                           f"deploy {'ok' if d <= DEPLOY_TARGET else 'MISS'}")
        print(f"{name:<20}{threads:>4}{fmt(medians['ln eager'])}{fmt(medians.get('tv eager'))}{eager_ratio:>14}"
              f"{fmt(medians['ln deploy'])}{deploy_ratio:>14}{fmt(medians.get('tv deploy'))}  {verdict}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"round_medians": table, "fastest": fastest}, indent=1))


def print_lut(lut: dict[str, list[tuple]]) -> None:
    print("\nLookup table against the measured median (error = predicted / measured − 1; 'ops only' is the sum of "
          "the operators' entries without the calibrated dispatch cost)")
    print(f"{'model':<20}{'thr':>4}  {'form':<7}{'measured':>9}{'predicted':>10}{'error':>8}{'ops only':>10}"
          f"{'busy':>6}  dispatch µs per eager call")
    within = total = 0
    for key, rows in lut.items():
        name, threads = key.split("@")
        for form, measured, predicted, error, ops_only, busy, cost, _counts in rows:
            total += 1
            within += abs(error) <= 0.10
            print(f"{name:<20}{threads:>4}  {form:<7}{measured:9.2f}{predicted:10.2f}{error:+8.1%}{ops_only:+10.1%}"
                  f"{busy:6d}  " + ("— (entries alone)" if cost is None else
                                    f"{cost.call_us:+.2f}{' (calibrated while busy)' if cost.busy else ''}"))
    print(f"within ±10%: {within} of {total} model × form × thread pairs")
    # one calibration per thread count, shared by every model's prediction: print it once
    for threads, cost in {key.split("@")[1]: rows[0][6] for key, rows in lut.items()}.items():
        print(f"dispatch at {threads} thread(s), eager µs per call on each reference network "
              f"({', '.join(n for n, _k, _r in lightnets.latency.REFERENCES)}): "
              f"{', '.join(f'{v:+.2f}' for v in cost.reference_call_us)}")


if __name__ == "__main__":
    main()
