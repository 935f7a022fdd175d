"""The IPC server on a real Unix socket, with a stand-in daemon (a real class, not a mock).

Talks to it through the real light client (lorectl/ipc_client.py) and through raw
sockets for the hostile cases; also covers the flock / stale-socket / permission rules.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from lorectl.ipc_client import DaemonClient, DaemonUnavailable, try_daemon
from lored.daemon.cycles import CycleKind, CycleRunner, ProgressFn
from lored.daemon.ipc.runtime import (
    InstanceLock,
    bind_socket,
    ensure_private_dir,
    remove_socket,
    socket_inode,
)
from lored.daemon.ipc.server import IpcServer
from lored.errors import AlreadyRunning, DaemonError, EncryptionNotConfigured
from lored.peers import peer_uid


class StandInDaemon:
    """Implements DaemonApi with a single-flight runner around a gated cycle."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.runs = 0
        self.fail = False
        self.paused = False
        self.stopping = False
        self.runner = CycleRunner(self._cycle)

    async def _cycle(self, kind: CycleKind, progress: ProgressFn) -> dict[str, Any]:
        self.runs += 1
        progress({"event": "phase", "phase": "pull"})
        await self.gate.wait()
        progress({"event": "phase", "phase": "push"})
        if self.fail:
            raise EncryptionNotConfigured()
        if kind.mode == "sync":
            return {"pull": {"pulled": 0}, "push": {"pushed": self.runs}}
        return {"mode": kind.mode, "run": self.runs}

    def health(self) -> dict[str, Any]:
        return {"ok": True, "pid": os.getpid()}

    async def status(self) -> dict[str, Any]:
        return {"daemon": {"running": True, "paused": self.paused, "cycles": self.runs}}

    async def sync(self, kind: CycleKind, progress: ProgressFn) -> dict[str, Any]:
        return await self.runner.request(kind, progress)

    def pause(self) -> dict[str, Any]:
        self.paused = True
        return {"paused": True}

    def resume(self) -> dict[str, Any]:
        self.paused = False
        return {"paused": False}

    async def reload(self) -> dict[str, Any]:
        return {"reloaded": True}

    def shutdown(self) -> dict[str, Any]:
        self.stopping = True
        return {"stopping": True}


@pytest.fixture
def sockdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="lore-ipc-", dir="/tmp")) / "run"
    yield path
    shutil.rmtree(path.parent, ignore_errors=True)


@pytest.fixture
async def served(sockdir: Path) -> AsyncIterator[tuple[StandInDaemon, Path]]:
    ensure_private_dir(sockdir)
    lock = InstanceLock(sockdir / "lored.lock")
    lock.acquire()
    path = sockdir / "lored.sock"
    sock = bind_socket(path)
    inode = socket_inode(path)
    api = StandInDaemon()
    server = IpcServer(api, sock)
    await server.start()
    yield api, path
    await server.stop()
    remove_socket(path, inode)
    lock.release()


