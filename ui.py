"""The sidebar every page shares, and small display helpers. Streamlit only: numbers come from ``lightnets``.

``app.py`` draws the sidebar once per run, before the page, because widgets in the entrypoint keep their state
across page switches (a widget drawn inside a page gets a new identity on every page). A page calls
``sidebar()`` to get the current ``Selection``; within one run that returns what the entrypoint drew.

The selection is mirrored in the URL (``?model=mobilenet_v2&alpha=0.5&rho=0.714``), so a shared link opens the
same configuration; values in a link that the schema does not allow fall back to defaults with a warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import streamlit as st

import lightnets
from lightnets import analysis
from lightnets.analysis import resolution_for

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
_LINK_WARNING = "ui.link_warning"  # what a bad link got wrong, shown until the selection changes
_LINK_SELECTION = "ui.link_selection"
_IN_APP = "ui.in_app"  # True while app.py runs a page

T = TypeVar("T")


@dataclass(frozen=True)
class Selection:
    """The architecture and knob values the sidebar currently shows."""

    name: str
    knobs: dict[str, Any] = field(hash=False)  # validated: every knob of the model, defaults filled in
    rho: float
    resolution: int  # round(ρ · the model's own resolution), clamped to what the model takes
    error: str | None = None  # set when the knobs pass the schema but the architecture cannot be built

    @property
    def spec(self) -> lightnets.ModelSpec:
        return lightnets.spec(self.name)

    @property
    def key(self) -> tuple[str, tuple[tuple[str, Any], ...], int]:
        """A hashable identity of the configuration, for st.cache_data."""
        return self.name, tuple(sorted(self.knobs.items())), self.resolution

    def query(self) -> dict[str, str]:
        """The URL query parameters that reproduce this selection."""
        out = {"model": self.name}
        out.update({k: format_value(v) for k, v in self.knobs.items()})
        out["rho"] = format_value(round(self.rho, 4))
        return out


# --------------------------------------------------------------------------------------------------
# formatting


def format_value(value: Any) -> str:
    """A knob value as it appears in a URL and in captions: true/false, 0.75, 6."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def fmt_count(value: float) -> str:
    """Three significant digits: 3504872 → '3.50 M', 86744000 → '86.7 M'; readable from the back of a classroom."""
    units = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))
    for i, (size, unit) in enumerate(units):
        if abs(value) >= size or size == 1.0:
            text = f"{value / size:#.3g}".rstrip(".")
            if "e" in text and i:  # 999.6 k rounds to 1000 k: say 1.00 M
                size, unit = units[i - 1]
                text = f"{value / size:#.3g}".rstrip(".")
            return f"{text} {unit}".strip() if size != 1.0 else f"{value:g}"
    return f"{value:g}"


def fmt_percent(value: float | None) -> str:
    """A published accuracy to one decimal (58.178 → '58.2%'), '—' where none is published."""
    return "—" if value is None else f"{value:.1f}%"


def fmt_bytes(value: float) -> str:
    """Bytes in decimal units (MB = 10⁶ bytes, as model sizes are usually quoted)."""
    for size, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(value) >= size:
            return f"{value / size:.2f} {unit}"
    return f"{value:g} B"


def markdown_table(columns: dict[str, list[str]]) -> str:
    """A markdown table with these columns (cells as text; a '|' in a cell is escaped)."""
    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    lines = [row(list(columns)), row(["---"] * len(columns))]
    lines += [row(cells) for cells in zip(*columns.values())]
    return "\n".join(lines)


def rho_of(step: int) -> float:
    return step / RHO_DENOMINATOR


# --------------------------------------------------------------------------------------------------
# errors as one-liners


@contextmanager
def guard() -> Iterator[None]:
    """Show a ``ValueError`` raised inside the block as a one-line st.error instead of a traceback."""
    try:
        yield
    except ValueError as err:
        st.error(str(err).splitlines()[0] if str(err) else "This configuration cannot be computed.")


