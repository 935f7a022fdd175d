"""SyncService: every rule of Lore Cloud, no HTTP.

The HTTP handlers (:mod:`lorecloud.routes`), the dashboard and in-process test remotes
all call this one class. Failures raise :class:`~lorecloud.errors.ServiceError` with a
wire ``E_*`` code and the HTTP status it maps to.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import structlog

from lorecloud.auth import Passwords, Principal, new_token, token_hash
from lorecloud.backends.base import (
    AccountRow,
    Backend,
    ChunkSource,
    DuplicateAccount,
    SessionRow,
    utcnow,
)
from lorecloud.blobs import BlobMissing
from lorecloud.config import ServerConfig
from lorecloud.errors import ServiceError, bad_request, not_found
from lorecloud.faults import fault_point
from lorecloud.limits import limit_key
from lorecloud.names import labels
from lorecloud.rules import make_planner
from loreproto import wire

__all__ = ["Principal", "ServiceError", "SyncService"]

log = structlog.get_logger("lorecloud")

MAX_ENVELOPE_BYTES = 64 * 1024


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding blanks."""
    return email.strip().lower()


def change_doc(row: SessionRow) -> dict[str, Any]:
    """One change-feed entry (wire.py ``Change``)."""
    return {
        "session_id": row.session_id,
        "origin_machine_id": row.origin_machine_id,
        "origin_machine_name": row.origin_machine_name,
        "seq": row.seq,
        "generation": row.generation,
        "chunk_count": row.chunk_count,
        "chunk_sizes": list(row.chunk_sizes),
        "stored_bytes": row.stored_bytes,
        "deleted": row.deleted,
        "meta": dict(row.meta),
        "info": None if row.deleted or row.info is None else base64.b64encode(row.info).decode(),
        "updated_at": row.updated_at,
    }


