"""The block graphs agree with the built models: nodes, folds and shapes, and the inside of every block."""

from __future__ import annotations

import functools
import itertools
import re
import threading
from dataclasses import dataclass, field

import graphviz
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import lightnets
from lightnets.graph import (
    BLOCK_KIND_COLORS,
    block_choices,
    block_graph,
    block_inner_data,
    block_inner_graph,
    block_kind_color,
    inner_dot,
    model_summary,
    module_inner_graph,
    shape_text,
)

NAMES = lightnets.list_models()


def needs(name: str) -> None:
    if name not in NAMES:
        pytest.skip(f"{name} is not registered yet")


# --------------------------------------------------------------------------------------------------
# a small DOT parser: enough of the grammar (graphviz docs, "The DOT Language") to check what graph.py writes

# IDs: a name (letters, digits, underscores, not starting with a digit), a numeral, or a quoted string
_TOKEN = re.compile(r'\s+|//[^\n]*|"(?:[^"\\]|\\.)*"|->|--|[{}\[\];=,:]|[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*'
                    r'|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?![A-Za-z_])', re.DOTALL)


def _tokens(text: str) -> list[str]:
    out, i = [], 0
    while i < len(text):
        if text[i] == "<":  # HTML string: balanced < >
            depth, j = 0, i
            while True:
                if j >= len(text):
                    raise SyntaxError("unterminated HTML string")
                depth += {"<": 1, ">": -1}.get(text[j], 0)
                j += 1
                if depth == 0:
                    break
            out.append(text[i:j])
            i = j
            continue
        m = _TOKEN.match(text, i)
        if not m:
            raise SyntaxError(f"bad character {text[i]!r} at {i}")
        if not m.group().isspace() and not m.group().startswith("//"):
            out.append(m.group())
        i = m.end()
    return out