def attempt(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """``fn(*args, **kwargs)``, or None after showing its ``ValueError`` as a one-line st.error."""
    try:
        return fn(*args, **kwargs)
    except ValueError as err:
        st.error(str(err).splitlines()[0])
        return None


def profile(selection: Selection) -> lightnets.Profile | None:
    """The cost profile of the selection (cached inside lightnets), or None with an error shown."""
    if selection.error:
        st.error(selection.error)
        return None
    return attempt(lightnets.profile, selection.name, selection.resolution, **selection.knobs)


def intro(title: str, text: str) -> None:
    """A page title and its 2–3 sentence explanation of what the user sees."""
    st.title(title)
    st.markdown(text)


def pending(feature: str, issue: int) -> None:
    """Say that a section waits for a lightnets module another issue is adding; the rest of the page works."""
    st.info(f"{feature} appears here once its lightnets module lands (issue {issue}).")


def has_api(name: str) -> bool:
    """Whether ``lightnets.<name>`` exists yet (modules are being added by other issues)."""
    try:
        getattr(lightnets, name)
    except (AttributeError, ImportError):
        return False
    return True


def restore(key: str, options: Sequence[Any], default: Any = None) -> None:
    """Before drawing a keyed widget that is not drawn on every run (a lazy tab, another model's page), put
    back its last value if it is still an option; Streamlit forgets the state of widgets it did not draw."""
    if key in st.session_state and st.session_state[key] in options:
        return
    saved = st.session_state.get(f"{key}.saved")
    st.session_state[key] = saved if saved in options else default if default in options else options[0]


def remember(key: str) -> None:
    """After drawing a widget restored with ``restore``: keep its value for the next time it appears."""
    st.session_state[f"{key}.saved"] = st.session_state.get(key)


def kept(widget: Callable[..., T], label: str, options: Sequence[Any], *, key: str, default: Any = None,
         **kwargs: Any) -> T:
    """``widget(label, options, key=key, **kwargs)`` whose value survives being hidden for a while."""
    restore(key, options, default)
    value = widget(label, options, key=key, **kwargs)
    remember(key)
    return value


def html(markup: str) -> None:
    """HTML or SVG from lightnets.figures, as is. st.html would strip the SVG; as one HTML block (a <div> on a
    single line) the markdown renderer passes it through untouched."""
    st.markdown(f"<div>{markup}</div>", unsafe_allow_html=True)


# No plotly toolbar: it costs ~10 ms per draw on 2 cores (charts redraw on every slider move) and its zoom and
# download buttons are rarely wanted here; drag-to-zoom, double-click and Streamlit's fullscreen button remain.
CHART_CONFIG = {"displayModeBar": False}


def chart(fig: Any, key: str | None = None) -> None:
    """A plotly figure at full width, keeping the figure's own large-font style (not Streamlit's theme)."""
    st.plotly_chart(fig, theme=None, width="stretch", key=key, config=CHART_CONFIG)


# --------------------------------------------------------------------------------------------------
# cached sweeps (profiles are cached inside lightnets; this also skips rebuilding the point lists)


@st.cache_data(show_spinner=False, max_entries=512)
def cached_knob_sweep(name: str, knob: str, knob_items: tuple[tuple[str, Any], ...],
                      rho: float) -> list[analysis.SweepPoint]:
    return analysis.knob_sweep(name, knob, dict(knob_items), rho)


@st.cache_data(show_spinner=False, max_entries=512)
def cached_rho_sweep(name: str, knob_items: tuple[tuple[str, Any], ...],
                     rhos: tuple[float, ...]) -> list[analysis.SweepPoint]:
    return analysis.rho_sweep(name, dict(knob_items), list(rhos))


def rho_sweep_values(selection: Selection, max_points: int = 13) -> list[float]:
    """ρ values for a sweep: spread over the sidebar's grid, with the current ρ among them."""
    current = round(selection.rho * RHO_DENOMINATOR)
    return [rho_of(step) for step in analysis.sweep_values(list(RHO_STEPS), current, max_points)]


# --------------------------------------------------------------------------------------------------
# latency: measured only on a button, kept per configuration for the session

_LATENCY = "ui.latency"  # {(name, knob items, resolution, threads): LatencyResult}


def _latency_key(name: str, knobs: dict[str, Any], resolution: int,
                 threads: int | None) -> tuple[str, tuple[tuple[str, Any], ...], int, int | None]:
    return name, tuple(sorted(knobs.items())), resolution, threads


def measured_latency(name: str, knobs: dict[str, Any], resolution: int, threads: int | None = None) -> Any:
    """The LatencyResult measured earlier in this session for this configuration, or None."""
    return st.session_state.get(_LATENCY, {}).get(_latency_key(name, knobs, resolution, threads))


@st.cache_data(show_spinner=False, max_entries=256, ttl=3600)
def _measure(name: str, knob_items: tuple[tuple[str, Any], ...], resolution: int, threads: int | None) -> Any:
    # shared by all sessions: a configuration measured once is not measured again for an hour
    return lightnets.measure_latency(name, resolution=resolution, threads=threads, **dict(knob_items))


def measure_latency(name: str, knobs: dict[str, Any], resolution: int, threads: int | None = None) -> Any:
    """Measure now (slow: call only from a button) and remember the result for this session."""
    result = _measure(name, tuple(sorted(knobs.items())), resolution, threads)
    st.session_state.setdefault(_LATENCY, {})[_latency_key(name, knobs, resolution, threads)] = result
    return result


def sweep_latency(name: str, points: list[analysis.SweepPoint]) -> dict[Any, tuple[float, float, float]]:
    """(median, p25, p75) in ms of each sweep point measured so far in this session."""
    out = {}
    for pt in points:
        result = None if pt.error else measured_latency(name, pt.knobs, pt.resolution)
        if result is not None:
            out[pt.value] = (result.median_ms, result.p25_ms, result.p75_ms)
    return out


def measure_sweep(name: str, points: list[analysis.SweepPoint], max_points: int = 7) -> None:
    """Measure up to ``max_points`` buildable points of a sweep (spread out), with a progress bar."""
    todo = [pt for pt in points if not pt.error]
    if len(todo) > max_points:
        picks = {round(k * (len(todo) - 1) / (max_points - 1)) for k in range(max_points)}
        todo = [todo[i] for i in sorted(picks)]
    bar = st.progress(0.0, text="measuring latency …")
    for i, pt in enumerate(todo, start=1):
        if measured_latency(name, pt.knobs, pt.resolution) is None:
            measure_latency(name, pt.knobs, pt.resolution)
        bar.progress(i / len(todo), text=f"measured {i} of {len(todo)} settings")
    bar.empty()


# --------------------------------------------------------------------------------------------------
# the sidebar


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


def _from_query() -> tuple[str, dict[str, Any], int, list[str]]:
    """The model, knobs and ρ step a URL asks for, with a message for each value that was ignored."""
    params = st.query_params
    problems: list[str] = []
    name = params.get("model", default_model())
    if name not in lightnets.list_models():
        problems.append(f"unknown model {name!r} (showing {default_model()})")
        name = default_model()
    model_spec = lightnets.spec(name)
    knobs = model_spec.defaults()
    own = {knob.name for knob in model_spec.knobs}
    for knob in model_spec.knobs:
        if knob.name in params:
            try:
                knobs[knob.name] = knob.validate(params[knob.name])
            except ValueError as err:
                problems.append(f"{err} (using {format_value(knob.default)})")
    others = {k.name for n in lightnets.list_models() for k in lightnets.spec(n).knobs} - own
    problems += [f"{name} has no knob {key!r} (ignored)" for key in params if key in others]
    step = RHO_DENOMINATOR
    if "rho" in params:
        found = _nearest_rho_step(params["rho"])
        if found is None:
            problems.append(f"rho={params['rho']!r} is not allowed: ρ must be a number from 0.25 to 2 in steps "
                            f"of 1/{RHO_DENOMINATOR} (using 1)")
        else:
            step = found
    try:
        lightnets.blocks(name, **knobs)
    except ValueError as err:
        problems.append(f"{err} (using {name}'s defaults)")
        knobs = model_spec.defaults()
    return name, knobs, step, problems


def _start_session() -> None:
    """On a session's first run, seed the widgets from the URL and warn about what it got wrong."""
    name, knobs, step, problems = _from_query()
    st.session_state[_MODEL_KEY] = name
    st.session_state[_RHO_KEY] = step
    st.session_state[_SAVED] = {name: knobs}
    for knob, value in knobs.items():
        st.session_state[knob_key(name, knob)] = value
    if problems:
        st.session_state[_LINK_WARNING] = ("Some values in the link were not valid and fell back to defaults: "
                                           + "; ".join(problems) + ".")


def _knob_widget(name: str, knob: lightnets.Knob) -> Any:
    key = knob_key(name, knob.name)
    if key not in st.session_state:  # first time this model is shown, or it was dropped while hidden
        saved = st.session_state[_SAVED].get(name, {})
        st.session_state[key] = saved.get(knob.name, knob.default)
    if knob.type == "bool":
        return st.toggle(knob.label, key=key, help=knob.help)
    if knob.type == "choice":
        choices = list(knob.choices or ())
        if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices):
            return st.select_slider(knob.label, options=choices, key=key, help=knob.help, format_func=format_value)
        return st.selectbox(knob.label, options=choices, key=key, help=knob.help, format_func=format_value)
    cast = int if knob.type == "int" else float
    return st.slider(knob.label, min_value=cast(knob.min), max_value=cast(knob.max), step=cast(knob.step),
                     key=key, help=knob.help)


