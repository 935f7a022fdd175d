"""A large deferred-parse backlog, worked off by a short-lived child process.

After a machine's first pull every session waits to be parsed into messages and
indexed (:mod:`lored.capture.deferred`). Parsing 2,000 sessions in the daemon itself
would leave it holding a few hundred MB for good (CPython keeps freed memory in its
arenas), and the daemon must idle under 60 MB (PERFORMANCE.md P6). So the daemon hands
a backlog of ``CHILD_MIN_SESSIONS`` or more to ``python -m lored.capture.backlog DB``,
which opens ``sessions.db`` as a second connection, runs the same batches (each its own
transaction, so stopping it loses nothing), prints ``{"parsed": N, "indexed": M}`` and
exits, returning its memory to the system. Smaller backlogs are parsed in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path

from lored.capture._common import use_fast_json
from lored.errors import LoreError

#: sessions waiting to be parsed from which the daemon uses a child process
CHILD_MIN_SESSIONS = 32


class BacklogFailed(LoreError):
    """The child process ended without doing its work (the caller parses in-process)."""


async def catch_up_in_child(db_path: Path) -> tuple[int, int]:
    """Run the deferred work of ``db_path`` in a child process; (sessions parsed,
    messages indexed). Cancelling it stops the child (its finished batches stay)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lored.capture.backlog", str(db_path),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await asyncio.shield(proc.wait())
        raise
    if proc.returncode != 0:
        why = err.decode(errors="replace").strip().splitlines()
        raise BacklogFailed(f"the background parse stopped (exit {proc.returncode}): "
                            f"{why[-1] if why else 'no message'}")
    try:
        doc = json.loads(out)
        return int(doc["parsed"]), int(doc["indexed"])
    except (ValueError, KeyError, TypeError):
        raise BacklogFailed("the background parse gave no result") from None


async def _run(db_path: Path) -> tuple[int, int]:
    from lored.capture.deferred import catch_up
    from lored.store import Store

    store = await Store.open(db_path)
    try:
        return await catch_up(store)
    finally:
        await store.close()


def main(argv: list[str]) -> int:
    """``python -m lored.capture.backlog DB``: parse and index what DB has pending."""
    if len(argv) != 1:
        print("error: usage: python -m lored.capture.backlog SESSIONS_DB", file=sys.stderr)
        return 2
    use_fast_json()  # a short-lived parsing process: its RSS is given back on exit
    try:
        parsed, indexed = asyncio.run(_run(Path(argv[0])))
    except LoreError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - one line for the daemon's log, no traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"parsed": parsed, "indexed": indexed}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
