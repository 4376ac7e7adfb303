"""Latency: measured on this machine on a button, eager beside deployment mode, where the time goes beside where
the MACs go, and the lookup-table prediction beside the measurement."""

from __future__ import annotations

import os
import time

import streamlit as st

import ui
from lightnets import latency as measuring
from lightnets.figures import latency as figures
from lightnets.i18n import _
from lightnets.ops import OP_LABELS

_RESULTS = "latency.results"  # {(configuration, threads, batch, deploy): {...}} for this session

selection = ui.sidebar()
ui.intro(_("Latency"), _("How long one forward pass of the current configuration takes on this machine, measured "
                          "when you press the button. MACs are not latency: as the ShuffleNet V2 paper argues, "
                          "memory traffic, the number of separate ops (fragmentation) and element-wise work "
                          "(activations, adds, BatchNorm) cost time that a MAC count never sees, so a depthwise conv "
                          "is cheap in MACs but slow per MAC. Compare the two shares below, and the eager model with "
                          "its deployment form (BatchNorm folded, channels_last, TorchScript)."))
if selection.config is None:
    ui.error(selection.error)
    st.stop()

cores = os.cpu_count() or 1
left, middle, right = st.columns(3)
threads = left.selectbox(_("threads"), list(range(1, cores + 1)), index=cores - 1, key="latency.threads",
                         help=_("Intra-op threads PyTorch may use; the process setting is restored afterwards."))
batch = middle.selectbox(_("batch"), [1, 2, 4, 8, 16], key="latency.batch")
deploy = right.toggle(_("deployment mode beside eager"), value=True, key="latency.deploy",
                      help=_("Also time optimize_for_inference(model): BatchNorm folded into the convs, "
                             "channels_last memory format, frozen TorchScript trace. Outputs equal the eager model's "
                             "to 1e-4."))
retime = st.checkbox(_("time this network's lookup-table entries again"), key="latency.retime",
                     help=_("Entries are timed once per device and thread count and kept; time them again if they "
                            "were measured while the machine was busy (their load is shown below the prediction)."))
key = (selection.config, threads, batch, deploy)
store = st.session_state.setdefault(_RESULTS, {})
# the newest report of this setting, this session's or another's: a setting measured once is shown to everyone
candidates = [r for r in (store.get(key), measuring.shared_report(*key)) if r is not None]
report = max(candidates, key=lambda r: r.measured_at) if candidates else None

if st.button(_("Measure again") if report is not None else _("Measure latency"), type="primary",
             key="latency.measure"):
    with ui.guard():
        try:
            report = store[key] = ui.latency_report(selection.config, threads, batch, deploy, retime)
        except RuntimeError as err:  # a deployment form whose outputs differ: say so in one line
            ui.error(err)
if report is None:
    st.caption(_("Not measured yet for this configuration: press the button (it takes a few seconds; nothing is "
                 "measured on slider moves)."))
    st.stop()
if store.get(key) is not report:
    st.info(_("Measured by another session at {time} (this setting was already timed, so it was not timed "
              "again); press “Measure again” to time it yourself.").format(
        time=time.strftime("%H:%M:%S", time.localtime(report.measured_at))))

# ---- measured latency ------------------------------------------------------------------------------------------
eager, optimized, results = report.eager, report.optimized, report.results
st.header(_("Measured latency"))
for column, result in zip(st.columns(len(results)), results):
    with column:
        st.subheader(_("eager PyTorch") if result.mode == "eager" else _("deployment mode"))
        a, b, c = st.columns(3)
        a.metric(_("median"), f"{result.median_ms:.2f} ms")
        b.metric(_("spread (IQR)"), f"{result.iqr_ms:.2f} ms")
        c.metric("p90", f"{result.p90_ms:.2f} ms")
        low, high = result.interval_ms
        st.caption(_("{runs} runs after {warmup} warm-up runs; {low:.2f}–{high:.2f} ms is the spread seen (the "
                     "lowest and highest median of {k} consecutive stretches of the runs); {threads} thread(s), "
                     "batch {batch}, {res}×{res} px, {device}.").format(
            runs=result.runs, warmup=result.warmup_runs, low=low, high=high,
            k=len(measuring.stretch_medians(result.times_ms)), threads=result.threads, batch=result.batch,
            res=result.resolution, device=result.device))
        load = result.load
        if result.disturbed:
            st.warning(_("Disturbed: other work wanted {other:.1f} cores beside this measurement's {threads} "
                         "thread(s) on this {cores}-core machine (load average {average}), so this figure is "
                         "slower than the machine can do: measure again when it is quieter.").format(
                other=load.other_cores, threads=load.threads, cores=load.cores, average=load.load_average))
        elif result.wide:
            st.caption(_("The spread is wide (over {share:.0%} of the median): measuring again would tell "
                         "more.").format(share=measuring.WIDE))
        elif load is not None and load.other_cores is not None:
            st.caption(_("Quiet machine: other work wanted {other:.1f} cores meanwhile (load average "
                         "{average}).").format(other=load.other_cores, average=load.load_average))
