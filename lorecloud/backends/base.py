"""The storage seam of Lore Cloud: one ``Backend`` Protocol, two implementations.

Backends store and fetch; they hold no product rules. The one place where rules and
storage meet is :meth:`Backend.commit_push_many` (and its one-session form
:meth:`Backend.commit_push`): the backend opens one write transaction, takes the
account's change-feed lock, and for each session, inside its own SAVEPOINT, hands a
:class:`PushTxn` view to the service's planner (pure rules, :mod:`lorecloud.rules`) and
applies the returned :class:`PushPlan` — allocating the next per-account ``seq`` in the
same transaction. That is what makes "seq order is commit order" true on both backends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lorecloud.backends._blobrows import ChunkSource as ChunkSource
from lorecloud.backends._blobrows import Staged as Staged
from lorecloud.blobs.base import BlobStore
from lorecloud.limits import SharedLimits

#: (session_id, generation, index)
ChunkRef = tuple[str, int, int]


def utcnow() -> str:
    """The current time as ISO 8601 UTC text (how every timestamp is stored)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class DuplicateAccount(Exception):
    """An account with this email already exists."""


class BackendUnavailable(Exception):
    """The database cannot be reached or opened (message is safe to print)."""


@dataclass(frozen=True)
class AccountRow:
    """One account as stored."""

    account_id: str
    email: str
    password_hash: str
    plan: str
    created_at: str


@dataclass(frozen=True)
class TokenRow:
    """A bearer token's record (looked up by the SHA-256 of the token)."""

    account_id: str
    machine_id: str
    machine_name: str
    revoked: bool


@dataclass(frozen=True)
class MachineRow:
    """A machine of an account, with its live-session count."""

    machine_id: str
    name: str
    last_sync: str | None
    sessions: int
    active: bool  # has at least one unrevoked token


@dataclass(frozen=True)
class SessionRow:
    """A session's stored state (without its chunks)."""

    session_id: str
    origin_machine_id: str
    origin_machine_name: str
    seq: int
    generation: int
    chunk_count: int
    chunk_sizes: list[int]
    stored_bytes: int
    deleted: bool
    meta: dict[str, Any]
    info: bytes | None
    updated_at: str


@dataclass(frozen=True)
class Usage:
    """Live (non-deleted) sessions of an account and the bytes they occupy."""

    sessions: int
    storage_bytes: int


@dataclass(frozen=True)
class SessionWrite:
    """The new state of a session the planner decided to commit.

    ``new_chunks`` are inserted for ``generation``; every stored chunk of another
    generation, or of this one at an index >= ``chunk_count``, is deleted afterwards.
    """

    origin_machine_id: str
    generation: int
    chunk_count: int
    chunk_sizes: list[int]
    stored_bytes: int
    meta: dict[str, Any]
    info: bytes
    new_chunks: list[tuple[int, bytes]] = field(default_factory=list)


@dataclass(frozen=True)
class PushPlan:
    """What the planner decided: a status, and a write when the status is ``ok``.

    ``write=None`` with status ``ok`` is an idempotent retry (nothing changes).
    """

    status: str
    message: str = ""
    write: SessionWrite | None = None


@dataclass(frozen=True)
class PushOutcome:
    """What a push of one session did; the fields of a PushResult."""

    status: str
    message: str
    seq: int | None
    generation: int | None
    chunk_count: int | None


class PushTxn(Protocol):
    """What the planner may read inside the push transaction (under the account lock)."""

    async def session(self) -> SessionRow | None:
        """The session's current row, or None if it was never pushed."""
        ...

    async def chunks(self, generation: int, start: int, stop: int) -> list[bytes]:
        """Stored chunk bytes of ``generation`` for indexes ``start .. stop-1``."""
        ...

    async def usage(self) -> Usage:
        """The account's current usage (for quota checks)."""
        ...


Planner = Callable[[PushTxn], Awaitable[PushPlan]]

#: (session_id, planner) — one session of a push request
PushItem = tuple[str, Planner]


@dataclass(frozen=True)
class InlineChunk:
    """A chunk whose bytes are still in the database (``lore-server migrate-blobs``)."""

    account_id: str
    session_id: str
    generation: int
    index: int
    data: bytes

    @property
    def ref(self) -> tuple[str, str, int, int]:
        """The chunk row's primary key (also the resume point of a migration)."""
        return (self.account_id, self.session_id, self.generation, self.index)


