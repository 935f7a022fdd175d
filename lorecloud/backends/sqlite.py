"""SQLite backend: one file ``D/lore.db`` (WAL, ``synchronous=FULL``) through aiosqlite.

Writes go through one connection, serialised by an asyncio lock in this process and by
``BEGIN IMMEDIATE`` across processes (e.g. ``lore-server user add`` while serving): the
database write lock is taken before the transaction reads anything, so the per-account
seq counter is allocated under that lock, in the same transaction as the write it
numbers. Reads use a second connection; WAL lets them run beside a writer and every
read transaction sees one consistent snapshot.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from lorecloud.backends import _blobrows as blobrows
from lorecloud.backends import _sqlite_push as chunkside
from lorecloud.backends._sqlite_batch import commit_push_batch
from lorecloud.backends._sqlite_push import commit_push_many, next_seq, session_row
from lorecloud.backends.base import (
    AccountRow,
    BackendUnavailable,
    ChunkRef,
    DuplicateAccount,
    InlineChunk,
    MachineRow,
    Planner,
    PushItem,
    PushOutcome,
    SessionRow,
    TokenRow,
    Usage,
)
from lorecloud.backends.dashboard_schema import SQLITE_MIGRATION  # dashboard (issue 7)
from lorecloud.backends.share_schema import SQLITE_MIGRATION as SHARES_SQLITE_MIGRATION
from lorecloud.blobs.base import BlobStore
from lorecloud.blobs.db import DbBlobStore
from lorecloud.limits import LocalLimits, SharedLimits

MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE accounts (
            account_id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL, plan TEXT NOT NULL, created_at TEXT NOT NULL,
            seq INTEGER NOT NULL DEFAULT 0,
            envelope TEXT, envelope_version INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE machines (
            account_id TEXT NOT NULL REFERENCES accounts ON DELETE CASCADE,
            machine_id TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL,
            last_sync TEXT, PRIMARY KEY (account_id, machine_id))""",
        """CREATE TABLE tokens (
            token_hash TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts ON DELETE CASCADE,
            machine_id TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)""",
        "CREATE INDEX tokens_machine ON tokens (account_id, machine_id)",
        """CREATE TABLE sessions (
            account_id TEXT NOT NULL REFERENCES accounts ON DELETE CASCADE,
            session_id TEXT NOT NULL, origin_machine_id TEXT NOT NULL,
            seq INTEGER NOT NULL, generation INTEGER NOT NULL,
            chunk_count INTEGER NOT NULL, chunk_sizes TEXT NOT NULL,
            stored_bytes INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
            meta TEXT NOT NULL, info BLOB, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (account_id, session_id))""",
        "CREATE UNIQUE INDEX sessions_seq ON sessions (account_id, seq)",
        """CREATE TABLE chunks (
            account_id TEXT NOT NULL, session_id TEXT NOT NULL,
            generation INTEGER NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL,
            PRIMARY KEY (account_id, session_id, generation, idx),
            FOREIGN KEY (account_id, session_id) REFERENCES sessions ON DELETE CASCADE)""",
    ],
    SQLITE_MIGRATION,  # dashboard (issue 7): web_sessions + list indexes
    [  # account reset (issue 10): when and from which machine the cloud data was erased
        "ALTER TABLE accounts ADD COLUMN reset_at TEXT",
        "ALTER TABLE accounts ADD COLUMN reset_by TEXT",
    ],
    [  # a covering index: the quota check of every pushed session reads usage from it
        "CREATE INDEX sessions_usage ON sessions (account_id, deleted, stored_bytes)",
    ],
    SHARES_SQLITE_MIGRATION,  # share links (issue 18): ciphertext, expiry, views
    [  # blob stores (issue 21): a chunk row names its object instead of holding the bytes
        "ALTER TABLE chunks ADD COLUMN blob_key TEXT",
        "CREATE INDEX chunks_blob ON chunks (account_id, blob_key) WHERE blob_key IS NOT NULL",
    ],
]

_SESSION_COLS = (
    "s.session_id, s.origin_machine_id, COALESCE(m.name, ''), s.seq, s.generation, "
    "s.chunk_count, s.chunk_sizes, s.stored_bytes, s.deleted, s.meta, s.info, s.updated_at"
)
_SESSION_FROM = (
    "FROM sessions s LEFT JOIN machines m "
    "ON m.account_id = s.account_id AND m.machine_id = s.origin_machine_id"
)


_session_row = session_row  # the same columns as _sqlite_push.SESSION_SQL


