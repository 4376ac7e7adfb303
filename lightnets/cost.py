"""Exact per-layer cost of a model from tensor shapes alone: params, multiply-adds, element-wise work, memory traffic.

The model runs once on the ``meta`` device (tensors with shapes but no data) under a dispatch mode that sees
every ATen operator with its arguments. Nothing is computed on real weights, so a profile costs a few
milliseconds and can be redone on every slider move. Conventions, as in the papers:

* ``macs`` are multiply-accumulates of convolutions and fully connected layers only; a k×k conv with groups g
  costs k²·(C_in/g)·C_out·H_out·W_out. ``flops`` = 2·macs.
* element-wise work (batch norm, activations, SE scaling, residual adds, pooling, channel shuffle, concat) is
  reported separately, per kind, as the number of elements each op produces (pooling: elements it reads).
* memory access cost is the bytes each op reads (activations and weights) plus the bytes it writes, summed
  over ops: the "MAC" of the ShuffleNet V2 paper's guideline G1, at the model's dtype.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from lightnets.layers import ChannelShuffle
from lightnets.registry import Block, Network, build, spec

# conv kinds first, then everything else an op row can be
CONV_KINDS = ("dense", "pointwise", "depthwise", "group")
MAC_KINDS = CONV_KINDS + ("linear",)
ELEMENTWISE_KINDS = ("bn", "act", "add", "scale", "pool", "shuffle", "concat", "pad", "other")
OP_KINDS = MAC_KINDS + ELEMENTWISE_KINDS

_CONV_OPS = {"convolution", "conv2d", "_convolution"}
_LINEAR_OPS = {"addmm", "mm", "linear", "bmm"}
_BN_OPS = {"_native_batch_norm_legit_no_training", "_native_batch_norm_legit", "native_batch_norm",
           "batch_norm", "_batch_norm_impl_index", "cudnn_batch_norm"}
_ACT_OPS = {"relu", "relu_", "hardtanh", "hardtanh_", "hardswish", "hardswish_", "hardsigmoid", "hardsigmoid_",
            "sigmoid", "sigmoid_", "silu", "silu_", "_prelu_kernel", "prelu", "gelu", "elu", "elu_",
            "leaky_relu", "leaky_relu_", "tanh", "threshold"}
_POOL_OPS = {"max_pool2d_with_indices", "max_pool2d", "avg_pool2d", "_adaptive_avg_pool2d", "adaptive_avg_pool2d",
             "mean", "adaptive_max_pool2d"}
# ops that only reinterpret a tensor: free
_VIEW_OPS = {"view", "_unsafe_view", "reshape", "transpose", "t", "permute", "expand", "split", "split_with_sizes",
             "chunk", "slice", "select", "squeeze", "unsqueeze", "flatten", "alias", "detach", "as_strided",
             "_reshape_alias", "unbind", "narrow", "dropout", "native_dropout", "empty_like", "lift_fresh",
             "_to_copy", "to", "sym_size", "sym_stride", "sym_numel", "sym_storage_offset", "is_same_size"}


@dataclass(frozen=True)
class LayerCost:
    """One operator of the forward pass."""

    name: str  # qualified name of the innermost module running the op
    block: str  # path of the block (graph node) it belongs to
    stage: str
    op: str  # one of OP_KINDS
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    kernel: tuple[int, int] | None
    stride: tuple[int, int] | None
    groups: int | None
    params: int
    macs: int
    elementwise: int
    mem_bytes: int

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: operations (2·MACs + element-wise) per byte of memory traffic."""
        return (2 * self.macs + self.elementwise) / self.mem_bytes if self.mem_bytes else 0.0


@dataclass(frozen=True)
class BlockCost:
    """One block (a node of the block graph) with the tensors entering and leaving it."""

    path: str
    label: str
    kind: str
    stage: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    macs: int
    elementwise: int
    mem_bytes: int


