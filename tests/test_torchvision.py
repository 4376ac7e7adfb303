"""The default builds of the families torchvision also implements have its state_dict keys and shapes and,
with the same (synthetic) weights, its logits."""

from __future__ import annotations

import pytest
import torch

import lightnets
from tv_reference import manifest, reference_input, synthetic_state_dict

# torchvision model name → (our name, knobs)
CASES = {
    "squeezenet1_0": ("squeezenet1_0", {}),
    "squeezenet1_1": ("squeezenet1_1", {}),
    "shufflenet_v2_x0_5": ("shufflenet_v2", {"width": 0.5}),
    "shufflenet_v2_x1_0": ("shufflenet_v2", {"width": 1.0}),
    "mobilenet_v2": ("mobilenet_v2", {}),
    "mobilenet_v3_large": ("mobilenet_v3_large", {}),
    "mobilenet_v3_small": ("mobilenet_v3_small", {}),
}


def _case(tv_name: str):
    name, knobs = CASES[tv_name]
    if name not in lightnets.list_models():
        pytest.fail(f"{name} is not registered")
    return name, knobs


@pytest.mark.parametrize("tv_name", sorted(CASES))
def test_state_dict_layout_equals_torchvision(tv_name: str) -> None:
    name, knobs = _case(tv_name)
    model = lightnets.build(lightnets.config(name, **knobs))
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    theirs = [(k, shape) for k, shape, _ in manifest(tv_name)["state_dict"]]
    assert ours == theirs


@pytest.mark.parametrize("tv_name", sorted(CASES))
def test_logits_equal_torchvision(tv_name: str) -> None:
    name, knobs = _case(tv_name)
    data = manifest(tv_name)
    model = lightnets.build(lightnets.config(name, **knobs)).eval()
    model.load_state_dict(synthetic_state_dict(data["state_dict"]), strict=True)
    with torch.no_grad():
        logits = model(reference_input())[0]
    expected = torch.tensor(data["reference"]["logits"])
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=0)
    assert int(logits.argmax()) == data["reference"]["argmax"]
    assert float(logits.double().sum()) == pytest.approx(data["reference"]["logit_sum"], abs=1e-2)
