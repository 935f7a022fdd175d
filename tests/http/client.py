"""A bare HTTP client for the server tests (urllib, no client packages involved)."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from loreproto import wire

PASSWORD = "account-password-1"


def call(url: str, method: str, path: str, body: Any = None, token: str | None = None,
         ctype: str = "application/json") -> tuple[int, Any, dict[str, str]]:
    """One request -> (status, JSON or raw bytes, headers)."""
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw, status, headers = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        raw, status, headers = err.read(), err.code, dict(err.headers)
    ctype_out = headers.get("Content-Type", "")
    return status, json.loads(raw) if ctype_out.startswith("application/json") else raw, headers


@dataclass
class Api:
    """One logged-in machine."""

    url: str
    token: str
    machine_id: str

    @classmethod
    def login(cls, url: str, email: str, machine_id: str, password: str = PASSWORD) -> Api:
        """Log in (asserting success)."""
        status, doc, _ = call(url, "POST", "/v1/login", {
            "email": email, "password": password, "machine_id": machine_id,
            "machine_name": f"name-{machine_id}"})
        assert status == 200, doc
        return cls(url, doc["token"], machine_id)

    def call(self, method: str, path: str, body: Any = None,
             ctype: str = "application/json") -> tuple[int, Any, dict[str, str]]:
        """An authenticated request."""
        return call(self.url, method, path, body, self.token, ctype)

    def push(self, frames: list[tuple[wire.PushHeader, list[bytes]]]) -> list[dict[str, Any]]:
        """POST /v1/push (asserting 200) -> results."""
        status, doc, _ = self.call("POST", "/v1/push", wire.encode_push(frames),
                                   wire.PUSH_CONTENT_TYPE)
        assert status == 200, doc
        results: list[dict[str, Any]] = doc["results"]
        return results

    def feed(self, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        """The whole feed after ``since`` -> (entries, cursor)."""
        out: list[dict[str, Any]] = []
        while True:
            status, doc, _ = self.call("GET", f"/v1/changes?since={since}&limit=100")
            assert status == 200, doc
            out.extend(doc["changes"])
            since = doc["cursor"]
            if not doc["more"]:
                return out, since


def frame(sid: str, chunks: list[bytes], generation: int = 1, first_index: int = 0
          ) -> tuple[wire.PushHeader, list[bytes]]:
    """A push frame with opaque info and chunks."""
    info = os.urandom(24)
    header = wire.PushHeader(sid, generation, first_index, first_index + len(chunks),
                             [len(info), *(len(c) for c in chunks)],
                             {"tool": "claude-code", "payload_bytes": sum(map(len, chunks))})
    return header, [info, *chunks]


def hold_budget(url: str, token: str, nbytes: int) -> socket.socket:
    """Send the first ``nbytes`` of a valid push twice that size, then stall.

    The server leases those bytes from its in-flight budget until the socket closes.
    """
    from urllib.parse import urlsplit

    header, parts = frame("t:holder", [b"x" * (2 * nbytes)])
    body = wire.PUSH_MAGIC + b"".join(wire.encode_frame(header.to_json(), parts))
    part = urlsplit(url)
    sock = socket.create_connection((part.hostname, part.port))
    sock.sendall(f"POST /v1/push HTTP/1.1\r\nHost: {part.netloc}\r\n"
                 f"Authorization: Bearer {token}\r\nContent-Type: {wire.PUSH_CONTENT_TYPE}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:nbytes])
    return sock


def wait_budget_full(url: str, probe: Api, timeout: float = 20.0) -> None:
    """Until a small push of ``probe``'s account is answered 503 (the budget is held)."""
    import time

    header, parts = frame("t:probe", [b"p" * 1024])
    body = wire.PUSH_MAGIC + b"".join(wire.encode_frame(header.to_json(), parts))
    deadline = time.monotonic() + timeout
    # no end marker: while there is room this is a harmless 400, then 503
    while probe.call("POST", "/v1/push", body, wire.PUSH_CONTENT_TYPE)[0] != 503:
        assert time.monotonic() < deadline, "the server's body budget never filled"
        time.sleep(0.05)  # polling a condition with a deadline


class Browser:
    """A cookie-keeping HTTP client for the dashboard (same-origin form posts)."""

    def __init__(self, url: str) -> None:
        self.url, self.cookies = url, {}  # type: tuple[str, dict[str, str]]
        self.host = urllib.parse.urlsplit(url).netloc

    def request(self, method: str, path: str, body: bytes | None = None,
                ctype: str = "application/x-www-form-urlencoded",
                extra: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
        conn = http.client.HTTPConnection(self.host, timeout=30)
        headers = {"Origin": self.url, "Cookie": "; ".join(f"{k}={v}" for k, v in
                                                            self.cookies.items())}
        headers |= extra or {}
        if body is not None:
            headers["Content-Type"] = ctype
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode(errors="replace")
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";")[0]
        conn.close()
        return resp.status, text, {k.lower(): v for k, v in resp.getheaders()}

    def csrf(self, path: str) -> str:
        status, page, _ = self.request("GET", path)
        assert status == 200, page
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found, page
        return found.group(1)

    def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        return self.request("POST", path, urllib.parse.urlencode(fields).encode())

    def sign_in(self, email: str) -> None:
        status, _, headers = self.post_form("/login", {"csrf": self.csrf("/login"),
                                                       "email": email, "password": PASSWORD})
        assert status == 303 and headers["location"] == "/sessions", status
