import streamlit as st

st.title("Latency")
st.info("Latency measurement is being built (issue 6).")
