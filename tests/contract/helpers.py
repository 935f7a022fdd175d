"""Small builders for the contract story: sealed-looking parts, headers, logins."""

from __future__ import annotations

import os
from typing import Any

from lorecloud.auth import Principal
from lorecloud.service import SyncService
from loreproto import wire

PASSWORD = "account-password-1"


def blob(n: int = 64) -> bytes:
    """Opaque "sealed" bytes (the server never opens them)."""
    return os.urandom(n)


def frame(sid: str, generation: int, first_index: int, chunks: list[bytes],
          info: bytes | None = None, **meta: Any) -> tuple[wire.PushHeader, list[bytes]]:
    """One push frame: header + [info, *chunks]."""
    info = info if info is not None else b"info-" + sid.encode()
    m: dict[str, Any] = {"tool": "claude-code", "project_path": "/p", "message_count": 3,
                         "payload_bytes": sum(len(c) for c in chunks)}
    m.update(meta)
    header = wire.PushHeader(sid, generation, first_index, first_index + len(chunks),
                             [len(info), *(len(c) for c in chunks)], m)  # type: ignore[arg-type]
    return header, [info, *chunks]


async def machine(svc: SyncService, email: str, machine_id: str,
                  password: str = PASSWORD) -> Principal:
    """Log a machine in and return its principal."""
    doc = await svc.login(email, password, machine_id, f"name-{machine_id}")
    return await svc.authenticate(doc["token"])


async def push_one(svc: SyncService, who: Principal, *frame_args: Any, **meta: Any
                   ) -> dict[str, Any]:
    """Push one session; -> its PushResult."""
    (result,) = await svc.push(who, [frame(*frame_args, **meta)])
    return result


async def feed(svc: SyncService, who: Principal, since: int = 0, limit: int = 500
               ) -> tuple[list[dict[str, Any]], int]:
    """The whole feed after ``since`` -> (entries, final cursor)."""
    out: list[dict[str, Any]] = []
    while True:
        page = await svc.changes(who, since, limit)
        out.extend(page["changes"])
        assert page["cursor"] >= since
        since = page["cursor"]
        if not page["more"]:
            return out, since
