"""lightnets.experiments: discovery, the verdict rule on synthetic timings (holds, does not hold, too noisy to say)
for every experiment, run_experiment's checks and conditions, and every experiment run for real with tiny budgets.

Verdicts are tested by replacing each experiment's timing with synthetic per-round times (``fake_timing``): the
networks are still built and costed, only the clock is ours.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

import lightnets
from lightnets import experiments as E
from lightnets.experiments import FAILS, HOLDS, NOISY, Plan, Timings, compare

TINY = Plan(rounds=3, budget_s=0.005)
ALL = E.list_experiments()
TIMED = [n for n in ALL if E.experiment(n).timed]


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every plan shrunk to three rounds of 5 ms: the code runs for real, the figures mean nothing."""
    for name in ("QUICK", "FULL", "QUICK_NETWORKS", "FULL_NETWORKS"):
        monkeypatch.setattr(E, name, TINY)


def fake_timing(monkeypatch: pytest.MonkeyPatch, module, factors, noisy: bool = False) -> list[list[str]]:
    """Replace ``module.time_alternating`` by synthetic times: label → factor × 1 ms in every round (or, with
    ``noisy``, rounds of every label but the first that swing ±40%). Returns the label lists it was asked for."""
    asked = []

    def timing(modules, inputs, labels, plan, threads, device, progress=None, span=(0, 1), text=""):
        assert len(modules) == len(inputs) == len(labels)
        asked.append(list(labels))
        swing = (0.6, 1.4, 0.7, 1.3, 1.0) if noisy else (1.0, 1.0, 1.0, 1.0, 1.0)
        rounds = [[factors(label) * (swing[r] if k else 1.0) for r in range(5)] for k, label in
                  enumerate(labels)]
        return Timings(tuple(labels), tuple(tuple(r) for r in rounds), tuple(5 for _ in labels))

    monkeypatch.setattr(module, "time_alternating", timing)
    return asked


def outcomes(findings, claim_part: str) -> list[str]:
    return [f.outcome for f in findings if claim_part in f.claim]


# --------------------------------------------------------------------------------------------------
# the shape


def test_every_experiment_is_discovered_with_its_claim_and_setup() -> None:
    assert ALL == ["shufflenet_v2_g1", "shufflenet_v2_g2", "shufflenet_v2_g3", "shufflenet_v2_g4",
                   "mobilenet_v3_redesign", "activations", "squeezenet_savings", "linear_bottleneck", "low_precision",
                   "nas_reward", "netadapt"]
    for name in ALL:
        exp = E.experiment(name)
        assert exp.id == name and exp.paper.arxiv and exp.where and len(exp.claim) > 80 and len(exp.setup) > 80
        assert "“" in exp.claim  # the paper's words, quoted
    assert lightnets.list_experiments() == ALL and lightnets.experiment("activations").timed


