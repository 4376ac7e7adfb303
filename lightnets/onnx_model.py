"""Your own model, as ONNX: read an uploaded ``.onnx`` file without executing anything and show it with the same
views as a registered model — block graph, tensor shapes, per-layer params / MACs / memory traffic in the cost
model's op vocabulary, latency with onnxruntime (CPU) and top-5 on a photo.

ONNX is a protobuf: parsing it runs no code (unlike a ``torch.save`` pickle or a ``.pt2`` archive, which are
refused). Shapes come from ONNX shape inference; costs follow ``lightnets.cost``'s conventions exactly (MACs of
convolutions and fully connected layers only; element-wise work as elements produced, pooling as elements read;
memory access = bytes read + bytes written), so a registered model exported with ``lightnets.export_onnx`` and
read back here has the MACs ``lightnets.profile`` gives. Blocks are found from the PyTorch exporter's module path
metadata (``pkg.torch.onnx.name_scopes``), or from the node names' prefixes for other exporters.

What cannot be handled (an unknown operator, external-data weights, several inputs, shapes inference cannot
resolve) is named in one line each in ``OnnxModel.problems``, and what can be shown is still shown.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import math
import os
import re
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lightnets.cost import BlockCost, LayerCost, Profile
from lightnets.i18n import N_, _
from lightnets.ops import ELEMENTWISE_KINDS, conv_kind
from lightnets.registry import IMAGENET_PREPROCESS, Preprocess
from lightnets.uploads import read_limited

__all__ = ["MAX_ONNX_BYTES", "PREPROCESSING", "OnnxBlock", "OnnxError", "OnnxModel", "OnnxNode", "onnx_block_graph",
           "onnx_inner_graph", "onnx_latency", "onnx_predict", "read_onnx", "refuse_pickle"]

MAX_ONNX_BYTES = 64 * 2**20  # as checkpoints: the largest lightweight ImageNet model here is below 30 MB

# where the PyTorch exporter says which module ran a node
SCOPES_KEY = "pkg.torch.onnx.name_scopes"
CLASSES_KEY = "pkg.torch.onnx.class_hierarchy"
_CONTAINERS = {"torch.nn.modules.container.Sequential", "torch.nn.modules.container.ModuleList",
               "torch.nn.modules.container.ModuleDict"}

# preprocessing the user can choose for top-5: (label, mean, std); resize/crop keep ImageNet's 256/224
PREPROCESSING: dict[str, tuple[str, tuple[float, float, float], tuple[float, float, float]]] = {
    "imagenet": (N_("ImageNet mean/std (torchvision, timm)"), IMAGENET_PREPROCESS.mean, IMAGENET_PREPROCESS.std),
    "inception": (N_("[-1, 1] (mean 0.5, std 0.5: TensorFlow, Inception)"), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "unit": (N_("[0, 1] (pixels / 255 only)"), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}


class OnnxError(ValueError):
    """An uploaded file that cannot be read as an ONNX model, or a model that cannot be run; one sentence."""

    def __init__(self, message: str) -> None:
        message = message.strip().splitlines()[0] if message.strip() else message
        super().__init__(message if message.endswith(".") else message + ".")


_EXPORT_HOWTO = ("export it to ONNX instead: torch.onnx.export(model.eval(), (torch.randn(1, 3, 224, 224),), "
                 "\"model.onnx\", dynamo=True, external_data=False)")


def refuse_pickle(raw: bytes, filename: str | None = None) -> None:
    """Raise ``OnnxError`` for a PyTorch pickle (``.pt``/``.pth`` full module, a ``torch.save`` zip, a ``.pt2``
    archive) or a weights-only file, by name or by content; nothing in the file is read beyond its first bytes."""
    ext = os.path.splitext(filename or "")[1].lower()
    zipped = raw[:4] == b"PK\x03\x04"
    pickled = len(raw) > 1 and raw[0] == 0x80 and 2 <= raw[1] <= 5
    if ext in (".pt", ".pth", ".pt2", ".pkl", ".ckpt", ".bin") or zipped or pickled:
        kind = _("a .pt2 archive") if ext == ".pt2" else _("a PyTorch pickle (torch.save)")
        raise OnnxError(_("This is {kind}, not ONNX; it is refused because loading a pickle can run code — "
                          "{howto}").format(kind=kind, howto=_EXPORT_HOWTO))
    if ext == ".safetensors":
        raise OnnxError(_("A .safetensors file holds weights only, no graph; load it on the Predict page, or "
                          "{howto}").format(howto=_EXPORT_HOWTO))


# --------------------------------------------------------------------------------------------------
# the model as read


@dataclass(frozen=True)
class OnnxNode:
    """One ONNX node, with the cost model's op kind and the block it belongs to."""

    name: str
    op_type: str
    domain: str
    op: str  # one of OP_KINDS, or "free" for ops that only reinterpret a tensor (reshape, split, …)
    block: str
    module: str  # the module path that ran it (exporter metadata), else the node name
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class OnnxBlock:
    """One block of the imported graph: a module of the exported network (or a name prefix)."""

    path: str
    kind: str
    label: str
    stage: str
    nodes: tuple[str, ...]  # node names, in graph order


