"""Thin HTTP handlers: wire ⇄ SyncService ⇄ HTTP status. No rules live here.

Push bodies are decoded while they stream in (``request.content`` through
``wire.FrameReader``): the body is refused with 413 as soon as it, or a frame it
announces, passes ``max_request_bytes``. Complete frames are kept in memory (so at most
``max_request_bytes`` per request) and committed only once the end marker arrived: a
client that disconnects mid-body, or sends a bad frame, commits nothing at all. The
sessions then commit in one transaction, each in its own savepoint.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from lorecloud import admission
from lorecloud.auth import Principal
from lorecloud.errors import ServiceError, bad_request
from lorecloud.faults import fault_point
from lorecloud.service import SyncService
from loreproto import wire

SERVICE: Final = web.AppKey("lore_service", SyncService)
BUDGET: Final = web.AppKey("lore_body_budget", admission.BodyBudget)
#: chunks fetched from the backend per round trip while streaming a CHUNK response;
#: bounds the memory of one download to a few sealed chunks
FETCH_GROUP: Final = 4
#: bytes of CHUNK frames gathered into one write of the response
WRITE_BATCH: Final = 256 * 1024
#: the largest authenticated JSON body (an envelope, 256 chunk refs)
MAX_JSON_BODY: Final = wire.MiB

routes = web.RouteTableDef()


def service(request: web.Request) -> SyncService:
    """The app's SyncService."""
    return request.app[SERVICE]


def client_ip(request: web.Request) -> str:
    """The peer address (rate-limit key); proxies are not trusted blindly."""
    return request.remote or "unknown"


async def principal(request: web.Request) -> Principal:
    """Authenticate the bearer token; 401 without one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ServiceError(wire.E_UNAUTHORIZED, "missing bearer token", 401,
                           hint="log in first")
    return await service(request).authenticate(token.strip())


def lease(request: web.Request, who: Principal | None) -> admission.Lease:
    """A lease on the body budget: under the account, or the peer when unauthenticated."""
    key = f"account:{who.account_id}" if who is not None else peer_key(request)
    return admission.Lease(request.app[BUDGET], key)


def timeouts(request: web.Request) -> dict[str, float]:
    """The body timeouts of admission.read_chunks, from the server's config."""
    cfg = service(request).config
    return {"idle_timeout": cfg.body_idle_timeout, "body_timeout": cfg.body_timeout}


async def leased_body(request: web.Request, key: str, limit: int) -> bytes:
    """A whole small body (at most ``limit`` bytes, 413 past it) read under the body
    budget of ``key`` (``account:…`` or ``peer:…``): 503/429 with Retry-After when over
    it, 408 when it stalls. The bytes are given back once read (dashboard forms)."""
    held = admission.Lease(request.app[BUDGET], key)
    try:
        return await admission.read_body(request, held, limit, **timeouts(request))
    finally:
        await held.release()


def peer_key(request: web.Request) -> str:
    """The budget key of an unauthenticated request."""
    return f"peer:{client_ip(request)}"


async def json_body(request: web.Request, who: Principal | None = None) -> dict[str, Any]:
    """The request's JSON object; 400 for anything else.

    Unauthenticated bodies (``who`` None) are capped at MAX_ANON_BODY bytes; the bytes
    are leased from the body budget while they are read (503/429 when over it).
    """
    limit = admission.MAX_ANON_BODY if who is None else MAX_JSON_BODY
    held = lease(request, who)
    try:
        raw = await admission.read_body(request, held, limit, **timeouts(request))
    finally:
        await held.release()  # the parsed document is small; the raw bytes go now
    try:
        body = wire.loads_json(raw, "the body")
    except wire.WireError as exc:
        raise bad_request(str(exc)) from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


