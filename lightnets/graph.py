"""Block graphs as graphviz DOT text: the whole network, and the inside of one block.

The whole-network graph draws the same ``Block`` rows that ``build`` assembles, one node per row (identical
consecutive rows folded into "× n"), with the tensor shapes ``cost.profile`` finds between them. The inside of
a block is read from the built module itself: ``torch.fx`` traces it symbolically, an interpreter runs the trace
on meta tensors for the shapes, and conv → BN → activation chains are collapsed into one readable node. The
drawing therefore cannot disagree with the model.

Only DOT text is produced here; the browser lays it out (``st.graphviz_chart``), so no graphviz binary is needed.
"""

from __future__ import annotations

import functools
import html
import re
import threading
import zlib
from dataclasses import dataclass, field, replace
from typing import Any

import graphviz
import torch
import torch.fx
import torch.utils._pytree
from torch import nn

from lightnets.cost import MetaBuild, profile
from lightnets.figures.style import OP_COLORS
from lightnets.formatting import knob_text
from lightnets.i18n import _, language
from lightnets.layers import ChannelShuffle
from lightnets.ops import ACTIVATION_CLASSES, CONV_KINDS, activation_label, conv_kind, kind_label
from lightnets.registry import Block, Config, assemble, stage_label

FONT = "Helvetica,Arial,sans-serif"
_WHITE = "#ffffff"


def _lighten(color: str, amount: float = 0.55) -> str:
    """``color`` mixed with white: a fill light enough for black text on a projector."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in (r, g, b))


# Block kinds (``Block.kind``). Plain layers reuse the chart colours of their op kind, lightened; each block
# family gets a colour of ColorBrewer's Set3, pastel and mutually distinguishable.
BLOCK_KIND_COLORS: dict[str, str] = {
    "conv": _lighten(OP_COLORS["dense"]),
    "pool": _lighten(OP_COLORS["pool"]),
    "linear": _lighten(OP_COLORS["linear"]),
    "act": _lighten(OP_COLORS["act"]),
    "bn": _lighten(OP_COLORS["bn"]),
    "shuffle": _lighten(OP_COLORS["shuffle"]),
    "squeeze-excite": _lighten(OP_COLORS["scale"]),
    "dropout": "#f2f2f2",
    "flatten": "#ffffff",
    "fire": "#8dd3c7",
    "depthwise separable": "#b3de69",
    "inverted residual": "#80b1d3",
    "bneck": "#bebada",
    "shuffle unit": "#fdb462",
    "shuffle v2 unit": "#ffed6f",
    "MBConv": "#fccde5",
    "squeezenext block": "#ccebc5",
    "ghost bottleneck": "#fb8072",
    "ghost module": "#fdcdac",
    "fbnet block": "#bc80bd",
    "eesp": "#d9d9d9",
    "strided eesp": "#b3cde3",
}
# for kinds registered later (new families): a stable pick from the rest of Set3 and Pastel1
_SPARE_COLORS = ("#ffffb3", "#decbe4", "#fed9a6", "#e5d8bd", "#f2f2f2", "#fddaec", "#c7e9c0", "#fdd0a2")


def block_kind_color(kind: str) -> str:
    """Fill colour of a block kind in the graphs and their legend."""
    color = BLOCK_KIND_COLORS.get(kind)
    if color is None:
        color = _SPARE_COLORS[zlib.crc32(kind.encode()) % len(_SPARE_COLORS)]
    return color


# inner-graph op kinds: cost.OP_KINDS plus the graph's own
INNER_COLORS: dict[str, str] = {op: _lighten(color) for op, color in OP_COLORS.items()}
INNER_COLORS.update({"input": _WHITE, "output": _WHITE, "split": _lighten(OP_COLORS["concat"]), "block": "#e8e8e8"})


def shape_text(shape: tuple[int, ...]) -> str:
    """A tensor shape without its batch dimension: ``C×H×W`` or ``C``."""
    return "×".join(str(int(d)) for d in shape[1:]) or _("scalar")


def _dot_text(text: str) -> str:
    """A label for the graphviz package: keep backslashes literal, turn newlines into DOT line breaks."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def wrap_label(text: str, width: int = 40) -> str:
    """Break a long "a, b, c" label after commas (", " or a Chinese "，") into lines of about ``width``
    characters (narrow boxes)."""
    tokens = re.split(r"(, |，)", text)
    parts, separators = tokens[0::2], tokens[1::2]
    lines: list[str] = []
    for i, part in enumerate(parts):
        separator = separators[i - 1] if i else ""
        if lines and len(lines[-1]) + len(separator) + len(part) <= width:
            lines[-1] += separator + part
        else:
            if lines:
                lines[-1] += separator.rstrip()
            lines.append(part)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# the whole network