def _value(token: str) -> str:
    if token.startswith('"'):
        return token[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
    return token


@dataclass
class Dot:
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    cluster_of: dict[str, str] = field(default_factory=dict)  # node → label of its cluster
    graph_attrs: dict[str, str] = field(default_factory=dict)
    node_defaults: dict[str, str] = field(default_factory=dict)
    edge_defaults: dict[str, str] = field(default_factory=dict)

    def out_edges(self, node: str) -> list[tuple[str, str, dict[str, str]]]:
        return [e for e in self.edges if e[0] == node]

    def in_edges(self, node: str) -> list[tuple[str, str, dict[str, str]]]:
        return [e for e in self.edges if e[1] == node]


def parse_dot(text: str) -> Dot:
    tokens, dot, pos = _tokens(text), Dot(), 0

    def peek() -> str:
        return tokens[pos] if pos < len(tokens) else ""

    def take(expected: str | None = None) -> str:
        nonlocal pos
        if pos >= len(tokens) or (expected is not None and tokens[pos] != expected):
            raise SyntaxError(f"expected {expected!r}, got {peek()!r} at token {pos}")
        pos += 1
        return tokens[pos - 1]

    def ident() -> str:
        token = take()
        if token in "{}[];=,":
            raise SyntaxError(f"expected an ID, got {token!r}")
        return _value(token)

    def attrs() -> dict[str, str]:
        out: dict[str, str] = {}
        while peek() == "[":
            take("[")
            while peek() != "]":
                key = ident()
                take("=")
                out[key] = ident()
                if peek() in (",", ";"):
                    take()
            take("]")
        return out

    def body(cluster: str | None, scope: dict[str, str]) -> None:
        take("{")
        while peek() != "}":
            if peek() == "subgraph":
                take()
                name = ident() if peek() != "{" else ""
                inner: dict[str, str] = {}
                start = len(dot.nodes)
                body(name if name.startswith("cluster") else cluster, inner)
                if name.startswith("cluster"):
                    for node in list(dot.nodes)[start:]:
                        dot.cluster_of.setdefault(node, inner.get("label", ""))
            elif peek() in ("graph", "node", "edge"):
                kind = take()
                target = {"graph": scope, "node": dot.node_defaults, "edge": dot.edge_defaults}[kind]
                target.update(attrs())
            else:
                first = ident()
                if peek() == "=":
                    take()
                    scope[first] = ident()
                elif peek() == "->":
                    chain = [first]
                    while peek() == "->":
                        take()
                        chain.append(ident())
                    a = attrs()
                    for tail, head in itertools.pairwise(chain):
                        dot.edges.append((tail, head, a))
                else:
                    dot.nodes.setdefault(first, {}).update(attrs())
            if peek() == ";":
                take()
        take("}")

    if peek() == "strict":
        take()
    take("digraph")
    if peek() != "{":
        ident()
    body(None, dot.graph_attrs)
    if pos != len(tokens):
        raise SyntaxError(f"text after the graph: {tokens[pos:pos + 3]}")
    for tail, head, _ in dot.edges:
        assert tail in dot.nodes and head in dot.nodes, f"edge {tail} -> {head} names an undeclared node"
    return dot


def test_the_dot_checker_rejects_broken_text() -> None:
    good = block_graph(lightnets.config("mobilenet_v2", 96))
    parse_dot(good)
    graphviz.Source(good)  # the graphviz package accepts it too (no binary involved)
    for broken in (good[:-3], good.replace("{", "", 1), good.replace('"', "", 1), good.replace("->", "-", 1)):
        with pytest.raises(SyntaxError):
            parse_dot(broken)


# --------------------------------------------------------------------------------------------------
# the whole network against the built model


def _resolution(name: str) -> int:
    """A small input for real forwards; every test uses the same one, so each model is profiled once."""
    return max(lightnets.spec(name).min_resolution, 96)


@functools.cache
def _real_forward(name: str) -> tuple[dict[str, tuple], dict[str, list[tuple]], tuple]:
    """One real forward of the built model at ``_resolution(name)``, seen by hooks on every module.

    Returns each block's (input shape, output shape), every module's output shapes (a module may run more
    than once, e.g. a shared activation), and the model's output shape.
    """
    model = lightnets.build(lightnets.config(name)).eval()
    blocks_io: dict[str, tuple] = {}
    outputs: dict[str, list[tuple]] = {}
    paths = {row.path for row in model.block_rows}

    def keep(q: str):
        def hook(module, args, output) -> None:
            outputs.setdefault(q, []).append(tuple(output.shape))
            if q in paths:
                blocks_io.setdefault(q, (tuple(args[0].shape), tuple(output.shape)))
        return hook

    handles = [m.register_forward_hook(keep(q)) for q, m in model.named_modules() if q]
    res = _resolution(name)
    with torch.no_grad():
        out = model(torch.randn(1, 3, res, res))
    for handle in handles:
        handle.remove()
    return blocks_io, outputs, tuple(out.shape)


def _count(label: str) -> int:
    m = re.search(r"\n× (\d+)$", label)
    return int(m.group(1)) if m else 1


def _main_chain(dot: Dot) -> list[str]:
    chain, node = [], "__input__"
    while True:
        nxt = [h for t, h, a in dot.out_edges(node) if a.get("style") != "dashed"]
        if not nxt:
            return chain
        assert len(nxt) == 1, f"{node} branches in the block graph"
        node = nxt[0]
        if node == "__output__":
            return chain
        chain.append(node)


@pytest.mark.parametrize("name", NAMES)
def test_block_graph_walks_like_the_built_model(name: str) -> None:
    res = _resolution(name)
    real, _, out_shape = _real_forward(name)
    rows = lightnets.blocks(lightnets.config(name))
    dot = parse_dot(block_graph(lightnets.config(name, res)))
    chain = _main_chain(dot)
    i = 0
    for node in chain:
        attrs = dot.nodes[node]
        first = rows[i]
        assert node == first.path, "node ids are the block paths, in network order"
        n = _count(attrs["label"])
        run = rows[i:i + n]
        assert len(run) == n
        for row in run:  # a folded node stands for identical blocks only
            assert row.layer is first.layer and dict(row.args) == dict(first.args) and row.stage == first.stage
        assert attrs["label"].split("\n× ")[0].replace(",\n", ", ") == first.label
        assert attrs["fillcolor"] == block_kind_color(first.kind)
        assert dot.cluster_of.get(node, "") == first.stage
        # the edge into the node and out of it carry the shapes a real forward produces
        (_, _, into), = [e for e in dot.in_edges(node) if e[2].get("style") != "dashed"]
        (_, _, out), = [e for e in dot.out_edges(node) if e[2].get("style") != "dashed"]
        assert into["label"] == shape_text(real[first.path][0])
        assert out["label"] == shape_text(real[run[-1].path][1])
        assert all(real[r.path] == real[first.path] for r in run)
        i += n
        if i < len(rows):  # folds are maximal: the next block differs
            nxt = rows[i]
            assert not (nxt.layer is first.layer and dict(nxt.args) == dict(first.args) and nxt.stage == first.stage
                        and real[nxt.path] == real[first.path])
    assert i == len(rows), "every block row is a node or part of a folded node"
    assert dot.in_edges("__output__")[0][2]["label"] == shape_text(out_shape)
    legend = dot.nodes["__legend__"]["label"]
    for kind in {r.kind for r in rows}:
        assert f">{kind}<" in legend and block_kind_color(kind) in legend


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=3)
@given(data=st.data())
def test_any_valid_knobs_give_a_valid_graph_and_traced_blocks(name: str, data: st.DataObject) -> None:
    knobs = data.draw(st.fixed_dictionaries({k.name: st.sampled_from(k.values()) for k in lightnets.spec(name).knobs}),
                      label="knobs")
    rows = lightnets.blocks(lightnets.config(name, **knobs))
    dot = parse_dot(block_graph(lightnets.config(name, **knobs)))
    chain = _main_chain(dot)
    assert sum(_count(dot.nodes[node]["label"]) for node in chain) == len(rows)
    for path, _ in block_choices(lightnets.config(name, **knobs)):
        inner = block_inner_data(lightnets.config(name, **knobs), path)
        assert inner.traced, f"{name} {knobs} {path}: {inner.note}"
        parse_dot(inner_dot(inner))


