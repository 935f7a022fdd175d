"""Build Claude Code transcripts for sync tests and capture them into a machine's store."""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING

from lored.capture.registry import parse_payload

if TYPE_CHECKING:
    from lored.api import Lore


def native_id(name: str) -> str:
    """A stable UUID-looking native id for a test session name."""
    h = hashlib.sha256(name.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def session_id(name: str) -> str:
    """The Lore session id of test session ``name``."""
    return f"claude-code:{native_id(name)}"


def lines(name: str, count: int, *, start: int = 0, marker: str = "", pad: int = 0,
          project: str = "/home/dev/projects/webapp") -> bytes:
    """``count`` alternating user/assistant JSONL records; ``pad`` adds random-ish text
    (hex of random bytes: compresses only ~2x, so sizes stay realistic)."""
    sid = native_id(name)
    out = []
    for i in range(start, start + count):
        role = "user" if i % 2 == 0 else "assistant"
        text = f"{marker} message {i} of {name}"
        if pad:
            text += " " + os.urandom(pad // 2).hex()
        rec: dict[str, object] = {
            "type": role, "sessionId": sid, "cwd": project, "uuid": f"{sid[:8]}-{i}",
            "timestamp": f"2025-06-14T09:{(i // 60) % 60:02d}:{i % 60:02d}.000Z",
            "version": "1.0.98", "gitBranch": "main",
        }
        if role == "user":
            rec["message"] = {"role": "user", "content": text}
        else:
            rec["message"] = {"id": f"msg_{sid[:6]}_{i}", "role": "assistant",
                              "model": "claude-sonnet-4", "content": [{"type": "text",
                                                                      "text": text}]}
        out.append(json.dumps(rec) + "\n")
    return "".join(out).encode()


async def capture(lore: Lore, payload: bytes) -> str:
    """Store ``payload`` as a session captured on ``lore``'s machine; returns its id."""
    parsed = parse_payload("claude-code", payload)
    await lore.store.save_capture(parsed, payload, None, lore.settings.machine_id)
    return parsed.session_id


async def messages(lore: Lore, sid: str) -> list[tuple[str, str]]:
    """(role, text) of a stored session."""
    return [(m.role, m.text) for m in await lore.store.messages(sid)]
