"""DashboardData over the server's SyncService and its backend.

Rules the API also has go through ``SyncService`` (password checks with the same
failed-login rate limit, machine revocation, tombstones, the AccountDoc figures);
the dashboard's own listing queries and sign-in table go through the backend's
generic ``fetch_all`` / ``execute`` with the SQL of :mod:`.queries`.
``ServiceError`` never escapes: it becomes one of the dashboard's page errors.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

from lorecloud.backends.base import utcnow
from lorecloud.dashboard import queries
from lorecloud.dashboard.listing import Filters, Listing
from lorecloud.dashboard.ports import (
    BadCredentials,
    NotFound,
    RateLimited,
    Rejected,
    WebUser,
)
from lorecloud.errors import ServiceError
from lorecloud.service import SyncService
from loreproto import wire

_META_FIELDS = ("tool", "project_path", "started_at", "ended_at", "message_count", "payload_bytes")


def _later(seconds: int) -> str:
    """``utcnow()`` plus ``seconds``, in the same text form (so strings compare by time)."""
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _meta_fields(meta: Any) -> dict[str, Any]:
    """The plaintext metadata fields of a stored ``meta`` (JSON text or dict)."""
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            meta = {}
    if not isinstance(meta, dict):
        meta = {}
    out = {key: meta.get(key) for key in _META_FIELDS}
    out["project_path"] = out["project_path"] or ""  # "" = privacy.metadata "minimal"
    for key in ("message_count", "payload_bytes"):
        if not isinstance(out[key], int):
            out[key] = 0
    return out


class ServiceDashboard:
    """The dashboard's data port, implemented on one SyncService."""

    def __init__(self, service: SyncService) -> None:
        self.service = service
        self.sql = cast(queries.SqlBackend, service.backend)
        self.dialect = self.sql.dialect

    # --- sign-in --------------------------------------------------------------------------
    async def sign_in(self, email: str, password: str, remote: str) -> str:
        """The API's password check, with its rate limit keyed on (email, client ip)."""
        try:
            account = await self.service.check_password(email, password, remote or "local")
        except ServiceError as exc:
            if exc.code == wire.E_RATE_LIMITED:
                raise RateLimited(exc.extra.get("retry_after")) from None
            raise BadCredentials(exc.message) from None
        return account.account_id

    async def open_web_session(self, account_id: str, token_hash: str, ttl: int) -> None:
        """Store the sign-in's token hash (and drop expired ones on the way)."""
        now = utcnow()
        await self.sql.execute(*queries.purge_web_sessions(self.dialect, now))
        await self.sql.execute(
            *queries.open_web_session(self.dialect, token_hash, account_id, now, _later(ttl))
        )

    async def web_session(self, token_hash: str) -> WebUser | None:
        """The account of an unexpired sign-in."""
        rows = await self.sql.fetch_all(*queries.web_session(self.dialect, token_hash, utcnow()))
        if not rows:
            return None
        return WebUser(rows[0]["account_id"], rows[0]["email"], token_hash)

    async def close_web_session(self, token_hash: str) -> None:
        """Forget a sign-in."""
        await self.sql.execute(*queries.close_web_session(self.dialect, token_hash))

    # --- account and machines -------------------------------------------------------------
    async def account(self, account_id: str) -> dict[str, Any]:
        """The API's AccountDoc (usage and limits computed by SyncService)."""
        return await self.service.account_doc(account_id)

    async def machines(self, account_id: str) -> list[dict[str, Any]]:
        """The AccountDoc's machines."""
        machines: list[dict[str, Any]] = (await self.account(account_id))["machines"]
        return machines

    async def revoke_machine(self, account_id: str, machine_id: str) -> None:
        """SyncService.revoke_machine: the machine's tokens answer machine_revoked."""
        await self.service.revoke_machine(account_id, machine_id)

    async def rename_machine(self, account_id: str, machine_id: str, name: str) -> str:
        """lorecloud.machines.rename (the same rules as ``PUT /v1/machine``)."""
        from lorecloud.machines import rename

        try:
            return (await rename(self.service, account_id, machine_id, name))["name"]
        except ServiceError as exc:
            if exc.status == 404:
                raise NotFound(machine_id) from None
            raise Rejected(exc.message) from None

    async def change_password(
        self, account_id: str, current: str, new: str, keep_hash: str
    ) -> None:
        """SyncService.change_password, then sign out the account's other browsers."""
        try:
            await self.service.change_password(account_id, current, new)
        except ServiceError as exc:
            if exc.code == wire.E_BAD_CREDENTIALS:
                raise BadCredentials(exc.message) from None
            raise Rejected(exc.message[:1].upper() + exc.message[1:] + ".") from None
        await self.sql.execute(
            *queries.close_other_web_sessions(self.dialect, account_id, keep_hash)
        )

    # --- sessions -------------------------------------------------------------------------
    async def tools(self, account_id: str) -> list[str]:
        """Tools of live sessions."""
        rows = await self.sql.fetch_all(*queries.tools(self.dialect, account_id))
        return [r["tool"] for r in rows if r["tool"]]

    async def count_sessions(self, account_id: str, filters: Filters) -> int:
        """Live sessions matching the filters."""
        rows = await self.sql.fetch_all(*queries.count_sessions(self.dialect, account_id, filters))
        return int(rows[0]["n"])

    async def list_sessions(self, account_id: str, listing: Listing) -> list[dict[str, Any]]:
        """One keyset page in display order."""
        rows = await self.sql.fetch_all(*queries.list_sessions(self.dialect, account_id, listing))
        out = []
        for r in rows:
            row = {k: v for k, v in r.items() if k != "meta"}
            row.update(_meta_fields(r["meta"]))
            out.append(row)
        if listing.before is not None:
            out.reverse()
        return out

    async def session(self, account_id: str, session_id: str) -> dict[str, Any]:
        """One live session's metadata (tombstones are NotFound)."""
        row = await self.service.backend.session(account_id, session_id)
        if row is None or row.deleted:
            raise NotFound(session_id)
        doc: dict[str, Any] = {
            "session_id": row.session_id,
            "origin_machine_id": row.origin_machine_id,
            "machine_name": row.origin_machine_name or row.origin_machine_id,
            "generation": row.generation,
            "chunk_count": row.chunk_count,
            "stored_bytes": row.stored_bytes,
            "updated_at": row.updated_at,
        }
        doc.update(_meta_fields(row.meta))
        return doc

    async def sealed_session(self, account_id: str, session_id: str) -> dict[str, Any]:
        """Envelope plus the session's sealed info and chunks (never opened here)."""
        row = await self.service.backend.session(account_id, session_id)
        if row is None or row.deleted:
            raise NotFound(session_id)
        text, _version = await self.service.backend.get_envelope(account_id)
        refs = [(session_id, row.generation, i) for i in range(row.chunk_count)]
        chunks = await self.service.backend.fetch_chunks(account_id, refs) if refs else []
        if any(c is None for c in chunks):
            raise NotFound(session_id)  # a newer generation replaced it meanwhile
        return {
            "account_id": account_id,
            "envelope": json.loads(text) if text else None,
            "session_id": row.session_id,
            "origin_machine_id": row.origin_machine_id,
            "generation": row.generation,
            "info": row.info,
            "chunks": chunks,
        }

    async def storage_by_tool(self, account_id: str) -> list[dict[str, Any]]:
        """Sessions and stored bytes per tool."""
        rows = await self.sql.fetch_all(*queries.storage_by_tool(self.dialect, account_id))
        return [
            {"tool": r["tool"], "sessions": int(r["sessions"]),
             "stored_bytes": int(r["stored_bytes"])}
            for r in rows
        ]

    async def delete_session(self, account_id: str, session_id: str) -> None:
        """SyncService.delete_account_session: a tombstone, as DELETE /v1/sessions/{id}."""
        try:
            await self.service.delete_account_session(account_id, session_id)
        except ServiceError as exc:
            raise NotFound(exc.message) from None

    async def delete_all_sessions(self, account_id: str) -> int:
        """SyncService.delete_all_sessions: a tombstone for every live session."""
        return await self.service.delete_all_sessions(account_id)
