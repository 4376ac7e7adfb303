"""Predict: a model with real pretrained weights on an uploaded image or a sample photo; top-5, the input as the
model sees it, the inference time and one layer's feature maps."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

import lightnets
import ui
from lightnets.figures import predict as figures
from lightnets.formatting import clip
from lightnets.i18n import _

IMAGE_MB = 20  # = lightnets.prediction.MAX_IMAGE_BYTES, enforced by load_image
CHECKPOINT_MB = 64  # = lightnets.weights.MAX_CHECKPOINT_BYTES = the server-wide limit in .streamlit/config.toml
# The uploaders take any file up to the server-wide limit and leave the checks to lightnets: a file the browser
# refuses itself (wrong type, over the widget's limit) never reaches the server, so the page could neither say
# why nor clear the previous photo's prediction, which stayed on screen as if it belonged to the refused file.
UPLOAD_MB = CHECKPOINT_MB
OWN = "your checkpoint"


@st.cache_resource(max_entries=2, show_spinner=False)
def _own_model(config: lightnets.Config, digest: str, _data: bytes) -> Any:
    """The user's checkpoint in the sidebar's configuration (keyed by the file's hash, not its bytes)."""
    return lightnets.load_weights(config, _data)


def image_input() -> tuple[Any, str | None]:
    """The uploaded photo's bytes (or the chosen sample's path), with the uploaded file's name (None: a sample)."""
    st.subheader("Image")
    upload = st.file_uploader(_("Upload a photo (JPEG, PNG, WebP, BMP or GIF, up to {mb} MB)").format(mb=IMAGE_MB),
                              max_upload_size=UPLOAD_MB, key="predict.upload")
    samples = lightnets.sample_images()
    sample = st.selectbox("…or use a sample photo", list(samples), key="predict.sample", disabled=upload is not None,
                          help="Public-domain and Creative Commons photos shipped with the project "
                               "(lightnets/data/samples/README.md).")
    if upload is None:
        return samples[sample], None
    return upload.getvalue(), upload.name


def own_checkpoint(selection: ui.Selection) -> tuple[Any, str] | None:
    """The user's checkpoint loaded into the sidebar's configuration, with the file's hash; or None."""
    status = None if selection.config is None else lightnets.weights_available(selection.config)
    with st.expander("Your own weights for the sidebar's configuration",
                     expanded=status is not None and not status and status.checkpoint is None):
        if status is not None and not status:
            st.caption(f"{selection.config.title}: {status.reason}.")
        own_file = st.file_uploader("A .pth/.pt state_dict saved with torch.save(model.state_dict(), …)",
                                    max_upload_size=UPLOAD_MB, key="predict.checkpoint")
    if own_file is None or selection.config is None:
        return None
    data = own_file.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    try:
        model = _own_model(selection.config.architecture, digest, data)
    except ValueError as err:
        refused(own_file.name, err)
        return None
    return model, digest


def model_choice(selection: ui.Selection) -> tuple[str, Any] | None:
    """(the chosen option, the model to run), or None when nothing can predict."""
    st.subheader("Model and weights")
    choice_slot, unavailable_slot = st.container(), st.container()  # filled below, once the uploads are known
    available, unavailable = lightnets.weights_choices()
    options: dict[str, Any] = dict(available)
    own = own_checkpoint(selection)
    follow = None  # an option to select for the user: their new checkpoint, or the sidebar's new choice
    if own is not None:
        own_label = f"{selection.config.title} — {OWN}"
        options = {own_label: own[0], **options}
        if st.session_state.get("predict.own_digest") != own[1]:
            st.session_state["predict.own_digest"] = own[1]
            follow = own_label
    if st.session_state.get("predict.sidebar") != selection.config:
        st.session_state["predict.sidebar"] = selection.config
        follow = follow or next((label for label, cfg in available.items()
                                 if selection.config is not None and cfg == selection.config.architecture), None)
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
        return None
    target = options[choice]
    if isinstance(target, lightnets.Config):
        with st.spinner("Loading the weights (a torchvision checkpoint is downloaded once into torch's cache)…"):
            target = ui.attempt(lightnets.pretrained_model, target)
    return (choice, target) if target is not None else None


def show_prediction(selection: ui.Selection, model: Any, prediction: Any, follows_sidebar: bool) -> None:
    left, right = st.columns(2)
    with left:
        ui.chart(figures.model_input(prediction), key="predict.input")
        pre = prediction.preprocess
        st.caption(f"Shorter side resized to {pre.resize} px ({pre.interpolation}), centre crop {pre.crop}×"
                   f"{pre.crop}, then normalised per channel with mean {tuple(round(m, 3) for m in pre.mean)} and "
                   f"std {tuple(round(s, 3) for s in pre.std)} (the recipe of these weights). "
                   + (f"Input size from the sidebar's ρ = {selection.rho:.3g}." if follows_sidebar else
                      "Pick this architecture in the sidebar to change the input size with ρ."))
    with right:
        st.metric("inference time (one image, CPU)", f"{prediction.seconds * 1000:.0f} ms")
        ui.chart(figures.topk_bars(prediction), key="predict.topk")
        st.caption(f"Weights: {prediction.weights}. Probabilities are the softmax over the 1000 ImageNet classes.")


def show_feature_maps(model: Any, prediction: Any) -> None:
    st.header("Feature maps")
    st.markdown("What one block computes from this image: each small image is one output channel, brighter where "
                "the channel responds more. Early layers respond to edges and colours, later ones to parts and "
                "textures at lower resolution.")
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


def refused(file_name: str, err: Exception) -> None:
    """An uploaded file that cannot be used: say so in the main area, naming the file (as plain text, cut short)."""
    ui.error(_("{file}: {reason}").format(file=clip(file_name), reason=str(err).splitlines()[0]))


selection = ui.sidebar()
image_col, model_col = st.columns(2)
with image_col:
    source, upload_name = image_input()
with model_col:
    chosen = model_choice(selection)
try:
    image = lightnets.load_image(source)
except ValueError as err:  # the previous photo's prediction goes too: nothing below is drawn
    image = None
    if upload_name is None:
        ui.error(err)
    else:
        refused(upload_name, err)
if chosen is None or image is None:
    st.stop()
label, model = chosen
# the sidebar's input size applies where the chosen weights are the sidebar's architecture
follows_sidebar = selection.config is not None and getattr(model, "config", None) == selection.config.architecture
prediction = ui.attempt(lightnets.predict, model, image, 5, selection.resolution if follows_sidebar else None)
if prediction is None:
    st.stop()
show_prediction(selection, model, prediction, follows_sidebar)
show_feature_maps(model, prediction)
