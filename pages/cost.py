"""Cost: params, MACs, memory traffic and latency of the current configuration, per layer, along each knob,
and against the other families."""

from __future__ import annotations

import os

import streamlit as st

import ui
from lightnets import analysis
from lightnets.figures import cost as figures
from lightnets.formatting import format_bytes, format_count, format_value

selection = ui.sidebar()
p = ui.current_profile(selection)
config, spec = p.config, p.config.spec

# ---- totals, with the paper's figures where a paper publishes this exact setting --------------------------
st.header("Totals")
refs = spec.matching_references(config)
ref = refs[0] if refs else None
cells = [
    ("params", format_count(p.params), f"paper: {ref.params_m:g} M" if ref and ref.params_m else ""),
    ("MACs", format_count(p.macs), f"paper: {ref.macs_m:g} M" if ref and ref.macs_m else ""),
    ("FLOPs", format_count(p.flops), "2 × MACs"),
    ("memory access", format_bytes(p.mem_bytes), "bytes read + written by all ops: ShuffleNet V2's memory access cost"),
    ("size fp32", format_bytes(p.size_fp32_bytes), "4 bytes per parameter"),
    ("size int8", format_bytes(p.size_int8_bytes), "1 byte per parameter"),
    ("peak activations", format_bytes(p.peak_activation_bytes), "largest input + output of one op"),
    ("element-wise ops", format_count(p.elementwise_total), "BN, activations, adds, pooling, shuffle"),
]
for start in (0, 4):
    for column, (label, value, note) in zip(st.columns(4), cells[start:start + 4]):
        column.metric(label, value)
        column.caption(note)
if ref:
    st.success(f"These knobs are a published setting: **{ref.label}**, {ref.source}. Paper: "
               + ", ".join(part for part in (f"{ref.params_m:g} M params" if ref.params_m else "",
                                             f"{ref.macs_m:g} M MACs" if ref.macs_m else "",
                                             f"top-1 {ref.top1:g}%" if ref.top1 else "") if part) + ".")
    for note in {r.note for r in refs if r.note}:
        st.caption(note)
elif spec.references:
    settings = "; ".join(f"{r.label} ({r.resolution} px)" for r in spec.references)
    st.caption(f"No paper publishes figures for exactly these knobs. Published settings: {settings}.")
st.caption(f"Exactly: {p.params:,} params · {p.macs:,} MACs · {p.flops:,} FLOPs · {p.mem_bytes:,} bytes of memory "
           f"access · {p.elementwise_total:,} element-wise ops, for one {selection.resolution}×"
           f"{selection.resolution} image.")

SECTIONS = ["Per layer", "Depthwise separable", "Sweeps", "Across families", "Latency"]


def per_layer() -> None:
    shares = p.macs_by_kind()
    top_kind = max(shares, key=shares.get)
    text = f"**{top_kind}** layers do {100 * shares[top_kind] / p.macs:.0f}% of the multiply-adds."
    if "depthwise" in shares:
        text += (" The depthwise convs, which do all the spatial filtering, cost "
                 f"{100 * shares['depthwise'] / p.macs:.0f}%: a network built from depthwise separable convs spends "
                 "its MACs in the 1×1 convs that mix the channels. Hover a bar to name its layer.")
    st.markdown(text)
    # plain HTML and SVG, not plotly: redrawn on every slider move, they cost the browser next to nothing
    ui.html(figures.kind_share_html(p, ui.figure_scale()))
    ui.html(figures.layer_svg(p, ui.figure_scale()))
    table = st.expander("Per-layer table: every operator with its shapes and cost", key="cost.table",
                        on_change="rerun")
    if table.open:  # built only when asked: a few hundred rows
        with table:
            st.dataframe(p.table(), hide_index=True)


