"""A light client for the daemon's Unix-socket API (stdlib only: socket + http.client).

`lorectl status` must answer in well under 150 ms, so this module imports neither
aiohttp nor asyncio nor anything crypto. :func:`try_daemon` is the one entry point the
runner uses: it returns the daemon's answer, or ``None`` when no daemon answers on the
socket (then the caller runs the engine in-process). Errors the daemon reports come
back as the matching :class:`~lored.errors.LoreError`, so the CLI prints the same
`error:` / `hint:` lines either way.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lored.errors import DaemonError, LoreError

API = "/v1"  # mirrors lored.ipc.protocol.API (not imported: keep this path tiny)
CONNECT_TIMEOUT = 2.0
STATUS_TIMEOUT = 60.0  # the daemon asks Lore Cloud for the cloud figures
ProgressFn = Callable[[dict[str, Any]], None]


class DaemonUnavailable(Exception):
    """No daemon answers on the socket (not running, stale socket, no permission)."""


class _UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over AF_UNIX: connect() goes to a socket path, not host:port."""

    def __init__(self, path: Path, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = os.fspath(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(self._path)
        except OSError as exc:
            sock.close()
            raise DaemonUnavailable(str(exc)) from None
        sock.settimeout(self.timeout)
        self.sock = sock


def _error_from_doc(doc: Any, status: int) -> LoreError:
    """Rebuild the LoreError the daemon reported (same class when the code is known)."""
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict):
        return DaemonError(f"lored answered HTTP {status} without an error document")
    code = str(err.get("code") or "daemon")
    message = str(err.get("message") or f"lored answered HTTP {status}")
    hint = err.get("hint") if isinstance(err.get("hint"), str) else None
    cls = _error_classes().get(code)
    if cls is not None:
        try:
            return cls(message, hint=hint)
        except TypeError:
            pass
    return DaemonError(message, hint=hint)


def _error_classes() -> dict[str, type[LoreError]]:
    found: dict[str, type[LoreError]] = {}
    todo: list[type[LoreError]] = [LoreError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return found


class DaemonClient:
    """Requests to one daemon socket. Every method raises DaemonUnavailable when nobody
    answers, and a LoreError for an error the daemon reported."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _open(
        self, method: str, route: str, body: dict[str, Any] | None, timeout: float | None
    ) -> tuple[_UnixHTTPConnection, http.client.HTTPResponse]:
        if not self.path.exists():
            raise DaemonUnavailable(f"no socket at {self.path}")
        conn = _UnixHTTPConnection(self.path, timeout)
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json", "Connection": "close"}
        try:
            conn.request(method, f"{API}{route}", body=data, headers=headers)
            resp = conn.getresponse()
        except DaemonUnavailable:
            conn.close()
            raise
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            # connected but no answer: a daemon dying right now; treat as absent
            raise DaemonUnavailable(f"lored did not answer: {exc}") from None
        return conn, resp

    def call(
        self, method: str, route: str, body: dict[str, Any] | None = None,
        timeout: float | None = STATUS_TIMEOUT,
    ) -> dict[str, Any]:
        """One JSON request/response (health, status, pause, resume, reload, shutdown)."""
        conn, resp = self._open(method, route, body, timeout)
        try:
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise DaemonError(f"lored stopped answering: {exc}") from None
        finally:
            conn.close()
        try:
            doc = json.loads(raw or b"{}")
        except ValueError:
            raise DaemonError(f"lored answered HTTP {resp.status} with invalid JSON") from None
        if resp.status >= 400:
            raise _error_from_doc(doc, resp.status)
        if not isinstance(doc, dict):
            raise DaemonError("lored answered with a JSON document that is not an object")
        return doc

    def sync(
        self, mode: str, *, dry_run: bool = False, all: bool = False,
        progress: ProgressFn | None = None,
    ) -> dict[str, Any]:
        """POST /v1/sync: feed NDJSON progress events to ``progress``; return the result.

        A request during a running cycle joins it (the daemon's single flight). Once
        the request is accepted the daemon owns the work: a broken stream is reported
        as a DaemonError rather than silently re-run in-process.
        """
        body = {"mode": mode, "dry_run": dry_run, "all": all}
        conn, resp = self._open("POST", "/sync", body, None)  # cycles may take minutes
        try:
            if resp.status >= 400:
                raise _error_from_doc(_loads(resp.read()), resp.status)
            for event in _ndjson(resp):
                kind = event.get("event")
                if kind == "result":
                    result = event.get("result")
                    return result if isinstance(result, dict) else {}
                if kind == "error":
                    raise _error_from_doc(event, 500)
                if progress is not None:
                    progress(event)
        except (OSError, http.client.HTTPException) as exc:
            raise DaemonError(
                f"lored stopped during the {mode}: {exc}",
                hint="run the command again; the next cycle completes the work",
            ) from None
        finally:
            conn.close()
        raise DaemonError(
            f"lored ended the {mode} stream without a result",
            hint="run the command again; the next cycle completes the work",
        )


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _ndjson(resp: http.client.HTTPResponse) -> Iterator[dict[str, Any]]:
    while True:
        line = resp.readline()
        if not line:
            return
        if line.strip():
            doc = json.loads(line)
            if isinstance(doc, dict):
                yield doc


def try_daemon(
    socket_path: Path, mode: str, *, progress: ProgressFn | None = None, **opts: Any
) -> dict[str, Any] | None:
    """The daemon's answer for ``mode`` (status|sync|push|pull), or None if none answers.

    ``opts`` are ``dry_run`` / ``all`` for the sync modes. LoreErrors the daemon
    reports are raised, not swallowed: only "nobody home" falls back to in-process.
    """
    client = DaemonClient(socket_path)
    try:
        if mode == "status":
            return client.call("GET", "/status")
        if mode in ("sync", "push", "pull"):
            return client.sync(
                mode, dry_run=bool(opts.get("dry_run")), all=bool(opts.get("all")),
                progress=progress,
            )
    except DaemonUnavailable:
        return None
    return None
