"""NetAdapt's run time to reach 80% of the start's predicted latency (issue 13 target: ≤ 60 s on 2 cores).

For MobileNetV3-Large and -Small at 224 px, with 2 intra-op threads (``--threads``): the search from a fresh lookup
table in a temporary directory (every operator it meets is timed: what a first run in the app costs), then the same
search again on the filled table (what every later run costs). Beside it, as a peer measured in the same run, the
time of one ``predict_latency`` of the whole start network on a fresh table. The search predicts the deployment form
(BatchNorm folded, frozen TorchScript), so the peer does too, and the deployed start and final networks are then
timed in alternation, to compare the measured saving with the predicted one.

    python3 benchmarks/netadapt.py [--models mobilenet_v3_large,mobilenet_v3_small] [--target 0.8] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lightnets  # noqa: E402
from lightnets.experiments.netadapt import netadapt  # noqa: E402
from lightnets.latency import LatencyTable, device_name, measure_interleaved, predict_latency  # noqa: E402

TARGET_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mobilenet_v3_large,mobilenet_v3_small")
    parser.add_argument("--target", type=float, default=0.8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    device = device_name("cpu")
    print(f"{device}, {os.cpu_count()} CPUs, {args.threads} threads, load average {os.getloadavg()[0]:.2f}; "
          f"target {args.target:.0%} of the start's predicted latency; budget {TARGET_S:.0f} s")
    for name in args.models.split(","):
        fresh = Path(tempfile.mkdtemp(prefix="lightnets-netadapt-"))
        peer_table = LatencyTable(device, args.threads, fresh / "peer.json")
        start = time.perf_counter()
        predict_latency(lightnets.config(name), threads=args.threads, optimized=True, table=peer_table)
        peer_s = time.perf_counter() - start
        table = LatencyTable(device, args.threads, fresh / "table.json")
        start = time.perf_counter()
        steps, reached, delta, new, _whole = netadapt(name, args.target, args.threads, table=table)
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        again, *_rest = netadapt(name, args.target, args.threads, table=LatencyTable.load(device, args.threads,
                                                                                          fresh / "table.json"))
        warm_s = time.perf_counter() - start
        final = steps[-1]
        print(f"\n{name}: {len(steps) - 1} steps, reached={reached}, δ = {delta:.3f} ms, {new} operators timed")
        print(f"  search from a fresh table {cold_s:6.1f} s ({'ok' if cold_s <= TARGET_S else 'MISS'}: ≤ "
              f"{TARGET_S:.0f} s); on the filled table {warm_s:6.1f} s; one whole-network prediction on a fresh "
              f"table {peer_s:.1f} s (search / prediction: {cold_s / peer_s:.1f}×); same path again: "
              f"{[s.widths for s in again] == [s.widths for s in steps]}")
        print(f"  predicted {steps[0].predicted_ms:.2f} → {final.predicted_ms:.2f} ms "
              f"({final.predicted_ms / steps[0].predicted_ms:.1%}); MACs {steps[0].macs / 1e6:.1f} → "
              f"{final.macs / 1e6:.1f} M; params {steps[0].params / 1e6:.2f} → {final.params / 1e6:.2f} M")
        print(f"  widths={final.widths}")
        for step in steps[1:]:
            print(f"    {step.index:3d} {step.layer:>4} {step.width_from:4d} → {step.width_to:4d}  "
                  f"{step.predicted_ms:6.2f} ms  {step.macs / 1e6:6.1f} M MACs  {step.proposals:2d} proposals")
        timed = measure_interleaved([lightnets.config(name), lightnets.config(name, widths=final.widths)],
                                    rounds=args.rounds, budget_s=0.3, threads=args.threads, optimized=True)
        ratio = timed.ratio(1, 0)
        print(f"  measured {timed.results[0].median_ms:.2f} → {timed.results[1].median_ms:.2f} ms: the final network "
              f"takes {ratio:.1%} of the start's time (predicted {final.predicted_ms / steps[0].predicted_ms:.1%}); "
              f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
