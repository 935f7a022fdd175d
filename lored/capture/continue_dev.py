"""Continue sessions (``~/.continue/sessions/<id>.json``), as a canonical rendering.

Format read from continuedev/continue ``core/util/history.ts`` (the session files and
the ``sessions.json`` index), ``core/util/paths.ts`` (``CONTINUE_GLOBAL_DIR``) and
``core/index.d.ts`` (``Session``, ``ChatHistoryItem``, ``BaseSessionMetadata``):
a session is ``{sessionId, title, workspaceDirectory, history[], chatModelTitle?}``, each
history item ``{message{role, content}, contextItems, toolCallStates?, promptLogs?}``;
user content is a parts array (``{type:"text", text}``, ``imageUrl``), assistant content a
string. Roles ``user`` / ``assistant`` (+ ``thinking``, ``tool``, ``system`` in newer
builds). No per-message times: the start is the index's ``dateCreated`` (ms, as a
string). The file is rewritten whole on every save, so the payload is one line::

    {"format":"lore-continue-v1","index":{…}|null,"session":{…}}
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
    uri_path,
)
from lored.model import Message, ParsedSession

TOOL = "continue"
FORMAT = "lore-continue-v1"


def render(session: Any, index: Any) -> bytes:
    """The canonical payload of one session file plus its index entry (if any)."""
    return (canonical_json({"format": FORMAT, "session": session, "index": index}) + "\n").encode()


def _tool_calls(item: dict[str, Any]) -> list[dict[str, Any]]:
    calls = []
    msg = as_dict(item.get("message"))
    for call in as_list(msg.get("toolCalls")):
        if isinstance(call, dict):
            fn = as_dict(call.get("function"))
            calls.append({"id": as_str(call.get("id")), "name": as_str(fn.get("name")),
                          "input": fn.get("arguments")})
    return calls


def parse(payload: bytes, source_hint: str | None = None) -> ParsedSession:
    """Parse one Continue session's canonical payload."""
    notes = Notes()
    doc = load_document(payload, FORMAT, notes)
    session = as_dict(doc.get("session"))
    index = as_dict(doc.get("index"))
    sid = as_str(session.get("sessionId")) or as_str(index.get("sessionId")) or ""
    messages: list[Message] = []
    models: list[str] = []
    for n, item in enumerate(as_list(session.get("history"))):
        if not isinstance(item, dict) or not isinstance(item.get("message"), dict):
            notes.bad(f"history {n}", "not a chat history item")
            continue
        msg = item["message"]
        role = msg.get("role")
        text = flatten_text(msg.get("content"))
        extra: dict[str, Any] = {}
        for log in as_list(item.get("promptLogs")):
            if isinstance(log, dict) and as_str(log.get("modelTitle")):
                models.append(log["modelTitle"])
                extra["model"] = log["modelTitle"]
        if role == "user":
            messages.append(Message("user", None, text, extra))
        elif role == "assistant":
            calls = _tool_calls(item)
            if calls:
                extra["tool_calls"] = calls
            messages.append(Message("assistant", None, text, extra))
        elif role == "tool":
            extra["tool_results"] = [{"tool_use_id": as_str(msg.get("toolCallId")),
                                      "content": text, "is_error": False}]
            messages.append(Message("tool", None, text, extra))
        elif role == "thinking" and messages:
            messages[-1].extra["thinking"] = text
        elif role == "system":
            messages.append(Message("system", None, text, extra))
        else:
            notes.unknown(str(role))
    raw_start = index.get("dateCreated")
    if isinstance(raw_start, str) and raw_start.isdigit():
        raw_start = int(raw_start)
    start, end = span([norm_ts(raw_start)])
    if messages and start:
        messages[0].timestamp = start
    model = as_str(session.get("chatModelTitle")) or (models[-1] if models else None)
    title = as_str(session.get("title")) or as_str(index.get("title"))
    if title in ("New Session", "Untitled"):
        title = None
    project = (uri_path(session.get("workspaceDirectory"))
               or uri_path(index.get("workspaceDirectory")))
    bad, warnings = notes.finish()
    return ParsedSession(
        session_id=f"{TOOL}:{sid}", tool=TOOL, native_id=sid, project_path=project,
        started_at=start, ended_at=end, messages=messages, model=model, title=title,
        bad_records=bad, warnings=warnings)
