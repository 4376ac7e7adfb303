"""Any configuration as a file to take away: ONNX (for Netron, onnxruntime or a phone runtime) and a state_dict
as ``.safetensors`` (tensors only: the safe format, nothing in it can run on load).

ONNX comes from ``torch.onnx.export(..., dynamo=True)``, whose optimiser folds every BatchNorm that follows a conv
into the conv's weight and bias (an eval-mode BN is a per-channel affine map), so the file has fewer parameters
than the PyTorch model. The exporter writes each node's Python stack trace into its metadata, which holds this
server's file paths; it is removed. Exporting a 224-px MobileNet V2 takes about 15 s on 2 cores, so files are
cached per configuration, and two sessions asking for the same file at once export it once (the second waits for
the first; nobody else waits: no lock that a profile or a slider rerun needs is held meanwhile).
"""

from __future__ import annotations

import copy
import json
import logging
import statistics
import threading
import time
import warnings
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch
from torch import nn

from lightnets.i18n import _
from lightnets.registry import Config, build

__all__ = ["STRIPPED_METADATA", "export_onnx", "export_safetensors", "export_progress", "exported_model", "is_exported",
           "start_export", "strip_metadata"]

# node metadata the exporter writes that must not leave the server: Python stack traces (absolute file paths)
STRIPPED_METADATA = frozenset({"pkg.torch.onnx.stack_trace"})
OPSET = 18
INPUT_NAME, OUTPUT_NAME = "image", "logits"
_CACHE_SIZE = 16

_lock = threading.Lock()  # guards the two dicts below only, for microseconds; never held while exporting
_done: OrderedDict[tuple, bytes] = OrderedDict()
_running: dict[tuple, Future] = {}
# torch.export traces with process-wide switches (dynamo's config, the fake-tensor mode): one export at a time.
# Only exports wait for it.
_export_lock = threading.Lock()


def exported_model(config: Config, pretrained: bool = False) -> nn.Module:
    """The module that is exported: the configuration built in eval mode, with its published weights if
    ``pretrained`` (a ``WeightsError`` says why there are none)."""
    if pretrained:
        from lightnets.prediction import pretrained_model

        # a copy: the cached model serves other sessions' predictions while this one is traced
        return copy.deepcopy(pretrained_model(config)).eval()
    # the same random weights every time (the same file for the same configuration), without touching the
    # process's random state, which other sessions use
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build(config).eval()
        _randomize_statistics(model)
    return model


def _randomize_statistics(model: nn.Module) -> None:
    # Fresh BatchNorms are the identity (γ = 1, β = 0, μ = 0, σ² = 1), so folding them would give all-zero conv
    # biases, which the optimiser then drops, and fresh PReLU slopes are all 0.25, so the optimiser merges equal
    # ones into one constant: random values keep the file's structure that of trained weights.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.PReLU):
                module.weight.uniform_(0.1, 0.4)
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                if module.affine:
                    module.weight.uniform_(0.5, 1.5)
                    module.bias.normal_(0.0, 0.1)


def strip_metadata(model: Any) -> int:
    """Remove ``STRIPPED_METADATA`` from every node of an ``onnx.ModelProto`` (graph, subgraphs, functions), in
    place; returns how many entries were removed."""
    removed = 0

    def clean(graph: Any) -> None:
        nonlocal removed
        for node in graph.node:
            keep = [p for p in node.metadata_props if p.key not in STRIPPED_METADATA]
            if len(keep) != len(node.metadata_props):
                removed += len(node.metadata_props) - len(keep)
                del node.metadata_props[:]
                node.metadata_props.extend(keep)
            for attr in node.attribute:
                if attr.HasField("g"):
                    clean(attr.g)
                for sub in attr.graphs:
                    clean(sub)

    clean(model.graph)
    for function in model.functions:
        clean(function)
    return removed


