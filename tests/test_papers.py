"""profile() against the published figures each spec cites (params and multiply-adds within 3%, or within the
rounding of the printed number when that is coarser)."""

from __future__ import annotations

import pytest

import lightnets


def _tolerance(published: float) -> float:
    text = repr(float(published))
    decimals = 0 if text.endswith(".0") else len(text.split(".")[1])
    return max(0.03 * published, 0.5 * 10 ** -decimals)


CASES = [(name, i) for name in lightnets.list_models() for i, _ in enumerate(lightnets.spec(name).references)]


@pytest.mark.parametrize("name,index", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_published_figures(name: str, index: int) -> None:
    ref = lightnets.spec(name).references[index]
    p = lightnets.profile(lightnets.config(name, resolution=ref.resolution, **ref.knobs))
    if ref.expected_params_m is not None:
        assert p.params / 1e6 == pytest.approx(ref.expected_params_m, abs=_tolerance(ref.expected_params_m)), \
            f"{ref.label}: params {p.params / 1e6:.3f}M vs published {ref.expected_params_m}M ({ref.source})"
    if ref.expected_macs_m is not None:
        assert p.macs / 1e6 == pytest.approx(ref.expected_macs_m, abs=_tolerance(ref.expected_macs_m)), \
            f"{ref.label}: MACs {p.macs / 1e6:.1f}M vs published {ref.expected_macs_m}M ({ref.source})"


def test_every_model_cites_a_paper_figure() -> None:
    for name in lightnets.list_models():
        refs = lightnets.spec(name).references
        assert any(r.macs_m is not None or r.params_m is not None for r in refs), name


def test_references_agree_with_the_reference_data() -> None:
    """A cited figure that the compiled reference data (tests/data/papers.json) holds is exactly that figure;
    one it lacks names a primary source (paper table or official repository file)."""
    import json
    from pathlib import Path

    entries = json.loads((Path(__file__).parent / "data" / "papers.json").read_text())["entries"]
    by_label = {(e["variant"], e["source"]): e for e in entries}
    for name in lightnets.list_models():
        for ref in lightnets.spec(name).references:
            entry = by_label.get((ref.label, ref.source))
            if entry is None:
                assert ref.provenance in ("paper", "official_repo"), (name, ref.label)
                assert len(ref.source) > 15, (name, ref.label)
            else:
                assert (entry["params_m"], entry["madds_m"], entry["top1"]) == (ref.params_m, ref.macs_m, ref.top1)


def test_tolerance_rule() -> None:
    assert _tolerance(0.5) == pytest.approx(0.05)
    assert _tolerance(569) == pytest.approx(17.07)
    assert _tolerance(4.2) == pytest.approx(0.126)
