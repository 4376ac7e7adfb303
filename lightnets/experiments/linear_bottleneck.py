"""The linear bottleneck (MobileNetV2, Sandler et al. 2018, Sec. 3.2 and Fig. 1): ReLU on a low-dimensional
manifold destroys information, a linear layer does not.

As in the paper's Fig. 1, a 2-D spiral is embedded into n dimensions by a random matrix T (n × 2), passed through
ReLU and projected back to 2-D with T's pseudo-inverse (the paper writes T⁻¹; an n × 2 matrix has none for n > 2).
The paper does not say how many points, which spiral or which distribution for T: we use 400 points on an
Archimedean spiral of three turns centred on the origin, and T with independent standard normal entries, drawn
from ``seed``; the matrices for n = 2, 3, … are the first n rows of one 30-row draw, so a larger n only adds
units.

Two errors are reported, each the squared distance to the input relative to the input's squared norm:

* the paper's projection back, T⁺·ReLU(T·x): what its figure draws. It mixes the units that ReLU zeroed into the
  result, so it is off even where nothing was lost (for large n it tends to x/2);
* the information lost: the best any decoder that knows T can do, solving for x from the units that stayed
  positive (T's pseudo-inverse restricted to them). Where at least two independent units stay positive the point
  is recovered exactly (Appendix A, Lemma 2); where fewer do, points collapse and no decoder can tell them apart.
  This error can only fall as n grows.

The linear layer (no ReLU) gives T⁺·T·x = x exactly, for every n ≥ 2: both errors are zero up to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lightnets.experiments import FAILS, HOLDS, Chart, Experiment, Finding, Panel, Series, Table, View
from lightnets.i18n import N_, _
from lightnets.models.mobilenet_v2 import PAPER
from lightnets.registry import Knob

POINTS = 400
TURNS = 3
MAX_N = 30
FIGURE_NS = (2, 3, 5, 15, 30)  # the paper's panels
ZERO = 1e-10  # "exactly" for float64 arithmetic on a few hundred points


def spiral(points: int = POINTS, turns: int = TURNS) -> np.ndarray:
    """``points`` × 2 points on an Archimedean spiral of ``turns`` turns, radius 0 … 1, centred on the origin."""
    theta = np.linspace(0.0, 2 * np.pi * turns, points)
    radius = theta / theta[-1]
    return np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1)


def embedding(seed: int, rows: int = MAX_N) -> np.ndarray:
    """The random matrix T (``rows`` × 2, standard normal entries), the same for the same seed everywhere."""
    return np.random.default_rng(seed).standard_normal((rows, 2))


def _relative(x: np.ndarray, recovered: np.ndarray) -> float:
    return float(np.sum((recovered - x) ** 2) / np.sum(x**2))


def projected_back(x: np.ndarray, t: np.ndarray, relu: bool = True) -> np.ndarray:
    """The paper's Fig. 1: T⁺·ReLU(T·x) for every point (rows of ``x``); without ``relu`` the linear layer T⁺·T·x."""
    y = x @ t.T
    if relu:
        y = np.maximum(y, 0.0)
    return y @ np.linalg.pinv(t).T


