"""The sidebar every page shares and the URL it is mirrored in. Streamlit only: numbers come from ``lightnets``.

``app.py`` draws the sidebar once per run, before the page, because widgets in the entrypoint keep their state
across page switches (a widget drawn inside a page gets a new identity on every page). A page calls
``sidebar()`` to get the current ``Selection``; within one run that returns what the entrypoint drew.

The selection is mirrored in the URL (``?model=mobilenet_v2&alpha=0.5&rho=0.714&lang=zh``), so a shared link opens
the same configuration in the same language; values in a link that the schema does not allow fall back to defaults
with a warning.

The language: the sidebar's 中文 / English switch once the user has touched it, else the link's ``lang``, else the
browser's language (``st.context.locale``). ``start_language`` sets it at the top of every run, before anything is
drawn (the navigation's page titles included); the switch keeps the whole configuration.

How a knob travels: the widget's value (``_draw``) → ``ModelSpec.validate`` (the schema) → one
``lightnets.Config`` in the ``Selection`` → every page passes that object to lightnets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import streamlit as st

import lightnets
from lightnets.formatting import Shown, format_value
from lightnets.i18n import LANGUAGES, _, language, negotiate, set_language
from ui.widgets import error as show_error
from ui.widgets import pin, pin_choice
from ui.widgets import warning as show_warning

if TYPE_CHECKING:
    from lightnets.registry import Config

PREFERRED_MODEL = "mobilenet_v2"  # the default when it is registered; otherwise the first registered model
# ρ grid: multiples of 1/28, so that ρ·224 lands on every 8 px and the papers' 128/160/192 px are exact
RHO_DENOMINATOR = 28
RHO_STEPS = tuple(range(7, 57))  # ρ from 0.25 to 2.0

_MODEL_KEY = "ui.model"
_RHO_KEY = "ui.rho"
_SAVED = "ui.saved"  # {model: {knob: value}} and "rho": survives a model switch, which drops unrendered widgets
_SELECTION = "ui.selection"
_DRAWN = "ui.drawn"
_STARTED = "ui.started"
_LINK_WARNING = "ui.link_warning"  # the bad link's query parameters: its warning shows until the selection changes
_LANGUAGE_KEY = "ui.language"  # the sidebar's language switch: 'zh' or 'en'
LANGUAGE_SWITCH_LABEL = "语言 / Language"  # in both languages, so that anyone finds it
_LINK_SELECTION = "ui.link_selection"
_IN_APP = "ui.in_app"  # True while app.py runs a page


@dataclass(frozen=True)
class Selection:
    """What the sidebar currently shows: the widgets' values and the configuration they make."""

    name: str
    knobs: dict[str, Any] = field(hash=False)  # validated: every knob of the model, defaults filled in
    rho: float
    resolution: int  # round(ρ · the model's own resolution), clamped to what the model takes
    config: Config | None = None  # None when the knobs pass the schema but the architecture cannot be built
    error: str | None = None  # why ``config`` is None

    @property
    def spec(self) -> lightnets.ModelSpec:
        return lightnets.spec(self.name)

    def query(self, prefix: str = "") -> dict[str, str]:
        """The URL query parameters that reproduce this selection (keys prefixed, e.g. ``a_model``)."""
        out = {"model": self.name}
        text = {k.name for k in self.spec.knobs if k.type == "text"}  # an empty text knob stays out of the link
        out.update({k: format_value(v) for k, v in self.knobs.items() if not (k in text and v == "")})
        out["rho"] = format_value(round(self.rho, 4))
        return {prefix + k: v for k, v in out.items()}


def rho_of(step: int) -> float:
    return step / RHO_DENOMINATOR


def default_model() -> str:
    names = lightnets.list_models()
    return PREFERRED_MODEL if PREFERRED_MODEL in names else names[0]


def knob_key(name: str, knob: str) -> str:
    return f"ui.knob.{name}.{knob}"


def _nearest_rho_step(value: str) -> int | None:
    try:
        rho = float(value)
    except ValueError:
        return None
    if not math.isfinite(rho):
        return None
    step = round(rho * RHO_DENOMINATOR)
    # accept the 3-4 digits a link carries (0.714 for 5/7), not arbitrary values between grid points
    return step if step in RHO_STEPS and abs(rho * RHO_DENOMINATOR - step) < 0.02 else None


