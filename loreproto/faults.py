"""Crash points for the fault-injection suites, shared by client and server processes.

``LORE_FAULT=<point>[,<point>…]`` names the points at which this process dies with
``os._exit(137)`` — exactly what ``kill -9`` leaves behind: no ``finally``, no flush, no
rollback beyond what the database itself guarantees. ``<point>@<n>`` fires on the n-th
hit instead of the first. With ``LORE_FAULT_ONCE_FILE=<path>`` a point fires only while
that file does not exist (it is created just before dying), so a restarted process
carries on. The environment is read once, at import; without ``LORE_FAULT`` a call is
one attribute lookup and a falsy test. The points themselves are listed in
``lored/faults.py`` (client) and ``lorecloud/faults.py`` (server).
"""

from __future__ import annotations

import os

EXIT_CODE = 137  # what a shell reports for a process killed by SIGKILL


def _parse(raw: str) -> dict[str, int]:
    points: dict[str, int] = {}
    for item in raw.split(","):
        name, _, nth = item.strip().partition("@")
        if name:
            points[name] = int(nth) if nth.isdigit() and int(nth) > 0 else 1
    return points


_POINTS = _parse(os.environ.get("LORE_FAULT", ""))
_ONCE = os.environ.get("LORE_FAULT_ONCE_FILE") or None
_hits: dict[str, int] = {}


def fault_point(name: str) -> None:
    """Die like ``kill -9`` here when the tests named this point (a no-op otherwise)."""
    if not _POINTS or name not in _POINTS:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] != _POINTS[name]:
        return
    if _ONCE is not None:
        try:
            os.close(os.open(_ONCE, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return
    os._exit(EXIT_CODE)
