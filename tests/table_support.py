"""Checking a profile against a paper's architecture table (ShuffleNet V1's Table 1, V2's Table 5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def assert_stage_follows_table(blocks: Sequence[Any], layer: str, side: tuple[int, int], stride: int, repeat: int,
                               channels: int) -> None:
    """A "StageN" row: one stride-2 unit (repeat 1), or the stride-1 units after it (repeat 3 / 7 / 3), each
    giving ``channels`` × ``side`` from an input ``stride`` times as large."""
    stage = [b for b in blocks if b.path.startswith(layer.lower() + ".")]
    units = stage[:1] if stride == 2 else stage[1:]
    assert len(units) == repeat, layer
    for unit in units:
        assert unit.output_shape == (1, channels, *side), unit.path
        assert unit.input_shape[2] == side[0] * stride, unit.path
