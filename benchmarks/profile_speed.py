"""How fast is ``lightnets.profile`` compared with torchinfo on the same model?

For every registered model at its default knobs and resolution, times (median of --runs interleaved rounds,
after one warm-up):
  * cold: ``lightnets.profile`` with every cache cleared — building each distinct block on the meta device and
    recording its ops;
  * new ρ: the same configuration at a new input size (what a ρ move or a resolution sweep costs): block
    modules are reused, their ops are recorded again;
  * same model: ``lightnets.profile(model)`` of a model built once on the CPU, the one torchinfo is given;
  * torchinfo: ``torchinfo.summary`` of that model (torchinfo runs a real forward pass on its random weights),
    with the same input size.
Prints a table and the ratios torchinfo / profile. Target (issue 2): profile ≤ 30 ms per model on a 2-core
machine and at least 5× faster than torchinfo. The same-model column is the like-for-like comparison; the cold
one also builds the model (on the meta device), which torchinfo's time leaves out.

    python benchmarks/profile_speed.py [--runs 9] [--models mobilenet_v2,shufflenet_v2]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torchinfo  # noqa: E402

import lightnets  # noqa: E402
from lightnets.cost import _block_cost, _cached_profile, clear_caches  # noqa: E402


def _time_ms(fn, setup=lambda: None) -> float:
    setup()  # untimed: e.g. dropping caches (freeing the cached modules is not part of a profile)
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="rounds; each times every variant of every model once")
    parser.add_argument("--models", default="", help="comma-separated subset (default: all)")
    args = parser.parse_args()
    names = [n for n in args.models.split(",") if n] or lightnets.list_models()

    def forget_costs() -> None:
        _cached_profile.cache_clear()
        _block_cost.cache_clear()

    variants: dict[str, dict[str, tuple]] = {}  # model → variant → (function, setup)
    for name in names:
        res = lightnets.config(name).resolution
        model = lightnets.build(lightnets.config(name)).eval()
        # a configuration made and profiled: validating the knobs and making the rows count, as in the app
        by_name = functools.partial(lambda n: _cached_profile(lightnets.Config(n)), name)
        variants[name] = {
            "cold": (by_name, clear_caches),
            "new ρ": (by_name, forget_costs),
            "same model": (functools.partial(lightnets.profile, model, res), lambda: None),
            "torchinfo": (functools.partial(torchinfo.summary, model, input_size=(1, 3, res, res), verbose=0,
                                            device="cpu"), lambda: None),
        }
        for fn, setup in variants[name].values():  # warm-up: first-call imports and dispatch caches
            _time_ms(fn, setup)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.runs} rounds, load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    # Interleaved: a busy moment of the shared machine hits every variant of a round alike; a figure is the
    # median over rounds, a ratio the median over rounds of the ratio within a round.
    times = {(name, v): [] for name in names for v in variants[name]}
    for _ in range(args.runs):
        for name in names:
            for variant, (fn, setup) in variants[name].items():
                times[name, variant].append(_time_ms(fn, setup))

    print(f"{'model':<22}{'cold ms':>9}{'new ρ ms':>10}{'same model ms':>15}{'torchinfo ms':>14}"
          f"{'cold ratio':>12}{'ρ ratio':>9}{'same-model ratio':>18}")
    ratios: dict[str, list[float]] = {"cold": [], "new ρ": [], "same model": []}
    worst = {"cold": 0.0, "same model": 0.0}
    for name in names:
        med = {v: statistics.median(times[name, v]) for v in variants[name]}
        row = {v: statistics.median(i / t for i, t in zip(times[name, "torchinfo"], times[name, v])) for v in ratios}
        for v in ratios:
            ratios[v].append(row[v])
        for v in worst:
            worst[v] = max(worst[v], med[v])
        print(f"{name:<22}{med['cold']:>9.1f}{med['new ρ']:>10.1f}{med['same model']:>15.1f}{med['torchinfo']:>14.1f}"
              f"{row['cold']:>11.1f}×{row['new ρ']:>8.1f}×{row['same model']:>17.1f}×")
    print(f"slowest profile: cold {worst['cold']:.1f} ms, same model {worst['same model']:.1f} ms (target ≤ 30 ms)")
    for label, values in ratios.items():
        print(f"{label} ratio: smallest {min(values):.1f}×, median {statistics.median(values):.1f}×, "
              f"{sum(v >= 5 for v in values)} of {len(values)} ≥ 5× (target ≥ 5×)")
    print(f"load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
