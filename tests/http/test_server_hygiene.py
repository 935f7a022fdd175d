"""lore-server hygiene at the level an operator meets it (issue 16).

- ``--log-level debug`` never logs SQL parameters: no Argon2 hash, token hash, token,
  password or sealed bytes reach the log, though every statement ran at DEBUG.
- The data dir is 0700 and ``lore.db`` 0600 whatever the umask (even umask 0, and a
  data dir made beforehand with 0755).
- A client that disconnects mid-request is one quiet line, not an "unhandled error"
  traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import time
from pathlib import Path
from urllib.parse import urlsplit

from loreproto import wire
from tests.http.client import PASSWORD, Api, frame
from tests.serverproc import start_server

EMAIL = "dev@example.com"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _disconnect_mid_push(url: str, token: str) -> None:
    body = wire.encode_push([frame("t:cut", [os.urandom(300_000)])])
    parts = urlsplit(url)
    _, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"POST /v1/push HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: {wire.PUSH_CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body[: len(body) // 2])
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def test_debug_logs_hold_no_sql_parameters_and_files_are_private(
    tmp_path: Path,
) -> None:
    (tmp_path / "server-data").mkdir(mode=0o755)
    os.chmod(tmp_path / "server-data", 0o755)
    old = os.umask(0)
    try:
        srv = start_server(tmp_path, extra_args=["--log-level", "debug"])
    finally:
        os.umask(old)
    try:
        srv.add_user(EMAIL, PASSWORD)
        api = Api.login(srv.url, EMAIL, "a")
        marker = b"SEALED-BYTES-MARKER-" + os.urandom(8).hex().encode()
        assert api.push([frame("t:s", [marker])])[0]["status"] == "ok"
        status, _, _ = api.call("GET", "/v1/account")
        assert status == 200
        assert _mode(srv.data_dir) == 0o700
        for name in ("lore.db", "lore.db-wal", "lore.db-shm"):
            if (srv.data_dir / name).exists():
                assert _mode(srv.data_dir / name) == 0o600, name
        await _disconnect_mid_push(srv.url, api.token)
        deadline = time.monotonic() + 10
        # the access line comes after the handler and any aiohttp traceback would
        while '"status": 499' not in srv.logs() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        logs = srv.logs()
        assert '"level": "debug"' in logs  # debug logging really was on
        token_hash = hashlib.sha256(api.token.encode()).hexdigest()
        for secret in ("$argon2", token_hash, api.token, PASSWORD, marker.decode(),
                       "functools.partial"):
            assert secret not in logs, secret
        assert "client disconnected" in logs
        assert "unhandled error" not in logs and "Traceback" not in logs
        assert "Error handling request" not in logs and '"status": 500' not in logs
        assert api.push([frame("t:after", [b"z"])])[0]["status"] == "ok"
    finally:
        srv.stop()
