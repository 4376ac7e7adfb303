"""Low precision on EfficientNet-Lite0's real weights: the photo inputs, int8 PT2E quantisation (close to float32,
deterministic calibration, smaller), the ReLU6 → ReLU ablation, the comparison measures, the verdict rules on
synthetic results, and the experiment through the API, the CLI and the Experiments page on a few inputs.

One module-scoped fixture exports and quantises the network once (a few seconds); the experiment runs use 10 of
the 100 inputs (``few_inputs``), which exercises every code path but times nothing worth reading.
"""

from __future__ import annotations

import json

import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

import lightnets
from lightnets import experiments as E
from lightnets import quantization as Q
from lightnets.cli import main
from lightnets.experiments import FAILS, HOLDS, NOISY, Plan
from lightnets.experiments import low_precision as L


@pytest.fixture(scope="module")
def lite0():
    model = lightnets.pretrained_model(lightnets.config("efficientnet_lite0")).eval()
    inputs, calibration = Q.photo_inputs(model)
    exported = Q.export(model, calibration)
    return model, inputs, calibration, exported, Q.quantize_int8(exported, calibration, per_channel=True)


def test_photo_inputs_are_a_hundred_distinct_deterministic_crops(lite0) -> None:
    model, inputs, calibration, *_ = lite0
    assert inputs.shape == (100, 3, 224, 224) and calibration.shape == (5, 3, 224, 224)
    again, _ = Q.photo_inputs(model)
    assert torch.equal(inputs, again)
    flat = inputs.flatten(1)
    assert torch.cdist(flat, flat).fill_diagonal_(1.0).min() > 0  # no two inputs alike
    assert torch.equal(inputs[1], inputs[0].flip(-1))  # every second input is the mirror image of the first


def test_int8_is_close_to_float32_on_the_photos(lite0) -> None:
    """An 8-bit uniform quantiser of a full-scale signal has an SQNR of 6.02·8 + 1.76 ≈ 50 dB. Activations fill
    only part of their calibrated range and 33 layers add their errors, so the output keeps far less; we ask for
    15 dB (noise power 3% of the signal, an rms error of 18% of the logits' rms), which still leaves the top
    class of a clear photo unchanged; the stem, one rounding of input and weights away, must keep 30 dB."""
    model, _, calibration, exported, q = lite0
    with torch.no_grad():
        reference, int8 = model(calibration), q.graph(calibration)
    assert Q.sqnr_db(reference, int8) > 15.0
    assert Q.top1_agreement(reference, int8) >= 0.8  # at least 4 of the 5 photos keep their class
    stem = Q.sqnr_db(Q.activation_outputs(exported, calibration)["_stem_act"],
                     Q.activation_outputs(q.graph, calibration)["_stem_act"])
    assert stem > 30.0
    # the int8 weights and their scales: about a quarter of float32's bytes
    assert Q.size_bytes(q.graph) < 0.3 * Q.size_bytes(model)


def test_calibration_is_deterministic(lite0) -> None:
    _, _, calibration, exported, q = lite0
    again = Q.quantize_int8(exported, calibration, per_channel=True)
    assert again.steps == q.steps and again.ranges == q.ranges
    # 29 of the 33 activations have a step: the four before a TF-"same" pad feed a convolution that the x86
    # quantizer leaves in float32 (with the stem's), so nothing observes them
    assert len(q.steps) == 29
    assert q.float_layers == ("_conv_stem", "_blocks.1._depthwise_conv", "_blocks.3._depthwise_conv",
                              "_blocks.5._depthwise_conv", "_blocks.11._depthwise_conv")
    # ReLU6's range is [0, 6] at most: the step is at most 6/255
    assert all(step <= 6 / 255 + 1e-7 for _, step in q.steps)


def test_the_ablation_lifts_the_clamp_and_keeps_the_weights(lite0) -> None:
    model, _, calibration, *_ = lite0
    lifted = Q.relu_instead_of_relu6(model)
    assert not any(isinstance(m, nn.ReLU6) for m in lifted.modules())
    assert any(isinstance(m, nn.ReLU6) for m in model.modules())  # the original is untouched
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), lifted.state_dict().values()))
    highs = {}
    for name, net in (("relu6", model), ("relu", lifted)):
        stats = L._Stats(net)
        L._logits(net, calibration)
        highs[name] = max(layer.high for layer in stats.close())
    assert highs["relu6"] <= 6.0 and highs["relu"] > 6.0
    exported_lifted = Q.export(lifted, calibration)
    q = Q.quantize_int8(exported_lifted, calibration, per_channel=True)
    assert max(hi for _, _, hi in q.ranges) > 6.0 and max(step for _, step in q.steps) > 6 / 255
    # the experiment lifts the clamp in the network's exported graph instead of exporting again: the same graph
    rewritten = Q.lift_clamp(lite0[3])
    assert not any("hardtanh" in str(n.target) for n in rewritten.graph.nodes)
    assert any("hardtanh" in str(n.target) for n in lite0[3].graph.nodes)  # the network's own graph is untouched
    x = lite0[1][::25]
    with torch.no_grad():
        assert torch.equal(rewritten(x), exported_lifted(x))
        again = Q.quantize_int8(rewritten, calibration, per_channel=True)
        assert torch.equal(again.graph(x), q.graph(x))
    assert (again.steps, again.ranges, again.float_layers) == (q.steps, q.ranges, q.float_layers)


