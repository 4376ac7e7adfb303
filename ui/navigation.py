"""Navigation: the one table of pages (the sidebar's links, each page's title and explanation, and Home's list of
pages all read it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from lightnets.i18n import N_
from ui.widgets import intro


# The page icon ships with the app (a 64 px PNG: a hub of blocks). A :material/…: icon as the page icon makes
# every browser fetch it from fonts.gstatic.com: an outside request from every page, failing offline.
ICON = str(Path(__file__).parent / "icon.png")


@dataclass(frozen=True)
class PageInfo:
    """One page of the app. app.py draws ``heading`` and ``intro`` before the sidebar, so they are on screen
    before torch is imported (about two seconds on a cold start); a page without ``intro`` draws its own."""

    path: str
    title: str  # in the navigation
    icon: str
    heading: str = ""  # the page title; ``title`` when empty
    intro: str = ""  # 2–3 plain sentences on what the page shows
    selection_first: bool = True  # False: the page needs no selection, and app.py draws the sidebar after it
    summary: str = ""  # one sentence for Home's list of pages


PAGES = (
    PageInfo("pages/home.py", "Home", ":material/home:", "LightNets Explorer",
             "Lightweight CNNs trade a little accuracy for a lot less computation. Pick an architecture in the "
             "sidebar and turn its knobs (width multiplier α, resolution multiplier ρ, groups, expansion) to see "
             "how its structure, cost and speed follow. The table compares every model at its paper's default "
             "setting.", selection_first=False),
    PageInfo("pages/architecture.py", "Architecture", ":material/account_tree:", "Architecture",
             "The whole network as a graph, drawn from the same block table that builds the model: stem → "
             "stages → head, one box per block (identical repeats folded into “× n”), coloured by block kind, "
             "with the tensor shape channels × height × width on every arrow at the current α and ρ. The second "
             "tab draws the inside of any block; beside both, what to look for in this family.",
             summary="The block graph: stem → stages → head, each node a block with its settings and each edge the "
                     "tensor shape; what to look for in the family; the inside of any block."),
    PageInfo("pages/channel_shuffle.py", "Channel shuffle", ":material/shuffle:", "Channel shuffle",
             "A group convolution splits its channels into g groups and filters each group on its own, which "
             "divides its cost by g, but stacked group convs would then never mix information across groups. "
             "ShuffleNet fixes this with a free channel shuffle: view the channels as a (g, n) grid, transpose "
             "it, and read it back. Press play and follow any one cell.",
             summary="ShuffleNet's channel shuffle, animated: why stacked group convolutions need it, and ShuffleNet "
                     "V2's split → branch → concat → shuffle."),
    PageInfo("pages/cost.py", "Cost", ":material/bar_chart:", "Cost",
             "What the current configuration costs, computed exactly from its layer shapes: parameters, "
             "multiply-adds (MACs) and the bytes every layer moves. Move a knob in the sidebar and every figure "
             "follows at once; latency is the one figure that must be measured, so it waits for a button.",
             summary="Params, MACs, memory traffic and size of the current configuration, per layer and along every "
                     "knob; the depthwise-separable saving; accuracy against cost across families."),
    PageInfo("pages/latency.py", "Latency", ":material/timer:",  # draws its own title and explanation
             summary="Latency measured on this machine: where time goes, and why MACs are not time."),
    PageInfo("pages/experiments.py", "Experiments", ":material/science:", "Experiments",
             N_("The chapter's claims, tested on this machine: pick an experiment, read the paper's claim and how "
                "it is tested, press Run and watch it measure. The result stands beside the paper's figures, with a "
                "verdict computed from the measurement: it holds here, it does not (and why), or the machine was "
                "too busy to say."),
             summary=N_("The chapter's claims run live: ShuffleNet V2's four guidelines, MobileNetV3's redesigned "
                        "layers and h-swish, SqueezeNet's savings, the linear bottleneck — each with a verdict.")),
    PageInfo("pages/compare.py", N_("Compare"), ":material/compare_arrows:", N_("Compare"),
             N_("Two configurations side by side: A and B can be any two models, or one model with two knob "
                "settings. Their totals and the ratio B/A, where the multiply-adds go, both block graphs, the cost "
                "stage by stage, latency measured in alternation (so a busy machine slows both alike) and the "
                "top-5 of both on the same photo. The link keeps both, so it can be shared."),
             summary=N_("Two configurations side by side: totals and ratio B/A, both block graphs, per-stage cost, "
                        "latency measured in alternation, top-5 of both.")),
    PageInfo("pages/own_model.py", N_("Your model"), ":material/upload_file:", N_("Your own model, as ONNX"),
             N_("Open a model of your own, exported to ONNX, with the views a registered model has: its block "
                "graph with tensor shapes, params, multiply-adds and memory traffic per layer counted as the Cost "
                "page counts them, latency with onnxruntime on this server, and its top-5 on a photo if it is an "
                "ImageNet classifier. The file is only parsed, never executed."),
             summary=N_("Upload an ONNX model: block graph, per-layer cost, onnxruntime latency, top-5.")),
    PageInfo("pages/predict.py", "Predict", ":material/image_search:", "Predict",
             "Run a network with real ImageNet weights on a photo. On the left is the image exactly as the "
             "network receives it (resized and centre-cropped the way its weights were trained); on the right, "
             "the five classes it finds most likely, with softmax probabilities and the time one forward pass "
             "took on this server. Configurations without published weights can use a checkpoint of your own.",
             summary="Run a model with real pretrained weights on your own photo."),
)
_BY_TITLE = {info.title: info for info in PAGES}


def page_config() -> None:
    """The app's title, icon and layout. Called before any ``st.navigation``: until a page config names an icon,
    the browser takes the current page's own icon as the tab's, and a :material/…: icon comes from
    fonts.gstatic.com (an outside request, failing offline)."""
    st.set_page_config(page_title="LightNets Explorer", page_icon=ICON, layout="wide")


def navigation_pages() -> list[st.Page]:
    return [st.Page(info.path, title=info.title, icon=info.icon, default=i == 0) for i, info in enumerate(PAGES)]


def page_info(path: str) -> PageInfo:
    return next(info for info in PAGES if info.path == path)


def lead(page: Any) -> None:
    """The page's title and explanation (nothing when the page draws its own): the first paint, torch-free."""
    info = _BY_TITLE.get(page.title)
    if info is not None and info.intro:
        intro(info.heading or info.title, info.intro)


def selection_first(page: Any) -> bool:
    """Whether the page needs the sidebar's selection before its content (all but Home)."""
    info = _BY_TITLE.get(page.title)
    return info is None or info.selection_first
