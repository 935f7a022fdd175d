"""Goose sessions (block/goose ``sessions.db``, and older ``*.jsonl``), as a canonical rendering.

Goose keeps sessions in SQLite (``~/.local/share/goose/sessions/sessions.db``; block/goose
``crates/goose/src/session/session_manager.rs``): ``sessions(id 'YYYYMMDD_N', name,
description, working_dir, created_at, updated_at, …)`` and ``messages(id, session_id,
role, content_json, created_timestamp, …)`` where ``content_json`` is a list of
``{type: text | toolRequest | toolResponse | thinking | …}``. Before the database it
wrote ``sessions/<id>.jsonl``: a metadata line (``working_dir``, ``description``) then one
message per line (``crates/goose/src/session/legacy.rs``). Both render to::

    {"format":"lore-goose-v1","messages":[{role, created, content[…]}…],"session":{…}}

Tool results come as user messages holding only ``toolResponse`` blocks: the tool
speaking, not the person. ``metadata_json`` (``MessageMetadata``, block/goose
``crates/goose/src/conversation/message.rs``) is ``{userVisible, agentVisible}``: a
user-role message Goose never showed the person (``userVisible: false``, e.g. the
summary it injects after compacting) is kept as context, not as their words.
``created_timestamp`` may be seconds or milliseconds.
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

TOOL = "goose"
FORMAT = "lore-goose-v1"


def render(session: dict[str, Any], messages: list[dict[str, Any]]) -> bytes:
    """The canonical payload of one session: its row and its messages in order."""
    return (canonical_json({"format": FORMAT, "session": session, "messages": messages})
            + "\n").encode()


def _result_text(block: dict[str, Any]) -> str:
    result = block.get("toolResult")
    value = result.get("value") if isinstance(result, dict) else result
    if isinstance(value, dict) and "content" in value:
        value = value["content"]
    return flatten_text(value)


def _message(rec: dict[str, Any]) -> Message | None:
    role = rec.get("role")
    content = rec.get("content")
    blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    thinking: list[str] = []
    for b in blocks:
        kind = b.get("type")
        if kind == "text":
            texts.append(flatten_text(b.get("text")))
        elif kind in ("toolRequest", "frontendToolRequest"):
            call = b.get("toolCall")
            value = call.get("value") if isinstance(call, dict) else None
            value = value if isinstance(value, dict) else {}
            calls.append({"id": as_str(b.get("id")), "name": as_str(value.get("name")),
                          "input": value.get("arguments")})
        elif kind == "toolResponse":
            results.append({"tool_use_id": as_str(b.get("id")), "content": _result_text(b),
                            "is_error": False})
        elif kind in ("thinking", "redactedThinking"):
            thinking.append(flatten_text(b.get("thinking") or b.get("text")))
    ts = norm_ts(rec.get("created"))
    extra: dict[str, Any] = {}
    if calls:
        extra["tool_calls"] = calls
    if results:
        extra["tool_results"] = results
    if thinking:
        extra["thinking"] = "\n\n".join(t for t in thinking if t)
    text = "\n".join(t for t in texts if t)
    if role == "user":
        if results and not text.strip():
            return Message("tool", ts, "\n".join(r["content"] for r in results), extra)
        meta = rec.get("metadata")
        if isinstance(meta, dict) and meta.get("userVisible") is False:
            extra["context"] = [text] if text else []
            return Message("user", ts, "", extra)  # Goose wrote it for the model
        return Message("user", ts, text, extra)
    if role == "assistant":
        return Message("assistant", ts, text, extra)
    return None


def parse(payload: bytes, source_hint: str | None = None) -> ParsedSession:
    """Parse one Goose session's canonical payload."""
    notes = Notes()
    doc = load_document(payload, FORMAT, notes)
    session = as_dict(doc.get("session"))
    sid = as_str(session.get("id")) or ""
    messages: list[Message] = []
    for n, rec in enumerate(as_list(doc.get("messages"))):
        m = _message(rec) if isinstance(rec, dict) else None
        if m is None:
            notes.bad(f"message {n}", "not a user or assistant message")
            continue
        messages.append(m)
    times = [m.timestamp for m in messages]
    times += [norm_ts(session.get("created_at")), norm_ts(session.get("updated_at"))]
    start, end = span(times)
    title = as_str(session.get("name")) or as_str(session.get("description"))
    bad, warnings = notes.finish()
    return ParsedSession(
        session_id=f"{TOOL}:{sid}", tool=TOOL, native_id=sid,
        project_path=as_str(session.get("working_dir")), started_at=start, ended_at=end,
        messages=messages, model=as_str(session.get("model")), title=title,
        bad_records=bad, warnings=warnings)
