"""Latency: measured on this machine on a button, eager beside deployment mode, where the time goes beside where
the MACs go, and the lookup-table prediction beside the measurement."""

from __future__ import annotations

import os
import time

import streamlit as st

import lightnets
import ui
from lightnets.figures import latency as figures

_RESULTS = "latency.results"  # {(configuration, threads, batch, deploy): {...}} for this session

selection = ui.sidebar()
ui.intro("Latency", "How long one forward pass of the current configuration takes on this machine, measured when "
         "you press the button. MACs are not latency: as the ShuffleNet V2 paper argues, memory traffic, the "
         "number of separate ops (fragmentation) and element-wise work (activations, adds, BatchNorm) cost time "
         "that a MAC count never sees, so a depthwise conv is cheap in MACs but slow per MAC. Compare the two "
         "shares below, and the eager model with its deployment form (BatchNorm folded, channels_last, TorchScript).")
if selection.config is None:
    st.error(selection.error)
    st.stop()

cores = os.cpu_count() or 1
left, middle, right = st.columns(3)
threads = left.selectbox("threads", list(range(1, cores + 1)), index=cores - 1, key="latency.threads",
                         help="Intra-op threads PyTorch may use; the process setting is restored afterwards.")
batch = middle.selectbox("batch", [1, 2, 4, 8, 16], key="latency.batch")
deploy = right.toggle("deployment mode beside eager", value=True, key="latency.deploy",
                      help="Also time optimize_for_inference(model): BatchNorm folded into the convs, channels_last "
                           "memory format, frozen TorchScript trace. Outputs equal the eager model's to 1e-4.")
retime = st.checkbox("time this network's lookup-table entries again", key="latency.retime",
                     help="Entries are timed once per device and thread count and kept; time them again if they "
                          "were measured while the machine was busy (their load is shown below the prediction).")
key = (selection.config, threads, batch, deploy)
store = st.session_state.setdefault(_RESULTS, {})

if st.button("Measure latency", type="primary", key="latency.measure"):
    bar = st.progress(0.0, text="measuring …")
    with ui.guard():
        try:
            store[key] = lightnets.latency_report(selection.config, threads, batch, deploy, refresh=retime,
                                                  progress=lambda done, text: bar.progress(done, text=text))
        except RuntimeError as err:  # a deployment form whose outputs differ: say so in one line
            st.error(str(err).splitlines()[0])
    bar.empty()
report = store.get(key)
if report is None:
    st.caption("Not measured yet for this configuration: press the button (it takes a few seconds; nothing is "
               "measured on slider moves).")
    st.stop()

# ---- measured latency ------------------------------------------------------------------------------------------
eager, optimized, results = report.eager, report.optimized, report.results
st.header("Measured latency")
for column, result in zip(st.columns(len(results)), results):
    with column:
        st.subheader("eager PyTorch" if result.mode == "eager" else "deployment mode")
        a, b, c = st.columns(3)
        a.metric("median", f"{result.median_ms:.2f} ms")
        b.metric("spread (IQR)", f"{result.iqr_ms:.2f} ms")
        c.metric("p90", f"{result.p90_ms:.2f} ms")
        unsettled = "" if result.stable else ", wider than the ±1% aimed at: measure again"
        st.caption(f"{result.runs} runs after {result.warmup_runs} warm-up runs, ±{result.ci95_ms:.2f} ms (95% "
                   f"confidence of the median){unsettled}; "
                   f"{result.threads} thread(s), batch {result.batch}, {result.resolution}×{result.resolution} px, "
                   f"{result.device}; machine load {result.load_average}.")
if optimized:
    st.markdown(f"Deployment mode runs **{report.speedup:.2f}×** as fast as eager PyTorch.")
ui.chart(figures.latency_bars(results, ["eager", "deployment mode"][:len(results)]), key="latency.bars")
with st.expander("every timed run"):
    for result in results:
        ui.chart(figures.run_times(result), key=f"latency.runs.{result.mode}")
st.caption(f"Measured at {time.strftime('%H:%M:%S', time.localtime(report.measured_at))}. Other programs running "
           "on this machine slow some runs down; the "
           "median and the spread show how much.")

# ---- where the time goes -------------------------------------------------------------------------------------
layers = report.layers
st.header("Where the time goes, next to where the MACs go")
shares = layers.shares()
lines = [f"**{kind}**: {m:.0%} of the MACs, {t:.0%} of the time" for kind, (m, t) in shares.items()
         if kind in ("depthwise", "pointwise", "dense", "group", "bn", "act") and (m or t) >= 0.01]
st.markdown(" · ".join(lines))
ui.chart(figures.share_by_kind(layers), key="latency.kinds")
ui.chart(figures.macs_vs_time(layers), key="latency.scatter")
st.caption("Each dot is one layer with multiply-adds. Above the dashed line a layer takes more time than its "
           "MACs suggest at this network's average rate: few operations per byte moved, or a kernel that cannot "
           "keep the cores busy.")
ui.chart(figures.share_by_block(layers), key="latency.blocks")
st.caption(f"Every operator timed in place during {layers.runs} real forward passes (median per operator). "
           f"Operators add up to {layers.ops_ms:.2f} ms; the rest of the measured time is Python and dispatch "
           "between them.")

# ---- lookup table -----------------------------------------------------------------------------------------------
prediction = report.prediction
st.header("Predicted from a latency lookup table")
st.markdown("FBNet searches architectures without running them: it times every operator once per device, "
            "alone, and predicts a network's latency as the sum of its operators' entries. Here is that sum "
            "beside the measurement.")
ui.chart(figures.prediction_vs_measured(prediction, eager), key="latency.lut")
st.caption(f"{len(prediction.ops)} operator calls; {prediction.new_entries} new entries timed now, the table holds "
           f"{prediction.table_entries} for {prediction.device} with {prediction.threads} thread(s)"
           f"{' (' + prediction.table_path + ')' if prediction.table_path else ''}; the machine's load average was "
           f"at most {prediction.max_load} while they were timed"
           f"{'' if prediction.trusted else f' ({prediction.busy_entries} entries timed while the machine was busy: they are timed again once it is quiet)'}"
           f". Each operator is timed alone with cold caches, as in a network: {prediction.ops_ms:.2f} ms; plus "
           f"the dispatch cost measured on this machine for its {len(prediction.ops)} operator and "
           f"{prediction.module_calls} module calls: {prediction.dispatch_ms:+.2f} ms"
           f"{' (deployment: the frozen TorchScript graph’s own operators)' if prediction.form == 'script' else ''}.")