@dataclass(frozen=True)
class GraphNode:
    """One node of the block graph: a block row, or a run of identical consecutive rows."""

    id: str  # path of the first row
    paths: tuple[str, ...]
    label: str
    kind: str
    stage: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    takes_image: bool = False

    @property
    def count(self) -> int:
        return len(self.paths)


def block_nodes(config: Config) -> list[GraphNode]:
    """The nodes of ``block_graph``: the profile's rows with consecutive identical rows folded."""
    prof = profile(config)
    shapes = {b.path: (b.input_shape, b.output_shape) for b in prof.blocks}
    nodes: list[GraphNode] = []
    previous: Block | None = None
    for row in prof.rows:
        shape_in, shape_out = shapes[row.path]
        if (previous is not None and nodes and row.layer is previous.layer and dict(row.args) == dict(previous.args)
                and row.stage == previous.stage and (shape_in, shape_out) == (nodes[-1].input_shape,
                                                                              nodes[-1].output_shape)):
            nodes[-1] = replace(nodes[-1], paths=nodes[-1].paths + (row.path,))
        else:
            nodes.append(GraphNode(row.path, (row.path,), row.label, row.kind, row.stage, shape_in, shape_out,
                                   row.takes_image))
        previous = row
    return nodes


def _legend(kinds: list[str]) -> str:
    rows = "".join(f'<TR><TD BGCOLOR="{block_kind_color(k)}" WIDTH="28"> </TD>'
                   f'<TD ALIGN="LEFT">{html.escape(kind_label(k))}</TD></TR>' for k in kinds)
    title = html.escape(_("block kinds"))  # outside the f-string: Babel does not read calls inside one
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="2" CELLPADDING="4"><TR><TD COLSPAN="2"><B>{title}</B>' \
           f"</TD></TR>{rows}</TABLE>>"


def _digraph(name: str, title: str) -> graphviz.Digraph:
    # sizes chosen for a projector: 16 pt nodes, 14 pt shapes on the edges, a 22 pt title
    return graphviz.Digraph(
        name,
        graph_attr=dict(rankdir="TB", fontname=FONT, fontsize="22", labelloc="t", label=_dot_text(title),
                        nodesep="0.35", ranksep="0.45", bgcolor="transparent"),
        node_attr=dict(shape="box", style="rounded,filled", fontname=FONT, fontsize="16", margin="0.2,0.1",
                       penwidth="1.2", color="#444444"),
        edge_attr=dict(fontname=FONT, fontsize="14", color="#555555", arrowsize="0.8"),
    )


def block_graph(config: Config) -> str:
    """DOT text of the whole network: input → stem → stages → head → output.

    One node per block row (identical consecutive rows folded into "× n"), labelled with ``Block.label``,
    filled by ``Block.kind`` (legend included) and grouped by stage; edges carry the tensor shape C×H×W at the
    configuration's resolution. ``ValueError`` when the net cannot run at that size. In the current language.
    """
    return _block_graph(config, language())


