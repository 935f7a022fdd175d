"""The real server answers a whole push/pull round trip over HTTP."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from loreproto import wire
from tests.serverproc import ServerProc


def call(url: str, method: str, path: str, body: bytes | None = None, token: str | None = None,
         ctype: str = "application/json") -> tuple[int, Any]:
    req = urllib.request.Request(url + path, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw, status, rtype = resp.read(), resp.status, resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        raw, status, rtype = err.read(), err.code, err.headers.get("Content-Type", "")
    return status, json.loads(raw) if rtype.startswith("application/json") else raw


def test_push_then_pull_over_http(lore_server: ServerProc) -> None:
    lore_server.add_user("dev@example.com", "password-123")
    tokens = []
    for mid in ("m1", "m2"):
        status, doc = call(lore_server.url, "POST", "/v1/login", json.dumps({
            "email": "dev@example.com", "password": "password-123", "machine_id": mid,
            "machine_name": mid}).encode())
        assert status == 200, doc
        tokens.append(doc["token"])
    header = wire.PushHeader("claude-code:abc", 1, 0, 1, [3, 5], {"tool": "claude-code"})
    status, doc = call(lore_server.url, "POST", "/v1/push",
                       wire.encode_push([(header, [b"inf", b"chunk"])]), tokens[0],
                       wire.PUSH_CONTENT_TYPE)
    assert status == 200 and doc["results"][0]["status"] == "ok", doc
    status, doc = call(lore_server.url, "GET", "/v1/changes?since=0", token=tokens[1])
    assert status == 200 and [c["session_id"] for c in doc["changes"]] == ["claude-code:abc"]
    status, body = call(lore_server.url, "POST", "/v1/chunks", json.dumps({"chunks": [
        {"session_id": "claude-code:abc", "generation": 1, "index": 0}]}).encode(), tokens[1])
    frames = wire.decode_all(body, wire.CHUNK_MAGIC, "chunks")
    assert frames == [({"session_id": "claude-code:abc", "generation": 1, "index": 0,
                        "status": "ok", "size": 5}, [b"chunk"])]