def test_mobilenet_v2_folds_the_repeats_of_table_2() -> None:
    dot = parse_dot(block_graph(lightnets.config("mobilenet_v2")))
    counts = {node: _count(dot.nodes[node]["label"]) for node in _main_chain(dot)}
    # Table 2: (t, c, n, s) rows; the first repeat of each row has its own stride or width, the rest fold
    assert counts["features.5"] == 2 and counts["features.8"] == 3 and counts["features.12"] == 2
    assert counts["features.15"] == 2 and counts["features.2"] == 1 and counts["features.3"] == 1
    assert "inverted residual, t=6, k3, s2, 24" in dot.nodes["features.2"]["label"]
    assert dot.in_edges("features.2")[0][2]["label"] == "16×112×112"
    assert dot.out_edges("features.17")[0][2]["label"] == "320×7×7"


def test_block_graph_follows_knobs_and_resolution() -> None:
    dot = parse_dot(block_graph(lightnets.config("mobilenet_v2", 160, alpha=0.5)))
    assert dot.out_edges("features.0")[0][2]["label"] == "16×80×80"  # 32·0.5 channels, 160 / 2
    assert "alpha=0.5" in dot.graph_attrs["label"] and "160×160" in dot.graph_attrs["label"]


def test_block_graph_is_readable_on_a_projector() -> None:
    dot = parse_dot(block_graph(lightnets.config("mobilenet_v2")))
    assert dot.graph_attrs["rankdir"] == "TB"
    assert float(dot.node_defaults["fontsize"]) >= 14 and float(dot.edge_defaults["fontsize"]) >= 12
    assert "filled" in dot.node_defaults["style"]


def test_image_inputs_are_drawn() -> None:
    needs("espnet_v2")
    rows = [r for r in lightnets.blocks(lightnets.config("espnet_v2")) if getattr(r.layer, "takes_image", False)]
    assert rows
    dot = parse_dot(block_graph(lightnets.config("espnet_v2")))
    dashed = {h for t, h, a in dot.out_edges("__input__") if a.get("style") == "dashed"}
    assert dashed == {r.path for r in rows}