class SyncService:
    """Accounts, tokens, envelopes, pushes, the change feed, chunk fetches, tombstones."""

    def __init__(self, backend: Backend, config: ServerConfig) -> None:
        self.backend = backend
        self.config = config
        self.passwords = Passwords(config.password_time_cost, config.password_memory_kib)

    @classmethod
    async def create(cls, backend: Backend, config: ServerConfig | None = None) -> SyncService:
        """A service over ``backend`` with its schema migrated."""
        await backend.migrate()
        return cls(backend, config or ServerConfig())

    async def close(self) -> None:
        """Close the backend."""
        await self.backend.close()

    # --- accounts -----------------------------------------------------------------------
    async def _new_account(self, email: str, password: str, plan: str) -> dict[str, Any]:
        email = normalize_email(email)
        if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
            raise bad_request("that is not an email address")
        if len(password) < self.config.min_password_length:
            raise bad_request(
                f"the password must have at least {self.config.min_password_length} characters"
            )
        if plan not in self.config.plans:
            raise bad_request(f"unknown plan {plan!r} (plans: {', '.join(self.config.plans)})")
        row = AccountRow(str(uuid.uuid4()), email, await self.passwords.hash(password), plan,
                         utcnow())
        try:
            await self.backend.create_account(row)
        except DuplicateAccount:
            raise ServiceError(wire.E_CONFLICT, f"an account for {email} already exists",
                               409, hint="log in instead") from None
        return {"account_id": row.account_id, "email": email, "plan": plan}

    async def register(self, email: str, password: str) -> dict[str, Any]:
        """Self-service registration (only with ``open_registration``) -> {account_id, email}."""
        if not self.config.open_registration:
            raise ServiceError(wire.E_REGISTRATION_CLOSED,
                               "this server does not allow self-registration", 403,
                               hint="ask the server's operator for an account")
        doc = await self._new_account(email, password, self.config.default_plan)
        return {"account_id": doc["account_id"], "email": doc["email"]}

    async def check_password(self, email: str, password: str, client_ip: str) -> AccountRow:
        """Verify an account password under the failed-login rate limit (API and dashboard)."""
        email = normalize_email(email)
        # count the attempt before the (slow, threaded) verification: otherwise guesses
        # sent in parallel all pass the check before any failure is recorded. On
        # PostgreSQL the count is shared by every process (lorecloud/limits.py).
        key = limit_key("login", email, client_ip)
        wait = await self.backend.limits.login_attempt(
            key, self.config.login_failures, self.config.login_window)
        if wait is not None:
            raise ServiceError(wire.E_RATE_LIMITED, "too many failed logins; try again later",
                               429, retry_after=wait)
        account = await self.backend.account_by_email(email)
        ok = await self.passwords.verify(account.password_hash if account else None, password)
        if not ok or account is None:
            raise ServiceError(wire.E_BAD_CREDENTIALS, "wrong email or password", 401)
        await self.backend.limits.login_clear(key)
        return account

    async def login(
        self, email: str, password: str, machine_id: str, machine_name: str,
        client_ip: str = "local",
    ) -> dict[str, Any]:
        """Log a machine in -> {token, account_id, email}; the token is bound to the machine."""
        if not machine_id or len(machine_id) > 128:
            raise bad_request("machine_id must be 1..128 characters")
        machine_name = wire.clean_text(machine_name or machine_id, 256).strip() or machine_id
        account = await self.check_password(email, password, client_ip)
        token = new_token()
        await self.backend.add_token(token_hash(token), account.account_id, machine_id,
                                     machine_name, utcnow())
        same = sum(1 for m in await self.backend.machines(account.account_id)
                   if m.name == machine_name and m.machine_id != machine_id)
        return {"token": token, "account_id": account.account_id, "email": account.email,
                "machine": {"id": machine_id, "name": machine_name}, "same_name": same}

    async def logout(self, token: str) -> None:
        """Revoke the token (later use answers ``machine_revoked``)."""
        await self.backend.revoke_token(token_hash(token), utcnow())

    async def authenticate(self, token: str) -> Principal:
        """The principal behind a bearer token; 401 unauthorized / machine_revoked."""
        row = await self.backend.token(token_hash(token)) if token else None
        if row is None:
            raise ServiceError(wire.E_UNAUTHORIZED, "not logged in (unknown token)", 401,
                               hint="log in again")
        if row.revoked:
            raise ServiceError(wire.E_REVOKED, "this machine was signed out of the account",
                               401, hint="log in again on this machine")
        return Principal(row.account_id, row.machine_id, row.machine_name)

    async def _account(self, account_id: str) -> AccountRow:
        account = await self.backend.account_by_id(account_id)
        if account is None:
            raise ServiceError(wire.E_UNAUTHORIZED, "the account no longer exists", 401)
        return account

    def limits(self, plan_name: str) -> dict[str, Any]:
        """The AccountDoc ``limits`` of a plan on this server."""
        plan = self.config.plan(plan_name)
        msb = self.config.max_session_bytes
        return {
            "max_session_bytes": msb,
            "max_sessions": plan.max_sessions,
            "storage_bytes": plan.storage_bytes,
            "max_request_bytes": wire.max_request_bytes(msb),
            "max_batch_sessions": wire.MAX_BATCH_SESSIONS,
            "max_chunk_bytes": wire.MAX_CHUNK_BYTES,
            "max_fetch_chunks": wire.MAX_FETCH_CHUNKS,
        }

    async def account(self, principal: Principal) -> dict[str, Any]:
        """The AccountDoc of wire.py for the caller."""
        doc = await self.account_doc(principal.account_id)
        doc["machine"] = {"id": principal.machine_id, "name": principal.machine_name}
        return doc

    async def account_doc(self, account_id: str) -> dict[str, Any]:
        """The AccountDoc without the caller's ``machine`` (dashboard, admin)."""
        account = await self._account(account_id)
        usage = await self.backend.usage(account_id)
        machines = await self.backend.machines(account_id)
        shown = labels((m.machine_id, m.name) for m in machines)
        syncs = [m.last_sync for m in machines if m.last_sync]
        return {
            "account_id": account.account_id,
            "email": account.email,
            "plan": account.plan,
            "limits": self.limits(account.plan),
            "usage": {"sessions": usage.sessions, "storage_bytes": usage.storage_bytes},
            "last_sync": max(syncs) if syncs else None,
            "reset": await self._last_reset(account_id),
            "machine": None,
            "machines": [
                {"id": m.machine_id, "name": m.name, "label": shown[m.machine_id],
                 "last_sync": m.last_sync, "sessions": m.sessions, "active": m.active}
                for m in machines
            ],
        }

    # --- envelope ------------------------------------------------------------------------
    async def get_envelope(self, principal: Principal) -> dict[str, Any]:
        """{envelope: dict | None, version: int}."""
        text, version = await self.backend.get_envelope(principal.account_id)
        return {"envelope": json.loads(text) if text else None, "version": version}

    async def put_envelope(
        self, principal: Principal, envelope: dict[str, Any], expected_version: int
    ) -> dict[str, Any]:
        """Create-only (expected 0) or conditional update -> {version}; 409 with current."""
        if not isinstance(envelope, dict) or not envelope:
            raise bad_request("envelope must be a non-empty JSON object")
        if not isinstance(expected_version, int) or isinstance(expected_version, bool) or (
            not 0 <= expected_version <= wire.MAX_INT32
        ):
            raise bad_request(f"expected_version must be an integer 0..{wire.MAX_INT32}")
        text = json.dumps(envelope, separators=(",", ":"), sort_keys=True)
        if len(text) > MAX_ENVELOPE_BYTES:
            raise bad_request("envelope too large")
        written, current, version = await self.backend.put_envelope(
            principal.account_id, text, expected_version)
        if not written:
            raise ServiceError(
                wire.E_CONFLICT, "the key envelope changed meanwhile", 409,
                hint="unlock with the current envelope and retry",
                current={"envelope": json.loads(current) if current else None,
                         "version": version},
            )
        return {"version": version}

    # --- sessions ------------------------------------------------------------------------
    async def push(
        self, principal: Principal, sessions: list[tuple[wire.PushHeader, list[bytes]]]
    ) -> list[dict[str, Any]]:
        """Commit the sessions in one write transaction, each atomic -> PushResult dicts.

        One transaction per request (one fsync, not one per session); each session is
        planned and written in its own savepoint, so a refused or failing session leaves
        the others alone, and later sessions' quota checks see the earlier ones.
        """
        if len(sessions) > wire.MAX_BATCH_SESSIONS:
            raise bad_request(f"at most {wire.MAX_BATCH_SESSIONS} sessions per push")
        for header, parts in sessions:
            if [len(p) for p in parts] != header.sizes:
                raise bad_request(f"parts of {header.session_id} do not match its sizes")
        account = await self._account(principal.account_id)
        plan = self.config.plan(account.plan)
        items = [
            (header.session_id, make_planner(header, parts, principal.machine_id, plan,
                                             self.config.max_session_bytes))
            for header, parts in sessions
        ]
        # with an object store, every chunk's object is durable before the commit that
        # references it; a crash in between leaves only orphans (lore-server gc)
        staged = await self.backend.stage_chunks(
            principal.account_id, [c for _, parts in sessions for c in parts[1:]])
        if staged.keys:
            fault_point("after-blob-write-before-commit")
        outcomes = await self.backend.commit_push_many(principal.account_id, items, utcnow(),
                                                       staged=staged)
        results: list[dict[str, Any]] = [
            {
                "session_id": header.session_id, "status": out.status, "message": out.message,
                "seq": out.seq, "generation": out.generation, "chunk_count": out.chunk_count,
            }
            for (header, _), out in zip(sessions, outcomes, strict=True)
        ]
        await self.backend.touch_machine(principal.account_id, principal.machine_id, utcnow())
        return results

    async def changes(self, principal: Principal, since: int, limit: int) -> dict[str, Any]:
        """Other machines' sessions with seq > since -> {changes, cursor, more, remaining}."""
        if since < 0:
            raise bad_request("since must be >= 0")
        if limit < 1:
            raise bad_request("limit must be >= 1")
        limit = min(limit, wire.MAX_CHANGES_PAGE)
        rows, cursor, more = await self.backend.changes(
            principal.account_id, since, limit, principal.machine_id)
        await self.backend.touch_machine(principal.account_id, principal.machine_id, utcnow())
        doc = {"changes": [change_doc(r) for r in rows], "cursor": cursor, "more": more}
        # what is left after this page, so a client can show a progress bar with a real
        # total (counted only when there is more: the last page needs no count)
        doc["remaining"] = (await self.backend.count_changes(
            principal.account_id, cursor, principal.machine_id) if more else 0)
        return doc

    async def fetch_chunks(
        self, principal: Principal, refs: list[tuple[str, int, int]]
    ) -> list[tuple[str, int, int, bytes | None]]:
        """Sealed chunks of the caller's account; None for anything it does not hold."""
        if len(refs) > wire.MAX_FETCH_CHUNKS:
            raise bad_request(f"at most {wire.MAX_FETCH_CHUNKS} chunks per request")
        datas = await self.backend.fetch_chunks(principal.account_id, list(refs))
        return [(sid, gen, idx, data) for (sid, gen, idx), data in zip(refs, datas, strict=True)]

    async def chunk_sources(
        self, principal: Principal, refs: list[tuple[str, int, int]]
    ) -> list[tuple[tuple[str, int, int], ChunkSource | None]]:
        """Where each requested chunk's bytes are (read before a response streams them)."""
        if len(refs) > wire.MAX_FETCH_CHUNKS:
            raise bad_request(f"at most {wire.MAX_FETCH_CHUNKS} chunks per request")
        found = await self.backend.chunk_sources(principal.account_id, list(refs))
        return list(zip(refs, found, strict=True))

    async def chunk_frames(
        self, sources: list[tuple[tuple[str, int, int], ChunkSource | None]]
    ) -> AsyncIterator[bytes]:
        """CHUNK frames of ``sources`` as buffers; objects stream piece by piece."""
        for (sid, gen, idx), src in sources:
            if src is None or src.key is None:
                data = src.data if src else None
                for buf in wire.encode_chunk_frame(sid, gen, idx, data):
                    yield buf
                continue
            try:
                stream = await self.backend.blobs.open(src.key)
            except BlobMissing:
                log.error("chunk object missing", session=sid, generation=gen, index=idx)
                for buf in wire.encode_chunk_frame(sid, gen, idx, None):
                    yield buf
                continue
            for buf in wire.encode_chunk_head(sid, gen, idx, stream.size):
                yield buf
            sent = 0
            async for piece in stream.chunks:
                sent += len(piece)
                yield piece
            if sent != stream.size:  # abort: the client sees a truncated body and retries
                raise ConnectionError(f"chunk object {src.key} ended after {sent} bytes")

    async def delete_session(self, principal: Principal, session_id: str) -> dict[str, Any]:
        """Tombstone one of the caller machine's sessions -> {seq}."""
        row = await self.backend.session(principal.account_id, session_id)
        if row is None:
            raise not_found(f"no session {session_id} in this account")
        if row.origin_machine_id != principal.machine_id:
            who = row.origin_machine_name or row.origin_machine_id
            raise ServiceError(
                wire.E_CONFLICT, f"session {session_id} belongs to machine {who}", 409,
                hint=f"delete it everywhere from {who}, or from the web dashboard")
        return await self.delete_account_session(principal.account_id, session_id)

    async def delete_account_session(self, account_id: str, session_id: str) -> dict[str, Any]:
        """Tombstone any session of an account (dashboard, admin) -> {seq}."""
        seq = await self.backend.tombstone(account_id, session_id, utcnow())
        if seq is None:
            raise not_found(f"no session {session_id} in this account")
        return {"seq": seq}

    async def delete_all_sessions(self, account_id: str) -> int:
        """Tombstone every live session of an account (dashboard) -> how many.

        Added for the dashboard (issue 7). Lists the live ids through the change feed
        with no machine excluded, then tombstones each one with the same rule as the API.
        """
        live: list[str] = []
        since, more = 0, True
        while more:
            rows, since, more = await self.backend.changes(
                account_id, since, wire.MAX_CHANGES_PAGE, "")
            live += [r.session_id for r in rows if not r.deleted]
        for session_id in live:
            await self.delete_account_session(account_id, session_id)
        return len(live)

    async def reset_account(self, principal: Principal, confirm_email: str) -> dict[str, Any]:
        """Erase every session and the envelope of the caller's account (issue 10).

        ``confirm_email`` must be the account's email: a second, server-side guard
        against a script resetting the wrong account. The envelope version keeps
        counting, so a passphrase change prepared before the reset cannot land after
        it; the next setup creates a fresh envelope with expected version 0.
        """
        account = await self._account(principal.account_id)
        if normalize_email(confirm_email) != account.email:
            raise bad_request("the confirmation does not match the account's email")
        now = utcnow()
        erased = await self.backend.reset_account(account.account_id, now,
                                                  principal.machine_name)
        return {"erased": erased, "reset_at": now, "reset_by": principal.machine_name}

    async def _last_reset(self, account_id: str) -> dict[str, str] | None:
        last = await self.backend.last_reset(account_id)
        return {"at": last[0], "by": last[1]} if last else None

    # --- admin (CLI, dashboard) ---------------------------------------------------------------
    async def add_user(self, email: str, password: str, plan: str = "free") -> dict[str, Any]:
        """Create an account regardless of open registration -> {account_id, email, plan}."""
        return await self._new_account(email, password, plan)

    async def list_users(self) -> list[dict[str, Any]]:
        """Every account with its plan and usage."""
        return [
            {"account_id": a.account_id, "email": a.email, "plan": a.plan,
             "created_at": a.created_at, "sessions": u.sessions,
             "storage_bytes": u.storage_bytes}
            for a, u in await self.backend.list_accounts()
        ]

    async def remove_user(self, email: str) -> None:
        """Delete an account and all its data; not_found when there is none."""
        account = await self.backend.account_by_email(normalize_email(email))
        if account is None or not await self.backend.delete_account(account.account_id):
            raise not_found(f"no account {normalize_email(email)}")

    async def revoke_machine(self, account_id: str, machine_id: str) -> int:
        """Sign a machine out (all its tokens) -> how many tokens were live."""
        return await self.backend.revoke_machine(account_id, machine_id, utcnow())

    async def change_password(self, account_id: str, current: str, new: str) -> None:
        """Replace the password after checking the current one (401 bad_credentials)."""
        account = await self._account(account_id)
        if not await self.passwords.verify(account.password_hash, current):
            raise ServiceError(wire.E_BAD_CREDENTIALS, "the current password is wrong", 401)
        if len(new) < self.config.min_password_length:
            raise bad_request(
                f"the password must have at least {self.config.min_password_length} characters"
            )
        await self.backend.set_password(account_id, await self.passwords.hash(new))
