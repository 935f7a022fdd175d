"""Share links (issue 18): storage and the machine API.

A share is one session sealed on the client under a fresh random key that travels
only in the link's fragment (``<server>/s/<share_id>#<key>``); the server keeps the
ciphertext, its expiry, a revocation time and a view count, and never the key.

=================================  ==============================================
``POST   /v1/shares`` *             raw sealed bytes; query ``share_id``,
                                    ``session_id``, ``expires_in`` (seconds)
                                    -> 201 ``{share_id, url, expires_at}``
``GET    /v1/shares`` *             ``{shares: [{share_id, session_id, created_at,
                                    expires_at, revoked_at, views, size, state}]}``
``DELETE /v1/shares/{share_id}`` *  revoke -> ``{"ok": true}``
=================================  ==============================================
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Final

from aiohttp import web

from lorecloud import admission
from lorecloud.backends.base import utcnow
from lorecloud.errors import ServiceError, bad_request
from lorecloud.routes import BUDGET, principal, service, timeouts
from loreproto import wire

SHARE_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]{22}$")
MAX_EXPIRES: Final = 90 * 86400
DEFAULT_EXPIRES: Final = 7 * 86400
#: a share holds one session (≤ max_session_bytes) plus JSON framing and the AEAD tag
SHARE_OVERHEAD: Final = 1024 * 1024


def _ph(dialect: str, n: int) -> str:
    return "?" if dialect == "sqlite" else f"${n}"


class ShareStore:
    """Share rows over a backend's generic statements (both dialects)."""

    def __init__(self, backend: Any) -> None:
        self.db = backend
        self.dialect: str = backend.dialect

    def _sql(self, template: str) -> str:
        # "{}" placeholders in order -> ? or $n
        parts = template.split("{}")
        out = parts[0]
        for i, part in enumerate(parts[1:], start=1):
            out += _ph(self.dialect, i) + part
        return out

    async def create(self, account_id: str, share_id: str, session_id: str, sealed: bytes,
                     expires_at: str) -> bool:
        """Insert a share; False when the id is taken."""
        if await self.get(share_id) is not None:
            return False
        await self.db.execute(self._sql(
            "INSERT INTO shares (share_id, account_id, session_id, sealed, size, created_at, "
            "expires_at) VALUES ({}, {}, {}, {}, {}, {}, {})"),
            [share_id, account_id, session_id, sealed, len(sealed), utcnow(), expires_at])
        return True

    async def get(self, share_id: str) -> dict[str, Any] | None:
        """One share's row without its ciphertext, or None."""
        rows = await self.db.fetch_all(self._sql(
            "SELECT share_id, account_id, session_id, size, created_at, expires_at, revoked_at, "
            "views FROM shares WHERE share_id = {}"), [share_id])
        return _with_state(rows[0]) if rows else None

    async def sealed(self, share_id: str) -> bytes | None:
        """The ciphertext of a live share, counting the view; None otherwise."""
        row = await self.get(share_id)
        if row is None or row["state"] != "active":
            return None
        await self.db.execute(self._sql(
            "UPDATE shares SET views = views + 1 WHERE share_id = {}"), [share_id])
        rows = await self.db.fetch_all(self._sql(
            "SELECT sealed FROM shares WHERE share_id = {}"), [share_id])
        return bytes(rows[0]["sealed"]) if rows else None

    async def list(self, account_id: str) -> list[dict[str, Any]]:
        """The account's shares, newest first."""
        rows = await self.db.fetch_all(self._sql(
            "SELECT share_id, account_id, session_id, size, created_at, expires_at, revoked_at, "
            "views FROM shares WHERE account_id = {} ORDER BY created_at DESC"), [account_id])
        return [_with_state(r) for r in rows]

    async def revoke(self, account_id: str, share_id: str) -> bool:
        """Revoke one of the account's shares (idempotent); False if it is not theirs."""
        row = await self.get(share_id)
        if row is None or row["account_id"] != account_id:
            return False
        if row["revoked_at"] is None:
            await self.db.execute(self._sql(
                "UPDATE shares SET revoked_at = {} WHERE share_id = {}"), [utcnow(), share_id])
        return True


