"""The Experiments page without a browser (AppTest): every experiment's claim, setup and what is built; a quick run
(tiny budgets) with its verdicts, charts and conditions; results kept per settings for the session; the spiral's
knobs."""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from lightnets import experiments as E

TIMEOUT = 120
PAGE = "pages/experiments.py"


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    # AppTest runs the page in this process: shrink every plan to three rounds of 5 ms
    for name in ("QUICK", "FULL", "QUICK_NETWORKS", "FULL_NETWORKS"):
        monkeypatch.setattr(E, name, E.Plan(rounds=3, budget_s=0.005))


def _page() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT).run()
    return at.switch_page(PAGE).run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def _pick(at: AppTest, name: str) -> AppTest:
    return at.selectbox(key="experiments.name").set_value(name).run()


def _verdicts(at: AppTest) -> list[str]:
    return [box.value for box in [*at.success, *at.error, *at.warning]]


@pytest.mark.parametrize("name", E.list_experiments())
def test_every_experiment_shows_its_claim_and_setup(name: str) -> None:
    at = _pick(_page(), name)
    _ok(at)
    spec = E.experiment(name)
    text = " ".join(m.value for m in at.markdown)
    assert spec.claim[:60] in text and spec.setup[:60] in text
    assert any(spec.paper.arxiv in c.value for c in at.caption)
    if spec.timed:
        assert at.button(key="experiments.run")
        assert any("Not run yet" in c.value for c in at.caption)
        assert not _verdicts(at)  # nothing is timed before the button
        assert spec.preview("cpu").tables[0].title in text  # what is built, with the cost model's figures
    else:
        assert len(_verdicts(at)) == 2  # the spiral needs no button


def test_a_quick_run_shows_verdicts_charts_tables_and_the_load(tiny) -> None:
    at = _pick(_page(), "shufflenet_v2_g2")
    assert at.toggle(key="experiments.quick").value is True  # quick mode is the default
    at.button(key="experiments.run").click().run()
    _ok(at)
    verdicts = _verdicts(at)
    assert len(verdicts) == 2 and "memory access (cost model, ×1)" in verdicts[0]
    assert any(label in verdicts[1] for label in ("holds here", "does not hold here", "too noisy to say"))
    assert any("quick mode on cpu" in c.value and "Machine load" in c.value for c in at.caption)
    text = " ".join(m.value for m in at.markdown)
    assert "G2 at ×1, eager PyTorch: measured throughput" in text and "| g = 8 | c = 184 |" in text
    assert len(at.get("plotly_chart")) == 1


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the thread choice needs two cores")
def test_results_are_kept_per_settings_for_the_session(tiny) -> None:
    at = _pick(_page(), "shufflenet_v2_g1")
    at.button(key="experiments.run").click().run()
    assert len(_verdicts(at)) == 2
    at.selectbox(key="experiments.threads").set_value(2).run()
    _ok(at)
    assert not _verdicts(at) and any("other settings: cpu, 1 thread(s), quick" in c.value for c in at.caption)
    at.selectbox(key="experiments.threads").set_value(1).run()
    assert len(_verdicts(at)) == 2  # the earlier result, not measured again
    _pick(at, "shufflenet_v2_g3")
    assert not _verdicts(at)
    _pick(at, "shufflenet_v2_g1")
    assert len(_verdicts(at)) == 2


def test_the_spiral_follows_its_sliders() -> None:
    at = _pick(_page(), "linear_bottleneck")
    at.slider(key="experiments.linear_bottleneck.n").set_value(15).run()
    at.slider(key="experiments.linear_bottleneck.seed").set_value(4).run()
    _ok(at)
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("n = 15, seed 4" in spec for spec in titles)
    expected = E.run_experiment("linear_bottleneck", n=15, seed=4).findings()
    assert [v.split(" — ")[1] for v in _verdicts(at)] == [f"{f.claim}: {f.text}" for f in expected]
