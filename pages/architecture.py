import streamlit as st

import ui

selection = ui.sidebar()
st.title("architecture")
st.write(selection)