def _private_files(data_dir: Path, path: Path) -> None:
    """``data_dir`` 0700 and ``lore.db`` 0600 whatever the umask (SQLite gives its
    -wal and -shm files the database file's mode). The database holds password and
    token hashes: no other user of the machine may read it."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)  # also a dir made by hand (0755) is tightened
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)


class SqliteBackend:
    """:class:`~lorecloud.backends.base.Backend` on one SQLite file."""

    dialect = "sqlite"  # dashboard (issue 7): picks the SQL of lorecloud/dashboard/queries.py

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection,
                 blobs: BlobStore | None = None):
        self.path = path
        self.blobs: BlobStore = blobs or DbBlobStore()
        #: one serving process: the limits live in its memory
        self.limits: SharedLimits = LocalLimits()
        self._w = writer
        self._r = reader
        self._wlock = asyncio.Lock()
        self._rlock = asyncio.Lock()

    @classmethod
    async def open(cls, data_dir: Path, blobs: BlobStore | None = None) -> SqliteBackend:
        """Open (creating) ``data_dir/lore.db``; BackendUnavailable with a clear reason."""
        path = data_dir / "lore.db"
        try:
            _private_files(data_dir, path)
            writer = await aiosqlite.connect(path, isolation_level=None)
            reader = await aiosqlite.connect(path, isolation_level=None)
            for conn in (writer, reader):
                # FULL: an acknowledged push is on disk before the 200 (WAL alone is NORMAL)
                await conn.execute("PRAGMA busy_timeout = 15000")
                await conn.execute("PRAGMA journal_mode = WAL")
                await conn.execute("PRAGMA synchronous = FULL")
                await conn.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.Error) as exc:
            raise BackendUnavailable(f"cannot open {path}: {exc}") from None
        return cls(path, writer, reader, blobs)

    async def close(self) -> None:
        """Close both connections and the blob store."""
        await self._w.close()
        await self._r.close()
        await self.blobs.close()

    async def ping(self) -> None:
        """One trivial query."""
        try:
            await self._r.execute("SELECT 1")
        except sqlite3.Error as exc:
            raise BackendUnavailable(str(exc)) from None

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._wlock:
            await self._w.execute("BEGIN IMMEDIATE")
            try:
                yield self._w
            except BaseException:
                await self._w.execute("ROLLBACK")
                raise
            await self._w.execute("COMMIT")

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._rlock:
            await self._r.execute("BEGIN")
            try:
                yield self._r
            finally:
                await self._r.execute("COMMIT")

    async def _one(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        async with self._rlock:
            async with self._r.execute(sql, args) as cur:
                return await cur.fetchone()

    async def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        async with self._rlock:
            async with self._r.execute(sql, args) as cur:
                return list(await cur.fetchall())

    async def migrate(self) -> int:
        """Apply the missing entries of MIGRATIONS in one write transaction."""
        async with self._write() as db:
            await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
            async with db.execute("SELECT MAX(version) FROM schema_version") as cur:
                row = await cur.fetchone()
            current = (row[0] if row else None) or 0
            for version, statements in enumerate(MIGRATIONS, start=1):
                if version <= current:
                    continue
                for sql in statements:
                    await db.execute(sql)
                await db.execute("INSERT INTO schema_version VALUES (?)", (version,))
                current = version
        return current

    # --- accounts ------------------------------------------------------------------
    async def create_account(self, row: AccountRow) -> None:
        """Insert an account row."""
        try:
            async with self._write() as db:
                await db.execute(
                    "INSERT INTO accounts (account_id, email, password_hash, plan, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (row.account_id, row.email, row.password_hash, row.plan, row.created_at),
                )
        except sqlite3.IntegrityError:
            raise DuplicateAccount(row.email) from None

    async def account_by_email(self, email: str) -> AccountRow | None:
        """Look an account up by email."""
        r = await self._one(
            "SELECT account_id, email, password_hash, plan, created_at FROM accounts "
            "WHERE email = ?", (email,))
        return AccountRow(*r) if r else None

    async def account_by_id(self, account_id: str) -> AccountRow | None:
        """Look an account up by id."""
        r = await self._one(
            "SELECT account_id, email, password_hash, plan, created_at FROM accounts "
            "WHERE account_id = ?", (account_id,))
        return AccountRow(*r) if r else None

    async def list_accounts(self) -> list[tuple[AccountRow, Usage]]:
        """Accounts with usage, by email."""
        rows = await self._all(
            "SELECT a.account_id, a.email, a.password_hash, a.plan, a.created_at, "
            "COUNT(s.session_id), COALESCE(SUM(s.stored_bytes), 0) FROM accounts a "
            "LEFT JOIN sessions s ON s.account_id = a.account_id AND s.deleted = 0 "
            "GROUP BY a.account_id ORDER BY a.email")
        return [(AccountRow(*r[:5]), Usage(r[5], r[6])) for r in rows]

    async def delete_account(self, account_id: str) -> bool:
        """Delete the account; chunks, sessions, tokens and machines cascade."""
        async with self._write() as db:
            async with db.execute("DELETE FROM chunks WHERE account_id = ? RETURNING blob_key",
                                  (account_id,)) as c:
                keys = [r[0] for r in await c.fetchall() if r[0]]
            cur = await db.execute("DELETE FROM accounts WHERE account_id = ?", (account_id,))
            existed = cur.rowcount > 0
        await self._sweep_quietly(account_id, keys)
        return existed

    async def set_password(self, account_id: str, password_hash: str) -> None:
        """Store a new password hash."""
        async with self._write() as db:
            await db.execute("UPDATE accounts SET password_hash = ? WHERE account_id = ?",
                             (password_hash, account_id))

    # --- machines and tokens ----------------------------------------------------------
    async def add_token(
        self, token_hash: str, account_id: str, machine_id: str, machine_name: str, now: str
    ) -> None:
        """Upsert the machine, insert the token hash."""
        async with self._write() as db:
            await db.execute(
                "INSERT INTO machines (account_id, machine_id, name, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (account_id, machine_id) "
                "DO UPDATE SET name = excluded.name",
                (account_id, machine_id, machine_name, now))
            await db.execute(
                "INSERT INTO tokens (token_hash, account_id, machine_id, created_at) "
                "VALUES (?, ?, ?, ?)", (token_hash, account_id, machine_id, now))

    async def token(self, token_hash: str) -> TokenRow | None:
        """The token's account, machine and revocation state."""
        r = await self._one(
            "SELECT t.account_id, t.machine_id, COALESCE(m.name, ''), t.revoked_at "
            "FROM tokens t LEFT JOIN machines m "
            "ON m.account_id = t.account_id AND m.machine_id = t.machine_id "
            "WHERE t.token_hash = ?", (token_hash,))
        return TokenRow(r[0], r[1], r[2], r[3] is not None) if r else None

    async def revoke_token(self, token_hash: str, now: str) -> bool:
        """Mark one token revoked."""
        async with self._write() as db:
            cur = await db.execute(
                "UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
                (now, token_hash))
            return cur.rowcount > 0

    async def revoke_machine(self, account_id: str, machine_id: str, now: str) -> int:
        """Mark every live token of the machine revoked."""
        async with self._write() as db:
            cur = await db.execute(
                "UPDATE tokens SET revoked_at = ? WHERE account_id = ? AND machine_id = ? "
                "AND revoked_at IS NULL", (now, account_id, machine_id))
            return cur.rowcount

    async def touch_machine(self, account_id: str, machine_id: str, now: str) -> None:
        """Set the machine's last_sync."""
        async with self._write() as db:
            await db.execute(
                "UPDATE machines SET last_sync = ? WHERE account_id = ? AND machine_id = ?",
                (now, account_id, machine_id))

    async def machines(self, account_id: str) -> list[MachineRow]:
        """Machines with live-session counts and whether a live token exists."""
        rows = await self._all(
            "SELECT m.machine_id, m.name, m.last_sync, "
            "(SELECT COUNT(*) FROM sessions s WHERE s.account_id = m.account_id "
            " AND s.origin_machine_id = m.machine_id AND s.deleted = 0), "
            "EXISTS (SELECT 1 FROM tokens t WHERE t.account_id = m.account_id "
            " AND t.machine_id = m.machine_id AND t.revoked_at IS NULL) "
            "FROM machines m WHERE m.account_id = ? ORDER BY m.name, m.machine_id",
            (account_id,))
        return [MachineRow(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    async def rename_machine(self, account_id: str, machine_id: str, name: str) -> bool:
        """Set the machine's name (sessions and the feed show it through the join)."""
        async with self._write() as db:
            cur = await db.execute(
                "UPDATE machines SET name = ? WHERE account_id = ? AND machine_id = ?",
                (name, account_id, machine_id))
            return cur.rowcount > 0

    # --- envelope -----------------------------------------------------------------------
    async def get_envelope(self, account_id: str) -> tuple[str | None, int]:
        """Envelope text and version."""
        r = await self._one(
            "SELECT envelope, envelope_version FROM accounts WHERE account_id = ?",
            (account_id,))
        return (r[0], r[1]) if r else (None, 0)

    async def put_envelope(
        self, account_id: str, envelope_json: str, expected_version: int
    ) -> tuple[bool, str | None, int]:
        """Compare-and-set on envelope_version (expected 0 also creates after a reset)."""
        async with self._write() as db:
            cur = await db.execute(
                "UPDATE accounts SET envelope = ?, envelope_version = envelope_version + 1 "
                "WHERE account_id = ? AND (envelope_version = ? "
                "OR (? = 0 AND envelope IS NULL))",
                (envelope_json, account_id, expected_version, expected_version))
            written = cur.rowcount > 0
            async with db.execute(
                "SELECT envelope, envelope_version FROM accounts WHERE account_id = ?",
                (account_id,)) as c:
                r = await c.fetchone()
        return (written, r[0], r[1]) if r else (False, None, 0)

    # --- sessions -------------------------------------------------------------------------
    async def session(self, account_id: str, session_id: str) -> SessionRow | None:
        """One session row."""
        r = await self._one(
            f"SELECT {_SESSION_COLS} {_SESSION_FROM} "
            "WHERE s.account_id = ? AND s.session_id = ?", (account_id, session_id))
        return _session_row(r) if r else None

    async def commit_push(
        self, account_id: str, session_id: str, planner: Planner, now: str
    ) -> PushOutcome:
        """BEGIN IMMEDIATE, plan, write chunks, bump the account counter, COMMIT."""
        return (await self.commit_push_many(account_id, [(session_id, planner)], now))[0]

    async def stage_chunks(self, account_id: str, chunks: list[bytes]) -> blobrows.Staged:
        """Write the chunks' objects before the push transaction (nothing when inline)."""
        return await blobrows.stage(self.blobs, account_id, chunks)

    async def commit_push_many(
        self, account_id: str, items: list[PushItem], now: str,
        staged: blobrows.Staged | None = None,
    ) -> list[PushOutcome]:
        """One BEGIN IMMEDIATE … COMMIT for the whole request, a SAVEPOINT per session."""
        dropped: list[str] = []
        async with self._write() as db:
            fast = await commit_push_batch(db, account_id, items, now, self.blobs, staged,
                                           dropped)
            if fast is not None:
                outcomes, failed = fast, None
            else:
                outcomes, failed = await commit_push_many(db, account_id, items, now,
                                                          self.blobs, staged, dropped)
        await self._sweep_quietly(account_id, dropped)
        if failed is not None:
            raise failed
        return outcomes

    async def count_changes(self, account_id: str, since: int, exclude_machine: str) -> int:
        """Feed rows after ``since`` for ``exclude_machine`` (a pull's progress total)."""
        r = await self._one(
            "SELECT COUNT(*) FROM sessions s WHERE s.account_id = ? AND s.seq > ? "
            "AND (s.origin_machine_id != ? OR s.deleted = 1)",
            (account_id, since, exclude_machine))
        return int(r[0]) if r else 0

    async def changes(
        self, account_id: str, since: int, limit: int, exclude_machine: str
    ) -> tuple[list[SessionRow], int, bool]:
        """One read transaction: the page, then the highest seq in the same snapshot."""
        async with self._read() as db:
            async with db.execute(
                f"SELECT {_SESSION_COLS} {_SESSION_FROM} WHERE s.account_id = ? AND s.seq > ? "
                "AND (s.origin_machine_id != ? OR s.deleted = 1) ORDER BY s.seq LIMIT ?",
                (account_id, since, exclude_machine, limit + 1)) as cur:
                rows = [_session_row(r) for r in await cur.fetchall()]
            if len(rows) > limit:
                return rows[:limit], rows[limit - 1].seq, True
            async with db.execute(
                "SELECT MAX(seq) FROM sessions WHERE account_id = ?", (account_id,)) as cur:
                top = await cur.fetchone()
        return rows, max(since, (top[0] if top else None) or 0), False

    async def fetch_chunks(self, account_id: str, refs: list[ChunkRef]) -> list[bytes | None]:
        """Whole sealed chunks (from the rows or their objects); None where absent."""
        return await blobrows.load(self.blobs, await self.chunk_sources(account_id, refs))

    async def chunk_sources(
        self, account_id: str, refs: list[ChunkRef]
    ) -> list[blobrows.ChunkSource | None]:
        """Inline bytes or object keys, in one read transaction; None where absent."""
        async with self._read() as db:
            return await chunkside.chunk_sources(db, account_id, refs)

    async def sweep_blobs(self, account_id: str, keys: list[str]) -> int:
        """Delete unreferenced objects among ``keys`` under the database write lock."""
        wanted = sorted({k for k in keys if k})
        if self.blobs.inline or not wanted:
            return 0
        async with self._write() as db:
            live = await chunkside.referenced(db, account_id, wanted)
            gone = [k for k in wanted if k not in live]
            await self.blobs.delete(gone)
        return len(gone)

    async def _sweep_quietly(self, account_id: str, keys: list[str]) -> None:
        await blobrows.sweep_quietly(self.sweep_blobs, self.blobs, account_id, keys)

    async def inline_chunks(
        self, after: tuple[str, str, int, int] | None, limit: int
    ) -> list[InlineChunk]:
        """Chunks still in the database, in key order (migrate-blobs)."""
        async with self._read() as db:
            return await chunkside.inline_chunks(db, after, limit)

    async def move_to_blob(self, chunk: InlineChunk, key: str) -> bool:
        """Point the row at its object when it still holds those bytes."""
        async with self._write() as db:
            cur = await db.execute(
                "UPDATE chunks SET data = X'', blob_key = ? WHERE account_id = ? "
                "AND session_id = ? AND generation = ? AND idx = ? AND blob_key IS NULL "
                "AND data = ?", (key, *chunk.ref, chunk.data))
            return cur.rowcount > 0

    async def tombstone(self, account_id: str, session_id: str, now: str) -> int | None:
        """Erase chunks and info; new seq from the account counter."""
        async with self._write() as db:
            async with db.execute(
                "SELECT seq, deleted FROM sessions WHERE account_id = ? AND session_id = ?",
                (account_id, session_id)) as cur:
                r = await cur.fetchone()
            if r is None:
                return None
            if r[1]:
                return int(r[0])
            seq = await next_seq(db, account_id)
            async with db.execute(
                "DELETE FROM chunks WHERE account_id = ? AND session_id = ? RETURNING blob_key",
                (account_id, session_id)) as cur:
                keys = [r[0] for r in await cur.fetchall() if r[0]]
            await db.execute(
                "UPDATE sessions SET deleted = 1, info = NULL, chunk_count = 0, "
                "chunk_sizes = '[]', stored_bytes = 0, seq = ?, updated_at = ? "
                "WHERE account_id = ? AND session_id = ?", (seq, now, account_id, session_id))
        await self._sweep_quietly(account_id, keys)  # objects go only after the commit
        return seq

    async def reset_account(self, account_id: str, now: str, by: str) -> int:
        """Erase every session, chunk and the envelope; remember when and by whom."""
        async with self._write() as db:
            async with db.execute(
                "SELECT COUNT(*) FROM sessions WHERE account_id = ? AND deleted = 0",
                (account_id,)) as cur:
                r = await cur.fetchone()
            async with db.execute("DELETE FROM chunks WHERE account_id = ? RETURNING blob_key",
                                  (account_id,)) as cur:
                keys = [k[0] for k in await cur.fetchall() if k[0]]
            await db.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,))
            # the version keeps counting: a stale conditional update can never match again
            await db.execute(
                "UPDATE accounts SET envelope = NULL, envelope_version = envelope_version + 1, "
                "reset_at = ?, reset_by = ? WHERE account_id = ?", (now, by, account_id))
        await self._sweep_quietly(account_id, keys)
        return int(r[0]) if r else 0

    async def last_reset(self, account_id: str) -> tuple[str, str] | None:
        """(when, by which machine) of the account's last reset, if any."""
        r = await self._one("SELECT reset_at, reset_by FROM accounts WHERE account_id = ?",
                            (account_id,))
        return (r[0], r[1] or "") if r and r[0] else None

    async def usage(self, account_id: str) -> Usage:
        """Live sessions and their stored bytes."""
        r = await self._one(
            "SELECT COUNT(*), COALESCE(SUM(stored_bytes), 0) FROM sessions "
            "WHERE account_id = ? AND deleted = 0", (account_id,))
        return Usage(r[0], r[1])

    # --- dashboard (issue 7): generic statements for lorecloud/dashboard/queries.py ---
    async def fetch_all(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        """Rows of one read-only query, as dicts keyed by column name."""
        async with self._rlock:
            async with self._r.execute(sql, tuple(params)) as cur:
                names = [d[0] for d in cur.description]
                return [dict(zip(names, r, strict=True)) for r in await cur.fetchall()]

    async def execute(self, sql: str, params: list[Any]) -> int:
        """One write statement in its own transaction -> rows affected."""
        async with self._write() as db:
            cur = await db.execute(sql, tuple(params))
            return cur.rowcount
