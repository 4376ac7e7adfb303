"""Channel shuffle: ShuffleNet's reshape → transpose → flatten, why it is needed, and ShuffleNet V2's unit."""

from __future__ import annotations

from typing import Any

import streamlit as st

import lightnets
import ui
from lightnets.figures import shuffle as figures
from lightnets.i18n import _, language

selection = ui.sidebar()


# The figures depend only on this page's own controls (and the language of their words): cached, a sidebar move
# does not rebuild them.
@st.cache_data(show_spinner=False, max_entries=64)
def _shuffle_figure(channels: int, groups: int, language: str) -> Any:
    return figures.shuffle_animation(lightnets.shuffle_frames(channels, groups),
                                     _("{channels} channels, g = {groups}").format(channels=channels, groups=groups))


@st.cache_data(show_spinner=False, max_entries=64)
def _visibility_figure(channels: int, groups: int, language: str) -> Any:
    return figures.visibility_heatmaps(lightnets.group_visibility(channels, groups, False),
                                       lightnets.group_visibility(channels, groups, True))


@st.cache_data(show_spinner=False, max_entries=32)
def _split_figure(channels: int, language: str) -> Any:
    return figures.shuffle_animation(lightnets.split_shuffle_frames(channels),
                                     _("ShuffleNet V2 unit, {channels} channels").format(channels=channels))


def _valid_value(key: str, options: list[int], default: int) -> None:
    """Keep a select slider's stored value among its current options (they change with the other control)."""
    if st.session_state.get(key) not in options:
        wanted = st.session_state.get(key, default)
        st.session_state[key] = min(options, key=lambda v: (abs(v - wanted), v))
    ui.pin(key)


# ---- the shuffle ---------------------------------------------------------------------------------------------
# Follow the sidebar's group count where the model has one (ShuffleNet V1) and the user changed it there.
sidebar_groups = selection.knobs.get("groups")
if sidebar_groups in range(1, 9) and st.session_state.get("shuffle.sidebar_groups") != sidebar_groups:
    st.session_state["shuffle.groups"] = sidebar_groups
    st.session_state.pop("shuffle.channels", None)  # and start from the channel count that suits it
st.session_state["shuffle.sidebar_groups"] = sidebar_groups
st.session_state.setdefault("shuffle.groups", 3)
ui.pin("shuffle.groups")
left, right = st.columns(2)
with left:
    groups = st.select_slider(_("groups g"), options=list(range(1, 9)), key="shuffle.groups",
                              help=_("The group count of the group convolution before the shuffle."))
with right:
    choices = lightnets.valid_channels(groups, max_channels=48)
    if st.session_state.get("shuffle.channels") not in choices:
        st.session_state["shuffle.channels"] = figures.demo_channels(groups, choices)
    ui.pin("shuffle.channels")
    channels = st.select_slider(_("channels"), options=choices, key="shuffle.channels",
                                help=_("Only counts that g groups split evenly. With at least g channels per group, "
                                       "every group of the next conv gets a channel from each group."))
anim = ui.attempt(lightnets.shuffle_frames, channels, groups)
if anim is not None:
    ui.chart(_shuffle_figure(channels, groups, language()), key="shuffle.anim")
    st.caption(_("Order after the shuffle: {order}").format(order=", ".join(map(str, anim.permutation))))

# ---- why -----------------------------------------------------------------------------------------------------
st.header(_("Why shuffle?"))
st.markdown(_("Two group convolutions in a row, each with g groups. Without a shuffle, every output channel of the "
              "second conv depends on one input group only: the groups are separate networks side by side. With a "
              "shuffle between them, each output sees (up to) all groups."))
visibility = ui.attempt(_visibility_figure, channels, groups, language())
if visibility is not None:
    ui.chart(visibility, key="shuffle.visibility")

# ---- ShuffleNet V2 -------------------------------------------------------------------------------------------
st.header(_("ShuffleNet V2: split, branch, concat, shuffle"))
st.markdown(_("ShuffleNet V2 drops the group convolutions after measuring speed rather than counting FLOPs. Its "
              "guidelines: **G1** equal input and output widths minimise memory access; **G2** group convs cost "
              "memory access; **G3** fragmented, many-branch blocks run slowly; **G4** element-wise ops are not "
              "free. So a unit splits its channels in half, sends one half through 1×1 → depthwise 3×3 → 1×1 convs "
              "of equal width, concatenates instead of adding, and shuffles with g = 2 so the halves mix in the "
              "next unit."))
v2_choices = list(range(4, 33, 2))
_valid_value("shuffle.v2_channels", v2_choices, 8)
v2_channels = st.select_slider(_("channels entering the unit"), options=v2_choices, key="shuffle.v2_channels")
split = ui.attempt(_split_figure, v2_channels, language())
if split is not None:
    ui.chart(split, key="shuffle.v2")
    st.caption(_("Outlined cells went through the branch; the shuffle interleaves them with the untouched half."))
