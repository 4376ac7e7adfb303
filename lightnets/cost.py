"""Exact per-layer cost of a model from tensor shapes alone: params, multiply-adds, element-wise work, memory traffic.

The model runs once on the ``meta`` device (tensors with shapes but no data). Standard layers (conv, batch norm,
activations, pooling, linear, channel shuffle) are costed from their attributes and the input's shape; every other
operator is seen, with its arguments, by a dispatch mode. Nothing is computed on real weights, so a profile costs a
few milliseconds and can be redone on every slider move. Conventions, as in the papers:

* ``macs`` are multiply-accumulates of convolutions and fully connected layers only; a k×k conv with groups g
  costs k²·(C_in/g)·C_out·H_out·W_out. ``flops`` = 2·macs.
* element-wise work (batch norm, activations, SE scaling, residual adds, pooling, channel shuffle, concat) is
  reported separately, per kind, as the number of elements each op produces (pooling: elements it reads).
* memory access cost is the bytes each op reads (activations and weights) plus the bytes it writes, summed
  over ops: the "MAC" of the ShuffleNet V2 paper's guideline G1, at the model's dtype.
"""

from __future__ import annotations

import copy
import functools
import gc
import math
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors
from torch.utils._python_dispatch import TorchDispatchMode

from lightnets.i18n import DEFAULT as DEFAULT_LANGUAGE
from lightnets.i18n import N_, _, language
from lightnets.layers import ChannelShuffle
from lightnets.ops import ACTIVATION_CLASSES, CONV_KINDS, ELEMENTWISE_KINDS, MAC_KINDS, OP_KINDS, conv_kind, kind_label
from lightnets.registry import Block, Config, Network, _rows, run_in_sequence, stage_label

__all__ = ["CONV_KINDS", "ELEMENTWISE_KINDS", "MAC_KINDS", "OP_KINDS", "BlockCost", "LayerCost", "MetaBuild",
           "Profile", "clear_caches", "iter_convs", "profile", "profile_model"]

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
             "_reshape_alias", "unbind", "narrow", "dropout", "native_dropout", "lift_fresh", "_to_copy", "to",
             "sym_size", "sym_stride", "sym_numel", "sym_storage_offset", "is_same_size",
             # allocations: no arithmetic, and the op that fills the tensor is counted
             "empty", "empty_like", "new_empty", "empty_strided"}


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


# the per-layer table's columns as a page heads them (``Profile.layer_table``): in English the field names
_LAYER_HEADERS = {
    "name": N_("name"), "block": N_("block"), "stage": N_("stage"), "op": N_("op"), "input_shape": N_("input_shape"),
    "output_shape": N_("output_shape"), "kernel": N_("kernel"), "stride": N_("stride"), "groups": N_("groups"),
    "params": N_("params"), "macs": N_("macs"), "elementwise": N_("elementwise"), "mem_bytes": N_("mem_bytes"),
    "intensity": N_("intensity"),
}


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
    # the configuration profiled (None for a module profiled as such) and the Block rows it is built from
    config: Config | None = field(default=None, repr=False)
    rows: tuple[Block, ...] = field(default=(), repr=False)

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

    def _by_kind(self, field_name: str) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for row in self.layers:
            value = getattr(row, field_name)
            if value:
                out[row.op] += value
        return dict(out)

    def macs_by_kind(self) -> dict[str, int]:
        return self._by_kind("macs")

    def params_by_kind(self) -> dict[str, int]:
        return self._by_kind("params")

    def table(self) -> list[dict[str, Any]]:
        """Per-layer rows as plain dicts (one per operator), ready for a dataframe."""
        rows = []
        for row in self.layers:
            item = asdict(row)
            item["intensity"] = round(row.intensity, 3)
            rows.append(item)
        return rows

    def layer_table(self) -> list[dict[str, Any]]:
        """``table()`` as a page shows it: headers, stages and op kinds in the current language (``table()``
        keeps the field names, for the command line's JSON)."""
        headers = {key: _(text) for key, text in _LAYER_HEADERS.items()}
        return [{headers.get(key, key): stage_label(value) if key == "stage" else kind_label(value) if key == "op"
                 else value for key, value in row.items()} for row in self.table()]

    def block_table(self) -> dict[str, list[Any]]:
        """One row per block (a node of the block graph), as columns for a dataframe."""
        # headers, stages and kinds as the page shows them, in the current language
        return {_("block"): [b.path for b in self.blocks], _("stage"): [stage_label(b.stage) for b in self.blocks],
                _("kind"): [kind_label(b.kind) for b in self.blocks], _("label"): [b.label for b in self.blocks],
                _("input"): ["×".join(map(str, b.input_shape[1:])) for b in self.blocks],
                _("output"): ["×".join(map(str, b.output_shape[1:])) for b in self.blocks],
                _("params"): [b.params for b in self.blocks], "MACs": [b.macs for b in self.blocks]}

    def totals(self) -> dict[str, Any]:
        return {"params": self.params, "macs": self.macs, "flops": self.flops,
                "elementwise": self.elementwise_total, "mem_bytes": self.mem_bytes,
                "activation_bytes": self.activation_bytes, "peak_activation_bytes": self.peak_activation_bytes,
                "size_fp32_bytes": self.size_fp32_bytes, "size_int8_bytes": self.size_int8_bytes}