@dataclass(frozen=True)
class OnnxModel:
    """An uploaded ONNX model, analysed: ``profile`` has the same fields a registered model's has."""

    name: str
    digest: str  # sha256 of the file
    size_bytes: int
    producer: str
    opset: int
    inputs: tuple[tuple[str, tuple[Any, ...]], ...]  # (name, shape as declared; strings for dynamic dims)
    outputs: tuple[tuple[str, tuple[Any, ...]], ...]
    input_shape: tuple[int, ...] | None  # the single input's shape as analysed (dynamic batch set to 1)
    output_shape: tuple[int, ...] | None
    nodes: tuple[OnnxNode, ...] = field(repr=False)
    blocks: tuple[OnnxBlock, ...] = field(repr=False)
    shapes: dict[str, tuple[int, ...]] = field(repr=False)  # every tensor with a static shape
    profile: Profile = field(repr=False)
    problems: tuple[str, ...]  # one line each: what is unsupported
    notes: tuple[str, ...]  # one line each: what was assumed
    runnable: bool  # onnxruntime can be asked to run it (one input, known ops, no external data)
    complete: bool  # every node's cost is known (all shapes resolved)
    metadata: dict[str, str] = field(default_factory=dict, repr=False)
    data: bytes = field(default=b"", repr=False, compare=False)  # the analysed model (dynamic dims fixed)

    @property
    def is_classifier(self) -> bool:
        """Looks like an ImageNet classifier: one 1×3×H×W input, one output of 1000 scores."""
        return (self.runnable and self.input_shape is not None and len(self.input_shape) == 4
                and self.input_shape[:2] == (1, 3) and self.output_shape is not None
                and len(self.outputs) == 1 and math.prod(self.output_shape) == 1000)

    @property
    def resolution(self) -> int:
        return self.input_shape[-1] if self.input_shape and len(self.input_shape) == 4 else 0

    def node(self, name: str) -> OnnxNode:
        return next(n for n in self.nodes if n.name == name)


def _shape_of(type_proto: Any) -> tuple[Any, ...] | None:
    if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                 for d in type_proto.tensor_type.shape.dim)


def _static(shape: tuple[Any, ...] | None) -> tuple[int, ...] | None:
    if shape is None or not all(isinstance(d, int) and d > 0 for d in shape):
        return None
    return tuple(int(d) for d in shape)


def _literal_list(text: str | None) -> list[str] | None:
    """A metadata value like "['', 'features', 'features.0']" as a list (a literal only: nothing is evaluated)."""
    if not text or len(text) > 20000:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return [str(v) for v in value] if isinstance(value, list) else None


@functools.cache
def _known_kinds() -> dict[str, str]:
    """Block kind of every layer class the registered models use, by qualified name (the exporter's
    class_hierarchy names): an exported lightnets model gets the colours of its block graph."""
    from lightnets import registry

    kinds = {f"{cls.__module__}.{cls.__qualname__}": kind for cls, kind in registry._BUILTIN_KINDS.items()}
    for name in registry.list_models():
        try:
            rows = registry.Config(name).blocks
        except ValueError:
            continue
        for row in rows:
            kinds.setdefault(f"{row.layer.__module__}.{row.layer.__qualname__}", row.kind)
    return kinds


_FREE_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Shape", "Constant", "Split",
             "Slice", "Expand", "Size", "ConstantOfShape", "Gather", "Cast", "Range", "CastLike"}
_ACT_OPS = {"Relu", "Clip", "HardSwish", "HardSigmoid", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "PRelu", "Gelu",
            "Selu", "Softplus", "Mish", "ThresholdedRelu", "Celu", "Swish"}
_POOL_WINDOW = {"MaxPool", "AveragePool", "LpPool"}
_POOL_GLOBAL = {"GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax", "GlobalLpPool"}
_ACT_LABELS = {"Relu": "ReLU", "Clip": "ReLU6 / clip", "HardSwish": "h-swish", "HardSigmoid": "h-sigmoid",
               "Sigmoid": "sigmoid", "PRelu": "PReLU", "Tanh": "tanh", "LeakyRelu": "leaky ReLU", "Gelu": "GELU"}
_ELEM_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}


def _attrs(node: Any) -> dict[str, Any]:
    import onnx

    out = {}
    for attr in node.attribute:
        try:
            out[attr.name] = onnx.helper.get_attribute_value(attr)
        except Exception:  # noqa: BLE001 - an attribute we cannot read is one we do not need
            continue
    return out


def _op_kind(op_type: str, node: Any, shapes: dict[str, tuple[int, ...]], in_channels: int | None) -> str:
    if op_type in ("Conv", "ConvTranspose", "ConvInteger", "QLinearConv"):
        attrs = _attrs(node)
        group = int(attrs.get("group", 1))
        kernel = tuple(attrs.get("kernel_shape", ()))
        weight = shapes.get(node.input[1]) if len(node.input) > 1 else None
        if not kernel and weight is not None:
            kernel = weight[2:]
        cin = in_channels if in_channels is not None else (weight[1] * group if weight else group)
        return conv_kind(int(cin), group, kernel or (1,))
    if op_type in ("Gemm", "MatMul", "MatMulInteger", "QLinearMatMul", "Einsum"):
        return "linear"
    if op_type in ("BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization"):
        return "bn"
    if op_type in _ACT_OPS:
        return "act"
    if op_type in ("Add", "Sub", "Sum"):
        return "add"
    if op_type in ("Mul", "Div"):
        return "scale"
    if op_type in _POOL_WINDOW or op_type in _POOL_GLOBAL:
        return "pool"
    if op_type == "Concat":
        return "concat"
    if op_type == "Pad":
        return "pad"
    if op_type == "Transpose":
        perm = tuple(_attrs(node).get("perm", ()))
        shape = shapes.get(node.input[0])
        if shape is not None and len(shape) == 5 and perm == (0, 2, 1, 3, 4):
            return "shuffle"  # reshape → transpose → reshape: the channel shuffle
        return "other"
    if op_type in _FREE_OPS:
        return "free"
    return "other"


