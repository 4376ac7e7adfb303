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
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from torch import nn

from lightnets.formatting import Shown
from lightnets.i18n import N_, _
from lightnets.translated import Translated

DATA_DIR = Path(__file__).parent / "data"
MAX_RESOLUTION = 1024  # the largest input side any function takes (profiles, latency, prediction)

T = TypeVar("T")

# --------------------------------------------------------------------------------------------------
# knobs


@dataclass(frozen=True)
class Knob:
    """One architecture knob and its allowed values. The UI generates its widget from this.

    ``label`` and ``help`` are declared in English (marked ``N_``) and read in the current language.
    """

    name: str
    label: str = Translated()  # type: ignore[assignment]
    type: str  # "float" | "int" | "choice" | "bool" | "text"
    default: Any
    help: str = Translated("")  # type: ignore[assignment]
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    # "text" knobs: a regular expression the whole value (spaces removed, lower case) must match, and an example
    # of the form for messages. What the text means is checked by the family's ``blocks`` function.
    pattern: str | None = None
    example: str = ""
    # Ideas (``lightnets.concepts`` tags) a knob value brings that the built blocks cannot show, e.g.
    # ``{False: "full_conv"}`` for MobileNet V1's ``separable`` switched off.
    concepts: Mapping[Any, str] = field(default_factory=dict, compare=False, hash=False)

    def allowed(self) -> str:
        """The allowed values in words, for error messages."""
        if self.type == "bool":
            return _("true or false")
        if self.type == "choice":
            return _("one of {values}").format(values=", ".join(_fmt(c) for c in self.choices or ()))
        if self.type == "text":
            return _("empty or text of the form {example}").format(example=self.example)
        return _("a number from {low} to {high} in steps of {step}").format(
            low=_fmt(self.min), high=_fmt(self.max), step=_fmt(self.step))

    def validate(self, value: Any) -> Any:
        """Return ``value`` coerced to the knob's type, or raise ``ValueError`` naming the knob."""
        bad = ValueError(_("{name}={value!r} is not allowed: {name} must be {allowed}").format(
            name=self.name, value=Shown(value), allowed=self.allowed()))
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise bad
        if self.type == "text":
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise bad
            text = re.sub(r"\s+", "", value).lower()
            if text and self.pattern is not None and not re.fullmatch(self.pattern, text):
                raise bad
            return text
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
        if self.type == "text":  # free text: the default stands for all of it in sweeps
            return [self.default]
        assert self.min is not None and self.max is not None and self.step is not None
        count = int(round((self.max - self.min) / self.step))
        out = [round(self.min + i * self.step, 10) for i in range(count + 1)]
        return [int(v) for v in out] if self.type == "int" else out


