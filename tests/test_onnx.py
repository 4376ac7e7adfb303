"""Export and import: every registered model exported to ONNX and read back gives the profile's MACs exactly,
its params after BatchNorm folding, onnxruntime's output equal to eager PyTorch, and one block per Block row
that computes anything; bad files each get one line; safetensors round trip; the export cache runs one export
per file even when two threads ask at once.

Exports are shared within the module (one per model, at 64 px: the export's time hardly depends on the input
size, the checks' does)."""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

import lightnets
from lightnets import export, onnx_model
from lightnets.cost import profile_model
from lightnets.graph import block_nodes
from lightnets.latency import fold_batchnorm
from lightnets.onnx_model import OnnxError, read_onnx
from lightnets.weights import WeightsError, load_weights, read_checkpoint, read_safetensors

ROOT = Path(__file__).resolve().parents[1]
RESOLUTION = 64
NAMES = lightnets.list_models()


@pytest.fixture(scope="module")
def exported() -> dict[str, bytes]:
    return {}


def _export(exported: dict[str, bytes], name: str) -> bytes:
    if name not in exported:
        exported[name] = export.export_onnx(lightnets.config(name, RESOLUTION))
    return exported[name]


def _one_line(text: str) -> None:
    assert text and "\n" not in text, text


# --------------------------------------------------------------------------------------------------
# round trip


@pytest.mark.parametrize("name", NAMES)
def test_export_then_import_gives_the_profile(exported: dict[str, bytes], name: str) -> None:
    config = lightnets.config(name, RESOLUTION)
    data = _export(exported, name)
    # the exporter's stack traces (this server's paths) are gone; what the file says about itself is ours
    assert b"pkg.torch.onnx.stack_trace" not in data and str(ROOT).encode() not in data
    model = read_onnx(data, f"{name}.onnx")
    assert model.problems == () and model.complete and model.runnable and model.is_classifier
    assert model.input_shape == (1, 3, RESOLUTION, RESOLUTION) and model.output_shape == (1, 1000)
    assert model.metadata["lightnets.model"] == name

    prof = lightnets.profile(config)
    assert model.profile.macs == prof.macs  # exactly, the cost model's convention
    assert model.profile.macs_by_kind() == prof.macs_by_kind()  # and the same op vocabulary

    # params after BatchNorm folding: the exporter's optimiser folds what fold_batchnorm folds
    torch_model = export.exported_model(config)
    x = torch.randn(1, 3, RESOLUTION, RESOLUTION, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        eager = torch_model(x).numpy()
    got = onnx_model.onnx_run(model, x.numpy())
    np.testing.assert_allclose(got, eager, rtol=0, atol=1e-4)
    bns = sum(isinstance(m, torch.nn.BatchNorm2d) for m in torch_model.modules())
    folded = fold_batchnorm(torch_model, x)
    assert folded > 0 or bns == 0
    assert model.profile.params == sum(p.numel() for p in torch_model.parameters())
    assert sum(n.op_type == "BatchNormalization" for n in model.nodes) == bns - folded
    # one block per Block row that computes something (dropout at inference, an identity skip and a BatchNorm
    # folded away leave no node), in network order
    folded_profile = profile_model(torch_model, RESOLUTION)
    rows = [b.path for b in folded_profile.blocks if any(r.block == b.path for r in folded_profile.layers)]
    blocks = [b.path for b in model.profile.blocks if b.macs or b.elementwise]
    assert blocks == rows
    assert {b.path for b in model.blocks} <= {row.path for row in config.blocks}
    stages = {row.path: row.stage for row in config.blocks}
    assert all(b.stage == stages[b.path] for b in model.blocks)
    per_block = {b.path: b.macs for b in prof.blocks}
    assert all(b.macs == per_block[b.path] for b in model.profile.blocks if b.macs)
    folds = onnx_model._folds(model)
    assert sum(len(f.paths) for f in folds) == len(model.blocks)
    dot = onnx_model.onnx_block_graph(model)
    assert all(f"\t{f.id} [" in dot for f in folds) and "1000" in dot


def test_block_graph_and_inside_of_a_block(exported: dict[str, bytes]) -> None:
    model = read_onnx(_export(exported, "mobilenet_v2"))
    dot = onnx_model.onnx_block_graph(model)
    # the repeats folded exactly as lightnets.block_graph folds them (the dropout row has no node)
    present = {b.path for b in model.blocks}
    expected = [n.paths for n in block_nodes(lightnets.config("mobilenet_v2", RESOLUTION))
                if set(n.paths) <= present]
    assert [f.paths for f in onnx_model._folds(model)] == expected
    assert "× 3" in dot and 'label="stage 4"' in dot
    assert "3×64×64" in dot and "1000" in dot
    inner = onnx_model.onnx_inner_graph(model, "features.2")
    assert inner.count("PW 1×1") == 2 and "DW 3×3" in inner and "ReLU6" in inner
    with pytest.raises(OnnxError, match="no block 'nope'"):
        onnx_model.onnx_inner_graph(model, "nope")


def test_latency_and_top5_with_onnxruntime(exported: dict[str, bytes]) -> None:
    model = read_onnx(_export(exported, "squeezenet1_1"))
    result = onnx_model.onnx_latency(model, threads=1, budget_s=0.05, min_runs=3)
    assert result.runs >= 3 and result.median_ms > 0 and result.mode == "onnxruntime" and result.threads == 1
    photo = lightnets.sample_images()["coffee"]
    prediction = onnx_model.onnx_predict(model, photo, "imagenet")
    probs = [p for *_, p in prediction.topk]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert tuple(prediction.input.shape) == (1, 3, RESOLUTION, RESOLUTION)
    unit = onnx_model.onnx_predict(model, photo, "unit")
    assert float(unit.input.min()) >= 0 and float(unit.input.max()) <= 1  # the preprocessing chosen is used
    with pytest.raises(OnnxError, match="Unknown preprocessing"):
        onnx_model.onnx_predict(model, photo, "bgr")


# --------------------------------------------------------------------------------------------------
# bad files


def _graph(nodes, inputs, outputs, initializers=(), opset=18) -> bytes:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def _image(name: str = "x", dims=(1, 3, 8, 8)):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims))