class Backend(Protocol):
    """Persistent state of Lore Cloud. Every method is one transaction.

    ``blobs`` is where sealed chunks live (:mod:`lorecloud.blobs`): inline in the
    ``chunks`` table, or objects in a bucket that the rows name by key.
    """

    blobs: BlobStore
    #: failed-login and in-flight limits (shared by every process on PostgreSQL)
    limits: SharedLimits

    async def migrate(self) -> int:
        """Apply pending schema migrations; -> the schema version now in place."""
        ...

    async def ping(self) -> None:
        """Raise :class:`BackendUnavailable` when the database does not answer."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...

    # --- accounts ---------------------------------------------------------------
    async def create_account(self, row: AccountRow) -> None:
        """Insert an account; raises :class:`DuplicateAccount` when the email is taken."""
        ...

    async def account_by_email(self, email: str) -> AccountRow | None:
        """The account with this (normalised) email."""
        ...

    async def account_by_id(self, account_id: str) -> AccountRow | None:
        """The account with this id."""
        ...

    async def list_accounts(self) -> list[tuple[AccountRow, Usage]]:
        """Every account with its usage, by email."""
        ...

    async def delete_account(self, account_id: str) -> bool:
        """Delete an account and everything it owns; -> whether it existed."""
        ...

    async def set_password(self, account_id: str, password_hash: str) -> None:
        """Replace the account's password hash."""
        ...

    # --- machines and tokens ------------------------------------------------------------
    async def add_token(
        self, token_hash: str, account_id: str, machine_id: str, machine_name: str, now: str
    ) -> None:
        """Register (or rename) the machine and store a new token hash for it."""
        ...

    async def token(self, token_hash: str) -> TokenRow | None:
        """The token's record, revoked ones included."""
        ...

    async def revoke_token(self, token_hash: str, now: str) -> bool:
        """Revoke one token; -> whether it existed and was live."""
        ...

    async def revoke_machine(self, account_id: str, machine_id: str, now: str) -> int:
        """Revoke every token of a machine; -> how many were live."""
        ...

    async def touch_machine(self, account_id: str, machine_id: str, now: str) -> None:
        """Record that the machine synced at ``now``."""
        ...

    async def machines(self, account_id: str) -> list[MachineRow]:
        """The account's machines with live-session counts, by name."""
        ...

    async def rename_machine(self, account_id: str, machine_id: str, name: str) -> bool:
        """Give a machine of the account a new name; -> whether it exists."""
        ...

    # --- envelope -------------------------------------------------------------------------
    async def get_envelope(self, account_id: str) -> tuple[str | None, int]:
        """The stored envelope JSON text and its version (``(None, 0)`` before setup)."""
        ...

    async def put_envelope(
        self, account_id: str, envelope_json: str, expected_version: int
    ) -> tuple[bool, str | None, int]:
        """Conditional write; -> (written, current envelope JSON, current version)."""
        ...

    # --- sessions ---------------------------------------------------------------------
    async def session(self, account_id: str, session_id: str) -> SessionRow | None:
        """One session's row (tombstones included)."""
        ...

    async def commit_push(
        self, account_id: str, session_id: str, planner: Planner, now: str
    ) -> PushOutcome:
        """Run ``planner`` under the account's write lock and apply its plan atomically."""
        ...

    async def stage_chunks(self, account_id: str, chunks: list[bytes]) -> Staged:
        """Write the objects of a push's chunks before its transaction (no-op inline)."""
        ...

    async def commit_push_many(
        self, account_id: str, items: list[PushItem], now: str, staged: Staged | None = None
    ) -> list[PushOutcome]:
        """``commit_push`` for each item, in order, in ONE write transaction.

        ``staged`` are the objects :meth:`stage_chunks` wrote for this request; objects
        it found already present are re-checked under the lock. Objects of chunks the
        commit dropped (older generations) are swept after it.

        The account's write lock is taken once; each session is planned and applied
        inside its own SAVEPOINT (a later planner sees the earlier sessions' writes,
        e.g. for quota). When planning or writing a session raises, only that session's
        savepoint is rolled back, the sessions before it are committed, the rest are not
        attempted and the exception is re-raised. Cancellation rolls back everything.
        The caller bounds ``items`` (at most ``wire.MAX_BATCH_SESSIONS``).
        """
        ...

    async def count_changes(self, account_id: str, since: int, exclude_machine: str) -> int:
        """How many rows :meth:`changes` would return after ``since`` (no page limit)."""
        ...

    async def changes(
        self, account_id: str, since: int, limit: int, exclude_machine: str
    ) -> tuple[list[SessionRow], int, bool]:
        """Rows with ``seq > since`` not originating on ``exclude_machine``, by seq.

        -> (rows, cursor, more). ``cursor`` is the seq of the last row returned when
        more follow, else the highest seq of the account seen in the same snapshot
        (so the caller also moves past its own sessions without skipping others').
        """
        ...

    async def fetch_chunks(self, account_id: str, refs: list[ChunkRef]) -> list[bytes | None]:
        """Sealed chunk bytes for each ref of this account (None where absent)."""
        ...

    async def chunk_sources(
        self, account_id: str, refs: list[ChunkRef]
    ) -> list[ChunkSource | None]:
        """Where each ref's bytes are (inline data or an object key; None where absent)."""
        ...

    async def sweep_blobs(self, account_id: str, keys: list[str]) -> int:
        """Under the account's lock, delete the objects among ``keys`` that no chunk row
        references; -> how many were deleted."""
        ...

    async def inline_chunks(
        self, after: tuple[str, str, int, int] | None, limit: int
    ) -> list[InlineChunk]:
        """Up to ``limit`` chunks still stored inline, in key order after ``after``."""
        ...

    async def move_to_blob(self, chunk: InlineChunk, key: str) -> bool:
        """Point an inline chunk's row at its (already written) object; -> whether the
        row was still there, unchanged, to move."""
        ...

    async def tombstone(self, account_id: str, session_id: str, now: str) -> int | None:
        """Erase a session's chunks and info, mark it deleted, bump its seq.

        -> the seq (unchanged when already deleted), or None when there is no such
        session in this account.
        """
        ...

    async def usage(self, account_id: str) -> Usage:
        """Live sessions and stored bytes of the account."""
        ...

    async def reset_account(self, account_id: str, now: str, by: str) -> int:
        """Delete every session (tombstones too) and chunk, clear the envelope (its version
        still increments) and record ``reset_at``/``reset_by``; -> live sessions erased."""
        ...

    async def last_reset(self, account_id: str) -> tuple[str, str] | None:
        """``(reset_at, reset_by machine name)`` of the last reset, or None."""
        ...


def redact_url(url: str) -> str:
    """A database URL fit for messages and logs (the password replaced by ***)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password:
            host = parts.hostname or ""
            if parts.port:
                host = f"{host}:{parts.port}"
            netloc = f"{parts.username or ''}:***@{host}"
            return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unparseable database URL>"
    return url
