"""PostgreSQL backend through an asyncpg pool (several lore-server processes may share it).

Every write that numbers the change feed first locks the account's row
(``SELECT … FOR UPDATE``) and allocates ``accounts.seq + 1`` in the same transaction;
the lock is held until commit, so the next writer of that account gets a higher seq
only after this one is visible: seq order is commit order, across processes. The
change feed reads in a REPEATABLE READ snapshot, so its page and its "highest seq"
cursor come from the same instant.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from lorecloud.backends import _blobrows as blobrows
from lorecloud.backends import _pg_push as chunkside
from lorecloud.backends._pg_limits import MIGRATION as LIMITS_MIGRATION
from lorecloud.backends._pg_limits import PgLimits
from lorecloud.backends._pg_push import SESSION_SELECT as _SESSION_SELECT
from lorecloud.backends._pg_push import session_row as _session_row
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
from lorecloud.backends.dashboard_schema import POSTGRES_MIGRATION  # dashboard (issue 7)
from lorecloud.backends.share_schema import POSTGRES_MIGRATION as SHARES_POSTGRES_MIGRATION
from lorecloud.blobs.base import BlobStore
from lorecloud.blobs.db import DbBlobStore
from lorecloud.limits import SharedLimits

_LOCK_ID = 0x4C4F5245  # "LORE": serialises concurrent migrations of several processes

MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE accounts (
            account_id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL, plan TEXT NOT NULL, created_at TEXT NOT NULL,
            seq BIGINT NOT NULL DEFAULT 0,
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
            seq BIGINT NOT NULL, generation INTEGER NOT NULL,
            chunk_count INTEGER NOT NULL, chunk_sizes TEXT NOT NULL,
            stored_bytes BIGINT NOT NULL, deleted BOOLEAN NOT NULL DEFAULT FALSE,
            meta TEXT NOT NULL, info BYTEA, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (account_id, session_id))""",
        "CREATE UNIQUE INDEX sessions_seq ON sessions (account_id, seq)",
        """CREATE TABLE chunks (
            account_id TEXT NOT NULL, session_id TEXT NOT NULL,
            generation INTEGER NOT NULL, idx INTEGER NOT NULL, data BYTEA NOT NULL,
            PRIMARY KEY (account_id, session_id, generation, idx),
            FOREIGN KEY (account_id, session_id) REFERENCES sessions ON DELETE CASCADE)""",
        # chunks are sealed (random-looking) bytes: compressing them only costs CPU
        "ALTER TABLE chunks ALTER COLUMN data SET STORAGE EXTERNAL",
    ],
    POSTGRES_MIGRATION,  # dashboard (issue 7): web_sessions + list indexes
    [  # account reset (issue 10): when and from which machine the cloud data was erased
        "ALTER TABLE accounts ADD COLUMN reset_at TEXT",
        "ALTER TABLE accounts ADD COLUMN reset_by TEXT",
    ],
    [  # a covering index: the quota check of every pushed session reads usage from it
        "CREATE INDEX sessions_usage ON sessions (account_id, deleted, stored_bytes)",
    ],
    SHARES_POSTGRES_MIGRATION,  # share links (issue 18): ciphertext, expiry, views
    [  # blob stores (issue 21): a chunk row names its object instead of holding the bytes
        "ALTER TABLE chunks ADD COLUMN blob_key TEXT",
        "CREATE INDEX chunks_blob ON chunks (account_id, blob_key) WHERE blob_key IS NOT NULL",
    ],
    LIMITS_MIGRATION,  # issue 21: login and in-flight limits shared by every process
]

