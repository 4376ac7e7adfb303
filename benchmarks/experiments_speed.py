"""How long each experiment takes in quick and in full mode on this machine, and what it found: every verdict with
the measured ratio beside the paper's, and the machine's load while it ran.

Targets (issue 12): each experiment's quick mode within 20 s (a classroom waits for it) and its full mode within
90 s, on 2 CPU cores, one thread.

    python benchmarks/experiments_speed.py [--only shufflenet_v2_g1,activations] [--modes quick,full]
                                           [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightnets import experiments  # noqa: E402

TARGET_S = {"quick": 20.0, "full": 90.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated experiment ids (default: every timed one)")
    parser.add_argument("--modes", default="quick,full")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    names = [n for n in experiments.list_experiments() if experiments.experiment(n).timed]
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    modes = args.modes.split(",")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start; {args.threads} thread(s), "
          f"{args.device}")
    summary = []
    for name in names:
        for mode in modes:
            outcome = experiments.run_experiment(name, device=args.device, threads=args.threads, quick=mode == "quick")
            ok = outcome.seconds <= TARGET_S[mode]
            summary.append((name, mode, outcome.seconds, ok, outcome.load_before, outcome.load_after))
            print(f"\n== {name}, {mode}: {outcome.seconds:.1f} s (target ≤ {TARGET_S[mode]:.0f} s: "
                  f"{'met' if ok else 'MISSED'}), load {outcome.load_before} → {outcome.load_after}")
            for finding in outcome.findings():
                print(f"  [{finding.label}] {finding.claim}: {finding.text}")
    print("\n| experiment | mode | seconds | target | load before → after |")
    print("|---|---|---|---|---|")
    for name, mode, seconds, ok, before, after in summary:
        print(f"| {name} | {mode} | {seconds:.1f} | {'met' if ok else 'missed'} (≤ {TARGET_S[mode]:.0f} s) | "
              f"{before} → {after} |")


if __name__ == "__main__":
    main()
