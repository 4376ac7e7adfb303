"""NetAdapt on MobileNetV3 (lightnets/experiments/netadapt.py): every step cuts the table's prediction by δ, keeps
residual widths consistent, and gives a configuration that builds, profiles and opens from a link; the experiment
through the API, the command line and the page (quick mode, small images and tiny timing plans)."""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qs, urlsplit

import pytest
import torch
from streamlit.testing.v1 import AppTest

import lightnets
from lightnets import experiments as E
from lightnets import latency
from lightnets.experiments import netadapt as N
from lightnets.latency import DispatchCost, LatencyTable, device_name, predict_latency
from lightnets.models.mobilenet_v3 import SMALL, width_plan

RES = 64  # small images: the search times far fewer microseconds of operators


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):
    """One table directory for the module: the experiment runs below find the search's entries timed already."""
    return tmp_path_factory.mktemp("lut")


@pytest.fixture(scope="module")
def sized_entries():
    """Every operator's entry from its tensors' sizes (2 µs + 1 ns per element of its arguments), not timed: the
    search's logic is under test, and at 64 px the entries are microseconds that a busy CI machine made noisy
    enough to stop the search short (no proposal saved δ, once in a full run). benchmarks/netadapt.py times them."""
    def sized(call, device, *args, **kwargs) -> tuple[float, float]:
        leaves = torch.utils._pytree.tree_leaves(call.specs)
        return 0.002 + 1e-6 * sum(math.prod(v.shape) for v in leaves if isinstance(v, latency._TensorSpec)), 1.0

    with pytest.MonkeyPatch.context() as patch:  # module-wide: the fixtures below are module-scoped
        patch.setattr(latency, "_time_alone", sized)
        yield


@pytest.fixture(scope="module")
def table(cache, sized_entries) -> LatencyTable:
    device = device_name("cpu")
    # no dispatch cost: the search predicts the deployment form, whose frozen graph has no Python between its
    # operators, so it must not need one (the test below checks that it did not calibrate)
    return LatencyTable(device, 1, cache / LatencyTable.default_path(device, 1).name)


@pytest.fixture(scope="module")
def path(table: LatencyTable):
    return N.netadapt("mobilenet_v3_small", target=0.85, threads=1, table=table, resolution=RES)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch, cache, path) -> None:
    for name in ("QUICK", "FULL", "QUICK_NETWORKS", "FULL_NETWORKS"):
        monkeypatch.setattr(E, name, E.Plan(rounds=3, budget_s=0.005))
    monkeypatch.setattr(N, "RESOLUTION", RES)
    monkeypatch.setenv("LIGHTNETS_CACHE_DIR", str(cache))


def test_every_step_cuts_the_prediction_by_delta_until_the_target(path, table) -> None:
    steps, reached, delta, new, whole = path
    path_text = [(s.layer, s.width_to, round(s.predicted_ms, 3)) for s in steps]
    assert reached and len(steps) >= 3 and new > 0, (reached, new, path_text)
    assert delta == pytest.approx(0.01 * steps[0].predicted_ms)
    for before, step in zip(steps, steps[1:]):
        assert before.predicted_ms - step.predicted_ms >= delta - 1e-12, step
        assert step.layer[0] in "eb" and step.width_to < step.width_from and step.width_to % 8 == 0
        assert step.proposals >= 1 and step.macs < before.macs
    assert steps[-1].predicted_ms <= 0.85 * steps[0].predicted_ms < steps[-2].predicted_ms


def test_the_blocks_predictions_add_up_to_the_whole_deployed_networks(path, table) -> None:
    steps, *_rest, whole = path
    assert steps[0].predicted_ms == whole
    final = lightnets.config("mobilenet_v3_small", RES, widths=steps[-1].widths)
    again = predict_latency(final, threads=1, table=table, optimized=True, save=False)
    assert again.form == "script" and again.dispatch_ms == 0
    assert again.new_entries == 0  # the search timed every operator of the network it kept
    assert again.predicted_ms == pytest.approx(steps[-1].predicted_ms, rel=1e-9)
    assert table.dispatch is None  # the deployment form needed no calibration of Python's cost per call
    eager = predict_latency(final, threads=1, table=LatencyTable(table.device, 1, dispatch=DispatchCost(1.0)),
                            save=False)
    assert eager.form == "eager" and eager.predicted_ms != pytest.approx(again.predicted_ms, rel=0.01)