def test_every_kind_has_its_own_designed_colour() -> None:
    kinds = {r.kind for name in NAMES for r in lightnets.blocks(lightnets.config(name))}
    assert kinds <= set(BLOCK_KIND_COLORS), f"kinds without a colour: {kinds - set(BLOCK_KIND_COLORS)}"
    for name in NAMES:
        model_kinds = sorted({r.kind for r in lightnets.blocks(lightnets.config(name))})
        colours = [block_kind_color(k) for k in model_kinds]
        assert len(set(colours)) == len(colours), f"{name}: two block kinds share a colour"
    assert block_kind_color("some future block") == block_kind_color("some future block")


@pytest.mark.parametrize("call", [
    lambda: block_graph(lightnets.config("no_such_net")),
    lambda: block_graph(lightnets.config("mobilenet_v2", alpha=7)),
    lambda: block_graph(lightnets.config("mobilenet_v2", colour=1)),
    lambda: block_graph(lightnets.config("mobilenet_v2", 8)),
    lambda: block_inner_graph(lightnets.config("mobilenet_v2"), "features.99"),
    lambda: block_choices(lightnets.config("mobilenet_v2", beta=1)),
    lambda: model_summary(lightnets.config("mobilenet_v2", 10)),
])
def test_bad_input_is_a_one_line_value_error(call) -> None:
    with pytest.raises(ValueError) as err:
        call()
    assert "\n" not in str(err.value)


def test_unknown_block_path_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"features\.99.*features\.0, features\.1, .*classifier\.1"):
        block_inner_graph(lightnets.config("mobilenet_v2"), "features.99")


# --------------------------------------------------------------------------------------------------
# the inside of blocks


def _labels(inner) -> list[str]:
    return [n.label for n in inner.nodes]


def _find(inner, pattern: str):
    found = [n for n in inner.nodes if re.search(pattern, n.label)]
    assert len(found) == 1, f"{pattern!r} matches {[n.label for n in found]} in {_labels(inner)}"
    return found[0]


def _edge(inner, tail, head) -> tuple[int, ...]:
    (edge,) = [e for e in inner.edges if e.tail == tail.id and e.head == head.id]
    return edge.shape[1:]


def test_fire_module_of_squeezenet1_0() -> None:
    needs("squeezenet1_0")
    # Fire2 of the paper's Table 1: 16, 64, 64
    inner = block_inner_data(lightnets.config("squeezenet1_0"), "features.3")
    squeeze = _find(inner, r"^squeeze\nPW 1×1, 96→16, ReLU$")
    e1 = _find(inner, r"^expand1x1\nPW 1×1, 16→64, ReLU$")
    e3 = _find(inner, r"^expand3x3\nconv 3×3, 16→64, ReLU$")
    (concat,) = inner.ops("concat")
    assert {n.id for n in inner.successors(squeeze.id)} == {e1.id, e3.id}
    assert {n.id for n in inner.predecessors(concat.id)} == {e1.id, e3.id}
    assert concat.shape[1] == 128 and inner.ops("output")[0].shape[1] == 128


def test_inverted_residual_expands_16_to_96() -> None:
    inner = block_inner_data(lightnets.config("mobilenet_v2"), "features.2")
    expand = _find(inner, r"^PW 1×1, 16→96, BN, ReLU6$")
    dw = _find(inner, r"^DW 3×3, 96, s2, BN, ReLU6$")
    project = _find(inner, r"^PW 1×1, 96→24, BN$")  # linear: no activation after the projection
    (x,) = inner.ops("input")
    assert _edge(inner, x, expand) == (16, 112, 112)
    assert _edge(inner, expand, dw) == (96, 112, 112)
    assert _edge(inner, dw, project) == (96, 56, 56)
    assert not inner.ops("add")  # stride 2: no shortcut
    relu = block_inner_data(lightnets.config("mobilenet_v2", linear_bottleneck=False), "features.2")
    _find(relu, r"^PW 1×1, 96→24, BN, ReLU6$")