def _draw() -> Selection:
    names = lightnets.list_models()
    if st.session_state.get(_MODEL_KEY) not in names:  # a model could vanish only in development, but be safe
        st.session_state[_MODEL_KEY] = default_model()
    with st.sidebar:
        st.header("Architecture")
        name = st.selectbox("model", names, key=_MODEL_KEY,
                            format_func=lambda n: f"{lightnets.spec(n).title} ({lightnets.spec(n).paper.year})",
                            help="Every registered lightweight CNN; the knobs below are generated from its schema.")
        model_spec = lightnets.spec(name)
        st.caption(model_spec.idea)
        raw = {knob.name: _knob_widget(name, knob) for knob in model_spec.knobs}
        step = st.select_slider("resolution multiplier ρ", options=RHO_STEPS, key=_RHO_KEY,
                                format_func=lambda s: f"{rho_of(s):.3g}",
                                help="Scales the input image side: resolution = ρ × the model's own input size. "
                                     "MACs scale with ρ², parameters do not change.")
        try:
            knobs = model_spec.validate(raw)
        except ValueError as err:  # a widget cannot produce this, but a stale session state could
            st.error(str(err))
            knobs = model_spec.defaults()
        rho = rho_of(step)
        resolution = resolution_for(name, knobs, rho)
        st.caption(f"input {resolution}×{resolution} px (ρ = {rho:.3g} × {model_spec.resolution(knobs)} px)")
        error = None
        try:
            lightnets.blocks(name, **knobs)
        except ValueError as err:
            error = str(err).splitlines()[0]
            st.error(error)
    st.session_state[_SAVED][name] = dict(knobs)
    return Selection(name=name, knobs=knobs, rho=rho, resolution=resolution, error=error)


