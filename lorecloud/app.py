"""The aiohttp application: routes, JSON errors, the dashboard, start-up and shutdown."""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from lorecloud import admission, machines, shares
from lorecloud.errors import ServiceError
from lorecloud.routes import BUDGET, SERVICE, routes
from lorecloud.service import SyncService
from loreproto import wire

log = structlog.get_logger("lorecloud")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(wire.error_body(code, message), status=status)


#: the access log's status of a request whose client hung up before the answer
CLIENT_CLOSED = 499

_STATUS_CODES = {
    400: wire.E_BAD_REQUEST, 401: wire.E_UNAUTHORIZED, 404: wire.E_NOT_FOUND,
    408: wire.E_BAD_REQUEST,
    409: wire.E_CONFLICT, 413: wire.E_TOO_LARGE, 429: wire.E_RATE_LIMITED,
}


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """ServiceError -> its JSON document; other API failures -> JSON too, never HTML."""
    try:
        return await handler(request)
    except ServiceError as exc:
        resp = web.json_response(exc.body(), status=exc.status)
        if "retry_after" in exc.extra:
            resp.headers["Retry-After"] = str(exc.extra["retry_after"])
        return resp
    except web.HTTPException as exc:
        if not request.path.startswith("/v1/") or exc.status < 400:
            raise
        code = _STATUS_CODES.get(exc.status, wire.E_BAD_REQUEST)
        return _error(exc.status, code, exc.reason)
    except ConnectionError:
        # the client went away mid-request: nothing to answer, nothing to debug. A
        # response (499, nginx's "client closed request") rather than a re-raise, which
        # aiohttp would log as an "Error handling request" traceback and a 500
        log.info("client disconnected", method=request.method, path=request.path)
        return web.Response(status=CLIENT_CLOSED, reason="Client Closed Request")
    except Exception:
        # the traceback is logged without locals (see logs.py); the client learns nothing
        log.exception("unhandled error", method=request.method, path=request.path)
        return _error(500, wire.E_INTERNAL, "internal server error")


def create_app(svc: SyncService, *, dashboard: bool = True) -> web.Application:
    """The Lore Cloud app over ``svc``; the dashboard is mounted when it is available.

    ``client_max_size`` bounds the JSON bodies read with ``request.json()``; the push
    body is streamed and bounded by its own limit instead.
    """
    app = web.Application(middlewares=[api_errors], client_max_size=1024 * 1024)
    app[SERVICE] = svc
    limits = svc.backend.limits
    app[BUDGET] = admission.BodyBudget(
        svc.config.max_inflight_bytes, svc.config.account_inflight_bytes,
        shared=limits if limits.shared else None,
        lease_ttl=svc.config.body_timeout + 60.0)
    app.add_routes(routes)
    app.add_routes(shares.routes)
    app.add_routes(machines.routes)
    if dashboard and importlib.util.find_spec("lorecloud.dashboard.adapter") is not None:
        from lorecloud.dashboard import setup_dashboard

        setup_dashboard(app, svc)
    return app
