"""Factory droid sessions (``~/.factory/sessions/<cwd slug>/<uuid>.jsonl``).

Append-only JSONL: a first ``{"type":"session_start", id, title, owner, cwd}`` line,
then ``{"type":"message", id, timestamp, message{role, content[…], model?}}`` with
Anthropic-style blocks (``text``, ``tool_use``, ``tool_result``, ``thinking``). droid
is closed source; the layout is from real session files as read by the cass connector
(Dicklesworthstone/franken_agent_detection ``src/connectors/factory.rs``), see
docs/formats.md. The payload is the file itself. A user message holding only tool
results is the tool speaking.
"""

from __future__ import annotations

from typing import Any

from lored.capture._common import (
    Notes,
    as_dict,
    as_list,
    as_str,
    flatten_text,
    iter_json_lines,
    norm_ts,
    span,
)
from lored.model import Message, ParsedSession

TOOL = "droid"


def _message(msg: dict[str, Any], ts: str | None) -> Message | None:
    role = msg.get("role")
    content = msg.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else as_list(content)
    texts, calls, results, thinking = [], [], [], []
    for b in blocks:
        b = as_dict(b)
        kind = b.get("type")
        if kind == "text":
            texts.append(flatten_text(b.get("text")))
        elif kind == "tool_use":
            calls.append({"id": as_str(b.get("id")), "name": as_str(b.get("name")),
                          "input": b.get("input")})
        elif kind == "tool_result":
            results.append({"tool_use_id": as_str(b.get("tool_use_id")),
                            "content": flatten_text(b.get("content")),
                            "is_error": bool(b.get("is_error", False))})
        elif kind == "thinking":
            thinking.append(flatten_text(b.get("thinking")))
    extra: dict[str, Any] = {}
    if calls:
        extra["tool_calls"] = calls
    if results:
        extra["tool_results"] = results
    if thinking:
        extra["thinking"] = "\n\n".join(t for t in thinking if t)
    if as_str(msg.get("model")):
        extra["model"] = msg["model"]
    text = "\n".join(t for t in texts if t)
    if role == "user":
        if results and not text.strip():
            return Message("tool", ts, "\n".join(str(r["content"]) for r in results), extra)
        return Message("user", ts, text, extra)
    if role == "assistant":
        return Message("assistant", ts, text, extra)
    return None


def parse(payload: bytes, source_hint: str | None = None) -> ParsedSession:
    """Parse a droid session file (pure; bad lines counted)."""
    notes = Notes()
    start_rec: dict[str, Any] = {}
    messages: list[Message] = []
    times: list[str | None] = []
    for lineno, rec in iter_json_lines(payload, notes):
        kind = rec.get("type")
        if not isinstance(kind, str):
            notes.bad(f"line {lineno}", "record without a string 'type'")
            continue
        ts = norm_ts(rec.get("timestamp"))
        times.append(ts)
        if kind == "session_start" and not start_rec:
            start_rec = rec
        elif kind == "message":
            m = _message(as_dict(rec.get("message")), ts)
            if m is None:
                notes.bad(f"line {lineno}", "message without a user or assistant role")
            else:
                messages.append(m)
        else:
            notes.unknown(str(kind))
    sid = as_str(start_rec.get("id")) or ""
    start, end = span(times)
    models = [m.extra["model"] for m in messages if isinstance(m.extra.get("model"), str)]
    bad, warnings = notes.finish()
    return ParsedSession(
        session_id=f"{TOOL}:{sid}", tool=TOOL, native_id=sid,
        project_path=as_str(start_rec.get("cwd")), started_at=start, ended_at=end,
        messages=messages, model=models[-1] if models else None,
        title=as_str(start_rec.get("title")), bad_records=bad, warnings=warnings)