def _show_link_warning(selection: Selection) -> None:
    """Keep the warning about a bad link on screen, on every page, until the user changes the selection."""
    warning = st.session_state.get(_LINK_WARNING)
    if warning is None:
        return
    if _LINK_SELECTION not in st.session_state:
        st.session_state[_LINK_SELECTION] = selection
    if st.session_state[_LINK_SELECTION] == selection:
        st.warning(warning)
    else:
        del st.session_state[_LINK_WARNING]


def _sync_url(selection: Selection) -> None:
    """Write the selection into the URL, touching only the keys the sidebar owns."""
    wanted = selection.query()
    managed = {"model", "rho"} | {k.name for n in lightnets.list_models() for k in lightnets.spec(n).knobs}
    for key in list(st.query_params):
        if key in managed and key not in wanted:
            del st.query_params[key]
    for key, value in wanted.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value


@dataclass(frozen=True)
class PageInfo:
    """One page of the app. app.py draws ``heading`` and ``intro`` before the sidebar, so they are on screen
    before torch is imported (about two seconds on a cold start); a page without ``intro`` draws its own."""

    path: str
    title: str  # in the navigation
    icon: str
    heading: str = ""  # the page title; ``title`` when empty
    intro: str = ""  # 2–3 plain sentences on what the page shows
    selection_first: bool = True  # False: the page needs no selection, and app.py draws the sidebar after it


