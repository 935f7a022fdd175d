"""Rate limits every lore-server process of one deployment enforces together.

Two limits must hold for the deployment, not per process: the failed-login limit (N
processes behind a load balancer would otherwise allow N times the guesses) and one
account's in-flight request bytes (:mod:`lorecloud.admission`; otherwise one account
could hold N budgets). With PostgreSQL the backend offers :class:`SharedLimits` over
two UNLOGGED tables (``rate_events``, ``inflight``), each decision taken in one
transaction under a per-key advisory lock, with the database's clock. With SQLite (one
serving process) :class:`LocalLimits` keeps the same decisions in memory.

Keys are SHA-256 digests: the tables hold no email or client address.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from lorecloud.auth import LoginLimiter


def limit_key(*parts: str) -> str:
    """The stored form of a rate-limit key (a digest; no email or address in clear)."""
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


class SharedLimits(Protocol):
    """Limit decisions that hold across every process sharing the store."""

    #: True when other processes see the same decisions (PostgreSQL)
    shared: bool

    async def login_attempt(self, key: str, limit: int, window: float) -> int | None:
        """Record an attempt unless ``limit`` are within ``window`` s; -> None when
        recorded, else the seconds until the next one is allowed."""
        ...

    async def login_clear(self, key: str) -> None:
        """Forget the key's attempts (a successful login)."""
        ...

    async def lease(self, key: str, holder: str, total: int, limit: int, ttl: float) -> bool:
        """Set ``holder``'s lease on ``key`` to ``total`` bytes unless every holder's
        live leases together would exceed ``limit``; leases lapse after ``ttl`` s."""
        ...

    async def release(self, key: str, holder: str) -> None:
        """Drop ``holder``'s lease."""
        ...


class LocalLimits:
    """The in-memory limits of one process (SQLite deployments, in-process tests)."""

    shared = False

    def __init__(self) -> None:
        self._logins: dict[tuple[int, float], LoginLimiter] = {}
        self._leases: dict[str, dict[str, int]] = {}

    def _limiter(self, limit: int, window: float) -> LoginLimiter:
        return self._logins.setdefault((limit, window), LoginLimiter(limit, window))

    async def login_attempt(self, key: str, limit: int, window: float) -> int | None:
        """Check, then count the attempt (before the slow password check)."""
        limiter = self._limiter(limit, window)
        wait = limiter.retry_after(key, "")
        if wait is None:
            limiter.failed(key, "")
        return wait

    async def login_clear(self, key: str) -> None:
        """Clear the key in every limiter."""
        for limiter in self._logins.values():
            limiter.succeeded(key, "")

    async def lease(self, key: str, holder: str, total: int, limit: int, ttl: float) -> bool:
        """The same rule as the shared store, in memory."""
        holders = self._leases.setdefault(key, {})
        others = sum(v for h, v in holders.items() if h != holder)
        if others + total > limit:
            return False
        holders[holder] = total
        return True

    async def release(self, key: str, holder: str) -> None:
        """Drop the lease."""
        holders = self._leases.get(key, {})
        holders.pop(holder, None)
        if not holders:
            self._leases.pop(key, None)
