"""Predict: a model with real pretrained weights on an uploaded image or a sample photo; top-5, the input as the
model sees it, the inference time and one layer's feature maps."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

import lightnets
import ui
from lightnets.figures import predict as figures

IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif"]
IMAGE_MB = 20  # = lightnets.prediction.MAX_IMAGE_BYTES; the server-wide limit in .streamlit/config.toml is larger
CHECKPOINT_MB = 64  # = lightnets.weights.MAX_CHECKPOINT_BYTES


def _config_text(name: str, knobs: dict[str, Any]) -> str:
    inner = ", ".join(f"{k}={ui.format_value(v)}" for k, v in knobs.items())
    return f"{lightnets.spec(name).title} ({inner})" if inner else lightnets.spec(name).title


@st.cache_resource(max_entries=2, show_spinner=False)
def _own_model(name: str, knob_items: tuple, digest: str, _data: bytes) -> Any:
    """The user's checkpoint in the sidebar's configuration (keyed by the file's hash, not its bytes)."""
    return lightnets.load_weights(name, _data, **dict(knob_items))


selection = ui.sidebar()

# ---- the image -----------------------------------------------------------------------------------------------
image_col, model_col = st.columns(2)
with image_col:
    st.subheader("Image")
    upload = st.file_uploader("Upload a photo (JPEG, PNG, WebP, BMP or GIF)", type=IMAGE_TYPES,
                              max_upload_size=IMAGE_MB, key="predict.upload")
    samples = lightnets.sample_images()
    sample = st.selectbox("…or use a sample photo", list(samples), key="predict.sample", disabled=upload is not None,
                          help="Public-domain and Creative Commons photos shipped with the project "
                               "(lightnets/data/samples/README.md).")

# ---- the model -----------------------------------------------------------------------------------------------
with model_col:
    st.subheader("Model and weights")
    choice_slot, unavailable_slot = st.container(), st.container()  # filled below, once the uploads are known
    rows = lightnets.weights_table()
    options = {f"{label} — {status.checkpoint.source} weights": (name, knobs, "published")
               for label, name, knobs, status in rows if status}
    unavailable = {label: status.reason for label, _, _, status in rows if not status}

    sidebar_status = lightnets.weights_available(selection.name, **selection.knobs)
    with st.expander("Your own weights for the sidebar's configuration",
                     expanded=not sidebar_status and sidebar_status.checkpoint is None):
        if not sidebar_status:
            st.caption(f"{_config_text(selection.name, selection.knobs)}: {sidebar_status.reason}.")
        own_file = st.file_uploader("A .pth/.pt state_dict saved with torch.save(model.state_dict(), …)",
                                    type=["pth", "pt"], max_upload_size=CHECKPOINT_MB, key="predict.checkpoint")
    follow = None  # an option to select for the user: their new checkpoint, or the sidebar's new choice
    if own_file is not None and not selection.error:
        data = own_file.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        own = ui.attempt(_own_model, selection.name, tuple(sorted(selection.knobs.items())), digest, data)
        if own is not None:
            own_label = f"{_config_text(selection.name, selection.knobs)} — your checkpoint"
            options = {own_label: (selection.name, selection.knobs, "own"), **options}
            if st.session_state.get("predict.own_digest") != digest:
                st.session_state["predict.own_digest"] = digest
                follow = own_label
    if st.session_state.get("predict.sidebar") != selection.key:
        st.session_state["predict.sidebar"] = selection.key
        follow = follow or next((label for label, (n, k, _) in options.items()
                                 if (n, k) == (selection.name, selection.knobs)), None)
    if follow is not None or st.session_state.get("predict.model") not in options:
        st.session_state["predict.model"] = follow or next(iter(options), None)

    with choice_slot:
        if not options:
            st.error("No model can predict right now; the table below says why.")
        choice = st.selectbox("Model with pretrained weights", list(options), key="predict.model",
                              help="The configurations whose ImageNet weights can be used now. Pick the "
                                   "architecture in the sidebar to use ρ and your own checkpoint.")
    with unavailable_slot, st.expander(f"Models that cannot predict now ({len(unavailable)})",
                                       expanded=not options):
        st.dataframe({"model": list(unavailable), "why": list(unavailable.values())}, hide_index=True,
                     key="predict.unavailable", column_config={"why": st.column_config.TextColumn(width="large")})
    if not options:
        st.stop()
    name, knobs, source = options[choice]

# ---- predict ---------------------------------------------------------------------------------------------------
image = ui.attempt(lightnets.load_image, upload.getvalue() if upload is not None else samples[sample])
if image is None:
    st.stop()
same_as_sidebar = (name, knobs) == (selection.name, selection.knobs)
resolution = selection.resolution if same_as_sidebar else None
if source == "own":
    model = own
else:
    with st.spinner("Loading the weights (a torchvision checkpoint is downloaded once into torch's cache)…"):
        model = ui.attempt(lightnets.pretrained_model, name, **knobs)
if model is None:
    st.stop()
prediction = ui.attempt(lightnets.predict, model, image, 5, resolution)
if prediction is None:
    st.stop()

left, right = st.columns(2)
with left:
    ui.chart(figures.model_input(prediction), key="predict.input")
    pre = prediction.preprocess
    st.caption(f"Shorter side resized to {pre.resize} px ({pre.interpolation}), centre crop {pre.crop}×{pre.crop}, "
               f"then normalised per channel with mean {tuple(round(m, 3) for m in pre.mean)} and std "
               f"{tuple(round(s, 3) for s in pre.std)} (the recipe of these weights). "
               + (f"Input size from the sidebar's ρ = {selection.rho:.3g}." if same_as_sidebar else
                  "Pick this architecture in the sidebar to change the input size with ρ."))
with right:
    st.metric("inference time (one image, CPU)", f"{prediction.seconds * 1000:.0f} ms")
    ui.chart(figures.topk_bars(prediction), key="predict.topk")
    st.caption(f"Weights: {prediction.weights}. Probabilities are the softmax over the 1000 ImageNet classes.")

# ---- feature maps -----------------------------------------------------------------------------------------------
st.header("Feature maps")
st.markdown("What one block computes from this image: each small image is one output channel, brighter where "
            "the channel responds more. Early layers respond to edges and colours, later ones to parts and textures "
            "at lower resolution.")
layers = lightnets.feature_layers(model)
names = [path for path, _ in layers]
described = dict(layers)
fcol, ccol = st.columns([3, 1])
layer = fcol.selectbox("layer", names, index=len(names) // 6, key="predict.layer",  # early: recognisable
                       format_func=lambda path: f"{path} — {described[path]}")
channels = ccol.select_slider("channels shown", [4, 9, 16, 25, 36, 64], value=16, key="predict.channels")
maps = ui.attempt(lightnets.feature_maps, model, prediction.input, layer)
if maps is not None:
    ui.chart(figures.feature_grid(maps, layer, channels), key="predict.features")
