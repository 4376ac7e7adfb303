"""Cost: params, MACs, memory traffic and latency of the current configuration, per layer, along each knob,
and against the other families."""

from __future__ import annotations

import os

import streamlit as st

import ui
from lightnets import analysis
from lightnets.figures import cost as figures
from lightnets.formatting import format_bytes, format_count, format_value
from lightnets.i18n import _
from lightnets.ops import OP_LABELS

selection = ui.sidebar()
p = ui.current_profile(selection)
config, spec = p.config, p.config.spec

# ---- totals, with the paper's figures where a paper publishes this exact setting --------------------------
st.header(_("Totals"))
refs = spec.matching_references(config)
ref = refs[0] if refs else None
cells = [
    (_("params"), format_count(p.params), _("paper: {m:g} M").format(m=ref.params_m) if ref and ref.params_m else ""),
    (_("MACs"), format_count(p.macs), _("paper: {m:g} M").format(m=ref.macs_m) if ref and ref.macs_m else ""),
    (_("FLOPs"), format_count(p.flops), _("2 × MACs")),
    (_("memory access"), format_bytes(p.mem_bytes),
     _("bytes read + written by all ops: ShuffleNet V2's memory access cost")),
    (_("size fp32"), format_bytes(p.size_fp32_bytes), _("4 bytes per parameter")),
    (_("size int8"), format_bytes(p.size_int8_bytes), _("1 byte per parameter")),
    (_("peak activations"), format_bytes(p.peak_activation_bytes), _("largest input + output of one op")),
    (_("element-wise ops"), format_count(p.elementwise_total), _("BN, activations, adds, pooling, shuffle")),
]
for start in (0, 4):
    for column, (label, value, note) in zip(st.columns(4), cells[start:start + 4]):
        column.metric(label, value)
        column.caption(note)
if ref:
    figures_text = _(", ").join(part for part in (
        _("{m:g} M params").format(m=ref.params_m) if ref.params_m else "",
        _("{m:g} M MACs").format(m=ref.macs_m) if ref.macs_m else "",
        _("top-1 {top1:g}%").format(top1=ref.top1) if ref.top1 else "") if part)
    st.success(_("These knobs are a published setting: **{label}**, {source}. Paper: {figures}.").format(
        label=ref.label, source=_(ref.source), figures=figures_text))
    for note in {r.note for r in refs if r.note}:
        st.caption(_(note))
elif spec.references:
    settings = "; ".join(f"{r.label} ({r.resolution} px)" for r in spec.references)
    st.caption(_("No paper publishes figures for exactly these knobs. Published settings: {settings}.").format(
        settings=settings))
st.caption(_("Exactly: {params:,} params · {macs:,} MACs · {flops:,} FLOPs · {mem:,} bytes of memory access · "
             "{elementwise:,} element-wise ops, for one {res}×{res} image.").format(
    params=p.params, macs=p.macs, flops=p.flops, mem=p.mem_bytes, elementwise=p.elementwise_total,
    res=selection.resolution))

SECTIONS = [_("Per layer"), _("Depthwise separable"), _("Sweeps"), _("Across families"), _("Latency")]


def per_layer() -> None:
    shares = p.macs_by_kind()
    top_kind = max(shares, key=shares.get)
    text = _("**{kind}** layers do {share:.0f}%\u00a0of the multiply-adds.").format(
        kind=_(OP_LABELS.get(top_kind, top_kind)), share=100 * shares[top_kind] / p.macs)
    if "depthwise" in shares:
        text += _(" The depthwise convs, which do all the spatial filtering, cost {share:.0f}%: a network built "
                  "from depthwise separable convs spends its MACs in the 1×1 convs that mix the channels. Hover a "
                  "bar to name its layer.").format(share=100 * shares["depthwise"] / p.macs)
    st.markdown(text)
    # plain HTML and SVG, not plotly: redrawn on every slider move, they cost the browser next to nothing
    ui.html(figures.kind_share_html(p, ui.figure_scale()))
    ui.html(figures.layer_svg(p, ui.figure_scale()))
    table = st.expander(_("Per-layer table: every operator with its shapes and cost"), key="cost.table",
                        on_change="rerun")
    if table.open:  # built only when asked: a few hundred rows
        with table:
            st.dataframe(p.layer_table(), hide_index=True)  # headers, stages and op kinds in this language


