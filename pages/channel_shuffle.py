import streamlit as st

import ui

selection = ui.sidebar()
st.title("channel_shuffle")
st.write(selection)
