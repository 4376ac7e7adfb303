import streamlit as st

import ui

selection = ui.sidebar()
st.title("home")
st.write(selection)