def _str(body: dict[str, Any], key: str) -> str:
    val = body.get(key)
    if not isinstance(val, str):
        raise bad_request(f"{key} must be a string")
    return val


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """200 once the backend answers."""
    try:
        await service(request).backend.ping()
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        raise ServiceError(wire.E_UNAVAILABLE, "the database does not answer", 503) from None
    return web.json_response({"ok": True})


@routes.get("/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document of this API."""
    from lorecloud.openapi import openapi_document

    return web.json_response(openapi_document())


@routes.post("/v1/register")
async def register(request: web.Request) -> web.Response:
    """Self-service registration."""
    body = await json_body(request)
    doc = await service(request).register(_str(body, "email"), _str(body, "password"))
    return web.json_response(doc, status=201)


@routes.post("/v1/login")
async def login(request: web.Request) -> web.Response:
    """Password login of one machine -> token."""
    body = await json_body(request)
    doc = await service(request).login(
        _str(body, "email"), _str(body, "password"), _str(body, "machine_id"),
        str(body.get("machine_name") or ""), client_ip(request),
    )
    return web.json_response(doc)


@routes.post("/v1/logout")
async def logout(request: web.Request) -> web.Response:
    """Revoke the presented token."""
    await principal(request)
    token = request.headers["Authorization"].partition(" ")[2].strip()
    await service(request).logout(token)
    return web.json_response({"ok": True})


@routes.get("/v1/account")
async def account(request: web.Request) -> web.Response:
    """The AccountDoc."""
    who = await principal(request)
    return web.json_response(await service(request).account(who))


@routes.get("/v1/envelope")
async def get_envelope(request: web.Request) -> web.Response:
    """The key envelope and its version."""
    who = await principal(request)
    return web.json_response(await service(request).get_envelope(who))


@routes.put("/v1/envelope")
async def put_envelope(request: web.Request) -> web.Response:
    """Create-only / conditional update of the envelope."""
    who = await principal(request)
    body = await json_body(request, who)
    env, expected = body.get("envelope"), body.get("expected_version")
    if not isinstance(env, dict) or not isinstance(expected, int) or isinstance(expected, bool):
        raise bad_request("need envelope (object) and expected_version (integer)")
    return web.json_response(await service(request).put_envelope(who, env, expected))


def too_large(limit: int) -> ServiceError:
    """413 for a push body over ``limit`` bytes."""
    return ServiceError(
        wire.E_TOO_LARGE, f"the request body exceeds {limit} bytes", 413,
        hint="push fewer or smaller sessions per request", max_request_bytes=limit,
    )


@routes.post("/v1/push")
async def push(request: web.Request) -> web.Response:
    """Stream-decode PUSH frames, then commit every session -> {results}."""
    who = await principal(request)
    svc = service(request)
    limit = svc.config.max_request_bytes
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    reader = wire.FrameReader(wire.PUSH_MAGIC, "push")
    sessions: list[tuple[wire.PushHeader, list[bytes]]] = []
    received = 0
    held = lease(request, who)
    try:
        async for data in admission.read_chunks(request, held, **timeouts(request)):
            received += len(data)
            if received > limit:
                raise too_large(limit)
            reader.feed(data)
            for header, parts in reader.frames():
                sessions.append((wire.PushHeader.from_json(header), parts))
                if len(sessions) > wire.MAX_BATCH_SESSIONS:
                    raise bad_request(f"at most {wire.MAX_BATCH_SESSIONS} sessions per push")
            # refuse early when the frame being received announces more than fits
            if received - reader.buffered() + reader.pending_part_bytes() > limit:
                raise too_large(limit)
        if not reader.finished:
            raise bad_request("push body is truncated (no end marker)")
        fault_point("after-upload-before-commit")
        results = await svc.push(who, sessions)
    except wire.WireError as exc:
        raise bad_request(str(exc)) from None
    finally:
        await held.release()  # the frames are held until the commit is done
    fault_point("after-commit-before-response")
    return web.json_response({"results": results})


@routes.get("/v1/changes")
async def changes(request: web.Request) -> web.Response:
    """One page of the change feed."""
    who = await principal(request)
    try:
        since = int(request.query.get("since", "0"))
        limit = int(request.query.get("limit", str(wire.DEFAULT_CHANGES_PAGE)))
    except ValueError:
        raise bad_request("since and limit must be integers") from None
    if max(since, limit) > _MAX_BIGINT:  # beyond the databases' integers: not a 500
        raise bad_request("since and limit must be below 2**63")
    return web.json_response(await service(request).changes(who, since, limit))


#: the columns' integer ranges (generation/idx INTEGER, seq BIGINT on PostgreSQL)
_MAX_INT: Final = wire.MAX_INT32
_MAX_BIGINT: Final = wire.MAX_INT64


def _refs(body: dict[str, Any]) -> list[tuple[str, int, int]]:
    items = body.get("chunks")
    if not isinstance(items, list):
        raise bad_request("chunks must be a list")
    if len(items) > wire.MAX_FETCH_CHUNKS:
        raise bad_request(f"at most {wire.MAX_FETCH_CHUNKS} chunks per request")
    refs: list[tuple[str, int, int]] = []
    for item in items:
        if not isinstance(item, dict):
            raise bad_request("each chunk ref must be an object")
        sid, gen, idx = item.get("session_id"), item.get("generation"), item.get("index")
        if not isinstance(sid, str) or not 0 < len(sid) <= wire.MAX_SESSION_ID or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= _MAX_INT
            for v in (gen, idx)
        ):
            raise bad_request("a chunk ref needs session_id, generation and index")
        assert isinstance(gen, int) and isinstance(idx, int)
        refs.append((sid, gen, idx))
    return refs


