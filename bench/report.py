"""Result rows, the one printed table, and ``bench/results/latest.json``.

A row is one comparison: Lore's number, the anchor's number measured in the same run,
their ratio, the bar from PERFORMANCE.md and a verdict. A scenario that could not run
keeps its row with ``n/a: <reason>`` instead of a number — never a made-up value.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


@dataclass
class Row:
    """One line of the table."""

    scenario: str
    what: str
    lore: float | None = None
    anchor: float | None = None
    unit: str = "s"
    anchor_name: str = ""
    bar: str = ""
    ok: bool | None = None  # None: informational, no bar to judge
    reason: str = ""  # why it is n/a
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """Lore ÷ anchor, when both exist."""
        if self.lore is None or self.anchor in (None, 0):
            return None
        return self.lore / self.anchor  # type: ignore[operator]

    @property
    def verdict(self) -> str:
        """``met``, ``MISSED``, ``info`` or ``n/a: reason``."""
        if self.reason:
            return f"n/a: {self.reason}"
        if self.ok is None:
            return "info"
        return "met" if self.ok else "MISSED"

    def as_json(self) -> dict[str, Any]:
        """The row with its computed ratio and verdict."""
        d = asdict(self)
        d["ratio"] = self.ratio
        d["verdict"] = self.verdict
        return d


def na(scenario: str, what: str, reason: str, bar: str = "", **kw: Any) -> Row:
    """A row for something that could not be measured, with the reason."""
    return Row(scenario, what, bar=bar, reason=reason or "unknown failure", **kw)


def fmt(value: float | None, unit: str) -> str:
    """A number with its unit, compact (``12.3 s``, ``48 ms``, ``1.2 MB``)."""
    if value is None:
        return "—"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
    if unit == "B":
        for div, u in ((1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
            if abs(value) >= div:
                return f"{value / div:.2f} {u}"
        return f"{value:.0f} B"
    if unit in ("req", "sessions") or abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}".strip()


def render(rows: list[Row]) -> str:
    """The table, as Markdown (readable in a terminal and pasteable into the README)."""
    head = ["scenario", "lore", "anchor", "ratio", "bar", "verdict"]
    body = []
    for r in rows:
        anchor = fmt(r.anchor, r.unit) + (f" ({r.anchor_name})" if r.anchor_name else "")
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else "—"
        body.append([f"{r.scenario} {r.what}", fmt(r.lore, r.unit),
                     anchor if r.anchor is not None else (r.anchor_name or "—"),
                     ratio, r.bar, r.verdict])
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(b) for b in body]
    return "\n".join(out)


def machine() -> dict[str, Any]:
    """Cores, RAM, Python and OS of this machine."""
    try:
        import psutil

        ram = int(psutil.virtual_memory().total)
    except ImportError:  # pragma: no cover - psutil is in the dev extra
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cores": os.cpu_count(), "ram_bytes": ram, "python": sys.version.split()[0],
        "platform": platform.platform(), "processor": platform.machine(),
    }


def write_json(rows: list[Row], meta: dict[str, Any], path: Path = RESULTS) -> Path:
    """Write the rows with the date, machine and corpus to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **meta,
        "rows": [r.as_json() for r in rows],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path
