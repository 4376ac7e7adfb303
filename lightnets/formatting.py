"""Numbers and knob values as the app, the CLI and the figures write them, in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


CLIP = 60  # characters of outside text (a link's value, a file's key) a message repeats


def clip(text: Any, limit: int = CLIP) -> str:
    """``text`` on one line, cut to ``limit`` characters with "…": how a message repeats what a link, a command
    line or an uploaded file carried (a 10,000-character value is not echoed in full)."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


class Shown:
    """Outside text for a message's ``{value!r}`` or ``{value}`` field: its repr (or str) through ``clip``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return clip(repr(self.value))

    def __str__(self) -> str:
        return clip(self.value)


def format_value(value: Any) -> str:
    """A knob value as it appears in a URL, a caption or a command line: true/false, 0.75, 6."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def knob_text(knobs: Mapping[str, Any]) -> str:
    """'alpha=0.5, expansion=6, linear_bottleneck=True' (Python's spelling of booleans, as in code)."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in knobs.items())


def format_count(value: float) -> str:
    """Three significant digits: 3504872 → '3.50 M', 86744000 → '86.7 M'; readable from the back of a classroom."""
    units = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))
    for i, (size, unit) in enumerate(units):
        if abs(value) >= size or size == 1.0:
            text = f"{value / size:#.3g}".rstrip(".")
            if "e" in text and i:  # 999.6 k rounds to 1000 k: say 1.00 M
                size, unit = units[i - 1]
                text = f"{value / size:#.3g}".rstrip(".")
            return f"{text} {unit}".strip() if size != 1.0 else f"{value:g}"
    return f"{value:g}"


def format_scaled(value: float, unit: str = "") -> str:
    """Two decimals and a unit letter, as the command line prints totals: '300.77M', '13.99MB'."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{suffix}{unit}"
    return f"{value:g}{unit}"


def format_tick(value: float) -> str:
    """An axis tick label: 0, 500 k, 1.5 M, 20 M, 1.2 G."""
    for size, unit in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= size:
            return f"{value / size:g}{unit}"
    return f"{value:g}"


def format_percent(value: float | None) -> str:
    """A published accuracy to one decimal (58.178 → '58.2%'), '—' where none is published."""
    return "—" if value is None else f"{value:.1f}%"


def format_bytes(value: float) -> str:
    """Bytes in decimal units (MB = 10⁶ bytes, as model sizes are usually quoted)."""
    for size, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(value) >= size:
            return f"{value / size:.2f} {unit}"
    return f"{value:g} B"


def markdown_table(columns: Mapping[str, Sequence[str]]) -> str:
    """A markdown table with these columns (cells as text; a '|' in a cell is escaped)."""
    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    lines = [row(list(columns)), row(["---"] * len(columns))]
    lines += [row(cells) for cells in zip(*columns.values())]
    return "\n".join(lines)