@routes.post("/v1/chunks")
async def chunks(request: web.Request) -> web.StreamResponse:
    """Stream CHUNK frames, a few chunks fetched at a time.

    Every ref is validated (:func:`_refs`) before the response starts: once the
    first byte is sent, an error can no longer become a JSON document.
    """
    who = await principal(request)
    refs = _refs(await json_body(request, who))
    svc = service(request)
    batch = await svc.chunk_sources(who, refs[:FETCH_GROUP])
    resp = web.StreamResponse(headers={"Content-Type": wire.CHUNKS_CONTENT_TYPE})
    await resp.prepare(request)
    await resp.write(wire.CHUNK_MAGIC)
    pos = FETCH_GROUP
    while True:
        # small frames go out together: one write (and drain) per WRITE_BATCH bytes,
        # not two per chunk; an object streams on in pieces of its own size
        pending: list[bytes] = []
        size = 0
        async for buf in svc.chunk_frames(batch):
            pending.append(buf)
            size += len(buf)
            if size >= WRITE_BATCH:
                await resp.write(b"".join(pending))
                pending, size = [], 0
        if pending:
            await resp.write(b"".join(pending))
        if pos >= len(refs):
            break
        # an error from here on cannot become a JSON document any more; it aborts the
        # stream, and the client sees a truncated body (no end marker) and retries
        batch = await svc.chunk_sources(who, refs[pos : pos + FETCH_GROUP])
        pos += FETCH_GROUP
    await resp.write(wire.END_MARKER)
    await resp.write_eof()
    return resp


@routes.delete("/v1/sessions/{session_id:.+}")
async def delete_session(request: web.Request) -> web.Response:
    """Tombstone one session."""
    who = await principal(request)
    sid = request.match_info["session_id"]
    if len(sid) > wire.MAX_SESSION_ID or not wire.is_storable_text(sid):
        raise bad_request("that is not a session id")
    doc = await service(request).delete_session(who, sid)
    return web.json_response(doc)


@routes.post("/v1/account/reset")
async def reset_account(request: web.Request) -> web.Response:
    """Erase every session and the key envelope of the caller's account."""
    who = await principal(request)
    body = await json_body(request, who)
    return web.json_response(await service(request).reset_account(who, _str(body, "email")))
