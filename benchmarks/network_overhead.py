"""What does ``lightnets.Network`` cost over a plain ``nn.Sequential`` (and over torchvision's own model)?

A Network runs its top-level children with ``registry.run_in_sequence`` (a block that takes the image also gets the
input). Measured two ways, interleaved round by round so load from other work hits all variants alike:

* the per-call overhead alone: a Network of three ``nn.Identity`` blocks against an ``nn.Sequential`` of three;
* MobileNetV2 at 224 and 32 px (at 32 px Python overhead is the largest share), 1 thread: lightnets' model, the
  same modules run by ``nn.Sequential``, and torchvision's ``mobilenet_v2`` with the same weights when torchvision
  is importable (it does not install beside the project's torch; see benchmarks/README.md for the venv).

    python benchmarks/network_overhead.py [--rounds 21]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import lightnets  # noqa: E402
from lightnets.registry import Block, Network  # noqa: E402


def per_call_ms(module: nn.Module, x: torch.Tensor, calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        module(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def interleaved(variants: dict[str, nn.Module], x: torch.Tensor, rounds: int, calls: int) -> dict[str, list[float]]:
    names = list(variants)
    out: dict[str, list[float]] = {name: [] for name in names}
    with torch.inference_mode():
        for module in variants.values():
            per_call_ms(module, x, 5)
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                out[name].append(per_call_ms(variants[name], x, calls))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    torch.set_num_threads(1)
    empty = interleaved({"Network": Network([Block(f"b{i}", nn.Identity) for i in range(3)]),
                         "nn.Sequential": nn.Sequential(*[nn.Identity() for _ in range(3)])},
                        torch.zeros(1), args.rounds, 2000)
    gap = statistics.median(a - b for a, b in zip(empty["Network"], empty["nn.Sequential"])) * 1000
    print(f"three Identity blocks: Network {statistics.median(empty['Network']) * 1000:.2f} µs, nn.Sequential "
          f"{statistics.median(empty['nn.Sequential']) * 1000:.2f} µs per call: {gap:.2f} µs of overhead")
    ours = lightnets.build(lightnets.config("mobilenet_v2")).eval()
    variants: dict[str, nn.Module] = {"lightnets": ours, "same modules in nn.Sequential": nn.Sequential(*ours.children())}
    try:
        import torchvision

        variants["torchvision"] = torchvision.models.mobilenet_v2().eval()
        ours.load_state_dict(variants["torchvision"].state_dict())
    except ImportError:
        print("(torchvision is not importable here: comparing with nn.Sequential only)")
    base = "torchvision" if "torchvision" in variants else "same modules in nn.Sequential"
    for res in (224, 32):
        got = interleaved(variants, torch.randn(1, 3, res, res), args.rounds, 20 if res > 100 else 200)
        ratios = {name: statistics.median(a / b for a, b in zip(got[name], got[base])) for name in variants}
        print(f"MobileNetV2 at {res} px, 1 thread: " + "; ".join(
            f"{name} {statistics.median(got[name]):.2f} ms ({ratios[name]:.3f}× {base})" for name in variants))


if __name__ == "__main__":
    main()