MAX_TEXT = 600  # characters of a text knob (a URL carries it)


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def validate_knobs(owner: str, schema: Sequence[Knob], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every knob of ``schema`` (a model's or an experiment's, called ``owner`` in errors), defaults filled in,
    each value checked; an unknown name raises ``ValueError`` listing the known ones."""
    names = {knob.name for knob in schema}
    unknown = sorted(set(values) - names)
    if unknown:
        allowed = ", ".join(sorted(names)) or _("none")
        raise ValueError(_("{model} has no knob {knob}; its knobs are: {knobs}").format(
            model=owner, knob=", ".join(unknown), knobs=allowed))
    return {knob.name: knob.validate(values[knob.name]) if knob.name in values else knob.default for knob in schema}


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

    label: str = Translated()  # type: ignore[assignment]  # a variant name; an explanation in it is marked N_
    knobs: Mapping[str, Any]
    resolution: int
    params_m: float | None
    macs_m: float | None
    top1: float | None
    source: str
    provenance: str
    note: str = Translated("")  # type: ignore[assignment]  # declared in English (N_), read translated
    # Where the printed parameter count disagrees with the paper's own architecture table, the count that
    # architecture gives (from the official code or checkpoint, named in ``note``); tests check this one.
    architecture_params_m: float | None = None
    # Likewise where the source counts multiply-adds by another convention than conv + linear MACs (e.g. the
    # EfficientNet-Lite README, which adds batch-norm work): our count of the same architecture, explained in ``note``.
    architecture_macs_m: float | None = None
    entry: int | None = None  # the papers.json entry it was read from (its other figures, e.g. phone latency)

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
        architecture_macs_m=architecture_macs_m, entry=entry_id)


# --------------------------------------------------------------------------------------------------
# blocks and the network they assemble into


@dataclass(frozen=True)
class Block:
    """One row of an architecture: a layer class, its arguments, and where it sits in the net.

    ``path`` is the module's qualified name (``features.3``); dotted paths create nested containers, which is
    how torchvision-compatible state_dict keys come out. ``stage`` is the row's stage (see CONTRIBUTING.md):
    the graph draws a stage as one cluster and the tables group by it.
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
    def takes_image(self) -> bool:
        """Whether the block also reads the network's input image (ESPNet v2's input reinforcement)."""
        return takes_image(self.layer)

    @property
    def label(self) -> str:
        describe = getattr(self.layer, "describe", None)
        try:
            if describe is not None:
                return describe(**self.args)
            return _describe_builtin(self.layer, self.args)
        except (KeyError, TypeError):  # a block of a foreign model, known only by its class
            return self.layer.__name__


def stage_label(stage: str) -> str:
    """How a stage (``Block.stage``: 'stem', 'stage 3', 'head') is written on screen, in the current language."""
    number = stage.removeprefix("stage ")
    if number != stage and number.isdigit():
        return _("stage {n}").format(n=number)
    return _(_STAGE_WORDS[stage]) if stage in _STAGE_WORDS else stage


_STAGE_WORDS = {"stem": N_("stem"), "head": N_("head")}


def takes_image(layer: type[nn.Module] | nn.Module) -> bool:
    """A block class (or module) that declares ``takes_image = True`` is called as ``block(x, image)``."""
    cls = layer if isinstance(layer, type) else type(layer)
    return bool(getattr(cls, "takes_image", False))


_BUILTIN_KINDS: dict[type, str] = {
    nn.Conv2d: "conv", nn.BatchNorm2d: "bn", nn.ReLU: "act", nn.ReLU6: "act", nn.Hardswish: "act",
    nn.SiLU: "act", nn.PReLU: "act", nn.MaxPool2d: "pool", nn.AvgPool2d: "pool",
    nn.AdaptiveAvgPool2d: "pool", nn.Dropout: "dropout", nn.Linear: "linear", nn.Flatten: "flatten",
}


def _describe_builtin(layer: type[nn.Module], args: Mapping[str, Any]) -> str:
    from lightnets.ops import activation_label

    if layer is nn.Conv2d:
        k = args.get("kernel_size", 1)
        kh, kw = (k, k) if isinstance(k, int) else k
        text = _("conv {kh}×{kw}, {out}").format(kh=kh, kw=kw, out=args["out_channels"])
        stride = args.get("stride", 1)
        return text + (f", s{stride}" if stride != 1 else "")
    if layer in (nn.MaxPool2d, nn.AvgPool2d):
        k = args.get("kernel_size")
        text = _("max pool {k}×{k}, s{s}") if layer is nn.MaxPool2d else _("avg pool {k}×{k}, s{s}")
        return text.format(k=k, s=args.get("stride", k))
    if layer is nn.AdaptiveAvgPool2d:
        return _("global average pool")
    if layer is nn.Dropout:
        return _("dropout p={p:g}").format(p=args.get("p", 0.5))
    if layer is nn.Linear:
        return _("fully connected, {out}").format(out=args["out_features"])
    if layer is nn.Flatten:
        return _("flatten")
    return activation_label(layer) or layer.__name__


def run_in_sequence(steps: Iterable[tuple[T, bool]], x: Any, call: Callable[..., Any]) -> Any:
    """How a ``Network`` runs its blocks, written once: each block gets the previous block's output, and a block
    that takes the image (``takes_image``) also gets the network's input.

    ``steps`` are (block, takes_image) pairs; ``call(block, x)`` or ``call(block, x, image)`` runs one. The
    network calls its modules on tensors; the cost model calls its per-block costing on shapes.
    """
    image = x
    for block, with_image in steps:
        x = call(block, x, image) if with_image else call(block, x)
    return x


def _call(module: nn.Module, *args: Any) -> Any:
    return module(*args)


class Network(nn.Sequential):
    """A classification net assembled from ``Block`` rows; runs its top-level children in order
    (``run_in_sequence``).

    ``block_rows`` keeps the rows the net was built from (not ``blocks``: a family may name a container so).
    """

    def __init__(self, blocks: Sequence[Block]) -> None:
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
                    raise ValueError(_("block {path}: container {part!r} is not contiguous").format(
                        path=block.path, part=part))
                parent = child
            if leaf in parent._modules:
                raise ValueError(_("two blocks at {path}").format(path=block.path))
            parent.add_module(leaf, block.make())

    def forward(self, x):  # type: ignore[override]
        # read from _modules on every call (a top-level child may be swapped, e.g. BatchNorm folded away); the
        # class-attribute lookup of takes_image costs ~0.1 µs a child
        return run_in_sequence(((m, takes_image(m)) for m in self._modules.values()), x, _call)


def assemble(blocks: Sequence[Block]) -> Network:
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
    idea: str = Translated()  # type: ignore[assignment]  # declared in English (N_), read translated
    knobs: tuple[Knob, ...]
    blocks: Callable[..., list[Block]]
    default_resolution: int = 224
    min_resolution: int = 32
    references: tuple[Reference, ...] = ()
    notes: tuple[str, ...] = Translated(())  # type: ignore[assignment]
    preprocess: Preprocess = IMAGENET_PREPROCESS
    # For families whose natural input size depends on a knob (EfficientNet's φ): knobs → resolution.
    resolution_of: Callable[..., int] | None = None
    # Ideas (``lightnets.concepts`` tags) of how the layout was found, which no block shows (e.g. "dnas").
    concepts: tuple[str, ...] = ()

    def resolution(self, knobs: Mapping[str, Any] | None = None) -> int:
        """The model's own input size at these knobs (ρ = 1); the UI's ρ scales it."""
        if self.resolution_of is None:
            return self.default_resolution
        return int(self.resolution_of(**self.validate(knobs or {})))

    def rho_resolution(self, knobs: Mapping[str, Any], rho: float) -> int:
        """round(ρ × the model's own input size at these knobs), clamped to the sizes the model takes."""
        return max(self.min_resolution, min(MAX_RESOLUTION, round(rho * self.resolution(knobs))))

    def knob(self, name: str) -> Knob:
        for knob in self.knobs:
            if knob.name == name:
                return knob
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {knob.name: knob.default for knob in self.knobs}

    def validate(self, knobs: Mapping[str, Any]) -> dict[str, Any]:
        """All knobs of this model, defaults filled in, each checked against the schema."""
        return validate_knobs(self.name, self.knobs, knobs)

    def check_resolution(self, resolution: Any) -> int:
        """``resolution`` as an int this model accepts, or ``ValueError`` saying what is allowed."""
        try:
            value = int(resolution)
            if isinstance(resolution, bool) or value != float(resolution):
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise ValueError(_("resolution={value!r} is not allowed: it must be a whole number of pixels").format(
                value=resolution)) from None
        if not self.min_resolution <= value <= MAX_RESOLUTION:
            raise ValueError(_("resolution={value} is not allowed for {model}: it must be from {low} to {high} px")
                             .format(value=value, model=self.name, low=self.min_resolution, high=MAX_RESOLUTION))
        return value

    def matching_references(self, config: Config) -> list[Reference]:
        """The published figures taken at exactly this configuration (knobs and resolution)."""
        return [ref for ref in self.references
                if ref.resolution == config.resolution
                and all(config.knobs[k] == v for k, v in self.validate(ref.knobs).items())]


# --------------------------------------------------------------------------------------------------
# a configuration: one model, its knob values, an input resolution


class Knobs(Mapping[str, Any]):
    """A configuration's knob values: read-only, hashable, in the schema's order; compares equal to a dict."""

    __slots__ = ("_items", "_dict")

    def __init__(self, items: Iterable[tuple[str, Any]]) -> None:
        self._items = tuple(items)
        self._dict = dict(self._items)

    def __getitem__(self, key: str) -> Any:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Knobs):
            return self._items == other._items
        return isinstance(other, Mapping) and self._dict == dict(other)

    def __repr__(self) -> str:
        return f"Knobs({self._dict!r})"

    def __reduce__(self) -> tuple:
        return Knobs, (self._items,)


