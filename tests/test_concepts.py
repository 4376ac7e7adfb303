"""lightnets.concepts: the ideas the Architecture page explains are read from the model the knobs build."""

from __future__ import annotations

import pytest

import lightnets
from lightnets import concepts

NAMES = lightnets.list_models()


def _terms(name: str, **knobs) -> list[str]:
    return [c.term for c in concepts.concepts(lightnets.config(name, **knobs))]


@pytest.mark.parametrize(("name", "expected"), [
    ("squeezenet1_0", ["Fire module"]),
    ("squeezenext", ["Low-rank filters"]),
    ("mobilenet_v1", ["Depthwise separable convolution"]),
    ("mobilenet_v2", ["Depthwise separable convolution", "Inverted residual", "Linear bottleneck", "ReLU6"]),
    ("shufflenet_v1", ["Depthwise separable convolution", "Group convolution", "Channel shuffle"]),
    ("shufflenet_v2", ["Depthwise separable convolution", "Channel split (ShuffleNet V2)", "Channel shuffle"]),
    ("mobilenet_v3_large", ["Depthwise separable convolution", "Inverted residual", "Linear bottleneck",
                            "Squeeze-and-excitation with h-sigmoid", "h-swish", "NAS and NetAdapt"]),
    ("efficientnet", ["Depthwise separable convolution", "Inverted residual", "Linear bottleneck",
                      "Squeeze-and-excitation", "Swish", "Compound scaling"]),
    ("efficientnet_lite0", ["Depthwise separable convolution", "Inverted residual", "Linear bottleneck", "ReLU6"]),
    ("ghostnet", ["Ghost module", "Depthwise separable convolution", "Squeeze-and-excitation with h-sigmoid"]),
    ("espnet_v2", ["EESP unit", "Depthwise separable convolution", "Group convolution"]),
    ("fbnet_a", ["Depthwise separable convolution", "Group convolution", "Channel shuffle", "Inverted residual",
                 "Linear bottleneck", "Differentiable architecture search"]),
])
def test_each_family_gets_its_ideas(name: str, expected: list[str]) -> None:
    if name not in NAMES:
        pytest.skip(f"{name} is not registered")
    assert _terms(name) == expected


def test_the_ideas_follow_the_knobs() -> None:
    assert _terms("mobilenet_v3_small", se=False, hswish=False) == [
        "Depthwise separable convolution", "Inverted residual", "Linear bottleneck", "NAS and NetAdapt"]
    assert "Channel shuffle, switched off" in _terms("shufflenet_v1", shuffle=False)
    assert "Group convolution" not in _terms("shufflenet_v1", groups=1)
    assert "Linear bottleneck, switched off" in _terms("mobilenet_v2", linear_bottleneck=False)
    assert _terms("mobilenet_v1", separable=False) == ["Standard convolutions, the baseline"]


@pytest.mark.parametrize("name", NAMES)
def test_every_model_has_an_explanation_in_plain_sentences(name: str) -> None:
    found = concepts.concepts(lightnets.config(name))
    assert found
    for concept in found:
        sentences = concept.text.count(". ") + 1
        assert 1 <= sentences <= 3 and concept.text.endswith((".", ")")), concept


def test_bad_knobs_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="alpha"):
        concepts.concepts(lightnets.config("mobilenet_v2", alpha=7))
