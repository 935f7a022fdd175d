"""Fuzzing the server and the daemon with hostile input.

- schemathesis against `/v1/openapi.json` (every JSON operation; logout excluded so the
  token survives, push covered below): no 5xx, answers conform to the schema;
- hypothesis-generated push bodies (garbage, mangled frames, hostile headers, lying
  sizes) against a running server: never a 5xx, and a refused request commits nothing;
- hypothesis-generated raw bytes on lored's IPC socket: lored keeps answering.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loreproto import wire
from tests.faults.common import EMAIL, PASSWORD, Daemon, LorectlMachine, record
from tests.http.client import Api, call, frame
from tests.serverproc import ServerProc, start_server

SCHEMATHESIS = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    """One SQLite server for the module's fuzzers."""
    srv = start_server(tmp_path_factory.mktemp("fuzz"))
    try:
        srv.add_user(EMAIL, PASSWORD)
        yield srv
    finally:
        srv.stop()


def test_schemathesis_against_the_openapi_document(server: ServerProc, tmp_path: Path) -> None:
    if not Path(SCHEMATHESIS).exists():
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    api = Api.login(server.url, EMAIL, "m-schemathesis")
    report = tmp_path / "junit.xml"
    out = subprocess.run([
        SCHEMATHESIS, "run", server.url + "/v1/openapi.json",
        "--checks", "not_a_server_error,response_schema_conformance",
        "--exclude-path", "/v1/logout", "--exclude-path", "/v1/push",
        "--exclude-path", "/v1/account/reset",
        "-n", "25", "--seed", "9", "--generation-database", "none",
        "-H", f"Authorization: Bearer {api.token}", "--request-timeout", "20",
        "--report", "junit", "--report-junit-path", str(report),
    ], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "Authentication failed" not in out.stdout  # the operations really ran
    tested = out.stdout.split("Test cases:")[-1].split("generated")[0].strip()
    record({"suite": "fuzz/schemathesis", "cases": int(tested or 0), "server_errors": 0})


def _frames() -> st.SearchStrategy[bytes]:
    """Push bodies: well-formed ones with hostile fields, mangled ones, and garbage."""
    sid = st.one_of(st.just("claude-code:fuzz"), st.text(max_size=40),
                    st.sampled_from(["", "x" * 5000, "../../etc", "claude-code:\x00"]))
    num = st.one_of(st.integers(-3, 5), st.just(2**63), st.none(), st.text(max_size=3))
    header = st.fixed_dictionaries({
        "session_id": sid, "generation": num, "first_index": num, "chunk_count": num,
        "sizes": st.one_of(st.lists(st.integers(-1, 64), max_size=4), st.text(max_size=3)),
        "meta": st.one_of(st.dictionaries(st.text(max_size=8), st.integers() | st.text(
            max_size=8), max_size=3), st.none(), st.integers()),
    })

    @st.composite
    def structured(draw: Any) -> bytes:
        h = draw(header)
        hb = json.dumps(h).encode()
        sizes = h["sizes"] if isinstance(h["sizes"], list) else []
        parts = [draw(st.binary(max_size=max(0, s))) for s in sizes if isinstance(s, int)]
        body = wire.PUSH_MAGIC + len(hb).to_bytes(4, "big") + hb + b"".join(parts)
        if draw(st.booleans()):
            body += wire.END_MARKER
        return body

    @st.composite
    def mangled(draw: Any) -> bytes:
        good = wire.encode_push([frame("claude-code:fuzz-ok", [b"x" * 40])])
        pos = draw(st.integers(0, len(good) - 1))
        cut = draw(st.booleans())
        if cut:
            return good[:pos]
        return good[:pos] + bytes([good[pos] ^ draw(st.integers(1, 255))]) + good[pos + 1:]

    return st.one_of(st.binary(max_size=300), structured(), mangled(),
                     st.builds(lambda b: wire.PUSH_MAGIC + b, st.binary(max_size=200)))


def test_hostile_push_bodies_never_5xx_and_never_commit_partially(server: ServerProc) -> None:
    api = Api.login(server.url, EMAIL, "m-fuzz-push")
    reader = Api.login(server.url, EMAIL, "m-fuzz-reader")  # the feed hides one's own
    seen = {"requests": 0, "refused": 0, "accepted": 0}

    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(body=_frames())
    def one(body: bytes) -> None:
        _, cursor = reader.feed()
        status, doc, _ = api.call("POST", "/v1/push", body, wire.PUSH_CONTENT_TYPE)
        seen["requests"] += 1
        assert status < 500, (status, doc)
        after, _ = reader.feed(cursor)
        if status != 200:
            seen["refused"] += 1
            assert isinstance(doc, dict) and doc["error"]["message"], doc
            assert after == [], after  # a refused request commits nothing
        else:
            seen["accepted"] += 1
            ok = {r["session_id"] for r in doc["results"] if r["status"] == "ok"}
            assert {e["session_id"] for e in after} == ok  # exactly what it said

    one()
    status, doc, _ = call(server.url, "GET", "/healthz")
    assert status == 200
    record({"suite": "fuzz/push", **seen, "server_errors": 0})


def test_hostile_bytes_on_the_ipc_socket_never_stop_lored(tmp_path: Path) -> None:
    m = LorectlMachine(tmp_path, "ipc")
    lored = Daemon(m)
    lored.start()
    sent = {"requests": 0}
    try:
        prefixes = st.sampled_from([b"", b"POST /v1/sync HTTP/1.1\r\nContent-Length: ",
                                    b"GET /v1/", b"POST /v1/pause HTTP/1.1\r\n\r\n"])

        @settings(max_examples=60, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(prefix=prefixes, junk=st.binary(max_size=400))
        def one(prefix: bytes, junk: bytes) -> None:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(10)
                s.connect(str(lored.socket))
                s.sendall(prefix + junk)
                s.shutdown(socket.SHUT_WR)
                try:
                    while s.recv(65536):
                        pass
                except OSError:
                    pass
            sent["requests"] += 1
            assert lored.answers()

        one()
        m.json("status")  # lorectl still gets a full answer through lored
        assert lored.proc is not None and lored.proc.poll() is None
        assert "Traceback" not in lored.log.read_text(errors="replace")
    finally:
        lored.stop()
    record({"suite": "fuzz/ipc", **sent, "crashes": 0})


def test_regression_changes_since_beyond_bigint_is_400_not_500(server: ServerProc) -> None:
    """`GET /v1/changes?since=2**66` overflowed the database integer and answered 500
    (found by schemathesis)."""
    api = Api.login(server.url, EMAIL, "m-regress-changes")
    for query in ("since=114102749793738719232", "limit=9223372036854775808"):
        status, doc, _ = api.call("GET", f"/v1/changes?{query}")
        assert status == 400 and "2**63" in doc["error"]["message"], (query, doc)


def test_regression_chunk_ref_beyond_int32_is_400_not_a_broken_stream(
        server: ServerProc) -> None:
    """A chunk ref with index 2**63 past the first fetch group failed mid-stream (a 500
    written into a chunked answer: a broken response) (found by schemathesis)."""
    api = Api.login(server.url, EMAIL, "m-regress-chunks")
    refs = [{"session_id": "s", "generation": 0, "index": 0}] * 5
    for big in (2**31, 2**63):
        body = {"chunks": [*refs, {"session_id": "s", "generation": 0, "index": big}]}
        status, doc, _ = api.call("POST", "/v1/chunks", body)
        # refused before anything streams (by the ref check, or earlier by the JSON bounds)
        assert status == 400 and doc["error"]["code"] == "bad_request", doc


def test_every_route_of_the_api_is_in_the_openapi_document() -> None:
    """schemathesis exercises only what the document lists: every /v1 route is in it."""
    from types import SimpleNamespace

    from lorecloud.app import create_app
    from lorecloud.config import ServerConfig
    from lorecloud.limits import LocalLimits
    from lorecloud.openapi import openapi_document

    stub = SimpleNamespace(config=ServerConfig(), backend=SimpleNamespace(limits=LocalLimits()))
    app = create_app(stub,  # type: ignore[arg-type]
                     dashboard=False)  # the route table only; nothing is served
    served = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if (path.startswith("/v1/") or path == "/healthz") and route.method != "HEAD":
            served.add((route.method.lower(), path.replace(":.+", "")))
    documented = {(method, path) for path, ops in openapi_document()["paths"].items()
                  for method in ops}
    assert served == documented


def _shares(api: Api) -> list[dict[str, Any]]:
    status, doc, _ = api.call("GET", "/v1/shares")
    assert status == 200
    shares: list[dict[str, Any]] = doc["shares"]
    return shares


def test_hostile_share_uploads_and_machine_names_never_5xx_or_half_commit(
        server: ServerProc) -> None:
    """Every query parameter and body of POST /v1/shares and PUT /v1/machine, hostile."""
    from urllib.parse import quote

    api = Api.login(server.url, EMAIL, "m-fuzz-shares")
    api.push([frame("claude-code:fuzz-share", [b"sealed"])])
    seen = {"requests": 0, "refused": 0, "accepted": 0}
    text = st.one_of(st.text(max_size=30), st.sampled_from(
        ["", "claude-code:fuzz-share", "A" * 22, "%00", "9" * 30, "-1", "0", "7776001"]))

    @settings(max_examples=80, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(share_id=st.one_of(text, st.from_regex(r"\A[A-Za-z0-9_-]{22}\Z")),
           session_id=st.one_of(st.just("claude-code:fuzz-share"), text),
           expires=st.one_of(st.none(), text, st.integers(-5, 2**64)),
           body=st.one_of(st.binary(min_size=41, max_size=200), st.binary(max_size=40)))
    def share(share_id: str, session_id: str, expires: object, body: bytes) -> None:
        before = _shares(api)
        query = f"share_id={quote(share_id)}&session_id={quote(session_id)}"
        if expires is not None:
            query += f"&expires_in={quote(str(expires))}"
        status, doc, _ = api.call("POST", f"/v1/shares?{query}", body,
                                  "application/octet-stream")
        seen["requests"] += 1
        assert status < 500, (status, doc)
        after = _shares(api)
        if status == 201:
            seen["accepted"] += 1
            assert len(after) == len(before) + 1 and doc["share_id"] == share_id
        else:
            seen["refused"] += 1
            assert after == before and doc["error"]["message"]  # nothing stored

    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(name=st.one_of(st.text(max_size=100), st.integers(), st.none(),
                          st.lists(st.text(max_size=3), max_size=2),
                          st.sampled_from(["\x00\x01", " \t ", "x" * 5000, "\ud800"])))
    def rename(name: object) -> None:
        status, doc, _ = api.call("GET", "/v1/account")
        was = doc["machine"]["name"]
        try:
            payload = json.dumps({"name": name}).encode()
        except ValueError:
            return
        status, doc, _ = api.call("PUT", "/v1/machine", payload)
        seen["requests"] += 1
        assert status < 500, (status, doc)
        now = api.call("GET", "/v1/account")[1]["machine"]["name"]
        if status == 200:
            assert now == doc["machine"]["name"] and 1 <= len(now) <= 64
        else:
            assert status == 400 and now == was  # refused: the name did not change

    share()
    rename()
    record({"suite": "fuzz/shares+machine", **seen, "server_errors": 0})
