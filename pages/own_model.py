"""Your own model: an uploaded ONNX file shown with the views of a registered model — block graph, shapes,
per-layer cost, latency with onnxruntime and top-5 on a photo."""

from __future__ import annotations

import streamlit as st

import lightnets
import ui
from lightnets import onnx_model
from lightnets.figures import cost as cost_figures
from lightnets.figures import predict as predict_figures
from lightnets.formatting import format_bytes, format_count
from lightnets.i18n import _
from ui.export import prepare_onnx

ONNX_MB = 64  # = lightnets.onnx_model.MAX_ONNX_BYTES
IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif"]

selection = ui.sidebar()
source_col, size_col = st.columns([3, 1])
with source_col:
    # every extension is let through to lightnets, which refuses pickles with the reason (Streamlit's own filter
    # would only say "file type not allowed")
    upload = st.file_uploader(_("An ONNX model (.onnx, at most {mb} MB)").format(mb=ONNX_MB),
                              type=["onnx", "pt", "pth", "pt2", "safetensors"], max_upload_size=ONNX_MB,
                              key="own.upload")
with size_col:
    size = st.number_input(_("dynamic height/width (px)"), min_value=32, max_value=1024, value=224, step=8,
                           key="own.size", help=_("Used only where the model's input size is dynamic."))
use_sidebar = False
if upload is None and selection.config is not None:
    st.caption(_("No file at hand? Export the sidebar's configuration and open it here, as a file from any other "
                 "tool would be opened."))
    use_sidebar = st.toggle(_("open the sidebar's {model} as ONNX").format(model=selection.config.describe()),
                            key="own.sidebar")

data, filename = None, None
if upload is not None:
    data, filename = upload.getvalue(), upload.name
elif use_sidebar:
    data = prepare_onnx(selection.config, False, "own.export")
    filename = f"{selection.config.name}.onnx"
if data is None:
    st.info(_("Upload a model exported to ONNX, e.g. with torch.onnx.export(model.eval(), (torch.randn(1, 3, 224, "
              "224),), \"model.onnx\", dynamo=True, external_data=False). PyTorch pickles (.pt, .pth, .pt2) are "
              "refused: loading one can run code."))
    st.stop()

model = ui.attempt(onnx_model.read_onnx, data, filename, int(size))
if model is None:
    st.stop()
for problem in model.problems:
    ui.widgets.warning(problem)
for note in model.notes:
    st.caption(note)
p = model.profile
shape_in = "×".join(map(str, model.input_shape)) if model.input_shape else "?"
shape_out = "×".join(map(str, model.output_shape)) if model.output_shape else "?"
st.caption(_("{name}: {size}, opset {opset}, made by {producer}; input {shape_in}, output {shape_out}; {nodes} "
             "nodes in {blocks} blocks.").format(name=model.name, size=format_bytes(model.size_bytes),
                                                 opset=model.opset, producer=model.producer or "?",
                                                 shape_in=shape_in, shape_out=shape_out, nodes=len(model.nodes),
                                                 blocks=len(model.blocks)))
cells = [(_("params"), format_count(p.params)), (_("MACs"), format_count(p.macs)),
         (_("memory access"), format_bytes(p.mem_bytes)), (_("element-wise ops"), format_count(p.elementwise_total))]
for column, (label, value) in zip(st.columns(4), cells):
    column.metric(label, value)
st.caption(_("Exactly: {params:,} params · {macs:,} MACs · {mem:,} bytes of memory access, counted as the Cost "
             "page counts them (MACs of convolutions and fully connected layers; BatchNorm folded by an exporter "
             "has no parameters of its own).").format(params=p.params, macs=p.macs, mem=p.mem_bytes))

