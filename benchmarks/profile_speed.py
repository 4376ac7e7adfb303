"""How fast is ``lightnets.profile`` compared with torchinfo on the same model?

For every registered model at its default knobs and resolution, times (median of N runs, after one warm-up):
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

    python benchmarks/profile_speed.py [--runs 7] [--models mobilenet_v2,shufflenet_v2]
"""

from __future__ import annotations

import argparse
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


def _median_ms(fn, runs: int, setup=lambda: None) -> float:
    setup()
    fn()  # warm-up: first-call imports and dispatch caches
    times = []
    for _ in range(runs):
        setup()  # untimed: e.g. dropping caches (freeing the cached modules is not part of a profile)
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--models", default="", help="comma-separated subset (default: all)")
    args = parser.parse_args()
    names = [n for n in args.models.split(",") if n] or lightnets.list_models()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'model':<22}{'cold ms':>9}{'new ρ ms':>10}{'same model ms':>15}{'torchinfo ms':>14}"
          f"{'cold ratio':>12}{'ρ ratio':>9}{'same-model ratio':>18}")
    worst, ratios, rho_ratios, model_ratios, worst_model = 0.0, [], [], [], 0.0
    for name in names:
        spec = lightnets.spec(name)
        knobs = spec.defaults()
        res = spec.resolution(knobs)
        key = tuple(sorted(spec.validate(knobs).items()))

        def profile(name=name, res=res, key=key) -> None:
            _cached_profile(name, res, key)

        def forget_costs() -> None:
            _cached_profile.cache_clear()
            _block_cost.cache_clear()

        model = lightnets.build(name).eval()

        def summary(model=model, res=res) -> None:
            torchinfo.summary(model, input_size=(1, 3, res, res), verbose=0, device="cpu")

        t_profile = _median_ms(profile, args.runs, setup=clear_caches)
        t_rho = _median_ms(profile, args.runs, setup=forget_costs)
        t_model = _median_ms(lambda model=model, res=res: lightnets.profile(model, res), args.runs)
        t_info = _median_ms(summary, args.runs)
        worst = max(worst, t_profile)
        worst_model = max(worst_model, t_model)
        ratios.append(t_info / t_profile)
        rho_ratios.append(t_info / t_rho)
        model_ratios.append(t_info / t_model)
        print(f"{name:<22}{t_profile:>9.1f}{t_rho:>10.1f}{t_model:>15.1f}{t_info:>14.1f}"
              f"{t_info / t_profile:>11.1f}×{t_info / t_rho:>8.1f}×{t_info / t_model:>17.1f}×")
    print(f"slowest profile: cold {worst:.1f} ms, same model {worst_model:.1f} ms (target ≤ 30 ms)")
    for label, values in (("cold", ratios), ("new-ρ", rho_ratios), ("same-model", model_ratios)):
        print(f"{label} ratio: smallest {min(values):.1f}×, median {statistics.median(values):.1f}×, "
              f"{sum(v >= 5 for v in values)} of {len(values)} ≥ 5× (target ≥ 5×)")


if __name__ == "__main__":
    main()
