"""Access rules over real HTTP: 401, other accounts, revocation, rate limit, bad frames."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from loreproto import wire
from tests.http.client import PASSWORD, Api, call, frame
from tests.serverproc import ServerProc, start_server

EMAIL, EVE = "dev@example.com", "eve@example.com"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    """One server for this module (each test uses its own accounts)."""
    srv = start_server(tmp_path_factory.mktemp("access"))
    try:
        yield srv
    finally:
        srv.stop()


def account(server: ServerProc, tag: str) -> str:
    email = f"{tag}-{os.urandom(4).hex()}@example.com"
    server.add_user(email, PASSWORD)
    return email


AUTHED = [
    ("GET", "/v1/account", None), ("GET", "/v1/envelope", None),
    ("PUT", "/v1/envelope", {"envelope": {"v": 1}, "expected_version": 0}),
    ("POST", "/v1/push", b""), ("GET", "/v1/changes?since=0", None),
    ("POST", "/v1/chunks", {"chunks": []}), ("DELETE", "/v1/sessions/t:1", None),
    ("POST", "/v1/logout", None),
]


def test_every_api_call_needs_a_token(server: ServerProc) -> None:
    for method, path, body in AUTHED:
        for token in (None, "bogus-token"):
            status, doc, _ = call(server.url, method, path, body, token)
            assert status == 401, (method, path, doc)
            assert doc["error"]["code"] == wire.E_UNAUTHORIZED


def test_other_accounts_sessions_are_invisible(server: ServerProc) -> None:
    dev, eve = account(server, "dev"), account(server, "eve")
    a, e = Api.login(server.url, dev, "a"), Api.login(server.url, eve, "e")
    assert a.push([frame("t:private", [b"sealed"])])[0]["status"] == "ok"
    status, doc, _ = e.call("DELETE", "/v1/sessions/t:private")
    assert status == 404 and doc["error"]["code"] == wire.E_NOT_FOUND
    status, body, _ = e.call("POST", "/v1/chunks", {"chunks": [
        {"session_id": "t:private", "generation": 1, "index": 0}]})
    assert status == 200
    ((header, parts),) = wire.decode_all(body, wire.CHUNK_MAGIC, "chunks")
    assert header["status"] == "missing" and parts == []
    assert e.feed()[0] == []
    # eve pushing the same id creates her own session; dev's stays untouched
    assert e.push([frame("t:private", [b"eve"])])[0]["status"] == "ok"
    status, body, _ = a.call("POST", "/v1/chunks", {"chunks": [
        {"session_id": "t:private", "generation": 1, "index": 0}]})
    assert wire.decode_all(body, wire.CHUNK_MAGIC, "chunks")[0][1] == [b"sealed"]


def test_revoked_and_logged_out_tokens_are_refused(server: ServerProc) -> None:
    dev = account(server, "rev")
    a, b = Api.login(server.url, dev, "a"), Api.login(server.url, dev, "b")
    server.cli("machine", "revoke", dev, "a")
    status, doc, _ = a.call("GET", "/v1/account")
    assert status == 401 and doc["error"]["code"] == wire.E_REVOKED
    status, doc, _ = b.call("POST", "/v1/logout")
    assert status == 200
    status, doc, _ = b.call("GET", "/v1/changes?since=0")
    assert status == 401 and doc["error"]["code"] == wire.E_REVOKED
    assert Api.login(server.url, dev, "a").call("GET", "/v1/account")[0] == 200


def test_repeated_bad_logins_are_rate_limited(server: ServerProc) -> None:
    dev = account(server, "rl")
    body = {"email": dev, "password": "wrong-password", "machine_id": "m"}
    for _ in range(5):
        status, doc, _ = call(server.url, "POST", "/v1/login", body)
        assert status == 401 and doc["error"]["code"] == wire.E_BAD_CREDENTIALS
    status, doc, headers = call(server.url, "POST", "/v1/login", {**body, "password": PASSWORD})
    assert status == 429 and doc["error"]["code"] == wire.E_RATE_LIMITED
    assert 1 <= int(headers["Retry-After"]) <= 60


def test_registration_is_closed_by_default(server: ServerProc) -> None:
    status, doc, _ = call(server.url, "POST", "/v1/register",
                          {"email": "new@example.com", "password": PASSWORD})
    assert status == 403 and doc["error"]["code"] == wire.E_REGISTRATION_CLOSED


def test_open_registration(tmp_path: Path) -> None:
    srv = start_server(tmp_path, open_registration=True)
    try:
        status, doc, _ = call(srv.url, "POST", "/v1/register",
                              {"email": "new@example.com", "password": PASSWORD})
        assert status == 201 and doc["email"] == "new@example.com"
        assert Api.login(srv.url, "new@example.com", "m").call("GET", "/v1/account")[0] == 200
    finally:
        srv.stop()


def _u32(n: int) -> bytes:
    return struct.pack(">I", n)


def test_bad_frames_are_400_and_commit_nothing(server: ServerProc) -> None:
    dev = account(server, "frames")
    a, b = Api.login(server.url, dev, "a"), Api.login(server.url, dev, "b")
    good_header, good_parts = frame("t:good", [b"x" * 10])
    good = b"".join(wire.encode_frame(good_header.to_json(), good_parts))
    bad_json = _u32(5) + b"{nope"
    no_sid = b"".join(wire.encode_frame({"generation": 1, "first_index": 0, "chunk_count": 0,
                                         "sizes": [1]}, [b"i"]))
    bad_count = b"".join(wire.encode_frame({**good_header.to_json(), "chunk_count": 7},
                                           good_parts))
    bodies = {
        "magic": b"NOTLORE!" + good + wire.END_MARKER,
        "truncated": wire.PUSH_MAGIC + good[:-3],
        "no end marker": wire.PUSH_MAGIC + good,
        "json": wire.PUSH_MAGIC + good + bad_json + wire.END_MARKER,
        "missing field": wire.PUSH_MAGIC + good + no_sid + wire.END_MARKER,
        "count": wire.PUSH_MAGIC + good + bad_count + wire.END_MARKER,
        "trailing": wire.PUSH_MAGIC + good + wire.END_MARKER + b"junk",
        "huge header": wire.PUSH_MAGIC + _u32(wire.MAX_HEADER_BYTES + 1) + b"{}",
    }
    for name, body in bodies.items():
        status, doc, _ = a.call("POST", "/v1/push", body, wire.PUSH_CONTENT_TYPE)
        assert status == 400, (name, doc)
        assert doc["error"]["code"] == wire.E_BAD_REQUEST, name
    assert b.feed()[0] == []  # the good frame before each bad one was not committed
    for path, body in [("/v1/chunks", b"not json"), ("/v1/chunks", {"chunks": [{"x": 1}]}),
                       ("/v1/chunks", {"chunks": [{"session_id": "s", "generation": 1,
                                                   "index": 0}] * 257}),
                       ("/v1/login", {"email": 1})]:
        status, doc, _ = a.call("POST", path, body)
        assert status == 400 and doc["error"]["code"] == wire.E_BAD_REQUEST, (path, doc)
    assert a.call("GET", "/v1/changes?since=x")[0] == 400


def test_openapi_healthz_and_json_404(server: ServerProc) -> None:
    status, doc, _ = call(server.url, "GET", "/v1/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = {("GET", "/healthz"), ("GET", "/v1/openapi.json"), ("POST", "/v1/register"),
              ("POST", "/v1/login"), ("POST", "/v1/logout"), ("GET", "/v1/account"),
              ("GET", "/v1/envelope"), ("PUT", "/v1/envelope"), ("POST", "/v1/push"),
              ("GET", "/v1/changes"), ("POST", "/v1/chunks"),
              ("DELETE", "/v1/sessions/{session_id}"), ("POST", "/v1/account/reset"),
              ("POST", "/v1/shares"), ("GET", "/v1/shares"),
              ("DELETE", "/v1/shares/{share_id}"), ("PUT", "/v1/machine")}
    assert documented == served
    assert call(server.url, "GET", "/healthz")[:2] == (200, {"ok": True})
    status, doc, _ = call(server.url, "GET", "/v1/nothing-here")
    assert status == 404 and doc["error"]["code"] == wire.E_NOT_FOUND


def test_logs_hold_no_tokens_passwords_or_bodies(server: ServerProc) -> None:
    dev = account(server, "logs")
    a = Api.login(server.url, dev, "a")
    marker = b"PLAINTEXT-MARKER-" + os.urandom(4).hex().encode()
    a.push([frame("t:log", [marker])])
    call(server.url, "POST", "/v1/login", {"email": dev, "password": "Wrong-Secret-123",
                                           "machine_id": "z"})
    logs = server.logs()
    assert a.token not in logs and PASSWORD not in logs and "Wrong-Secret-123" not in logs
    assert marker.decode() not in logs and "Authorization" not in logs
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(ln.get("path") == "/v1/push" and ln.get("status") == 200 for ln in lines)
