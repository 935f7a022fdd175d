"""Seed a real lore-server through its HTTP API, as a machine would.

The "sealed" info and chunks are opaque random bytes: the server never opens them,
so the dashboard tests need no keys. Plain urllib keeps this independent of the
client packages that are being built alongside.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from loreproto import wire


@dataclass
class Machine:
    """One logged-in machine of an account (its bearer token and id)."""

    base_url: str
    token: str
    machine_id: str
    name: str
    account_id: str = ""

    def call(
        self, method: str, path: str, body: bytes | None = None, ctype: str = "application/json"
    ) -> tuple[int, Any]:
        """One authenticated request; -> (status, decoded JSON or raw bytes)."""
        return http(self.base_url, method, path, body, ctype, self.token)

    def push(self, sessions: list[SeedSession]) -> list[dict[str, Any]]:
        """Push new sessions (generation 1, one opaque chunk each); -> PushResults."""
        frames = [(s.header(), s.parts()) for s in sessions]
        body = wire.encode_push(frames)
        status, doc = self.call("POST", "/v1/push", body, wire.PUSH_CONTENT_TYPE)
        assert status == 200, (status, doc)
        results: list[dict[str, Any]] = doc["results"]
        assert all(r["status"] == wire.RESULT_OK for r in results), results
        return results

    def changes(self, since: int = 0) -> list[dict[str, Any]]:
        """The whole change feed this machine sees after ``since``."""
        out: list[dict[str, Any]] = []
        while True:
            status, doc = self.call("GET", f"/v1/changes?since={since}&limit=500")
            assert status == 200, (status, doc)
            out.extend(doc["changes"])
            since = doc["cursor"]
            if not doc["more"]:
                return out


@dataclass
class SeedSession:
    """Metadata of one session to push; the payload is random bytes."""

    session_id: str
    tool: str = "claude-code"
    project_path: str = "/home/dev/projects/webapp"
    started_at: str | None = "2025-06-14T10:00:00+00:00"
    ended_at: str | None = "2025-06-14T11:00:00+00:00"
    message_count: int = 12
    payload_bytes: int = 4096
    chunk: bytes = field(default_factory=lambda: os.urandom(64))

    def header(self) -> wire.PushHeader:
        """The PUSH frame header of this session."""
        meta: wire.SessionMeta = {
            "tool": self.tool,
            "project_path": self.project_path,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "message_count": self.message_count,
            "payload_bytes": self.payload_bytes,
        }
        return wire.PushHeader(self.session_id, 1, 0, 1, [32, len(self.chunk)], meta)

    def parts(self) -> list[bytes]:
        """Opaque "sealed" info and chunk bytes."""
        return [os.urandom(32), self.chunk]


def http(
    base_url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    ctype: str = "application/json",
    token: str | None = None,
) -> tuple[int, Any]:
    """A plain HTTP request; JSON responses are decoded, others returned as bytes."""
    req = urllib.request.Request(base_url + path, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw, rtype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        status, raw, rtype = err.code, err.read(), err.headers.get("Content-Type", "")
    if "json" in rtype:
        return status, json.loads(raw)
    return status, raw


def login(base_url: str, email: str, password: str, name: str) -> Machine:
    """``POST /v1/login`` as a new machine."""
    machine_id = str(uuid.uuid4())
    body = {"email": email, "password": password, "machine_id": machine_id, "machine_name": name}
    status, doc = http(base_url, "POST", "/v1/login", json.dumps(body).encode())
    assert status == 200, (status, doc)
    return Machine(base_url, doc["token"], machine_id, name, doc.get("account_id", ""))


def register(base_url: str, email: str, password: str) -> None:
    """``POST /v1/register`` (the server runs with ``--open-registration``; free plan)."""
    body = json.dumps({"email": email, "password": password}).encode()
    status, doc = http(base_url, "POST", "/v1/register", body)
    assert status == 201, (status, doc)
