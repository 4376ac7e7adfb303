"""torchvision reference manifests (copied from ../shared/reference) and their synthetic weights.

Each ``tests/data/tv_<model>.json`` lists torchvision's state_dict keys and shapes and the logits its model
gives on a fixed input with weights regenerated from the key names alone (rule in the file's ``reference``).
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import torch

DATA = Path(__file__).parent / "data"


def manifest(tv_name: str) -> dict:
    return json.loads((DATA / f"tv_{tv_name}.json").read_text())


def synthetic_state_dict(entries: list) -> dict[str, torch.Tensor]:
    state = {}
    for key, shape, _dtype in entries:
        g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
        if key.endswith("num_batches_tracked"):
            value = torch.tensor(0, dtype=torch.long)
        elif key.endswith("running_var"):
            value = 1.0 + 0.1 * torch.rand(shape, generator=g)
        elif key.endswith("running_mean"):
            value = 0.1 * torch.randn(shape, generator=g)
        elif len(shape) >= 2:
            value = torch.randn(shape, generator=g) * (1.0 / math.prod(shape[1:])) ** 0.5
        elif key.endswith(".weight"):
            value = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            value = 0.1 * torch.randn(shape, generator=g)
        state[key] = value
    return state


def reference_input() -> torch.Tensor:
    return torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