def read_query(params: Mapping[str, str], prefix: str = "", default: str | None = None
               ) -> tuple[str, dict[str, Any], int, list[str]]:
    """The model, knobs and ρ step that query ``params`` ask for (keys ``{prefix}model``, ``{prefix}<knob>``,
    ``{prefix}rho``), with a message (in the current language) for each value that was ignored. The sidebar reads
    ``model=…`` (and checks ``lang``); the Compare page reads ``a_model=…`` and ``b_model=…`` the same way."""
    params = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)} if prefix else dict(params)
    problems: list[str] = []
    if not prefix and "lang" in params and params["lang"] not in LANGUAGES:
        problems.append(_("unknown language {value!r} (showing {language})").format(
            value=Shown(params["lang"]), language=LANGUAGES[language()]))
    fallback = default if default in lightnets.list_models() else default_model()
    name = params.get("model", fallback)
    if name not in lightnets.list_models():
        problems.append(_("unknown model {name!r} (showing {default})").format(name=Shown(name), default=fallback))
        name = fallback
    model_spec = lightnets.spec(name)
    own = {knob.name for knob in model_spec.knobs}
    knobs, bad = lightnets.parse_knobs(name, {k: v for k, v in params.items() if k in own})
    problems += [_("{message} (using {fallback})").format(message=message, fallback=fallback_value)
                 for message, fallback_value in bad]
    others = {k.name for n in lightnets.list_models() for k in lightnets.spec(n).knobs} - own
    problems += [_("{name} has no knob {key!r} (ignored)").format(name=name, key=f"{prefix}{key}") for key in params
                 if key in others]  # known names only
    step = RHO_DENOMINATOR
    if "rho" in params:
        found = _nearest_rho_step(params["rho"])
        if found is None:
            problems.append(_("rho={value!r} is not allowed: ρ must be a number from 0.25 to 2 in steps of "
                              "1/{denominator} (using 1)").format(value=Shown(params["rho"]),
                                                                  denominator=RHO_DENOMINATOR).replace(
                "rho=", f"{prefix}rho=", 1))
        else:
            step = found
    return name, knobs, step, problems


def _from_query(params: Mapping[str, str]) -> tuple[str, dict[str, Any], int, list[str]]:
    """The model, knobs and ρ step that the sidebar's query parameters ask for (see ``read_query``)."""
    return read_query(params)


def _start_session() -> None:
    """On a session's first run, seed the widgets from the URL and warn about what it got wrong."""
    params = {key: st.query_params[key] for key in st.query_params}
    name, knobs, step, problems = _from_query(params)
    st.session_state[_MODEL_KEY] = name
    st.session_state[_RHO_KEY] = step
    st.session_state[_SAVED] = {name: knobs}
    for knob, value in knobs.items():
        st.session_state[knob_key(name, knob)] = value
    if problems:  # kept as the link itself, so that the warning can be worded again in another language
        st.session_state[_LINK_WARNING] = params


def knob_widget(knob: lightnets.Knob, key: str, saved: Mapping[str, Any]) -> Any:
    """The widget of one knob, generated from its schema, its value in ``st.session_state[key]``; where that is
    missing (the model's first time on screen, or its widgets dropped while hidden), the value in ``saved`` (the
    model's knobs as last shown), else the knob's default."""
    if key not in st.session_state:
        st.session_state[key] = saved.get(knob.name, knob.default)
    label, help_text = _(knob.label), _(knob.help)  # a keyed widget keeps its value when its label changes
    pin(key)
    if knob.type == "bool":
        return st.toggle(label, key=key, help=help_text)
    if knob.type == "choice":
        choices = list(knob.choices or ())
        if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices):
            return st.select_slider(label, options=choices, key=key, help=help_text, format_func=format_value)
        return st.selectbox(label, options=choices, key=key, help=help_text, format_func=format_value)
    if knob.type == "text":
        return st.text_input(label, key=key, help=help_text, placeholder=knob.example, max_chars=600)
    cast = int if knob.type == "int" else float
    return st.slider(label, min_value=cast(knob.min), max_value=cast(knob.max), step=cast(knob.step),
                     key=key, help=help_text)


def _draw() -> Selection:
    names = lightnets.list_models()
    pin_choice(_MODEL_KEY, names, default_model())  # a model could vanish only in development, but be safe
    pin_choice(_RHO_KEY, RHO_STEPS, RHO_DENOMINATOR)
    with st.sidebar:
        st.header(_("Architecture"))
        name = st.selectbox(_("model"), names, key=_MODEL_KEY,
                            format_func=lambda n: f"{lightnets.spec(n).title} ({lightnets.spec(n).paper.year})",
                            help=_("Every registered lightweight CNN; the knobs below are generated from its "
                                   "schema."))
        model_spec = lightnets.spec(name)
        st.caption(_(model_spec.idea))
        saved = st.session_state[_SAVED].get(name, {})
        raw = {knob.name: knob_widget(knob, knob_key(name, knob.name), saved) for knob in model_spec.knobs}
        step = st.select_slider(_("resolution multiplier ρ"), options=RHO_STEPS, key=_RHO_KEY,
                                format_func=lambda s: f"{rho_of(s):.3g}",
                                help=_("Scales the input image side: resolution = ρ × the model's own input size. "
                                       "MACs scale with ρ², parameters do not change."))
        try:
            knobs = model_spec.validate(raw)
        except ValueError as err:  # a widget cannot produce this, but a stale session state could
            show_error(err)
            knobs = model_spec.defaults()
        rho = rho_of(step)
        resolution = model_spec.rho_resolution(knobs, rho)
        config, error = None, None
        try:
            config = lightnets.Config(name, knobs, resolution)
        except ValueError as err:  # the schema allows these knobs, the architecture cannot build them
            error = str(err).splitlines()[0]
        own = model_spec.resolution(knobs)
        st.caption(_("input {res}×{res} px (ρ = {rho:.3g} × {own} px)").format(res=resolution, rho=rho, own=own))
        if error:
            show_error(error)
    st.session_state[_SAVED][name] = dict(knobs)
    return Selection(name=name, knobs=knobs, rho=rho, resolution=resolution, config=config, error=error)


