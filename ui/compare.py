"""The Compare page's two configurations, A and B, each picked like the sidebar's (model, knobs from the schema,
ρ) and mirrored in the URL with a prefix (``?a_model=shufflenet_v1&a_groups=1&b_model=…&b_groups=8``), read with
the sidebar's own ``read_query``. A link that changes the URL (the sidebar's "compare with…", a shared link, the
presets) re-seeds the widgets; otherwise the widgets lead and the URL follows."""

from __future__ import annotations

from typing import Any

import streamlit as st

import lightnets
from lightnets.i18n import _
from ui.widgets import error as show_error
from ui.widgets import pin_choice
from ui.widgets import warning as show_warning
from ui.state import RHO_DENOMINATOR, RHO_STEPS, Selection, knob_widget, read_query, rho_of

SIDES = ("a", "b")
_WRITTEN = "compare.written"  # the a_/b_ query the page last wrote: a different one in the URL was followed
_WARNINGS = "compare.warnings"


def _key(side: str, what: str) -> str:
    return f"compare.{side}.{what}"


def _managed(params: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if k[:2] in ("a_", "b_")}


def link_query(selection: Selection) -> dict[str, str]:
    """Query parameters of a Compare link that starts A (and B) at ``selection``, keeping the sidebar's own."""
    return {**selection.query(), **selection.query("a_"), **selection.query("b_")}


def _seed(side: str, params: dict[str, str], fallback: Selection | None) -> list[str]:
    """Put a side's widget values from the URL (or the sidebar's selection where the URL has none)."""
    prefix = f"{side}_"
    base = fallback.query() if fallback is not None else {}
    merged = {prefix + k: v for k, v in base.items()}
    if any(k.startswith(prefix) for k in params):
        merged = {k: v for k, v in params.items() if k.startswith(prefix)}
    name, knobs, step, problems = read_query(merged, prefix)
    st.session_state[_key(side, "model")] = name
    st.session_state[_key(side, "rho")] = step
    for knob, value in knobs.items():
        st.session_state[_key(side, f"knob.{name}.{knob}")] = value
    st.session_state[_key(side, "saved")] = {name: knobs}
    return [f"{side.upper()}: {p}" for p in problems]


def _picker(side: str) -> Selection:
    names = lightnets.list_models()
    pin_choice(_key(side, "model"), names, names[0])
    name = st.selectbox(_("model"), names, key=_key(side, "model"),
                        format_func=lambda n: f"{lightnets.spec(n).title} ({lightnets.spec(n).paper.year})")
    model_spec = lightnets.spec(name)
    saved = st.session_state.setdefault(_key(side, "saved"), {})
    raw = {knob.name: knob_widget(knob, _key(side, f"knob.{name}.{knob.name}"), saved.get(name, {}))
           for knob in model_spec.knobs}
    pin_choice(_key(side, "rho"), RHO_STEPS, RHO_DENOMINATOR)
    step = st.select_slider(_("resolution multiplier ρ"), options=RHO_STEPS, key=_key(side, "rho"),
                            format_func=lambda s: f"{rho_of(s):.3g}")
    try:
        knobs = model_spec.validate(raw)
    except ValueError as err:
        show_error(err)
        knobs = model_spec.defaults()
    saved[name] = dict(knobs)
    rho = rho_of(step)
    resolution = model_spec.rho_resolution(knobs, rho)
    config, error = None, None
    try:
        config = lightnets.Config(name, knobs, resolution)
    except ValueError as err:
        error = str(err).splitlines()[0]
        show_error(error)
    st.caption(_("input {resolution}×{resolution} px").format(resolution=resolution))
    return Selection(name=name, knobs=knobs, rho=rho, resolution=resolution, config=config, error=error)


def pickers(fallback: Selection | None) -> tuple[Selection, Selection]:
    """Draw A and B side by side; returns their selections and keeps the URL in step."""
    params = st.query_params.to_dict()
    wanted = _managed(params)
    if wanted != st.session_state.get(_WRITTEN) or _key("a", "model") not in st.session_state:
        problems: list[str] = []
        for side in SIDES:
            problems += _seed(side, params, fallback)
        st.session_state[_WARNINGS] = problems
    if st.session_state.get(_WARNINGS):
        show_warning(_("Some values in the link were not valid and fell back to defaults: {problems}.").format(
            problems="; ".join(st.session_state[_WARNINGS])))
    columns = st.columns(2, gap="large")
    chosen = []
    for side, column in zip(SIDES, columns):
        with column:
            st.subheader(side.upper())
            chosen.append(_picker(side))
    a, b = chosen
    written = {**a.query("a_"), **b.query("b_")}
    for key in list(st.query_params):
        if key[:2] in ("a_", "b_") and key not in written:
            del st.query_params[key]
    for key, value in written.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value
    st.session_state[_WRITTEN] = written
    return a, b


# --------------------------------------------------------------------------------------------------
# latency of both, measured in alternation, kept per pair for the session

_LATENCY = "compare.latency"
ROUNDS, BUDGET_S = 5, 0.3


def measure_pair(a: lightnets.Config, b: lightnets.Config, threads: int | None = None) -> Any:
    """Time A and B in alternation (``lightnets.measure_interleaved``) and keep the result for this session."""
    result = lightnets.measure_interleaved([a, b], rounds=ROUNDS, budget_s=BUDGET_S, threads=threads)
    st.session_state.setdefault(_LATENCY, {})[(a, b, threads)] = result
    return result


def measured_pair(a: lightnets.Config, b: lightnets.Config, threads: int | None = None) -> Any:
    return st.session_state.get(_LATENCY, {}).get((a, b, threads))
