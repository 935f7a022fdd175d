"""OpenCode sessions (JSON storage tree or ``opencode.db``), as a canonical rendering.

OpenCode keeps a session in many small records (session, messages, parts) that it
updates in place, so the payload is a deterministic JSONL rendering of them::

    {"format":"lore-opencode-v1","session":{…}}
    {"message":{…}}                 messages by creation time, then id
    {"part":{…}}                    each message's parts by id, right after it

Both storage layouts render to the same shape, so the parser does not care which one
the session came from. Parts: ``text``, ``reasoning``, ``tool {callID, tool, state}``,
``file``, ``patch`` …; bookkeeping parts (step-start/finish, snapshots) are skipped.
"""

from __future__ import annotations

from typing import Any

from lored.capture._common import (
    Notes,
    as_str,
    canonical_json,
    flatten_text,
    iter_json_lines,
    norm_ts,
    span,
)
from lored.model import Message, ParsedSession

TOOL = "opencode"
FORMAT = "lore-opencode-v1"
_SILENT_PARTS = frozenset({"step-start", "step-finish", "snapshot", "agent", "retry",
                           "compaction", "subtask"})


def _time(obj: dict[str, Any], key: str) -> Any:
    t = obj.get("time")
    return t.get(key) if isinstance(t, dict) else None


def _created(obj: dict[str, Any]) -> float:
    value = _time(obj, "created")
    return float(value) if isinstance(value, int | float) else 0.0


#: tools built on OpenCode's storage (Kilo Code since its 2026 rebuild writes ``kilo.db``)
DERIVED = frozenset({"kilo-code"})


def render(session: dict[str, Any], messages: list[dict[str, Any]],
           parts: dict[str, list[dict[str, Any]]], tool: str = TOOL) -> bytes:
    """The canonical payload of one session; ``parts`` maps message id -> its parts."""
    head: dict[str, Any] = {"format": FORMAT, "session": session}
    if tool != TOOL:
        head["tool"] = tool  # only then, so OpenCode's own payloads keep their bytes
    lines = [canonical_json(head)]
    for msg in sorted(messages, key=lambda m: (_created(m), str(m.get("id")))):
        lines.append(canonical_json({"message": msg}))
        for part in sorted(parts.get(str(msg.get("id")), []), key=lambda p: str(p.get("id"))):
            lines.append(canonical_json({"part": part}))
    return ("\n".join(lines) + "\n").encode()


def _apply_part(msg: Message, part: dict[str, Any], notes: Notes) -> None:
    kind = part.get("type")
    if kind == "text":
        if part.get("synthetic") is True and msg.role == "user":
            msg.extra.setdefault("context", []).append(flatten_text(part.get("text")))
            return
        text = flatten_text(part.get("text"))
        msg.text = f"{msg.text}\n\n{text}" if msg.text and text else msg.text or text
    elif kind == "reasoning":
        text = flatten_text(part.get("text"))
        if text:
            prev = msg.extra.get("thinking")
            msg.extra["thinking"] = f"{prev}\n\n{text}" if prev else text
    elif kind == "tool":
        state = part.get("state") if isinstance(part.get("state"), dict) else {}
        assert isinstance(state, dict)
        call_id = as_str(part.get("callID")) or as_str(part.get("id"))
        msg.extra.setdefault("tool_calls", []).append(
            {"id": call_id, "name": as_str(part.get("tool")), "input": state.get("input")})
        status = state.get("status")
        if status in ("completed", "error"):
            output = state.get("output") if status == "completed" else state.get("error")
            msg.extra.setdefault("tool_results", []).append(
                {"tool_use_id": call_id, "content": flatten_text(output),
                 "is_error": status == "error"})
    elif kind == "file":
        name = as_str(part.get("filename")) or as_str(part.get("url"))
        if name:
            msg.extra.setdefault("files", []).append(name)
    elif kind == "patch":
        files = part.get("files")
        if isinstance(files, list):
            msg.extra.setdefault("patched_files", []).extend(str(f) for f in files)
    elif isinstance(kind, str) and kind in _SILENT_PARTS:
        return
    elif isinstance(kind, str):
        notes.unknown(f"part/{kind}")
    else:
        notes.bad("part", "part without a string 'type'")


def parse(payload: bytes, source_hint: str | None = None) -> ParsedSession:
    """Parse an OpenCode payload rendered by :func:`render` (pure; never raises)."""
    notes = Notes()
    session: dict[str, Any] = {}
    messages: list[Message] = []
    by_id: dict[str, Message] = {}
    current: Message | None = None
    models: list[str] = []
    tool = TOOL
    for lineno, rec in iter_json_lines(payload, notes):
        where = f"line {lineno}"
        if isinstance(rec.get("session"), dict) and not session:
            session = rec["session"]
            if rec.get("tool") in DERIVED:
                tool = rec["tool"]
        elif isinstance(rec.get("message"), dict):
            info = rec["message"]
            role = info.get("role")
            role = role if role in ("user", "assistant") else "system"
            extra: dict[str, Any] = {}
            model = as_str(info.get("modelID"))
            if model:
                extra["model"] = model
                models.append(model)
            if isinstance(info.get("tokens"), dict):
                extra["usage"] = info["tokens"]
            if isinstance(info.get("error"), dict):
                extra["error"] = flatten_text(info["error"].get("data")) or as_str(
                    info["error"].get("name"))
            current = Message(role, norm_ts(_time(info, "created")), "", extra)
            messages.append(current)
            mid = as_str(info.get("id"))
            if mid:
                by_id[mid] = current
        elif isinstance(rec.get("part"), dict):
            part = rec["part"]
            target = by_id.get(str(part.get("messageID"))) or current
            if target is None:
                notes.bad(where, "part before any message")
                continue
            _apply_part(target, part, notes)
        else:
            notes.bad(where, "neither session, message nor part")
    native = as_str(session.get("id")) or ""
    started, ended = span([norm_ts(_time(session, "created")), norm_ts(_time(session, "updated")),
                           *(m.timestamp for m in messages)])
    bad, warnings = notes.finish()
    return ParsedSession(
        session_id=f"{tool}:{native}",
        tool=tool,
        native_id=native,
        project_path=as_str(session.get("directory")),
        started_at=started,
        ended_at=ended,
        messages=messages,
        model=models[-1] if models else None,
        title=as_str(session.get("title")),
        tool_version=as_str(session.get("version")),
        bad_records=bad,
        warnings=warnings,
    )
