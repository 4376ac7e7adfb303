"""Download a configuration as ONNX or as a .safetensors state_dict. The ONNX export (seconds) runs in a
background thread of lightnets.export while this session shows a progress bar; other sessions never wait for it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import streamlit as st

import lightnets
from lightnets.formatting import format_value
from lightnets.i18n import _
from ui.widgets import error as show_error

if TYPE_CHECKING:
    from lightnets.registry import Config


def _file_stem(config: Config) -> str:
    knobs = "_".join(f"{k}-{format_value(v)}" for k, v in config.knobs.items())
    return "_".join(p for p in (config.name, knobs, f"{config.resolution}px") if p).replace(".", "p")


def prepare_onnx(config: Config, pretrained: bool, key: str) -> bytes | None:
    """The configuration's ONNX file: at once when cached, else exported in the background while a progress bar
    runs here (only this session waits); None after showing why the export failed."""
    from lightnets import export

    if export.is_exported(config, pretrained):
        return export.export_onnx(config, pretrained)
    future = export.start_export(config, pretrained)
    bar = st.progress(0.0, text=_("exporting to ONNX …"))
    start = time.monotonic()
    while not future.done():
        bar.progress(export.export_progress(config, pretrained), text=_(
            "exporting to ONNX … {seconds:.0f} s").format(seconds=time.monotonic() - start))
        time.sleep(0.25)
    bar.empty()
    try:
        return future.result()
    except ValueError as err:
        show_error(err)
        return None


def export_panel(config: Config, key: str) -> None:
    """Download buttons for ``config``: ONNX (prepared on a button, with a progress bar) and safetensors."""
    from lightnets import export

    st.markdown(_("Take this configuration away: **ONNX** opens in Netron, onnxruntime or a phone runtime; "
                  "**safetensors** is the state_dict in the safe format (tensors only, nothing in it can run on "
                  "load), readable by the Predict page. In the ONNX file BatchNorm is folded into the convolutions "
                  "by the exporter's optimiser, so it has fewer parameters than the PyTorch model; the exporter's "
                  "stack traces (this server's file paths) are removed."))
    status = lightnets.weights_available(config)
    pretrained = False
    if status:
        pretrained = st.toggle(_("with the published ImageNet weights"), value=True, key=f"{key}.pretrained",
                               help=_("Off: random weights (seed 0), for looking at the structure."))
    else:
        st.caption(_("Random weights (seed 0): this configuration has no published weights here."))
    stem = _file_stem(config) + ("_imagenet" if pretrained else "")
    onnx_col, st_col = st.columns(2)
    with onnx_col:
        if export.is_exported(config, pretrained):
            st.download_button(_("Download ONNX"), lambda: export.export_onnx(config, pretrained),
                               file_name=f"{stem}.onnx", mime="application/octet-stream", key=f"{key}.onnx",
                               icon=":material/download:", on_click="ignore")
        elif st.button(_("Prepare the ONNX file"), key=f"{key}.prepare", icon=":material/build:",
                       help=_("torch.onnx.export with dynamo=True: about 15 s for a 224-px MobileNet V2 on 2 cores. "
                              "The file is kept for everyone who asks for this configuration again.")):
            if prepare_onnx(config, pretrained, key) is not None:
                st.rerun()
    with st_col:
        st.download_button(_("Download safetensors"), lambda: export.export_safetensors(config, pretrained),
                           file_name=f"{stem}.safetensors", mime="application/octet-stream", key=f"{key}.st",
                           icon=":material/download:", on_click="ignore")