def _shortcut_rule(name: str, layer: str, in_key: str = "in_ch", out_key: str = "out_ch") -> None:
    rows = [r for r in lightnets.blocks(lightnets.config(name)) if r.layer.__name__ == layer]
    assert rows
    for row in rows:
        inner = block_inner_data(lightnets.config(name), row.path)
        expected = row.args["stride"] == 1 and row.args[in_key] == row.args[out_key]
        adds = inner.ops("add")
        assert bool(adds) == expected, f"{name} {row.path}: shortcut add present={bool(adds)}"
        if adds:  # the shortcut is the block's input itself
            assert any(p.op == "input" for p in inner.predecessors(adds[0].id))


@pytest.mark.parametrize("name,layer", [("mobilenet_v2", "InvertedResidual"),
                                        ("mobilenet_v3_large", "MobileNetV3Block"),
                                        ("mobilenet_v3_small", "MobileNetV3Block"), ("efficientnet", "MBConv")])
def test_shortcut_only_when_stride_1_and_widths_match(name: str, layer: str) -> None:
    needs(name)
    _shortcut_rule(name, layer)


def _se_chain(inner) -> list[str]:
    """Ops from each global pool through to the scale, following single successors."""
    chains = []
    for pool in inner.ops("pool"):
        if "global" not in pool.label:
            continue
        chain, node = [pool.label], pool
        while node.op != "scale":
            (node,) = inner.successors(node.id)
            chain.append(node.label.split(" ")[0])
        chains.append(chain)
    return chains


@pytest.mark.parametrize("se", [True, False])
def test_mobilenet_v3_bneck_se_and_hswish(se: bool) -> None:
    needs("mobilenet_v3_large")
    config = lightnets.config("mobilenet_v3_large", se=se)
    rows = [r for r in lightnets.blocks(config) if r.layer.__name__ == "MobileNetV3Block"]
    for row in rows:
        inner = block_inner_data(lightnets.config("mobilenet_v3_large", se=se), row.path)
        chains = _se_chain(inner)
        if row.args["se"]:
            exp = row.args["exp_ch"]
            assert chains == [["global avg pool", "FC", "ReLU", "FC", "h-sigmoid", "scale"]], row.path
            fc1 = _find(inner, rf"^FC {exp}→\d+$")
            squeezed = fc1.shape[1]  # a quarter of the expansion, rounded to a multiple of 8 (Sec. 5.3)
            assert squeezed % 8 == 0 and abs(squeezed - exp / 4) < 8
            assert dict(inner.groups)[fc1.group] == "squeeze-excite"
        else:
            assert not chains and not inner.ops("scale")
        act = "h-swish" if row.args["act"] == "hswish" else "ReLU"
        convs = [n for n in inner.nodes if n.op in ("pointwise", "depthwise") and not n.label.startswith("FC")]
        assert all(n.label.endswith(f", BN, {act}") for n in convs[:-1])  # expand and depthwise
        assert convs[-1].label.endswith(", BN")  # linear projection
    assert any(r.args["se"] for r in rows) == se


def test_fc_means_after_a_global_pool_not_a_tiny_map() -> None:
    needs("mobilenet_v3_large")
    res = lightnets.spec("mobilenet_v3_large").min_resolution
    inner = block_inner_data(lightnets.config("mobilenet_v3_large", res), "features.13")
    project = _find(inner, r"^PW 1×1, 672→160, BN$")
    (into,) = [e for e in inner.edges if e.head == project.id]
    assert into.shape[2:] == (1, 1)  # the map is 1×1 at this size, yet the conv is no fully connected layer
    assert _se_chain(inner) == [["global avg pool", "FC", "ReLU", "FC", "h-sigmoid", "scale"]]


def test_mobilenet_v3_minimalistic_has_no_hswish() -> None:
    needs("mobilenet_v3_small")
    for path, _ in block_choices(lightnets.config("mobilenet_v3_small", hswish=False)):
        plain = lightnets.config("mobilenet_v3_small", hswish=False)
        assert not any("h-swish" in label for label in _labels(block_inner_data(plain, path)))


