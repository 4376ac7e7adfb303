"""Two configurations side by side, as the Compare page shows them: totals and their ratio B/A, shares by op kind,
and MACs and memory traffic stage by stage. Everything is read from the two profiles (``lightnets.profile``);
latency is measured in alternation by ``lightnets.measure_interleaved``, so the ratio is fair on a busy machine."""

from __future__ import annotations

from dataclasses import dataclass

from lightnets.cost import Profile
from lightnets.i18n import N_
from lightnets.ops import OP_KINDS

__all__ = ["TOTALS", "StageRow", "TotalRow", "kind_shares", "ratio_text", "stage_rows", "totals"]

# (field of Profile.totals(), label, unit) in the order the page lists them
TOTALS: tuple[tuple[str, str, str], ...] = (
    ("params", N_("params"), "count"), ("macs", N_("MACs"), "count"), ("flops", N_("FLOPs"), "count"),
    ("mem_bytes", N_("memory access"), "bytes"), ("elementwise", N_("element-wise ops"), "count"),
    ("peak_activation_bytes", N_("peak activations"), "bytes"), ("size_fp32_bytes", N_("size fp32"), "bytes"),
)


@dataclass(frozen=True)
class TotalRow:
    key: str
    label: str  # marked with N_: translate when shown
    unit: str  # "count" or "bytes"
    a: int
    b: int

    @property
    def ratio(self) -> float | None:
        """B/A (None when A is 0)."""
        return self.b / self.a if self.a else None


def totals(a: Profile, b: Profile) -> list[TotalRow]:
    """Every total of ``TOTALS`` for A and B, with the ratio B/A."""
    ta, tb = a.totals(), b.totals()
    return [TotalRow(key, label, unit, int(ta[key]), int(tb[key])) for key, label, unit in TOTALS]


def kind_shares(p: Profile) -> dict[str, float]:
    """Percent of the MACs done by each op kind (``OP_KINDS`` order), kinds without MACs left out."""
    macs = p.macs_by_kind()
    return {kind: 100 * macs[kind] / p.macs for kind in OP_KINDS if macs.get(kind) and p.macs}


@dataclass(frozen=True)
class StageRow:
    stage: str
    a_macs: int | None  # None: the model has no such stage
    b_macs: int | None
    a_mem: int | None
    b_mem: int | None


def _by_stage(p: Profile) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = {}
    for row in p.layers:
        cell = out.setdefault(row.stage or "-", [0, 0])
        cell[0] += row.macs
        cell[1] += row.mem_bytes
    return {k: (v[0], v[1]) for k, v in out.items()}


def stage_rows(a: Profile, b: Profile) -> list[StageRow]:
    """MACs and memory traffic per stage (stem, the paper's stages, head) of A and B, in network order; a stage
    only one of them has is None on the other side. The rows of each side sum to its totals."""
    sa, sb = _by_stage(a), _by_stage(b)
    order: list[str] = list(sa)
    for stage in sb:  # B's stages that A lacks, after the last stage of A they follow
        if stage not in order:
            before = [s for s in list(sb)[:list(sb).index(stage)] if s in order]
            order.insert(order.index(before[-1]) + 1 if before else len(order), stage)
    if "head" in order:  # the head always last
        order.remove("head")
        order.append("head")

    def get(side: dict[str, tuple[int, int]], stage: str, i: int) -> int | None:
        return side[stage][i] if stage in side else None

    return [StageRow(stage, get(sa, stage, 0), get(sb, stage, 0), get(sa, stage, 1), get(sb, stage, 1))
            for stage in order]


def ratio_text(ratio: float | None) -> str:
    """'0.42×' (B/A), or '–' without a ratio."""
    return "–" if ratio is None else f"{ratio:.3g}×"