class PostgresBackend:
    """:class:`~lorecloud.backends.base.Backend` on PostgreSQL."""

    dialect = "postgres"  # dashboard (issue 7): picks the SQL of lorecloud/dashboard/queries.py

    def __init__(self, pool: Any, blobs: BlobStore | None = None) -> None:
        self._pool = pool
        self.blobs: BlobStore = blobs or DbBlobStore()
        #: rate limits every process on this database enforces together (issue 21)
        self.limits: SharedLimits = PgLimits(pool)

    @classmethod
    async def open(cls, dsn: str, *, max_size: int = 10,
                   blobs: BlobStore | None = None) -> PostgresBackend:
        """Connect a pool; BackendUnavailable with a one-line reason (no password)."""
        from lorecloud.backends.base import redact_url

        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, timeout=10)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError,
                ValueError) as exc:
            reason = str(exc).replace(dsn, redact_url(dsn)) or type(exc).__name__
            raise BackendUnavailable(
                f"cannot connect to {redact_url(dsn)}: {reason}") from None
        return cls(pool, blobs)

    async def close(self) -> None:
        """Close the pool and the blob store."""
        await self._pool.close()
        await self.blobs.close()

    async def ping(self) -> None:
        """One trivial query."""
        try:
            await self._pool.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise BackendUnavailable(str(exc)) from None

    async def migrate(self) -> int:
        """Apply missing migrations under an advisory lock (safe with several processes)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
            current = await conn.fetchval("SELECT MAX(version) FROM schema_version") or 0
            for version, statements in enumerate(MIGRATIONS, start=1):
                if version <= current:
                    continue
                for sql in statements:
                    await conn.execute(sql)
                await conn.execute("INSERT INTO schema_version VALUES ($1)", version)
                current = version
        return int(current)

    # --- accounts ------------------------------------------------------------------
    async def create_account(self, row: AccountRow) -> None:
        """Insert an account."""
        try:
            await self._pool.execute(
                "INSERT INTO accounts (account_id, email, password_hash, plan, created_at) "
                "VALUES ($1, $2, $3, $4, $5)",
                row.account_id, row.email, row.password_hash, row.plan, row.created_at)
        except asyncpg.UniqueViolationError:
            raise DuplicateAccount(row.email) from None

    async def account_by_email(self, email: str) -> AccountRow | None:
        """Look an account up by email."""
        r = await self._pool.fetchrow(
            "SELECT account_id, email, password_hash, plan, created_at FROM accounts "
            "WHERE email = $1", email)
        return AccountRow(*r) if r else None

    async def account_by_id(self, account_id: str) -> AccountRow | None:
        """Look an account up by id."""
        r = await self._pool.fetchrow(
            "SELECT account_id, email, password_hash, plan, created_at FROM accounts "
            "WHERE account_id = $1", account_id)
        return AccountRow(*r) if r else None

    async def list_accounts(self) -> list[tuple[AccountRow, Usage]]:
        """Accounts with usage, by email."""
        rows = await self._pool.fetch(
            "SELECT a.account_id, a.email, a.password_hash, a.plan, a.created_at, "
            "COUNT(s.session_id), COALESCE(SUM(s.stored_bytes), 0) FROM accounts a "
            "LEFT JOIN sessions s ON s.account_id = a.account_id AND NOT s.deleted "
            "GROUP BY a.account_id ORDER BY a.email")
        return [(AccountRow(*r[:5]), Usage(int(r[5]), int(r[6]))) for r in rows]

    async def delete_account(self, account_id: str) -> bool:
        """Delete the account; everything else cascades; then its objects go."""
        async with self._pool.acquire() as conn, conn.transaction():
            keys = [r[0] for r in await conn.fetch(
                "SELECT blob_key FROM chunks WHERE account_id = $1 AND blob_key IS NOT NULL",
                account_id)]
            status = await conn.execute("DELETE FROM accounts WHERE account_id = $1",
                                        account_id)
        await self._sweep_quietly(account_id, keys)
        return bool(status != "DELETE 0")

    async def set_password(self, account_id: str, password_hash: str) -> None:
        """Store a new password hash."""
        await self._pool.execute(
            "UPDATE accounts SET password_hash = $2 WHERE account_id = $1",
            account_id, password_hash)

    # --- machines and tokens --------------------------------------------------------------
    async def add_token(
        self, token_hash: str, account_id: str, machine_id: str, machine_name: str, now: str
    ) -> None:
        """Upsert the machine, insert the token hash."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO machines (account_id, machine_id, name, created_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, machine_id) "
                "DO UPDATE SET name = EXCLUDED.name",
                account_id, machine_id, machine_name, now)
            await conn.execute(
                "INSERT INTO tokens (token_hash, account_id, machine_id, created_at) "
                "VALUES ($1, $2, $3, $4)", token_hash, account_id, machine_id, now)

    async def token(self, token_hash: str) -> TokenRow | None:
        """The token's account, machine and revocation state."""
        r = await self._pool.fetchrow(
            "SELECT t.account_id, t.machine_id, COALESCE(m.name, ''), t.revoked_at "
            "FROM tokens t LEFT JOIN machines m "
            "ON m.account_id = t.account_id AND m.machine_id = t.machine_id "
            "WHERE t.token_hash = $1", token_hash)
        return TokenRow(r[0], r[1], r[2], r[3] is not None) if r else None

    async def revoke_token(self, token_hash: str, now: str) -> bool:
        """Mark one token revoked."""
        status = await self._pool.execute(
            "UPDATE tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
            token_hash, now)
        return bool(status != "UPDATE 0")

    async def revoke_machine(self, account_id: str, machine_id: str, now: str) -> int:
        """Mark every live token of the machine revoked."""
        status = await self._pool.execute(
            "UPDATE tokens SET revoked_at = $3 WHERE account_id = $1 AND machine_id = $2 "
            "AND revoked_at IS NULL", account_id, machine_id, now)
        return int(status.split()[-1])

    async def touch_machine(self, account_id: str, machine_id: str, now: str) -> None:
        """Set the machine's last_sync."""
        await self._pool.execute(
            "UPDATE machines SET last_sync = $3 WHERE account_id = $1 AND machine_id = $2",
            account_id, machine_id, now)

    async def machines(self, account_id: str) -> list[MachineRow]:
        """Machines with live-session counts and whether a live token exists."""
        rows = await self._pool.fetch(
            "SELECT m.machine_id, m.name, m.last_sync, "
            "(SELECT COUNT(*) FROM sessions s WHERE s.account_id = m.account_id "
            " AND s.origin_machine_id = m.machine_id AND NOT s.deleted), "
            "EXISTS (SELECT 1 FROM tokens t WHERE t.account_id = m.account_id "
            " AND t.machine_id = m.machine_id AND t.revoked_at IS NULL) "
            "FROM machines m WHERE m.account_id = $1 ORDER BY m.name, m.machine_id",
            account_id)
        return [MachineRow(r[0], r[1], r[2], int(r[3]), bool(r[4])) for r in rows]

    async def rename_machine(self, account_id: str, machine_id: str, name: str) -> bool:
        """Set the machine's name (sessions and the feed show it through the join)."""
        status = await self._pool.execute(
            "UPDATE machines SET name = $3 WHERE account_id = $1 AND machine_id = $2",
            account_id, machine_id, name)
        return bool(status != "UPDATE 0")

    # --- envelope ---------------------------------------------------------------------------
    async def get_envelope(self, account_id: str) -> tuple[str | None, int]:
        """Envelope text and version."""
        r = await self._pool.fetchrow(
            "SELECT envelope, envelope_version FROM accounts WHERE account_id = $1", account_id)
        return (r[0], r[1]) if r else (None, 0)

    async def put_envelope(
        self, account_id: str, envelope_json: str, expected_version: int
    ) -> tuple[bool, str | None, int]:
        """Compare-and-set on envelope_version (expected 0 also creates after a reset)."""
        async with self._pool.acquire() as conn, conn.transaction():
            version = await conn.fetchval(
                "UPDATE accounts SET envelope = $2, envelope_version = envelope_version + 1 "
                "WHERE account_id = $1 AND (envelope_version = $3 "
                "OR ($3 = 0 AND envelope IS NULL)) RETURNING envelope_version",
                account_id, envelope_json, expected_version)
            if version is not None:
                return True, envelope_json, int(version)
            r = await conn.fetchrow(
                "SELECT envelope, envelope_version FROM accounts WHERE account_id = $1",
                account_id)
        return (False, r[0], r[1]) if r else (False, None, 0)

    # --- sessions ---------------------------------------------------------------------------
    async def session(self, account_id: str, session_id: str) -> SessionRow | None:
        """One session row."""
        r = await self._pool.fetchrow(
            _SESSION_SELECT + "WHERE s.account_id = $1 AND s.session_id = $2",
            account_id, session_id)
        return _session_row(r) if r else None

    async def commit_push(
        self, account_id: str, session_id: str, planner: Planner, now: str
    ) -> PushOutcome:
        """Lock the account row, plan, write chunks and row with seq + 1, commit."""
        return (await self.commit_push_many(account_id, [(session_id, planner)], now))[0]

    async def stage_chunks(self, account_id: str, chunks: list[bytes]) -> blobrows.Staged:
        """Write the chunks' objects before the push transaction (nothing when inline)."""
        return await blobrows.stage(self.blobs, account_id, chunks)

    async def commit_push_many(
        self, account_id: str, items: list[PushItem], now: str,
        staged: blobrows.Staged | None = None,
    ) -> list[PushOutcome]:
        """Lock the account row once; each session in a savepoint (a nested transaction)."""
        outcomes: list[PushOutcome] = []
        failed: Exception | None = None
        dropped: list[str] = []
        async with self._pool.acquire() as conn, conn.transaction():
            seq = await conn.fetchval(
                "SELECT seq FROM accounts WHERE account_id = $1 FOR UPDATE", account_id)
            if seq is None:
                raise LookupError(f"no account {account_id}")
            for session_id, planner in items:
                try:
                    async with conn.transaction():  # SAVEPOINT, rolled back on a raise
                        txn = chunkside.Txn(conn, account_id, session_id, self.blobs)
                        plan = await planner(txn)
                        outcomes.append(await chunkside.apply_plan(
                            conn, txn, plan, now, staged, dropped))
                except Exception as exc:
                    failed = exc
                    break
        await self._sweep_quietly(account_id, dropped)
        if failed is not None:
            raise failed
        return outcomes

    async def count_changes(self, account_id: str, since: int, exclude_machine: str) -> int:
        """Feed rows after ``since`` for ``exclude_machine`` (a pull's progress total)."""
        n = await self._pool.fetchval(
            "SELECT COUNT(*) FROM sessions s WHERE s.account_id = $1 AND s.seq > $2 "
            "AND (s.origin_machine_id <> $3 OR s.deleted)", account_id, since, exclude_machine)
        return int(n or 0)

    async def changes(
        self, account_id: str, since: int, limit: int, exclude_machine: str
    ) -> tuple[list[SessionRow], int, bool]:
        """One REPEATABLE READ snapshot: the page, then the account's highest seq."""
        async with self._pool.acquire() as conn, conn.transaction(
            isolation="repeatable_read", readonly=True
        ):
            rows = [_session_row(r) for r in await conn.fetch(
                _SESSION_SELECT + "WHERE s.account_id = $1 AND s.seq > $2 "
                "AND (s.origin_machine_id <> $3 OR s.deleted) ORDER BY s.seq LIMIT $4",
                account_id, since, exclude_machine, limit + 1)]
            if len(rows) > limit:
                return rows[:limit], rows[limit - 1].seq, True
            top = await conn.fetchval(
                "SELECT MAX(seq) FROM sessions WHERE account_id = $1", account_id)
        return rows, max(since, int(top or 0)), False

    async def fetch_chunks(self, account_id: str, refs: list[ChunkRef]) -> list[bytes | None]:
        """Whole sealed chunks (from the rows or their objects); None where absent."""
        return await blobrows.load(self.blobs, await self.chunk_sources(account_id, refs))

    async def chunk_sources(
        self, account_id: str, refs: list[ChunkRef]
    ) -> list[blobrows.ChunkSource | None]:
        """One query for all refs: inline bytes or object keys; None where absent."""
        return await chunkside.chunk_sources(self._pool, account_id, refs)

    async def sweep_blobs(self, account_id: str, keys: list[str]) -> int:
        """Delete the objects among ``keys`` no chunk row references (account row lock)."""
        return await chunkside.sweep(self._pool, self.blobs, account_id, keys)

    async def _sweep_quietly(self, account_id: str, keys: list[str]) -> None:
        await blobrows.sweep_quietly(self.sweep_blobs, self.blobs, account_id, keys)

    async def inline_chunks(
        self, after: tuple[str, str, int, int] | None, limit: int
    ) -> list[InlineChunk]:
        """Chunks still in the database, in key order (migrate-blobs)."""
        return await chunkside.inline_chunks(self._pool, after, limit)

    async def move_to_blob(self, chunk: InlineChunk, key: str) -> bool:
        """Point the row at its object when it still holds those bytes."""
        return await chunkside.move_to_blob(self._pool, chunk, key)

    async def tombstone(self, account_id: str, session_id: str, now: str) -> int | None:
        """Erase chunks and info; new seq from the locked account counter."""
        async with self._pool.acquire() as conn, conn.transaction():
            seq = await conn.fetchval(
                "SELECT seq FROM accounts WHERE account_id = $1 FOR UPDATE", account_id)
            r = await conn.fetchrow(
                "SELECT seq, deleted FROM sessions WHERE account_id = $1 AND session_id = $2",
                account_id, session_id)
            if seq is None or r is None:
                return None
            if r[1]:
                return int(r[0])
            seq += 1
            await conn.execute("UPDATE accounts SET seq = $2 WHERE account_id = $1",
                               account_id, seq)
            keys = [r[0] for r in await conn.fetch(
                "DELETE FROM chunks WHERE account_id = $1 AND session_id = $2 "
                "RETURNING blob_key", account_id, session_id) if r[0]]
            await conn.execute(
                "UPDATE sessions SET deleted = TRUE, info = NULL, chunk_count = 0, "
                "chunk_sizes = '[]', stored_bytes = 0, seq = $3, updated_at = $4 "
                "WHERE account_id = $1 AND session_id = $2", account_id, session_id, seq, now)
        await self._sweep_quietly(account_id, keys)  # objects go only after the commit
        return int(seq)

    async def reset_account(self, account_id: str, now: str, by: str) -> int:
        """Erase every session, chunk and the envelope; remember when and by whom."""
        async with self._pool.acquire() as conn, conn.transaction():
            # the account row lock orders the reset with pushes and tombstones
            await conn.execute("SELECT seq FROM accounts WHERE account_id = $1 FOR UPDATE",
                               account_id)
            live = await conn.fetchval(
                "SELECT COUNT(*) FROM sessions WHERE account_id = $1 AND NOT deleted",
                account_id)
            keys = [r[0] for r in await conn.fetch(
                "DELETE FROM chunks WHERE account_id = $1 RETURNING blob_key", account_id)
                if r[0]]
            await conn.execute("DELETE FROM sessions WHERE account_id = $1", account_id)
            # the version keeps counting: a stale conditional update can never match again
            await conn.execute(
                "UPDATE accounts SET envelope = NULL, envelope_version = envelope_version + 1, "
                "reset_at = $2, reset_by = $3 WHERE account_id = $1", account_id, now, by)
        await self._sweep_quietly(account_id, keys)
        return int(live or 0)

    async def last_reset(self, account_id: str) -> tuple[str, str] | None:
        """(when, by which machine) of the account's last reset, if any."""
        r = await self._pool.fetchrow(
            "SELECT reset_at, reset_by FROM accounts WHERE account_id = $1", account_id)
        return (r[0], r[1] or "") if r and r[0] else None

    async def usage(self, account_id: str) -> Usage:
        """Live sessions and their stored bytes."""
        r = await self._pool.fetchrow(
            "SELECT COUNT(*), COALESCE(SUM(stored_bytes), 0) FROM sessions "
            "WHERE account_id = $1 AND NOT deleted", account_id)
        return Usage(int(r[0]), int(r[1]))

    # --- dashboard (issue 7): generic statements for lorecloud/dashboard/queries.py ---
    async def fetch_all(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        """Rows of one read-only query, as dicts keyed by column name."""
        return [dict(r) for r in await self._pool.fetch(sql, *params)]

    async def execute(self, sql: str, params: list[Any]) -> int:
        """One write statement (autocommit) -> rows affected."""
        status = await self._pool.execute(sql, *params)
        last = str(status).rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0
