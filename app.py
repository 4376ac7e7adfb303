"""LightNets Explorer: `streamlit run app.py`.

The entrypoint runs on every rerun of every page: it sets up the page, draws the shared sidebar (here, so that
its widgets keep their values across page switches) and then runs the chosen page.

The order is planned for a cold start, where importing torch takes about two seconds: the page's title and
explanation come first (``ui`` does not import torch), then the process's one warm-up (``ui.warmup``: the first
sessions of a fresh server wait there together instead of racing on lazy imports), then the sidebar (which needs
the model registry, hence torch), then the page. Home needs no selection, so its whole content comes before the
sidebar.
"""

import streamlit as st

import ui

ui.page_config()  # before st.navigation, or the browser takes the page's :material/…: icon from fonts.gstatic.com
page = st.navigation(ui.navigation_pages())
ui.begin_run()
ui.start_presentation()  # projector mode (?present=1): before anything is drawn
try:
    ui.lead(page)
    ui.warmup()  # once per process, before any session draws what the libraries initialise lazily
    if ui.selection_first(page):
        ui.sidebar()
    page.run()
    ui.sidebar()  # a no-op where it was drawn above
finally:
    ui.end_run()
