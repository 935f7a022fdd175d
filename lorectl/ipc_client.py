"""A light client for the daemon's Unix-socket API (stdlib only: socket + json).

`lorectl status` must answer in well under 150 ms, so this module imports neither
aiohttp nor asyncio nor anything crypto. :func:`try_daemon` is the one entry point the
runner uses: it returns the daemon's answer, or ``None`` when no daemon answers on the
socket (then the caller runs the engine in-process). Errors the daemon reports come
back as the matching :class:`~lored.errors.LoreError`, so the CLI prints the same
`error:` / `hint:` lines either way.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lored.errors import DaemonError, LoreError

API = "/v1"  # mirrors lored.daemon.ipc.protocol.API (not imported: keep this path tiny)
CONNECT_TIMEOUT = 2.0
STATUS_TIMEOUT = 60.0  # the daemon asks Lore Cloud for the cloud figures
ProgressFn = Callable[[dict[str, Any]], None]


class DaemonUnavailable(Exception):
    """No daemon answers on the socket (not running, stale socket, no permission)."""


class ProtocolError(Exception):
    """The daemon's answer was not the HTTP/1.1 we speak."""


class _Response:
    """One HTTP/1.1 response read from a socket file: status, headers, body reader.

    A deliberately tiny client (status line, headers, Content-Length or chunked body):
    http.client would add ~4 ms of imports (ssl, email) to every `lorectl status`.
    """

    def __init__(self, sock: socket.socket, timeout: float | None) -> None:
        sock.settimeout(timeout)
        self._sock = sock
        self._file = sock.makefile("rb")
        line = self._file.readline(65537)
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ProtocolError(f"not an HTTP response: {line[:60]!r}")
        self.status = int(parts[1])
        self.headers: dict[str, str] = {}
        while True:
            line = self._file.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            self.headers[key.strip().lower()] = value.strip()
        self._chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        length = self.headers.get("content-length")
        self._left = int(length) if length is not None and not self._chunked else None

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives (chunked transfer decoded)."""
        if self._chunked:
            while True:
                size_line = self._file.readline(1024)
                if not size_line:
                    raise ProtocolError("connection closed inside a chunked body")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    return
                data = self._file.read(size + 2)  # + CRLF
                if len(data) < size + 2:
                    raise ProtocolError("connection closed inside a chunk")
                yield data[:size]
        elif self._left is not None:
            while self._left > 0:
                data = self._file.read1(min(self._left, 65536))
                if not data:
                    raise ProtocolError("connection closed before the whole body arrived")
                self._left -= len(data)
                yield data
        else:
            while data := self._file.read1(65536):
                yield data

    def read(self) -> bytes:
        """The whole body."""
        return b"".join(self.chunks())

    def lines(self) -> Iterator[bytes]:
        """The body split into lines (NDJSON), each yielded as soon as it is complete."""
        buf = b""
        for chunk in self.chunks():
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                yield line
        if buf:
            yield buf

    def close(self) -> None:
        """Close the connection."""
        self._file.close()
        self._sock.close()


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
    ) -> _Response:
        if not self.path.exists():
            raise DaemonUnavailable(f"no socket at {self.path}")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(os.fspath(self.path))
        except OSError as exc:
            sock.close()
            raise DaemonUnavailable(str(exc)) from None
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {API}{route} HTTP/1.1\r\nHost: lored\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                "Connection: close\r\n\r\n").encode()
        try:
            sock.sendall(head + data)
            return _Response(sock, timeout)
        except (OSError, ProtocolError, ValueError) as exc:
            sock.close()
            # connected but no answer: a daemon dying right now; treat as absent
            raise DaemonUnavailable(f"lored did not answer: {exc}") from None

    def call(
        self, method: str, route: str, body: dict[str, Any] | None = None,
        timeout: float | None = STATUS_TIMEOUT,
    ) -> dict[str, Any]:
        """One JSON request/response (health, status, pause, resume, reload, shutdown)."""
        resp = self._open(method, route, body, timeout)
        try:
            raw = resp.read()
        except (OSError, ProtocolError, ValueError) as exc:
            raise DaemonError(f"lored stopped answering: {exc}") from None
        finally:
            resp.close()
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
        resp = self._open("POST", "/sync", body, None)  # cycles may take minutes
        try:
            if resp.status >= 400:
                raise _error_from_doc(_loads(resp.read()), resp.status)
            for event in _ndjson(resp.lines()):
                kind = event.get("event")
                if kind == "result":
                    result = event.get("result")
                    return result if isinstance(result, dict) else {}
                if kind == "error":
                    raise _error_from_doc(event, 500)
                if progress is not None:
                    progress(event)
        except (OSError, ProtocolError, ValueError) as exc:
            raise DaemonError(
                f"lored stopped during the {mode}: {exc}",
                hint="run the command again; the next cycle completes the work",
            ) from None
        finally:
            resp.close()
        raise DaemonError(
            f"lored ended the {mode} stream without a result",
            hint="run the command again; the next cycle completes the work",
        )


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _ndjson(lines: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    for line in lines:
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
