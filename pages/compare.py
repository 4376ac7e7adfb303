"""Compare: two configurations, A and B, side by side — totals and ratio B/A, per-op-kind shares, both block
graphs, per-stage MACs and memory traffic, latency measured in alternation, top-5 of both on one photo."""

from __future__ import annotations

import streamlit as st

import lightnets
import ui
from lightnets import compare
from lightnets.figures import cost as cost_figures
from lightnets.figures import predict as predict_figures
from lightnets.formatting import format_bytes, format_count
from lightnets.i18n import _
from ui import compare as pair

IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif"]
# the issue's own examples, one click each
PRESETS = (
    (_("ShuffleNet V1: g = 1 against g = 8"),
     {"a_model": "shufflenet_v1", "a_groups": "1", "b_model": "shufflenet_v1", "b_groups": "8"}),
    (_("MobileNet V2 with and without the linear bottleneck"),
     {"a_model": "mobilenet_v2", "a_linear_bottleneck": "true", "b_model": "mobilenet_v2",
      "b_linear_bottleneck": "false"}),
    (_("MobileNet V2: α = 1 at 160 px against α = 0.75 at 224 px"),
     {"a_model": "mobilenet_v2", "a_alpha": "1", "a_rho": "0.7143", "b_model": "mobilenet_v2", "b_alpha": "0.75",
      "b_rho": "1"}),
)

selection = ui.sidebar()
with st.expander(_("Examples from the chapter"), expanded=False):
    for label, query in PRESETS:
        st.page_link("pages/compare.py", label=label, query_params={**selection.query(), **query})
a_sel, b_sel = pair.pickers(selection)
if a_sel.config is None or b_sel.config is None:
    st.stop()
a, b = a_sel.config, b_sel.config
pa = ui.attempt(lightnets.profile, a)
pb = ui.attempt(lightnets.profile, b)
if pa is None or pb is None:
    st.stop()
if a == b:
    st.info(_("A and B are the same configuration: change a knob, ρ or the model of one of them."))

# ---- totals ----------------------------------------------------------------------------------------------------
st.header(_("Totals"))
rows = compare.totals(pa, pb)
fmt = {"count": format_count, "bytes": format_bytes}
st.dataframe({_("figure"): [_(r.label) for r in rows], "A": [fmt[r.unit](r.a) for r in rows],
              "B": [fmt[r.unit](r.b) for r in rows], "B/A": [compare.ratio_text(r.ratio) for r in rows]},
             hide_index=True, key="compare.totals")
st.caption(_("A: {a}. B: {b}. Exactly: A {a_macs:,} MACs, B {b_macs:,} MACs; A {a_params:,} params, B {b_params:,} "
             "params.").format(a=a.describe(), b=b.describe(), a_macs=pa.macs, b_macs=pb.macs, a_params=pa.params,
                               b_params=pb.params))

# ---- where the MACs go, and the graphs -------------------------------------------------------------------------
st.header(_("Where the multiply-adds go"))
left, right = st.columns(2, gap="large")
for column, p, name in ((left, pa, "A"), (right, pb, "B")):
    with column:
        st.markdown(f"**{name}**")
        ui.html(cost_figures.kind_share_html(p))

st.header(_("Stage by stage"))
stages = compare.stage_rows(pa, pb)


def _cell(value: int | None, unit: str) -> str:
    return "–" if value is None else fmt[unit](value)


st.dataframe({_("stage"): [s.stage for s in stages],
              _("MACs A"): [_cell(s.a_macs, "count") for s in stages],
              _("MACs B"): [_cell(s.b_macs, "count") for s in stages],
              _("memory access A"): [_cell(s.a_mem, "bytes") for s in stages],
              _("memory access B"): [_cell(s.b_mem, "bytes") for s in stages]},
             hide_index=True, key="compare.stages")
st.caption(_("Memory access: the bytes every operator reads and writes (ShuffleNet V2's MAC), summed over the "
             "stage; a dash where one configuration has no such stage."))

graphs = st.expander(_("Both block graphs"), expanded=False, key="compare.graphs", on_change="rerun")
if graphs.open:
    with graphs:
        left, right = st.columns(2, gap="large")
        for column, config in ((left, a), (right, b)):
            with column:
                dot = ui.attempt(lightnets.block_graph, config)
                if dot is not None:
                    st.graphviz_chart(dot, width="stretch")

# ---- latency, interleaved --------------------------------------------------------------------------------------
st.header(_("Latency"))
st.markdown(_("Both are timed in the same run, in alternation ({rounds} rounds, the order rotating), so whatever "
              "else the machine does slows both alike; the ratio B/A is the median of the per-round ratios.").format(
    rounds=pair.ROUNDS))
if st.button(_("Measure A and B"), key="compare.measure", icon=":material/timer:"):
    with st.spinner(_("measuring both, in alternation …")):
        ui.attempt(pair.measure_pair, a, b)
measured = pair.measured_pair(a, b)
if measured is not None:
    ra, rb = measured.results
    cols = st.columns(3)
    cols[0].metric(_("A median"), f"{ra.median_ms:.2f} ms")
    cols[1].metric(_("B median"), f"{rb.median_ms:.2f} ms")
    cols[2].metric("B/A", compare.ratio_text(measured.ratio(1, 0)))
    ratios = measured.ratios(1, 0)
    st.caption(_("Per-round ratios B/A: {ratios}; {threads} threads, load average {load}; MACs ratio B/A "
                 "{macs}.").format(ratios=", ".join(f"{r:.3g}" for r in ratios), threads=ra.threads,
                                   load=ra.load_average, macs=compare.ratio_text(pb.macs / pa.macs if pa.macs
                                                                                 else None)))

# ---- top-5 of both (opened on request: it loads two sets of weights) --------------------------------------
top5 = st.expander(_("Top-5 on the same photo"), expanded=False, key="compare.top5", on_change="rerun")
if top5.open:
    with top5:
        status = {name: lightnets.weights_available(config) for name, config in (("A", a), ("B", b))}
        missing = [f"{name}: {s.reason}" for name, s in status.items() if not s]
        if missing:
            st.info(_("Top-5 needs published weights for both: {missing}.").format(missing="; ".join(missing)))
        else:
            photo_col, sample_col = st.columns(2)
            photo = photo_col.file_uploader(_("A photo"), type=IMAGE_TYPES, max_upload_size=20,
                                            key="compare.photo")
            samples = lightnets.sample_images()
            sample = sample_col.selectbox(_("…or a sample photo"), list(samples), key="compare.sample",
                                          disabled=photo is not None)
            image = ui.attempt(lightnets.load_image, photo.getvalue() if photo is not None else samples[sample])
            if image is not None:
                left, right = st.columns(2, gap="large")
                for column, config, name in ((left, a, "A"), (right, b, "B")):
                    with column:
                        with st.spinner(_("loading the weights …")):
                            prediction = ui.attempt(lightnets.predict, config, image)
                        if prediction is not None:
                            st.markdown(f"**{name}**: " + _("{ms:.0f} ms for one image").format(
                                ms=prediction.seconds * 1000))
                            ui.chart(predict_figures.topk_bars(prediction), key=f"compare.topk.{name}")
