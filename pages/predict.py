import streamlit as st

st.title("Predict")
st.info("Predictions with pretrained weights are being built (issue 4).")
