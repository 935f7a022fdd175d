"""Cursor composer conversations (``state.vscdb``), as a canonical rendering.

Cursor keeps chats in its global SQLite ``globalStorage/state.vscdb``, table
``cursorDiskKV``: ``composerData:<composerId>`` (``name``, ``createdAt`` /
``lastUpdatedAt`` ms, ``modelConfig.modelName``, ``fullConversationHeadersOnly[{bubbleId,
type}]``; before 2025 an inline ``conversation[]``) and ``bubbleId:<composerId>:<bubbleId>``
(``type`` 1 user / 2 assistant, ``text``, ``toolFormerData{name, …}``,
``timingInfo.clientRpcSendTime`` ms). The project comes from a workspace's
``workspaceStorage/<hash>/state.vscdb`` (``ItemTable['composer.composerData']
.allComposers[].composerId``) and its ``workspace.json`` folder. Layout established
from real databases described in docs/formats.md (Cursor is closed source; peers:
kenn-io/agentsview ``internal/parser/cursor_provider.go``). The payload is one line::

    {"bubbles":[…],"composer":{…},"folder":"/path"|null,"format":"lore-cursor-v1"}

Only conversation fields are copied: the database also holds login tokens
(``ItemTable['cursorAuth/…']``), which are never read.
"""

from __future__ import annotations

from typing import Any

from lored.capture._common import (
    Notes,
    as_dict,
    as_list,
    as_str,
    canonical_json,
    flatten_text,
    load_document,
    norm_ts,
    span,
)
from lored.model import Message, ParsedSession

TOOL = "cursor"
FORMAT = "lore-cursor-v1"
COMPOSER_KEYS = ("composerId", "name", "createdAt", "lastUpdatedAt", "unifiedMode",
                 "modelConfig", "fullConversationHeadersOnly", "conversation", "status")
BUBBLE_KEYS = ("bubbleId", "type", "text", "toolFormerData", "timingInfo", "createdAt",
               "modelInfo", "thinking")


def pick(obj: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The conversation fields of a composer or bubble record (nothing else is copied)."""
    return {k: obj[k] for k in keys if obj.get(k) is not None}


def render(composer: dict[str, Any], bubbles: list[dict[str, Any]], folder: str | None) -> bytes:
    """The canonical payload of one composer with its bubbles in conversation order."""
    return (canonical_json({"format": FORMAT, "composer": pick(composer, COMPOSER_KEYS),
                            "bubbles": [pick(b, BUBBLE_KEYS) for b in bubbles],
                            "folder": folder}) + "\n").encode()


def _bubble(b: dict[str, Any]) -> Message | None:
    timing = as_dict(b.get("timingInfo"))
    ts = norm_ts(timing.get("clientRpcSendTime")) or norm_ts(b.get("createdAt"))
    text = flatten_text(b.get("text"))
    tool = b.get("toolFormerData") if isinstance(b.get("toolFormerData"), dict) else None
    kind = b.get("type")
    if kind in (1, "user"):
        return Message("user", ts, text)
    if kind in (2, "ai", "assistant"):
        extra: dict[str, Any] = {}
        if tool:
            extra["tool_calls"] = [{"id": as_str(tool.get("toolCallId")),
                                    "name": as_str(tool.get("name")),
                                    "input": tool.get("rawArgs") or tool.get("params")}]
        thinking = b.get("thinking")
        if isinstance(thinking, dict) and as_str(thinking.get("text")):
            extra["thinking"] = thinking["text"]
        if not text and not extra:
            return None  # an empty streaming placeholder
        return Message("assistant", ts, text, extra)
    return None


def parse(payload: bytes, source_hint: str | None = None) -> ParsedSession:
    """Parse one composer's canonical payload."""
    notes = Notes()
    doc = load_document(payload, FORMAT, notes)
    composer = as_dict(doc.get("composer"))
    cid = as_str(composer.get("composerId")) or ""
    records = as_list(doc.get("bubbles")) or as_list(composer.get("conversation"))
    messages = []
    for n, b in enumerate(records):
        m = _bubble(b) if isinstance(b, dict) else None
        if m is None:
            if not isinstance(b, dict) or b.get("type") not in (2, "ai", "assistant"):
                notes.bad(f"bubble {n}", "neither a user nor an assistant bubble")
            continue
        messages.append(m)
    start, end = span([m.timestamp for m in messages] + [
        norm_ts(composer.get("createdAt")), norm_ts(composer.get("lastUpdatedAt"))])
    config = as_dict(composer.get("modelConfig"))
    bad, warnings = notes.finish()
    return ParsedSession(
        session_id=f"{TOOL}:{cid}", tool=TOOL, native_id=cid,
        project_path=as_str(doc.get("folder")), started_at=start, ended_at=end,
        messages=messages, model=as_str(config.get("modelName")),
        title=as_str(composer.get("name")), bad_records=bad, warnings=warnings)
