"""Data for the channel-shuffle animations: where each channel sits, frame by frame.

Nothing here re-implements the shuffle. ``channel_shuffle`` from ``lightnets.layers`` (the function the
ShuffleNet models run) is applied to a tensor holding the channel indices ``0 … C-1``, and every intermediate
tensor it creates (the (g, n) view, its transpose, the flattened result) is recorded with a
``TorchFunctionMode``. Each recorded tensor becomes a key frame; a few in-between frames interpolate the moves
so that the eye can follow every channel.

Coordinates: ``x`` is the column, ``y = -row``, so row 0 is at the top (y = 0) and later rows go down. A flat
channel row is drawn at y = 0; a grid shares its top-left corner with the row, so the first group does not move
when the row is cut into a grid.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from lightnets.i18n import N_, _
from lightnets.layers import channel_shuffle

# One colour per group in figures/style.GROUP_COLORS, so the animations allow at most 8 groups.
MAX_GROUPS = 8
MIN_CHANNELS = 2
# Each channel is one cell; beyond a few hundred the cells become too small to follow on screen.
MAX_CHANNELS = 256
# Fractions of a move shown between two key frames. 1/2 is left out on purpose: in the transpose, channels
# (i, j) and (j, i) swap places along the same line and would sit on the same spot half way.
TWEENS = (0.2, 0.4, 0.6, 0.8)


@dataclass(frozen=True)
class ShuffleFrame:
    """One frame of an animation."""

    title: str  # e.g. "reshape to a (3, 4) grid"
    caption: str  # one plain sentence for the student
    xy: tuple[tuple[float, float], ...]  # xy[c] = (x, y) cell position of channel c (its ORIGINAL index)
    key: bool = True  # False for the in-between frames that only interpolate a move
    # marked[c]: channel c is highlighted (ShuffleNet V2: its position has been through the branch); may be ()
    marked: tuple[bool, ...] = ()


@dataclass(frozen=True)
class ShuffleAnimation:
    channels: int
    groups: int
    group_of: tuple[int, ...]  # colour group of each channel (by original index)
    frames: tuple[ShuffleFrame, ...]
    permutation: tuple[int, ...]  # final order: position p holds channel permutation[p]

    @property
    def key_frames(self) -> tuple[ShuffleFrame, ...]:
        return tuple(frame for frame in self.frames if frame.key)


# --------------------------------------------------------------------------------------------------
# validation


def _as_count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != int(value):
        raise ValueError(_("{what}={value!r} is not allowed: it must be a whole number").format(what=what, value=value))
    return int(value)


def valid_groups(channels: int) -> list[int]:
    """The group counts (1 to 8) that split ``channels`` evenly."""
    channels = _as_count(channels, "channels")
    if not MIN_CHANNELS <= channels <= MAX_CHANNELS:
        raise ValueError(_("channels={channels} is not allowed: it must be from {low} to {high}").format(
            channels=channels, low=MIN_CHANNELS, high=MAX_CHANNELS))
    return [g for g in range(1, MAX_GROUPS + 1) if channels % g == 0]


def valid_channels(groups: int, max_channels: int = 64) -> list[int]:
    """The channel counts up to ``max_channels`` that ``groups`` groups split evenly."""
    groups = _as_count(groups, "groups")
    max_channels = _as_count(max_channels, "max_channels")
    if not 1 <= groups <= MAX_GROUPS:
        raise ValueError(_("groups={groups} is not allowed: it must be from 1 to {high}").format(
            groups=groups, high=MAX_GROUPS))
    if not MIN_CHANNELS <= max_channels <= MAX_CHANNELS:
        raise ValueError(_("max_channels={max_channels} is not allowed: it must be from {low} to {high}").format(
            max_channels=max_channels, low=MIN_CHANNELS, high=MAX_CHANNELS))
    return [c for c in range(max(groups, MIN_CHANNELS), max_channels + 1) if c % groups == 0]


def _check(channels: Any, groups: Any) -> tuple[int, int]:
    allowed = valid_groups(channels)
    groups = _as_count(groups, "groups")
    if groups not in allowed:
        raise ValueError(_("groups={groups} is not allowed for {channels} channels: groups must be one of "
                           "{allowed}").format(groups=groups, channels=int(channels),
                                               allowed=", ".join(map(str, allowed))))
    return int(channels), groups


# --------------------------------------------------------------------------------------------------
# recording channel_shuffle


class _Recorder(TorchFunctionMode):
    """Keeps every tensor produced by a torch function while active."""

    def __init__(self) -> None:
        super().__init__()
        self.tensors: list[tuple[str, torch.Tensor]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor):
            self.tensors.append((getattr(func, "__name__", str(func)), out))
        return out


def _layout(t: torch.Tensor) -> dict[int, tuple[float, float]] | None:
    """Cell position of each channel index held by ``t``: (1, C, 1, 1) is a row, (1, R, K, 1, 1) a grid."""
    if t.dim() == 4 and t.shape[0] == 1 and t.shape[2:] == (1, 1):
        return {int(c): (float(p), 0.0) for p, c in enumerate(t.flatten().tolist())}
    if t.dim() == 5 and t.shape[0] == 1 and t.shape[3:] == (1, 1):
        grid = t[0, :, :, 0, 0]
        return {int(grid[r, k]): (float(k), float(-r))
                for r in range(grid.shape[0]) for k in range(grid.shape[1])}
    return None


def _shuffle_steps(order: torch.Tensor, groups: int) -> tuple[list[tuple[str, str, dict]], torch.Tensor]:
    """Run ``channel_shuffle`` on a (1, C, 1, 1) tensor of channel indices and keep its distinct arrangements.

    Returns (step, title, layout) triples, one per rearranging step (step: 'reshape', 'transpose' or 'flatten';
    the title in the current language), and the shuffled tensor.
    """
    recorder = _Recorder()
    with recorder:
        out = channel_shuffle(order, groups)
    steps: list[tuple[str, str, dict]] = []
    previous = order
    for func, tensor in recorder.tensors:
        layout = _layout(tensor)
        if layout is None:
            continue
        # ``contiguous`` copies memory but keeps the arrangement: not a visible step
        if tensor.shape == previous.shape and torch.equal(tensor, previous):
            continue
        rows, cols = (tensor.shape[1], tensor.shape[2]) if tensor.dim() == 5 else (0, 0)
        if tensor.dim() == 5 and previous.dim() == 4:
            step, title = "reshape", _("reshape to a ({rows}, {cols}) grid").format(rows=rows, cols=cols)
        elif tensor.dim() == 5:
            step, title = "transpose", _("transpose to ({rows}, {cols})").format(rows=rows, cols=cols)
        else:
            step, title = "flatten", _("flatten")
        steps.append((step, title, layout))
        previous = tensor
    return steps, out


def _tween(a: tuple[tuple[float, float], ...], b: tuple[tuple[float, float], ...],
           f: float) -> tuple[tuple[float, float], ...]:
    return tuple((round(xa + f * (xb - xa), 6), round(ya + f * (yb - ya), 6)) for (xa, ya), (xb, yb) in zip(a, b))


_Key = tuple[str, str, tuple[tuple[float, float], ...], tuple[bool, ...]]  # title, caption, xy, marked


def _animate(keys: list[_Key]) -> tuple[ShuffleFrame, ...]:
    """Key frames (title, caption, xy, marked) with interpolated frames before each move."""
    frames: list[ShuffleFrame] = []
    for i, (title, caption, xy, marked) in enumerate(keys):
        if i:
            before = keys[i - 1][2]
            frames += [ShuffleFrame(title, caption, _tween(before, xy, f), key=False, marked=marked)
                       for f in TWEENS if before != xy]
        frames.append(ShuffleFrame(title, caption, xy, key=True, marked=marked))
    return tuple(frames)


def _xy(layout: dict[int, tuple[float, float]], channels: int) -> tuple[tuple[float, float], ...]:
    return tuple(layout[c] for c in range(channels))


_SHUFFLE_CAPTIONS = {
    "reshape": N_("View the {C} channels as a grid of {g} rows, one row per group of {n}."),
    "transpose": N_("Transpose the grid: each of its {n} rows now holds one channel from every group."),
    "flatten": N_("Read the grid row by row: neighbouring channels now come from different groups, so every group of "
                  "the next group convolution sees all {g} groups."),
}


def _caption(step: str, channels: int, groups: int) -> str:
    return _(_SHUFFLE_CAPTIONS[step]).format(C=channels, g=groups, n=channels // groups)


# --------------------------------------------------------------------------------------------------
# public


def shuffle_frames(channels: int, groups: int) -> ShuffleAnimation:
    """Frames of ShuffleNet's channel shuffle of ``channels`` channels in ``groups`` groups.

    Input row → reshape to a (g, n) grid → transpose to (n, g) → flatten, with in-between frames.
    ``ValueError`` (naming the allowed values) when ``groups`` does not split ``channels``.
    """
    channels, groups = _check(channels, groups)
    n = channels // groups
    order = torch.arange(channels).view(1, channels, 1, 1)
    steps, out = _shuffle_steps(order, groups)
    no_marks = (False,) * channels
    intro = _("{channels} channels leave a group convolution with g={groups}: {n} per group, one colour per "
              "group.").format(channels=channels, groups=groups, n=n)
    keys = [(_("input"), intro, _xy(_layout(order), channels), no_marks)]
    keys += [(title, _caption(step, channels, groups), _xy(layout, channels), no_marks)
             for step, title, layout in steps]
    return ShuffleAnimation(channels=channels, groups=groups, group_of=tuple(c // n for c in range(channels)),
                            frames=_animate(keys), permutation=tuple(int(c) for c in out.flatten().tolist()))


def group_visibility(channels: int, groups: int, shuffle: bool) -> np.ndarray:
    """Which input groups each output channel of two stacked group convolutions can see.

    Returns a bool array (channels × groups): row ``o`` marks the groups of the first convolution's input that
    output channel ``o`` of the second depends on, without (``shuffle=False``) or with a channel shuffle between
    the two convolutions. Both convolutions keep ``channels`` channels in ``groups`` groups.
    """
    channels, groups = _check(channels, groups)
    n = channels // groups
    # after the first group conv, channel c depends on input group c // n only
    first = np.zeros((channels, groups), dtype=bool)
    first[np.arange(channels), np.arange(channels) // n] = True
    if shuffle:
        order = channel_shuffle(torch.arange(channels).view(1, channels, 1, 1), groups).flatten().numpy()
        first = first[order]  # position p now holds channel order[p]
    # the second group conv mixes all positions of one group into each of its outputs
    per_group = first.reshape(groups, n, groups).any(axis=1)
    return np.repeat(per_group, n, axis=0)


def split_shuffle_frames(channels: int) -> ShuffleAnimation:
    """Frames of a ShuffleNet V2 unit: split in half → right half through the branch → concat → shuffle (g = 2).

    Channels whose positions went through the branch are ``marked`` from the branch frame on. ``ValueError`` for
    an odd channel count.
    """
    channels = _as_count(channels, "channels")
    if channels % 2 or not MIN_CHANNELS <= channels <= MAX_CHANNELS:
        raise ValueError(_("channels={channels} is not allowed: a ShuffleNet V2 unit splits its channels in half, so "
                           "it must be even, from {low} to {high}").format(channels=channels, low=MIN_CHANNELS,
                                                                          high=MAX_CHANNELS))
    half = channels // 2
    x = torch.arange(channels).view(1, channels, 1, 1)
    left, right = x.chunk(2, dim=1)  # the unit's own split
    row = _xy(_layout(x), channels)
    # the halves separate by one empty cell, then the right half drops two rows into the branch
    split = tuple((px + (1.0 if c >= half else 0.0), py) for c, (px, py) in enumerate(row))
    branch = tuple((px, py - (2.0 if c >= half else 0.0)) for c, (px, py) in enumerate(split))
    joined = torch.cat((left, right), dim=1)
    steps, out = _shuffle_steps(joined, 2)
    unmarked = (False,) * channels
    marked = tuple(c >= half for c in range(channels))
    keys = [
        (_("input"), _("{channels} channels enter a ShuffleNet V2 unit.").format(channels=channels), row, unmarked),
        (_("split in half"), _("Channel split: {half} channels on the left, {half} on the right.").format(half=half),
         split, unmarked),
        (_("right half through the branch"),
         _("The right half goes through 1×1 conv → depthwise 3×3 → 1×1 conv; the left half passes unchanged "
           "(its outputs keep the same places)."), branch, marked),
        (_("concat"), _("Concatenate the two halves again: no addition, the width stays the same."),
         _xy(_layout(joined), channels), marked),
    ]
    keys += [(title, _caption(step, channels, 2), _xy(layout, channels), marked) for step, title, layout in steps]
    return ShuffleAnimation(channels=channels, groups=2, group_of=tuple(c // half for c in range(channels)),
                            frames=_animate(keys), permutation=tuple(int(c) for c in out.flatten().tolist()))
