"""Low precision on real weights: photos as inputs, int8 post-training quantisation with PT2E, and the label-free
comparisons of a low-precision network with its float32 original.

Quantisation follows PyTorch's current flow (``torch.ao.quantization``'s eager API is deprecated; PT2E lives in
torchao): ``torch.export`` → ``prepare_pt2e`` with the x86 quantizer (observers after every conv → batch-norm →
activation pattern, batch norm folded into the conv) → one calibration pass over photos → ``convert_pt2e``. The
converted graph is the *reference* int8 model: every weight is stored as int8 with its scale, every activation is
rounded to uint8 and back with its calibrated scale, and the arithmetic between runs in float32 — which computes
what integer kernels compute, up to float rounding, so its predictions are the int8 network's. Integer kernels
themselves come only from compiling that graph (``compiled_int8``: inductor's oneDNN int8 convolutions).

Activations are calibrated with a min–max observer, per tensor: the scale is (max − min) / 255 of what the photos
produced, so a wider activation range means a coarser step for every value — the effect ReLU6 is meant to avoid.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from lightnets.prediction import load_image, preprocess_for, sample_images

# share of the shorter side a crop keeps, and where it sits: 2 scales × 5 places × 2 flips × 5 photos = 100 inputs
CROP_SCALES = (0.9, 0.7)
PLACES = ((0.5, 0.5), (0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0))  # centre, then the four corners
WEIGHT_OPS = ("aten.conv2d.default", "aten.linear.default")
PASS_THROUGH = ("aten.pad.default", "aten.constant_pad_nd.default")
RELU6_OPS = ("aten.hardtanh.default", "aten.hardtanh_.default")
ACTIVATION_OPS = (*RELU6_OPS, "aten.relu.default", "aten.relu_.default")


def _normalise(view: Image.Image, mean: Iterable[float], std: Iterable[float]) -> torch.Tensor:
    array = np.asarray(view, dtype=np.float32) / 255.0
    array = (array - np.asarray(tuple(mean), dtype=np.float32)) / np.asarray(tuple(std), dtype=np.float32)
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


@functools.lru_cache(maxsize=4)
def _photo_tensors(resolution: int, mean: tuple[float, ...], std: tuple[float, ...],
                   interpolation: int) -> tuple[torch.Tensor, torch.Tensor]:
    crops, centres = [], []
    for path in sample_images().values():
        image = load_image(path)
        width, height = image.size
        short = min(width, height)
        # the plain centre crop of the recipe (resize/crop ratio 256/224): the calibration inputs
        side = short * 224 / 256
        box = ((width - side) / 2, (height - side) / 2, (width + side) / 2, (height + side) / 2)
        centres.append(_normalise(image.resize((resolution, resolution), interpolation, box=box), mean, std))
        for scale in CROP_SCALES:
            side = short * scale
            for fx, fy in PLACES:
                left, top = fx * (width - side), fy * (height - side)
                view = image.resize((resolution, resolution), interpolation, box=(left, top, left + side, top + side))
                crops.append(_normalise(view, mean, std))
                crops.append(_normalise(view.transpose(Image.Transpose.FLIP_LEFT_RIGHT), mean, std))
    return torch.stack(crops), torch.stack(centres)


def photo_inputs(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The evaluation inputs and the calibration inputs for ``model``'s weights, from the bundled photos.

    Evaluation: every photo cropped at 90% and 70% of its shorter side, at the centre and the four corners, and
    each crop mirrored — 20 deterministic inputs a photo, 100 for the five photos. Calibration: each photo's
    plain centre crop as the Predict page takes it (5 inputs). Both are normalised with the weights' recipe.
    """
    from lightnets.prediction import _RESAMPLE

    pre, resolution = preprocess_for(model)
    crops, centres = _photo_tensors(resolution, tuple(pre.mean), tuple(pre.std), _RESAMPLE[pre.interpolation])
    return crops.clone(), centres.clone()


# --------------------------------------------------------------------------------------------------
# int8 with PT2E


def _torchao():
    # torchao tries to load CUDA kernels it ships; on a CPU-only machine that fails harmlessly and says so
    logging.getLogger("torchao").setLevel(logging.ERROR)
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)  # torchao registers an enum the old way
    from torchao.quantization.pt2e import MinMaxObserver, PerChannelMinMaxObserver
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import QuantizationConfig, QuantizationSpec
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import X86InductorQuantizer

    return (MinMaxObserver, PerChannelMinMaxObserver, convert_pt2e, prepare_pt2e, QuantizationConfig,
            QuantizationSpec, X86InductorQuantizer)


