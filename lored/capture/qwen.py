"""Qwen Code chats (``~/.qwen/projects/<sanitised cwd>/chats/<sessionId>.jsonl``).

Append-only JSONL of ``ChatRecord`` lines (QwenLM/qwen-code
``packages/core/src/services/chatRecordingService.ts``): ``{uuid, parentUuid,
sessionId, timestamp, type: user | assistant | tool_result | system, cwd, gitBranch,
version, model?, message{role: "user" | "model", parts[]}}`` with Gemini-style parts
(``{text}``, ``{thought: true, text}``, ``{functionCall{id, name, args}}``,
``{functionResponse{id, name, response}}``). A rewind branches the chain through
``parentUuid``: the conversation is the chain ending at the last record. ``system``
records (compression, slash commands, telemetry) are not messages; a ``custom_title``
one names the session. The payload is the file itself.
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

TOOL = "qwen"


def _chain(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records on the path from the root to the last one (rewound branches dropped)."""
    by_id = {r["uuid"]: r for r in records if isinstance(r.get("uuid"), str)}
    if not by_id or len(by_id) != len(records):
        return records  # no (or partial) links: keep file order
    out, seen = [], set()
    node: dict[str, Any] | None = records[-1]
    while node is not None and node["uuid"] not in seen:
        seen.add(node["uuid"])
        out.append(node)
        parent = node.get("parentUuid")
        node = by_id.get(parent) if isinstance(parent, str) else None
    return out[::-1]


def _message(rec: dict[str, Any]) -> Message | None:
    kind = rec.get("type")
    parts = as_list(as_dict(rec.get("message")).get("parts"))
    ts = norm_ts(rec.get("timestamp"))
    texts, thoughts, calls, results = [], [], [], []
    for p in parts:
        p = as_dict(p)
        if "functionCall" in p:
            call = as_dict(p["functionCall"])
            calls.append({"id": as_str(call.get("id")), "name": as_str(call.get("name")),
                          "input": call.get("args")})
        elif "functionResponse" in p:
            resp = as_dict(p["functionResponse"])
            results.append({"tool_use_id": as_str(resp.get("id")),
                            "content": flatten_text(resp.get("response")), "is_error": False})
        elif p.get("thought") is True:
            thoughts.append(flatten_text(p.get("text")))
        elif "text" in p:
            texts.append(flatten_text(p.get("text")))
    extra: dict[str, Any] = {}
    if calls:
        extra["tool_calls"] = calls
    if thoughts:
        extra["thinking"] = "\n\n".join(t for t in thoughts if t)
    if as_str(rec.get("model")):
        extra["model"] = rec["model"]
    text = "\n".join(t for t in texts if t)
    if kind == "tool_result" or (results and not text):
        extra["tool_results"] = results
        return Message("tool", ts, "\n".join(str(r["content"]) for r in results) or text, extra)
    if kind == "user":
        return Message("user", ts, text, extra)
    if kind == "assistant":
        return Message("assistant", ts, text, extra)
    return None


def parse(payload: bytes, source_hint: str | None = None) -> ParsedSession:
    """Parse a Qwen Code chat file (pure; bad lines counted)."""
    notes = Notes()
    records: list[dict[str, Any]] = []
    title = None
    for lineno, rec in iter_json_lines(payload, notes):
        if not isinstance(rec.get("type"), str):
            notes.bad(f"line {lineno}", "record without a string 'type'")
            continue
        if rec.get("type") == "system":
            if rec.get("subtype") == "custom_title":
                title = as_str(as_dict(rec.get("systemPayload")).get("title")) or title
            continue
        records.append(rec)
    messages: list[Message] = []
    pending: list[dict[str, Any]] = []  # tool calls of text-less steps, for the next answer
    for rec in _chain(records):
        m = _message(rec)
        if m is None:
            notes.unknown(str(rec.get("type")))
            continue
        if m.role == "assistant" and not m.text and m.extra.get("tool_calls"):
            pending += m.extra["tool_calls"]
            continue
        if pending and m.role == "assistant":
            # each tool step is its own record: folded into the answer that follows, so
            # one turn stays one message (the results stay in order as tool messages)
            m.extra["tool_calls"] = pending + m.extra.get("tool_calls", [])
            pending = []
        messages.append(m)
    if pending:
        messages.append(Message("assistant", None, "", {"tool_calls": pending}))
    first = records[0] if records else {}
    sid = as_str(first.get("sessionId")) or ""
    start, end = span([norm_ts(r.get("timestamp")) for r in records])
    models = [m.extra["model"] for m in messages if isinstance(m.extra.get("model"), str)]
    bad, warnings = notes.finish()
    return ParsedSession(
        session_id=f"{TOOL}:{sid}", tool=TOOL, native_id=sid,
        project_path=as_str(first.get("cwd")), started_at=start, ended_at=end,
        messages=messages, model=models[-1] if models else None, title=title,
        git_branch=as_str(first.get("gitBranch")), tool_version=as_str(first.get("version")),
        bad_records=bad, warnings=warnings)
