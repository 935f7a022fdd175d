"""Reading a tool's SQLite database without ever writing or locking it (I/O).

The tools keep their database open and write while Lore reads. The connection is
read-only (``mode=ro``, never ``immutable=1``: that flag skips the ``-wal`` file, where
recent rows live until a checkpoint). In WAL mode one read transaction spans the whole
render, so a pass sees the database at one moment (a message never without the parts
written with it) and still blocks no writer; in rollback-journal mode (Cursor's usual)
each query stays its own short read, so the tool's writer waits as little as possible.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect_ro(db_path: Path) -> sqlite3.Connection:
    """A read-only connection that still sees rows in the WAL."""
    return sqlite3.connect(f"{db_path.absolute().as_uri()}?mode=ro", uri=True, timeout=5)


def begin_snapshot(db: sqlite3.Connection) -> bool:
    """Start one read transaction when the database is in WAL mode; True if started.

    The snapshot is taken by the first query after it and ends when ``db`` closes.
    """
    row = db.execute("PRAGMA journal_mode").fetchone()
    if row is None or str(row[0]).lower() != "wal":
        return False
    db.execute("BEGIN DEFERRED")
    return True