def _node_label(op_type: str, op: str, node: Any, shapes: dict[str, tuple[int, ...]]) -> str:
    attrs = _attrs(node)
    if op_type == "Conv":
        weight = shapes.get(node.input[1]) if len(node.input) > 1 else None
        out = shapes.get(node.output[0])
        kernel = tuple(attrs.get("kernel_shape", weight[2:] if weight else ()))
        k = "×".join(map(str, kernel))
        stride = tuple(attrs.get("strides", ()))
        s = f", s{stride[0]}" if stride and any(v != 1 for v in stride) else ""
        cin = weight[1] * int(attrs.get("group", 1)) if weight else "?"
        cout = out[1] if out else (weight[0] if weight else "?")
        if op == "depthwise":
            return f"DW {k}, {cout}{s}"
        if op == "group":
            return f"GConv {k}, g={attrs.get('group')}, {cin}→{cout}{s}"
        return f"{'PW' if op == 'pointwise' else 'conv'} {k}, {cin}→{cout}{s}"
    if op_type in ("Gemm", "MatMul"):
        out = shapes.get(node.output[0])
        ins = shapes.get(node.input[0])
        if out and ins:
            return f"FC {ins[-1]}→{out[-1]}"
        return "FC"
    if op_type in _POOL_WINDOW:
        k = "×".join(map(str, attrs.get("kernel_shape", ())))
        st = attrs.get("strides", ())
        return f"{'max' if op_type == 'MaxPool' else 'avg'} pool {k}" + (f", s{st[0]}" if st else "")
    if op_type in _POOL_GLOBAL:
        return "global avg pool" if op_type in ("GlobalAveragePool", "ReduceMean") else "global max pool"
    if op == "shuffle":
        shape = shapes.get(node.input[0])
        return f"channel shuffle, g={shape[1]}" if shape else "channel shuffle"
    if op == "act":
        return _ACT_LABELS.get(op_type, op_type)
    return op_type


def _cost(op_type: str, op: str, node: Any, shapes: dict[str, tuple[int, ...]]) -> tuple[int, int] | None:
    """(MACs, element-wise work) of one node by cost.py's conventions, or None if a shape is unknown."""
    out = shapes.get(node.output[0]) if node.output else None
    if out is None:
        return None
    n_out = math.prod(out)
    if op_type == "Conv":
        weight = shapes.get(node.input[1])
        if weight is None:
            return None
        return n_out * math.prod(weight[1:]), 0
    if op_type == "ConvTranspose":
        weight, x = shapes.get(node.input[1]), shapes.get(node.input[0])
        if weight is None or x is None:
            return None
        return math.prod(x) * math.prod(weight[1:]), 0
    if op_type == "Gemm":
        a = shapes.get(node.input[0])
        if a is None:
            return None
        k = a[0] if _attrs(node).get("transA", 0) else a[-1]
        return n_out * k, 0
    if op_type == "MatMul":
        a = shapes.get(node.input[0])
        if a is None:
            return None
        return n_out * a[-1], 0
    if op in ("free",):
        return 0, 0
    if op_type in _POOL_WINDOW:
        kernel = _attrs(node).get("kernel_shape", ())
        return 0, n_out * math.prod(kernel)
    if op_type in _POOL_GLOBAL:
        x = shapes.get(node.input[0])
        return (0, math.prod(x)) if x is not None else None
    return 0, n_out


def _elem_bytes(dtypes: dict[str, int], name: str) -> int:
    return _ELEM_BYTES.get(dtypes.get(name, 1), 4)


# --------------------------------------------------------------------------------------------------
# reading


def _parse(raw: bytes) -> Any:
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_model_from_string(raw)
    except (DecodeError, RuntimeError, ValueError, TypeError, OverflowError, MemoryError, RecursionError) as err:
        raise OnnxError(_("The file is not an ONNX model: its protobuf could not be parsed ({reason})").format(
            reason=str(err).splitlines()[0] if str(err) else type(err).__name__)) from None
    if not model.graph.node or not model.opset_import or model.ir_version <= 0:
        raise OnnxError(_("The file is not an ONNX model: it holds no graph of operators (a truncated or "
                          "unrelated file?)"))
    return model


def _known_op(op_type: str, domain: str) -> bool:
    import onnx

    if domain in ("", "ai.onnx", "ai.onnx.ml"):
        return onnx.defs.has(op_type, domain)
    if domain == "com.microsoft":  # onnxruntime's own contrib operators
        return True
    return False


def _fix_input_dims(model: Any, size: int, notes: list[str], problems: list[str]) -> None:
    """Dynamic input dimensions made static so that shape inference can resolve every tensor: the batch (the
    first) becomes 1, a dynamic height/width ``size``; a dynamic channel count cannot be guessed."""
    init = {i.name for i in model.graph.initializer}
    for value in model.graph.input:
        if value.name in init or not value.type.HasField("tensor_type"):
            continue
        dims = value.type.tensor_type.shape.dim
        for index, dim in enumerate(dims):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                continue
            what = dim.dim_param or "?"
            if index == 0:
                dim.Clear()
                dim.dim_value = 1
                notes.append(_("The dynamic batch dimension {dim!r} of input {name!r} is taken as 1.").format(
                    dim=what, name=value.name))
            elif len(dims) == 4 and index >= 2:
                dim.Clear()
                dim.dim_value = size
                notes.append(_("The dynamic dimension {dim!r} of input {name!r} is taken as {size} px.").format(
                    dim=what, name=value.name, size=size))
            else:
                problems.append(_("Input {name!r} has a dynamic dimension {dim!r} (axis {axis}) that cannot be "
                                  "guessed: shapes and costs after it are unknown").format(
                    name=value.name, dim=what, axis=index))
    for value in model.graph.output:  # re-inferred from the fixed inputs
        if value.type.HasField("tensor_type") and value.type.tensor_type.HasField("shape"):
            for dim in value.type.tensor_type.shape.dim:
                if not dim.HasField("dim_value"):
                    dim.Clear()