# --------------------------------------------------------------------------------------------------


def _empty(shape: Any, like: torch.Tensor) -> torch.Tensor:
    return torch.empty(tuple(shape), dtype=like.dtype, device=like.device)


def _same_shape(args: tuple) -> torch.Tensor:
    return _empty(args[0].shape, args[0])


def _in_place(args: tuple) -> torch.Tensor:
    return args[0]


def _batch_norm_outputs(args: tuple) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return _same_shape(args), _empty((0,), args[0]), _empty((0,), args[0])


def _broadcast(args: tuple) -> torch.Tensor:
    # plain-int broadcasting: torch.broadcast_shapes is Python reference code with symbolic-shape guards
    # (~60 µs a call, most of an element-wise op's cost here)
    tensors = [a for a in args[:2] if isinstance(a, torch.Tensor)]
    shape: tuple[int, ...] = ()
    for t in tensors:
        other = tuple(t.shape)
        if len(other) > len(shape):
            shape, other = other, shape
        other = (1,) * (len(shape) - len(other)) + other
        if any(x != y and 1 not in (x, y) for x, y in zip(shape, other)):
            raise RuntimeError(f"shapes {tuple(tensors[0].shape)} and {tuple(tensors[-1].shape)} do not broadcast")
        shape = tuple(y if x == 1 else x for x, y in zip(shape, other))
    return _empty(shape, tensors[0])


def _cat(args: tuple) -> torch.Tensor:
    tensors = [t for t in args[0] if t.numel() or t.dim() > 1]  # torch.cat skips legacy empty 1-d tensors
    dim = (args[1] if len(args) > 1 else 0) % tensors[0].dim()
    shape = list(tensors[0].shape)
    shape[dim] = sum(t.shape[dim] for t in tensors)
    return _empty(shape, tensors[0])