def _show_link_warning(selection: Selection) -> None:
    """Keep the warning about a bad link on screen, on every page, until the user changes the selection."""
    params = st.session_state.get(_LINK_WARNING)
    if params is None:
        return
    if _LINK_SELECTION not in st.session_state:
        st.session_state[_LINK_SELECTION] = selection
    if st.session_state[_LINK_SELECTION] == selection:
        problems = _from_query(params)[3]
        show_warning(_("Some values in the link were not valid and fell back to defaults: {problems}.").format(
            problems=_("; ").join(problems)))
    else:
        del st.session_state[_LINK_WARNING]


def _sync_url(selection: Selection) -> None:
    """Write the selection and the language into the URL, touching only the keys the sidebar owns."""
    wanted = selection.query() | {"lang": language()}
    managed = {"model", "rho", "lang"} | {k.name for n in lightnets.list_models() for k in lightnets.spec(n).knobs}
    for key in list(st.query_params):
        if key in managed and key not in wanted:
            del st.query_params[key]
    for key, value in wanted.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value


def browser_locale() -> str | None:
    """The browser's preferred language ('zh-CN'), None where there is no browser (AppTest)."""
    try:
        return st.context.locale
    except Exception:  # noqa: BLE001 - no client connection to ask: fall back to English
        return None


def start_language() -> str:
    """Called by app.py first in every run: set this run's language (see the module's docstring) and return it.

    Sessions run in threads of one process and the language belongs to the thread, so it is set on every run."""
    if _LANGUAGE_KEY not in st.session_state:  # the session's first run: the link, else the browser
        asked = st.query_params.get("lang")
        st.session_state[_LANGUAGE_KEY] = asked if asked in LANGUAGES else negotiate(browser_locale())
    set_language(st.session_state[_LANGUAGE_KEY])
    return language()


def _language_switch() -> None:
    pin(_LANGUAGE_KEY)
    with st.sidebar:
        st.radio(LANGUAGE_SWITCH_LABEL, ["zh", "en"], key=_LANGUAGE_KEY, format_func=LANGUAGES.get, horizontal=True,
                 label_visibility="collapsed")


def _compare_link(selection: Selection) -> None:
    """One click to the Compare page, with A (and B, to be changed there) set to the sidebar's configuration."""
    if selection.config is None:
        return
    from ui.compare import link_query

    with st.sidebar:
        st.page_link("pages/compare.py", label=_("Compare with…"), icon=":material/compare_arrows:",
                     query_params=link_query(selection),
                     help=_("Opens the Compare page with A and B set to this configuration; change B there."))


def begin_run() -> None:
    """Called by app.py at the top of every run, after ``start_language``: draws the language switch (at the top
    of the sidebar, where the entrypoint keeps its value across pages); the next ``sidebar()`` call draws the
    widgets."""
    st.session_state[_DRAWN] = False
    st.session_state[_IN_APP] = True
    _language_switch()


def end_run() -> None:
    """Called by app.py after the page ran (in a ``finally``)."""
    st.session_state[_IN_APP] = False


def _recover_from_legacy_pages_mode() -> None:
    """Route a page that Streamlit ran without app.py back through app.py.

    Until some session has called ``st.navigation`` (so: on a fresh server's first run, and on every
    AppTest rerun), Streamlit treats the ``pages/`` folder as a legacy multipage app and runs a page
    script on its own. Calling ``st.navigation`` switches the process to app.py's navigation, and the
    rerun then goes through app.py, on the same page and with the same query parameters.
    """
    from ui.navigation import navigation_pages, page_config

    page_config()
    st.navigation(navigation_pages(), position="hidden")
    st.rerun()


def ensure_app() -> None:
    """For a page that does not call ``sidebar()``: make sure it runs inside app.py (see above)."""
    if not st.session_state.get(_IN_APP):
        _recover_from_legacy_pages_mode()


def sidebar() -> Selection:
    """The current architecture and knobs; draws the shared sidebar the first time it is called in a run.

    Only app.py may draw it (widgets drawn inside a page get a new identity on every page and lose their
    values on a page switch); a page asks for it after app.py has drawn it.
    """
    ensure_app()
    if st.session_state.get(_DRAWN) and _SELECTION in st.session_state:
        return st.session_state[_SELECTION]
    if not st.session_state.get(_STARTED):
        st.session_state[_STARTED] = True
        _start_session()
    selection = _draw()
    _show_link_warning(selection)
    _sync_url(selection)
    _compare_link(selection)
    st.session_state[_SELECTION] = selection
    st.session_state[_DRAWN] = True
    return selection