def _infer(model: Any, problems: list[str]) -> Any:
    import onnx

    try:
        return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=True, data_prop=True)
    except Exception as err:  # noqa: BLE001 - InferenceError and friends: fall back to what can be inferred
        problems.append(_("Shape inference failed ({reason}); shapes after that point are unknown").format(
            reason=str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__))
        try:
            return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
        except Exception:  # noqa: BLE001
            return model


def _scopes(node: Any) -> tuple[list[str] | None, list[str] | None]:
    meta = {p.key: p.value for p in node.metadata_props}
    return _literal_list(meta.get(SCOPES_KEY)), _literal_list(meta.get(CLASSES_KEY))


def _scope_block(scopes: list[str], classes: list[str] | None) -> tuple[str, str, str, str]:
    """(block path, its class, the container it sits in, the module that ran the op) from one node's scopes.

    scopes[0] is the root, scopes[-1] the op; the block is the top-level module, or, while that is a plain
    container (nn.Sequential, …), its child: how lightnets' Network nests its Block rows (``features.3``)."""
    modules = scopes[1:-1]
    kinds = (classes or [])[1:-1]
    if not modules:
        return "", "", "", ""
    level = 0
    while level + 1 < len(modules) and level < len(kinds) and kinds[level] in _CONTAINERS:
        level += 1
    container = modules[level - 1] if level > 0 else ""
    cls = kinds[level] if level < len(kinds) else ""
    return modules[level], cls, container, modules[-1]


def _fused_owner(node: Any, found: tuple[str, str, str, str], initializers: dict[str, Any]
                 ) -> tuple[str, str, str, str] | None:
    """Where a conv that the optimiser fused with the BatchNorm after it belongs. The fused node keeps the
    BatchNorm's scopes, but its weight keeps the conv's state_dict name (``features.0.0.weight``): the block is
    the conv's module path cut at the BatchNorm's block level. None when the BatchNorm's block is right."""
    if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in initializers:
        return None
    weight = node.input[1]
    block, _cls, container, module = found
    if not weight.endswith(".weight") or not block:
        return None
    path = weight[:-len(".weight")]
    if path == block or path.startswith(block + "."):
        return None
    depth = block.count(".") + 1  # module paths are cumulative: a block at this level has this many parts
    parts = path.split(".")
    if len(parts) < depth or (container and not path.startswith(container + ".")):
        return None
    return ".".join(parts[:depth]), "", container, path


def _prefix_block(name: str) -> tuple[str, str]:
    """(block, container) from a node name such as '/features/features.3/conv/Conv' (the TorchScript exporter's
    names) or 'model/block_3/conv/Conv2D'."""
    parts = [p for p in re.split(r"/", name) if p]
    if len(parts) < 2:
        return "", ""
    parts = parts[:-1]
    if len(parts) >= 2 and re.fullmatch(re.escape(parts[0]) + r"[._]\d+", parts[1]):
        return parts[1], parts[0]
    return parts[0], ""


