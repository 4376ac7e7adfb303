"""The peer the explorer's page times are compared with: the smallest useful Streamlit app (a title, a sidebar
slider, a metric). benchmarks/classroom.py serves it beside the explorer in the same run."""

import streamlit as st

st.title("Trivial app")
x = st.sidebar.slider("width multiplier", 0.25, 2.0, 1.0, 0.05)
st.metric("params", f"{10 * x:.2f} M")
