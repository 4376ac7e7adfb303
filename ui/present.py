"""Projector mode, ``?present=1``: large type and charts for the back of a classroom.

In that mode the page's text is 1.5× (the root font size, which Streamlit's rem-based sizes follow), the main
column uses the whole width, and every chart's text is ``lightnets.figures.style.PRESENT_SCALE`` times larger (plotly figures in
``ui.widgets.chart``; the HTML and SVG drawings get ``figure_scale()``). The sidebar keeps its collapse
button, so the teacher can hide it and give the charts the whole screen.

The mode is the session's (a toggle at the top of the sidebar) and lives in the URL as ``present=1``, so a shared
link opens in it; ``start_presentation`` runs at the top of every run, before anything is drawn.
"""

from __future__ import annotations

import streamlit as st

from lightnets.figures.style import PRESENT_SCALE
from lightnets.i18n import _
from ui.widgets import pin

PARAM = "present"
_KEY = "ui.present"
_ON = ("1", "true", "yes", "on")

# rem-based text follows the root size; the main column drops Streamlit's side padding and width cap
CSS = f"""<style>
html {{ font-size: {100 * PRESENT_SCALE:g}% !important; }}
[data-testid="stMainBlockContainer"] {{ max-width: none !important; padding-left: 2rem !important;
  padding-right: 2rem !important; }}
</style>"""


def presenting() -> bool:
    """True when this session is in projector mode."""
    return bool(st.session_state.get(_KEY, False))


def figure_scale() -> float:
    """The ``scale`` for the HTML and SVG drawings of lightnets.figures: PRESENT_SCALE in projector mode."""
    return PRESENT_SCALE if presenting() else 1.0


def start_presentation() -> bool:
    """Called by app.py at the top of every run: the mode from the link on the session's first run, the toggle
    after that; the page's CSS; ``present=1`` kept in the URL (page switches and the sidebar's URL sync leave it).
    Returns whether the session presents."""
    if _KEY not in st.session_state:
        st.session_state[_KEY] = str(st.query_params.get(PARAM, "")).lower() in _ON
    pin(_KEY)
    with st.sidebar:
        st.toggle(_("Projector mode"), key=_KEY,
                  help=_("Large text and charts for a projector at the back of a room; the link keeps it "
                         "(present=1). The « button at the top of the sidebar hides the sidebar."))
    if presenting():
        st.html(CSS)
        if st.query_params.get(PARAM) != "1":
            st.query_params[PARAM] = "1"
    elif PARAM in st.query_params:
        del st.query_params[PARAM]
    return presenting()
