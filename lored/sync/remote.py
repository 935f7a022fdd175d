"""The ``Remote`` protocol: what the sync engine needs from Lore Cloud.

It mirrors the server's ``SyncService`` operations one to one, so the engine runs
unchanged against the real HTTP client (:class:`lored.sync.http.HttpRemote`) and against the
in-process server the tests use (``tests/sync/inprocess.py``). Every method raises a
:class:`~lored.errors.LoreError` subclass on failure; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lored.errors import LoreError
from loreproto.wire import PushHeader

#: (session_id, generation, index)
ChunkRef = tuple[str, int, int]


@dataclass(frozen=True)
class Credentials:
    """A login: the bearer token and whom it belongs to. The token never shows in reprs."""

    server_url: str
    token: str
    account_id: str
    email: str

    def __repr__(self) -> str:
        return (f"Credentials(server_url={self.server_url!r}, account_id={self.account_id!r}, "
                f"email={self.email!r}, token=<redacted>)")

    __str__ = __repr__


@dataclass(frozen=True)
class FetchedChunk:
    """One chunk of a fetch answer; ``data`` is None when the server no longer has it."""

    session_id: str
    generation: int
    index: int
    data: bytes | None


@dataclass(frozen=True)
class ChangesPage:
    """One page of the change feed: raw ``Change`` objects, the next cursor, more to come."""

    changes: list[dict[str, Any]]
    cursor: int
    more: bool
    #: feed entries after this page (the server's count; None from an older server)
    remaining: int | None = None


class EnvelopeConflict(LoreError):
    """The account's key envelope changed meanwhile (someone else set it up first)."""

    code = "conflict"

    def __init__(self, current: dict[str, Any] | None, version: int) -> None:
        super().__init__()
        self.current = current
        self.version = version


class Remote(Protocol):
    """Lore Cloud as the engine sees it. Authenticated calls need a prior login/token.

    Implementations convert every transport or server error into a LoreError
    (NotLoggedIn, AuthError, MachineRevoked, RateLimited, ServerUnreachable, ServerError).
    """

    async def register(self, email: str, password: str) -> dict[str, Any]:
        """Create an account (servers with open registration) -> ``{account_id, email}``."""
        ...

    async def login(
        self, email: str, password: str, machine_id: str, machine_name: str
    ) -> Credentials:
        """Log this machine in; later calls use the returned token."""
        ...

    async def logout(self) -> None:
        """Revoke the token this remote uses."""
        ...

    async def account(self) -> dict[str, Any]:
        """The AccountDoc (plan, limits, usage, machines, last sync)."""
        ...

    async def rename_machine(self, name: str) -> dict[str, Any]:
        """Rename this machine on the server -> ``{id, name}`` (the name it kept)."""
        ...

    async def get_envelope(self) -> tuple[dict[str, Any] | None, int]:
        """The account's key envelope and its version (``(None, 0)`` before setup)."""
        ...

    async def create_share(self, share_id: str, session_id: str, sealed: bytes,
                           expires_in: int) -> dict[str, Any]:
        """Store a client-sealed share -> ``{share_id, url, expires_at}``."""
        ...

    async def list_shares(self) -> list[dict[str, Any]]:
        """The account's share links."""
        ...

    async def revoke_share(self, share_id: str) -> None:
        """Revoke a share link."""
        ...

    async def put_envelope(self, envelope: dict[str, Any], expected_version: int) -> int:
        """Create (expected 0) or conditionally replace the envelope -> new version.

        Raises :class:`EnvelopeConflict` carrying the current envelope when it changed.
        """
        ...

    async def push(
        self, sessions: Sequence[tuple[PushHeader, list[bytes]]]
    ) -> list[dict[str, Any]]:
        """Upload many sessions (sealed info + chunks) -> one PushResult dict per session."""
        ...

    async def changes(self, since: int, limit: int) -> ChangesPage:
        """Other machines' changes with ``seq > since``, in seq order."""
        ...

    async def fetch_chunks(self, refs: Sequence[ChunkRef]) -> list[FetchedChunk]:
        """Sealed chunks, one answer per requested ref (missing ones with ``data=None``)."""
        ...

    async def delete_session(self, session_id: str) -> int:
        """Tombstone one of this machine's sessions -> its new seq."""
        ...

    async def reset_account(self, email: str) -> dict[str, Any]:
        """Erase every session and the envelope of the account (``email`` confirms)
        -> ``{erased, reset_at, reset_by}``."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