def int8_config(per_channel: bool):
    """The x86 quantizer's int8 scheme with min–max calibration: activations uint8 per tensor (affine),
    weights int8 symmetric, one scale per output channel or one for the whole tensor."""
    minmax, per_channel_minmax, _, _, config, qspec, _ = _torchao()
    eps = dict(eps=2**-12)  # the x86 default: no scale below 2^-12
    act = qspec(dtype=torch.uint8, quant_min=0, quant_max=255, qscheme=torch.per_tensor_affine, is_dynamic=False,
                observer_or_fake_quant_ctr=minmax.with_args(**eps))
    if per_channel:
        weight = qspec(dtype=torch.int8, quant_min=-128, quant_max=127, qscheme=torch.per_channel_symmetric,
                       ch_axis=0, is_dynamic=False, observer_or_fake_quant_ctr=per_channel_minmax.with_args(**eps))
    else:
        weight = qspec(dtype=torch.int8, quant_min=-128, quant_max=127, qscheme=torch.per_tensor_symmetric,
                       is_dynamic=False, observer_or_fake_quant_ctr=minmax.with_args(**eps))
    return config(act, act, weight, None, False)


def export(model: nn.Module, example: torch.Tensor) -> torch.fx.GraphModule:
    """``model`` as an exported graph whose batch size may vary (so one graph serves a batch of photos)."""
    batch = torch.export.Dim("batch", min=1, max=1024)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(copy.deepcopy(model).eval(), (example[:2],),
                                   dynamic_shapes=({0: batch},)).module()


def _allow_eval(graph: torch.fx.GraphModule) -> None:
    """Let ``graph.eval()`` pass (the timing code calls it on every module; an exported graph refuses it)."""
    from torchao.quantization.pt2e import allow_exported_model_train_eval

    allow_exported_model_train_eval(graph)


def module_path(node: torch.fx.Node) -> str:
    """The module an exported node came from (``_blocks.3._act1``), from its module stack."""
    stack = node.meta.get("nn_module_stack") or {}
    return list(stack.values())[-1][0] if stack else node.name


@dataclass(frozen=True)
class Quantized:
    """An int8 network (the reference graph ``convert_pt2e`` makes) and each activation's calibrated range and
    quantisation step, by module path, in the network's order."""

    graph: torch.fx.GraphModule
    steps: tuple[tuple[str, float], ...]  # activation module → scale (the step between two uint8 levels)
    ranges: tuple[tuple[str, float, float], ...]  # activation module → calibrated (min, max)
    per_channel: bool
    float_layers: tuple[str, ...] = ()  # convolutions and linear layers the quantizer left in float32


def quantize_int8(exported: torch.fx.GraphModule, calibration: torch.Tensor, per_channel: bool) -> Quantized:
    """Post-training int8 quantisation of an exported float network, calibrated on ``calibration`` in one pass."""
    *_, convert_pt2e, prepare_pt2e, _, _, quantizer_class = _torchao()
    quantizer = quantizer_class()
    quantizer.set_global(int8_config(per_channel))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_pt2e(copy.deepcopy(exported), quantizer)
        with torch.no_grad():
            prepared(calibration)
        steps, ranges = [], []
        for node in prepared.graph.nodes:
            if node.op != "call_module" or not node.args:
                continue
            source = node.args[0]
            observer = getattr(prepared, node.target)
            while isinstance(source, torch.fx.Node) and str(source.target) in PASS_THROUGH:
                source = source.args[0]  # TF "same" padding: the observer sits after the pad, same range
            if isinstance(source, torch.fx.Node) and str(source.target) in ACTIVATION_OPS and hasattr(
                    observer, "min_val"):
                scale, _ = observer.calculate_qparams()
                path = module_path(source)
                steps.append((path, float(scale)))
                ranges.append((path, float(observer.min_val), float(observer.max_val)))
        converted = convert_pt2e(prepared)
    _allow_eval(converted)
    # a weight read straight from a constant, not through dequantize, stayed float32: here the convolutions after
    # TF "same" padding (the stem and the stride-2 depthwise ones), whose input the x86 quantizer does not observe
    left = tuple(module_path(n) for n in converted.graph.nodes if str(n.target) in WEIGHT_OPS
                 and isinstance(n.args[1], torch.fx.Node) and n.args[1].op == "get_attr")
    return Quantized(converted, tuple(steps), tuple(ranges), per_channel, left)


def compiled_int8(quantized: Quantized, example: torch.Tensor, threads: int | None = None) -> nn.Module:
    """The int8 graph compiled by inductor with freezing, which lowers quantise → conv → dequantise to oneDNN's
    int8 convolutions: the network that runs in integers. Compiling takes tens of seconds on two cores.

    It is compiled for ``threads`` intra-op threads (default: the current setting) under inference mode, as the
    timing code will run it: another thread count or grad mode would compile it all over again."""
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True  # weights become constants: needed for the int8 conv fusion passes
    compiled = torch.compile(quantized.graph)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads or before)
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            compiled(example)
    finally:
        torch.set_num_threads(before)
    return InferenceOnly(compiled)