def test_unknown_experiment_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown experiment 'nope'; known experiments: shufflenet_v2_g1"):
        E.experiment("nope")


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(device="tpu"), "unknown device"),
    (dict(threads=0), "threads=0"),
    (dict(threads=True), "threads=True"),
    (dict(n=1), "n=1 is not allowed"),
    (dict(wings=2), "has no knob wings"),
])
def test_bad_settings_raise_one_line_before_anything_runs(kwargs, fragment) -> None:
    with pytest.raises(ValueError, match=fragment) as err:
        E.run_experiment("linear_bottleneck", **kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused() -> None:
    with pytest.raises(ValueError, match="not available"):
        E.run_experiment("shufflenet_v2_g1", device="cuda", quick=True)


# --------------------------------------------------------------------------------------------------
# the verdict rule


def test_compare_holds_when_nine_rounds_in_ten_show_the_slowdown() -> None:
    c = compare([1.5, 1.45, 1.6, 1.52, 1.48])
    assert c.outcome == HOLDS and c.ratio == 1.5 and c.percent == pytest.approx(100 / 3)


@pytest.mark.parametrize("ratios", [[1.0, 1.01, 0.99, 1.0, 1.02], [0.8, 0.82, 0.79, 0.81, 0.8]])
def test_compare_fails_when_the_slowdown_is_absent_or_reversed(ratios) -> None:
    assert compare(ratios).outcome == FAILS


@pytest.mark.parametrize("ratios", [[0.95, 1.2, 1.0, 1.3, 0.9], [1.5, 1.6], [1.02, 1.04, 1.03, 1.05, 1.01]])
def test_compare_is_too_noisy_when_rounds_disagree_or_are_too_few(ratios) -> None:
    assert compare(ratios).outcome == NOISY


def test_timings_ratios_are_paired_per_round() -> None:
    t = Timings(("a", "b"), ((2.0, 4.0, 3.0), (1.0, 2.0, 2.0)))
    assert t.ratios(0, 1) == [2.0, 2.0, 1.5] and t.ratio(0, 1) == 2.0 and t.median_ms(0) == 3.0
    assert t.total_ratios([0], [1]) == [2.0, 2.0, 1.5]
    assert t.compare("a", "b").outcome == HOLDS and t.compare("b", "a").outcome == FAILS


# --------------------------------------------------------------------------------------------------
# every experiment's verdicts on synthetic timings


@pytest.mark.parametrize("key,slow,fast", [("g1", "1:12", "1:1"), ("g2", "g = 8", "g = 1"),
                                           ("g3", "4-fragment-series", "1-fragment"),
                                           ("g4", "ReLU + shortcut", "neither")])
def test_guideline_verdicts(monkeypatch, key: str, slow: str, fast: str) -> None:
    from lightnets.experiments import shufflenet_v2_guidelines as module

    guide = module.GUIDELINES[key.upper()]
    claim = f"{slow} against {fast}"
    fake_timing(monkeypatch, module, lambda label: 2.0 if label == slow else 1.0)
    held = module.run_guideline(guide, "cpu", 1, True, lambda *a: None)
    assert outcomes(module.judge_guideline(guide, held), claim) == [HOLDS]
    rows = {r.label: r for r in held.rows}
    assert rows[slow].relative / rows[fast].relative == 0.5 and rows[slow].median_ms == 2.0
    fake_timing(monkeypatch, module, lambda label: 1.0)
    same = module.run_guideline(guide, "cpu", 1, True, lambda *a: None)
    assert outcomes(module.judge_guideline(guide, same), claim) == [FAILS]
    fake_timing(monkeypatch, module, lambda label: 1.1 if label == slow else 1.0, noisy=True)
    noisy = module.run_guideline(guide, "cpu", 1, True, lambda *a: None)
    assert outcomes(module.judge_guideline(guide, noisy), claim) == [NOISY]


def test_redesign_verdicts(monkeypatch) -> None:
    from lightnets.experiments import mobilenet_v3_redesign as module

    fake_timing(monkeypatch, module, lambda label: {"original last stage": 1.12, "original stem": 1.0}.get(label, 1.0))
    result = module.run("cpu", 1, True, lambda *a: None)
    findings = module.judge(result)
    assert outcomes(findings, "multiply-adds") == [HOLDS, HOLDS]  # 34.3M ≈ 30M and 10.4M ≈ 10M
    assert outcomes(findings, "last stage: latency") == [HOLDS]
    assert outcomes(findings, "stem: latency") == [FAILS]
    text = next(f.text for f in findings if "last stage: latency" in f.claim)
    assert "10.7%" in text and "11%" in text  # 1 − 1/1.12 saved here; the paper's 11%


def test_activation_verdicts(monkeypatch) -> None:
    from lightnets.experiments import activations as module

    slow = {"sigmoid": 1.5, "swish": 1.0, "h-swish, unfused": 3.0, "swish, sigmoid gates": 1.2}
    fake_timing(monkeypatch, module, lambda label: slow.get(label, 1.0))
    findings = module.judge(module.run("cpu", 1, True, lambda *a: None))
    assert outcomes(findings, "sigmoid against h-sigmoid") == [HOLDS]
    assert outcomes(findings, "swish against h-swish, alone") == [FAILS]
    assert outcomes(findings, "written out") == [HOLDS]
    assert outcomes(findings, "whole network") == [HOLDS]


def test_squeezenet_verdicts(monkeypatch) -> None:
    from lightnets.experiments import squeezenet_savings as module

    def factor(label: str) -> float:
        return {"SR 0.125, 3×3 50%": 1.0, "SqueezeNet 1.1": 0.5, "SR 0.5, 3×3 99%": 2.0}.get(label, 1.0)

    fake_timing(monkeypatch, module, factor)
    findings = module.judge(module.run("cpu", 1, True, lambda *a: None))
    assert outcomes(findings, "50× fewer parameters") == [HOLDS]  # 60M / 1.248M = 48.1
    assert outcomes(findings, "strategy 1") == [HOLDS]
    assert outcomes(findings, "strategy 2") == [FAILS]  # the widest SR timed like SR 0.125 here
    assert outcomes(findings, "model sizes") == [HOLDS]  # 4.8 / 13.0 / 18.5 MB against 4.8 / 13 / 19
    assert outcomes(findings, "late downsampling") == [HOLDS]
    assert outcomes(findings, "SqueezeNext") == [FAILS]


def test_squeezenext_split_counts_k_squared_against_2k() -> None:
    from lightnets.experiments import squeezenet_savings as module

    stages = module.low_rank_stages()
    assert [(s.c_in, s.c_out, s.height) for s in stages] == [(8, 16, 55), (16, 32, 28), (32, 64, 14), (64, 128, 7)]
    c = sum(s.c_out**2 for s in stages)
    assert module.stage_params(0, stages) == 9 * c and module.stage_params(1, stages) == 6 * c  # k² → 2k
    # as the block has it (C/4 → C/2 → C/2) the split has exactly the weights of one 3×3 C/4 → C/2
    assert module.stage_params(2, stages) == module.stage_params(3, stages)


# --------------------------------------------------------------------------------------------------
# running for real (tiny budgets: the figures mean nothing, the code paths run)


@pytest.mark.parametrize("name", TIMED)
def test_every_timed_experiment_runs_in_quick_mode(tiny, name: str) -> None:
    steps = []
    outcome = E.run_experiment(name, quick=True, progress=lambda done, text: steps.append((done, text)))
    assert steps[-1][0] == 1.0 and all(0 <= d <= 1 for d, _ in steps)
    assert [d for d, _ in steps] == sorted(d for d, _ in steps)  # the bar only moves forward
    assert outcome.quick and outcome.threads == 1 and outcome.device == "cpu" and outcome.cores >= 1
    assert outcome.device_name.startswith("cpu: ") and outcome.seconds > 0
    findings = outcome.findings()
    assert findings and all(f.outcome in E.OUTCOMES and f.text for f in findings)
    view = outcome.view()
    assert view.tables and view.charts
    for table in view.tables:
        assert all(len(row) == len(table.columns) for row in table.rows)
    json.dumps(outcome.to_json())  # the CLI's --json


def test_full_mode_runs_every_scale_and_the_deployment_form(tiny, monkeypatch) -> None:
    from lightnets.experiments import shufflenet_v2_guidelines as module

    monkeypatch.setattr(module, "SCALES", (1, 2))  # ×4 as well would only take longer
    outcome = E.run_experiment("shufflenet_v2_g4", quick=False)
    assert [(r.scale, r.form) for r in outcome.result.runs] == [(1, "eager"), (1, "deployed"), (2, "eager"),
                                                                (2, "deployed")]
    assert sum("deployment" in f.claim for f in outcome.findings()) == 2


def test_preview_costs_the_setup_without_timing() -> None:
    for name in TIMED:
        view = E.experiment(name).preview("cpu")
        assert view.tables and view.tables[0].rows, name


def test_time_alternating_rotates_and_records_every_round() -> None:
    fast, slow = nn.Conv2d(8, 8, 1), nn.Sequential(*(nn.Conv2d(8, 8, 3, padding=1) for _ in range(4)))
    x = torch.randn(1, 8, 32, 32)
    seen = []
    t = E.time_alternating([fast, slow], [x, x], ["fast", "slow"], TINY, threads=1, device="cpu",
                           progress=lambda d, text: seen.append(text), text="two convs")
    assert t.labels == ("fast", "slow") and all(len(r) == 3 for r in t.round_ms) and min(t.runs) >= 9
    assert all(ms > 0 for row in t.round_ms for ms in row)
    assert seen == ["two convs: round 1 of 3", "two convs: round 2 of 3", "two convs: round 3 of 3"]
    assert torch.get_num_threads() >= 1


def test_frozen_form_computes_what_the_module_does() -> None:
    from lightnets.experiments.shufflenet_v2_guidelines import Bottleneck

    module = Bottleneck(32, relu=True, shortcut=True).eval()
    x = torch.randn(1, 32, 16, 16)
    with torch.no_grad():
        assert torch.allclose(E.frozen(module, x)(x), module(x), atol=1e-5)


def test_outcome_json_carries_conditions_and_findings() -> None:
    outcome = E.run_experiment("linear_bottleneck", n=5, seed=3)
    data = json.loads(json.dumps(outcome.to_json()))
    assert data["knobs"] == {"n": 5, "seed": 3} and data["result"]["n"] == 5
    assert {"load_before", "load_after", "cores", "seconds", "device_name"} <= set(data)
    assert [f["outcome"] for f in data["findings"]] == [HOLDS, HOLDS]
    assert not any(isinstance(v, float) and math.isnan(v) for v in data["result"]["errors"]["relu_lost"])


def test_chart_figure_draws_the_charts_numbers() -> None:
    from lightnets.experiments import Chart, Panel, Series
    from lightnets.figures.experiments import chart

    spec = Chart("title", (
        Panel("×1", (Series("here", ("a", "b"), (1.0, 0.5), "bar", (0.9, 0.4), (1.1, 0.7)),
                     Series("paper", ("a", "b"), (1.0, 0.8), "bar"))),
        Panel("×2", (Series("here", ("a", "b"), (1.0, 0.6), "bar"),))), y_title="relative", reference_y=1.0)
    fig = chart(spec)
    assert [(t.name, list(t.y)) for t in fig.data] == [("here", [1.0, 0.5]), ("paper", [1.0, 0.8]),
                                                        ("here", [1.0, 0.6])]
    assert [t.showlegend for t in fig.data] == [True, True, False]  # one legend entry per series name
    assert fig.data[0].marker.color == fig.data[2].marker.color
    assert list(fig.data[0].error_y.array) == pytest.approx([0.1, 0.2])
    assert list(fig.data[0].error_y.arrayminus) == pytest.approx([0.1, 0.1])
    assert [a.text for a in fig.layout.annotations][:2] == ["×1", "×2"] and fig.layout.title.text == "title"
    assert fig.layout.yaxis.title.text == "relative" and fig.layout.shapes[0].y0 == 1.0


def test_spiral_charts_keep_x_and_y_on_one_scale() -> None:
    from lightnets.figures.experiments import chart

    outcome = E.run_experiment("linear_bottleneck", n=2, seed=1)
    fig = chart(outcome.view().charts[0])
    assert fig.layout.xaxis.scaleanchor == "y" and fig.layout.xaxis2.scaleanchor == "y2"
    assert list(fig.data[1].x) == [p[0] for p in outcome.result.relu]
