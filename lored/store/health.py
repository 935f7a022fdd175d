"""Is sessions.db readable? Corruption detection, a quick integrity check, moving it aside.

SQLite reports a damaged file as ``sqlite3.DatabaseError`` ("file is not a database",
"database disk image is malformed"); its subclass ``OperationalError`` is something
else (locked, read-only, disk full) and is not corruption. The check and the move are
synchronous and stdlib-only, so ``lorectl doctor`` can run them when the store itself
cannot be opened.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

#: what SQLite says of a damaged file (lower case, substrings)
_CORRUPT = ("not a database", "malformed", "corrupt", "file is encrypted")


def is_corruption(exc: BaseException) -> bool:
    """True when ``exc`` is SQLite saying the file itself is damaged."""
    if not isinstance(exc, sqlite3.DatabaseError) or isinstance(exc, sqlite3.OperationalError):
        return isinstance(exc, sqlite3.OperationalError) and any(
            m in str(exc).lower() for m in _CORRUPT)
    return True


def check_file(path: Path) -> str | None:
    """None when ``path`` is a readable SQLite database passing ``quick_check``, else why.

    Read-only and never creates the file; ``quick_check`` walks every page (seconds on a
    large archive), which is what a doctor should do and a normal command should not.
    """
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = conn.execute("PRAGMA quick_check(5)").fetchall()
        problems = [line for r in rows if r and r[0] != "ok"
                    for line in str(r[0]).splitlines() if line and not line.startswith("***")]
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if not problems:
            return None
        more = f" and {len(problems) - 1} more problem(s)" if len(problems) > 1 else ""
        return f"{problems[0]}{more}"
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()


def move_aside(path: Path) -> Path:
    """Rename ``path`` (and its -wal/-shm) to ``<name>.broken-<time>``; the new name.

    Nothing is deleted: the damaged file stays for a later look or a manual rescue.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.broken-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            src.rename(Path(f"{target}{suffix}"))
    return target
