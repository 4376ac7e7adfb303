"""How fast is ``lightnets.profile`` compared with torchinfo on the same model?

For every registered model at its default knobs and resolution, times (median of N runs, after one warm-up):
  * cold: ``lightnets.profile`` with every cache cleared — building each distinct block on the meta device and
    recording its ops;
  * new ρ: the same configuration at a new input size (what a ρ move or a resolution sweep costs): block
    modules are reused, their ops are recorded again;
  * torchinfo: ``torchinfo.summary`` of the same architecture (built once on the CPU; torchinfo runs a real
    forward pass on random weights), with the same input size.
Prints a table and the ratios torchinfo / profile. Target (issue 2): profile ≤ 30 ms per model on a 2-core
machine and at least 5× faster than torchinfo.

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
    print(f"{'model':<22}{'cold ms':>9}{'new ρ ms':>10}{'torchinfo ms':>14}{'cold ratio':>12}{'ρ ratio':>9}")
    worst, ratios, rho_ratios = 0.0, [], []
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
        t_info = _median_ms(summary, args.runs)
        worst = max(worst, t_profile)
        ratios.append(t_info / t_profile)
        rho_ratios.append(t_info / t_rho)
        print(f"{name:<22}{t_profile:>9.1f}{t_rho:>10.1f}{t_info:>14.1f}{t_info / t_profile:>11.1f}×"
              f"{t_info / t_rho:>8.1f}×")
    print(f"slowest cold profile: {worst:.1f} ms (target ≤ 30 ms); cold ratio: smallest {min(ratios):.1f}×, "
          f"median {statistics.median(ratios):.1f}× (target ≥ 5×); new-ρ ratio: smallest {min(rho_ratios):.1f}×, "
          f"median {statistics.median(rho_ratios):.1f}×")


if __name__ == "__main__":
    main()
