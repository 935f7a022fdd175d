"""The store's SQLite connection: one ``sqlite3`` connection owned by one worker thread.

SQLite connections must not be used from two threads at once, and blocking calls must
stay off the event loop, so every statement runs on the connection's own thread. This
replaces aiosqlite, whose public API has no way to run a whole transaction as *one*
call on its thread — the store's capture write needs that (one hop per session instead
of one per statement), and reaching into aiosqlite's private queue had pinned it to one
minor version. The surface is the small part of aiosqlite's the store used:
``execute`` (awaitable, or an async context manager yielding a cursor),
``executemany``, ``close``, plus :meth:`Connection.run` for a function of the raw
connection. The worker is a one-thread executor: when the connection is closed, or
the process exits, the thread ends (an idle aiosqlite thread kept a process alive
after a failed open).
"""

from __future__ import annotations

import asyncio
import errno
import sqlite3
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from lored.errors import DiskFull

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]


class Cursor:
    """The result of one statement; rows are fetched on the connection's thread."""

    def __init__(self, conn: Connection, cursor: sqlite3.Cursor) -> None:
        self._conn = conn
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        """Rows changed by an INSERT/UPDATE/DELETE (-1 for other statements)."""
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        """The rowid of the last inserted row."""
        return self._cursor.lastrowid

    async def fetchone(self) -> Any:
        """The next row, or None."""
        return await self._conn._call(self._cursor.fetchone)

    async def fetchall(self) -> list[Any]:
        """Every remaining row."""
        return await self._conn._call(self._cursor.fetchall)

    async def close(self) -> None:
        """Release the statement."""
        await self._conn._call(self._cursor.close)

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _Pending:
    """``conn.execute(...)``: await it for a cursor, or ``async with`` it."""

    def __init__(self, conn: Connection, fn: Callable[[], sqlite3.Cursor]) -> None:
        self._conn = conn
        self._fn = fn
        self._cursor: Cursor | None = None

    async def _run(self) -> Cursor:
        if self._cursor is None:
            self._cursor = Cursor(self._conn, await self._conn._call(self._fn))
        return self._cursor

    def __await__(self) -> Generator[Any, None, Cursor]:
        return self._run().__await__()

    async def __aenter__(self) -> Cursor:
        return await self._run()

    async def __aexit__(self, *exc: object) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class Connection:
    """An asyncio face on one sqlite3 connection and the thread that owns it."""

    def __init__(self, raw: sqlite3.Connection, worker: ThreadPoolExecutor,
                 path: Path | str = "sessions.db") -> None:
        self._raw = raw
        self._worker = worker
        self._path = path

    @classmethod
    async def open(cls, path: Path | str, **kwargs: Any) -> Connection:
        """Connect on a fresh worker thread (``kwargs`` go to :func:`sqlite3.connect`)."""
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lore-store")
        loop = asyncio.get_running_loop()
        try:
            raw = await loop.run_in_executor(
                worker, lambda: sqlite3.connect(path, check_same_thread=False, **kwargs))
        except BaseException:
            worker.shutdown(wait=False)
            raise
        return cls(raw, worker, path)

    async def _call(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._worker, fn)
        except (sqlite3.Error, OSError) as exc:
            if _disk_full(exc):  # SQLite rolled the statement/transaction back
                raise DiskFull(f"cannot write {self._path}: the disk is full") from None
            raise

    def execute(self, sql: str, params: Params = ()) -> _Pending:
        """Run one statement; await the result for its cursor."""
        return _Pending(self, lambda: self._raw.execute(sql, params))

    def executemany(self, sql: str, rows: Iterable[Params]) -> _Pending:
        """Run one statement for every parameter row."""
        return _Pending(self, lambda: self._raw.executemany(sql, rows))

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(raw connection)`` on the connection's thread, as one hop.

        The caller is responsible for the transaction inside ``fn`` (and for holding
        whatever lock serialises writers).
        """
        return await self._call(lambda: fn(self._raw))

    async def close(self) -> None:
        """Close the connection, then let the worker thread end."""
        try:
            await self._call(self._raw.close)
        finally:
            self._worker.shutdown(wait=False)


def _disk_full(exc: BaseException) -> bool:
    """SQLITE_FULL (the disk, or a write SQLite could not extend the file for) or ENOSPC."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_FULL
