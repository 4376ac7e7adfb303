"""Does a latency figure's interval hold up when the button is pressed again? (issue 11)

Presses "Measure" ``--presses`` times on one configuration (``lightnets.measure_latency``, as the Latency page
does: a 2 s budget, the page's thread count), with a pause between presses, and prints each press's median, its
interval (the lowest and highest median of 5 consecutive stretches of its runs), the load it saw and whether it
was marked disturbed. Then, for every pair of presses, whether the later median falls inside the earlier
interval: on a quiet machine every undisturbed pair should. Run it on a quiet machine (the figures of a busy one
are disturbed and say so).

    PYTHONPATH=. python benchmarks/latency_presses.py [--model mobilenet_v2] [--presses 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time

import lightnets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenet_v2")
    parser.add_argument("--presses", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--budget", type=float, default=2.0)
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between presses")
    args = parser.parse_args()
    config = lightnets.config(args.model)
    results = []
    for press in range(1, args.presses + 1):
        r = lightnets.measure_latency(config, threads=args.threads, budget_s=args.budget)
        low, high = r.interval_ms
        load = r.load
        print(f"press {press}: median {r.median_ms:7.2f} ms, interval {low:7.2f}–{high:7.2f} ms "
              f"({(high - low) / r.median_ms:5.1%} of the median{', wide' if r.wide else ''}), "
              f"old ±ci95 {r.ci95_ms:.2f} ms, other work {load.other_cores} cores, load average "
              f"{load.load_average}{'  DISTURBED' if r.disturbed else ''}", flush=True)
        results.append(r)
        time.sleep(args.pause)
    pairs = inside = old_inside = 0
    for i, earlier in enumerate(results):
        for later in results[i + 1:]:
            if earlier.disturbed or later.disturbed:
                continue
            pairs += 1
            low, high = earlier.interval_ms
            inside += low <= later.median_ms <= high
            old_inside += abs(later.median_ms - earlier.median_ms) <= earlier.ci95_ms
    print(f"undisturbed pairs: {pairs}; later median inside the earlier interval: {inside}/{pairs} "
          f"(inside the old ±ci95 of the median: {old_inside}/{pairs})")


if __name__ == "__main__":
    main()
