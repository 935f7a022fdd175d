"""Google Gemini CLI chats (``~/.gemini/tmp/<hash or slug>/chats/session-*.json[l]``).

Gemini's files hold no working directory, so the payload is a canonical rendering that
carries the project path resolved at discovery::

    {"format":"lore-gemini-v1","kind":"jsonl","project_path":"/abs/path"}\\n
    <the JSONL file's bytes, unchanged>            (newer, append-only files)

    {"format":"lore-gemini-v1","kind":"json","project_path":"/abs/path"}\\n
    <the JSON document, canonical one-line JSON>\\n (older files, rewritten whole)

Keeping the JSONL bytes unchanged after the header means the payload grows by appending
where the tool appends (only the new tail is read and synced). A raw file without the
header also parses (project unknown). In JSONL, a repeated message ``id`` replaces the
earlier record, ``{"$set": {…}}`` updates metadata and ``{"$rewindTo": id}`` drops that
message and everything after it.
"""

from __future__ import annotations

from typing import Any

from lored.capture._common import (
    Notes,
    as_str,
    canonical_json,
    flatten_text,
    iter_json_lines,
    loads_tolerant,
    norm_ts,
    span,
)
from lored.model import Message, ParsedSession

TOOL = "gemini"
FORMAT = "lore-gemini-v1"
_ROLES = {"user": "user", "gemini": "assistant", "model": "assistant"}


def render_header(kind: str, project_path: str | None) -> bytes:
    """The payload's first line (``kind`` is "json" or "jsonl")."""
    return canonical_json(
        {"format": FORMAT, "kind": kind, "project_path": project_path}
    ).encode() + b"\n"


def render_json_payload(document: Any, project_path: str | None) -> bytes:
    """Payload for an older whole-file JSON chat (already decoded)."""
    return render_header("json", project_path) + canonical_json(document).encode() + b"\n"


def _tool_output(result: Any) -> str:
    parts = result if isinstance(result, list) else [result]
    out: list[str] = []
    for part in parts:
        fr = part.get("functionResponse") if isinstance(part, dict) else None
        resp = fr.get("response") if isinstance(fr, dict) else None
        if isinstance(resp, dict):
            value = resp.get("output", resp.get("error", resp))
            out.append(value if isinstance(value, str) else canonical_json(value))
        else:
            out.append(flatten_text(part))
    return "\n".join(o for o in out if o)


def _message(rec: dict[str, Any]) -> Message:
    kind = as_str(rec.get("type")) or "gemini"
    role = _ROLES.get(kind, "system")
    extra: dict[str, Any] = {}
    if role == "system":
        extra["level"] = kind  # info | error | warning
    thoughts = rec.get("thoughts")
    if isinstance(thoughts, list):
        lines = []
        for t in thoughts:
            if isinstance(t, dict):
                subject, desc = as_str(t.get("subject")), as_str(t.get("description"))
                lines.append(f"{subject}: {desc}" if subject and desc else subject or desc or "")
        if any(lines):
            extra["thinking"] = "\n".join(x for x in lines if x)
    calls = rec.get("toolCalls")
    if isinstance(calls, list):
        good = [c for c in calls if isinstance(c, dict)]
        if good:
            extra["tool_calls"] = [
                {"id": as_str(c.get("id")), "name": as_str(c.get("name")), "input": c.get("args")}
                for c in good
            ]
            extra["tool_results"] = [
                {"tool_use_id": as_str(c.get("id")), "content": _tool_output(c.get("result")),
                 "is_error": c.get("status") in ("error", "cancelled")}
                for c in good if c.get("result") is not None or c.get("status")
            ]
    model = as_str(rec.get("model"))
    if model:
        extra["model"] = model
    if isinstance(rec.get("tokens"), dict):
        extra["usage"] = rec["tokens"]
    return Message(role, norm_ts(rec.get("timestamp")), flatten_text(rec.get("content")), extra)


def _split_header(payload: bytes, notes: Notes) -> tuple[dict[str, Any], bytes, int]:
    """(header, rest, line number where rest starts); an empty header for raw files."""
    first, sep, rest = payload.partition(b"\n")
    if first.lstrip().startswith(b'{"format"'):
        head = loads_tolerant(first, notes, "line 1")
        if isinstance(head, dict) and head.get("format") == FORMAT:
            return head, rest, 2
    return {}, payload, 1


def parse(payload: bytes, source_hint: str | None = None) -> ParsedSession:
    """Parse a Gemini payload (Lore rendering or a raw .json/.jsonl file); pure."""
    notes = Notes()
    header, body, start = _split_header(payload, notes)
    kind = header.get("kind")
    if kind is None:  # a raw file: a JSON document starts with "{" and spans lines
        kind = "jsonl" if (source_hint or "").endswith(".jsonl") else _sniff(body)
    meta: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    if kind == "json":
        doc = loads_tolerant(body.strip(), notes, f"line {start}") if body.strip() else None
        if isinstance(doc, dict):
            meta = doc
            msgs = doc.get("messages")
            records = [m for m in msgs if isinstance(m, dict)] if isinstance(msgs, list) else []
        elif doc is not None:
            notes.bad(f"line {start}", "chat document is not a JSON object")
    else:
        meta, records = _replay(body, notes, start)
    messages = [_message(r) for r in records]
    models = [str(m.extra["model"]) for m in messages if "model" in m.extra]
    native = as_str(meta.get("sessionId")) or ""
    started, ended = span([norm_ts(meta.get("startTime")), norm_ts(meta.get("lastUpdated")),
                           *(m.timestamp for m in messages)])
    bad, warnings = notes.finish()
    return ParsedSession(
        session_id=f"{TOOL}:{native}",
        tool=TOOL,
        native_id=native,
        project_path=as_str(header.get("project_path")),
        started_at=started,
        ended_at=ended,
        messages=messages,
        model=models[-1] if models else None,
        title=as_str(meta.get("summary")),
        bad_records=bad,
        warnings=warnings,
    )


def _sniff(body: bytes) -> str:
    first = body.lstrip().split(b"\n", 1)[0].strip()
    return "jsonl" if first.startswith(b"{") and first.endswith(b"}") else "json"


def _replay(body: bytes, notes: Notes, start: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Apply the JSONL log: metadata, replacements by id, $set and $rewindTo."""
    meta: dict[str, Any] = {}
    order: list[str] = []
    by_id: dict[str, dict[str, Any]] = {}
    for lineno, rec in iter_json_lines(body, notes, start_line=start):
        if "$set" in rec:
            if isinstance(rec["$set"], dict):
                meta.update(rec["$set"])
            else:
                notes.bad(f"line {lineno}", "$set is not an object")
        elif "$rewindTo" in rec:
            target = rec["$rewindTo"]
            if isinstance(target, str) and target in by_id:
                cut = order.index(target)
                for gone in order[cut:]:
                    del by_id[gone]
                del order[cut:]
            else:
                notes.warn(f"line {lineno}: $rewindTo names no known message")
        elif isinstance(rec.get("id"), str) and "type" in rec:
            mid = rec["id"]
            if mid not in by_id:
                order.append(mid)
            by_id[mid] = rec  # a repeated id replaces the earlier record in place
        elif as_str(rec.get("sessionId")) and not meta.get("sessionId"):
            meta.update(rec)
        else:
            notes.bad(f"line {lineno}", "neither metadata, a message nor an update")
    return meta, [by_id[i] for i in order]
