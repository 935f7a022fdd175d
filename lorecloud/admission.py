"""Bounded request bodies: in-flight bytes per process and per account, and slow bodies.

Memory of lore-server is dominated by request bodies held while they arrive (a push is
kept whole until its end marker, so nothing half-sent commits). Without a bound, 60
slow 16 MiB uploads took the process to 1.5 GB. Every body byte a handler keeps is
therefore *leased* from a :class:`BodyBudget` as it arrives:

- past the process budget the request gets 503 ``unavailable`` with ``Retry-After``
  (the server is busy; any client may come back shortly);
- past one account's budget it gets 429 ``rate_limited`` with ``Retry-After`` (that
  account has too much in flight; others are not starved by it);
- unauthenticated bodies (login, register) are capped at ``MAX_ANON_BODY`` bytes and
  leased under the peer address;
- a body that stalls for ``idle_timeout`` seconds, or is not complete after
  ``body_timeout`` seconds, is answered 408 and its bytes given back (slowloris).

On PostgreSQL the per-account budget is one budget for every process of the deployment
(issue 21): a request leases its account's bytes from the shared store
(:mod:`lorecloud.limits`) in grants of ``account_bytes / 16``, so a 16 MiB upload costs
about a dozen small transactions, and a crashed process's leases lapse after the
longest a body may take. The process budget stays per process: it bounds this
process's memory.

Bookkeeping apart from :func:`read_chunks`, which owns the socket reads.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from lorecloud.errors import ServiceError
from lorecloud.limits import SharedLimits
from loreproto import wire

#: the largest login/register body (an email, a password, a machine id and name)
MAX_ANON_BODY: Final = 16 * 1024
#: seconds a client is told to wait when the process or its account is at its budget
RETRY_BUSY: Final = 2
RETRY_ACCOUNT: Final = 5


@dataclass
class BodyBudget:
    """In-flight body bytes of the whole process and of each account (or peer)."""

    process_bytes: int
    account_bytes: int
    used: int = 0
    by_key: dict[str, int] = field(default_factory=dict)
    #: the deployment-wide account budget (PostgreSQL), None: this process's own
    shared: SharedLimits | None = None
    #: seconds a shared lease outlives its last grant (a crashed process's bytes lapse)
    lease_ttl: float = 600.0

    def take(self, key: str, n: int) -> None:
        """Lease ``n`` more bytes for ``key``; ServiceError 503/429 when over budget."""
        mine = self.by_key.get(key, 0)
        if mine + n > self.account_bytes:
            raise over_account()
        self.take_process(n)
        self.by_key[key] = mine + n

    def take_process(self, n: int) -> None:
        """Lease ``n`` bytes of the process budget only (503 past it)."""
        if self.used + n > self.process_bytes:
            raise ServiceError(
                wire.E_UNAVAILABLE, "the server is busy receiving other uploads", 503,
                hint="try again in a moment", retry_after=RETRY_BUSY)
        self.used += n

    def give_back(self, key: str, n: int) -> None:
        """Return ``n`` leased bytes of ``key``."""
        left = self.by_key.get(key, 0) - n
        if left > 0:
            self.by_key[key] = left
        else:
            self.by_key.pop(key, None)
        self.used = max(0, self.used - n)


def over_account() -> ServiceError:
    """429 for an account with too many bytes in flight."""
    return ServiceError(
        wire.E_RATE_LIMITED, "too much of this account's data is in flight", 429,
        hint="send fewer requests at once", retry_after=RETRY_ACCOUNT)


class Lease:
    """The bytes one request holds; :meth:`release` (in a ``finally``) gives them back."""

    def __init__(self, budget: BodyBudget, key: str) -> None:
        self.budget, self.key, self.held = budget, key, 0
        # accounts share one budget across processes; unauthenticated peers stay local
        self.shared = budget.shared if key.startswith("account:") else None
        self.holder = uuid.uuid4().hex
        self.granted = 0

    async def take(self, n: int) -> None:
        """Lease ``n`` more bytes (503/429 when over budget)."""
        if self.shared is None:
            self.budget.take(self.key, n)
            self.held += n
            return
        want, limit = self.held + n, self.budget.account_bytes
        if want > limit:
            raise over_account()
        if want > self.granted:
            step = max(64 * 1024, limit // 16)
            grant = max(want, min(limit, self.granted + step))
            ok = await self.shared.lease(self.key, self.holder, grant, limit,
                                         self.budget.lease_ttl)
            if not ok and grant > want:  # a smaller grant may still fit
                grant = want
                ok = await self.shared.lease(self.key, self.holder, grant, limit,
                                             self.budget.lease_ttl)
            if not ok:
                raise over_account()
            self.granted = grant
        self.budget.take_process(n)
        self.held = want

    async def release(self) -> None:
        """Give every held byte back (idempotent)."""
        if self.shared is None:
            self.budget.give_back(self.key, self.held)
        else:
            self.budget.used = max(0, self.budget.used - self.held)
            if self.granted:
                await self.shared.release(self.key, self.holder)
            self.granted = 0
        self.held = 0


def too_slow(seconds: float) -> ServiceError:
    """408 for a body that stalled or took too long."""
    return ServiceError(
        wire.E_BAD_REQUEST, f"the request body did not arrive within {seconds:g} s", 408,
        hint="check the network and try again")


async def read_chunks(
    request: web.Request, lease: Lease, *, idle_timeout: float, body_timeout: float,
) -> AsyncIterator[bytes]:
    """The body's bytes as they arrive, each leased first; 408 when too slow."""
    deadline = time.monotonic() + body_timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise too_slow(body_timeout)
        try:
            data = await asyncio.wait_for(request.content.readany(), min(idle_timeout, left))
        except TimeoutError:
            raise too_slow(idle_timeout if left > idle_timeout else body_timeout) from None
        if not data:
            return
        await lease.take(len(data))
        yield data


async def read_body(
    request: web.Request, lease: Lease, limit: int, *, idle_timeout: float,
    body_timeout: float,
) -> bytes:
    """A whole (small) body of at most ``limit`` bytes; 413 past it."""
    if request.content_length is not None and request.content_length > limit:
        raise body_too_large(limit)
    buf = bytearray()
    async for data in read_chunks(request, lease, idle_timeout=idle_timeout,
                                  body_timeout=body_timeout):
        buf += data
        if len(buf) > limit:
            raise body_too_large(limit)
    return bytes(buf)


def body_too_large(limit: int) -> ServiceError:
    """413 for a JSON body over ``limit`` bytes."""
    return ServiceError(wire.E_TOO_LARGE, f"the request body exceeds {limit} bytes", 413)
