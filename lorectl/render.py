"""Human formatting shared by lorectl commands: relative times, sizes, tables, colour.

Conventions: "3 hours ago", "in 2 hours 15 minutes", "1.2 MB"; rich tables and colour
only on a TTY and never when ``NO_COLOR`` is set; plain aligned text otherwise (pipes,
logs, tests). rich is imported lazily so light commands start fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
_SIZE_UNITS = ("KB", "MB", "GB", "TB", "PB")


def parse_time(value: str | datetime | None) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string (``Z`` or offset) or datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def human_duration(seconds: float, precision: int = 2) -> str:
    """``"2 hours 15 minutes"``: the largest ``precision`` non-zero units."""
    total = int(abs(seconds))
    if total < 1:
        return "0 seconds"
    parts: list[str] = []
    for name, size in _UNITS:
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
        elif parts:
            break  # "2 hours 15 minutes", never "2 hours 0 minutes 3 seconds"
        if len(parts) == precision:
            break
    return " ".join(parts)


def human_time(
    when: str | datetime | None,
    now: datetime | None = None,
    *,
    never: str = "never",
) -> str:
    """Relative time: past "3 hours ago" (one unit), future "in 2 hours 15 minutes" (two).

    ``never`` is returned for a missing or unreadable time.
    """
    dt = parse_time(when)
    if dt is None:
        return never
    now = parse_time(now) if now is not None else datetime.now(UTC)
    assert now is not None
    delta = (dt - now).total_seconds()
    if abs(delta) < 1:
        return "just now"
    if delta < 0:
        return f"{human_duration(-delta, precision=1)} ago"
    return f"in {human_duration(delta, precision=2)}"


def human_size(n: int | float | None) -> str:
    """Decimal sizes: ``512 B``, ``1.2 MB``, ``8 MB`` (one decimal, ``.0`` dropped)."""
    if n is None:
        return "-"
    value = float(n)
    if abs(value) < 1000:
        return f"{int(value)} B"
    for unit in _SIZE_UNITS:
        value /= 1000.0
        if abs(value) < 999.95 or unit == _SIZE_UNITS[-1]:
            text = f"{value:.1f}"
            return f"{text[:-2] if text.endswith('.0') else text} {unit}"
    raise AssertionError("unreachable")


def local_time(when: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A timestamp in the machine's local time zone for tables, ``-`` when unknown."""
    dt = parse_time(when)
    return dt.astimezone().strftime(fmt) if dt else "-"


def short_time(when: str | datetime | None, now: datetime | None = None) -> str:
    """Local time as ``ls -l`` shows it: ``Jun 14 09:12`` this year, ``2024-06-14`` before."""
    dt = parse_time(when)
    if dt is None:
        return "-"
    local = dt.astimezone()
    this_year = (now or datetime.now(UTC)).astimezone().year
    return local.strftime("%b %d %H:%M" if local.year == this_year else "%Y-%m-%d")


def truncate(text: str | None, width: int) -> str:
    """One line of at most ``width`` characters (newlines folded, ``…`` when cut)."""
    line = " ".join((text or "").split())
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"


def is_tty(stream: IO[str] | None = None) -> bool:
    """True when ``stream`` (default stdout) is a terminal."""
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def use_color(stream: IO[str] | None = None) -> bool:
    """Colour only on a TTY and only when ``NO_COLOR`` is unset or empty."""
    return is_tty(stream) and not os.environ.get("NO_COLOR")


def console(stream: IO[str] | None = None) -> Any:
    """A rich Console for ``stream`` honouring NO_COLOR and TTY detection."""
    from rich.console import Console

    stream = stream or sys.stdout
    color = use_color(stream)
    return Console(file=stream, no_color=not color, color_system="auto" if color else None,
                   highlight=False, width=getattr(stream, "columns", None))


def screen_width(stream: IO[str] | None = None) -> int:
    """Columns to fit: the terminal's (or a pager buffer's) width, 80 when piped."""
    import shutil

    stream = stream or sys.stdout
    columns = getattr(stream, "columns", None)
    if isinstance(columns, int):
        return columns
    if is_tty(stream):
        return max(20, shutil.get_terminal_size((80, 24)).columns)
    return 80


def fit_rows(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int, flex: Sequence[int],
    *, gap: int = 2,
) -> list[list[str]]:
    """Cells cut (``…``) so that every row, gaps included, fits in ``width`` columns.

    Only the ``flex`` columns shrink, the last listed first; each keeps at least its
    header's width (and 6 characters).
    """
    cells = [[truncate("" if c is None else str(c), 10_000) for c in r] for r in rows]
    widths = [max([len(col), *(len(r[i]) for r in cells)]) for i, col in enumerate(columns)]
    over = sum(widths) + gap * (len(columns) - 1) - width
    for i in reversed(flex):
        if over <= 0:
            break
        floor = max(len(columns[i]), 6)
        cut = min(over, max(0, widths[i] - floor))
        widths[i] -= cut
        over -= cut
    return [[truncate(c, widths[i]) for i, c in enumerate(r)] for r in cells]


def table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    stream: IO[str] | None = None,
    flex: Sequence[int] | None = None,
) -> None:
    """Print a table: rich on a TTY, plain space-aligned columns otherwise.

    With ``flex`` (indexes of columns that may be cut) each row is one line that fits
    the screen (80 columns when piped): see :func:`fit_rows`.
    """
    stream = stream or sys.stdout
    if flex is not None:
        rows = fit_rows(columns, rows, screen_width(stream), flex)
    if is_tty(stream):
        from rich import box
        from rich.table import Table
        from rich.text import Text

        # every cell is data (snippets, titles, paths): Text is never parsed as rich
        # markup, so "[pagination]" or "[bold]" in a session stays exactly as written
        fitted = flex is not None
        t = Table(title=Text(title) if title else None, show_edge=False,
                  header_style="bold" if use_color(stream) else "",
                  box=None if fitted else box.HEAVY_HEAD, pad_edge=not fitted,
                  padding=(0, 1))
        for col in columns:
            t.add_column(Text(col), overflow="ellipsis" if fitted else "fold",
                         no_wrap=fitted)
        for row in rows:
            t.add_row(*(Text("" if c is None else str(c)) for c in row))
        console(stream).print(t)
        return
    stream.write(plain_table(columns, rows, title=title))


def plain_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None
) -> str:
    """The text of a table without rich: a header line and left-aligned columns."""
    cells = [[str(c) for c in columns]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [title] if title else []
    for r in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


def key_values(pairs: Sequence[tuple[str, Any]], indent: int = 0) -> str:
    """``Key: value`` lines (as in `lorectl status`); a None value prints as ``-``."""
    pad = " " * indent
    return "".join(f"{pad}{k}: {'-' if v is None else v}\n" for k, v in pairs)
