"""Crash points for the fault-injection suites (tests/faults, tests/soak).

``LORE_FAULT=<point>[,<point>…]`` names the points at which this process dies with
``os._exit(137)`` — exactly what ``kill -9`` leaves behind: no ``finally``, no flush, no
rollback beyond what SQLite itself guarantees. ``<point>@<n>`` fires on the n-th hit
instead of the first. With ``LORE_FAULT_ONCE_FILE=<path>`` a point fires only while that
file does not exist (it is created just before dying), so a restarted process carries on.

The environment is read once, at import; without ``LORE_FAULT`` a call is one
attribute lookup and a falsy test. Points in the client:

- ``after-commit-before-local-state`` (push): the server answered ``ok`` for a batch,
  nothing of it is recorded locally yet;
- ``between-local-records`` (push): the first session of a batch is recorded, the rest
  are not;
- ``mid-chunk-download`` (pull): one fetch request's chunks arrived, the rest did not;
- ``mid-local-transaction`` (store): inside the pull page's transaction, before COMMIT;
- ``capture-mid-transaction`` (store): inside a capture's transaction, before COMMIT.

The server (``lorecloud/faults.py``, same protocol) has ``after-upload-before-commit``
and ``after-commit-before-response``.

``LORE_WEDGE=<point>`` is the other failure a supervisor must handle: at that point the
process stops answering (the thread, and with it the event loop, blocks for good) but
stays alive, as a deadlocked daemon does. ``LORE_WEDGE_ONCE_FILE`` works like
``LORE_FAULT_ONCE_FILE``. Points: ``ipc-status`` (the daemon, on a status request) --
tests/service uses it to show systemd's ``WatchdogSec`` kills and restarts a wedged lored.
"""

from __future__ import annotations

import os
import time

from loreproto.faults import EXIT_CODE, fault_point

__all__ = ["EXIT_CODE", "fault_point", "wedge_point"]

_WEDGE = {p.strip() for p in os.environ.get("LORE_WEDGE", "").split(",") if p.strip()}
_WEDGE_ONCE = os.environ.get("LORE_WEDGE_ONCE_FILE") or None


def wedge_point(name: str) -> None:
    """Block this thread forever here when the tests named this point (a no-op otherwise)."""
    if not _WEDGE or name not in _WEDGE:
        return
    if _WEDGE_ONCE is not None:
        try:
            os.close(os.open(_WEDGE_ONCE, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return
    while True:  # alive but deaf: only a supervisor's watchdog gets it out of here
        time.sleep(3600)