@dataclass(frozen=True, init=False)
class Config:
    """One validated configuration: a registered model, every one of its knobs, and an input resolution.

    Made once (``lightnets.config(name, resolution, **knobs)`` or ``Config(name, knobs, resolution)``) and then
    passed to every function that profiles, draws, times or runs a model; it is hashable, so caches key on it.
    Construction raises a one-line ``ValueError`` naming what is wrong: an unknown model or knob, a value outside
    the schema, a combination the architecture cannot build, or a resolution outside the model's range.
    ``resolution=None`` takes the model's own input size at these knobs.
    """

    name: str
    knobs: Knobs
    resolution: int

    def __init__(self, name: str, knobs: Mapping[str, Any] | None = None, resolution: int | None = None) -> None:
        model_spec = spec(name)
        full = model_spec.validate(knobs or {})
        items = tuple(full.items())
        _rows(name, items)  # builds the rows once: raises for a combination the architecture cannot build
        own = model_spec.resolution(full)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "knobs", knobs if isinstance(knobs, Knobs) and knobs._items == items
                           else Knobs(items))
        object.__setattr__(self, "resolution", own if resolution is None else model_spec.check_resolution(resolution))

    def __reduce__(self) -> tuple:  # pickled (Streamlit's caches hash and copy their arguments) as its parts
        return Config, (self.name, self.knobs, self.resolution)

    @property
    def spec(self) -> ModelSpec:
        return spec(self.name)

    @property
    def own_resolution(self) -> int:
        """The model's own input size at these knobs (what ρ = 1 means)."""
        return self.spec.resolution(self.knobs)

    @property
    def blocks(self) -> tuple[Block, ...]:
        """The architecture rows these knobs give (built once per knob setting)."""
        return _rows(self.name, self.knobs._items)

    @property
    def architecture(self) -> Config:
        """The same model and knobs at the model's own resolution: the key of anything that does not depend on
        the input size (a built model, its weights)."""
        own = self.own_resolution
        return self if self.resolution == own else Config(self.name, self.knobs, own)

    def replace(self, knobs: Mapping[str, Any] | None = None, resolution: int | None = None) -> Config:
        """This configuration with some knob values and/or the resolution changed (validated again); the
        resolution stays unless given."""
        return Config(self.name, {**self.knobs, **(knobs or {})},
                      self.resolution if resolution is None else resolution)

    def with_rho(self, rho: float) -> Config:
        """This configuration at round(ρ × the model's own resolution), clamped to the sizes the model takes."""
        return Config(self.name, self.knobs, self.spec.rho_resolution(self.knobs, rho))

    @property
    def rho(self) -> float:
        return self.resolution / self.own_resolution

    @property
    def title(self) -> str:
        """'MobileNet V2 (alpha=0.5, expansion=6, linear_bottleneck=True)': the model's title and every knob."""
        from lightnets.formatting import knob_text

        inner = knob_text(self.knobs)
        return f"{self.spec.title} ({inner})" if inner else self.spec.title

    def describe(self) -> str:
        """'mobilenet_v2 (alpha=0.5, expansion=6, linear_bottleneck=True) at 160 px'."""
        from lightnets.formatting import knob_text

        inner = knob_text(self.knobs)
        return _("{model} at {resolution} px").format(
            model=f"{self.name} ({inner})" if inner else self.name, resolution=self.resolution)


