"""The NAS reward experiment: the formula against hand-computed values, the Pareto front, the winner as TAR and w
move (the same measurement reread), and the experiment through the API, the CLI and the Experiments page with
synthetic timings (the networks are still built; only the clock is ours)."""

from __future__ import annotations

import json
import math

import pytest
from streamlit.testing.v1 import AppTest

from lightnets import experiments as E
from lightnets.cli import main
from lightnets.experiments import HOLDS, NOISY, Timings
from lightnets.experiments import nas_reward as N

# synthetic per-model latency (ms): every model gets a distinct time, so rankings are decided
FAKE_MS = {"mobilenet_v3_small": 4.0, "mobilenet_v3_large": 11.0, "efficientnet_lite0": 20.0,
           "mobilenet_v2": 13.0, "squeezenet1_1": 6.0}


def test_reward_formula_against_hand_computed_values() -> None:
    # 75.2 · (40/80)^-0.07 = 75.2 · 2^0.07 = 75.2 · 1.049717 = 78.9387
    assert N.reward(75.2, 40.0, 80.0, -0.07) == pytest.approx(78.9387, abs=1e-3)
    # 67.4 · (30/15)^-0.15 = 67.4 · 2^-0.15 = 67.4 · 0.901250 = 60.7443
    assert N.reward(67.4, 30.0, 15.0, -0.15) == pytest.approx(60.7443, abs=1e-3)
    assert N.reward(70.0, 12.5, 12.5, -0.5) == 70.0  # at the target the reward is the accuracy
    assert N.reward(70.0, 99.0, 1.0, 0.0) == 70.0  # w = 0 ignores latency
    with pytest.raises(ValueError, match="positive"):
        N.reward(70.0, 0.0, 10.0, -0.07)


def test_pareto_front_keeps_only_undominated_points() -> None:
    points = [(10.0, 70.0), (5.0, 65.0), (12.0, 69.0), (20.0, 75.0), (5.0, 64.0)]
    assert N.pareto_front(points) == [1, 0, 3]


def _candidate(name: str, top1: float, ms: float, spread: float = 0.0) -> N.Candidate:
    return N.Candidate(name, name, top1, "ref", ms, ms * (1 - spread), ms * (1 + spread), None, "")


def test_the_winner_follows_target_and_exponent_and_timing_spread_is_judged() -> None:
    result = N.RewardResult("cpu", 1, (_candidate("small", 67.4, 5.0), _candidate("large", 75.2, 15.0)), 10.0, -0.07)
    # -0.07: 75.2·1.5^-0.07 = 73.08 beats 67.4·0.5^-0.07 = 70.75
    assert result.winner().name == "large"
    steep = N.reread(result, 10.0, -0.3)  # 75.2·1.5^-0.3 = 66.68 < 67.4·2^0.3 = 82.98
    assert steep.winner().name == "small" and result.w == -0.07  # reread leaves the measurement alone
    assert [f.outcome for f in N.judge(result)] == [HOLDS, HOLDS]
    close = N.RewardResult("cpu", 1, (_candidate("a", 70.0, 10.0, 0.2), _candidate("b", 70.2, 10.0, 0.2)), 10.0,
                           -0.07)
    assert N.judge(close)[0].outcome == NOISY  # within the rounds' spread either could win


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    def timing(modules, inputs, labels, plan, threads, device, progress=None, span=(0, 1), text=""):
        assert len(modules) == len(inputs) == len(labels)
        rounds = [[FAKE_MS.get(label, 30.0 + k) * f for f in (0.99, 1.0, 1.01)] for k, label in enumerate(labels)]
        return Timings(tuple(labels), tuple(tuple(r) for r in rounds), tuple(3 for _ in labels))

    monkeypatch.setattr(N, "time_alternating", timing)


def test_every_registered_model_with_a_published_top1_is_a_candidate(fake_clock) -> None:
    outcome = E.run_experiment("nas_reward", quick=True, target_ms=12, w=-0.07)
    names = [c.name for c in outcome.result.candidates]
    assert {"mobilenet_v3_large", "mobilenet_v3_small", "efficientnet_lite0", "ghostnet"} <= set(names)
    large = next(c for c in outcome.result.candidates if c.name == "mobilenet_v3_large")
    assert large.top1 == 75.2 and large.phone_ms == 51.0 and large.ms == 11.0
    best = max(outcome.result.candidates, key=lambda c: N.reward(c.top1, c.ms, 12.0, -0.07))
    assert outcome.result.winner() == best
    # the same measurement, reread at MobileNetV3-Small's exponent and a tight target
    steep = outcome.reread(w=-0.15, target_ms=4)
    assert steep.result.candidates == outcome.result.candidates and dict(steep.knobs) == {"target_ms": 4, "w": -0.15}
    assert steep.result.winner().name == "mobilenet_v3_small"
    view = steep.view()
    assert view.tables[0].rows[0][0] == "MobileNet V3-Small ★" and view.charts
    json.dumps(steep.to_json())
    with pytest.raises(ValueError, match="w=0.5 is not allowed"):
        outcome.reread(w=0.5)


def test_cli_takes_target_and_exponent(fake_clock, capsys) -> None:
    assert main(["experiment", "nas_reward", "--quick", "--target_ms", "4", "--w", "-0.15", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["knobs"] == {"target_ms": 4, "w": -0.15}
    assert "MobileNet V3-Small wins" in out["findings"][0]["text"]


def test_page_rereads_the_measurement_when_the_sliders_move(fake_clock) -> None:
    at = AppTest.from_file("../app.py", default_timeout=120).run()
    at = at.switch_page("pages/experiments.py").run()
    at = at.selectbox(key="experiments.name").set_value("nas_reward").run()
    at.button(key="experiments.run").click().run()
    assert not at.exception
    verdicts = [box.value for box in [*at.success, *at.warning]]
    assert any("w = -0.07" in v for v in verdicts)
    at.slider(key="experiments.nas_reward.w").set_value(-0.15).run()
    at.slider(key="experiments.nas_reward.target_ms").set_value(4).run()
    assert not at.exception
    verdicts = [box.value for box in [*at.success, *at.warning]]
    assert any("w = -0.15" in v and "MobileNet V3-Small wins" in v for v in verdicts)  # no second run needed
    assert not any("Not run yet" in c.value for c in at.caption)
    assert math.isclose(at.slider(key="experiments.nas_reward.w").value, -0.15)