def best_recovery(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Each point solved for from the units that stayed positive after ReLU (least squares on those rows of T);
    the minimum-norm guess where they do not determine it."""
    y = np.maximum(x @ t.T, 0.0)
    out = np.zeros_like(x)
    active = y > 0
    for pattern in np.unique(active, axis=0):  # points sharing the same active units share one pseudo-inverse
        rows = np.all(active == pattern, axis=1)
        if pattern.any():
            out[rows] = y[rows][:, pattern] @ np.linalg.pinv(t[pattern]).T
    return out


@dataclass(frozen=True)
class Errors:
    n: tuple[int, ...]
    relu_projected: tuple[float, ...]
    relu_lost: tuple[float, ...]
    linear_projected: tuple[float, ...]
    linear_lost: tuple[float, ...]


@dataclass(frozen=True)
class SpiralResult:
    n: int
    seed: int
    points: tuple[tuple[float, float], ...]  # the input spiral
    relu: tuple[tuple[float, float], ...]  # T⁺·ReLU(T·x) at the chosen n
    linear: tuple[tuple[float, float], ...]  # T⁺·T·x at the chosen n
    figure: tuple[tuple[int, tuple[tuple[float, float], ...]], ...]  # the paper's panels: (n, recovered points)
    errors: Errors  # for n = 2 … 30


def errors(seed: int) -> Errors:
    x, t_all = spiral(), embedding(seed)
    ns = tuple(range(2, MAX_N + 1))
    out: dict[str, list[float]] = {"rp": [], "rl": [], "lp": [], "ll": []}
    for n in ns:
        t = t_all[:n]
        out["rp"].append(_relative(x, projected_back(x, t)))
        out["rl"].append(_relative(x, best_recovery(x, t)))
        linear = projected_back(x, t, relu=False)
        out["lp"].append(_relative(x, linear))
        out["ll"].append(_relative(x, linear))  # nothing is zeroed: every unit is "active"
    return Errors(ns, tuple(out["rp"]), tuple(out["rl"]), tuple(out["lp"]), tuple(out["ll"]))


def _pairs(points: np.ndarray) -> tuple[tuple[float, float], ...]:
    return tuple((round(float(a), 6), round(float(b), 6)) for a, b in points)


def run(device: str, threads: int, quick: bool, progress, n: int, seed: int) -> SpiralResult:
    x, t_all = spiral(), embedding(seed)
    figure = tuple((k, _pairs(projected_back(x, t_all[:k]))) for k in FIGURE_NS)
    return SpiralResult(n, seed, _pairs(x), _pairs(projected_back(x, t_all[:n])),
                        _pairs(projected_back(x, t_all[:n], relu=False)), figure, errors(seed))


# --------------------------------------------------------------------------------------------------
# verdicts


def judge(result: SpiralResult) -> list[Finding]:
    e = result.errors
    falls = all(b <= a + ZERO for a, b in zip(e.relu_lost, e.relu_lost[1:])) and e.relu_lost[0] > e.relu_lost[-1]
    first = e.relu_lost[0]
    whole = next((n for n, v in zip(e.n, e.relu_lost) if v < ZERO), None)
    where = (_("from n = {n} on, every point is recovered").format(n=whole) if whole is not None
             else _("even at n = {n} some points stay collapsed").format(n=e.n[-1]))
    relu = Finding(
        _("ReLU in few dimensions destroys information"), HOLDS if falls and first > 0.01 else FAILS,
        _("at n = 2 even the best recovery from the ReLU's output misses by a relative squared error of {lost:.2f}; "
          "the loss falls as n grows and {where}. Projected back as in the paper's figure the error is {p2:.2f} at "
          "n = 2 and {p30:.2f} at n = 30.").format(lost=first, where=where, p2=e.relu_projected[0],
                                                   p30=e.relu_projected[-1]))
    worst = max(max(e.linear_projected), max(e.linear_lost))
    linear = Finding(
        _("a linear layer keeps it"), HOLDS if worst < ZERO else FAILS,
        _("without ReLU the spiral comes back exactly for every n from 2 to 30 (largest error {w:.1e}).").format(
            w=worst))
    return [relu, linear]


# --------------------------------------------------------------------------------------------------
# what the page shows


def _cloud(name: str, points, color: str) -> Series:
    return Series(name, tuple(p[0] for p in points), tuple(p[1] for p in points), "points", color=color)


def view(result: SpiralResult) -> View:
    e = result.errors
    chosen = Chart(_("n = {n}, seed {s}: the spiral recovered after ReLU, and after a linear layer").format(
        n=result.n, s=result.seed), (
        Panel(_("input"), (_cloud(_("input"), result.points, "#555555"),)),
        Panel(_("ReLU, then T⁺"), (_cloud(_("after ReLU"), result.relu, "#d62728"),)),
        Panel(_("linear, then T⁺"), (_cloud(_("after the linear layer"), result.linear, "#1f77b4"),))),
        equal_axes=True, height=380)
    figure = Chart(_("The paper's Fig. 1 at this seed: output after ReLU for n = 2, 3, 5, 15, 30"), tuple(
        Panel(_("n = {n}").format(n=n), (_cloud(_("after ReLU"), pts, "#d62728"),)) for n, pts in result.figure),
        equal_axes=True, height=300)
    curve = Chart(_("Reconstruction error against n (relative squared error)"), (Panel("", (
        Series(_("ReLU: information lost (best recovery)"), e.n, e.relu_lost, "line", color="#d62728"),
        Series(_("ReLU: projected back with T⁺ (the paper's figure)"), e.n, e.relu_projected, "line",
               color="#ff9896"),
        Series(_("linear layer"), e.n, e.linear_lost, "line", color="#1f77b4"))),),
        x_title=_("dimensions n"), y_title=_("relative squared error"))
    rows = tuple((str(n), f"{e.relu_lost[n - 2]:.4f}", f"{e.relu_projected[n - 2]:.3f}", f"{e.linear_lost[n - 2]:.1e}")
                 for n in FIGURE_NS)
    table = Table(_("Errors at the paper's n"), (_("n"), _("ReLU: lost"), _("ReLU: projected back"),
                                                 _("linear layer")), rows)
    return View((table,), (chosen, figure, curve))


EXPERIMENTS = [Experiment(
    id="linear_bottleneck", title=N_("MobileNetV2: why the bottleneck is linear"), paper=PAPER,
    where=N_("Sec. 3.2 “Linear Bottlenecks”, Fig. 1"),
    claim=N_("“ReLU transformations of low-dimensional manifolds embedded in higher-dimensional spaces … n = 2, 3 "
             "result in information loss where certain points of the manifold collapse into each other, while for "
             "n = 15 to 30 the transformation is highly non-convex.” So the narrow layers of an inverted residual "
             "should be linear: this is the argument behind the linear_bottleneck knob of mobilenet_v2."),
    setup=N_("A spiral in the plane is embedded into n dimensions by a random matrix T, passed through ReLU and "
             "projected back with T's pseudo-inverse, as in the paper's figure; then the same with a linear layer "
             "instead of ReLU. Move n and the seed of T: with few dimensions ReLU zeroes whole regions and points "
             "collapse; with many, enough units stay positive to recover every point. No timing: the result is "
             "exact and the same on every machine."),
    run=run, judge=judge, view=view, timed=False, order=50,
    knobs=(Knob("n", "dimensions n", "int", 3, min=2, max=MAX_N, step=1,
                help="How many dimensions T embeds the spiral into before the ReLU."),
           Knob("seed", "seed of T", "int", 0, min=0, max=999, step=1,
                help="The random matrix T drawn from this seed (standard normal entries).")),
    notes=(N_("The paper gives neither the spiral, the number of points nor the distribution of T: here 400 points "
              "on a three-turn spiral, T standard normal; a larger n adds rows to the same T."),),
)]