def config(name: str, resolution: int | None = None, **knobs: Any) -> Config:
    """A validated ``Config`` of a registered model: the one way knobs enter the package.

    ``resolution=None`` is the model's own input size. Raises a one-line ``ValueError`` naming the knob (or the
    resolution) that is wrong.
    """
    return Config(name, knobs, resolution)


@functools.lru_cache(maxsize=1024)
def _rows(name: str, knob_items: tuple[tuple[str, Any], ...]) -> tuple[Block, ...]:
    return tuple(spec(name).blocks(**dict(knob_items)))


def parse_knobs(name: str, values: Mapping[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Knob values given as text (a URL's query, a command line) read against ``name``'s schema.

    Returns every knob of the model (defaults where a value is missing or not allowed) and, for each value that
    was not allowed, (the one-sentence reason, what was used instead), so a caller can refuse (the CLI) or fall
    back with a warning (the app). Keys that are not knobs of this model are left to the caller.
    """
    from lightnets.formatting import format_value

    model_spec = spec(name)
    knobs = model_spec.defaults()
    problems: list[tuple[str, str]] = []
    for knob in model_spec.knobs:
        if knob.name in values:
            try:
                knobs[knob.name] = knob.validate(values[knob.name])
            except ValueError as err:
                problems.append((str(err), format_value(knob.default)))
    try:
        _rows(name, tuple(knobs.items()))
    except ValueError as err:
        problems.append((str(err).splitlines()[0], _("{model}'s defaults").format(model=name)))
        knobs = model_spec.defaults()
    return knobs, problems


_REGISTRY_LOCK = threading.Lock()  # sessions discover the families concurrently on a cold start


@functools.cache
def _registry() -> dict[str, ModelSpec]:
    with _REGISTRY_LOCK:
        return _discover()


def _discover() -> dict[str, ModelSpec]:
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
    except (KeyError, TypeError):
        raise ValueError(_("unknown model {name!r}; known models: {models}").format(
            name=Shown(name), models=", ".join(_registry()))) from None


def blocks(config: Config) -> list[Block]:
    """The architecture rows of a configuration."""
    return list(config.blocks)


def build(config: Config) -> Network:
    """Build a configuration as an ``nn.Module`` (random init, 1000 classes); it carries its ``config``."""
    model = assemble(config.blocks)
    model.config = config.architecture  # type: ignore[assignment]
    model.name = config.name  # type: ignore[assignment]
    model.knobs = dict(config.knobs)  # type: ignore[assignment]
    return model
