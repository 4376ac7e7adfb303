"""The Experiments page's Streamlit parts: outcomes kept per (experiment, device, threads, quick, knobs) for the
session, a run with a progress bar, and an outcome drawn as verdicts, charts and tables.

An experiment runs in the session's own script thread: other sessions keep rerunning on their slider moves while it
runs, and only its timing rounds hold the process-wide measurement lock (one round at a time).
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from lightnets import experiments
from lightnets.figures import experiments as figures
from lightnets.formatting import markdown_table
from lightnets.i18n import _

from ui.widgets import chart, error

_OUTCOMES = "experiments.outcomes"  # {(experiment, device, threads, quick, knobs): Outcome}

Key = tuple[str, str, int, bool, tuple[tuple[str, Any], ...]]


def key_of(name: str, device: str, threads: int, quick: bool, knobs: dict[str, Any]) -> Key:
    """The settings a measurement depends on: the experiment's live knobs are left out (see ``Experiment.live``)."""
    live = experiments.experiment(name).live
    return name, device, threads, quick, tuple(sorted((k, v) for k, v in knobs.items() if k not in live))


def knob_widget(knob: Any, key: str) -> Any:
    """The widget of one experiment knob (label and help read in the current language): a slider for numbers, a
    select slider for choices, a toggle for switches."""
    if knob.type == "bool":
        return st.toggle(knob.label, value=bool(knob.default), help=knob.help, key=key)
    if knob.type == "choice":
        return st.select_slider(knob.label, options=list(knob.choices or ()), value=knob.default,
                                help=knob.help, key=key)
    cast = int if knob.type == "int" else float
    return st.slider(knob.label, cast(knob.min), cast(knob.max), cast(knob.default), cast(knob.step),
                     help=knob.help, key=key)


def live_values(name: str, knobs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in knobs.items() if k in experiments.experiment(name).live}


def stored(key: Key, live: dict[str, Any] | None = None) -> experiments.Outcome | None:
    """The outcome of this experiment with these settings, run earlier in this session (reread at the live knobs'
    values ``live``), or None."""
    outcome = st.session_state.get(_OUTCOMES, {}).get(key)
    if outcome is not None and live:
        outcome = outcome.reread(**live)
    return outcome


def stored_elsewhere(name: str, key: Key) -> list[experiments.Outcome]:
    """This session's outcomes of ``name`` under other settings (to say that they exist)."""
    return [o for k, o in st.session_state.get(_OUTCOMES, {}).items() if k[0] == name and k != key]


def run(key: Key) -> experiments.Outcome | None:
    """Run the experiment now with a progress bar, keep its outcome for the session; None after a one-line error."""
    name, device, threads, quick, knobs = key
    bar = st.progress(0.0, text=_("starting …"))
    try:
        outcome = experiments.run_experiment(name, device, threads, quick,
                                             lambda done, text: bar.progress(min(1.0, max(0.0, done)), text=text),
                                             **dict(knobs))
    except (ValueError, RuntimeError) as err:  # a bad setting, or a deployment form whose outputs differ
        error(err)
        return None
    finally:
        bar.empty()
    st.session_state.setdefault(_OUTCOMES, {})[key] = outcome
    return outcome


@st.cache_data(show_spinner=False, max_entries=256)
def instant(name: str, knobs: tuple[tuple[str, Any], ...]) -> experiments.Outcome:
    """An experiment that measures no time: deterministic, so computed once per knob setting for all sessions."""
    return experiments.run_experiment(name, **dict(knobs))


@st.cache_data(show_spinner=False, max_entries=64)
def preview(name: str, device: str, language: str) -> experiments.View | None:
    """The setup's table (cost-model figures only, no timing), in ``language``."""
    spec = experiments.experiment(name)
    return None if spec.preview is None else spec.preview(device)


_BOXES = {experiments.HOLDS: st.success, experiments.FAILS: st.error, experiments.NOISY: st.warning}


def conditions(outcome: experiments.Outcome) -> str:
    """How the outcome was measured, in one line: mode, device, threads, time taken, machine load."""
    when = time.strftime("%H:%M:%S", time.localtime(outcome.finished_at))
    return _("{mode} mode on {device}, {threads} thread(s); ran {s:.1f} s, finished at {when}. Machine load "
             "(1-minute average, {cores} cores): {a} before, {b} after — a load above the number of cores means "
             "other programs competed for the processor.").format(
        mode=_("quick") if outcome.quick else _("full"), device=outcome.device_name, threads=outcome.threads,
        s=outcome.seconds, when=when, cores=outcome.cores, a=outcome.load_before, b=outcome.load_after)


def show_findings(outcome: experiments.Outcome) -> None:
    for finding in outcome.findings():
        _BOXES[finding.outcome](f"**{finding.label}** — {finding.claim}: {finding.text}")


def show_view(view: experiments.View, key: str) -> None:
    """The charts, then the tables with their notes."""
    for i, spec in enumerate(view.charts):
        chart(figures.chart(spec), key=f"{key}.chart{i}")
    for table in view.tables:
        show_table(table)


def show_table(table: experiments.Table) -> None:
    st.markdown(f"**{table.title}**")
    columns = {name: [str(row[i]) for row in table.rows] for i, name in enumerate(table.columns)}
    st.markdown(markdown_table(columns))
    if table.note:
        st.caption(table.note)
