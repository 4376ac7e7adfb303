"""How fast is ``lightnets.profile`` compared with torchinfo on the same model?

For every registered model at its default knobs and resolution, times (median of N runs, after one warm-up):
  * profile: an uncached ``lightnets.profile`` — building the net on the meta device and recording every op;
  * torchinfo: ``torchinfo.summary`` of the same architecture (built once on the CPU; torchinfo runs a real
    forward pass on random weights), with the same input size.
Prints a table and the ratio torchinfo / profile. Target (issue 2): profile ≤ 30 ms per model on a 2-core
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
from lightnets.cost import _cached_profile  # noqa: E402


def _median_ms(fn, runs: int) -> float:
    fn()  # warm-up: first-call imports and dispatch caches
    times = []
    for _ in range(runs):
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
    print(f"{'model':<22}{'profile ms':>12}{'torchinfo ms':>14}{'ratio':>8}")
    worst, ratios = 0.0, []
    for name in names:
        spec = lightnets.spec(name)
        knobs = spec.defaults()
        res = spec.resolution(knobs)
        key = tuple(sorted(spec.validate(knobs).items()))

        def uncached_profile() -> None:
            _cached_profile.cache_clear()
            _cached_profile(name, res, key)

        model = lightnets.build(name).eval()

        def summary() -> None:
            torchinfo.summary(model, input_size=(1, 3, res, res), verbose=0, device="cpu")

        t_profile = _median_ms(uncached_profile, args.runs)
        t_info = _median_ms(summary, args.runs)
        worst = max(worst, t_profile)
        ratios.append(t_info / t_profile)
        print(f"{name:<22}{t_profile:>12.1f}{t_info:>14.1f}{t_info / t_profile:>7.1f}×")
    print(f"slowest profile: {worst:.1f} ms (target ≤ 30 ms); smallest ratio: {min(ratios):.1f}× "
          f"(target ≥ 5×); median ratio {statistics.median(ratios):.1f}×")


if __name__ == "__main__":
    main()
