"""A tiny HTTP-over-Unix-socket client for ``lored``'s API (PROTOCOL.md, "Daemon API").

Our own few lines of stdlib rather than ``lorectl``'s client: the harness times the
daemon's answer, so it must not pay for (or depend on) the CLI's imports.
"""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path
from typing import Any


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


def request(
    sock: Path, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 60
) -> tuple[int, Any]:
    """One request; returns the status and the decoded body.

    An ``application/x-ndjson`` answer (``POST /v1/sync``) is returned as the list of its
    events, the last being ``{"event": "result", …}``.
    """
    conn = _UnixConnection(sock, timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        ctype = resp.getheader("Content-Type", "")
        if "ndjson" in ctype:
            return resp.status, [json.loads(x) for x in raw.splitlines() if x.strip()]
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw.decode(errors="replace")
    finally:
        conn.close()
