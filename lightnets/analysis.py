"""Figures derived from profiles for the Home and Cost pages: the depthwise-separable saving of a chosen layer,
knob sweeps, the family overview and the accuracy-vs-cost comparison across families.

Everything here is computed from ``profile()`` rows and the registry's published figures, so it is as exact
as they are and cheap enough for every slider move (profiles are cached per configuration).

Importing this module does not import torch (the registry and the cost model are imported where they are
used): the Home page shows the overview saved in ``data/overview.json`` while torch is still loading, about
two seconds on a cold start. ``tests/test_analysis.py`` proves that file equals what ``overview()`` computes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightnets.i18n import _
from lightnets.translated import Translated, msgid

if TYPE_CHECKING:
    from lightnets.cost import LayerCost, Profile
    from lightnets.registry import Config

OVERVIEW_FILE = Path(__file__).parent / "data" / "overview.json"

# --------------------------------------------------------------------------------------------------
# depthwise separable saving


@dataclass(frozen=True)
class SeparableSaving:
    """A depthwise k×k conv and the 1×1 conv after it, against one standard k×k conv doing both jobs.

    MobileNet's saving: (Dk²·M·H·W + M·N·H·W) / (Dk²·M·N·H·W) = 1/N + 1/Dk². When the 1×1 conv is a group
    conv with g groups (ShuffleNet), its term shrinks g-fold: 1/N + 1/(g·Dk²).
    """

    depthwise: LayerCost
    pointwise: LayerCost

    @property
    def kernel_area(self) -> int:  # Dk², or kh·kw for a non-square kernel
        assert self.depthwise.kernel is not None
        return self.depthwise.kernel[0] * self.depthwise.kernel[1]

    @property
    def in_channels(self) -> int:  # M
        return self.depthwise.output_shape[1]

    @property
    def out_channels(self) -> int:  # N
        return self.pointwise.output_shape[1]

    @property
    def groups(self) -> int:  # g of the 1×1 conv (1 for a plain pointwise conv)
        return self.pointwise.groups or 1

    @property
    def separable_macs(self) -> int:
        return self.depthwise.macs + self.pointwise.macs

    @property
    def standard_macs(self) -> int:
        """The MACs of one dense k×k conv from M to N channels at the depthwise conv's output size."""
        height, width = self.depthwise.output_shape[2:]
        return self.kernel_area * self.in_channels * self.out_channels * height * width

    @property
    def ratio(self) -> float:
        """Measured from the two layers' MAC counts."""
        return self.separable_macs / self.standard_macs

    @property
    def formula(self) -> float:
        """1/N + 1/(g·Dk²): the paper's closed form (g = 1 for MobileNet)."""
        return 1 / self.out_channels + 1 / (self.groups * self.kernel_area)

    @property
    def label(self) -> str:
        kh, kw = self.depthwise.kernel or (0, 0)
        height, width = self.depthwise.output_shape[2:]
        gconv = _("group 1×1 (g={groups})").format(groups=self.groups) if self.groups > 1 else "1×1"
        return _("{layer}: depthwise {kh}×{kw} on {cin} ch at {height}×{width} → {second} to {cout} ch").format(
            layer=self.depthwise.name, kh=kh, kw=kw, cin=self.in_channels, height=height, width=width, second=gconv,
            cout=self.out_channels)


def separable_pairs(p: Profile) -> list[SeparableSaving]:
    """Every depthwise conv of the profile with the 1×1 conv that consumes its output (same block).

    The 1×1 conv must read a tensor of the depthwise output's shape: that skips the squeeze-and-excitation
    convs, which run on the pooled 1×1 vector between the two.
    """
    rows = p.layers
    pairs = []
    for i, row in enumerate(rows):
        if row.op != "depthwise":
            continue
        for later in rows[i + 1:]:
            if later.block != row.block:
                break
            if (later.op in ("pointwise", "group") and later.kernel == (1, 1)
                    and later.input_shape == row.output_shape):
                pairs.append(SeparableSaving(row, later))
                break
    return pairs


def typical_block(p: Profile, choices: list[str]) -> str | None:
    """Which of ``choices`` (block paths) to draw first: the first block of the network's most common block kind
    that keeps its input's shape (where a shortcut can join: the block as the paper draws it), else the first
    block of that kind, else the first choice."""
    if not choices:
        return None
    blocks = {b.path: b for b in p.blocks}
    kinds = [b.kind for b in p.blocks]
    candidates = [path for path in choices if path in blocks]
    if not candidates:
        return choices[0]
    common = max({blocks[path].kind for path in candidates}, key=kinds.count)
    of_kind = [path for path in candidates if blocks[path].kind == common]
    same = [path for path in of_kind if blocks[path].input_shape == blocks[path].output_shape]
    return (same or of_kind)[0]


# --------------------------------------------------------------------------------------------------
# sweeps


@dataclass(frozen=True)
class SweepPoint:
    """One configuration of a sweep: the swept value, and the cost there (None where it cannot build)."""

    value: Any
    knobs: dict[str, Any]
    resolution: int
    params: int | None
    macs: int | None
    error: str | None = None
    config: Config | None = None  # None where it cannot build


