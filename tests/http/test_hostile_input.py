"""Hostile client input against a real lore-server: always a 4xx JSON error, never a 5xx.

Issue 16: deeply nested JSON, integers past 64 bits, lone surrogates and over-long ids
used to raise RecursionError / OverflowError / UnicodeEncodeError inside the server (a
500), or to break a CHUNK stream after it had started. Each is now a 400 before any
byte of a response is sent, and nothing is stored.
"""

from __future__ import annotations

import json
import os
from typing import Any

from loreproto import wire
from tests.http.client import PASSWORD, Api, call, frame
from tests.serverproc import ServerProc

EMAIL = "dev@example.com"


def _raw_json(text: str) -> bytes:
    """A body sent exactly as written (json.dumps would escape surrogates its own way)."""
    return text.encode()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _push_raw(api: Api, header: dict[str, Any], parts: list[bytes]) -> tuple[int, Any]:
    raw = json.dumps(header).encode()
    body = wire.PUSH_MAGIC + len(raw).to_bytes(4, "big") + raw + b"".join(parts) + wire.END_MARKER
    status, doc, _ = api.call("POST", "/v1/push", body, wire.PUSH_CONTENT_TYPE)
    return status, doc


def _assert_400(status: int, doc: Any) -> None:
    assert status == 400, (status, doc)
    assert doc["error"]["code"] == wire.E_BAD_REQUEST, doc


def test_json_routes_refuse_deep_nesting_big_integers_and_surrogates(
    lore_server: ServerProc,
) -> None:
    lore_server.add_user(EMAIL, PASSWORD)
    api = Api.login(lore_server.url, EMAIL, "a")
    url = lore_server.url
    deep = _nested(5_000)  # past the parser's recursion limit, under the 16 KiB login cap
    bodies = [
        ("POST", "/v1/login", _raw_json('{"email": ' + deep + "}"), None),
        ("POST", "/v1/register", _raw_json('{"email": "x@y", "password": ' + deep + "}"), None),
        ("PUT", "/v1/envelope", _raw_json('{"envelope": {"a": ' + deep + '}, '
                                          '"expected_version": 0}'), api.token),
        ("PUT", "/v1/envelope", _raw_json('{"envelope": {"a": 1}, "expected_version": '
                                          + "9" * 30 + "}"), api.token),
        ("PUT", "/v1/envelope", _raw_json('{"envelope": {"a": 1}, "expected_version": '
                                          + str(2**63) + "}"), api.token),
        ("PUT", "/v1/envelope", _raw_json('{"envelope": {"a": 1}, "expected_version": '
                                          + str(2**40) + "}"), api.token),
        ("PUT", "/v1/envelope", _raw_json('{"envelope": {"a": 1}, "expected_version": '
                                          + "9" * 5000 + "}"), api.token),
        ("PUT", "/v1/envelope", _raw_json('{"envelope": {"\\ud800": 1}, '
                                          '"expected_version": 0}'), api.token),
        ("POST", "/v1/login", _raw_json('{"email": "\\ud800@example.com", "password": "p", '
                                        '"machine_id": "m"}'), None),
        ("POST", "/v1/login", _raw_json(json.dumps({"email": EMAIL, "password": PASSWORD})[:-1]
                                        + ', "machine_id": "\\udfff"}'), None),
        ("POST", "/v1/account/reset", _raw_json('{"email": "\\ud800"}'), api.token),
        ("POST", "/v1/chunks", _raw_json('{"chunks": ' + deep + "}"), api.token),
        ("POST", "/v1/register", b'{"email": NaN}', None),
    ]
    for method, path, body, token in bodies:
        status, doc, _ = call(url, method, path, body, token)
        _assert_400(status, doc)
    # nothing was stored on the way
    status, doc, _ = api.call("GET", "/v1/envelope")
    assert status == 200 and doc == {"envelope": None, "version": 0}, doc


