"""The model registry: name → ``ModelSpec`` (paper, key idea, knob schema, reference figures, stage table).

A family is one file in ``lightnets/models/`` that defines ``MODELS``, a list of ``ModelSpec``. The registry
discovers those files, so adding a family touches no other module. Each spec's ``blocks`` function turns
knob values into the list of ``Block`` rows that ``assemble`` builds into an ``nn.Module``; the block graph
and the cost table read the same rows, so the three cannot disagree.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

DATA_DIR = Path(__file__).parent / "data"

# --------------------------------------------------------------------------------------------------
# knobs


@dataclass(frozen=True)
class Knob:
    """One architecture knob and its allowed values. The UI generates its widget from this."""

    name: str
    label: str
    type: str  # "float" | "int" | "choice" | "bool"
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None

    def allowed(self) -> str:
        """The allowed values in words, for error messages."""
        if self.type == "bool":
            return "true or false"
        if self.type == "choice":
            return "one of " + ", ".join(_fmt(c) for c in self.choices or ())
        return f"a number from {_fmt(self.min)} to {_fmt(self.max)} in steps of {_fmt(self.step)}"

    def validate(self, value: Any) -> Any:
        """Return ``value`` coerced to the knob's type, or raise ``ValueError`` naming the knob."""
        bad = ValueError(f"{self.name}={value!r} is not allowed: {self.name} must be {self.allowed()}")
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise bad
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad from None
        if not math.isfinite(number):
            raise bad
        if self.type == "choice":
            for choice in self.choices or ():
                if math.isclose(number, float(choice), rel_tol=0, abs_tol=1e-9):
                    return choice
            raise bad
        assert self.min is not None and self.max is not None and self.step is not None
        steps = (number - self.min) / self.step
        if not (self.min - 1e-9 <= number <= self.max + 1e-9) or abs(steps - round(steps)) > 1e-6:
            raise bad
        if self.type == "int":
            return int(round(number))
        # snap to the grid so that 0.7500000001 and 0.75 are the same configuration
        return round(self.min + round(steps) * self.step, 10)

    def values(self) -> list[Any]:
        """Every allowed value (for sweeps and property tests)."""
        if self.type == "bool":
            return [False, True]
        if self.type == "choice":
            return list(self.choices or ())
        assert self.min is not None and self.max is not None and self.step is not None
        count = int(round((self.max - self.min) / self.step))
        out = [round(self.min + i * self.step, 10) for i in range(count + 1)]
        return [int(v) for v in out] if self.type == "int" else out


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------------------------------
# papers and their figures


@dataclass(frozen=True)
class Paper:
    title: str
    authors: str
    year: int
    arxiv: str

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}"


@dataclass(frozen=True)
class Reference:
    """A published figure (params, multiply-adds, ImageNet top-1) for one knob setting, with its source."""

    label: str
    knobs: Mapping[str, Any]
    resolution: int
    params_m: float | None
    macs_m: float | None
    top1: float | None
    source: str
    provenance: str
    note: str = ""
    # Where the printed parameter count disagrees with the paper's own architecture table, the count that
    # architecture gives (from the official code or checkpoint, named in ``note``); tests check this one.
    architecture_params_m: float | None = None
    # Likewise where the source counts multiply-adds by another convention than conv + linear MACs (e.g. the
    # EfficientNet-Lite README, which adds batch-norm work): our count of the same architecture, explained in ``note``.
    architecture_macs_m: float | None = None

    @property
    def expected_params_m(self) -> float | None:
        return self.architecture_params_m if self.architecture_params_m is not None else self.params_m

    @property
    def expected_macs_m(self) -> float | None:
        return self.architecture_macs_m if self.architecture_macs_m is not None else self.macs_m


@functools.cache
def paper_entries() -> dict[int, dict[str, Any]]:
    """The published figures compiled in ``data/papers.json``, by entry id."""
    with open(DATA_DIR / "papers.json", encoding="utf-8") as fh:
        return {entry["id"]: entry for entry in json.load(fh)["entries"]}


