import streamlit as st

import ui

selection = ui.sidebar()
st.title("cost")
st.write(selection)