def test_depthwise_separable() -> None:
    needs("mobilenet_v1")
    row = next(r for r in lightnets.blocks(lightnets.config("mobilenet_v1")) if r.layer.__name__ == "DepthwiseSeparable"
               and r.args.get("stride", 1) == 2)
    inner = block_inner_data(lightnets.config("mobilenet_v1"), row.path)
    dw = _find(inner, rf"^DW 3×3, {row.args['in_ch']}, s2, BN, ReLU$")
    pw = _find(inner, rf"^PW 1×1, {row.args['in_ch']}→{row.args['out_ch']}, BN, ReLU$")
    assert [n.id for n in inner.successors(dw.id)] == [pw.id]


def test_shufflenet_v2_units() -> None:
    basic = block_inner_data(lightnets.config("shufflenet_v2"), "stage2.1")  # width 1.0: 116 channels, halves of 58
    (split,) = basic.ops("split")
    (concat,) = basic.ops("concat")
    (shuffle,) = basic.ops("shuffle")
    assert shuffle.label == "channel shuffle, g=2"
    assert [e.shape[1] for e in basic.edges if e.tail == split.id] == [58, 58]
    assert concat.id in [n.id for n in basic.successors(split.id)]  # the untouched half
    assert [n.id for n in basic.successors(concat.id)] == [shuffle.id]
    assert len([n for n in basic.nodes if n.op in ("pointwise", "depthwise")]) == 3
    down = block_inner_data(lightnets.config("shufflenet_v2"), "stage2.0")
    assert not down.ops("split") and len(down.ops("depthwise")) == 2 and down.ops("shuffle")
    assert {caption for _, caption in down.groups} == {"branch1", "branch2"}
    assert down.ops("output")[0].shape[1:] == (116, 28, 28)


@pytest.mark.parametrize("shuffle", [True, False])
def test_shufflenet_v1_units(shuffle: bool) -> None:
    needs("shufflenet_v1")
    config = lightnets.config("shufflenet_v1", shuffle=shuffle)
    rows = [r for r in lightnets.blocks(config) if r.layer.__name__ == "ShuffleV1Unit"]
    for stride in (1, 2):
        row = next(r for r in rows if r.args["stride"] == stride and r.args.get("first_group_conv", True))
        inner = block_inner_data(lightnets.config("shufflenet_v1", shuffle=shuffle), row.path)
        g = row.args["groups"]
        assert len(inner.ops("group")) == 2  # GConv 1×1 in and out
        assert bool(inner.ops("shuffle")) == shuffle
        if shuffle:
            assert inner.ops("shuffle")[0].label == f"channel shuffle, g={g}"
            gconv1 = next(n for n in inner.ops("group") if n.label.startswith("gconv1"))
            assert [n.op for n in inner.successors(gconv1.id)] == ["shuffle"]
        if stride == 1:
            assert inner.ops("add") and not inner.ops("concat")
        else:
            (pool,) = inner.ops("pool")
            assert "avg pool 3×3, s2" in pool.label and inner.ops("concat") and not inner.ops("add")


def test_squeezenext_block() -> None:
    needs("squeezenext")
    row = next(r for r in lightnets.blocks(lightnets.config("squeezenext")) if r.kind == "squeezenext block")
    inner = block_inner_data(lightnets.config("squeezenext"), row.path)
    kernels = [re.search(r"(\d)×(\d)", n.label).group() for n in inner.nodes if n.op in ("pointwise", "dense")]
    # 1×1 → 1×1 → 3×1 → 1×3 → 1×1 on the main path (Fig. 2 of the paper), plus the shortcut
    assert kernels[:5] == ["1×1", "1×1", "3×1", "1×3", "1×1"]
    assert inner.ops("add")


