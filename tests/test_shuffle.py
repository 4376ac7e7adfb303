"""The channel-shuffle animation data follows the model's own channel_shuffle and what group convs really see."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import lightnets
from lightnets.layers import ChannelShuffle, channel_shuffle
from lightnets.shuffle import (
    MAX_GROUPS,
    group_visibility,
    shuffle_frames,
    split_shuffle_frames,
    valid_channels,
    valid_groups,
)

COMBOS = [(12, 3), (24, 4), (16, 8), (8, 2), (6, 6), (7, 1), (64, 8), (30, 5)]


def combos() -> st.SearchStrategy[tuple[int, int]]:
    return st.integers(1, MAX_GROUPS).flatmap(
        lambda g: st.integers(max(1, 2 // g), 64 // g).map(lambda n: (g * n, g)))


def shuffled_order(channels: int, groups: int) -> list[int]:
    return channel_shuffle(torch.arange(channels).view(1, channels, 1, 1), groups).flatten().tolist()


def row_order(xy: tuple[tuple[float, float], ...]) -> list[int]:
    """Channels of a flat frame, left to right."""
    assert all(y == 0 for _, y in xy)
    return sorted(range(len(xy)), key=lambda c: xy[c][0])


@pytest.mark.parametrize("channels,groups", COMBOS)
def test_last_frame_is_the_models_channel_shuffle(channels: int, groups: int) -> None:
    anim = shuffle_frames(channels, groups)
    expected = shuffled_order(channels, groups)
    assert list(anim.permutation) == expected
    assert row_order(anim.frames[-1].xy) == expected
    assert row_order(anim.frames[0].xy) == list(range(channels))
    assert anim.group_of == tuple(c // (channels // groups) for c in range(channels))


@given(combos())
def test_grid_frames_follow_the_papers_definition(combo: tuple[int, int]) -> None:
    channels, groups = combo
    n = channels // groups
    anim = shuffle_frames(channels, groups)
    keys = {frame.title: frame for frame in anim.key_frames}
    assert list(keys) == ["input", f"reshape to a ({groups}, {n}) grid", f"transpose to ({n}, {groups})",
                          "flatten"]
    grid, transposed = keys[f"reshape to a ({groups}, {n}) grid"], keys[f"transpose to ({n}, {groups})"]
    for c in range(channels):
        group, pos = divmod(c, n)
        assert grid.xy[c] == (pos, -group)  # row = group, column = position in the group
        assert transposed.xy[c] == (group, -pos)  # rows and columns swapped
    assert all(frame.caption and frame.title for frame in anim.frames)


@given(combos())
def test_every_channel_stays_visible_and_moves_gradually(combo: tuple[int, int]) -> None:
    channels, groups = combo
    anim = shuffle_frames(channels, groups)
    for frame in anim.frames:
        assert len(frame.xy) == channels
        assert len(set(frame.xy)) == channels, f"two channels overlap in {frame.title!r}"
    # between key frames that differ, in-between frames exist and no cell jumps further than the whole move
    keys = [i for i, f in enumerate(anim.frames) if f.key]
    for a, b in itertools.pairwise(keys):
        if anim.frames[a].xy != anim.frames[b].xy:
            assert b - a > 2


def test_tween_frames_interpolate_between_their_key_frames() -> None:
    anim = shuffle_frames(12, 3)
    frames = anim.frames
    keys = [i for i, f in enumerate(frames) if f.key]
    a, b = keys[1], keys[2]  # grid → transpose
    for f in frames[a + 1:b]:
        assert not f.key
        for c in range(12):
            (xa, ya), (xb, yb), (x, y) = frames[a].xy[c], frames[b].xy[c], f.xy[c]
            assert min(xa, xb) <= x <= max(xa, xb) and min(ya, yb) <= y <= max(ya, yb)


def _visible_by_real_convs(channels: int, groups: int, shuffle: bool) -> np.ndarray:
    """Perturb one input group at a time through two real group convs (weights 1) and see which outputs move."""
    convs = [nn.Conv2d(channels, channels, 1, groups=groups, bias=False) for _ in range(2)]
    for conv in convs:
        nn.init.ones_(conv.weight)
    net = nn.Sequential(convs[0], ChannelShuffle(groups) if shuffle else nn.Identity(), convs[1])
    n = channels // groups
    seen = np.zeros((channels, groups), dtype=bool)
    with torch.no_grad():
        base = net(torch.zeros(1, channels, 3, 3))
        for k in range(groups):
            x = torch.zeros(1, channels, 3, 3)
            x[:, k * n:(k + 1) * n] = 1.0
            seen[:, k] = (net(x) != base)[0].flatten(1).any(1).numpy()
    return seen


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("channels,groups", COMBOS)
def test_group_visibility_matches_real_group_convs(channels: int, groups: int, shuffle: bool) -> None:
    got = group_visibility(channels, groups, shuffle)
    assert got.dtype == bool and got.shape == (channels, groups)
    np.testing.assert_array_equal(got, _visible_by_real_convs(channels, groups, shuffle))


def test_group_visibility_shows_why_shuffle_matters() -> None:
    without, with_shuffle = group_visibility(24, 3, False), group_visibility(24, 3, True)
    assert without.sum(1).max() == 1  # each output sees only its own group
    assert with_shuffle.all()  # after the shuffle every output sees every group


@pytest.mark.parametrize("channels", [2, 8, 24, 116])
def test_split_shuffle_frames(channels: int) -> None:
    half = channels // 2
    anim = split_shuffle_frames(channels)
    x = torch.arange(channels).view(1, channels, 1, 1)
    left, right = x.chunk(2, dim=1)
    expected = channel_shuffle(torch.cat((left, right), 1), 2).flatten().tolist()
    assert list(anim.permutation) == expected
    assert row_order(anim.frames[-1].xy) == expected
    assert anim.groups == 2 and anim.group_of == tuple(int(c >= half) for c in range(channels))
    titles = [f.title for f in anim.key_frames]
    assert titles[:4] == ["input", "split in half", "right half through the branch", "concat"]
    assert titles[-1] == "flatten"
    branch = anim.key_frames[2]
    assert branch.marked == tuple(c >= half for c in range(channels))
    assert {branch.xy[c][1] for c in range(half)} != {branch.xy[c][1] for c in range(half, channels)}
    assert not any(anim.key_frames[1].marked)
    for frame in anim.frames:
        assert len(set(frame.xy)) == channels


@pytest.mark.parametrize("channels,groups", [(12, 5), (12, 0), (12, 9), (7, 2), (1, 1), (300, 2), (12.5, 1),
                                             (True, 1), ("12", 3), (12, None)])
def test_invalid_combinations_raise_with_the_allowed_values(channels, groups) -> None:
    with pytest.raises(ValueError) as err:
        shuffle_frames(channels, groups)
    message = str(err.value)
    assert "\n" not in message and ("must be" in message)
    if channels == 12 and isinstance(groups, int):
        assert "1, 2, 3, 4, 6" in message
    with pytest.raises(ValueError):
        group_visibility(channels, groups, True)


@pytest.mark.parametrize("channels", [0, 7, 9, 1000, 3.5])
def test_split_shuffle_rejects_odd_or_out_of_range(channels) -> None:
    with pytest.raises(ValueError, match="channels"):
        split_shuffle_frames(channels)


@given(st.integers(2, 64), st.integers(1, MAX_GROUPS))
def test_valid_groups_and_channels_are_exactly_the_buildable_combinations(channels: int, groups: int) -> None:
    ok = groups in valid_groups(channels)
    assert ok == (channels in valid_channels(groups))
    if ok:
        shuffle_frames(channels, groups)
    else:
        with pytest.raises(ValueError):
            shuffle_frames(channels, groups)


def test_valid_lists() -> None:
    assert valid_groups(24) == [1, 2, 3, 4, 6, 8]
    assert valid_channels(3, max_channels=12) == [3, 6, 9, 12]
    assert valid_channels(1, max_channels=4) == [2, 3, 4]
    with pytest.raises(ValueError, match="groups"):
        valid_channels(9)


def test_public_api() -> None:
    assert lightnets.shuffle_frames is shuffle_frames
    for name in ("group_visibility", "split_shuffle_frames", "valid_groups", "valid_channels"):
        assert callable(getattr(lightnets, name))