@functools.lru_cache(maxsize=128)
def _block_graph(config: Config, language: str) -> str:  # language: part of the key (the labels are in it)
    resolution = config.resolution
    nodes = block_nodes(config)
    # short lines: the widest element sets the drawing's width, and a wide drawing is scaled down to fit the page
    title = (_("{model}, input {resolution}×{resolution}").format(model=config.spec.title, resolution=resolution)
             + "\n" + wrap_label(knob_text(config.knobs), 36))
    dot = _digraph(config.name, title)
    image_shape = (1, 3, resolution, resolution)
    dot.node("__input__", _dot_text(_("input image") + f"\n{shape_text(image_shape)}"), shape="box", style="filled",
             fillcolor=_WHITE)
    # consecutive nodes of one stage share a cluster
    runs: list[list[GraphNode]] = []
    for node in nodes:
        if runs and node.stage and runs[-1][0].stage == node.stage:
            runs[-1].append(node)
        else:
            runs.append([node])
    for index, run in enumerate(runs):
        def add(target: graphviz.Digraph, node: GraphNode) -> None:
            label = wrap_label(node.label) + (f"\n× {node.count}" if node.count > 1 else "")
            tooltip = (node.paths[0] if node.count == 1
                       else _("{first} … {last} ({count} blocks)").format(first=node.paths[0], last=node.paths[-1],
                                                                            count=node.count))
            target.node(node.id, _dot_text(label), fillcolor=block_kind_color(node.kind), tooltip=tooltip)

        if run[0].stage:
            with dot.subgraph(name=f"cluster_{index}") as cluster:
                cluster.attr(label=_dot_text(stage_label(run[0].stage)), style="rounded,dashed", color="#888888",
                             fontsize="18", labeljust="l")
                for node in run:
                    add(cluster, node)
        else:
            for node in run:
                add(dot, node)
    previous = "__input__"
    for node in nodes:
        dot.edge(previous, node.id, label=shape_text(node.input_shape))
        if node.takes_image:  # the block also reads the (down-sampled) input image
            # unlabelled: the same image shape on several long edges only clutters the drawing
            dot.edge("__input__", node.id, style="dashed", color="#999999", constraint="false",
                     tooltip=_("the input image {shape}, down-sampled inside the block").format(
                         shape=shape_text(image_shape)))
        previous = node.id
    dot.node("__output__", _dot_text(_("output") + f"\n{shape_text(nodes[-1].output_shape)}"), shape="box",
             style="filled", fillcolor=_WHITE)
    dot.edge(previous, "__output__", label=shape_text(nodes[-1].output_shape))
    kinds = list(dict.fromkeys(node.kind for node in nodes))
    dot.node("__legend__", _legend(kinds), shape="plaintext", style="")
    return dot.source


# --------------------------------------------------------------------------------------------------
# inside one block


@dataclass(frozen=True)
class InnerNode:
    id: str
    label: str
    op: str  # a cost.OP_KINDS kind, or input / output / split / block
    shape: tuple[int, ...]  # the tensor it produces (batch 1); its input for split and output nodes
    modules: tuple[str, ...] = ()  # qualified names (inside the block) of the modules it stands for
    group: str = ""  # the submodule (qualified name) whose cluster it is drawn in, if any


@dataclass(frozen=True)
class InnerEdge:
    tail: str
    head: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class InnerGraph:
    """The inside of one block; ``traced`` is False when it fell back to a single node."""

    path: str
    label: str
    kind: str
    nodes: tuple[InnerNode, ...]
    edges: tuple[InnerEdge, ...]
    traced: bool
    note: str = ""
    groups: tuple[tuple[str, str], ...] = ()  # (submodule, caption) of the clusters

    def node(self, node_id: str) -> InnerNode:
        return next(n for n in self.nodes if n.id == node_id)

    def ops(self, op: str) -> list[InnerNode]:
        return [n for n in self.nodes if n.op == op]

    def successors(self, node_id: str) -> list[InnerNode]:
        return [self.node(e.head) for e in self.edges if e.tail == node_id]

    def predecessors(self, node_id: str) -> list[InnerNode]:
        return [self.node(e.tail) for e in self.edges if e.head == node_id]


# treated as single operators when tracing (everything else from torch.nn is a leaf by fx's own rule)
_LEAVES: tuple[type, ...] = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm1d, nn.MaxPool2d, nn.AvgPool2d,
                             nn.AdaptiveAvgPool2d, nn.Dropout, nn.Flatten, nn.Identity, nn.Upsample,
                             ChannelShuffle, *ACTIVATION_CLASSES)
# names of module attributes too generic to say anything on a node
_GENERIC_ROLES = {"conv", "block", "layers", "layer", "body", "features", "module", "op", "ops", "seq", "main"}
_TRANSPARENT = "transparent"
_SKIP = "skip"


class _Tracer(torch.fx.Tracer):
    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, _LEAVES) or super().is_leaf_module(m, module_qualified_name)

    def call_module(self, m: nn.Module, forward: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # While it traces, fx patches nn.Module.__call__ for the whole process: a real forward running in
        # another thread (another browser session of the app) must pass through untouched.
        if not any(isinstance(a, torch.fx.Proxy) for a in torch.utils._pytree.tree_leaves((args, kwargs))):
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)


# fx's patching is process-wide and not reentrant across threads: two traces at once could leave
# nn.Module.__call__ patched for good. One trace at a time.
_TRACE_LOCK = threading.Lock()