def _pad(args: tuple) -> torch.Tensor:
    shape, pad = list(args[0].shape), list(args[1])
    for i in range(len(pad) // 2):  # pairs from the last dimension backwards
        shape[-1 - i] += pad[2 * i] + pad[2 * i + 1]
    return _empty(shape, args[0])


def _mean(args: tuple) -> torch.Tensor:
    x, dims = args[0], args[1] if len(args) > 1 and args[1] is not None else range(args[0].dim())
    keep = len(args) > 2 and args[2]
    dims = {d % x.dim() for d in dims}
    return _empty([1 if i in dims else n for i, n in enumerate(x.shape) if keep or i not in dims], x)


# On the meta device many ops run Python reference implementations (0.1–1 ms each, and the first one imports
# torch._dynamo, seconds on a cold start); their output shapes are simple, so compute them here.
_SHAPE_ONLY = {name: _same_shape for name in _ACT_OPS if not name.endswith("_")}
_SHAPE_ONLY.update({name: _in_place for name in _ACT_OPS if name.endswith("_")})
_SHAPE_ONLY.update({name: _broadcast for name in ("add", "sub", "mul", "div")})
_SHAPE_ONLY.update({name: _in_place for name in ("add_", "sub_", "mul_", "div_")})
_SHAPE_ONLY.update({"addmm": lambda args: _empty((args[1].shape[0], args[2].shape[1]), args[1]),
                    "mm": lambda args: _empty((args[0].shape[0], args[1].shape[1]), args[0])})
_SHAPE_ONLY.update({"_native_batch_norm_legit_no_training": _batch_norm_outputs,
                    "native_batch_norm": _batch_norm_outputs, "cat": _cat, "clone": _same_shape,
                    "constant_pad_nd": _pad, "mean": _mean})


def _first_tensor(args: tuple) -> torch.Tensor | None:
    for a in args:
        if isinstance(a, torch.Tensor):
            return a
        if isinstance(a, (list, tuple)) and a and isinstance(a[0], torch.Tensor):
            return a[0]
    return None


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

    def __init__(self, names: dict[int, str], params_of: dict[str, int], shuffle_modules: set[str]) -> None:
        super().__init__()
        self.stack: list[str] = [""]
        self.names = names
        self.params_of = dict(params_of)  # consumed as modules run, so each module's params count once
        self.shuffle_modules = shuffle_modules
        self.rows: list[dict[str, Any]] = []
        self.param_ids: set[int] = set()
        # The modules' forwards are instrumented for this thread only: the dispatch mode is thread-local, and
        # another thread may be running the same model meanwhile.
        self.thread = threading.get_ident()
        self.watch: set[str] = set()
        self.io: dict[str, tuple] = {}  # (input shape, output shape) of the watched modules' first calls
        self.shadows: dict[int, nn.Module] = {}  # id(module) → its copy on meta weights (see _meta_self)

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Otherwise torch wraps __torch_dispatch__ in torch._disable_dynamo: its first call imports
        # torch._dynamo (1–3 s on a cold app start) and every call pays the wrapper. Nothing is compiled here.
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D105
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        shortcut = _SHAPE_ONLY.get(name)
        first = _first_tensor(args) if shortcut is not None and not kwargs else None
        out = shortcut(args) if first is not None and first.is_meta else func(*args, **kwargs)
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
            op = conv_kind(int(x.shape[1]), groups, tuple(w.shape[2:]))
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
        read = sum(t.numel() * t.element_size() for t in inputs)
        act_read = sum(t.numel() * t.element_size() for t in inputs if not self._is_weight(t))
        written = sum(t.numel() * t.element_size() for t in outputs)
        self.add(module, op, tuple(first.shape), tuple(output.shape), macs, elementwise, read, act_read, written,
                 kernel, stride, groups)

    def _is_weight(self, t: torch.Tensor) -> bool:
        # a view of a weight (linear's transposed matrix) is a weight too
        return id(t) in self.param_ids or (t._base is not None and id(t._base) in self.param_ids)

    def add(self, module: str, op: str, input_shape: tuple[int, ...], output_shape: tuple[int, ...], macs: int,
            elementwise: int, read: int, act_read: int, written: int, kernel: tuple[int, int] | None = None,
            stride: tuple[int, int] | None = None, groups: int | None = None) -> None:
        """One row; ``read`` counts weights and activations, ``act_read`` activations only.

        A module's params go to its first op that reads a weight, not to an op before it (a conv that pads its
        input first, like EfficientNet's SameConv2d, would otherwise list its weights under the pad).
        """
        params = self.params_of.pop(module, 0) if read > act_read else 0
        self.rows.append(dict(
            name=module, block="", op=op, input_shape=input_shape, output_shape=output_shape, kernel=kernel,
            stride=stride, groups=groups, params=params, macs=int(macs),
            elementwise=int(elementwise), mem_bytes=int(read + written), act_bytes=int(act_read + written),
            out_bytes=int(written)))


# --------------------------------------------------------------------------------------------------
# Standard leaf layers costed from their attributes, without running ATen: on the meta device the kernels of
# conv, batch norm and most activations are Python reference code (0.1–1 ms per call), and these layers are
# most of a net's ops. Rows are identical to the ATen path's (tests compare the two).


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[-1]))


