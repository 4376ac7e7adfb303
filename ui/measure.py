"""What pages compute on demand: knob and ρ sweeps (cached), and latency, measured only on a button and kept
per configuration for the session (a measurement is also shared by all sessions for an hour).

Measurements take turns across sessions (``lightnets.latency.QUEUE``): a session whose press waits shows how many
measurements are ahead of it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

import lightnets
from lightnets import analysis
from lightnets.i18n import _, language, ngettext
from ui.state import RHO_DENOMINATOR, RHO_STEPS, rho_of

if TYPE_CHECKING:
    from lightnets.registry import Config
    from ui.state import Selection

# --------------------------------------------------------------------------------------------------
# cached sweeps (profiles are cached inside lightnets; this also skips rebuilding the point lists)


# keyed on the language too: a point that cannot be built carries its reason in words


@st.cache_data(show_spinner=False, max_entries=512)
def _knob_sweep(config: Config, knob: str, rho: float, language: str) -> list[analysis.SweepPoint]:
    return analysis.knob_sweep(config, knob, rho)


@st.cache_data(show_spinner=False, max_entries=512)
def _rho_sweep(config: Config, rhos: tuple[float, ...], language: str) -> list[analysis.SweepPoint]:
    return analysis.rho_sweep(config, list(rhos))


def cached_knob_sweep(config: Config, knob: str, rho: float) -> list[analysis.SweepPoint]:
    return _knob_sweep(config, knob, rho, language())


def cached_rho_sweep(config: Config, rhos: tuple[float, ...]) -> list[analysis.SweepPoint]:
    return _rho_sweep(config, rhos, language())


def rho_sweep_values(selection: Selection, max_points: int = 13) -> list[float]:
    """ρ values for a sweep: spread over the sidebar's grid, with the current ρ among them."""
    current = round(selection.rho * RHO_DENOMINATOR)
    return [rho_of(step) for step in analysis.sweep_values(list(RHO_STEPS), current, max_points)]


# --------------------------------------------------------------------------------------------------
# latency: measured only on a button, kept per configuration for the session

_LATENCY = "ui.latency"  # {(config, threads): LatencyResult}


def measured_latency(config: Config, threads: int | None = None) -> Any:
    """The LatencyResult measured earlier in this session for this configuration, or None."""
    return st.session_state.get(_LATENCY, {}).get((config, threads))


@st.cache_resource(show_spinner=False, max_entries=256, ttl=3600)
def _measure(config: Config, threads: int | None) -> Any:
    # shared by all sessions: a configuration measured once is not measured again for an hour; a resource, not
    # data, so every session holds the one (frozen) result instead of its own unpickled copy
    return lightnets.measure_latency(config, threads=threads)


def waiting_notice(slot: Any) -> Any:
    """An ``on_wait(ahead)`` for ``QUEUE.turn`` that tells the user, in ``slot``, their place in the line."""
    def on_wait(ahead: int) -> None:
        slot.info(ngettext("Waiting: {n} measurement ahead of yours (measurements take turns, so that they do "
                           "not slow each other down) …",
                           "Waiting: {n} measurements ahead of yours (measurements take turns, so that they do "
                           "not slow each other down) …", ahead).format(n=ahead))
    return on_wait


def measure_latency(config: Config, threads: int | None = None) -> Any:
    """Measure now (slow: call only from a button) and remember the result for this session."""
    from lightnets.latency import QUEUE  # here, not at the top: the first paint must not wait for torch

    slot = st.empty()
    with QUEUE.turn(waiting_notice(slot)):
        slot.empty()
        result = _measure(config, threads)
    st.session_state.setdefault(_LATENCY, {})[(config, threads)] = result
    return result


def latency_report(config: Config, threads: int, batch: int, deploy: bool, refresh: bool) -> Any:
    """The Latency page's report, measured now in this session's turn, with its place in the line and then a
    progress bar in one slot."""
    slot = st.empty()

    def progress(done: float, text: str) -> None:
        slot.progress(done, text=text)

    report = lightnets.latency_report(config, threads, batch, deploy, refresh=refresh, progress=progress,
                                      on_wait=waiting_notice(slot))
    slot.empty()
    return report


def sweep_latency(points: list[analysis.SweepPoint]) -> dict[Any, tuple[float, float, float]]:
    """(median, p25, p75) in ms of each sweep point measured so far in this session."""
    out = {}
    for pt in points:
        result = None if pt.config is None else measured_latency(pt.config)
        if result is not None:
            out[pt.value] = (result.median_ms, result.p25_ms, result.p75_ms)
    return out


def measure_sweep(points: list[analysis.SweepPoint], max_points: int = 7) -> None:
    """Measure up to ``max_points`` buildable points of a sweep (spread out), with a progress bar."""
    todo = [pt for pt in points if pt.config is not None]
    if len(todo) > max_points:
        picks = {round(k * (len(todo) - 1) / (max_points - 1)) for k in range(max_points)}
        todo = [todo[i] for i in sorted(picks)]
    bar = st.progress(0.0, text=_("measuring latency …"))
    for i, pt in enumerate(todo, start=1):
        if measured_latency(pt.config) is None:
            measure_latency(pt.config)
        bar.progress(i / len(todo), text=_("measured {i} of {n} settings").format(i=i, n=len(todo)))
    bar.empty()