def separable() -> None:
    pairs = analysis.separable_pairs(p)
    if not pairs:
        if any(row.op == "depthwise" for row in p.layers):
            st.info(f"{spec.title} has depthwise convolutions, but none feeds a 1×1 conv directly (their outputs "
                    "are combined with other branches first), so the 1/N + 1/Dk² factorisation does not apply "
                    "as such.")
        else:
            st.info(f"{spec.title} has no depthwise convolution at these knobs, so there is nothing to factorise.")
        return
    st.markdown("A standard k×k conv from M to N channels costs Dk²·M·N·H·W MACs. A depthwise k×k conv "
                "(Dk²·M·H·W) followed by a 1×1 conv (M·N·H·W) does the same job for a fraction of it:")
    chosen = ui.kept(st.selectbox, "depthwise layer", list(range(len(pairs))), key="cost.depthwise",
                     format_func=lambda i: pairs[i].label)
    pair = pairs[chosen]
    g = f"{pair.groups}\\cdot " if pair.groups > 1 else ""
    st.latex(rf"\frac{{D_k^2 M HW + M N HW{'/g' if pair.groups > 1 else ''}}}{{D_k^2 M N HW}}"
             rf" = \frac{{1}}{{N}} + \frac{{1}}{{{g}D_k^2}} = \frac{{1}}{{{pair.out_channels}}}"
             rf" + \frac{{1}}{{{g}{pair.kernel_area}}} = {pair.formula:.4f}")
    left, right = st.columns([1, 2])
    left.metric("measured ratio", f"{pair.ratio:.4f}")
    left.metric("saving", f"{1 / pair.ratio:.1f}× fewer MACs")
    left.caption(f"standard conv {pair.standard_macs:,} MACs; separable {pair.separable_macs:,} MACs")
    with right:
        ui.chart(figures.separable_chart(pair))


def sweeps() -> None:
    st.markdown("How cost moves along one knob while the others stay where the sidebar has them. Parameters do "
                "not depend on the input size; MACs grow with ρ².")
    options = [knob.name for knob in spec.knobs if knob.type != "text"] + ["rho"]  # free text has no axis
    labels = {knob.name: knob.label for knob in spec.knobs} | {"rho": "resolution multiplier ρ"}
    # one radio per model, so that coming back to a model finds the knob it was swept along
    swept = ui.kept(st.radio, "sweep against", options, key=f"cost.sweep.{selection.name}", format_func=labels.get,
                    horizontal=True)
    if swept == "rho":
        points = ui.cached_rho_sweep(config, tuple(ui.rho_sweep_values(selection)))
        current = selection.rho
    else:
        points = ui.cached_knob_sweep(config, swept, selection.rho)
        current = config.knobs[swept]
    failed = [pt for pt in points if pt.error]
    if failed:
        st.caption("Not buildable: " + "; ".join(f"{format_value(pt.value)} ({pt.error})" for pt in failed))
    ui.chart(figures.sweep_chart(points, labels[swept], current, ui.sweep_latency(points) or None))
    if st.button("Measure latency along this sweep", key="cost.sweep_latency",
                 help="Times up to 7 settings of this sweep on this machine; takes a few seconds each."):
        with ui.guard():
            ui.measure_sweep(points)
            st.rerun()


def across_families() -> None:
    st.markdown("Each bubble is a result a paper published: its ImageNet top-1 against the MACs of that setting "
                "(bubble area ∝ parameters). Up and to the left is better.")
    top1, _ = analysis.published_top1(config)
    ui.chart(figures.family_chart(analysis.family_points(), p.macs, p.params, top1, spec.title))


def latency() -> None:
    st.markdown("MACs are not time: memory traffic, the number of separate ops and how well each op uses the "
                "hardware decide latency. Measured at batch 1 after warm-up; the spread shows how steady it is. "
                "The Latency page shows where the time goes.")
    threads = ui.kept(st.selectbox, "threads", [None, *range(1, (os.cpu_count() or 1) + 1)], key="cost.threads",
                      format_func=lambda t: "library default" if t is None else str(t))
    if st.button("Measure latency", key="cost.measure", type="primary"):
        with st.spinner("measuring …"), ui.guard():
            ui.measure_latency(config, threads)
    result = ui.measured_latency(config, threads)
    if result is None:
        st.caption("Not measured yet for this configuration.")
        return
    cols = st.columns(4)
    cols[0].metric("median", f"{result.median_ms:.2f} ms")
    cols[1].metric("spread (IQR)", f"{result.iqr_ms:.2f} ms")
    cols[2].metric("p90", f"{result.p90_ms:.2f} ms")
    cols[3].metric("threads · device", f"{result.threads} · {result.device}")
    st.caption(f"{result.runs} runs at batch {result.batch}, {result.resolution}×{result.resolution} px; "
               f"p25–p75 {result.p25_ms:.2f}–{result.p75_ms:.2f} ms, fastest {result.min_ms:.2f} ms.")


# Lazy tabs: only the open one runs, so a slider move redraws one section's charts, not all of them.
ui.restore("cost.section", SECTIONS)
tabs = st.tabs(SECTIONS, key="cost.section", on_change="rerun")
ui.remember("cost.section")
for tab, draw in zip(tabs, (per_layer, separable, sweeps, across_families, latency)):
    with tab:
        if tab.open:
            draw()
