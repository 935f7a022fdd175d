"""Account passwords, bearer tokens and the failed-login rate limit.

Passwords are Argon2id hashes (argon2-cffi's ``PasswordHasher``), computed in a worker
thread so a login never stalls the event loop. Tokens are 256 random bits; only their
SHA-256 is stored, so a leaked database cannot be replayed as logins.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import time
from collections import deque
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


@dataclass(frozen=True)
class Principal:
    """Who is calling: an account and the machine its token was issued to."""

    account_id: str
    machine_id: str
    machine_name: str


def new_token() -> str:
    """A fresh bearer token (shown to the client once, never stored)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The stored form of a token: SHA-256 hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Passwords:
    """Argon2id hashing and verification off the event loop."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._ph = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=4)
        # verifying against this when the email is unknown keeps the timing the same,
        # so response times do not reveal which emails have accounts
        self._dummy = self._ph.hash(secrets.token_hex(16))

    async def hash(self, password: str) -> str:
        """Hash a new password."""
        return await asyncio.to_thread(self._ph.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (None: an unknown account, always False)."""

        def check() -> bool:
            try:
                return self._ph.verify(stored or self._dummy, password) and stored is not None
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)


class LoginLimiter:
    """At most ``limit`` failed logins per (email, client ip) within ``window`` seconds.

    In memory, per process: behind a load balancer each process limits on its own,
    which still bounds guessing to a small multiple of the limit.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._fails: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._fails.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._fails[key]
        return q

    def retry_after(self, email: str, ip: str) -> int | None:
        """Seconds until the next attempt is allowed, or None when it is allowed now."""
        now = time.monotonic()
        q = self._recent((email, ip), now)
        if len(q) < self.limit:
            return None
        return max(1, math.ceil(q[0] + self.window - now))

    def failed(self, email: str, ip: str) -> None:
        """Record one failed attempt."""
        now = time.monotonic()
        self._recent((email, ip), now)
        if len(self._fails) > 100_000:
            # bound memory under a spray of random emails: forget the oldest keys
            for key in list(self._fails)[:10_000]:
                del self._fails[key]
        self._fails.setdefault((email, ip), deque()).append(now)

    def succeeded(self, email: str, ip: str) -> None:
        """A successful login clears the failures of that key."""
        self._fails.pop((email, ip), None)
