"""Home: the families at a glance, and what each page shows.

Nothing here imports torch: app.py runs this page before it draws the sidebar, so on a cold start the table is
on screen while torch loads. The table reads the overview saved by lightnets (a test proves it current).
"""

from __future__ import annotations

import streamlit as st

import ui
from lightnets import analysis
from lightnets.formatting import format_count, format_percent, markdown_table
from lightnets.i18n import _

ui.ensure_app()
st.header(_("The families"))
rows = analysis.saved_overview()
# a markdown table: it wraps the long "key idea" text, and unlike st.table needs no pandas (0.4 s to import)
NBSP = "\u00a0"  # keeps "86.7 M" on one line in a narrow column
st.markdown(markdown_table({_("model"): [r.title for r in rows], _("year"): [str(r.year) for r in rows],
                            _("key idea"): [_(r.idea) for r in rows],
                            _("params"): [format_count(r.params).replace(" ", NBSP) for r in rows],
                            _("MACs"): [format_count(r.macs).replace(" ", NBSP) for r in rows],
                            _("paper top-1"): [format_percent(r.top1) for r in rows]}))
st.caption(_("Params and MACs (multiply-adds for one image at the model's own input size, 224 px for most) are "
             "computed by lightnets from the layer shapes at each model's default knobs; top-1 is the paper's "
             "ImageNet accuracy for exactly that setting (— where it publishes none). The Cost page compares every "
             "published setting in one chart."))
with st.expander(_("Sources of the top-1 figures")):
    st.markdown("\n".join(f"- **{r.title}**: {_(r.top1_source)}" for r in rows if r.top1_source))

st.header(_("The pages"))
for info in ui.PAGES:
    if info.summary:
        left, right = st.columns([1, 4])
        left.page_link(info.path, label=_(info.title), icon=info.icon)
        right.markdown(_(info.summary))