@dataclass(frozen=True)
class Profile:
    """Totals and per-layer rows of one model at one input resolution (batch 1)."""

    name: str
    knobs: dict[str, Any]
    resolution: int
    params: int
    macs: int
    elementwise: dict[str, int]
    activation_bytes: int
    peak_activation_bytes: int
    mem_bytes: int
    dtype_bytes: int
    layers: tuple[LayerCost, ...] = field(repr=False)
    blocks: tuple[BlockCost, ...] = field(repr=False)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def elementwise_total(self) -> int:
        return sum(self.elementwise.values())

    @property
    def size_fp32_bytes(self) -> int:
        return 4 * self.params

    @property
    def size_int8_bytes(self) -> int:
        return self.params

    def macs_by_kind(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for row in self.layers:
            if row.macs:
                out[row.op] += row.macs
        return dict(out)

    def params_by_kind(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for row in self.layers:
            if row.params:
                out[row.op] += row.params
        return dict(out)

    def table(self) -> list[dict[str, Any]]:
        """Per-layer rows as plain dicts (one per operator), ready for a dataframe."""
        rows = []
        for row in self.layers:
            item = asdict(row)
            item["intensity"] = round(row.intensity, 3)
            rows.append(item)
        return rows

    def totals(self) -> dict[str, Any]:
        return {"params": self.params, "macs": self.macs, "flops": self.flops,
                "elementwise": self.elementwise_total, "mem_bytes": self.mem_bytes,
                "activation_bytes": self.activation_bytes, "peak_activation_bytes": self.peak_activation_bytes,
                "size_fp32_bytes": self.size_fp32_bytes, "size_int8_bytes": self.size_int8_bytes}


# --------------------------------------------------------------------------------------------------


def _same_shape(args: tuple) -> torch.Tensor:
    return torch.empty_like(args[0])


def _batch_norm_outputs(args: tuple) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.empty_like(args[0]), args[0].new_empty(0), args[0].new_empty(0)


# On the meta device several ops run Python reference implementations that cost ~1 ms each; their output
# shape is known without them.
_SHAPE_ONLY = {name: _same_shape for name in _ACT_OPS if not name.endswith("_")}
_SHAPE_ONLY.update({name: (lambda args: args[0]) for name in _ACT_OPS if name.endswith("_")})
_SHAPE_ONLY.update({"_native_batch_norm_legit_no_training": _batch_norm_outputs,
                    "native_batch_norm": _batch_norm_outputs})


def _conv_kind(weight_shape: tuple[int, ...], groups: int, in_ch: int) -> str:
    kernel = weight_shape[2:]
    if groups == 1:
        return "pointwise" if all(k == 1 for k in kernel) else "dense"
    if groups == in_ch and weight_shape[1] == 1:
        return "depthwise"
    return "group"


def _tensors(value: Any) -> list[torch.Tensor]:
    """The tensors in a (nested) tuple/list/dict of op arguments."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _tensors(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    return []


class _Recorder(TorchDispatchMode):
    """Records one row per costly ATen op, attributed to the innermost running module."""

    def __init__(self, names: dict[int, str], block_of: dict[str, str], params_of: dict[str, int],
                 shuffle_modules: set[str]) -> None:
        super().__init__()
        self.stack: list[str] = [""]
        self.names = names
        self.block_of = block_of
        self.params_of = dict(params_of)  # consumed as modules run, so each module's params count once
        self.shuffle_modules = shuffle_modules
        self.rows: list[dict[str, Any]] = []
        self.param_ids: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D105
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        shortcut = _SHAPE_ONLY.get(name)
        out = shortcut(args) if shortcut is not None and args[0].is_meta else func(*args, **kwargs)
        if name in _VIEW_OPS:
            return out
        self._record(name, args, kwargs, out)
        return out

    def _record(self, name: str, args: tuple, kwargs: dict, out: Any) -> None:
        module = self.stack[-1]
        inputs = _tensors((args, kwargs))
        outputs = _tensors(out)
        if not outputs:
            return
        output = outputs[0]
        first = inputs[0] if inputs else output
        macs = elementwise = 0
        kernel = stride = None
        groups = None
        if name in _CONV_OPS:
            x, w = args[0], args[1]
            groups = int(args[8]) if len(args) > 8 else 1
            kernel = (int(w.shape[2]), int(w.shape[3]))
            stride = tuple(int(s) for s in args[3]) if len(args) > 3 else (1, 1)
            if len(stride) == 1:
                stride = (stride[0], stride[0])
            op = _conv_kind(tuple(w.shape), groups, int(x.shape[1]))
            macs = output.numel() * math.prod(w.shape[1:])
            first = x
        elif name in _LINEAR_OPS:
            op = "linear"
            if name == "addmm":
                first = args[1]
                macs = args[1].shape[0] * args[1].shape[1] * args[2].shape[1]
            elif name == "mm":
                first = args[0]
                macs = args[0].shape[0] * args[0].shape[1] * args[1].shape[1]
            elif name == "bmm":
                macs = args[0].shape[0] * args[0].shape[1] * args[0].shape[2] * args[1].shape[2]
            else:  # linear
                macs = output.numel() * args[1].shape[1]
        elif name in _BN_OPS:
            op, elementwise = "bn", output.numel()
            outputs = outputs[:1]
        elif name in _ACT_OPS:
            op, elementwise = "act", output.numel()
        elif name in ("add", "add_", "sub", "sub_"):
            op, elementwise = "add", output.numel()
        elif name in ("mul", "mul_", "div", "div_"):
            op, elementwise = "scale", output.numel()
        elif name in _POOL_OPS:
            op = "pool"
            outputs = outputs[:1]
            if name in ("max_pool2d_with_indices", "max_pool2d", "avg_pool2d"):
                k = args[1]
                k = (k[0], k[0]) if len(k) == 1 else (k[0], k[1])
                kernel = (int(k[0]), int(k[1]))
                s = args[2] if len(args) > 2 and args[2] else k
                stride = (int(s[0]), int(s[-1]))
                elementwise = output.numel() * kernel[0] * kernel[1]
            else:
                elementwise = first.numel()
        elif name in ("clone", "contiguous", "copy_", "copy"):
            op = "shuffle" if module in self.shuffle_modules else "other"
            elementwise = output.numel()
        elif name == "cat":
            op = "concat"
            inputs = _tensors(args[0])
            first = inputs[0]
            elementwise = output.numel()
        elif name in ("constant_pad_nd", "pad", "reflection_pad2d", "replication_pad2d"):
            op, elementwise = "pad", output.numel()
        else:
            op, elementwise = "other", output.numel()
        params = self.params_of.pop(module, 0)
        mem = sum(t.numel() * t.element_size() for t in inputs) + sum(
            t.numel() * t.element_size() for t in outputs)
        act_in = sum(t.numel() * t.element_size() for t in inputs if id(t) not in self.param_ids)
        self.rows.append(dict(
            name=module, block=self.block_of.get(module, ""), op=op, input_shape=tuple(first.shape),
            output_shape=tuple(output.shape), kernel=kernel, stride=stride, groups=groups, params=params,
            macs=int(macs), elementwise=int(elementwise), mem_bytes=int(mem),
            act_bytes=int(act_in + sum(t.numel() * t.element_size() for t in outputs)),
            out_bytes=int(sum(t.numel() * t.element_size() for t in outputs))))


def _block_paths(model: nn.Module) -> tuple[list[Block], dict[str, Block]]:
    blocks = list(model.blocks) if isinstance(model, Network) else [
        Block(name, type(child), {}, "") for name, child in model.named_children()]
    return blocks, {b.path: b for b in blocks}


def _owner(name: str, paths: dict[str, Block]) -> str:
    while name and name not in paths:
        name = name.rpartition(".")[0]
    return name


def profile_model(model: nn.Module, resolution: int = 224, name: str = "", knobs: dict[str, Any] | None = None,
                  in_channels: int = 3) -> Profile:
    """Profile ``model`` at a square ``resolution`` (batch 1) without touching its weights' values."""
    blocks, by_path = _block_paths(model)
    modules = list(model.named_modules())
    names = {id(m): n for n, m in modules}
    block_of = {n: _owner(n, by_path) for n, _ in modules}
    params_of = {n: sum(p.numel() for p in m._parameters.values() if p is not None) for n, m in modules}
    shuffle_modules = {n for n, m in modules if isinstance(m, ChannelShuffle)}
    block_io: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    recorder = _Recorder(names, block_of, params_of, shuffle_modules)
    handles = []

    def pre_hook(module: nn.Module, args: Any) -> None:
        recorder.stack.append(names[id(module)])

    def post_hook(module: nn.Module, args: Any, output: Any) -> None:
        name = recorder.stack.pop()
        if name in by_path and name not in block_io:
            ins, outs = _tensors(args), _tensors(output)
            block_io[name] = (tuple(ins[0].shape) if ins else (), tuple(outs[0].shape) if outs else ())

    for _, module in modules[1:]:
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(post_hook))

    was_training = model.training
    device_is_meta = all(p.is_meta for p in model.parameters()) and all(b.is_meta for b in model.buffers())
    try:
        model.eval()
        x = torch.empty(1, in_channels, resolution, resolution, device="meta")
        with torch.no_grad():
            if device_is_meta:
                recorder.param_ids = {id(p) for p in model.parameters()} | {id(b) for b in model.buffers()}
                with recorder:
                    model(x)
            else:
                meta_state = {k: torch.empty_like(v, device="meta") for k, v in
                              model.state_dict(keep_vars=True).items()}
                recorder.param_ids = {id(v) for v in meta_state.values()}
                with recorder:
                    torch.func.functional_call(model, meta_state, (x,), strict=False)
    except RuntimeError as err:
        raise ValueError(f"{name or type(model).__name__} cannot run at {resolution}×{resolution} px: "
                         f"{str(err).splitlines()[0]}") from None
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    stage_of = {b.path: b.stage for b in blocks}
    layers = tuple(LayerCost(stage=stage_of.get(r["block"], ""),
                             **{k: v for k, v in r.items() if k not in ("act_bytes", "out_bytes")})
                   for r in recorder.rows)
    elementwise: dict[str, int] = {kind: 0 for kind in ELEMENTWISE_KINDS}
    for row in layers:
        if row.op in elementwise:
            elementwise[row.op] += row.elementwise
    per_block: dict[str, list[LayerCost]] = defaultdict(list)
    for row in layers:
        per_block[row.block].append(row)
    block_rows = tuple(
        BlockCost(path=b.path, label=b.label, kind=b.kind, stage=b.stage,
                  input_shape=block_io.get(b.path, ((), ()))[0], output_shape=block_io.get(b.path, ((), ()))[1],
                  params=sum(r.params for r in per_block[b.path]), macs=sum(r.macs for r in per_block[b.path]),
                  elementwise=sum(r.elementwise for r in per_block[b.path]),
                  mem_bytes=sum(r.mem_bytes for r in per_block[b.path]))
        for b in blocks if b.path in block_io)
    first_param = next(model.parameters(), None)
    return Profile(
        name=name or type(model).__name__, knobs=dict(knobs or {}), resolution=resolution,
        params=sum(p.numel() for p in model.parameters()),
        macs=sum(r.macs for r in layers), elementwise=elementwise,
        activation_bytes=sum(r["out_bytes"] for r in recorder.rows),
        peak_activation_bytes=max((r["act_bytes"] for r in recorder.rows), default=0),
        mem_bytes=sum(r.mem_bytes for r in layers),
        dtype_bytes=first_param.element_size() if first_param is not None else 4,
        layers=layers, blocks=block_rows)


def check_resolution(name: str, resolution: Any) -> int:
    """``resolution`` as an int the model accepts, or ``ValueError`` saying what is allowed."""
    model_spec = spec(name)
    try:
        value = int(resolution)
        if value != float(resolution):
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"resolution={resolution!r} is not allowed: it must be a whole number of pixels") from None
    if not model_spec.min_resolution <= value <= MAX_RESOLUTION:
        raise ValueError(f"resolution={value} is not allowed for {name}: it must be from "
                         f"{model_spec.min_resolution} to {MAX_RESOLUTION} px")
    return value


