"""Home: the families at a glance, and what each page shows."""

from __future__ import annotations

import streamlit as st

import ui
from lightnets import analysis

selection = ui.sidebar()
ui.intro("LightNets Explorer", "Lightweight CNNs trade a little accuracy for a lot less computation. Pick an "
         "architecture in the sidebar and turn its knobs — width multiplier α, resolution multiplier ρ, groups, "
         "expansion — to see how its structure, cost and speed follow. The table compares every model at its "
         "paper's default setting.")

st.header("The families")
rows = analysis.overview()
# st.table wraps the long "key idea" text instead of cutting it off
st.table({"model": [r.title for r in rows], "year": [str(r.year) for r in rows],
          "key idea": [r.idea for r in rows], "params": [ui.fmt_count(r.params) for r in rows],
          "MACs": [ui.fmt_count(r.macs) for r in rows],
          "paper top-1": [f"{r.top1:g}%" if r.top1 is not None else "—" for r in rows]})
st.caption("Params and MACs are computed by lightnets from the layer shapes at each model's default knobs and "
           "input size; top-1 is the paper's ImageNet figure for exactly that setting (— where it publishes none). "
           "The Cost page compares every published setting in one chart.")
with st.expander("Sources of the top-1 figures"):
    st.markdown("\n".join(f"- **{r.title}**: {r.top1_source}" for r in rows if r.top1_source))

st.header("The pages")
PAGES = [
    ("pages/architecture.py", "The block graph: stem → stages → head, each node a block with its settings and each "
                              "edge the tensor shape; open any block to see inside it."),
    ("pages/channel_shuffle.py", "ShuffleNet's channel shuffle, animated: why stacked group convolutions need it, "
                                 "and ShuffleNet V2's split → branch → concat → shuffle."),
    ("pages/cost.py", "Params, MACs, memory traffic and size of the current configuration, per layer and along "
                      "every knob; the depthwise-separable saving; accuracy against cost across families."),
    ("pages/latency.py", "Latency measured on this machine: where time goes, and why MACs are not time."),
    ("pages/predict.py", "Run a model with real pretrained weights on your own photo."),
]
for path, text in PAGES:
    left, right = st.columns([1, 4])
    with left:
        st.page_link(path, label=next(title for p, title, _ in ui.PAGES if p == path),
                     icon=next(icon for p, _, icon in ui.PAGES if p == path))
    right.markdown(text)

st.caption(f"Now selected: **{selection.spec.title}** — {selection.spec.paper.title} "
           f"({selection.spec.paper.authors}, {selection.spec.paper.year}, [arXiv]({selection.spec.paper.url})).")
