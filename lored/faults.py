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
"""

from loreproto.faults import EXIT_CODE, fault_point

__all__ = ["EXIT_CODE", "fault_point"]