class _Wrap(nn.Module):
    """Holds the block as a submodule, so that a block which is itself a leaf layer still shows as one node."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> Any:
        return self.block(x)


class _WrapImage(_Wrap):
    def forward(self, x: torch.Tensor, image: torch.Tensor) -> Any:  # type: ignore[override]
        return self.block(x, image)


class _Shapes(torch.fx.Interpreter):
    """Runs a traced graph and keeps every node's value (meta tensors: shapes only)."""

    def __init__(self, module: torch.fx.GraphModule) -> None:
        super().__init__(module)
        self.values: dict[str, Any] = {}

    def run_node(self, n: torch.fx.Node) -> Any:
        out = super().run_node(n)
        self.values[n.name] = out
        return out


def _is_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def _spatial_one(shape: tuple[int, ...]) -> bool:
    return len(shape) == 2 or (len(shape) == 4 and shape[2] == shape[3] == 1)


def _conv_is_fc(m: nn.Conv2d, in_shape: tuple[int, ...], pooled: bool) -> bool:
    """A 1×1 conv on a 1×1 map that was pooled inside the block (squeeze-excite): a fully connected layer."""
    return m.kernel_size == (1, 1) and m.groups == 1 and pooled and _spatial_one(in_shape)


def _conv_label(m: nn.Conv2d, in_shape: tuple[int, ...], pooled: bool) -> tuple[str, str]:
    """Op kind and label of a conv; ``pooled``: its input was pooled to 1×1 inside the block (not a tiny image)."""
    kh, kw = m.kernel_size
    cin, cout, g = m.in_channels, m.out_channels, m.groups
    if _conv_is_fc(m, in_shape, pooled):
        return "pointwise", _("FC {cin}→{cout}").format(cin=cin, cout=cout)
    op = conv_kind(cin, g, (kh, kw))
    if op in ("pointwise", "dense"):
        word = "PW" if op == "pointwise" else _("conv")
        text = f"{word} {kh}×{kw}, {cin}→{cout}"
    elif op == "depthwise":
        text = f"DW {kh}×{kw}, {cout}"
    else:
        text = f"GConv {kh}×{kw}, g={g}, {cin}→{cout}"
    if m.stride != (1, 1):
        text += f", s{m.stride[0]}" if m.stride[0] == m.stride[1] else f", s{m.stride[0]}×{m.stride[1]}"
    if m.dilation != (1, 1):
        text += ", " + _("dilation {d}").format(d=m.dilation[0])
    return op, text


def _pool_label(m: nn.Module, out_shape: tuple[int, ...]) -> str:
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return _("global avg pool") if _spatial_one(out_shape) else _("adaptive avg pool")
    k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
    s = m.stride if isinstance(m.stride, int) else m.stride[0]
    return _pool_text("max" if isinstance(m, nn.MaxPool2d) else "avg", k, s)


def _pool_text(kind: str, k: int, s: int | None) -> str:
    """'max pool 3×3, s2' ('avg'; without the size when ``k`` is 0)."""
    if not k:
        return _("max pool") if kind == "max" else _("avg pool")
    text = _("max pool {k}×{k}, s{s}") if kind == "max" else _("avg pool {k}×{k}, s{s}")
    return text.format(k=k, s=s)


def _module_op(m: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
               pooled: bool = True) -> tuple[str, str]:
    if isinstance(m, nn.Identity):
        return _TRANSPARENT, ""
    if isinstance(m, nn.Conv2d):
        return _conv_label(m, in_shape, pooled)
    if isinstance(m, nn.Linear):
        return "linear", _("FC {cin}→{cout}").format(cin=m.in_features, cout=m.out_features)
    if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
        return "bn", "BN"
    label = activation_label(m)
    if label is not None:
        return "act", label
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
        return "pool", _pool_label(m, out_shape)
    if isinstance(m, ChannelShuffle):
        return "shuffle", _("channel shuffle, g={groups}").format(groups=m.groups)
    if isinstance(m, nn.Dropout):
        return "other", _("dropout p={p:g}").format(p=m.p)
    if isinstance(m, nn.Flatten):
        return "other", _("flatten")
    if isinstance(m, nn.Upsample):
        return "other", _("upsample")
    return "other", type(m).__name__


def _target_name(n: torch.fx.Node) -> str:
    if n.op == "call_method":
        return str(n.target)
    return getattr(n.target, "__name__", str(n.target)).lstrip("_")