class InferenceOnly(nn.Module):
    """A compiled or exported graph as a module that ``eval()`` and ``train()`` leave alone, for the timing code,
    which sets every module's mode: a compiled graph would change a guard and compile all over again, and an
    exported one is rewritten by torchao on every switch (its dropout patterns exported anew, about 1.3 s a call:
    18 of quick mode's 52 s went there)."""

    def __init__(self, graph) -> None:
        super().__init__()
        self._graph = (graph,)  # in a tuple: not a child module, so eval() does not reach it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._graph[0](x)


# --------------------------------------------------------------------------------------------------
# comparing with float32


def top1_agreement(reference: torch.Tensor, other: torch.Tensor) -> float:
    """The share of inputs whose most probable class is the same in both."""
    return float((reference.argmax(1) == other.argmax(1)).float().mean())


def top5_overlap(reference: torch.Tensor, other: torch.Tensor) -> float:
    """The mean share of the reference's five most probable classes that are also among the other's five."""
    a, b = reference.topk(5, dim=1).indices, other.topk(5, dim=1).indices
    return float((a.unsqueeze(2) == b.unsqueeze(1)).any(2).float().mean())


def sqnr_db(reference: torch.Tensor, other: torch.Tensor) -> float:
    """Signal-to-quantisation-noise ratio, 10·log10(Σ ref² / Σ (ref − other)²), in dB (inf when equal)."""
    ref = reference.double()
    noise = float(((ref - other.double()) ** 2).sum())
    signal = float((ref ** 2).sum())
    if noise == 0:
        return math.inf
    return 10 * math.log10(max(signal, 1e-300) / noise)


def size_bytes(module: nn.Module) -> int:
    """Bytes of the tensors ``module`` computes with: its parameters and buffers or, in a graph, the constants the
    graph reads (where ``convert_pt2e`` keeps the int8 weights, their scales and zero points)."""
    seen: dict[int, torch.Tensor] = {}
    if not isinstance(module, torch.fx.GraphModule):
        for t in [*module.parameters(), *module.buffers()]:
            seen[id(t)] = t
    else:  # only what the graph reads: convert_pt2e leaves the float originals behind, unused
        for node in module.graph.nodes:
            if node.op == "get_attr":
                value = module
                for part in str(node.target).split("."):
                    value = getattr(value, part)
                if isinstance(value, torch.Tensor):
                    seen[id(value)] = value
    return sum(t.numel() * t.element_size() for t in seen.values())


def activation_outputs(graph: torch.fx.GraphModule, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every activation's output in an exported (float or int8) graph, by module path. In an int8 graph the value
    taken is the one the next layer reads: the activation rounded to uint8 and back."""
    wanted: dict[torch.fx.Node, str] = {}
    for node in graph.graph.nodes:
        if node.op == "call_function" and str(node.target) in ACTIVATION_OPS:
            taken = node
            for _ in range(2):  # activation → quantize_per_tensor → dequantize_per_tensor
                users = [u for u in taken.users if "quantize_per_tensor" in str(u.target)]
                if len(users) != 1:
                    break
                taken = users[0]
            wanted[taken] = module_path(node)
    found: dict[str, torch.Tensor] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: torch.fx.Node):
            out = super().run_node(n)
            if n in wanted:
                found[wanted[n]] = out.detach().float().clone()
            return out

    with torch.no_grad():
        Recorder(graph).run(x)
    return found


def lift_clamp(exported: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """A copy of an exported graph with every ReLU6 (``hardtanh(x, 0, 6)``) turned into a ReLU, recorded as one:
    the graph ``export(relu_instead_of_relu6(model))`` gives (the tests check that both graphs, float32 and
    quantised, compute the same bits), without a second export's seconds."""
    lifted = copy.deepcopy(exported)
    for node in lifted.graph.nodes:
        if node.op == "call_function" and str(node.target) in RELU6_OPS and tuple(node.args[1:]) == (0.0, 6.0):
            in_place = str(node.target).endswith("_.default")
            node.target = torch.ops.aten.relu_.default if in_place else torch.ops.aten.relu.default
            node.args = (node.args[0],)
            stack = dict(node.meta.get("nn_module_stack") or {})
            if stack:  # the quantizer and module_path read the module type and path from here
                key = list(stack)[-1]
                stack[key] = (stack[key][0], "torch.nn.modules.activation.ReLU")
                node.meta["nn_module_stack"] = stack
    lifted.graph.lint()
    lifted.recompile()
    return lifted


def relu_instead_of_relu6(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ReLU6 replaced by a plain ReLU: the same weights, the clamp at 6 lifted."""
    lifted = copy.deepcopy(model)
    for parent in list(lifted.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU6):
                setattr(parent, name, nn.ReLU(inplace=child.inplace))
    return lifted.eval()