PAGES = (
    PageInfo("pages/home.py", "Home", ":material/home:", "LightNets Explorer",
             "Lightweight CNNs trade a little accuracy for a lot less computation. Pick an architecture in the "
             "sidebar and turn its knobs (width multiplier α, resolution multiplier ρ, groups, expansion) to see "
             "how its structure, cost and speed follow. The table compares every model at its paper's default "
             "setting.", selection_first=False),
    PageInfo("pages/architecture.py", "Architecture", ":material/account_tree:", "Architecture",
             "The whole network as a graph, drawn from the same block table that builds the model: stem → "
             "stages → head, one box per block (identical repeats folded into “× n”), coloured by block kind, "
             "with the tensor shape channels × height × width on every arrow at the current α and ρ. The second "
             "tab draws the inside of any block; beside both, what to look for in this family."),
    PageInfo("pages/channel_shuffle.py", "Channel shuffle", ":material/shuffle:", "Channel shuffle",
             "A group convolution splits its channels into g groups and filters each group on its own, which "
             "divides its cost by g, but stacked group convs would then never mix information across groups. "
             "ShuffleNet fixes this with a free channel shuffle: view the channels as a (g, n) grid, transpose "
             "it, and read it back. Press play and follow any one cell."),
    PageInfo("pages/cost.py", "Cost", ":material/bar_chart:", "Cost",
             "What the current configuration costs, computed exactly from its layer shapes: parameters, "
             "multiply-adds (MACs) and the bytes every layer moves. Move a knob in the sidebar and every figure "
             "follows at once; latency is the one figure that must be measured, so it waits for a button."),
    PageInfo("pages/latency.py", "Latency", ":material/timer:"),  # draws its own title and explanation
    PageInfo("pages/predict.py", "Predict", ":material/image_search:", "Predict",
             "Run a network with real ImageNet weights on a photo. On the left is the image exactly as the "
             "network receives it (resized and centre-cropped the way its weights were trained); on the right, "
             "the five classes it finds most likely, with softmax probabilities and the time one forward pass "
             "took on this server. Configurations without published weights can use a checkpoint of your own."),
)
_BY_TITLE = {info.title: info for info in PAGES}


def navigation_pages() -> list[st.Page]:
    return [st.Page(info.path, title=info.title, icon=info.icon, default=i == 0) for i, info in enumerate(PAGES)]


def page_info(path: str) -> PageInfo:
    return next(info for info in PAGES if info.path == path)


def lead(page: Any) -> None:
    """The page's title and explanation (nothing when the page draws its own): the first paint, torch-free."""
    info = _BY_TITLE.get(page.title)
    if info is not None and info.intro:
        intro(info.heading or info.title, info.intro)


def selection_first(page: Any) -> bool:
    """Whether the page needs the sidebar's selection before its content (all but Home)."""
    info = _BY_TITLE.get(page.title)
    return info is None or info.selection_first


def begin_run() -> None:
    """Called by app.py at the top of every run: the next ``sidebar()`` call draws the widgets."""
    st.session_state[_DRAWN] = False
    st.session_state[_IN_APP] = True


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
    st.session_state[_SELECTION] = selection
    st.session_state[_DRAWN] = True
    return selection