def _function_op(n: torch.fx.Node, values: dict[str, Any], pooled: set[str]) -> tuple[str, str]:
    name = _target_name(n)
    value = values[n.name]
    ins = [values[i.name] for i in n.all_input_nodes]
    tensors = [v for v in ins if _is_tensor(v)]
    if name in ("contiguous", "clone", "to", "type", "float", "detach", "identity"):
        return _TRANSPARENT, ""
    if name == "getitem":
        source = n.args[0]
        if isinstance(source, torch.fx.Node) and isinstance(values.get(source.name), (tuple, list)):
            return _TRANSPARENT, ""  # one piece of a split: an edge out of the split node
        if _is_tensor(value) and tensors:
            if tuple(value.shape) == tuple(tensors[0].shape):
                return _TRANSPARENT, ""  # a slice that keeps everything (Ghost module when s divides out)
            return "other", _("slice to {shape}").format(shape=shape_text(tuple(value.shape)))
        return _SKIP, ""
    if isinstance(value, (tuple, list)) and value and all(_is_tensor(v) for v in value):
        return "split", _("split in {n}").format(n=len(value))
    if not _is_tensor(value):
        return _SKIP, ""  # sizes and other Python values
    if name in ("add", "iadd", "add_"):
        return "add", _("add")
    if name in ("sub", "isub", "sub_"):
        return "add", _("subtract")
    if name in ("mul", "imul", "mul_"):
        gates = [i for i in n.all_input_nodes if i.name in pooled]
        return "scale", _("scale") if gates and len(gates) < len(tensors) else _("multiply")
    if name in ("truediv", "div", "div_"):
        return "scale", _("divide")
    if name in ("cat", "concat", "concatenate"):
        return "concat", _("concat")
    if name == "channel_shuffle":
        groups = n.args[1] if len(n.args) > 1 else n.kwargs.get("groups")
        return "shuffle", _("channel shuffle, g={groups}").format(groups=groups)
    if name in ("adaptive_avg_pool2d", "mean"):
        return "pool", _("global avg pool") if _spatial_one(tuple(value.shape)) else _("avg pool")
    if name in ("avg_pool2d", "max_pool2d"):
        return "pool", _functional_pool_label(n, name)
    label = activation_label(name)
    if label is not None:
        return "act", label
    if name in ("flatten", "view", "reshape", "squeeze", "unsqueeze"):
        return "other", _("flatten") if value.dim() == 2 else _("reshape")
    if name in ("pad", "tf_same_pad", "constant_pad_nd"):
        return "pad", _("pad")
    if name in ("interpolate", "upsample"):
        return "other", _("upsample")
    if name == "dropout":
        return "other", _("dropout")
    return "other", name


def _functional_pool_label(n: torch.fx.Node, name: str) -> str:
    args = list(n.args[1:3]) + [None] * 2
    kernel = n.kwargs.get("kernel_size", args[0])
    stride = n.kwargs.get("stride", args[1]) or kernel
    k = kernel if isinstance(kernel, int) else (kernel or [0])[0]
    st = stride if isinstance(stride, int) else (stride or [0])[0]
    return _pool_text(name.split("_")[0], k, st)


# role words that only repeat what the operator label already says
_REDUNDANT_ROLES = {"depthwise": ("depthwise", "dw"), "pointwise": ("pointwise", "pw"), "pool": ("pool",)}


def _role(qualname: str, op: str) -> str:
    """The meaningful module attribute name of a node (``expand3x3``, ``shortcut``), or ''."""
    for part in reversed(qualname.split(".")[1:]):  # [0] is the wrapper's "block"
        if not part.isdigit():
            part = part.strip("_")
            words = part.lower().replace("_", " ")
            if part in _GENERIC_ROLES or any(w in words for w in _REDUNDANT_ROLES.get(op, ())):
                return ""
            return words
    return ""


@dataclass
class _Draft:
    """A mutable node while the graph is simplified."""

    id: str
    label: str
    op: str
    shape: tuple[int, ...]
    modules: list[str] = field(default_factory=list)
    role: str = ""
    merged_bn: bool = False
    merged_act: bool = False
    fc: bool = False
    scope: list[str] = field(default_factory=list)  # enclosing modules that may become a cluster, outermost first


def _cluster_label(qualname: str, module: nn.Module) -> str:
    """The caption of a submodule drawn as a cluster (``ghost1 (ghost module)``, ``branch2``), or '' for none."""
    name = qualname.rpartition(".")[2].strip("_").replace("_", " ")
    kind = getattr(type(module), "kind", "")
    if isinstance(module, _LEAVES) or kind == "conv":
        return ""
    if name.isdigit() or name in _GENERIC_ROLES:
        return kind_label(kind) if kind else kind
    return f"{name} ({kind_label(kind)})" if kind and kind not in name else name