VIEWS = [_("Block graph"), _("Inside a block"), _("Per layer"), _("Latency"), _("Predict")]
ui.restore("own.view", VIEWS)
graph_tab, inner_tab, layer_tab, latency_tab, predict_tab = st.tabs(VIEWS, key="own.view", on_change="rerun")
ui.remember("own.view")
if graph_tab.open:
    with graph_tab:
        dot = onnx_model.onnx_block_graph(model)
        st.graphviz_chart(dot, width="stretch")
        st.caption(_("One box per block — a module of the exported network, from the exporter's module paths "
                     "(pkg.torch.onnx.name_scopes) or the node names' prefixes — with identical repeats folded "
                     "into “× n” and the shape from ONNX shape inference on every arrow."))
        st.download_button(_("Download the graph (DOT)"), dot, file_name=f"{model.name}.dot",
                           mime="text/vnd.graphviz", key="own.dot")
if inner_tab.open:
    with inner_tab:
        paths = [b.path for b in model.blocks]
        labels = {b.path: b.label for b in model.blocks}
        ui.restore("own.block", paths)
        block = st.selectbox(_("block"), paths, key="own.block", format_func=lambda b: f"{b}: {labels[b]}")
        ui.remember("own.block")
        inner = ui.attempt(onnx_model.onnx_inner_graph, model, block)
        if inner is not None:
            st.graphviz_chart(inner, width="stretch")
if layer_tab.open:
    with layer_tab:
        if p.macs:
            ui.html(cost_figures.kind_share_html(p))
        st.dataframe(p.block_table(), hide_index=True, key="own.blocks")
        st.dataframe(p.table(), hide_index=True, key="own.layers")
if latency_tab.open:
    with latency_tab:
        st.markdown(_("onnxruntime on this server's CPU, batch 1, with its graph optimisations: time one run "
                      "after warm-up runs, repeated until the median is stable or about a second has passed."))
        if not model.runnable:
            st.info(_("This model cannot be run here: {reason}").format(
                reason=model.problems[0] if model.problems else "?"))
        elif st.button(_("Measure latency"), key="own.measure", icon=":material/timer:"):
            with st.spinner(_("measuring …")):
                result = ui.attempt(onnx_model.onnx_latency, model)
            if result is not None:
                st.session_state["own.latency"] = (model.digest, model.input_shape, result)
        kept = st.session_state.get("own.latency")
        if kept is not None and kept[:2] == (model.digest, model.input_shape):
            result = kept[2]
            left, right = st.columns(2)
            left.metric(_("median latency"), f"{result.median_ms:.2f} ms")
            right.metric(_("spread (p25–p75)"), f"{result.p25_ms:.2f}–{result.p75_ms:.2f} ms")
            st.caption(_("{runs} runs on {device}, {threads} threads, load average {load}.").format(
                runs=result.runs, device=result.device, threads=result.threads, load=result.load_average))
if predict_tab.open:
    with predict_tab:
        if not model.is_classifier:
            st.info(_("Top-5 needs an ImageNet classifier: one 1×3×H×W input and 1000 outputs (this model takes "
                      "{shape_in} and gives {shape_out}).").format(shape_in=shape_in, shape_out=shape_out))
        else:
            left, right = st.columns(2)
            with left:
                photo = st.file_uploader(_("A photo"), type=IMAGE_TYPES, max_upload_size=20, key="own.photo")
                samples = lightnets.sample_images()
                sample = st.selectbox(_("…or a sample photo"), list(samples), key="own.sample",
                                      disabled=photo is not None)
                keys = list(onnx_model.PREPROCESSING)
                pre = st.radio(_("preprocessing the model was trained with"), keys, key="own.pre",
                               format_func=lambda k: _(onnx_model.PREPROCESSING[k][0]))
            image = ui.attempt(lightnets.load_image, photo.getvalue() if photo is not None else samples[sample])
            prediction = None if image is None else ui.attempt(onnx_model.onnx_predict, model, image, pre)
            if prediction is not None:
                with left:
                    ui.chart(predict_figures.model_input(prediction), key="own.input")
                with right:
                    st.metric(_("inference time (one image, onnxruntime, CPU)"),
                              f"{prediction.seconds * 1000:.0f} ms")
                    ui.chart(predict_figures.topk_bars(prediction), key="own.topk")
