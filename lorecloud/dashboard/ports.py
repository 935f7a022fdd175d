"""What the dashboard needs from the server, as one narrow Protocol.

Handlers depend on :class:`DashboardData` only. The implementation
(:mod:`lorecloud.dashboard.adapter`) routes every rule that the API also has
(password checks and their rate limit, token revocation, tombstones, account
figures) through ``SyncService``, and only the read-only listing queries go to the
backend directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from lorecloud.dashboard.listing import Filters, Listing


class DashboardError(Exception):
    """A failure the dashboard shows as a page (message is safe to display)."""


class BadCredentials(DashboardError):
    """Wrong email or password."""


class RateLimited(DashboardError):
    """Too many failed sign-ins; ``retry_after`` seconds until the next try."""

    def __init__(self, retry_after: int | None = None) -> None:
        super().__init__("Too many failed sign-ins. Wait a minute and try again.")
        self.retry_after = retry_after


class NotFound(DashboardError):
    """The thing does not exist in this account (or belongs to another one)."""


class Rejected(DashboardError):
    """A form value the server refused (e.g. a too-short new password)."""


@dataclass(frozen=True)
class WebUser:
    """The signed-in account behind a dashboard cookie."""

    account_id: str
    email: str
    token_hash: str


class DashboardData(Protocol):
    """The dashboard's view of Lore Cloud (implemented over SyncService + a backend)."""

    async def sign_in(self, email: str, password: str, remote: str) -> str:
        """Check the account password with the API's rules and rate limit; -> account_id.

        Raises BadCredentials or RateLimited.
        """

    async def open_web_session(self, account_id: str, token_hash: str, ttl: int) -> None:
        """Remember a dashboard sign-in by the SHA-256 of its cookie token."""

    async def web_session(self, token_hash: str) -> WebUser | None:
        """The account behind an unexpired cookie token hash, or None."""

    async def close_web_session(self, token_hash: str) -> None:
        """Forget a dashboard sign-in (sign out)."""

    async def account(self, account_id: str) -> dict[str, Any]:
        """The same AccountDoc the API returns (email, plan, limits, usage, machines)."""

    async def machines(self, account_id: str) -> list[dict[str, Any]]:
        """Machines: id, name, last_sync, sessions, active (has a live token)."""

    async def revoke_machine(self, account_id: str, machine_id: str) -> None:
        """Sign a machine out: its tokens stop working (next call: machine_revoked)."""

    async def rename_machine(self, account_id: str, machine_id: str, name: str) -> str:
        """Rename a machine of the account -> the name kept (Rejected: unusable name,
        NotFound: no such machine)."""

    async def change_password(
        self, account_id: str, current: str, new: str, keep_hash: str
    ) -> None:
        """Change the account password (BadCredentials if ``current`` is wrong), then
        sign out every other browser of the account (``keep_hash`` stays signed in)."""

    async def tools(self, account_id: str) -> list[str]:
        """Distinct tools among the account's live sessions (for the filter)."""

    async def count_sessions(self, account_id: str, filters: Filters) -> int:
        """How many live sessions match ``filters``."""

    async def list_sessions(self, account_id: str, listing: Listing) -> list[dict[str, Any]]:
        """One page (``listing.limit`` + 1 rows, to know if there is more) in display order."""

    async def session(self, account_id: str, session_id: str) -> dict[str, Any]:
        """One live session's metadata; NotFound otherwise."""

    async def sealed_session(self, account_id: str, session_id: str) -> dict[str, Any]:
        """What the browser needs to open one live session itself: ``account_id``,
        ``envelope`` (dict or None), ``session_id``, ``origin_machine_id``,
        ``generation``, ``info`` (sealed bytes or None) and ``chunks`` (sealed bytes,
        in index order). NotFound for tombstones and other accounts' sessions."""

    async def storage_by_tool(self, account_id: str) -> list[dict[str, Any]]:
        """Per tool: sessions and stored bytes, largest first."""

    async def delete_session(self, account_id: str, session_id: str) -> None:
        """Tombstone one session (as ``DELETE /v1/sessions/{id}``); NotFound otherwise."""

    async def delete_all_sessions(self, account_id: str) -> int:
        """Tombstone every live session of the account; -> how many."""