def _pickle() -> bytes:
    buffer = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), buffer)  # a whole module: the kind of file that runs code on load
    return buffer.getvalue()


def test_bad_files_get_one_line_each(exported: dict[str, bytes]) -> None:
    good = _export(exported, "squeezenet1_1")
    rng = np.random.default_rng(0)
    cases = {
        "random bytes": (rng.bytes(5000), "x.onnx", "not an ONNX model"),
        "truncated": (good[: len(good) // 2], "x.onnx", "not an ONNX model"),
        "a pickle renamed .onnx": (_pickle(), "model.onnx", "PyTorch pickle .* can run code .* torch.onnx.export"),
        "a protocol-2 pickle": (b"\x80\x02}q\x00.", "model.onnx", "PyTorch pickle"),
        "a .pt file": (b"anything", "model.pt", "PyTorch pickle .* can run code"),
        "a .pth file": (good, "model.pth", "PyTorch pickle"),
        "a .pt2 archive": (b"PK\x03\x04rest", "model.pt2", r"\.pt2 archive.* can run code"),
        "safetensors": (export.export_safetensors(lightnets.config("squeezenet1_1")), "w.safetensors",
                        "weights only, no graph"),
        "empty": (b"", "x.onnx", "empty"),
    }
    for case, (data, filename, message) in cases.items():
        with pytest.raises(OnnxError) as info:
            read_onnx(data, filename)
        _one_line(str(info.value))
        assert re.search(message, str(info.value)), (case, str(info.value))
    with pytest.raises(OnnxError, match="larger than the 64 MB limit"):
        read_onnx(io.BytesIO(b"\0" * (onnx_model.MAX_ONNX_BYTES + 1)))


def test_unsupported_models_say_what_and_show_the_rest() -> None:
    relu = helper.make_node("Relu", ["x"], ["r"], name="relu")
    unknown = _graph([relu, helper.make_node("FancyOp", ["r"], ["y"], name="fancy", domain="my.ops")],
                     [_image()], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = read_onnx(unknown, "u.onnx")
    assert not model.runnable and any("Unknown operators FancyOp (my.ops)" in p for p in model.problems)
    assert [n.op for n in model.nodes] == ["act", "other"] and model.blocks  # still drawn
    with pytest.raises(OnnxError, match="onnxruntime cannot run this model"):
        onnx_model.onnx_latency(model)

    two = _graph([helper.make_node("Add", ["x", "z"], ["y"], name="add")], [_image("x"), _image("z")],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = read_onnx(two, "two.onnx")
    assert any("has 2 inputs (x, z)" in p for p in model.problems) and not model.runnable
    assert model.shapes["y"] == (1, 3, 8, 8)  # shape inference still ran
    assert model.profile.elementwise["add"] == 192

    weight = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 1, 1], np.ones(12, np.float32))
    weight.data_location = TensorProto.EXTERNAL
    del weight.float_data[:]
    weight.external_data.add(key="location", value="weights.bin")
    external = _graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [_image()],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    model = read_onnx(external, "ext.onnx")
    assert any("external data files (e.g. 'w')" in p for p in model.problems) and not model.runnable
    assert model.profile.macs == 4 * 3 * 64 and model.profile.params == 12  # costs come from the shapes alone

    dynamic = _graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], [_image("x", ("N", 3, "H", "W"))],
                     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ("N", 3, "H", "W"))])
    model = read_onnx(dynamic, "dyn.onnx", size=32)
    assert model.input_shape == (1, 3, 32, 32) and model.shapes["y"] == (1, 3, 32, 32) and not model.problems
    assert len(model.notes) == 3 and model.runnable
    channels = _graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], [_image("x", (1, "C", 8, 8))],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = read_onnx(channels, "c.onnx")
    assert any("dynamic dimension 'C'" in p for p in model.problems) and not model.complete
    for problem in model.problems:
        _one_line(problem)