def _export(config: Config, pretrained: bool) -> bytes:
    model = exported_model(config, pretrained)
    x = torch.zeros(1, 3, config.resolution, config.resolution)
    with _export_lock, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        # the exporter logs a line per torchvision op it cannot register (torchvision is not a dependency)
        quiet = logging.getLogger("torch.onnx._internal.exporter._registration")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            program = torch.onnx.export(model, (x,), dynamo=True, opset_version=OPSET, input_names=[INPUT_NAME],
                                        output_names=[OUTPUT_NAME], optimize=True, verbose=False)
        except Exception as err:  # the exporter raises many kinds; the user gets one line
            raise ValueError(_("{model} could not be exported to ONNX: {reason}").format(
                model=config.describe(), reason=str(err).strip().splitlines()[0] if str(err).strip() else
                type(err).__name__)) from None
        finally:
            quiet.setLevel(level)
    proto = program.model_proto
    strip_metadata(proto)
    proto.producer_name = "lightnets"
    proto.doc_string = config.describe()
    del proto.metadata_props[:]
    for key, value in (("lightnets.model", config.name),
                       ("lightnets.knobs", json.dumps(dict(config.knobs), sort_keys=True)),
                       ("lightnets.resolution", str(config.resolution)),
                       # the paper's stages of the Block rows, which the module paths do not carry
                       ("lightnets.stages", json.dumps({b.path: b.stage for b in config.blocks if b.stage})),
                       ("lightnets.weights", "pretrained" if pretrained else "random (seed 0)")):
        proto.metadata_props.add(key=key, value=value)
    # one self-contained file: every initializer inside the protobuf (no external-data side files)
    return proto.SerializeToString()


def export_onnx(config: Config, pretrained: bool = False) -> bytes:
    """The configuration as one self-contained ONNX file (opset 18, batch 1 at its resolution, input ``image``,
    output ``logits``), BatchNorm folded into the convs by the exporter's optimiser, stack traces stripped.

    Random weights (seeded) unless ``pretrained``. Cached per (configuration, weights); thread-safe: a second
    caller for the same file waits for the first export instead of starting another. ``ValueError`` with one
    line if the exporter fails.
    """
    key = (config, bool(pretrained))
    with _lock:
        if key in _done:
            _done.move_to_end(key)
            return _done[key]
        future = _running.get(key)
        owner = future is None
        if owner:
            future = _running[key] = Future()
    if not owner:
        return future.result()
    with _lock:
        began = _started.setdefault(key, time.monotonic())
    try:
        data = _export(config, pretrained)
    except BaseException as err:
        with _lock:
            del _running[key]
            _started.pop(key, None)
        future.set_exception(err)
        raise
    with _lock:
        _seconds_per_row.append((time.monotonic() - began) / max(1, len(config.blocks)))
        del _seconds_per_row[:-20]
        _started.pop(key, None)
        _done[key] = data
        while len(_done) > _CACHE_SIZE:
            _done.popitem(last=False)
        del _running[key]
    future.set_result(data)
    return data


_started: dict[tuple, float] = {}  # when each running export began (time.monotonic)
_seconds_per_row: list[float] = [0.6]  # measured exports, for progress estimates (MobileNet V2: ~13 s / 22 rows)
_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onnx-export")


def start_export(config: Config, pretrained: bool = False) -> Future:
    """``export_onnx(config, pretrained)`` in a background thread; a page polls the future (and
    ``export_progress``) to show a progress bar instead of waiting inside a call."""
    key = (config, bool(pretrained))
    with _lock:
        if key in _done:
            ready: Future = Future()
            ready.set_result(_done[key])
            return ready
        if key in _running:
            return _running[key]
        _started.setdefault(key, time.monotonic())
    return _background.submit(export_onnx, config, pretrained)


def export_progress(config: Config, pretrained: bool = False) -> float:
    """An estimate from 0 to 1 of how far a running export is (1 once done), from the seconds per Block row that
    earlier exports took; never 1 before the export has finished."""
    key = (config, bool(pretrained))
    with _lock:
        if key in _done:
            return 1.0
        began = _started.get(key)
    if began is None:
        return 0.0
    expected = statistics.median(_seconds_per_row) * max(1, len(config.blocks))
    return min(0.95, (time.monotonic() - began) / expected)


def is_exported(config: Config, pretrained: bool = False) -> bool:
    """Whether ``export_onnx(config, pretrained)`` would answer at once (the file is cached)."""
    with _lock:
        return (config, bool(pretrained)) in _done


def export_safetensors(config: Config, pretrained: bool = False) -> bytes:
    """The configuration's state_dict (weights and BatchNorm statistics, not folded) as ``.safetensors`` bytes,
    loadable with ``lightnets.load_weights(config, data)`` or ``safetensors.torch.load``; the configuration is
    in the header's metadata."""
    from safetensors.torch import save

    model = exported_model(config, pretrained)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    metadata = {"lightnets.model": config.name, "lightnets.knobs": json.dumps(dict(config.knobs), sort_keys=True),
                "lightnets.resolution": str(config.resolution)}
    return save(state, metadata=metadata)