def sweep_values(values: list[Any], current: Any, max_points: int = 13) -> list[Any]:
    """At most about ``max_points`` of ``values`` spread evenly, always with both ends and ``current``."""
    if len(values) <= max_points:
        return list(values)
    stride = math.ceil((len(values) - 1) / (max_points - 1))
    picked = values[::stride]
    picked = picked + [v for v in (values[-1], current) if v not in picked]
    return sorted(picked, key=values.index)


def _point(name: str, value: Any, knobs: dict[str, Any], rho: float) -> SweepPoint:
    from lightnets.cost import profile
    from lightnets.registry import Config

    try:
        config = Config(name, knobs).with_rho(rho)
        p = profile(config)
    except ValueError as err:
        return SweepPoint(value, knobs, 0, None, None, str(err).splitlines()[0])
    return SweepPoint(value, dict(config.knobs), config.resolution, p.params, p.macs, config=config)


def knob_sweep(config: Config, knob: str, rho: float = 1.0, max_points: int = 13) -> list[SweepPoint]:
    """Params and MACs as ``knob`` runs over its allowed values, the other knobs fixed, each at ρ × its own
    resolution (a knob may change the model's own input size, as EfficientNet's φ does)."""
    schema = config.spec.knob(knob)
    values = sweep_values(schema.values(), config.knobs[knob], max_points)
    return [_point(config.name, value, {**config.knobs, knob: value}, rho) for value in values]


def rho_sweep(config: Config, rhos: list[float]) -> list[SweepPoint]:
    """Params and MACs of the configuration at each resolution multiplier ρ in ``rhos``."""
    return [_point(config.name, rho, dict(config.knobs), rho) for rho in rhos]


# --------------------------------------------------------------------------------------------------
# across families


@dataclass(frozen=True)
class ModelOverview:
    """One registered model at its default knobs: what the Home page's table shows."""

    name: str
    title: str
    family: str
    year: int
    # the model's key idea: in English (the ModelSpec's N_-marked text, so the catalog has it), read translated
    idea: str = Translated()  # type: ignore[assignment]
    resolution: int
    params: int
    macs: int
    top1: float | None  # the paper's ImageNet top-1 at exactly these settings, if it publishes one
    top1_source: str


def published_top1(config: Config) -> tuple[float | None, str]:
    """The published top-1 at exactly this configuration, with its source; (None, "") where none is published."""
    for ref in config.spec.matching_references(config):
        if ref.top1 is not None:
            return ref.top1, f"{ref.label} ({ref.source})"
    return None, ""


def overview() -> list[ModelOverview]:
    """Every registered model at its default knobs and own resolution."""
    from lightnets.cost import profile
    from lightnets.registry import Config, list_models

    out = []
    for name in list_models():
        config = Config(name)
        model_spec = config.spec
        p = profile(config)
        top1, source = published_top1(config)
        out.append(ModelOverview(name, model_spec.title, model_spec.family, model_spec.paper.year,
                                 msgid(model_spec, "idea"), config.resolution, p.params, p.macs, top1, source))
    return out


def saved_overview() -> list[ModelOverview]:
    """``overview()`` as saved in ``data/overview.json``: readable before torch is imported.

    A test checks that it equals ``overview()``; after changing a model, run ``python -m lightnets.analysis``.
    """
    rows = json.loads(OVERVIEW_FILE.read_text(encoding="utf-8"))["models"]
    return [ModelOverview(**row) for row in rows]


def save_overview() -> Path:
    """Write ``overview()`` to ``data/overview.json`` (what ``saved_overview`` reads)."""
    rows = [{**dataclasses.asdict(row), "idea": msgid(row, "idea")} for row in overview()]
    note = "Generated by `python -m lightnets.analysis` from overview(); tests/test_analysis.py checks it."
    OVERVIEW_FILE.write_text(json.dumps({"note": note, "models": rows}, indent=1, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    return OVERVIEW_FILE


@dataclass(frozen=True)
class FamilyPoint:
    """A published ImageNet result placed at the cost our profile gives for that same setting."""

    name: str
    family: str
    label: str = Translated()  # type: ignore[assignment]  # cached across sessions: kept in English
    knobs: dict[str, Any]
    resolution: int
    params: int
    macs: int
    top1: float
    source: str


@functools.cache
def _family_points(names: tuple[str, ...]) -> tuple[FamilyPoint, ...]:
    from lightnets.cost import profile
    from lightnets.registry import Config, spec

    points: dict[tuple, FamilyPoint] = {}
    for name in names:
        model_spec = spec(name)
        for ref in model_spec.references:
            if ref.top1 is None:
                continue
            config = Config(name, ref.knobs, ref.resolution)
            key = (config, ref.top1)
            if key in points:  # the same result quoted by two sources: one bubble
                continue
            p = profile(config)
            points[key] = FamilyPoint(name, model_spec.family, msgid(ref, "label"), dict(config.knobs), ref.resolution,
                                      p.params, p.macs, ref.top1, ref.source)
    return tuple(points.values())


def family_points() -> list[FamilyPoint]:
    """Every published top-1 of every registered model, with params and MACs from our profile of that setting."""
    from lightnets.registry import list_models

    return list(_family_points(tuple(list_models())))


if __name__ == "__main__":
    print(f"wrote {save_overview()}")