def read_onnx(data: Any, filename: str | None = None, size: int = 224) -> OnnxModel:
    """Read and analyse an ONNX model (bytes, a path or a binary file object, at most ``MAX_ONNX_BYTES``).

    Nothing in the file is executed: it is parsed as a protobuf, checked, and its shapes inferred. A PyTorch
    pickle or ``.pt2`` archive is refused (by name or content). Dynamic input dimensions become 1 (batch) and
    ``size`` px (height, width). Raises ``OnnxError`` (a ``ValueError``, one line) when the file is not an ONNX
    model at all; everything that is unsupported in a model that can be read is listed in ``problems``.
    """
    import onnx

    raw = read_limited(data, MAX_ONNX_BYTES, "ONNX", OnnxError)
    if filename is None and isinstance(data, (str, os.PathLike)):
        filename = os.fspath(data)
    refuse_pickle(raw, filename)
    digest = hashlib.sha256(raw).hexdigest()
    key = (digest, int(size))
    with _cache_lock:
        hit = _read_cache.get(key)
    if hit is not None:
        return replace(hit, name=os.path.basename(filename) if filename else hit.name)
    model = _parse(raw)
    problems: list[str] = []
    notes: list[str] = []
    try:
        onnx.checker.check_model(model)
    except Exception as err:  # noqa: BLE001 - ValidationError; the model may still be shown
        text = str(err).strip().splitlines()
        problems.append(_("The ONNX checker rejects the model: {reason}").format(
            reason=(text[0] if text else type(err).__name__)[:300]))
    external = [i.name for i in model.graph.initializer if i.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        problems.append(_("{n} weight tensors are stored in external data files (e.g. {name!r}), which are not "
                          "supported: export with external_data=False to get one self-contained file").format(
            n=len(external), name=external[0]))
    if model.functions:
        try:
            model = onnx.inliner.inline_local_functions(model)
        except Exception:  # noqa: BLE001
            problems.append(_("The model's local functions could not be inlined; their insides are not shown"))
    unknown = sorted({f"{n.op_type} ({n.domain})" if n.domain else n.op_type for n in model.graph.node
                      if not _known_op(n.op_type, n.domain)})
    if unknown:
        problems.append(_("Unknown operators {ops}: onnxruntime cannot run the model, and their costs are "
                          "counted as element-wise work").format(ops=", ".join(unknown[:5])))
    init_names = {i.name for i in model.graph.initializer}
    declared_in = tuple((v.name, _shape_of(v.type) or ()) for v in model.graph.input if v.name not in init_names)
    declared_out = tuple((v.name, _shape_of(v.type) or ()) for v in model.graph.output)
    if len(declared_in) != 1:
        problems.append(_("The model has {n} inputs ({names}); only models with one image input can be timed or "
                          "run on a photo").format(n=len(declared_in),
                                                   names=", ".join(n for n, _shape in declared_in) or "-"))
    _fix_input_dims(model, int(size), notes, problems)
    inferred = _infer(model, problems)
    result = _analyse(inferred, raw_name=os.path.basename(filename) if filename else (model.graph.name or "model"),
                      digest=digest, size_bytes=len(raw), declared_in=declared_in, declared_out=declared_out,
                      problems=problems, notes=notes,
                      runnable=not external and not unknown and len(declared_in) == 1)
    with _cache_lock:
        _read_cache[key] = result
        while len(_read_cache) > 8:
            _read_cache.popitem(last=False)
    return result


_cache_lock = threading.Lock()
_read_cache: OrderedDict[tuple[str, int], OnnxModel] = OrderedDict()


def _analyse(model: Any, raw_name: str, digest: str, size_bytes: int, declared_in: tuple, declared_out: tuple,
             problems: list[str], notes: list[str], runnable: bool) -> OnnxModel:
    graph = model.graph
    shapes: dict[str, tuple[int, ...]] = {}
    dtypes: dict[str, int] = {}
    initializers = {i.name: i for i in graph.initializer}
    for init in graph.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
        dtypes[init.name] = init.data_type
    for value in list(graph.input) + list(graph.value_info) + list(graph.output):
        static = _static(_shape_of(value.type))
        if value.type.HasField("tensor_type"):
            dtypes.setdefault(value.name, value.type.tensor_type.elem_type)
        if static is not None:
            shapes[value.name] = static
        elif value.name in shapes and len(shapes[value.name]) == 0:
            pass
    for node in graph.node:  # Constant nodes: their value's shape is known without inference
        if node.op_type == "Constant" and node.output:
            value = _attrs(node).get("value")
            if value is not None and hasattr(value, "dims"):
                shapes[node.output[0]] = tuple(int(d) for d in value.dims)
                dtypes[node.output[0]] = value.data_type
    # scalars inferred as shape () are static too
    for value in list(graph.value_info) + list(graph.output):
        shape = _shape_of(value.type)
        if shape == ():
            shapes[value.name] = ()

    metadata = {p.key: p.value for p in model.metadata_props}
    stages: dict[str, str] = {}
    if "lightnets.stages" in metadata:
        try:
            loaded = json.loads(metadata["lightnets.stages"])
            stages = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
        except (ValueError, TypeError):
            stages = {}

    producer_of = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)

    # blocks: from the exporter's module scopes, else from name prefixes
    raw_blocks: list[tuple[str, str, str, str]] = []
    scoped = 0
    for node in graph.node:
        scopes, classes = _scopes(node)
        if scopes:
            scoped += 1
            found = _scope_block(scopes, classes)
            raw_blocks.append(_fused_owner(node, found, initializers) or found)
        else:
            block, container = _prefix_block(node.name)
            raw_blocks.append((block, "", container, ""))
    names = [n.name or f"{n.op_type}_{i}" for i, n in enumerate(graph.node)]
    index_of = {id(n): i for i, n in enumerate(graph.node)}
    if scoped:  # nodes the optimiser created have no scope: they go with the block that uses their output
        for i, node in enumerate(graph.node):
            if raw_blocks[i][0]:
                continue
            found = None
            for out in node.output:
                for consumer in consumers.get(out, []):
                    j = index_of[id(consumer)]
                    if raw_blocks[j][0]:
                        found = raw_blocks[j]
                        break
                if found:
                    break
            if found is None:
                for name in node.input:
                    producer = producer_of.get(name)
                    if producer is not None and raw_blocks[index_of[id(producer)]][0]:
                        found = raw_blocks[index_of[id(producer)]]
                        break
            raw_blocks[i] = (found[0], found[1], found[2], "") if found else (names[i], "", "", "")
    else:
        raw_blocks = [(b or names[i], c, k, m) for i, (b, c, k, m) in enumerate(raw_blocks)]

    kinds = _known_kinds()
    seen_weights: set[str] = set()
    derived: dict[str, int] = {}  # outputs of free ops on weights, with the parameters they carry
    nodes: list[OnnxNode] = []
    layers: list[LayerCost] = []
    unresolved: list[str] = []
    elementwise: dict[str, int] = {kind: 0 for kind in ELEMENTWISE_KINDS}
    out_bytes_total = 0
    peak = 0
    block_stage: dict[str, str] = {}
    for i, node in enumerate(graph.node):
        block, cls, container, module = raw_blocks[i]
        stage = stages.get(block, container)
        block_stage.setdefault(block, stage)
        in_shape = shapes.get(node.input[0]) if node.input else None
        cin = in_shape[1] if in_shape is not None and len(in_shape) >= 2 else None
        op = _op_kind(node.op_type, node, shapes, cin)
        label = _node_label(node.op_type, op, node, shapes)
        nodes.append(OnnxNode(name=names[i], op_type=node.op_type, domain=node.domain, op=op, block=block,
                              module=module or names[i], inputs=tuple(node.input), outputs=tuple(node.output),
                              label=label))
        if op == "free" or node.op_type == "Constant":
            # a weight reshaped on its way (PReLU's slope, C → C×1×1) is still a weight: its parameters go to
            # the op that uses it
            weights_in = [name for name in node.input if name in initializers or name in derived]
            if weights_in and all(name in initializers or name in derived or dtypes.get(name, 1) == 7
                                  for name in node.input if name):
                count = 0
                for name in weights_in:
                    if name in derived:
                        count += derived.pop(name)
                    elif name not in seen_weights and dtypes.get(name, 1) in (1, 10, 11, 16):
                        count += math.prod(shapes.get(name, ()))
                        seen_weights.add(name)
                for out in node.output:
                    derived[out] = count
                    count = 0
            continue
        cost = _cost(node.op_type, op, node, shapes)
        if cost is None:
            unresolved.append(f"{node.op_type} {names[i]!r}")
            cost = (0, 0)
        macs, work = cost
        # parameters: initializers (and Constant outputs) this node is the first to use, except scalars and
        # integer tensors (clip bounds, shapes, axes); BatchNorm's running statistics are buffers, as in PyTorch
        params = 0
        read = act_read = 0
        for position, name in enumerate(node.input):
            if not name:
                continue
            shape = shapes.get(name)
            nbytes = math.prod(shape) * _elem_bytes(dtypes, name) if shape is not None else 0
            is_weight = name in initializers or name in derived or (
                producer_of.get(name) is not None and producer_of[name].op_type == "Constant")
            read += nbytes
            if not is_weight:
                act_read += nbytes
                continue
            if name in derived:
                params += derived.pop(name)
                seen_weights.add(name)
                continue
            numel = math.prod(shape) if shape is not None else 0
            floating = dtypes.get(name, 1) in (1, 10, 11, 16)
            buffer = node.op_type == "BatchNormalization" and position >= 3
            if name not in seen_weights and floating and numel > 1 and not buffer:
                params += numel
            seen_weights.add(name)
        written = 0
        for name in node.output:
            shape = shapes.get(name)
            if shape is not None:
                written += math.prod(shape) * _elem_bytes(dtypes, name)
        out_shape = shapes.get(node.output[0], ()) if node.output else ()
        attrs = _attrs(node)
        kernel = stride = None
        groups = None
        if node.op_type in ("Conv", "MaxPool", "AveragePool", "ConvTranspose"):
            k = tuple(attrs.get("kernel_shape", ()))
            if not k and node.op_type == "Conv" and len(node.input) > 1 and shapes.get(node.input[1]):
                k = shapes[node.input[1]][2:]
            kernel = (int(k[0]), int(k[-1])) if k else None
            s = tuple(attrs.get("strides", (1, 1)))
            stride = (int(s[0]), int(s[-1])) if s else (1, 1)
            groups = int(attrs.get("group", 1)) if node.op_type != "MaxPool" and node.op_type != "AveragePool" \
                else None
        if op in elementwise:
            elementwise[op] += work
        out_bytes_total += written
        peak = max(peak, act_read + written)
        layers.append(LayerCost(name=module or names[i], block=block, stage=stage, op=op,
                                input_shape=tuple(in_shape or ()), output_shape=tuple(out_shape), kernel=kernel,
                                stride=stride, groups=groups, params=params, macs=int(macs), elementwise=int(work),
                                mem_bytes=int(read + written)))
    if unresolved:
        problems.append(_("Shape inference could not resolve {n} tensors (e.g. {first}): their costs are left "
                          "out of the totals").format(n=len(unresolved), first=unresolved[0]))

    # blocks in graph order, with their class's kind and a label from what they compute
    order: list[str] = []
    members: dict[str, list[OnnxNode]] = defaultdict(list)
    block_class: dict[str, str] = {}
    for i, node in enumerate(nodes):
        if node.block not in members:
            order.append(node.block)
        members[node.block].append(node)
        block_class.setdefault(node.block, raw_blocks[i][1])
    blocks = []
    for path in order:
        cls = block_class.get(path, "")
        short = cls.rsplit(".", 1)[-1] if cls else ""
        main = [n for n in members[path] if n.op not in ("free",)]
        kind = kinds.get(cls) or (short or (main[0].op_type if main else members[path][0].op_type))
        costly = [n.label for n in main if n.op in ("dense", "pointwise", "depthwise", "group", "linear")]
        if not costly:
            costly = list(dict.fromkeys(n.label for n in main))[:3]
        shown = costly[:4] + ([_("+{n} more").format(n=len(costly) - 4)] if len(costly) > 4 else [])
        label = ", ".join(([short] if short else []) + shown) or path
        blocks.append(OnnxBlock(path=path, kind=kind, label=label, stage=block_stage.get(path, ""),
                                nodes=tuple(n.name for n in members[path])))

    # block input/output tensors: what enters from outside the block, what leaves it
    block_costs = []
    by_block: dict[str, list[LayerCost]] = defaultdict(list)
    for row in layers:
        by_block[row.block].append(row)
    node_block = {n.name: n.block for n in nodes}
    produced_in = {out: n.block for n in nodes for out in n.outputs}
    graph_outputs = {v.name for v in graph.output}
    for blk in blocks:
        entering = [name for n in (members[blk.path]) for name in n.inputs
                    if name and name not in initializers and produced_in.get(name) != blk.path
                    and (producer_of.get(name) is None or producer_of[name].op_type != "Constant")]
        leaving = [out for n in members[blk.path] for out in n.outputs
                   if out in graph_outputs or any(node_block[names[index_of[id(c)]]] != blk.path
                                                  for c in consumers.get(out, []))]
        rows = by_block[blk.path]
        block_costs.append(BlockCost(
            path=blk.path, label=blk.label, kind=blk.kind, stage=blk.stage,
            input_shape=shapes.get(entering[0], ()) if entering else (),
            output_shape=shapes.get(leaving[-1], ()) if leaving else (),
            params=sum(r.params for r in rows), macs=sum(r.macs for r in rows),
            elementwise=sum(r.elementwise for r in rows), mem_bytes=sum(r.mem_bytes for r in rows)))

    in_names = [n for n, _shape in declared_in]
    input_shape = shapes.get(in_names[0]) if len(in_names) == 1 else None
    output_shape = shapes.get(declared_out[0][0]) if declared_out else None
    first_dtype = dtypes.get(in_names[0], 1) if in_names else 1
    total_params = sum(r.params for r in layers)
    prof = Profile(name=raw_name, knobs={}, resolution=input_shape[-1] if input_shape and len(input_shape) == 4
                   else 0, params=total_params, macs=sum(r.macs for r in layers), elementwise=elementwise,
                   activation_bytes=out_bytes_total, peak_activation_bytes=peak,
                   mem_bytes=sum(r.mem_bytes for r in layers), dtype_bytes=_ELEM_BYTES.get(first_dtype, 4),
                   layers=tuple(layers), blocks=tuple(block_costs))
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return OnnxModel(name=raw_name, digest=digest, size_bytes=size_bytes, producer=(
        f"{model.producer_name} {model.producer_version}".strip()), opset=int(opset), inputs=declared_in,
        outputs=declared_out, input_shape=input_shape, output_shape=output_shape, nodes=tuple(nodes),
        blocks=tuple(blocks), shapes=shapes, profile=prof, problems=tuple(problems), notes=tuple(notes),
        runnable=runnable, complete=not unresolved, metadata=metadata, data=model.SerializeToString())


