"""Forks: a pulled session continued on this machine becomes a session of this machine.

Only the origin ever writes a session (PROTOCOL.md). When a transcript file here holds
another machine's session (restored by ``lorectl sessions restore``, or copied over by
hand) and grows, the grown transcript is captured as a **fork**: a new session owned by
this machine, with its own id, that records which session it came from. It syncs like
any own session; the origin's session is never touched.

Fork ids: ``<parent session id>@<first 8 hex digits of this machine's id>``, e.g.
``claude-code:3f2b9c1e-…@a1b2c3d4``. Stable: one fork per (parent, machine), so a file
that keeps growing keeps updating the same fork. A fork of a fork appends another
``@machine`` part.

The fork's identity travels **inside its payload**: a one-line header
``{"lore_fork":{"forked_from":…,"machine_id":…,"session_id":…,"v":1}}`` precedes the
tool's own bytes. Every machine re-parses payloads after a pull, and ``parse_payload``
reads this header (see :func:`apply_header`), so the fork's id and parent are recovered
from the payload alone, exactly like any other session's. The tool's file on disk never
contains the header.

Pure functions apart from :func:`resolve`, which reads the store.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lored.model import ParsedSession
from lored.store.db import digest

if TYPE_CHECKING:
    from lored.store import SourceState, Store

_MARK = b'{"lore_fork":'
_FORK_ID = re.compile(r"^(?P<parent>.+)@(?P<machine>[0-9a-f]{8})$")
#: kv key prefix under which restore records the digest of the file it wrote
RESTORED_PREFIX = "restored:"


def short_machine(machine_id: str) -> str:
    """The first 8 hex digits of a machine id (UUID dashes dropped)."""
    return machine_id.replace("-", "").lower()[:8]


def fork_id(parent: str, machine_id: str) -> str:
    """The id of this machine's fork of ``parent`` (stable)."""
    return f"{parent}@{short_machine(machine_id)}"


def is_own_fork(session_id: str, machine_id: str) -> bool:
    """True for ids this machine gives its forks."""
    m = _FORK_ID.match(session_id)
    return m is not None and m.group("machine") == short_machine(machine_id)


def fork_header(session_id: str, machine_id: str) -> bytes:
    """The payload header line of fork ``session_id`` (deterministic bytes)."""
    m = _FORK_ID.match(session_id)
    if m is None:
        raise ValueError(f"{session_id!r} is not a fork id")
    doc = {"lore_fork": {"forked_from": m.group("parent"), "machine_id": machine_id,
                         "session_id": session_id, "v": 1}}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def split_header(payload: bytes) -> tuple[dict[str, Any] | None, bytes]:
    """(fork info, the tool's bytes): info is None when the payload is not a fork's."""
    if not payload.startswith(_MARK):
        return None, payload
    end = payload.find(b"\n")
    line = payload if end < 0 else payload[:end]
    try:
        info = json.loads(line)["lore_fork"]
    except (ValueError, KeyError, TypeError):
        return None, payload
    if not isinstance(info, dict) or not isinstance(info.get("session_id"), str):
        return None, payload
    return info, (b"" if end < 0 else payload[end + 1:])


def forked_from(payload: bytes) -> str | None:
    """The parent session id recorded in a fork's payload (None for other sessions)."""
    info, _ = split_header(payload)
    parent = info.get("forked_from") if info else None
    return parent if isinstance(parent, str) else None


def apply_header(parsed: ParsedSession, info: dict[str, Any]) -> ParsedSession:
    """Give a session parsed from a fork's transcript the fork's id and parent."""
    sid = str(info["session_id"])
    parsed.session_id = sid
    parsed.native_id = sid.split(":", 1)[1] if ":" in sid else sid
    parent = info.get("forked_from")
    parsed.forked_from = parent if isinstance(parent, str) else None
    return parsed


def restored_key(path: str) -> str:
    """The kv key holding ``{"session_id","digest"}`` of the file restore wrote at path."""
    return RESTORED_PREFIX + path


@dataclass
class Held:
    """The file holds ``session_id`` (another machine's) as it was restored or copied."""

    session_id: str


@dataclass
class Fork:
    """The file continued another machine's session: capture this instead."""

    parsed: ParsedSession
    payload: bytes
    header: bytes


async def resolve(
    store: Store,
    machine_id: str,
    path: str,
    prev: SourceState | None,
    parsed: ParsedSession,
    payload: bytes,
    header: bytes,
) -> Held | Fork | None:
    """Decide what a changed transcript file holds; None = an ordinary own session.

    ``path`` is the file's source key, ``payload`` is ``header`` + the file's bytes.
    The session the file is known to hold is the one its source row names (restore
    records it; for a restored fork it differs from the id in the records), else the id
    parsed from the records. When that session is another machine's, the file is either
    still its copy (``Held``: identical to what restore wrote, or a prefix of the stored
    payload) or a continuation (``Fork``).
    """
    candidates = [parsed.session_id]
    if prev is not None and prev.session_id.startswith(parsed.session_id + "@"):
        candidates.insert(0, prev.session_id)  # a restored fork: its records name the root
    for base in candidates:
        state = await store.remote_state(base)
        if state is None or state.local:
            continue
        content = payload[len(header):]
        if await _is_copy(store, base, content, path):
            return Held(base)
        fid = fork_id(base, machine_id)
        fhead = fork_header(fid, machine_id)
        info, _ = split_header(fhead)
        assert info is not None
        return Fork(apply_header(parsed, info), fhead + payload, fhead + header)
    return None


async def _is_copy(store: Store, session_id: str, content: bytes, path: str) -> bool:
    """True when ``content`` is what restore wrote, or (part of) the stored transcript."""
    raw = await store.kv_get(restored_key(path))
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("session_id") == session_id \
            and doc.get("digest") == digest(content):
        return True
    _, stored = split_header(await store.load_payload(session_id))
    return stored.startswith(content)


async def resolve_rendered(
    store: Store, machine_id: str, key: str, parsed: ParsedSession, payload: bytes
) -> Held | Fork | None:
    """:func:`resolve` for rendered sources (Gemini JSON, OpenCode, Aider).

    Restore records the digest of exactly what capture renders for the restored
    session under ``restored:<source>#<id here>`` (the id may differ from the origin's:
    Aider's includes the history file's path). The same payload is still that session
    (``Held``); a different one continued it (``Fork``). Without a record, an ordinary
    capture (None).
    """
    raw = await store.kv_get(restored_key(f"{key}#{parsed.session_id}"))
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("session_id"), str):
        return None
    base = str(doc["session_id"])
    state = await store.remote_state(base)
    if state is None or state.local:
        return None
    if doc.get("digest") == digest(payload):
        return Held(base)
    fid = fork_id(base, machine_id)
    fhead = fork_header(fid, machine_id)
    info, _ = split_header(fhead)
    assert info is not None
    return Fork(apply_header(parsed, info), fhead + payload, fhead)
