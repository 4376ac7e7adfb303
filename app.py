"""LightNets Explorer: `streamlit run app.py`.

The entrypoint runs on every rerun of every page: it sets up the page, draws the shared sidebar (here, so that
its widgets keep their values across page switches) and then runs the chosen page.
"""

import streamlit as st

import ui

st.set_page_config(page_title="LightNets Explorer", page_icon=":material/hub:", layout="wide")

page = st.navigation(ui.navigation_pages())
ui.begin_run()
try:
    ui.sidebar()
    page.run()
finally:
    ui.end_run()
