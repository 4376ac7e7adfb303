"""LightNets: lightweight CNNs as configurable PyTorch models, with exact cost profiles.

This is the public API; the Streamlit app and the CLI use nothing else. Names are imported lazily so that
``import lightnets`` stays fast and a page only pays for what it uses.

A configuration is made once and passed everywhere::

    cfg = lightnets.config("mobilenet_v2", 160, alpha=0.75)
    lightnets.profile(cfg).macs, lightnets.block_graph(cfg), lightnets.measure_latency(cfg, threads=2)
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    # registry
    "Block": "registry", "Knob": "registry", "ModelSpec": "registry", "Reference": "registry",
    "Config": "registry", "Knobs": "registry", "config": "registry", "parse_knobs": "registry",
    "list_models": "registry", "spec": "registry", "blocks": "registry", "build": "registry",
    # cost model
    "Profile": "cost", "LayerCost": "cost", "BlockCost": "cost", "profile": "cost",
    # block graph and channel-shuffle animation data
    "block_graph": "graph", "block_inner_graph": "graph", "block_choices": "graph", "model_summary": "graph",
    "BLOCK_KIND_COLORS": "graph",
    "shuffle_frames": "shuffle", "group_visibility": "shuffle", "split_shuffle_frames": "shuffle",
    "valid_groups": "shuffle", "valid_channels": "shuffle", "ShuffleAnimation": "shuffle", "ShuffleFrame": "shuffle",
    # latency and deployment
    "measure_latency": "latency", "layer_latency": "latency", "optimize_for_inference": "latency",
    "predict_latency": "latency", "fold_batchnorm": "latency", "LatencyResult": "latency",
    "LayerLatency": "latency", "LatencyPrediction": "latency", "LatencyTable": "latency",
    "latency_report": "latency", "LatencyReport": "latency", "measure_interleaved": "latency",
    "Interleaved": "latency",
    # weights and prediction
    "weights_available": "weights", "load_weights": "weights", "load_image": "prediction", "predict": "prediction",
    "Prediction": "prediction", "ImageError": "prediction",
    "WeightsError": "weights", "WeightsStatus": "weights", "Checkpoint": "weights", "checkpoints": "weights",
    "find_checkpoint": "weights", "read_checkpoint": "weights", "weights_table": "weights", "WeightsRow": "weights",
    "weights_choices": "weights",
    # export, your own ONNX model, two configurations compared
    "export_onnx": "export", "export_safetensors": "export", "read_safetensors": "weights",
    "read_onnx": "onnx_model", "OnnxModel": "onnx_model", "OnnxError": "onnx_model",
    "onnx_block_graph": "onnx_model", "onnx_latency": "onnx_model", "onnx_predict": "onnx_model",
    # experiments: the chapter's claims, measured here
    "list_experiments": "experiments", "experiment": "experiments", "run_experiment": "experiments",
    "Experiment": "experiments", "Outcome": "experiments", "Finding": "experiments",
    "sample_images": "prediction", "imagenet_labels": "prediction", "pretrained_model": "prediction",
    "feature_layers": "prediction", "feature_maps": "prediction",
    # serving many sessions from one process
    "warmup": "runtime",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        from lightnets.i18n import _

        raise AttributeError(_("module 'lightnets' has no attribute {name!r}").format(name=name))
    value = getattr(importlib.import_module(f"lightnets.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