def _draft_graph(module: nn.Module, inputs: tuple[torch.Tensor, ...]
                 ) -> tuple[list[_Draft], list[list], dict[str, str]]:
    root = _WrapImage(module) if len(inputs) == 2 else _Wrap(module)
    with _TRACE_LOCK:
        graph = _Tracer().trace(root)
    gm = torch.fx.GraphModule(root, graph)
    interpreter = _Shapes(gm)
    with torch.no_grad():
        interpreter.run(*inputs)
    values = interpreter.values
    modules = dict(root.named_modules())  # the GraphModule keeps only plain containers above its leaves
    clusters = {q: label for q, m in modules.items() if q.startswith("block.") and (label := _cluster_label(q, m))}
    drafts: dict[str, _Draft] = {}
    alias: dict[str, str] = {}
    edges: list[list] = []
    pooled: set[str] = set()

    def shape_of(value: Any) -> tuple[int, ...]:
        return tuple(value.shape) if _is_tensor(value) else ()

    for n in graph.nodes:
        value = values.get(n.name)
        if n.op == "get_attr":
            continue
        sources = [i for i in n.all_input_nodes if _is_tensor(values.get(i.name)) and
                   alias.get(i.name, i.name) in drafts]
        if n.op == "placeholder":
            drafts[n.name] = _Draft(n.name, _("input") if not drafts else _("image"), "input", shape_of(value))
            continue
        if n.op == "output":
            out = value[0] if isinstance(value, (tuple, list)) else value
            drafts[n.name] = _Draft(n.name, _("output"), "output", shape_of(out))
        elif n.op == "call_module":
            sub = modules[str(n.target)]
            in_shape = shape_of(values[sources[0].name]) if sources else ()
            fed_pooled = bool(sources) and sources[0].name in pooled
            op, label = _module_op(sub, in_shape, shape_of(value), pooled=fed_pooled)
            if op == _TRANSPARENT:
                alias[n.name] = alias.get(sources[0].name, sources[0].name) if sources else ""
                continue
            fc = isinstance(sub, nn.Linear) or (isinstance(sub, nn.Conv2d) and _conv_is_fc(sub, in_shape, fed_pooled))
            role = _role(str(n.target), op) if op in CONV_KINDS + ("pool",) and not fc else ""
            if role and all(word in label.lower() for word in role.split()):
                role = ""  # says nothing the label does not
            drafts[n.name] = _Draft(n.name, label, op, shape_of(value), [str(n.target)[len("block."):]], role,
                                    fc=fc)
        else:
            op, label = _function_op(n, values, pooled)
            if op == _SKIP:
                continue
            if op == _TRANSPARENT:  # e.g. a piece of a split: consumers connect to the split itself
                linked = [i for i in n.all_input_nodes if alias.get(i.name, i.name) in drafts]
                if linked:
                    alias[n.name] = alias.get(linked[0].name, linked[0].name)
                continue
            shape = shape_of(values[sources[0].name]) if op == "split" and sources else shape_of(value)
            drafts[n.name] = _Draft(n.name, label, op, shape)
        if n.name in drafts:
            # a globally pooled vector, and what 1×1 convs and activations make of it, is an "FC" path (SE)
            made = drafts[n.name]
            if (made.op == "pool" and made.label == _("global avg pool")) or (
                    made.op in ("pointwise", "linear", "act", "bn") and sources and sources[0].name in pooled):
                pooled.add(n.name)
            stack = n.meta.get("nn_module_stack") or {}
            drafts[n.name].scope = [q for q in stack if q in clusters and q != n.target]
        for source in sources:
            tail = alias.get(source.name, source.name)
            edge = [tail, n.name, shape_of(values[source.name])]
            if edge not in edges:
                edges.append(edge)
    return list(drafts.values()), edges, clusters


def _groups(drafts: list[_Draft], clusters: dict[str, str]) -> dict[str, str]:
    """Node id → the outermost enclosing submodule holding two or more, but not all, of the drawn operators."""
    ops = [d for d in drafts if d.op not in ("input", "output")]
    count: dict[str, int] = {}
    for d in ops:
        for q in d.scope:
            count[q] = count.get(q, 0) + 1
    useful = {q for q, c in count.items() if 2 <= c < len(ops)}
    return {d.id: next((q for q in d.scope if q in useful), "") for d in ops}


