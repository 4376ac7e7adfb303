"""Architecture: the block graph of the current configuration, the inside of a chosen block, torchinfo."""

from __future__ import annotations

from typing import Any

import streamlit as st

import lightnets
import ui

selection = ui.sidebar()


@st.cache_data(show_spinner=False, max_entries=256)
def _choices(name: str, resolution: int, knob_items: tuple[tuple[str, Any], ...]) -> list[tuple[str, str]]:
    # traces one block of every distinct configuration: worth keeping per configuration
    return lightnets.block_choices(name, resolution, **dict(knob_items))


if selection.error:
    st.error(selection.error)
    st.stop()
if not ui.has_api("block_graph"):
    ui.pending("The block graph", 3)
    st.stop()

knob_items = tuple(sorted(selection.knobs.items()))
dot = ui.attempt(lightnets.block_graph, selection.name, selection.resolution, **selection.knobs)
if dot is None:
    st.stop()
st.graphviz_chart(dot, width="stretch")
st.download_button("Download the graph (DOT)", dot, file_name=f"{selection.name}.dot", mime="text/vnd.graphviz",
                   key="arch.download")

st.header("Inside a block")
choices = ui.attempt(_choices, selection.name, selection.resolution, knob_items) or []
if not choices:
    st.info("This network has no block with more than one operator inside.")
else:
    labels = dict(choices)
    paths = [path for path, _ in choices]
    if st.session_state.get("arch.block") not in paths:  # a block of another configuration: start at the first
        st.session_state["arch.block"] = paths[0]
    block = st.selectbox("block", paths, key="arch.block", format_func=lambda path: f"{path}: {labels[path]}",
                         help="The first block of every distinct configuration, in network order.")
    inner = ui.attempt(lightnets.block_inner_graph, selection.name, block, selection.resolution, **selection.knobs)
    if inner is not None:
        st.graphviz_chart(inner, width="stretch")

p = ui.profile(selection)
if p is not None:
    with st.expander("Block table: the rows the graph and the model are built from"):
        st.dataframe({"block": [b.path for b in p.blocks], "stage": [b.stage for b in p.blocks],
                      "kind": [b.kind for b in p.blocks], "label": [b.label for b in p.blocks],
                      "input": ["×".join(map(str, b.input_shape[1:])) for b in p.blocks],
                      "output": ["×".join(map(str, b.output_shape[1:])) for b in p.blocks],
                      "params": [b.params for b in p.blocks], "MACs": [b.macs for b in p.blocks]},
                     hide_index=True)

with st.expander("torchinfo summary"):
    # torchinfo takes about half a second per configuration: build it only when asked
    if st.toggle("build the summary", key="arch.summary",
                 help="Runs torchinfo on the built model (on meta tensors) for the current knobs."):
        summary = ui.attempt(lightnets.model_summary, selection.name, selection.resolution, **selection.knobs)
        if summary is not None:
            st.code(summary, language=None)