def test_comparison_measures_on_hand_made_logits() -> None:
    a = torch.tensor([[5.0, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5]])
    b = torch.tensor([[4.0, 5, 3, 2, 0, 1], [0, 1, 2, 3, 4, 5]])
    assert Q.top1_agreement(a, b) == 0.5
    assert Q.top5_overlap(a, b) == pytest.approx((4 / 5 + 1) / 2)
    assert Q.sqnr_db(a, a) == float("inf")
    assert Q.sqnr_db(torch.tensor([3.0, 4.0]), torch.tensor([3.0, 3.5])) == pytest.approx(10 * 2.0, abs=1e-9)


def _variant(key: str, agreement: float, sqnr: float, steps=()) -> L.Variant:
    return L.Variant(key, 100, agreement, agreement, sqnr, (("a", sqnr),), 5_000_000, tuple(steps))


def _result(clamped: float, lifted: float, sqnr6: float, sqnr: float, relu_high: float = 40.0) -> L.LowPrecisionResult:
    layer = lambda high: L.LayerStats("a", 0.0, high, 1.0, 0.0, (1,) * 65)  # noqa: E731
    variants = (_variant("fp32", 1.0, float("inf")), _variant("int8_pc", clamped, sqnr6, [("a", 6 / 255)]),
                _variant("relu_fp32", 1.0, float("inf")),
                _variant("relu_int8_pc", lifted, sqnr, [("a", relu_high / 255)]))
    return L.LowPrecisionResult("cpu", True, 100, 5, 5, (layer(6.0),), (layer(relu_high),), variants, 0.9, None)


@pytest.mark.parametrize("clamped,lifted,sqnr6,sqnr,expected", [
    (0.97, 0.80, 20.0, 12.0, [HOLDS, HOLDS, HOLDS]),  # ReLU6 keeps more answers, and a cleaner output
    (0.85, 0.90, 10.0, 14.0, [FAILS, HOLDS, FAILS]),  # the clamp did not help here
    (0.92, 0.92, 14.5, 14.0, [NOISY, HOLDS, NOISY]),  # less than a dB apart
])
def test_verdicts_are_computed_from_the_figures(clamped, lifted, sqnr6, sqnr, expected) -> None:
    findings = L.judge(_result(clamped, lifted, sqnr6, sqnr))
    assert [f.outcome for f in findings] == expected
    assert "trained with ReLU6" in findings[-1].text and "74.4" in findings[0].text


def test_a_clamp_that_does_not_bound_the_range_fails() -> None:
    findings = L.judge(_result(0.97, 0.8, 20.0, 12.0, relu_high=5.0))
    assert findings[1].outcome == FAILS


@pytest.fixture
def few_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The experiment on 10 of its 100 inputs and with tiny timing plans: every code path runs, quickly."""
    real = Q.photo_inputs

    def photo_inputs(model):
        inputs, calibration = real(model)
        return inputs[::10], calibration

    monkeypatch.setattr(L.Q, "photo_inputs", photo_inputs)
    for name in ("QUICK", "FULL", "QUICK_NETWORKS", "FULL_NETWORKS"):
        monkeypatch.setattr(E, name, Plan(rounds=3, budget_s=0.005))


def test_quick_run_through_the_cli(few_inputs, capsys) -> None:
    assert main(["experiment", "low_precision", "--quick", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    keys = [v["key"] for v in out["result"]["variants"]]
    assert keys == list(L.QUICK_VARIANTS)
    int8 = next(v for v in out["result"]["variants"] if v["key"] == "int8_pc")
    assert int8["inputs"] == 10 and 0 <= int8["top1_agreement"] <= 1 and len(int8["steps"]) == 29
    assert max(layer["high"] for layer in out["result"]["relu_layers"]) > 6.0
    assert max(layer["high"] for layer in out["result"]["relu6_layers"]) <= 6.0
    claims = [f["claim"] for f in out["findings"]]
    assert "ReLU6 makes the network quantise better than ReLU" in claims
    titles = [t["title"] for t in out["tables"]]
    assert any(t.startswith("Published") for t in titles)


def test_quick_run_on_the_experiments_page(few_inputs) -> None:
    at = AppTest.from_file("../app.py", default_timeout=300).run()
    at = at.switch_page("pages/experiments.py").run()
    at = at.selectbox(key="experiments.name").set_value("low_precision").run()
    at.button(key="experiments.run").click().run()
    assert not at.exception, [e.message for e in at.exception]
    verdicts = [box.value for box in [*at.success, *at.error, *at.warning]]
    assert any("the clamp bounds the range" in v for v in verdicts)
    text = " ".join(m.value for m in at.markdown)
    assert "MobileNetV3 paper, Tables 3 and 4" in text and "ShuffleNet V2 ×1.0" in text
    assert len(at.get("plotly_chart")) == 3


def test_activation_statistics_count_every_value_once_and_keep_the_outliers_in_the_last_bin() -> None:
    x = torch.tensor([-1.0, 0.0, 0.25, 0.75, 5.999, 6.0, 31.75, 32.0, 40.0, 100.0]).reshape(1, 10, 1, 1)
    model = nn.Sequential(nn.ReLU())
    stats = L._Stats(model)
    model(x)
    model(x)  # two batches accumulate
    (layer,) = stats.close()
    bins = int(L.HIST_MAX / L.HIST_STEP) + 1  # 0–0.5, …, 31.5–32, and everything from 32 on
    expected = [0] * bins
    expected[0], expected[1], expected[11], expected[12], expected[63], expected[-1] = 6, 2, 2, 2, 2, 6
    assert list(layer.counts) == expected and sum(layer.counts) == 20
    assert (layer.low, layer.high) == (0.0, 100.0)
    assert layer.mean == pytest.approx(216.749 / 10) and layer.above == pytest.approx(5 / 10)