def _collapse(drafts: list[_Draft], edges: list[list]) -> tuple[list[_Draft], list[list]]:
    """Fold conv → BN → act (and BN → act) chains into their first node."""
    by_id = {d.id: d for d in drafts}
    removed: set[str] = set()
    for draft in drafts:
        if draft.id in removed or not ((draft.op in CONV_KINDS and not draft.fc) or draft.op == "bn"):
            continue
        while True:
            outs = [e for e in edges if e[0] == draft.id]
            if len(outs) != 1:
                break
            nxt = by_id[outs[0][1]]
            if len([e for e in edges if e[1] == nxt.id]) != 1:
                break
            if nxt.op == "bn" and draft.op != "bn" and not draft.merged_bn and not draft.merged_act:
                draft.merged_bn = True
            elif nxt.op == "act" and not draft.merged_act:
                draft.merged_act = True
            else:
                break
            draft.label += f", {nxt.label}"
            draft.shape = nxt.shape
            draft.modules += nxt.modules
            edges = [e for e in edges if e is not outs[0]]
            for e in edges:
                if e[0] == nxt.id:
                    e[0] = draft.id
            removed.add(nxt.id)
    return [d for d in drafts if d.id not in removed], edges


def module_inner_graph(module: nn.Module, input_shapes: tuple[tuple[int, ...], ...], path: str = "",
                       label: str = "", kind: str = "", output_shape: tuple[int, ...] = ()) -> InnerGraph:
    """The inside of any block ``module`` given its input shape(s) (one, or two for blocks that take the image).

    Falls back to a single node labelled ``label`` when the module cannot be traced or run on shapes.
    """
    label = label or type(module).__name__
    try:
        # shapes on the meta device when the block was built there (the app's case), else real zeros
        tensors = list(module.parameters()) + list(module.buffers())
        device = tensors[0].device if tensors else torch.device("meta")
        inputs = tuple(torch.zeros(shape, device=device) for shape in input_shapes)
        drafts, edges, clusters = _draft_graph(module.eval(), inputs)
        drafts, edges = _collapse(drafts, edges)
        group_of = _groups(drafts, clusters)
    except Exception as err:  # noqa: BLE001 - any failure of tracing means: draw the block as one node
        return _fallback(path, label, kind, input_shapes, output_shape,
                         _("inside not traced ({error})").format(error=type(err).__name__))
    nodes = tuple(InnerNode(d.id, f"{d.role}\n{d.label}" if d.role else d.label, d.op, d.shape, tuple(d.modules),
                            group_of.get(d.id, "")) for d in drafts)
    used = dict.fromkeys(n.group for n in nodes if n.group)
    groups = tuple((q, clusters[q]) for q in used)
    return InnerGraph(path, label, kind, nodes, tuple(InnerEdge(*e) for e in edges), traced=True, groups=groups)


def _fallback(path: str, label: str, kind: str, input_shapes: tuple[tuple[int, ...], ...],
              output_shape: tuple[int, ...], note: str) -> InnerGraph:
    nodes = [InnerNode("input", _("input"), "input", tuple(input_shapes[0]) if input_shapes else ())]
    edges = [InnerEdge("input", "block", nodes[0].shape)]
    if len(input_shapes) > 1:
        nodes.append(InnerNode("image", _("image"), "input", tuple(input_shapes[1])))
        edges.append(InnerEdge("image", "block", nodes[-1].shape))
    nodes += [InnerNode("block", label, "block", output_shape),
              InnerNode("output", _("output"), "output", output_shape)]
    edges.append(InnerEdge("block", "output", output_shape))
    return InnerGraph(path, label, kind, tuple(nodes), tuple(edges), traced=False, note=note)


def block_inner_data(config: Config, block_path: str) -> InnerGraph:
    """The inside of block ``block_path`` of a configuration, as nodes and edges (``ValueError`` naming the
    valid paths for an unknown one); labels in the current language."""
    return _block_inner_data(config, block_path, language())


@functools.lru_cache(maxsize=512)
def _block_inner_data(config: Config, block_path: str, language: str) -> InnerGraph:
    prof = profile(config)
    index = next((i for i, row in enumerate(prof.rows) if row.path == block_path), None)
    if index is None:
        raise ValueError(_("{model} has no block {block!r}; its blocks are: {blocks}").format(
            model=config.name, block=block_path, blocks=", ".join(r.path for r in prof.rows)))
    block, cost = prof.rows[index], next(b for b in prof.blocks if b.path == block_path)
    shapes: tuple[tuple[int, ...], ...] = (cost.input_shape,)
    if block.takes_image:
        shapes += ((1, 3, config.resolution, config.resolution),)
    try:
        with MetaBuild():
            module = block.make()
    except Exception as err:  # noqa: BLE001 - a block that cannot be built on meta is drawn as one node
        return _fallback(block_path, block.label, block.kind, shapes, cost.output_shape,
                         _("inside not traced ({error})").format(error=type(err).__name__))
    return module_inner_graph(module, shapes, block_path, block.label, block.kind, cost.output_shape)


