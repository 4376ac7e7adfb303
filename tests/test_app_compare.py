"""The Compare page and the Your-model page without a browser (AppTest): A and B from the URL and back into it,
totals and ratios from lightnets.compare, the interleaved latency on its button, the sidebar's "compare with…"
link; an uploaded ONNX file shown with its figures, bad uploads one line each."""

from __future__ import annotations

import io
import re
import urllib.parse

import pytest
import torch
from streamlit.testing.v1 import AppTest

import lightnets
import ui.compare
from lightnets import compare, export
from lightnets.formatting import format_count

TIMEOUT = 180


def _compare(**query: str) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    return at.switch_page("pages/compare.py").run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _table(at: AppTest, key: str) -> dict[str, list]:
    frame = at.dataframe[["compare.totals", "compare.stages"].index(key)].value  # in page order
    return {column: list(frame[column]) for column in frame.columns}


SHUFFLE = {"a_model": "shufflenet_v1", "a_groups": "1", "b_model": "shufflenet_v1", "b_groups": "8"}


def test_a_and_b_come_from_the_url_and_the_figures_from_lightnets() -> None:
    at = _compare(**SHUFFLE)
    _ok(at)
    a, b = lightnets.config("shufflenet_v1", groups=1), lightnets.config("shufflenet_v1", groups=8)
    rows = compare.totals(lightnets.profile(a), lightnets.profile(b))
    table = _table(at, "compare.totals")
    assert table["B/A"] == [compare.ratio_text(r.ratio) for r in rows]
    assert table["A"][1] == format_count(lightnets.profile(a).macs) and table["B"][0] == format_count(
        lightnets.profile(b).params)
    stages = _table(at, "compare.stages")
    assert stages["stage"] == ["stem", "stage 2", "stage 3", "stage 4", "head"]
    assert stages["MACs B"][-1] == format_count(sum(r.macs for r in lightnets.profile(b).layers if r.stage == "head"))
    # the widgets show the link's values, and the URL carries every knob of both
    assert at.session_state["compare.a.knob.shufflenet_v1.groups"] == 1
    assert at.session_state["compare.b.knob.shufflenet_v1.groups"] == 8
    query = dict(at.query_params)
    assert query["a_groups"] == "1" and query["b_groups"] == "8" and query["b_rho"] == "1"
    assert {"a_scale", "a_shuffle", "b_scale", "b_shuffle"} <= set(query)


def test_url_round_trip_and_bad_values() -> None:
    at = _compare(**SHUFFLE)
    at.select_slider(key="compare.b.rho").set_value(20).run()  # ρ = 5/7: 160 px
    at.selectbox(key="compare.a.model").set_value("mobilenet_v2").run()
    at.slider(key="compare.a.knob.mobilenet_v2.alpha").set_value(0.5).run()
    _ok(at)
    query = {k: v for k, v in dict(at.query_params).items() if k[:2] in ("a_", "b_")}
    assert query["a_model"] == "mobilenet_v2" and query["a_alpha"] == "0.5" and query["b_rho"] == "0.7143"
    assert not any(k in query for k in ("a_groups", "a_scale"))  # the other model's knobs left the URL
    again = _compare(**query)  # the shared link opens the same pair
    _ok(again)
    assert again.session_state["compare.a.knob.mobilenet_v2.alpha"] == 0.5
    assert again.session_state["compare.b.rho"] == 20 and again.session_state["compare.b.model"] == "shufflenet_v1"
    assert _table(again, "compare.totals") == _table(at, "compare.totals")

    bad = _compare(a_model="resnet50", b_model="mobilenet_v2", b_alpha="7", b_rho="banana")
    assert not bad.exception
    warnings = [re.sub(r"\\(.)", r"\1", w.value) for w in bad.warning]  # shown as plain text: escaped markdown
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "unknown model 'resnet50'" in warnings[0] and "alpha=" in warnings[0] and "b_rho=" in warnings[0]


