"""lightnets.analysis: the depthwise-separable saving, knob sweeps and the cross-family figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import lightnets
from lightnets import analysis

NAMES = lightnets.list_models()
ROOT = Path(__file__).resolve().parents[1]


def _with_depthwise() -> list[str]:
    return [n for n in NAMES if any(r.op == "depthwise" for r in lightnets.profile(lightnets.config(n)).layers)]


@pytest.mark.parametrize("name", _with_depthwise())
def test_separable_saving_measured_equals_closed_form(name: str) -> None:
    pairs = analysis.separable_pairs(lightnets.profile(lightnets.config(name)))
    if name.startswith(("mobilenet", "shufflenet", "efficientnet", "fbnet", "ghostnet")):
        assert pairs  # built from depthwise separable convs; ESPNet v2 concatenates its depthwise branches first
    for pair in pairs:
        # ratio comes from the two rows' MAC counts, formula from channel counts and kernel only
        assert pair.ratio == pytest.approx(pair.formula, rel=1e-12)
        assert pair.depthwise.block == pair.pointwise.block
        # the 1×1 conv runs at the depthwise output's full size, never on an SE's pooled vector
        assert pair.pointwise.input_shape == pair.depthwise.output_shape
        assert pair.depthwise.output_shape[2] > 1


def test_separable_saving_by_hand_for_mobilenet_v2_first_block() -> None:
    first = analysis.separable_pairs(lightnets.profile(lightnets.config("mobilenet_v2")))[0]
    # Table 2: the first bottleneck filters 32 channels at 112×112 with a 3×3 depthwise conv, projects to 16
    assert (first.kernel_area, first.in_channels, first.out_channels, first.groups) == (9, 32, 16, 1)
    assert first.depthwise.macs == 9 * 32 * 112 * 112
    assert first.pointwise.macs == 32 * 16 * 112 * 112
    assert first.standard_macs == 9 * 32 * 16 * 112 * 112
    assert first.formula == pytest.approx(1 / 16 + 1 / 9)


def test_every_mobilenet_v2_depthwise_conv_has_its_projection() -> None:
    p = lightnets.profile(lightnets.config("mobilenet_v2", alpha=0.5))
    depthwise = [r for r in p.layers if r.op == "depthwise"]
    pairs = analysis.separable_pairs(p)
    assert [pair.depthwise for pair in pairs] == depthwise
    assert all(pair.pointwise.kernel == (1, 1) and pair.pointwise.op == "pointwise" for pair in pairs)


@pytest.mark.skipif("mobilenet_v1" not in NAMES, reason="mobilenet_v1 is not registered")
def test_full_convolution_baseline_has_no_separable_pairs() -> None:
    assert analysis.separable_pairs(lightnets.profile(lightnets.config("mobilenet_v1", separable=False))) == []


def test_sweep_values_keep_ends_and_current() -> None:
    values = [round(0.25 + 0.05 * i, 2) for i in range(36)]
    picked = analysis.sweep_values(values, 0.85, max_points=13)
    assert picked[0] == 0.25 and picked[-1] == 2.0 and 0.85 in picked
    assert picked == sorted(picked) and len(picked) <= 15
    assert analysis.sweep_values([1, 2, 3], 2) == [1, 2, 3]


def test_knob_sweep_points_are_the_profiles_of_those_settings() -> None:
    points = analysis.knob_sweep(lightnets.config("mobilenet_v2", alpha=0.5), "expansion", rho=5 / 7)
    assert [pt.value for pt in points] == list(range(1, 11))
    for pt in points:
        p = lightnets.profile(lightnets.config("mobilenet_v2", 160, alpha=0.5, expansion=pt.value))
        assert (pt.resolution, pt.params, pt.macs, pt.error) == (160, p.params, p.macs, None)
    macs = [pt.macs for pt in points]
    assert macs == sorted(macs) and macs[0] < macs[-1]  # a wider inside costs more, always


def test_alpha_sweep_contains_the_current_value() -> None:
    points = analysis.knob_sweep(lightnets.config("mobilenet_v2", alpha=0.65), "alpha")
    values = [pt.value for pt in points]
    assert 0.65 in values and values[0] == 0.25 and values[-1] == 2.0
    assert points[values.index(0.65)].macs == lightnets.profile(lightnets.config("mobilenet_v2", alpha=0.65)).macs


def test_rho_sweep_keeps_params_and_scales_macs() -> None:
    points = analysis.rho_sweep(lightnets.config("mobilenet_v2"), [0.5, 1.0, 2.0])
    assert [pt.resolution for pt in points] == [112, 224, 448]
    assert len({pt.params for pt in points}) == 1
    # conv MACs grow as ρ²: exactly from 224 to 448 px, where every stride-2 stage halves an even size;
    # at 112 px the last stage's 3.5 px rounds up to 4, so it costs a little more than a quarter
    linear = lightnets.profile(lightnets.config("mobilenet_v2")).macs_by_kind()["linear"]
    conv_macs = [pt.macs - linear for pt in points]
    assert conv_macs[2] == 4 * conv_macs[1]
    assert conv_macs[1] / 4 < conv_macs[0] < conv_macs[1] / 3.5


def test_sweep_reports_settings_that_cannot_run() -> None:
    points = analysis.rho_sweep(lightnets.config("mobilenet_v2"), [0.25])
    assert points[0].resolution == 56 and points[0].macs  # small but valid
    bad = analysis._point("mobilenet_v2", 1.0, {"alpha": 7.0}, 1.0)
    assert bad.macs is None and "alpha" in bad.error


def test_resolution_for_rounds_and_clamps() -> None:
    assert lightnets.config("mobilenet_v2").with_rho(5 / 7).resolution == 160
    min_res = lightnets.spec("mobilenet_v2").min_resolution
    assert lightnets.config("mobilenet_v2").with_rho(0.01).resolution == min_res
    assert lightnets.config("mobilenet_v2").with_rho(100).resolution == 1024


def test_overview_has_every_model_at_its_defaults() -> None:
    rows = analysis.overview()
    assert [r.name for r in rows] == NAMES
    for row in rows:
        model_spec = lightnets.spec(row.name)
        p = lightnets.profile(lightnets.config(row.name))
        assert (row.params, row.macs, row.year) == (p.params, p.macs, model_spec.paper.year)
        published = [ref.top1 for ref in model_spec.matching_references(lightnets.config(row.name, row.resolution))
                     if ref.top1 is not None]
        assert row.top1 == (published[0] if published else None)


def test_mobilenet_v2_overview_row() -> None:
    row = next(r for r in analysis.overview() if r.name == "mobilenet_v2")
    assert row.params == 3_504_872 and row.top1 == 72.0 and "Table" in row.top1_source


def test_family_points_are_profiles_of_published_settings() -> None:
    points = analysis.family_points()
    assert {pt.name for pt in points} <= set(NAMES)
    assert len({(pt.name, tuple(sorted(pt.knobs.items())), pt.resolution, pt.top1) for pt in points}) == len(points)
    for pt in points:
        p = lightnets.profile(lightnets.config(pt.name, pt.resolution, **pt.knobs))
        assert (pt.params, pt.macs) == (p.params, p.macs)
        refs = [r for r in lightnets.spec(pt.name).references if r.label == pt.label]
        assert pt.top1 in [r.top1 for r in refs]
    v2 = [pt for pt in points if pt.name == "mobilenet_v2"]
    assert sorted(pt.knobs["alpha"] for pt in v2) == [0.35, 1.0, 1.4]


def test_saved_overview_is_what_lightnets_computes_now() -> None:
    # The Home page shows the saved file while torch loads; after changing a model: python -m lightnets.analysis
    assert analysis.saved_overview() == analysis.overview(), "data/overview.json is stale"


def test_the_first_paint_needs_no_torch() -> None:
    """app.py's title, explanation and Home table come from modules that import neither torch nor pandas."""
    code = ("import sys; import ui; from lightnets import analysis; rows = analysis.saved_overview(); "
            "from lightnets.formatting import markdown_table; "
            "markdown_table({'model': [r.title for r in rows]}); ui.lead; "
            "print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
