"""Small widget helpers every page uses: one-line errors instead of tracebacks, widgets that keep their value
while hidden, charts and raw HTML in the house style."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import streamlit as st

import lightnets
from lightnets.i18n import _

if TYPE_CHECKING:
    from ui.state import Selection

T = TypeVar("T")


# every character that Streamlit's markdown (CommonMark + GFM, its :colour[…] and :icon: directives, $math$,
# entities, autolinks) gives a meaning to; a backslash makes each one literal
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&=^%@\"'/])")


# GFM turns bare URLs and e-mail addresses into links even when their characters are escaped (its autolink pass
# runs on the unescaped text): an invisible word joiner between "http" and ":", "www" and ".", and before "@"
# leaves the text as it reads but no longer a link
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|mailto|xmpp)(?=:)|\b(www)(?=\.)|(?=@)")
WORD_JOINER = "\u2060"


def plain(text: Any) -> str:
    """``text`` as markdown that renders as exactly that text, on one line: no link, image, HTML or formatting.
    For messages that repeat what a URL or an upload carried (lightnets cuts those values to 60 characters)."""
    line = _AUTOLINK.sub(lambda m: (m.group(0) or "") + WORD_JOINER, " ".join(str(text).split()))
    return _MARKDOWN.sub(r"\\\1", line)


def error(message: Any) -> None:
    """A one-line st.error showing ``message`` (an exception's first line) as plain text."""
    text = str(message).splitlines()[0] if str(message).strip() else _("This configuration cannot be computed.")
    st.error(plain(text))


def warning(message: Any) -> None:
    """A st.warning showing ``message`` as plain text."""
    st.warning(plain(message))


def warmup() -> None:
    """The process's one warm-up (``lightnets.runtime.warmup``), with a spinner for the sessions that wait on it:
    on a fresh server the first sessions wait here together instead of racing on lazy imports."""
    from lightnets import runtime

    if runtime.warmed():
        return
    with st.spinner(_("Starting up: loading PyTorch and the charts (once per server) …")):
        runtime.warmup()


@contextmanager
def guard() -> Iterator[None]:
    """Show a ``ValueError`` raised inside the block as a one-line st.error instead of a traceback."""
    try:
        yield
    except ValueError as err:
        error(err)


def attempt(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """``fn(*args, **kwargs)``, or None after showing its ``ValueError`` as a one-line st.error."""
    try:
        return fn(*args, **kwargs)
    except ValueError as err:
        error(err)
        return None


def current_profile(selection: Selection) -> lightnets.Profile:
    """The selection's cost profile (cached inside lightnets), or stop the page after showing why there is none."""
    if selection.config is None:
        error(selection.error)
        st.stop()
    p = attempt(lightnets.profile, selection.config)
    if p is None:
        st.stop()
    return p


def intro(title: str, text: str) -> None:
    """A page title and its 2–3 sentence explanation of what the user sees."""
    st.title(title)
    st.markdown(text)


def pin(key: str) -> None:
    """Before drawing a keyed widget whose value the server chose (from the link, a saved value, our default):
    write its current value back, so that every run sends that value to the browser along with the widget.

    Streamlit sends a widget's value only in the run that set it through ``st.session_state``. A browser that
    has not mounted the widget yet when the next run starts (a click right after the page appeared, while the
    sidebar's scripts still load) then shows the widget's first option and sends it back as the user's choice:
    the model, ρ and the language all fell back to their first options that way."""
    if key in st.session_state:
        st.session_state[key] = st.session_state[key]


def pin_choice(key: str, options: Sequence[Any], default: Any) -> None:
    """``pin`` the value of a widget with fixed ``options``, first reset to ``default`` where it is not among them
    (not set yet, or left from a state that no longer applies)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default
    pin(key)


def restore(key: str, options: Sequence[Any], default: Any = None) -> None:
    """Before drawing a keyed widget that is not drawn on every run (a lazy tab, another model's page), put
    back its last value if it is still an option; Streamlit forgets the state of widgets it did not draw."""
    if key in st.session_state and st.session_state[key] in options:
        return
    saved = st.session_state.get(f"{key}.saved")
    index = st.session_state.get(f"{key}.index")  # options that are labels change with the language
    if saved in options:
        st.session_state[key] = saved
    elif isinstance(index, int) and 0 <= index < len(options):
        st.session_state[key] = options[index]
    else:
        st.session_state[key] = default if default in options else options[0]


def remember(key: str, options: Sequence[Any] = ()) -> None:
    """After drawing a widget restored with ``restore``: keep its value (and its place among ``options``, which
    survives a change of language) for the next time it appears."""
    value = st.session_state.get(key)
    st.session_state[f"{key}.saved"] = value
    if value in options:
        st.session_state[f"{key}.index"] = list(options).index(value)


def kept(widget: Callable[..., T], label: str, options: Sequence[Any], *, key: str, default: Any = None,
         **kwargs: Any) -> T:
    """``widget(label, options, key=key, **kwargs)`` whose value survives being hidden for a while."""
    restore(key, options, default)
    pin(key)
    value = widget(label, options, key=key, **kwargs)
    remember(key, options)
    return value


def html(markup: str) -> None:
    """HTML or SVG from lightnets.figures, as is. st.html would strip the SVG; as one HTML block (a <div> on a
    single line) the markdown renderer passes it through untouched."""
    st.markdown(f"<div>{markup}</div>", unsafe_allow_html=True)


# No plotly toolbar: it costs ~10 ms per draw on 2 cores (charts redraw on every slider move) and its zoom and
# download buttons are rarely wanted here; drag-to-zoom, double-click and Streamlit's fullscreen button remain.
CHART_CONFIG = {"displayModeBar": False}


def chart(fig: Any, key: str | None = None) -> None:
    """A plotly figure at full width, keeping the figure's own large-font style (not Streamlit's theme); in
    projector mode with its text, height and margins scaled (lightnets.figures.style.scaled)."""
    from ui.present import presenting

    if presenting():
        from lightnets.figures.style import scaled

        fig = scaled(fig)
    st.plotly_chart(fig, theme=None, width="stretch", key=key, config=CHART_CONFIG)
