"""The daemon's HTTP/1.1 + JSON API on its Unix socket (aiohttp).

Thin handlers: validate with ``lored/daemon/ipc/protocol.py``, call the :class:`DaemonApi`
the daemon implements, turn results into JSON and errors into the one error document.
Every failure mode a client can provoke — garbage bytes, truncated JSON, unknown
paths or methods, oversized bodies, a foreign uid — gets a 4xx JSON answer and the
server keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, Protocol

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from lored.daemon.cycles import CycleKind, ProgressFn
from lored.daemon.ipc import protocol as p
from lored.errors import LoreError
from lored.peers import peer_uid

log = structlog.get_logger("lored.daemon.ipc")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ALLOWED_UID = web.AppKey("allowed_uid", int)


class DaemonApi(Protocol):
    """What the IPC server needs from the daemon (a stand-in implements it in tests)."""

    def health(self) -> dict[str, Any]:
        """Cheap liveness document (no store access)."""

    async def status(self) -> dict[str, Any]:
        """The full `lorectl status --json` document, daemon part included."""

    async def sync(self, kind: CycleKind, progress: ProgressFn) -> dict[str, Any]:
        """Run or join a cycle (single flight) and return the answer for ``kind``."""

    def pause(self) -> dict[str, Any]:
        """Stop automatic cycles."""

    def resume(self) -> dict[str, Any]:
        """Restart automatic cycles."""

    async def reload(self) -> dict[str, Any]:
        """Re-read config.toml and reschedule."""

    def shutdown(self) -> dict[str, Any]:
        """Begin a graceful stop (after this response is sent)."""


def _json(doc: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(doc, status=status)


def _error(code: str, message: str, status: int, hint: str | None = None) -> web.Response:
    return _json(p.error_doc(code, message, hint), status)


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse other uids; turn every exception into the JSON error document."""
    uid = peer_uid(request.transport.get_extra_info("socket") if request.transport else None)
    if uid is None or uid != request.app[ALLOWED_UID]:
        log.warning("ipc_refused_peer", peer_uid=uid)
        return _error("forbidden", "this daemon only answers its own user", 403)
    try:
        return await handler(request)
    except p.IpcError as err:
        return _json(p.error_doc_for(err), err.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "bad_request" if exc.status < 500 else "internal")
        reason = exc.reason or HTTPStatus(exc.status).phrase
        message = f"{reason}: {request.method} {request.path}"
        if exc.status == 413:
            message = f"request body is larger than {p.MAX_BODY} bytes"
        return _error(code, message, exc.status)
    except LoreError as err:
        return _json(p.error_doc_for(err), p.status_for(err.code))
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("ipc_handler_failed", path=request.path)
        return _error("internal", "the daemon hit an internal error (see its log)", 500)


class _JsonErrorHandler(RequestHandler):
    """aiohttp's protocol handler, but HTTP-level parse errors answer JSON, not text."""

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("response already started")
        code = "bad_request" if status < 500 else "internal"
        text = "malformed HTTP request" if status < 500 else "internal error"
        resp = _error(code, text, status)
        resp.force_close()
        return resp


class _BoundSocketSite(web.BaseSite):
    """Serve on a socket bound (and chmod'ed) by ``lored/daemon/ipc/runtime.py``."""

    def __init__(self, runner: web.BaseRunner, sock: socket.socket) -> None:
        super().__init__(runner)
        self._sock = sock

    @property
    def name(self) -> str:
        return f"unix:{self._sock.getsockname()}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None

        # no access log (a line per `lorectl status` is noise); short keepalive: lorectl
        # opens one connection per command
        opts: dict[str, Any] = {"access_log": None, "keepalive_timeout": 5}

        def factory() -> RequestHandler:
            return _JsonErrorHandler(server, loop=loop, **opts)

        self._server = await loop.create_server(factory, sock=self._sock)


def build_app(api: DaemonApi, *, allowed_uid: int | None = None) -> web.Application:
    """The aiohttp application: routes of PROTOCOL.md behind the uid/error middleware."""
    app = web.Application(middlewares=[_guard], client_max_size=p.MAX_BODY)
    app[ALLOWED_UID] = os.getuid() if allowed_uid is None else allowed_uid

    async def health(request: web.Request) -> web.Response:
        return _json(api.health())

    async def status(request: web.Request) -> web.Response:
        return _json(await api.status())

    async def sync(request: web.Request) -> web.StreamResponse:
        req = p.parse_sync_request(await request.read())
        return await _stream_sync(request, api, req)

    def control(fn: Callable[[], dict[str, Any]]) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            p.parse_object(await request.read())  # bodies are optional but must be sane
            return _json(fn())

        return handler

    async def reload(request: web.Request) -> web.Response:
        p.parse_object(await request.read())
        return _json(await api.reload())

    app.router.add_get(f"{p.API}/health", health)
    app.router.add_get(f"{p.API}/status", status)
    app.router.add_post(f"{p.API}/sync", sync)
    app.router.add_post(f"{p.API}/pause", control(api.pause))
    app.router.add_post(f"{p.API}/resume", control(api.resume))
    app.router.add_post(f"{p.API}/reload", reload)
    app.router.add_post(f"{p.API}/shutdown", control(api.shutdown))
    return app


async def _stream_sync(
    request: web.Request, api: DaemonApi, req: p.SyncRequest
) -> web.StreamResponse:
    """Stream progress events as NDJSON; the last line is the result or the error."""
    resp = web.StreamResponse(headers={"Content-Type": p.NDJSON, "Cache-Control": "no-store"})
    await resp.prepare(request)
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.ensure_future(api.sync(req.kind(), queue.put_nowait))
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                break
            await resp.write(p.encode_line(getter.result()))
        while not queue.empty():  # events emitted in the same tick as the result
            await resp.write(p.encode_line(queue.get_nowait()))
        try:
            final = p.result_event(req.mode, task.result())
        except LoreError as err:
            final = p.error_event(err)
        except Exception as exc:
            log.exception("sync_request_failed")
            final = p.error_event(LoreError(f"sync failed: {type(exc).__name__}"))
        await resp.write(p.encode_line(final))
        await resp.write_eof()
    finally:
        # the client may hang up mid-stream; the cycle itself is shielded in CycleRunner
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    return resp


class IpcServer:
    """Owns the aiohttp runner and site for one bound socket."""

    def __init__(
        self, api: DaemonApi, sock: socket.socket, *, allowed_uid: int | None = None
    ) -> None:
        self._app = build_app(api, allowed_uid=allowed_uid)
        self._sock = sock
        self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False,
                                     shutdown_timeout=2.0)

    async def start(self) -> None:
        """Start listening; clients can connect once this returns."""
        await self._runner.setup()
        await _BoundSocketSite(self._runner, self._sock).start()

    async def stop(self) -> None:
        """Stop accepting and close connections (the socket file is the daemon's to unlink)."""
        await self._runner.cleanup()
