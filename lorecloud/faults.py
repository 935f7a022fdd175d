"""Crash points of Lore Cloud for the fault-injection suites (tests/faults).

``LORE_FAULT=<point>[,<point>…]`` names the points at which this process dies with
``os._exit(137)`` — exactly what ``kill -9`` leaves behind: no ``finally``, no flush, no
rollback beyond what SQLite itself guarantees. ``<point>@<n>`` fires on the n-th hit
instead of the first. With ``LORE_FAULT_ONCE_FILE=<path>`` a point fires only while that
file does not exist (it is created just before dying), so a restarted process carries on.

The environment is read once, at import (the mechanism lives in ``loreproto/faults.py``,
shared with the client). Points in the server:

- ``after-upload-before-commit`` (POST /v1/push): the whole body arrived and was
  decoded; nothing is committed;
- ``after-blob-write-before-commit`` (POST /v1/push, object blob store only): every
  chunk object of the request is written; the metadata transaction has not begun;
- ``migrate-blobs-after-batch`` (``lore-server migrate-blobs``): a batch of chunks was
  moved to the object store; the rest are still in the database;
- ``after-commit-before-response`` (POST /v1/push): every session of the request is
  committed; the answer was not sent.
"""

from loreproto.faults import EXIT_CODE, fault_point

__all__ = ["EXIT_CODE", "fault_point"]