def test_ghost_bottleneck() -> None:
    needs("ghostnet")
    row = next(r for r in lightnets.blocks(lightnets.config("ghostnet")) if r.kind == "ghost bottleneck")
    inner = block_inner_data(lightnets.config("ghostnet"), row.path)
    # each Ghost module: primary 1×1 conv, a cheap depthwise op on its output, both concatenated
    for concat in inner.ops("concat"):
        ops = sorted(n.op for n in inner.predecessors(concat.id))
        assert ops == ["depthwise", "pointwise"]
    assert len(inner.ops("concat")) == 2 and inner.ops("add")


def test_mbconv_squeeze_excite_uses_sigmoid() -> None:
    needs("efficientnet")
    row = next(r for r in lightnets.blocks(lightnets.config("efficientnet")) if r.kind == "MBConv")
    chains = _se_chain(block_inner_data(lightnets.config("efficientnet"), row.path))
    assert chains == [["global avg pool", "FC", "swish", "FC", "sigmoid", "scale"]]
    needs("efficientnet_lite0")
    lite = next(r for r in lightnets.blocks(lightnets.config("efficientnet_lite0")) if r.kind == "MBConv")
    assert not _se_chain(block_inner_data(lightnets.config("efficientnet_lite0"), lite.path))  # Lite drops SE


def test_eesp_branches() -> None:
    needs("espnet_v2")
    row = next(r for r in lightnets.blocks(lightnets.config("espnet_v2")) if r.kind == "eesp")
    inner = block_inner_data(lightnets.config("espnet_v2"), row.path)
    dws = inner.ops("depthwise")
    assert len(dws) >= 2 and any("dilation" in n.label for n in dws)
    assert inner.ops("concat") and inner.ops("group")  # group 1×1 reduce and expand
    strided = next(r for r in lightnets.blocks(lightnets.config("espnet_v2")) if getattr(r.layer, "takes_image", False))
    image = [n for n in block_inner_data(lightnets.config("espnet_v2"), strided.path).nodes if n.label == "image"]
    assert image and image[0].shape[1] == 3


@pytest.mark.parametrize("name", ["fbnet_a", "fbnet_b", "fbnet_c"])
def test_fbnet_blocks(name: str) -> None:
    needs(name)
    rows = [r for r in lightnets.blocks(lightnets.config(name)) if r.kind == "fbnet block"]
    assert any(r.args["skip"] for r in rows) or name != "fbnet_a"
    for row in rows:
        inner = block_inner_data(lightnets.config(name), row.path)
        ops = [n for n in inner.nodes if n.op not in ("input", "output")]
        residual = row.args["stride"] == 1 and row.args["in_ch"] == row.args["out_ch"]
        if row.args["skip"]:  # the identity, or one 1×1 conv where the shape changes
            assert len(ops) == (0 if residual else 1)
            continue
        k, g = row.args["kernel"], row.args["groups"]
        (dw,) = inner.ops("depthwise")
        assert dw.label.startswith(f"DW {k}×{k}, {row.args['in_ch'] * row.args['expansion']}")
        assert len(inner.ops("group")) == (2 if g > 1 else 0)
        assert [n.label for n in inner.ops("shuffle")] == ([f"channel shuffle, g={g}"] if g > 1 else [])
        assert bool(inner.ops("add")) == residual


def _choice_paths(name: str) -> list[str]:
    return [p for p, _ in block_choices(lightnets.config(name, _resolution(name)))]


@pytest.mark.parametrize("name", NAMES)
def test_every_block_has_an_inside_that_matches_a_real_forward(name: str) -> None:
    res = _resolution(name)
    profile = {b.path: b for b in lightnets.profile(lightnets.config(name, res)).blocks}
    for row in lightnets.blocks(lightnets.config(name)):
        inner = block_inner_data(lightnets.config(name, res), row.path)
        assert inner.traced, f"{name} {row.path}: {inner.note}"
        parse_dot(inner_dot(inner))
        assert inner.ops("input")[0].shape == profile[row.path].input_shape
        assert inner.ops("output")[0].shape == profile[row.path].output_shape
    # node shapes against hooks on the real modules of a real forward, for the distinct blocks
    _, seen, _ = _real_forward(name)
    for path in _choice_paths(name):
        for node in block_inner_data(lightnets.config(name, res), path).nodes:
            if node.modules:
                assert node.shape in seen[f"{path}.{node.modules[-1]}"], f"{name} {path} {node.label}"