def test_each_step_builds_profiles_and_keeps_residual_widths(path) -> None:
    steps = path[0]
    groups = width_plan(SMALL, 1.0, True).groups
    for step in steps:
        config = lightnets.config("mobilenet_v3_small", RES, widths=step.widths)
        p = lightnets.profile(config)
        assert (p.macs, p.params) == (step.macs, step.params)
        bnecks = config.blocks[1:len(SMALL) + 1]
        for group in groups:  # residual-connected bnecks share one width, and every residual add is still there
            assert len({bnecks[i - 1].args["out_ch"] for i in group}) == 1
            for i in group[1:]:
                assert bnecks[i - 1].args["in_ch"] == bnecks[i - 1].args["out_ch"]
        model = lightnets.build(config).eval()
        assert [m.use_res_connect for m in model.features[1:len(SMALL) + 1]] == \
               [len(g) > 1 and i != g[0] for g in groups for i in g]
    with torch.no_grad():
        assert model(torch.randn(1, 3, RES, RES)).shape == (1, 1000)


def test_the_search_refuses_bad_settings(table) -> None:
    with pytest.raises(ValueError, match="NetAdapt runs on"):
        N.netadapt("mobilenet_v2", table=table)
    with pytest.raises(ValueError, match="target"):
        N.netadapt("mobilenet_v3_small", target=1.2, table=table)
    with pytest.raises(ValueError, match="target"):
        E.run_experiment("netadapt", quick=True, target=40)


def test_the_experiment_shows_the_path_the_proxy_and_a_link_that_opens_the_network(tiny) -> None:
    outcome = E.run_experiment("netadapt", quick=True, target=90, large=0)
    result = outcome.result
    assert result.reached and result.measured == (0, result.final.index)
    findings = outcome.findings()
    assert [f.outcome for f in findings[:2]] == [E.HOLDS, E.HOLDS] and len(findings) == 3
    view = outcome.view()
    path, adapted = view.tables
    assert len(path.rows) == len(result.steps) and "not accuracy" in path.note
    assert [r[3] for r in path.rows] == [f"{s.predicted_ms:.2f}" for s in result.steps]
    measured = [r[4] for r in path.rows]
    assert measured[0] != "—" and measured[-1] != "—" and set(measured[1:-1]) <= {"—"}
    link = result.link()
    query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert query["widths"] == result.final.widths and link in adapted.rows[0][3]
    assert "not accuracy" in adapted.rows[0][2]  # the proxy is named beside the result
    knobs, problems = lightnets.parse_knobs(query["model"], {"widths": query["widths"]})
    assert not problems
    opened = lightnets.Config(query["model"], knobs).with_rho(float(query["rho"]))  # what the sidebar builds
    assert opened == result.config() and lightnets.profile(opened).macs == result.final.macs
    assert json.dumps(outcome.to_json())  # the CLI's --json


def test_the_command_line_runs_it_in_quick_mode(tiny, capsys) -> None:
    from lightnets.cli import main

    assert main(["experiment", "netadapt", "--quick", "--large", "0", "--target", "90"]) == 0
    out = capsys.readouterr().out
    assert "The path: one proposal kept per step" in out and "widths=" in out
    assert "not accuracy" in out


def test_the_page_runs_it_and_a_widths_link_opens_in_the_sidebar(tiny) -> None:
    at = AppTest.from_file("../app.py", default_timeout=120).run()
    at = at.switch_page("pages/experiments.py").run()
    at = at.selectbox(key="experiments.name").set_value("netadapt").run()
    at.slider(key="experiments.netadapt.large").set_value(0)
    at.slider(key="experiments.netadapt.target").set_value(90)
    at.button(key="experiments.run").click().run()
    assert not at.exception, [e.message for e in at.exception]
    text = " ".join(m.value for m in at.markdown)
    assert "The path: one proposal kept per step" in text and "open in the Cost page" in text
    # the link's configuration, opened in a new session: the sidebar shows the widths and the URL keeps them
    widths = "e3=24,e10=144,b9=88"
    link = AppTest.from_file("../app.py", default_timeout=120)
    link.query_params.update(model="mobilenet_v3_small", widths=widths)
    link = link.run().switch_page("pages/cost.py").run()
    assert not link.exception and not link.warning
    assert link.text_input(key="ui.knob.mobilenet_v3_small.widths").value == widths
    selection = link.session_state["ui.selection"]
    assert selection.config == lightnets.config("mobilenet_v3_small", widths=widths)
    assert dict(link.query_params)["widths"] == widths
