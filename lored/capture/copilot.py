"""GitHub Copilot Chat sessions in VS Code (``chatSessions/*.json`` / ``*.jsonl``).

Format read from microsoft/vscode ``src/vs/workbench/contrib/chat/common/model/
chatSessionStore.ts`` (where sessions are written) and ``objectMutationLog.ts`` (the
JSONL log): a session is ``{version, sessionId, creationDate, lastMessageDate,
customTitle?, requests[{requestId, timestamp, message{text}, response[items], modelId?,
result{metadata{resolvedModel}}}]}``; response items are markdown ``{value}`` or
``{kind: toolInvocationSerialized | thinking | …}``. The newer ``.jsonl`` is an operation
log: ``{"kind":0,"v":snapshot}`` then ``kind`` 1 set / 2 push (``i`` = splice index) /
3 delete at key path ``k``; :func:`replay` rebuilds the session. The payload is the
rebuilt session, one line::

    {"folder":"/path"|null,"format":"lore-copilot-v1","session":{…}}
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

TOOL = "copilot-chat"
FORMAT = "lore-copilot-v1"


def replay(lines: list[Any]) -> Any:
    """The value an operation log ends with (bad operations are skipped)."""
    state: Any = None
    for op in lines:
        if not isinstance(op, dict):
            continue
        kind, path = op.get("kind"), op.get("k")
        if kind == 0:
            state = op.get("v")
            continue
        if not isinstance(path, list) or not path:
            continue
        parent = state
        try:
            for key in path[:-1]:
                parent = parent[key]
            last = path[-1]
            if kind == 1:
                parent[last] = op.get("v")
            elif kind == 2:
                target = parent[last]
                values = op.get("v") if isinstance(op.get("v"), list) else []
                if isinstance(op.get("i"), int):
                    target[op["i"]:] = values
                else:
                    target.extend(values)
            elif kind == 3:
                del parent[last]
        except (KeyError, IndexError, TypeError):
            continue
    return state


def render(session: Any, folder: str | None) -> bytes:
    """The canonical payload of one (rebuilt) session."""
    return (canonical_json({"format": FORMAT, "session": session, "folder": folder})
            + "\n").encode()


def _response(items: Any) -> tuple[str, dict[str, Any]]:
    texts: list[str] = []
    extra: dict[str, Any] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("kind")
        if kind is None and "value" in item:
            texts.append(flatten_text(item.get("value")))
        elif kind == "markdownContent":
            texts.append(flatten_text(item.get("content")))
        elif kind in ("toolInvocationSerialized", "toolInvocation"):
            msg = item.get("invocationMessage")
            extra.setdefault("tool_calls", []).append({
                "id": as_str(item.get("toolCallId")), "name": as_str(item.get("toolId")),
                "input": flatten_text(msg.get("value") if isinstance(msg, dict) else msg)})
        elif kind == "thinking":
            thought = flatten_text(item.get("value"))
            if thought:
                extra["thinking"] = thought
    return "".join(texts).strip(), extra


def parse(payload: bytes, source_hint: str | None = None) -> ParsedSession:
    """Parse one Copilot Chat session's canonical payload."""
    notes = Notes()
    doc = load_document(payload, FORMAT, notes)
    session = as_dict(doc.get("session"))
    sid = as_str(session.get("sessionId")) or ""
    messages: list[Message] = []
    models: list[str] = []
    for n, req in enumerate(as_list(session.get("requests"))):
        if not isinstance(req, dict):
            notes.bad(f"request {n}", "not an object")
            continue
        ts = norm_ts(req.get("timestamp"))
        message = req.get("message")
        text = flatten_text(message.get("text") if isinstance(message, dict) else message)
        messages.append(Message("user", ts, text))
        answer, extra = _response(req.get("response"))
        result = as_dict(req.get("result"))
        meta = as_dict(result.get("metadata"))
        model = as_str(meta.get("resolvedModel")) or as_str(req.get("modelId"))
        if model:
            extra["model"] = model
            models.append(model)
        if answer or extra.get("tool_calls"):
            messages.append(Message("assistant", ts, answer, extra))
    start, end = span([m.timestamp for m in messages] + [
        norm_ts(session.get("creationDate")), norm_ts(session.get("lastMessageDate"))])
    bad, warnings = notes.finish()
    return ParsedSession(
        session_id=f"{TOOL}:{sid}", tool=TOOL, native_id=sid,
        project_path=as_str(doc.get("folder")), started_at=start, ended_at=end,
        messages=messages, model=models[-1] if models else None,
        title=as_str(session.get("customTitle")), bad_records=bad, warnings=warnings)