def _raw(path: Path, data: bytes) -> tuple[int, dict[str, Any]]:
    """Send raw bytes and read one HTTP answer; returns (status, JSON body).

    The write side stays open (a half-close makes aiohttp drop the connection).
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(os.fspath(path))
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, f"connection closed before a response: {buf!r}"
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:])
        }
        if headers.get(b"transfer-encoding") == b"chunked":
            while not body.endswith(b"0\r\n\r\n"):
                body += s.recv(65536)
            decoded = b""
            while True:
                size_line, _, rest = body.partition(b"\r\n")
                size = int(size_line, 16)
                if size == 0:
                    break
                decoded, body = decoded + rest[:size], rest[size + 2:]
            body = decoded
        else:
            length = int(headers[b"content-length"])
            while len(body) < length:
                body += s.recv(65536)
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


async def _in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


async def test_socket_and_dir_are_private(served: tuple[StandInDaemon, Path]) -> None:
    _, path = served
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


async def test_json_endpoints(served: tuple[StandInDaemon, Path]) -> None:
    api, path = served
    client = DaemonClient(path)
    assert (await _in_thread(client.call, "GET", "/health"))["ok"] is True
    assert (await _in_thread(client.call, "POST", "/pause"))["paused"] is True
    assert api.paused
    status = await _in_thread(try_daemon, path, "status")
    assert status == {"daemon": {"running": True, "paused": True, "cycles": 0}}
    assert (await _in_thread(client.call, "POST", "/resume"))["paused"] is False
    assert (await _in_thread(client.call, "POST", "/reload"))["reloaded"] is True
    assert (await _in_thread(client.call, "POST", "/shutdown"))["stopping"] is True


async def test_sync_streams_progress_then_result(served: tuple[StandInDaemon, Path]) -> None:
    _, path = served
    events: list[dict[str, Any]] = []
    result = await _in_thread(try_daemon, path, "push", progress=events.append)
    assert result == {"mode": "push", "run": 1}
    assert [e["phase"] for e in events] == ["pull", "push"]


async def test_concurrent_syncs_share_one_cycle(served: tuple[StandInDaemon, Path]) -> None:
    api, path = served
    api.gate.clear()
    first = asyncio.ensure_future(_in_thread(try_daemon, path, "sync"))
    while api.runner.current is None:
        await asyncio.sleep(0.01)
    second = asyncio.ensure_future(_in_thread(try_daemon, path, "sync"))
    while api.runner.current.joined < 2:
        await asyncio.sleep(0.01)
    api.gate.set()
    assert await first == await second == {"pull": {"pulled": 0}, "push": {"pushed": 1}}
    assert api.runs == 1


async def test_sync_error_comes_back_as_the_same_error(
    served: tuple[StandInDaemon, Path],
) -> None:
    api, path = served
    api.fail = True
    with pytest.raises(EncryptionNotConfigured) as info:
        await _in_thread(try_daemon, path, "sync")
    assert "lorectl push" in (info.value.fix or "")


def _post(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
            .encode() + body)


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        # issue 16: deep JSON (RecursionError) and 5,000-digit integers were 500s
        (_post("/v1/sync", b'{"mode": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"), 400,
         "bad_request"),
        (_post("/v1/sync", b'{"mode": "sync", "all": ' + b"9" * 5000 + b"}"), 400,
         "bad_request"),
        (_post("/v1/pause", b'{"x": ' + b"1" * 21 + b"}"), 400, "bad_request"),
        (b"\x16\x03\x01\x02\x00garbage\r\n\r\n", 400, "bad_request"),
        (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400,
         "bad_request"),
        (b'POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n{"mode": "sy', 400,
         "bad_request"),
        (b'POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n{"mode":"backup"}',
         400, "usage"),
        (b"GET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not_found"),
        (b"DELETE /v1/status HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed"),
        # aiohttp's HTTP parser rejects unknown method tokens before routing
        (b"BREW /v1/sync HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"),
        (b"GET /v1/sync HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed"),
        (b"POST /v1/pause HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n[1]", 400,
         "bad_request"),
    ],
)
async def test_hostile_requests_get_json_4xx_and_server_keeps_serving(
    served: tuple[StandInDaemon, Path], request_bytes: bytes, status: int, code: str
) -> None:
    _, path = served
    got_status, doc = await _in_thread(_raw, path, request_bytes)
    assert got_status == status
    assert doc["error"]["code"] == code and doc["error"]["message"]
    assert (await _in_thread(DaemonClient(path).call, "GET", "/health"))["ok"] is True


async def test_huge_body_is_refused_with_413(served: tuple[StandInDaemon, Path]) -> None:
    _, path = served
    body = b"x" * (1024 * 1024)
    head = b"POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    got_status, doc = await _in_thread(_raw, path, head + body)
    assert got_status == 413
    assert doc["error"]["code"] == "too_large"
    head = b"POST /v1/sync HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in [b"y" * 40000] * 3) + b"0\r\n\r\n"
    got_status, doc = await _in_thread(_raw, path, head + chunks)
    assert got_status == 413
    assert (await _in_thread(DaemonClient(path).call, "GET", "/health"))["ok"] is True


async def test_foreign_uid_is_refused(sockdir: Path) -> None:
    ensure_private_dir(sockdir)
    path = sockdir / "lored.sock"
    server = IpcServer(StandInDaemon(), bind_socket(path), allowed_uid=os.getuid() + 4242)
    await server.start()
    try:
        request = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
        got_status, doc = await _in_thread(_raw, path, request)
        assert got_status == 403 and doc["error"]["code"] == "forbidden"
    finally:
        await server.stop()


def test_peer_uid_of_a_socketpair_is_ours() -> None:
    a, b = socket.socketpair()
    with a, b:
        assert peer_uid(a) == os.getuid()
    assert peer_uid(object()) is None


def test_second_lock_names_the_holder(sockdir: Path) -> None:
    ensure_private_dir(sockdir)
    first = InstanceLock(sockdir / "lored.lock")
    first.acquire()
    try:
        with pytest.raises(AlreadyRunning, match=rf"already running \(pid {os.getpid()}\)"):
            InstanceLock(sockdir / "lored.lock").acquire()
    finally:
        first.release()
    again = InstanceLock(sockdir / "lored.lock")
    again.acquire()  # released locks can be taken again
    again.release()


def test_stale_socket_is_replaced_but_a_live_one_is_not(sockdir: Path) -> None:
    ensure_private_dir(sockdir)
    path = sockdir / "lored.sock"
    stale = bind_socket(path)
    stale.close()  # a crashed daemon: the file stays, nobody listens
    assert path.exists()
    live = bind_socket(path)
    live.listen()
    try:
        with pytest.raises(AlreadyRunning):
            bind_socket(path)
        assert path.exists()
    finally:
        live.close()
    remove_socket(path, inode=12345)  # not our inode: left alone
    assert path.exists()
    remove_socket(path, socket_inode(path))
    assert not path.exists()


def test_client_reports_absent_daemon(sockdir: Path) -> None:
    ensure_private_dir(sockdir)
    path = sockdir / "lored.sock"
    assert try_daemon(path, "status") is None  # no socket file
    bind_socket(path).close()  # stale file, nobody listening
    assert try_daemon(path, "sync") is None
    with pytest.raises(DaemonUnavailable):
        DaemonClient(path).call("GET", "/health")


def test_private_dir_is_tightened(sockdir: Path) -> None:
    sockdir.mkdir(mode=0o755)
    os.chmod(sockdir, 0o755)
    ensure_private_dir(sockdir)
    assert stat.S_IMODE(sockdir.stat().st_mode) == 0o700


def _one_shot_server(path: Path, answer: bytes) -> None:
    """A fake daemon that reads one request and answers ``answer`` verbatim."""
    import threading

    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(answer)
        srv.close()

    threading.Thread(target=serve, daemon=True).start()


def test_client_treats_a_non_http_answer_as_no_daemon(sockdir: Path) -> None:
    ensure_private_dir(sockdir)
    path = sockdir / "fake.sock"
    _one_shot_server(path, b"SSH-2.0-OpenSSH\r\n")
    assert try_daemon(path, "status") is None


def test_client_decodes_chunked_ndjson_and_error_events(sockdir: Path) -> None:
    ensure_private_dir(sockdir)
    path = sockdir / "fake.sock"
    lines = [b'{"event":"push","done":1}\n',
             b'{"event":"error","error":{"code":"wrong_key","message":"nope","hint":"h"}}\n']
    body = b"".join(b"%x\r\n%s\r\n" % (len(x), x) for x in lines) + b"0\r\n\r\n"
    _one_shot_server(path, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    events: list[dict[str, Any]] = []
    from lored.errors import WrongKey

    with pytest.raises(WrongKey, match="nope"):
        try_daemon(path, "push", progress=events.append)
    assert events == [{"event": "push", "done": 1}]


def test_client_reports_a_stream_cut_short(sockdir: Path) -> None:

    ensure_private_dir(sockdir)
    path = sockdir / "fake.sock"
    _one_shot_server(path, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b'1a\r\n{"event":"push","done":1}\n\r\n')
    with pytest.raises(DaemonError, match="stopped during the sync"):
        try_daemon(path, "sync")


def test_a_symlinked_runtime_dir_is_refused(tmp_path: Path) -> None:
    """A symlink planted at the predictable short-socket path must not be followed."""
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o755)
    link = tmp_path / "lore-run"
    link.symlink_to(target)
    with pytest.raises(DaemonError, match="not a directory"):
        ensure_private_dir(link)
    assert stat.S_IMODE(target.stat().st_mode) == 0o755  # untouched
