"""Architecture: the block graph of the current configuration beside what to look for in it and the inside of a
chosen block; the block table and torchinfo on request."""

from __future__ import annotations

import streamlit as st

import lightnets
import ui
from lightnets import analysis, concepts
from lightnets.i18n import _
from ui.export import export_panel

p = ui.current_profile(ui.sidebar())
config, spec = p.config, p.config.spec
dot = ui.attempt(lightnets.block_graph, config)
if dot is None:
    st.stop()

# The network and the inside of a block share the wide column as lazy tabs (only the open one is built); the
# explanation stays beside them.
VIEWS = ["Whole network", "Inside a block"]
graph_col, side_col = st.columns([3, 2], gap="large")
with graph_col:
    ui.restore("arch.view", VIEWS)
    network_tab, block_tab = st.tabs(VIEWS, key="arch.view", on_change="rerun")
    ui.remember("arch.view")
    if network_tab.open:
        with network_tab:
            st.graphviz_chart(dot, width="stretch")
            st.download_button("Download the graph (DOT)", dot, file_name=f"{config.name}.dot",
                               mime="text/vnd.graphviz", key="arch.download")
    if block_tab.open:
        with block_tab:
            choices = ui.attempt(lightnets.block_choices, config) or []
            if not choices:
                st.info("This network has no block with more than one operator inside.")
            else:
                labels = dict(choices)
                paths = [path for path, _ in choices]
                # a block of another configuration: start at the block that shows the family best
                if st.session_state.get("arch.block") not in paths:
                    st.session_state["arch.block"] = analysis.typical_block(p, paths)
                block = st.selectbox("block", paths, key="arch.block",
                                     format_func=lambda path: f"{path}: {labels[path]}",
                                     help="The first block of every distinct configuration, in network order.")
                inner = ui.attempt(lightnets.block_inner_graph, config, block)
                if inner is not None:
                    st.graphviz_chart(inner, width="stretch")
                    st.caption("One box per operator, with the shape of what it outputs; an arrow around the "
                               "boxes is the shortcut. The fullscreen button (on hover, top right) shows it large.")

with side_col:
    st.subheader(f"What to look for in {spec.title}")
    found = ui.attempt(concepts.concepts, config) or []
    st.markdown("\n".join(f"- **{c.term}**: {c.text}" for c in found) or spec.idea)
    st.caption(f"{spec.paper.title} ({spec.paper.authors}, {spec.paper.year}, [arXiv]({spec.paper.url})).")

# Built only when opened (on_change="rerun" makes .open tell): neither is needed for the graphs above.
table = st.expander("Block table: the rows the graph and the model are built from", key="arch.table",
                    on_change="rerun")
if table.open:
    with table:
        st.dataframe(p.block_table(), hide_index=True)
summary = st.expander("torchinfo summary of the built model", key="arch.summary", on_change="rerun")
if summary.open:
    with summary:  # torchinfo takes about half a second per configuration
        text = ui.attempt(lightnets.model_summary, config)
        if text is not None:
            st.code(text, language=None)
export = st.expander(_("Export: ONNX and safetensors"), key="arch.export", on_change="rerun")
if export.open:
    with export:
        export_panel(config, "arch.export")