# --------------------------------------------------------------------------------------------------
# drawing


@dataclass(frozen=True)
class _Fold:
    id: str
    paths: tuple[str, ...]
    block: BlockCost


def _folds(model: OnnxModel) -> list[_Fold]:
    """Consecutive blocks with the same kind, label, stage and shapes drawn as one node "× n"."""
    out: list[_Fold] = []
    for cost in model.profile.blocks:
        last = out[-1].block if out else None
        if (last is not None and (cost.kind, cost.label, cost.stage, cost.input_shape, cost.output_shape)
                == (last.kind, last.label, last.stage, last.input_shape, last.output_shape)
                and cost.input_shape == cost.output_shape):
            out[-1] = _Fold(out[-1].id, out[-1].paths + (cost.path,), last)
        else:
            out.append(_Fold(f"b{len(out)}", (cost.path,), cost))
    return out


def onnx_block_graph(model: OnnxModel) -> str:
    """DOT text of the imported model's block graph, drawn like ``lightnets.block_graph``: one node per block
    (identical consecutive blocks folded into "× n"), filled by block kind, grouped by stage (or the container
    the exporter names), with the tensor shape on every edge. Edges follow the data flow between blocks."""
    from lightnets.graph import _WHITE, _digraph, _dot_text, _legend, block_kind_color, shape_text, wrap_label

    folds = _folds(model)
    fold_of = {path: fold.id for fold in folds for path in fold.paths}
    in_text = "×".join(map(str, model.input_shape)) if model.input_shape else "?"
    dot = _digraph("onnx", _("{name} (ONNX), input {shape}").format(name=model.name, shape=in_text))
    inputs = [name for name, _shape in model.inputs]
    for name in inputs:
        shape = model.shapes.get(name)
        dot.node(f"in:{name}", _dot_text(f"{name}\n{shape_text(shape) if shape else '?'}"), shape="box",
                 style="filled", fillcolor=_WHITE)
    runs: list[list[_Fold]] = []
    for fold in folds:
        if runs and fold.block.stage and runs[-1][0].block.stage == fold.block.stage:
            runs[-1].append(fold)
        else:
            runs.append([fold])
    for index, run in enumerate(runs):
        def add(target: Any, fold: _Fold) -> None:
            label = wrap_label(fold.block.label) + (f"\n× {len(fold.paths)}" if len(fold.paths) > 1 else "")
            tooltip = fold.paths[0] if len(fold.paths) == 1 else f"{fold.paths[0]} … {fold.paths[-1]}"
            target.node(fold.id, _dot_text(label), fillcolor=block_kind_color(fold.block.kind), tooltip=tooltip)

        if run[0].block.stage:
            with dot.subgraph(name=f"cluster_{index}") as cluster:
                cluster.attr(label=_dot_text(run[0].block.stage), style="rounded,dashed", color="#888888",
                             fontsize="18", labeljust="l")
                for fold in run:
                    add(cluster, fold)
        else:
            for fold in run:
                add(dot, fold)
    produced = {out: fold_of[n.block] for n in model.nodes for out in n.outputs}
    edges: dict[tuple[str, str], str] = {}
    for node in model.nodes:
        head = fold_of[node.block]
        for name in node.inputs:
            tail = produced.get(name) or (f"in:{name}" if name in inputs else None)
            if tail is None or tail == head:
                continue
            shape = model.shapes.get(name)
            edges.setdefault((tail, head), shape_text(shape) if shape else "?")
    for (tail, head), label in edges.items():
        dot.edge(tail, head, label=label)
    for name, _shape in model.outputs:
        shape = model.shapes.get(name)
        dot.node(f"out:{name}", _dot_text(f"{name}\n{shape_text(shape) if shape else '?'}"), shape="box",
                 style="filled", fillcolor=_WHITE)
        if name in produced:
            dot.edge(produced[name], f"out:{name}", label=shape_text(shape) if shape else "?")
    kinds = list(dict.fromkeys(fold.block.kind for fold in folds))
    dot.node("__legend__", _legend(kinds), shape="plaintext", style="")
    return dot.source