def inner_dot(inner: InnerGraph, title: str = "") -> str:
    """DOT text of an ``InnerGraph``."""
    dot = _digraph(inner.path or "block", title or f"{inner.path}\n{wrap_label(inner.label, 36)}")
    clusters: dict[str, graphviz.Digraph] = {}
    for i, (q, caption) in enumerate(inner.groups):
        clusters[q] = graphviz.Digraph(name=f"cluster_{i}")
        clusters[q].attr(label=_dot_text(caption), style="rounded,dashed", color="#888888", fontsize="16",
                         labeljust="l")
    for node in inner.nodes:
        attrs: dict[str, str] = {"fillcolor": INNER_COLORS.get(node.op, _WHITE),
                                 "tooltip": ", ".join(node.modules) or node.label}
        label = node.label
        if node.op == "input" or node.op == "output":
            label = f"{node.label}\n{shape_text(node.shape)}"
            attrs.update(shape="box", style="filled")
        elif node.op == "add":
            attrs.update(shape="circle", fontsize="22", margin="0.05")
            label = "+" if node.label == _("add") else node.label
        elif node.op == "block":
            attrs["fillcolor"] = block_kind_color(inner.kind)
        clusters.get(node.group, dot).node(node.id, _dot_text(label), **attrs)
    for cluster in clusters.values():
        dot.subgraph(cluster)
    for edge in inner.edges:
        dot.edge(edge.tail, edge.head, label=shape_text(edge.shape))
    if inner.note:
        dot.node("__note__", _dot_text(inner.note), shape="plaintext", style="", fontsize="14")
    return dot.source


def block_inner_graph(config: Config, block_path: str) -> str:
    """DOT text of the inside of one block, with its real channel counts and shapes in this configuration.

    Traced from the built block with torch.fx (conv → BN → act chains collapsed; add, concat, split, shuffle,
    pool and scale shown); a block that cannot be traced is drawn as one node. ``ValueError`` naming the valid
    paths for an unknown ``block_path``.
    """
    return inner_dot(block_inner_data(config, block_path))


# --------------------------------------------------------------------------------------------------
# choices and summary


def block_choices(config: Config) -> list[tuple[str, str]]:
    """(path, label) of the blocks worth drawing inside, in network order: the first block of every distinct
    block configuration whose inside has more than one operator (labels in the current language)."""
    return list(_block_choices(config, language()))


@functools.lru_cache(maxsize=256)
def _block_choices(config: Config, language: str) -> tuple[tuple[str, str], ...]:
    seen: list[tuple[type, dict]] = []
    out: list[tuple[str, str]] = []
    for row in profile(config).rows:
        key = (row.layer, dict(row.args))
        if key in seen:
            continue
        seen.append(key)
        inner = block_inner_data(config, row.path)
        # a reshape is not an operator worth a drawing (global pool → flatten is one step)
        reshapes = (_("flatten"), _("reshape"))
        inside = [n for n in inner.nodes if n.op not in ("input", "output") and n.label not in reshapes]
        if len(inside) > 1 or (not inner.traced and not row.layer.__module__.startswith("torch.")):
            out.append((row.path, row.label))
    return tuple(out)


@functools.lru_cache(maxsize=64)
def model_summary(config: Config) -> str:
    """The torchinfo summary of the built model (run on meta tensors, so it takes well under a second)."""
    import torchinfo  # imported here: it is only needed for this text

    with MetaBuild():
        model = assemble(config.blocks)
    resolution = config.resolution
    stats = torchinfo.summary(model, input_size=(1, 3, resolution, resolution), device="meta", verbose=0, depth=4,
                              col_names=("input_size", "output_size", "num_params", "mult_adds"),
                              row_settings=("var_names",), mode="eval")
    # torchinfo 1.8 prints its unit enum as "(Units.MEGABYTES)" on Python ≥ 3.11; show the unit letter
    return re.sub(r"\(Units\.(\w+)\)", lambda m: f"({_TORCHINFO_UNITS.get(m.group(1), m.group(1))})", str(stats))


_TORCHINFO_UNITS = {"NONE": "", "KILOBYTES": "K", "MEGABYTES": "M", "GIGABYTES": "G", "TERABYTES": "T"}