def test_interleaved_latency_on_the_button(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = lightnets.measure_interleaved

    def spy(targets, **kwargs):
        calls.append((tuple(targets), kwargs))
        return real(targets, **{**kwargs, "rounds": 2, "budget_s": 0.01})

    monkeypatch.setattr(lightnets, "measure_interleaved", spy)
    at = _compare(a_model="squeezenet1_1", a_rho="0.25", b_model="squeezenet1_1", b_rho="0.5")
    _ok(at)
    assert not calls and not at.metric  # nothing is timed before the button
    at.button(key="compare.measure").click().run()
    _ok(at)
    (targets, kwargs), = calls
    assert targets == (lightnets.config("squeezenet1_1", 56), lightnets.config("squeezenet1_1", 112))
    assert kwargs["rounds"] == ui.compare.ROUNDS  # one run, both models in alternation
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["A median"].endswith(" ms") and metrics["B median"].endswith(" ms")
    result = at.session_state["compare.latency"][(targets[0], targets[1], None)]
    assert metrics["B/A"] == compare.ratio_text(result.ratio(1, 0)) and result.rounds == 2
    at.select_slider(key="compare.b.rho").set_value(10).run()
    assert len(calls) == 1 and not at.metric  # another pair: not measured until asked


def test_compare_with_link_in_the_sidebar() -> None:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.query_params["model"] = "ghostnet"
    at.query_params["ratio"] = "3"
    at.run().switch_page("pages/cost.py").run()
    link = next(p for p in at.get("page_link") if p.proto.label == "Compare with…")
    assert link.proto.page.endswith("compare")
    query = dict(urllib.parse.parse_qsl(link.proto.query_string))
    assert query["a_model"] == query["b_model"] == query["model"] == "ghostnet" and query["a_ratio"] == "3"
    followed = _compare(**query)  # what the click opens
    _ok(followed)
    assert followed.session_state["compare.a.model"] == "ghostnet"
    assert followed.session_state["compare.a.knob.ghostnet.ratio"] == 3
    assert any("same configuration" in i.value for i in followed.info)


# --------------------------------------------------------------------------------------------------
# your own model


def _own() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.run()
    return at.switch_page("pages/own_model.py").run()


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    next(u for u in at.get("file_uploader") if u.proto.id.endswith("own.upload")).set_value(
        (name, data, "application/octet-stream"))
    return at.run()


def test_own_model_page_shows_an_uploaded_onnx_file() -> None:
    config = lightnets.config("squeezenet1_1", 64)
    data = export.export_onnx(config)
    at = _upload(_own(), "squeezenet.onnx", data)
    _ok(at)
    p = lightnets.profile(config)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["MACs"] == format_count(p.macs) and metrics["params"] == format_count(p.params)
    assert any(f"{p.macs:,} MACs" in c.value for c in at.caption)
    dot = at.get("graphviz_chart")[0].proto.spec
    assert "squeezenet.onnx (ONNX), input 1×3×64×64" in dot and "fire" in dot
    for view in ("Inside a block", "Per layer", "Latency", "Predict"):
        at.session_state["own.view"] = view
        at.run()
        _ok(at)
    assert len(at.get("plotly_chart")) == 2  # the input as the model sees it, and the top-5
    assert any("onnxruntime" in m.label for m in at.metric)


def test_own_model_page_bad_uploads_one_line_each() -> None:
    at = _own()
    buffer = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), buffer)
    for name, data, message in (("junk.onnx", b"\x01\x02 not a model at all " * 50, "not an ONNX model"),
                                ("model.pt", buffer.getvalue(), "can run code"),
                                ("renamed.onnx", buffer.getvalue(), "can run code")):
        _upload(at, name, data)
        assert not at.exception
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and "\n" not in errors[0] and message in errors[0], (name, errors)
        assert not at.get("graphviz_chart")


def test_architecture_page_exports_on_a_button() -> None:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.query_params["model"] = "squeezenet1_1"
    at.query_params["rho"] = "0.25"
    at.run().switch_page("pages/architecture.py").run()
    at.session_state["arch.export"] = True  # open the lazy expander
    at.run()
    _ok(at)
    config = lightnets.config("squeezenet1_1", 56)
    assert not export.is_exported(config)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download safetensors" in labels and "Download ONNX" not in labels  # ONNX waits for the button
    assert any("BatchNorm is folded" in m.value for m in at.markdown)
    at.button(key="arch.export.prepare").click().run()
    _ok(at)
    assert export.is_exported(config)
    assert "Download ONNX" in [b.proto.label for b in at.get("download_button")]