if optimized:
    st.markdown(_("Deployment mode runs **{speedup:.2f}×** as fast as eager PyTorch.").format(speedup=report.speedup))
ui.chart(figures.latency_bars(results, [_("eager"), _("deployment mode")][:len(results)]), key="latency.bars")
with st.expander(_("every timed run")):
    for result in results:
        ui.chart(figures.run_times(result), key=f"latency.runs.{result.mode}")
st.caption(_("Measured at {when}. Other programs running on this machine slow some runs down; the median and the "
             "spread show how much, and a figure measured while other work ran says so.").format(
    when=time.strftime("%H:%M:%S", time.localtime(report.measured_at))))

# ---- where the time goes -------------------------------------------------------------------------------------
layers = report.layers
st.header(_("Where the time goes, next to where the MACs go"))
shares = layers.shares()
lines = [_("**{kind}**: {m:.0%} of the MACs, {t:.0%} of the time").format(kind=_(OP_LABELS.get(kind, kind)), m=m, t=t)
         for kind, (m, t) in shares.items()
         if kind in ("depthwise", "pointwise", "dense", "group", "bn", "act") and (m or t) >= 0.01]
st.markdown(" · ".join(lines))
ui.chart(figures.share_by_kind(layers), key="latency.kinds")
ui.chart(figures.macs_vs_time(layers), key="latency.scatter")
st.caption(_("Each dot is one layer with multiply-adds. Above the dashed line a layer takes more time than its "
             "MACs suggest at this network's average rate: few operations per byte moved, or a kernel that cannot "
             "keep the cores busy."))
ui.chart(figures.share_by_block(layers), key="latency.blocks")
st.caption(_("Every operator timed in place during {runs} real forward passes (median per operator). Operators "
             "add up to {ms:.2f} ms; the rest of the measured time is Python and dispatch between them.").format(
    runs=layers.runs, ms=layers.ops_ms))

# ---- lookup table -----------------------------------------------------------------------------------------------
prediction = report.prediction
st.header(_("Predicted from a latency lookup table"))
st.markdown(_("FBNet searches architectures without running them: it times every operator once per device, "
              "alone, and predicts a network's latency as the sum of its operators' entries. Here is that sum "
              "beside the measurement."))
ui.chart(figures.prediction_vs_measured(prediction, eager), key="latency.lut")
busy = "" if prediction.trusted else _(" ({n} entries timed while the machine was busy: they are timed again once "
                                        "it is quiet)").format(n=prediction.busy_entries)
if prediction.form == "script":
    beyond = _("The deployment form is its frozen TorchScript graph’s own operators, with no Python between them: "
               "the entries alone.")
else:
    beyond = _("Plus what each of its {calls} operator and {modules} module calls costs beyond its entry (mostly "
               "Python between the operators), measured on this machine on {refs} reference networks: "
               "{dispatch_ms:+.2f} ms.").format(calls=len(prediction.ops), modules=prediction.module_calls,
                                                refs=len(prediction.dispatch.reference_call_us),
                                                dispatch_ms=prediction.dispatch_ms)
st.caption(_("{calls} operator calls; {new} new entries timed now, the table holds {entries} for {device} with "
             "{threads} thread(s){path}; the machine's load average was at most {load} while they were "
             "timed{busy}. Each operator is timed alone with cold caches, as in a network: {ops_ms:.2f} ms. "
             "{beyond}").format(
    calls=len(prediction.ops), new=prediction.new_entries, entries=prediction.table_entries,
    device=prediction.device, threads=prediction.threads,
    path=f" ({prediction.table_path})" if prediction.table_path else "", load=prediction.max_load, busy=busy,
    ops_ms=prediction.ops_ms, beyond=beyond))