def onnx_inner_graph(model: OnnxModel, block: str) -> str:
    """DOT text of one block's ONNX nodes (op-level), coloured by op kind, tensor shapes on the edges."""
    from lightnets.graph import INNER_COLORS, _WHITE, _digraph, _dot_text, shape_text

    members = [n for n in model.nodes if n.block == block and n.op_type != "Constant"]
    if not members:
        raise OnnxError(_("The model has no block {block!r}").format(block=block))
    dot = _digraph("inner", _("{block}: ONNX operators").format(block=block))
    produced = {out: n.name for n in members for out in n.outputs}
    entry: dict[str, str] = {}
    for node in members:
        dot.node(node.name, _dot_text(node.label), fillcolor=INNER_COLORS.get(
            node.op if node.op != "free" else "other", _WHITE), tooltip=f"{node.op_type} {node.name}")
    weights = {n for n in model.shapes if n in _initializer_like(model)}
    for node in members:
        for name in node.inputs:
            if not name or name in weights:
                continue
            tail = produced.get(name)
            shape = model.shapes.get(name)
            if tail is None:
                tail = entry.setdefault(name, f"in{len(entry)}")
                dot.node(tail, _dot_text(_("in {shape}").format(shape=shape_text(shape) if shape else "?")),
                         shape="box", style="filled", fillcolor=_WHITE)
            dot.edge(tail, node.name, label=shape_text(shape) if shape else "")
    return dot.source