def test_name_prefixes_group_blocks_without_exporter_metadata() -> None:
    w1 = helper.make_tensor("features.0.weight", TensorProto.FLOAT, [4, 3, 3, 3], np.ones(108, np.float32))
    w2 = helper.make_tensor("features.1.weight", TensorProto.FLOAT, [4, 1, 3, 3], np.ones(36, np.float32))
    nodes = [helper.make_node("Conv", ["x", "features.0.weight"], ["a"], name="/features/features.0/conv/Conv",
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["b"], name="/features/features.0/act/Relu"),
             helper.make_node("Conv", ["b", "features.1.weight"], ["c"], name="/features/features.1/Conv", group=4,
                              pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c"], ["y"], name="/pool/GlobalAveragePool")]
    model = read_onnx(_graph(nodes, [_image()], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                             [w1, w2]), "plain.onnx")
    assert [b.path for b in model.blocks] == ["features.0", "features.1", "pool"]
    assert [r.op for r in model.profile.layers] == ["dense", "act", "depthwise", "pool"]
    assert model.profile.macs == 4 * 64 * 27 + 4 * 64 * 9 and model.profile.params == 144
    assert model.profile.elementwise["pool"] == 4 * 64  # pooling counts the elements it reads, as cost.py


# --------------------------------------------------------------------------------------------------
# safetensors, and the export cache


def test_safetensors_round_trip() -> None:
    config = lightnets.config("shufflenet_v2", 64)
    data = export.export_safetensors(config)
    state = read_safetensors(data)
    reference = export.exported_model(config).state_dict()
    assert state.keys() == reference.keys() and all(torch.equal(state[k], reference[k]) for k in state)
    assert read_checkpoint(data).keys() == state.keys()  # the Predict page's loader takes it too
    model = load_weights(config, data)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), export.exported_model(config)(x))
    for bad, message in ((data[:200], "truncated"), (b"\x10\0\0\0\0\0\0\0{not json at all}", "cannot be read")):
        with pytest.raises(WeightsError, match=message) as info:
            read_checkpoint(bad)
        _one_line(str(info.value))


def test_two_sessions_asking_for_one_file_export_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def slow(config, pretrained):
        calls.append(config)
        time.sleep(0.3)
        return b"onnx bytes of " + config.name.encode()

    monkeypatch.setattr(export, "_export", slow)
    config = lightnets.config("mobilenet_v1", 40)  # a resolution no other test exports
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(export.export_onnx(config))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == [b"onnx bytes of mobilenet_v1"] * 3
    assert export.is_exported(config) and export.export_progress(config) == 1.0
    future = export.start_export(config)
    assert future.result(timeout=5) == results[0] and len(calls) == 1


def test_stack_traces_are_stripped_everywhere() -> None:
    node = helper.make_node("Relu", ["x"], ["y"])
    node.metadata_props.add(key="pkg.torch.onnx.stack_trace", value='File "/secret/path.py", line 1')
    node.metadata_props.add(key="pkg.torch.onnx.name_scopes", value="['', 'relu']")
    inner = helper.make_graph([helper.make_node("Relu", ["x"], ["z"])], "inner", [], [_image("z")])
    inner.node[0].metadata_props.add(key="pkg.torch.onnx.stack_trace", value="/secret")
    cond = helper.make_node("If", ["c"], ["w"], then_branch=inner, else_branch=inner)
    model = helper.make_model(helper.make_graph([node, cond], "g", [_image()], [_image("y")]))
    assert export.strip_metadata(model) == 3
    text = model.SerializeToString()
    assert b"/secret" not in text and b"name_scopes" in text


def test_pickles_are_detected_by_content() -> None:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02.")
    for data in (zipped.getvalue(), _pickle()):
        with pytest.raises(OnnxError, match="can run code"):
            onnx_model.refuse_pickle(data, "model.onnx")
    onnx.checker.check_model(onnx.load_model_from_string(_graph(
        [helper.make_node("Relu", ["x"], ["y"])], [_image()], [_image("y")])))  # a real model is not refused
    onnx_model.refuse_pickle(_graph([helper.make_node("Relu", ["x"], ["y"])], [_image()], [_image("y")]),
                             "fine.onnx")