def test_inner_dot_is_valid_and_has_shapes() -> None:
    dot = parse_dot(block_inner_graph(lightnets.config("mobilenet_v3_large"), "features.4"))
    labels = {a["label"] for _, _, a in dot.edges}
    assert "72×28×28" in labels and "72×1×1" in labels
    assert not any(a.get("label") == "+" for a in dot.nodes.values())  # s2: no shortcut
    assert "squeeze-excite" in set(dot.cluster_of.values())
    assert float(dot.node_defaults["fontsize"]) >= 14


class _DataDependent(nn.Module):
    """Control flow on tensor values: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) if x.sum() > 0 else x


def test_untraceable_block_falls_back_to_one_node() -> None:
    inner = module_inner_graph(_DataDependent(), ((1, 4, 8, 8),), "odd", "odd block", "odd", (1, 4, 8, 8))
    assert not inner.traced and "not traced" in inner.note
    assert [n.op for n in inner.nodes] == ["input", "block", "output"]
    dot = parse_dot(inner_dot(inner))
    assert dot.nodes["block"]["label"] == "odd block"


def test_tracing_leaves_forwards_in_other_threads_alone() -> None:
    """fx patches nn.Module.__call__ process-wide while tracing; the app serves several sessions in threads."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3)).eval()
    original_call = nn.Module.__call__
    errors: list[str] = []
    stop = threading.Event()

    def forwards() -> None:
        while not stop.is_set():
            try:
                with torch.no_grad():
                    model(torch.randn(1, 3, 16, 16))
            except Exception as err:  # noqa: BLE001 - recorded for the assertion
                errors.append(repr(err))
                return

    traced: list[bool] = []

    def traces() -> None:
        for row in lightnets.blocks(lightnets.config("mobilenet_v2"))[1:10]:
            traced.append(module_inner_graph(row.make(), ((1, row.args["in_ch"], 16, 16),)).traced)

    threads = [threading.Thread(target=forwards), threading.Thread(target=traces), threading.Thread(target=traces)]
    for thread in threads:
        thread.start()
    for thread in threads[1:]:
        thread.join()
    stop.set()
    threads[0].join()
    assert errors == []
    assert traced == [True] * 18
    assert nn.Module.__call__ is original_call


def test_block_choices() -> None:
    choices = block_choices(lightnets.config("mobilenet_v2"))
    paths = [p for p, _ in choices]
    rows = {r.path: r for r in lightnets.blocks(lightnets.config("mobilenet_v2"))}
    firsts = {"features.1", "features.2", "features.4", "features.7", "features.11", "features.14", "features.17"}
    assert firsts <= set(paths)  # the first unit of each stage
    keys = [(rows[p].layer, tuple(sorted(rows[p].args.items()))) for p in paths]
    assert len(set(keys)) == len(keys)  # distinct configurations
    assert paths == sorted(paths, key=list(rows).index)
    assert all(label == rows[p].label for p, label in choices)
    assert "classifier.1" not in paths and "pool" not in paths  # one operator: nothing inside to see
    for name in NAMES:
        assert block_choices(lightnets.config(name, _resolution(name))), name


def test_model_summary() -> None:
    text = model_summary(lightnets.config("mobilenet_v2", 160, alpha=0.5))
    params = sum(p.numel() for p in lightnets.build(lightnets.config("mobilenet_v2", alpha=0.5)).parameters())
    assert f"Total params: {params:,}" in text
    assert "[1, 3, 160, 160]" in text and "InvertedResidual" in text
    assert "Total mult-adds (M): " in text and "Units." not in text
    assert model_summary(lightnets.config("mobilenet_v2", 160, alpha=0.5)) is text  # cached per configuration


def test_public_api() -> None:
    assert lightnets.block_graph is block_graph and lightnets.block_inner_graph is block_inner_graph
    assert lightnets.block_choices is block_choices and lightnets.model_summary is model_summary
    assert lightnets.BLOCK_KIND_COLORS is BLOCK_KIND_COLORS