def _initializer_like(model: OnnxModel) -> set[str]:
    produced = {out for n in model.nodes for out in n.outputs}
    inputs = {name for name, _shape in model.inputs}
    return {name for name in model.shapes if name not in produced and name not in inputs}


# --------------------------------------------------------------------------------------------------
# running with onnxruntime


_session_lock = threading.Lock()
_sessions: OrderedDict[tuple[str, int], Any] = OrderedDict()


def _session(model: OnnxModel, threads: int) -> Any:
    if not model.runnable:
        raise OnnxError(_("onnxruntime cannot run this model: {reason}").format(
            reason=model.problems[0] if model.problems else _("unsupported")))
    key = (model.digest + str(model.input_shape), threads)
    with _session_lock:
        if key in _sessions:
            _sessions.move_to_end(key)
            return _sessions[key]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(model.data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise OnnxError(_("onnxruntime cannot load the model: {reason}").format(
            reason=str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__)) from None
    with _session_lock:
        _sessions[key] = session
        while len(_sessions) > 4:
            _sessions.popitem(last=False)
    return session


def _input_array(model: OnnxModel, seed: int = 0) -> np.ndarray:
    if model.input_shape is None:
        raise OnnxError(_("The model's input shape is unknown, so it cannot be run"))
    return np.random.default_rng(seed).standard_normal(model.input_shape, dtype=np.float32)


def onnx_run(model: OnnxModel, x: np.ndarray, threads: int | None = None) -> np.ndarray:
    """The model's first output for input ``x``, computed by onnxruntime on the CPU."""
    session = _session(model, threads or (os.cpu_count() or 1))
    try:
        return np.asarray(session.run(None, {model.inputs[0][0]: x.astype(np.float32)})[0])
    except Exception as err:  # noqa: BLE001
        raise OnnxError(_("onnxruntime could not run the model: {reason}").format(
            reason=str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__)) from None


def onnx_latency(model: OnnxModel, threads: int | None = None, budget_s: float = 1.0, min_runs: int = 10) -> Any:
    """Latency of the model with onnxruntime on the CPU (batch 1 as analysed), as a ``LatencyResult``; timed
    under the same process-wide lock as every other measurement, so two never overlap."""
    import torch

    from lightnets import latency

    used = threads or torch.get_num_threads()
    session = _session(model, used)
    feed = {model.inputs[0][0]: _input_array(model)}
    with latency._LOCK:
        try:
            times, warm = latency._timed_runs(lambda: session.run(None, feed), torch.device("cpu"),
                                              float(budget_s), int(min_runs), 100000, precision=0.01)
        except Exception as err:  # noqa: BLE001
            raise OnnxError(_("onnxruntime could not run the model: {reason}").format(
                reason=str(err).strip().splitlines()[0][:300])) from None
    return latency.LatencyResult.from_times(times, name=model.name, mode="onnxruntime",
                                            device=latency.device_name("cpu"), threads=used, batch=1,
                                            resolution=model.resolution, warmup_runs=warm,
                                            load_average=latency._load_average())


def onnx_predict(model: OnnxModel, image: Any, preprocessing: str = "imagenet", topk: int = 5) -> Any:
    """Top-k ImageNet classes of ``image`` (a PIL image, bytes or path) with onnxruntime, as a ``Prediction``.
    ``preprocessing`` is a key of ``PREPROCESSING``; the shorter side is resized to 256/224 of the input size and
    the centre cropped, as for ImageNet. Needs ``model.is_classifier``."""
    import time

    import torch
    from PIL import Image

    from lightnets.prediction import Prediction, imagenet_labels, load_image, prepare

    if not model.is_classifier:
        raise OnnxError(_("Top-5 needs an ImageNet classifier: one 1×3×H×W input and 1000 outputs"))
    if preprocessing not in PREPROCESSING:
        raise OnnxError(_("Unknown preprocessing {name!r}; choose one of {names}").format(
            name=preprocessing, names=", ".join(PREPROCESSING)))
    if not isinstance(image, Image.Image):
        image = load_image(image)
    _label, mean, std = PREPROCESSING[preprocessing]
    h, w = model.input_shape[2], model.input_shape[3]
    crop = min(h, w)
    pre = Preprocess(int(round(crop * IMAGENET_PREPROCESS.resize / IMAGENET_PREPROCESS.crop)), crop, mean, std)
    view, x = prepare(image, pre)
    array = x.numpy()
    if (h, w) != (crop, crop):
        raise OnnxError(_("Only square inputs can be run on a photo; this model takes {h}×{w}").format(h=h, w=w))
    onnx_run(model, array)  # warm-up: the first run pays one-off costs
    start = time.perf_counter()
    logits = onnx_run(model, array).reshape(-1)
    seconds = time.perf_counter() - start
    probs = torch.softmax(torch.from_numpy(logits.astype(np.float32)), dim=0)
    values, indices = probs.topk(topk)
    labels = imagenet_labels()
    rows = [(int(i), labels[int(i)], float(p)) for p, i in zip(values, indices)]
    return Prediction(topk=rows, input=x, seconds=seconds, view=view, preprocess=pre, model=model.name,
                      weights=_("the ONNX file's own weights"))