def _out_size(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= size + p:  # a window may not start in the right padding
        out -= 1
    return out


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _new(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    # An output with no values, made out of the recorder's sight: through the dispatch mode, an allocation is a
    # round trip into Python (10× the allocation itself), and one is made for every standard layer.
    with torch._C._DisableTorchDispatch():
        return torch.empty(shape, dtype=x.dtype, device=x.device)


def _fast_conv(m: nn.Conv2d, x: torch.Tensor, name: str, rec: _Recorder) -> torch.Tensor | None:
    if isinstance(m.padding, str) or m.padding_mode != "zeros" or x.dim() != 4:
        return None
    n, _, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = m.kernel_size, m.stride, m.padding, m.dilation
    out = _new(x, (n, m.out_channels, _out_size(h, kh, sh, ph, dh, False), _out_size(w, kw, sw, pw, dw, False)))
    weights = _nbytes(m.weight) + (_nbytes(m.bias) if m.bias is not None else 0)
    rec.add(name, conv_kind(int(x.shape[1]), m.groups, (kh, kw)), tuple(x.shape), tuple(out.shape),
            out.numel() * math.prod(m.weight.shape[1:]), 0, _nbytes(x) + weights, _nbytes(x), _nbytes(out),
            (kh, kw), (sh, sw), m.groups)
    return out


def _fast_bn(m: nn.BatchNorm2d, x: torch.Tensor, name: str, rec: _Recorder) -> torch.Tensor | None:
    if m.training or m.running_mean is None:
        return None
    out = _new(x, tuple(x.shape))
    stats = sum(_nbytes(t) for t in (m.weight, m.bias, m.running_mean, m.running_var) if t is not None)
    rec.add(name, "bn", tuple(x.shape), tuple(x.shape), 0, x.numel(), _nbytes(x) + stats, _nbytes(x), _nbytes(out))
    return out


def _fast_act(m: nn.Module, x: torch.Tensor, name: str, rec: _Recorder) -> torch.Tensor | None:
    out = x if getattr(m, "inplace", False) else _new(x, tuple(x.shape))
    weight = _nbytes(m.weight) if isinstance(m, nn.PReLU) else 0
    rec.add(name, "act", tuple(x.shape), tuple(x.shape), 0, x.numel(), _nbytes(x) + weight, _nbytes(x), _nbytes(out))
    return out


def _fast_pool(m: nn.Module, x: torch.Tensor, name: str, rec: _Recorder) -> torch.Tensor | None:
    if x.dim() != 4:
        return None
    n, c, h, w = x.shape
    if isinstance(m, nn.AdaptiveAvgPool2d):
        oh, ow = (m.output_size, m.output_size) if isinstance(m.output_size, int) else m.output_size
        out = _new(x, (n, c, h if oh is None else oh, w if ow is None else ow))
        rec.add(name, "pool", tuple(x.shape), tuple(out.shape), 0, x.numel(), _nbytes(x), _nbytes(x), _nbytes(out))
        return out
    kh, kw = _pair(m.kernel_size)
    sh, sw = _pair(m.stride if m.stride else m.kernel_size)
    ph, pw = _pair(m.padding)
    dh, dw = _pair(getattr(m, "dilation", 1))
    out = _new(x, (n, c, _out_size(h, kh, sh, ph, dh, m.ceil_mode), _out_size(w, kw, sw, pw, dw, m.ceil_mode)))
    rec.add(name, "pool", tuple(x.shape), tuple(out.shape), 0, out.numel() * kh * kw, _nbytes(x), _nbytes(x),
            _nbytes(out), (kh, kw), (sh, sw))
    return out


def _fast_linear(m: nn.Linear, x: torch.Tensor, name: str, rec: _Recorder) -> torch.Tensor | None:
    if x.dim() != 2:
        return None
    out = _new(x, (x.shape[0], m.out_features))
    weights = _nbytes(m.weight) + (_nbytes(m.bias) if m.bias is not None else 0)
    rec.add(name, "linear", tuple(x.shape), tuple(out.shape), x.shape[0] * m.in_features * m.out_features, 0,
            _nbytes(x) + weights, _nbytes(x), _nbytes(out))
    return out


def _fast_shuffle(m: ChannelShuffle, x: torch.Tensor, name: str, rec: _Recorder) -> torch.Tensor | None:
    channels = x.shape[1] if x.dim() == 4 else 0
    if not 1 < m.groups < channels or channels % m.groups:
        return None  # nothing to move (the transposed view is already contiguous), or an error to raise
    out = _new(x, tuple(x.shape))  # one copy of the tensor in the new channel order
    rec.add(name, "shuffle", tuple(x.shape), tuple(x.shape), 0, x.numel(), _nbytes(x), _nbytes(x), _nbytes(out))
    return out


_FAST_LEAVES: dict[type, Any] = {
    ChannelShuffle: _fast_shuffle,
    nn.Conv2d: _fast_conv, nn.BatchNorm2d: _fast_bn, nn.Linear: _fast_linear,
    nn.MaxPool2d: _fast_pool, nn.AvgPool2d: _fast_pool, nn.AdaptiveAvgPool2d: _fast_pool,
    **{cls: _fast_act for cls in ACTIVATION_CLASSES if cls not in (nn.GELU, nn.ELU, nn.Hardtanh)},
}


def _meta_self(module: nn.Module, rec: _Recorder) -> nn.Module:
    """``module`` itself if its own weights are meta tensors, else a shallow copy holding meta stand-ins.

    The copy shares the submodules; the original keeps its real weights throughout, so another thread may go
    on running it while it is profiled.
    """
    own = {**module._parameters, **module._buffers}
    if all(t is None or t.is_meta for t in own.values()):
        return module
    shadow = rec.shadows.get(id(module))
    if shadow is None:
        meta = {k: None if t is None else torch.empty_like(t, device="meta") for k, t in own.items()}
        rec.param_ids.update(id(t) for t in meta.values() if t is not None)
        shadow = copy.copy(module)
        shadow.__dict__["_parameters"] = {k: meta[k] for k in module._parameters}
        shadow.__dict__["_buffers"] = {k: meta[k] for k in module._buffers}
        rec.shadows[id(module)] = shadow
    return shadow


def _recorded_forward(module: nn.Module, name: str, fast: Any, rec: _Recorder, *args: Any, **kwargs: Any) -> Any:
    """Stands in for ``module.forward`` while it is profiled: keeps the stack of running module names, costs a
    standard leaf (``fast``) from its attributes, and runs anything else on meta weights."""
    if threading.get_ident() != rec.thread:  # another thread running the same model: the real forward
        return type(module).forward(module, *args, **kwargs)
    out = None
    if fast is not None and not kwargs and len(args) == 1 and isinstance(args[0], torch.Tensor):
        out = fast(module, args[0], name, rec)
    if out is None:  # not a standard leaf, or an unusual call of one: record its ATen ops
        rec.stack.append(name)
        try:
            out = type(module).forward(_meta_self(module, rec), *args, **kwargs)
        finally:
            rec.stack.pop()
    if name in rec.watch and name not in rec.io:
        ins, outs = _tensors((args, kwargs)), _tensors(out)
        rec.io[name] = (tuple(ins[0].shape) if ins else (), tuple(outs[0].shape) if outs else ())
    return out


def _record_module(module: nn.Module, inputs: tuple[torch.Tensor, ...], watch: set[str] | None = None
                   ) -> tuple[list[dict[str, Any]], Any, dict[str, tuple]]:
    """Run ``module`` on meta ``inputs`` under the recorder.

    Returns the op rows, the output, and the input/output shapes of the submodules named in ``watch`` (their
    first call). Standard layers are costed from their attributes; every other op runs on meta stand-ins of
    the weights, so no arithmetic touches real values and the model's own tensors are never swapped.
    """
    modules = list(module.named_modules())
    names = {id(m): n for n, m in modules}
    params_of = {n: sum(p.numel() for p in m._parameters.values() if p is not None) for n, m in modules}
    shuffle_modules = {n for n, m in modules if isinstance(m, ChannelShuffle)}
    recorder = _Recorder(names, params_of, shuffle_modules)
    recorder.watch = watch or set()
    recorder.param_ids = {id(t) for _, m in modules for t in (*m._parameters.values(), *m._buffers.values())
                          if t is not None}
    # Each module's forward is replaced for the time of the run (an instance attribute, deleted afterwards;
    # calls from other threads go to the real forward). A module that already has such an attribute keeps
    # it and gets a forward-hook pair instead, with its real tensors swapped for the run.
    handles: list[Any] = []
    patched: list[nn.Module] = []
    hooked: list[tuple[str, nn.Module]] = []

    def pre_hook(mod: nn.Module, args: Any) -> None:
        if threading.get_ident() == recorder.thread:
            recorder.stack.append(names[id(mod)])

    def post_hook(mod: nn.Module, args: Any, output: Any) -> None:
        if threading.get_ident() == recorder.thread:
            name = recorder.stack.pop()
            if name in recorder.watch and name not in recorder.io:
                ins, outs = _tensors(args), _tensors(output)
                recorder.io[name] = (tuple(ins[0].shape) if ins else (), tuple(outs[0].shape) if outs else ())

    for name, sub in modules:
        if "forward" in sub.__dict__:
            handles += [sub.register_forward_pre_hook(pre_hook), sub.register_forward_hook(post_hook)]
            hooked.append((name, sub))
        else:
            sub.forward = functools.partial(_recorded_forward, sub, name, _FAST_LEAVES.get(type(sub)), recorder)
            patched.append(sub)
    training = [m for _, m in modules if m.training]  # restored one by one: a model may mix the two modes
    try:
        if training:  # cached meta blocks are built in eval mode and skip this walk of the tree
            module.eval()
        real = {f"{n}.{k}" if n else k: t for n, m in hooked
                for k, t in (*m._parameters.items(), *m._buffers.items()) if t is not None and not t.is_meta}
        with torch.no_grad(), recorder:
            if not real:
                output = module(*inputs)
            else:
                meta_state = {k: torch.empty_like(v, device="meta") for k, v in real.items()}
                recorder.param_ids.update(id(v) for v in meta_state.values())
                output = torch.func.functional_call(module, meta_state, inputs, strict=False)
    finally:
        for handle in handles:
            handle.remove()
        for sub in patched:
            del sub.forward
        for sub in training:
            sub.training = True
    return recorder.rows, output, recorder.io


class _Frozen(tuple):
    """A list argument made hashable for the caches (told apart from a tuple argument)."""


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return _Frozen(_freeze(v) for v in value)
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, _Frozen):
        return [_thaw(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_thaw(v) for v in value)
    return value


_INIT_FUNCTIONS = frozenset(
    [getattr(nn.init, n) for n in ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
                                   "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_",
                                   "orthogonal_", "eye_", "dirac_", "sparse_") if hasattr(nn.init, n)]
    + [getattr(torch.Tensor, n) for n in ("uniform_", "normal_", "zero_", "fill_", "bernoulli_", "exponential_",
                                          "random_", "copy_") if hasattr(torch.Tensor, n)])


class MetaBuild(TorchFunctionMode):
    """``with MetaBuild():`` builds modules on the meta device and skips their weight initialisation.

    A meta tensor holds no values, so initialising one is pure overhead: on the meta device every init call
    goes through Python decompositions, which made up about a third of building a block. The mode is
    thread-local, so a real model built at the same time in another thread is initialised as usual.
    """

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if func in _INIT_FUNCTIONS:
            return args[0] if args else kwargs.get("tensor")  # type: ignore[union-attr]
        kwargs = kwargs or {}
        if kwargs.get("device") is None and func in _device_constructors():
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


@functools.lru_cache(maxsize=1024)
def _block_module(layer: type[nn.Module], frozen_args: tuple) -> nn.Module:
    """A block built on the meta device, kept for reuse: building modules is most of a cold profile's time, and a
    ρ move or a sweep meets the same blocks at new input sizes."""
    with MetaBuild():
        return layer(**{k: _thaw(v) for k, v in frozen_args}).eval()


@functools.lru_cache(maxsize=8192)
def _block_cost(layer: type[nn.Module], frozen_args: tuple, x_shape: tuple[int, ...],
                image_shape: tuple[int, ...] | None) -> tuple[tuple[dict, ...], tuple[int, ...]]:
    """The op rows (names relative to the block) and output shape of one block on one input shape."""
    module = _block_module(layer, frozen_args)
    inputs = (torch.empty(x_shape, device="meta"),) + (
        (torch.empty(image_shape, device="meta"),) if image_shape is not None else ())
    part, out, _ = _record_module(module, inputs)
    return tuple(part), tuple(_tensors(out)[0].shape)


# Cached block modules are shared, and recording patches their leaves' forward: one profile at a time.
_BLOCKS_LOCK = threading.Lock()


def _profile_blocks(blocks: Sequence[Block], resolution: int, in_channels: int = 3) -> tuple[list[dict], dict]:
    """Rows and block input/output shapes of a Network described by ``blocks``, block by block.

    A Network runs its blocks in sequence (``registry.run_in_sequence``, the same function here, on shapes), so
    the net's ops are the concatenation of each block's ops on the tensor the previous block produced. A block's
    cost depends only on its layer, its arguments and its input shape(s), so each distinct (block, shape) is built
    and run once and remembered: the repeats inside a stage cost nothing, and so does meeting them again in
    another configuration.
    """
    rows: list[dict] = []
    io: dict[str, tuple] = {}

    def cost(block: Block, x_shape: tuple[int, ...], image_shape: tuple[int, ...] | None = None) -> tuple[int, ...]:
        try:
            part, out_shape = _block_cost(block.layer, _freeze(dict(block.args)), x_shape, image_shape)
        except RuntimeError as err:
            raise ValueError(_("block {path} ({label}) cannot take a {c}×{h}×{w} input: {error}").format(
                path=block.path, label=block.label, c=x_shape[1], h=x_shape[2], w=x_shape[3],
                error=str(err).splitlines()[0])) from None
        for row in part:
            rows.append({**row, "name": f"{block.path}.{row['name']}" if row["name"] else block.path,
                         "block": block.path})
        io[block.path] = (x_shape, out_shape)
        return out_shape

    with _BLOCKS_LOCK:
        run_in_sequence(((b, b.takes_image) for b in blocks), (1, in_channels, resolution, resolution), cost)
    return rows, io


def clear_caches() -> None:
    """Forget every cached profile, block cost and block module (benchmarks time a cold profile with it)."""
    _cached_profile.cache_clear()
    _block_cost.cache_clear()
    _block_module.cache_clear()
    _rows.cache_clear()


_LAYER_FIELDS = tuple(f.name for f in fields(LayerCost))


def _layer_cost(values: dict[str, Any], stage: str) -> LayerCost:
    # A frozen dataclass's __init__ sets each field through object.__setattr__; a profile makes hundreds of
    # rows, a tenth of its time, so they are filled in one step (tests check them against the constructor).
    row = object.__new__(LayerCost)
    row.__dict__.update(values, stage=stage)
    return row


def _assemble_profile(rows: list[dict], io: dict[str, tuple], blocks: Sequence[Block], params: int,
                      resolution: int, name: str, knobs: dict[str, Any], dtype_bytes: int,
                      config: Config | None = None) -> Profile:
    stage_of = {b.path: b.stage for b in blocks}
    layers = tuple(_layer_cost({k: r[k] for k in _LAYER_FIELDS if k != "stage"}, stage_of.get(r["block"], ""))
                   for r in rows)
    elementwise: dict[str, int] = {kind: 0 for kind in ELEMENTWISE_KINDS}
    per_block: dict[str, list[LayerCost]] = defaultdict(list)
    for row in layers:
        if row.op in elementwise:
            elementwise[row.op] += row.elementwise
        per_block[row.block].append(row)
    block_rows = tuple(
        BlockCost(path=b.path, label=b.label, kind=b.kind, stage=b.stage,
                  input_shape=io[b.path][0], output_shape=io[b.path][1],
                  params=sum(r.params for r in per_block[b.path]), macs=sum(r.macs for r in per_block[b.path]),
                  elementwise=sum(r.elementwise for r in per_block[b.path]),
                  mem_bytes=sum(r.mem_bytes for r in per_block[b.path]))
        for b in blocks if b.path in io)
    return Profile(
        name=name, knobs=dict(knobs), resolution=resolution, params=params,
        macs=sum(r.macs for r in layers), elementwise=elementwise,
        activation_bytes=sum(r["out_bytes"] for r in rows),
        peak_activation_bytes=max((r["act_bytes"] for r in rows), default=0),
        mem_bytes=sum(r.mem_bytes for r in layers), dtype_bytes=dtype_bytes, layers=layers, blocks=block_rows,
        config=config, rows=tuple(blocks))


def profile_model(model: nn.Module, resolution: int = 224, name: str = "", knobs: dict[str, Any] | None = None,
                  in_channels: int = 3, config: Config | None = None) -> Profile:
    """Profile any ``model`` at a square ``resolution`` (batch 1) without touching its weights' values.

    Rows are attributed to the model's blocks: its ``Block`` rows for a lightnets ``Network``, else its
    top-level children.
    """
    if isinstance(model, Network):
        blocks = list(model.block_rows)
    else:
        blocks = [Block(child_name, type(child), {}, "") for child_name, child in model.named_children()]
    paths = {b.path for b in blocks}
    x = torch.empty(1, in_channels, resolution, resolution, device="meta")
    try:
        with _gc_paused():
            rows, _ops, io = _record_module(model, (x,), watch=paths)
    except RuntimeError as err:
        raise ValueError(_("{model} cannot run at {resolution}×{resolution} px: {error}").format(
            model=name or type(model).__name__, resolution=resolution, error=str(err).splitlines()[0])) from None
    for row in rows:
        owner = row["name"]
        while owner and owner not in paths:
            owner = owner.rpartition(".")[0]
        row["block"] = owner
    first_param = next(model.parameters(), None)
    return _assemble_profile(rows, io, blocks, sum(p.numel() for p in model.parameters()), resolution,
                             name or type(model).__name__, knobs or {},
                             first_param.element_size() if first_param is not None else 4, config)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the few milliseconds of a profile.

    Building blocks and recording their ops allocate thousands of small objects, which set off collections
    of the whole heap (torch's, and in the app Streamlit's and plotly's: tens of milliseconds each) in the
    middle of the profile. What a profile leaves behind is freed by reference counting; the collector resumes
    afterwards (profiles in several threads at once may resume it early, never leave it off).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@functools.lru_cache(maxsize=512)
def _cached_profile(config: Config, language: str = DEFAULT_LANGUAGE) -> Profile:
    # ``language`` is part of the key: the block labels of the profile are written in it
    rows = config.blocks
    with _gc_paused():
        try:
            layer_rows, io = _profile_blocks(rows, config.resolution)
        except ValueError as err:
            raise ValueError(_("{model} cannot run at {resolution}×{resolution} px: {error}").format(
                model=config.name, resolution=config.resolution, error=err)) from None
        return _assemble_profile(layer_rows, io, rows, sum(r["params"] for r in layer_rows), config.resolution,
                                 config.name, dict(config.knobs), 4, config)


def _config_at(config: Any, resolution: int) -> Config | None:
    """A built model's configuration at the resolution it is profiled at (None if it has none there)."""
    if not isinstance(config, Config):
        return None
    try:
        return config.replace(resolution=resolution)
    except ValueError:
        return None


def profile(target: Config | nn.Module, resolution: int | None = None) -> Profile:
    """Cost profile of a configuration, or of any ``nn.Module`` at ``resolution`` (default 224) px.

    A configuration's profile is cached (a slider move that comes back costs nothing). Raises ``ValueError``
    when the net cannot run at that size, or for a resolution given beside a configuration (it has its own).
    """
    if isinstance(target, Config):
        if resolution is not None:
            raise ValueError(_("a configuration carries its resolution: use config.replace(resolution=…)"))
        return _cached_profile(target, language())
    if isinstance(target, nn.Module):
        res = 224 if resolution is None else int(resolution)
        return profile_model(target, res, name=getattr(target, "name", ""), knobs=getattr(target, "knobs", {}),
                             config=_config_at(getattr(target, "config", None), res))
    raise ValueError(_("profile needs a lightnets.config(...) or an nn.Module, not {type}").format(
        type=type(target).__name__))


def iter_convs(p: Profile) -> Iterator[LayerCost]:
    """The convolution rows of a profile."""
    return (row for row in p.layers if row.op in CONV_KINDS)