MAX_RESOLUTION = 1024


@functools.lru_cache(maxsize=512)
def _cached_profile(name: str, resolution: int, knob_items: tuple[tuple[str, Any], ...]) -> Profile:
    knobs = dict(knob_items)
    with torch.device("meta"):
        model = build(name, **knobs)
    return profile_model(model, resolution, name=name, knobs=knobs)


def profile(name_or_model: str | nn.Module, resolution: int | None = None, **knobs: Any) -> Profile:
    """Cost profile of a registered model (by name, with knobs) or of any ``nn.Module``.

    For a name, ``resolution`` defaults to the model's default and results are cached per configuration.
    Raises ``ValueError`` for unknown models or knobs, disallowed values, or a resolution the net cannot take.
    """
    if isinstance(name_or_model, nn.Module):
        if knobs:
            raise ValueError("knobs apply to a model name, not to an already built model")
        return profile_model(name_or_model, 224 if resolution is None else int(resolution),
                             name=getattr(name_or_model, "name", ""), knobs=getattr(name_or_model, "knobs", {}))
    model_spec = spec(name_or_model)
    full = model_spec.validate(knobs)
    res = check_resolution(name_or_model, model_spec.resolution(full) if resolution is None else resolution)
    return _cached_profile(name_or_model, res, tuple(sorted(full.items())))


def iter_convs(p: Profile) -> Iterator[LayerCost]:
    """The convolution rows of a profile."""
    return (row for row in p.layers if row.op in CONV_KINDS)