def reference(entry_id: int, note: str = "", architecture_params_m: float | None = None,
              architecture_macs_m: float | None = None, **knobs: Any) -> Reference:
    """A ``Reference`` read from papers.json entry ``entry_id``, at our knob values ``knobs``."""
    entry = paper_entries()[entry_id]
    resolution = int(entry.get("knobs", {}).get("resolution", 224))
    return Reference(
        label=entry["variant"], knobs=dict(knobs), resolution=resolution,
        params_m=entry["params_m"], macs_m=entry["madds_m"], top1=entry["top1"], source=entry["source"],
        provenance=entry["provenance"], note=note, architecture_params_m=architecture_params_m,
        architecture_macs_m=architecture_macs_m)


# --------------------------------------------------------------------------------------------------
# blocks and the network they assemble into


@dataclass(frozen=True)
class Block:
    """One row of an architecture: a layer class, its arguments, and where it sits in the net.

    ``path`` is the module's qualified name (``features.3``); dotted paths create nested containers, which is
    how torchvision-compatible state_dict keys come out. ``stage`` groups blocks in the graph and the tables.
    """

    path: str
    layer: type[nn.Module]
    args: Mapping[str, Any] = field(default_factory=dict)
    stage: str = ""

    def make(self) -> nn.Module:
        return self.layer(**self.args)

    @property
    def kind(self) -> str:
        return getattr(self.layer, "kind", None) or _BUILTIN_KINDS.get(self.layer, self.layer.__name__)

    @property
    def label(self) -> str:
        describe = getattr(self.layer, "describe", None)
        try:
            if describe is not None:
                return describe(**self.args)
            return _describe_builtin(self.layer, self.args)
        except (KeyError, TypeError):  # a block of a foreign model, known only by its class
            return self.layer.__name__


_BUILTIN_KINDS: dict[type, str] = {
    nn.Conv2d: "conv", nn.BatchNorm2d: "bn", nn.ReLU: "act", nn.ReLU6: "act", nn.Hardswish: "act",
    nn.SiLU: "act", nn.PReLU: "act", nn.MaxPool2d: "pool", nn.AvgPool2d: "pool",
    nn.AdaptiveAvgPool2d: "pool", nn.Dropout: "dropout", nn.Linear: "linear", nn.Flatten: "flatten",
}


def _describe_builtin(layer: type[nn.Module], args: Mapping[str, Any]) -> str:
    if layer is nn.Conv2d:
        k = args.get("kernel_size", 1)
        kh, kw = (k, k) if isinstance(k, int) else k
        text = f"conv {kh}×{kw}, {args['out_channels']}"
        stride = args.get("stride", 1)
        return text + (f", s{stride}" if stride != 1 else "")
    if layer in (nn.MaxPool2d, nn.AvgPool2d):
        name = "max pool" if layer is nn.MaxPool2d else "avg pool"
        k = args.get("kernel_size")
        return f"{name} {k}×{k}, s{args.get('stride', k)}"
    if layer is nn.AdaptiveAvgPool2d:
        return "global average pool"
    if layer is nn.Dropout:
        return f"dropout p={args.get('p', 0.5):g}"
    if layer is nn.Linear:
        return f"fully connected, {args['out_features']}"
    if layer in (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU):
        return {nn.ReLU: "ReLU", nn.ReLU6: "ReLU6", nn.Hardswish: "h-swish", nn.SiLU: "swish"}[layer]
    if layer is nn.Flatten:
        return "flatten"
    return layer.__name__


class Network(nn.Sequential):
    """A classification net assembled from ``Block`` rows; runs its top-level children in order.

    A top-level child with ``takes_image = True`` also receives the network's input image (ESPNet v2's
    input reinforcement). ``block_rows`` keeps the rows the net was built from (not ``blocks``: a family may
    name a container so).
    """

    def __init__(self, blocks: list[Block]) -> None:
        super().__init__()
        self.block_rows: tuple[Block, ...] = tuple(blocks)
        for block in blocks:
            parent: nn.Module = self
            *parents, leaf = block.path.split(".")
            for part in parents:
                child = parent._modules.get(part)
                if child is None:
                    child = nn.Sequential()
                    parent.add_module(part, child)
                elif list(parent._modules)[-1] != part:
                    raise ValueError(f"block {block.path}: container {part!r} is not contiguous")
                parent = child
            if leaf in parent._modules:
                raise ValueError(f"two blocks at {block.path}")
            parent.add_module(leaf, block.make())

    def forward(self, x):  # type: ignore[override]
        image = x
        for module in self:
            x = module(x, image) if getattr(module, "takes_image", False) else module(x)
        return x


