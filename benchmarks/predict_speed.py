"""How long the Predict page's steps take on this machine: decoding an upload, preprocessing, loading the packaged
EfficientNet-Lite0 weights, and one forward pass (median of several), at ρ = 1 and at other input sizes.

Target (a teaching app that answers on every click): the whole path image → top-5 under 0.3 s on 2 CPU cores
for EfficientNet-Lite0 at 224 px, with weights already loaded.

    python benchmarks/predict_speed.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import lightnets  # noqa: E402

TARGET_S = 0.3


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    predict_module = importlib.import_module("lightnets.prediction")
    photo = lightnets.sample_images()["coffee"]
    data = photo.read_bytes()

    load = median_time(lambda: lightnets.load_image(data), args.repeats)
    image = lightnets.load_image(data)
    weights = median_time(lambda: lightnets.load_weights(lightnets.config("efficientnet_lite0")), 3)
    model = lightnets.load_weights(lightnets.config("efficientnet_lite0"))
    pre, _ = predict_module.preprocess_for(model)
    prep = median_time(lambda: predict_module.prepare(image, pre), args.repeats)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.repeats}")
    print(f"  load_image ({photo.name}, {len(data) / 1e3:.0f} kB JPEG)   {load * 1e3:7.1f} ms")
    print(f"  load_weights(efficientnet_lite0)            {weights * 1e3:7.1f} ms")
    print(f"  resize + crop + normalise to 224            {prep * 1e3:7.1f} ms")
    for resolution in (160, 224, 320):
        lightnets.predict(model, image, resolution=resolution)  # warm-up at this size
        forward = statistics.median(lightnets.predict(model, image, resolution=resolution).seconds
                                    for _ in range(args.repeats))
        total = median_time(lambda r=resolution: lightnets.predict(model, lightnets.load_image(data), resolution=r),
                            args.repeats)
        print(f"  forward at {resolution} px {forward * 1e3:8.1f} ms; image → top-5 {total * 1e3:7.1f} ms")
        if resolution == 224:
            print(f"  target image → top-5 ≤ {TARGET_S * 1e3:.0f} ms: {'met' if total <= TARGET_S else 'MISSED'} "
                  f"(ratio {total / TARGET_S:.2f})")


if __name__ == "__main__":
    main()
