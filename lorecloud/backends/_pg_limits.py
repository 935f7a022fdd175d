"""Rate limits shared through PostgreSQL (see :mod:`lorecloud.limits`).

Each decision is one transaction holding a transaction-scoped advisory lock on its key,
so concurrent processes decide one after another; times are the database's clock, so
processes on machines with skewed clocks still agree. The tables are UNLOGGED: after a
database crash they start empty, which only forgets recent failed logins and leases.
"""

from __future__ import annotations

import math
from typing import Any

MIGRATION = [
    "CREATE UNLOGGED TABLE rate_events (key TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX rate_events_key ON rate_events (key, at)",
    """CREATE UNLOGGED TABLE inflight (
        key TEXT NOT NULL, holder TEXT NOT NULL, bytes BIGINT NOT NULL,
        expires DOUBLE PRECISION NOT NULL, PRIMARY KEY (key, holder))""",
]

_NOW = "SELECT extract(epoch FROM clock_timestamp())::float8"
#: every this many decisions, expired rows of every key are removed as well
_CLEANUP_EVERY = 200


class PgLimits:
    """:class:`~lorecloud.limits.SharedLimits` over the backend's pool."""

    shared = True

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._calls = 0

    def _cleanup_due(self) -> bool:
        self._calls += 1
        return self._calls % _CLEANUP_EVERY == 0

    async def login_attempt(self, key: str, limit: int, window: float) -> int | None:
        """Count and decide under the key's lock."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 1))", key)
            now = float(await conn.fetchval(_NOW))
            if self._cleanup_due():
                await conn.execute("DELETE FROM rate_events WHERE at <= $1", now - window)
            else:
                await conn.execute("DELETE FROM rate_events WHERE key = $1 AND at <= $2",
                                   key, now - window)
            n, first = await conn.fetchrow(
                "SELECT COUNT(*), MIN(at) FROM rate_events WHERE key = $1", key)
            if n >= limit:
                return max(1, math.ceil(float(first) + window - now))
            await conn.execute("INSERT INTO rate_events (key, at) VALUES ($1, $2)", key, now)
        return None

    async def login_clear(self, key: str) -> None:
        """Forget the key's attempts."""
        await self._pool.execute("DELETE FROM rate_events WHERE key = $1", key)

    async def lease(self, key: str, holder: str, total: int, limit: int, ttl: float) -> bool:
        """Set the holder's bytes when the live sum of the others leaves room."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 2))", key)
            now = float(await conn.fetchval(_NOW))
            if self._cleanup_due():
                await conn.execute("DELETE FROM inflight WHERE expires <= $1", now)
            others = await conn.fetchval(
                "SELECT COALESCE(SUM(bytes), 0) FROM inflight WHERE key = $1 "
                "AND holder <> $2 AND expires > $3", key, holder, now)
            if int(others) + total > limit:
                return False
            await conn.execute(
                "INSERT INTO inflight (key, holder, bytes, expires) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (key, holder) DO UPDATE SET bytes = EXCLUDED.bytes, "
                "expires = EXCLUDED.expires", key, holder, total, now + ttl)
        return True

    async def release(self, key: str, holder: str) -> None:
        """Drop the holder's lease."""
        await self._pool.execute("DELETE FROM inflight WHERE key = $1 AND holder = $2",
                                 key, holder)
