"""LightNets Explorer: `streamlit run app.py`.

The entrypoint runs on every rerun of every page: it sets up the page, draws the shared sidebar (here, so that
its widgets keep their values across page switches) and then runs the chosen page.

The language is set first of all (the sidebar's switch, the link's ``lang``, or the browser's language), so that
everything drawn after it, the navigation included, is in that language.

The order is planned for a cold start, where importing torch takes about two seconds: the page's title and
explanation come first (``ui`` does not import torch), then the process's one warm-up (``ui.warmup``: the first
sessions of a fresh server wait there together instead of racing on lazy imports), then the sidebar (which needs
the model registry, hence torch), then the page. Home needs no selection and draws nothing that initialises
lazily, so its whole content comes before the warm-up and the sidebar.
"""

import streamlit as st

import ui

ui.page_config()  # before st.navigation, or the browser takes the page's :material/…: icon from fonts.gstatic.com
ui.start_language()  # this run's language, before anything is drawn (sessions are threads; page titles translated)
page = st.navigation(ui.navigation_pages())
ui.begin_run()
ui.start_presentation()  # projector mode (?present=1): before anything is drawn
try:
    ui.lead(page)
    if ui.selection_first(page):
        ui.warmup()  # once per process, before any session draws what the libraries initialise lazily
        ui.sidebar()
    page.run()
    ui.warmup()  # Home: after its table, which needs neither torch nor plotly (a no-op once warmed)
    ui.sidebar()  # a no-op where it was drawn above
finally:
    ui.end_run()