def test_push_headers_refuse_deep_json_big_generations_and_surrogates(
    lore_server: ServerProc,
) -> None:
    lore_server.add_user(EMAIL, PASSWORD)
    a, b = Api.login(lore_server.url, EMAIL, "a"), Api.login(lore_server.url, EMAIL, "b")
    base = frame("t:ok", [b"chunk"])[0].to_json()
    bad_headers = [
        {**base, "generation": 2**63},
        {**base, "generation": 2**31},
        {**base, "generation": 10**300},
        {**base, "session_id": "t:\ud800"},
        {**base, "meta": {"tool": "\ud800"}},
        {**base, "meta": {"tool": "nul\x00"}},
        {**base, "meta": {"tool": "claude-code", "payload_bytes": 2**64}},
        {**base, "meta": {"tool": json.loads(_nested(40))}},
    ]
    info = os.urandom(base["sizes"][0])
    for header in bad_headers:
        status, doc = _push_raw(a, header, [info, b"chunk"])
        _assert_400(status, doc)
    # a header nested past the parser's recursion limit (still under 64 KiB)
    raw = b'{"session_id": "t:x", "meta": ' + _nested(20_000).encode() + b"}"
    body = wire.PUSH_MAGIC + len(raw).to_bytes(4, "big") + raw + wire.END_MARKER
    status, doc, _ = a.call("POST", "/v1/push", body, wire.PUSH_CONTENT_TYPE)
    _assert_400(status, doc)
    entries, _ = b.feed()
    assert entries == []  # no partial commit


def test_stored_text_is_normalised_and_renders_everywhere(lore_server: ServerProc) -> None:
    lore_server.add_user(EMAIL, PASSWORD)
    a = Api.login(lore_server.url, EMAIL, "a")
    header, parts = frame("t:ctl", [b"chunk"])
    body = header.to_json()
    body["meta"] = {"tool": "cla\x07ude\x1b[31m", "project_path": "Cafe\u0301"}
    status, doc = _push_raw(a, body, parts)
    assert status == 200 and doc["results"][0]["status"] == "ok", doc
    b = Api.login(lore_server.url, EMAIL, "b")
    entries, _ = b.feed()
    assert entries[0]["meta"]["tool"] == "claude[31m"
    assert entries[0]["meta"]["project_path"] == "Caf\u00e9"
    status, doc, _ = a.call("GET", "/v1/account")
    assert status == 200, doc


def test_chunk_requests_are_validated_whole_before_streaming(lore_server: ServerProc) -> None:
    lore_server.add_user(EMAIL, PASSWORD)
    a = Api.login(lore_server.url, EMAIL, "a")
    assert a.push([frame("t:s", [b"c0"])])[0]["status"] == "ok"
    good = [{"session_id": "t:s", "generation": 1, "index": 0}] * 5
    bad_tails = [
        {"session_id": "t:" + "x" * 300_000, "generation": 1, "index": 0},
        {"session_id": "t:s", "generation": 2**63, "index": 0},
        {"session_id": "", "generation": 1, "index": 0},
    ]
    for tail in bad_tails:
        status, doc, _ = a.call("POST", "/v1/chunks", {"chunks": [*good, tail]})
        _assert_400(status, doc)
    # a lone surrogate after the first group of refs
    raw = json.dumps({"chunks": good})[:-2] + ', {"session_id": "t:\\ud800", ' \
        '"generation": 1, "index": 0}]}'
    status, doc, _ = a.call("POST", "/v1/chunks", raw.encode())
    _assert_400(status, doc)
    # the honest request still streams
    status, body, _ = a.call("POST", "/v1/chunks", {"chunks": good})
    assert status == 200
    frames = wire.decode_all(body, wire.CHUNK_MAGIC, "chunks")
    assert [p for _, p in frames] == [[b"c0"]] * 5


def test_delete_with_an_unstorable_id_is_a_400(lore_server: ServerProc) -> None:
    lore_server.add_user(EMAIL, PASSWORD)
    a = Api.login(lore_server.url, EMAIL, "a")
    for path in ("/v1/sessions/t:%ED%A0%80", "/v1/sessions/t:" + "x" * 5000):
        status, doc, _ = a.call("DELETE", path)
        assert status in (400, 404), (status, doc)
