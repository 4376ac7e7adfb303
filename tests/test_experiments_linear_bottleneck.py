"""MobileNetV2's Fig. 1, recomputed: the spiral through ReLU in n dimensions, back with T's pseudo-inverse."""

from __future__ import annotations

import numpy as np
import pytest

from lightnets.experiments import HOLDS, run_experiment
from lightnets.experiments import linear_bottleneck as lb


@pytest.mark.parametrize("seed", range(8))
def test_information_lost_falls_with_n_and_vanishes(seed: int) -> None:
    e = lb.errors(seed)
    assert e.n == tuple(range(2, 31))
    assert all(b <= a + 1e-12 for a, b in zip(e.relu_lost, e.relu_lost[1:]))  # more units never lose more
    assert e.relu_lost[0] > 0.2  # at n = 2 whole turns of the spiral collapse
    assert e.relu_lost[-1] < 1e-10  # at n = 30 every point has two independent positive units
    assert e.relu_projected[0] > e.relu_projected[-1] > 0.1  # the paper's plain T⁺ stays off (about x/2)


@pytest.mark.parametrize("seed", range(4))
def test_a_linear_layer_loses_nothing(seed: int) -> None:
    e = lb.errors(seed)
    assert max(e.linear_projected) < 1e-20 and max(e.linear_lost) < 1e-20


def test_best_recovery_is_exact_where_two_units_stay_positive() -> None:
    x, t = lb.spiral(), lb.embedding(0)[:4]
    recovered = lb.best_recovery(x, t)
    positive = (x @ t.T > 0).sum(axis=1)
    exact = np.all(np.isclose(recovered, x, atol=1e-9), axis=1)
    assert exact[positive >= 2].all()  # any two rows of a Gaussian T are independent
    assert np.allclose(recovered[positive == 0], 0)  # nothing to recover from: the minimum-norm guess
    assert np.allclose(lb.projected_back(x, t, relu=False), x)


def test_deterministic_by_seed() -> None:
    a, b = run_experiment("linear_bottleneck", n=5, seed=7), run_experiment("linear_bottleneck", n=5, seed=7)
    assert a.result == b.result
    c = run_experiment("linear_bottleneck", n=5, seed=8)
    assert c.result.relu != a.result.relu and c.result.points == a.result.points
    assert np.array_equal(lb.embedding(7)[:5], lb.embedding(7, rows=30)[:5])


def test_result_holds_the_chosen_n_and_the_papers_panels() -> None:
    outcome = run_experiment("linear_bottleneck", n=3, seed=0)
    result = outcome.result
    assert result.n == 3 and [n for n, _ in result.figure] == [2, 3, 5, 15, 30]
    assert len(result.points) == len(result.relu) == len(result.linear) == lb.POINTS
    assert dict(result.figure)[3] == result.relu
    assert [f.outcome for f in outcome.findings()] == [HOLDS, HOLDS]
    charts = outcome.view().charts
    assert [len(c.panels) for c in charts] == [3, 5, 1]
    assert "n = 3, seed 0" in charts[0].title