def assemble(blocks: list[Block]) -> Network:
    return Network(blocks)


# --------------------------------------------------------------------------------------------------
# model specs


@dataclass(frozen=True)
class Preprocess:
    """How a checkpoint expects its input: resize the shorter side, center crop, normalise."""

    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bilinear"


IMAGENET_PREPROCESS = Preprocess(256, 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@dataclass(frozen=True)
class ModelSpec:
    """Everything the package and the app know about one registered model."""

    name: str
    family: str
    title: str
    paper: Paper
    idea: str
    knobs: tuple[Knob, ...]
    blocks: Callable[..., list[Block]]
    default_resolution: int = 224
    min_resolution: int = 32
    references: tuple[Reference, ...] = ()
    notes: tuple[str, ...] = ()
    preprocess: Preprocess = IMAGENET_PREPROCESS
    # For families whose natural input size depends on a knob (EfficientNet's φ): knobs → resolution.
    resolution_of: Callable[..., int] | None = None

    def resolution(self, knobs: Mapping[str, Any] | None = None) -> int:
        """The model's own input size at these knobs (ρ = 1); the UI's ρ scales it."""
        if self.resolution_of is None:
            return self.default_resolution
        return int(self.resolution_of(**self.validate(knobs or {})))

    def knob(self, name: str) -> Knob:
        for knob in self.knobs:
            if knob.name == name:
                return knob
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {knob.name: knob.default for knob in self.knobs}

    def validate(self, knobs: Mapping[str, Any]) -> dict[str, Any]:
        """All knobs of this model, defaults filled in, each checked against the schema."""
        names = {knob.name for knob in self.knobs}
        unknown = sorted(set(knobs) - names)
        if unknown:
            allowed = ", ".join(sorted(names)) or "none"
            raise ValueError(f"{self.name} has no knob {', '.join(unknown)}; its knobs are: {allowed}")
        return {knob.name: knob.validate(knobs[knob.name]) if knob.name in knobs else knob.default
                for knob in self.knobs}

    def matching_references(self, knobs: Mapping[str, Any], resolution: int) -> list[Reference]:
        """The published figures taken at exactly this knob setting and resolution."""
        full = self.validate(knobs)
        return [ref for ref in self.references
                if ref.resolution == resolution and all(full[k] == v for k, v in self.validate(ref.knobs).items())]


@functools.cache
def _registry() -> dict[str, ModelSpec]:
    from lightnets import models

    found: dict[str, ModelSpec] = {}
    for info in sorted(pkgutil.iter_modules(models.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{models.__name__}.{info.name}")
        for model_spec in getattr(module, "MODELS", ()):
            if model_spec.name in found:
                raise RuntimeError(f"model {model_spec.name} registered twice")
            found[model_spec.name] = model_spec
    return found


def list_models() -> list[str]:
    """Registered model names, oldest paper first (the order a course meets them), then by name."""
    return sorted(_registry(), key=lambda name: (_registry()[name].paper.year, name))


def spec(name: str) -> ModelSpec:
    """The ``ModelSpec`` of a registered model; ``ValueError`` for an unknown name."""
    try:
        return _registry()[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(_registry())}") from None


def blocks(name: str, **knobs: Any) -> list[Block]:
    """The validated architecture rows of ``name`` at ``knobs``."""
    model_spec = spec(name)
    return model_spec.blocks(**model_spec.validate(knobs))


def build(name: str, **knobs: Any) -> Network:
    """Build ``name`` as an ``nn.Module`` (random init, 1000 classes).

    Raises ``ValueError`` naming the knob for unknown knobs, values outside the schema and combinations
    that cannot build.
    """
    model = assemble(blocks(name, **knobs))
    model.name = name  # type: ignore[assignment]
    model.knobs = spec(name).validate(knobs)  # type: ignore[assignment]
    return model