def separable() -> None:
    pairs = analysis.separable_pairs(p)
    if not pairs:
        if any(row.op == "depthwise" for row in p.layers):
            st.info(_("{model} has depthwise convolutions, but none feeds a 1×1 conv directly (their outputs "
                      "are combined with other branches first), so the 1/N + 1/Dk² factorisation does not apply "
                      "as such.").format(model=spec.title))
        else:
            st.info(_("{model} has no depthwise convolution at these knobs, so there is nothing to "
                      "factorise.").format(model=spec.title))
        return
    st.markdown(_("A standard k×k conv from M to N channels costs Dk²·M·N·H·W MACs. A depthwise k×k conv "
                  "(Dk²·M·H·W) followed by a 1×1 conv (M·N·H·W) does the same job for a fraction of it:"))
    chosen = ui.kept(st.selectbox, _("depthwise layer"), list(range(len(pairs))), key="cost.depthwise",
                     format_func=[pair.label for pair in pairs].__getitem__)  # worded now, in this run's language
    pair = pairs[chosen]
    g = f"{pair.groups}\\cdot " if pair.groups > 1 else ""
    st.latex(rf"\frac{{D_k^2 M HW + M N HW{'/g' if pair.groups > 1 else ''}}}{{D_k^2 M N HW}}"
             rf" = \frac{{1}}{{N}} + \frac{{1}}{{{g}D_k^2}} = \frac{{1}}{{{pair.out_channels}}}"
             rf" + \frac{{1}}{{{g}{pair.kernel_area}}} = {pair.formula:.4f}")
    left, right = st.columns([1, 2])
    left.metric(_("measured ratio"), f"{pair.ratio:.4f}")
    left.metric(_("saving"), _("{times:.1f}× fewer MACs").format(times=1 / pair.ratio))
    left.caption(_("standard conv {standard:,} MACs; separable {separable:,} MACs").format(
        standard=pair.standard_macs, separable=pair.separable_macs))
    with right:
        ui.chart(figures.separable_chart(pair))


def sweeps() -> None:
    st.markdown(_("How cost moves along one knob while the others stay where the sidebar has them. Parameters do "
                  "not depend on the input size; MACs grow with ρ²."))
    options = [knob.name for knob in spec.knobs if knob.type != "text"] + ["rho"]  # free text has no axis
    labels = {knob.name: _(knob.label) for knob in spec.knobs} | {"rho": _("resolution multiplier ρ")}
    # one radio per model, so that coming back to a model finds the knob it was swept along
    swept = ui.kept(st.radio, _("sweep against"), options, key=f"cost.sweep.{selection.name}", format_func=labels.get,
                    horizontal=True)
    if swept == "rho":
        points = ui.cached_rho_sweep(config, tuple(ui.rho_sweep_values(selection)))
        current = selection.rho
    else:
        points = ui.cached_knob_sweep(config, swept, selection.rho)
        current = config.knobs[swept]
    failed = [pt for pt in points if pt.error]
    if failed:
        st.caption(_("Not buildable: {points}").format(
            points="; ".join(f"{format_value(pt.value)} ({pt.error})" for pt in failed)))
    ui.chart(figures.sweep_chart(points, labels[swept], current, ui.sweep_latency(points) or None))
    if st.button(_("Measure latency along this sweep"), key="cost.sweep_latency",
                 help=_("Times up to 7 settings of this sweep on this machine; takes a few seconds each.")):
        with ui.guard():
            ui.measure_sweep(points)
            st.rerun()


def across_families() -> None:
    st.markdown(_("Each bubble is a result a paper published: its ImageNet top-1 against the MACs of that setting "
                  "(bubble area ∝ parameters). Up and to the left is better."))
    top1, _source = analysis.published_top1(config)
    ui.chart(figures.family_chart(analysis.family_points(), p.macs, p.params, top1, spec.title))


def latency() -> None:
    st.markdown(_("MACs are not time: memory traffic, the number of separate ops and how well each op uses the "
                  "hardware decide latency. Measured at batch 1 after warm-up; the spread shows how steady it is. "
                  "The Latency page shows where the time goes."))
    default = _("library default")  # worded now: AppTest calls format_func later, outside this run's language
    threads = ui.kept(st.selectbox, _("threads"), [None, *range(1, (os.cpu_count() or 1) + 1)], key="cost.threads",
                      format_func=lambda t: default if t is None else str(t))
    if st.button(_("Measure latency"), key="cost.measure", type="primary"):
        with st.spinner(_("measuring …")), ui.guard():
            ui.measure_latency(config, threads)
    result = ui.measured_latency(config, threads)
    if result is None:
        st.caption(_("Not measured yet for this configuration."))
        return
    cols = st.columns(4)
    cols[0].metric(_("median"), f"{result.median_ms:.2f} ms")
    cols[1].metric(_("spread (IQR)"), f"{result.iqr_ms:.2f} ms")
    cols[2].metric("p90", f"{result.p90_ms:.2f} ms")
    cols[3].metric(_("threads · device"), f"{result.threads} · {result.device}")
    st.caption(_("{runs} runs at batch {batch}, {res}×{res} px; p25–p75 {p25:.2f}–{p75:.2f} ms, fastest "
                 "{fastest:.2f} ms.").format(runs=result.runs, batch=result.batch, res=result.resolution,
                                             p25=result.p25_ms, p75=result.p75_ms, fastest=result.min_ms))


# Lazy tabs: only the open one runs, so a slider move redraws one section's charts, not all of them.
ui.restore("cost.section", SECTIONS)
tabs = st.tabs(SECTIONS, key="cost.section", on_change="rerun")
ui.remember("cost.section", SECTIONS)
for tab, draw in zip(tabs, (per_layer, separable, sweeps, across_families, latency)):
    with tab:
        if tab.open:
            draw()