def _with_state(row: dict[str, Any]) -> dict[str, Any]:
    doc = dict(row)
    if doc["revoked_at"]:
        doc["state"] = "revoked"
    elif doc["expires_at"] <= utcnow():
        doc["state"] = "expired"
    else:
        doc["state"] = "active"
    return doc


def expiry(seconds: int) -> str:
    """The expiry timestamp ``seconds`` from now (stored text format)."""
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_expires(value: str | None) -> int:
    """``expires_in`` seconds (1 … 90 days); 400 otherwise."""
    if value is None or value == "":
        return DEFAULT_EXPIRES
    if not value.isdigit() or not 1 <= int(value) <= MAX_EXPIRES:
        raise bad_request(f"expires_in must be 1 to {MAX_EXPIRES} seconds")
    return int(value)


def check_share_id(share_id: str) -> str:
    """A client-chosen share id: 22 base64url characters (128 random bits)."""
    if not SHARE_ID_RE.match(share_id):
        raise bad_request("share_id must be 22 base64url characters")
    return share_id


async def read_limited(request: web.Request, held: admission.Lease, limit: int) -> bytes:
    """The raw body, refusing (413) past ``limit`` while reading; its bytes are leased
    from the server's body budget (503/429 with Retry-After, 408 when slow)."""
    if request.content_length is not None and request.content_length > limit:
        raise ServiceError(wire.E_TOO_LARGE, f"a share is at most {limit} bytes", 413)
    try:
        return await admission.read_body(request, held, limit, **timeouts(request))
    except ServiceError as exc:
        if exc.status == 413:
            raise ServiceError(wire.E_TOO_LARGE, f"a share is at most {limit} bytes",
                               413) from None
        raise


def share_url(request: web.Request, share_id: str) -> str:
    """The link without its fragment (the client appends ``#<key>``)."""
    return f"{request.scheme}://{request.host}/s/{share_id}"


async def create_share(request: web.Request, account_id: str) -> web.Response:
    """Shared by the API and the dashboard: store the body as a share of ``account_id``."""
    svc = service(request)
    share_id = check_share_id(request.query.get("share_id", ""))
    session_id = request.query.get("session_id", "")
    seconds = parse_expires(request.query.get("expires_in"))
    row = await svc.backend.session(account_id, session_id)
    if row is None or row.deleted:
        raise ServiceError(wire.E_NOT_FOUND, "no such session in this account", 404)
    held = admission.Lease(request.app[BUDGET], f"account:{account_id}")
    try:  # the sealed bytes stay leased until they are stored
        sealed = await read_limited(request, held, svc.config.max_session_bytes + SHARE_OVERHEAD)
        if len(sealed) < 41:
            raise bad_request("the body must be the sealed share")
        expires_at = expiry(seconds)
        if not await ShareStore(svc.backend).create(account_id, share_id, session_id, sealed,
                                                    expires_at):
            raise ServiceError(wire.E_CONFLICT, "that share id is taken; pick another", 409)
    finally:
        await held.release()
    return web.json_response(
        {"share_id": share_id, "url": share_url(request, share_id), "expires_at": expires_at},
        status=201)


routes = web.RouteTableDef()


@routes.post("/v1/shares")
async def post_share(request: web.Request) -> web.Response:
    """``POST /v1/shares``: store a client-sealed share."""
    who = await principal(request)
    return await create_share(request, who.account_id)


@routes.get("/v1/shares")
async def get_shares(request: web.Request) -> web.Response:
    """``GET /v1/shares``: the account's shares."""
    who = await principal(request)
    rows = await ShareStore(service(request).backend).list(who.account_id)
    return web.json_response({"shares": [{k: v for k, v in r.items() if k != "account_id"}
                                         for r in rows]})


@routes.delete("/v1/shares/{share_id}")
async def delete_share(request: web.Request) -> web.Response:
    """``DELETE /v1/shares/{id}``: revoke (404 if it is not the account's)."""
    who = await principal(request)
    if not await ShareStore(service(request).backend).revoke(
            who.account_id, request.match_info["share_id"]):
        raise ServiceError(wire.E_NOT_FOUND, "no such share in this account", 404)
    return web.json_response({"ok": True})
