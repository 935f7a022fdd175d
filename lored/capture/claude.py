"""Claude Code transcripts (``~/.claude/projects/<escaped cwd>/<sessionId>.jsonl``).

The payload is the JSONL file itself (append-only). One record per line; assistant
messages streamed as one content block per line share ``message.id`` and are merged
here, with their token usage counted once. Unknown record types and malformed lines
are skipped and reported, never fatal.
"""

from __future__ import annotations

from typing import Any

from lored.capture._common import (
    Notes,
    as_str,
    flatten_text,
    iter_json_lines,
    norm_ts,
    span,
)
from lored.capture.model import Message, ParsedSession

TOOL = "claude-code"
#: record types that carry no conversation text: skipped without a warning
_METADATA_TYPES = frozenset({
    "system", "queue-operation", "file-history-snapshot", "attachment", "progress",
    "agent-name", "tag", "last-prompt", "pr-link",
})


def _tool_result(block: dict[str, Any]) -> dict[str, Any]:
    return {
        "tool_use_id": as_str(block.get("tool_use_id")),
        "content": flatten_text(block.get("content")),
        "is_error": bool(block.get("is_error", False)),
    }


class _Builder:
    """Accumulates messages; merges assistant lines that share ``message.id``."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._by_msg_id: dict[str, Message] = {}
        self.models: list[str] = []

    def user(self, rec: dict[str, Any], ts: str | None, notes: Notes, where: str) -> None:
        msg = rec.get("message")
        content = msg.get("content") if isinstance(msg, dict) else rec.get("content")
        if content is None:
            notes.bad(where, "user record without message content")
            return
        texts: list[str] = []
        results: list[dict[str, Any]] = []
        images = 0
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for block in content:
                if isinstance(block, str):
                    texts.append(block)
                elif not isinstance(block, dict):
                    continue
                elif block.get("type") == "tool_result":
                    results.append(_tool_result(block))
                elif block.get("type") == "text":
                    texts.append(flatten_text(block.get("text")))
                elif block.get("type") == "image":
                    images += 1
        else:
            notes.bad(where, f"user content has unexpected type {type(content).__name__}")
            return
        extra: dict[str, Any] = {}
        role = "user"
        if results:
            extra["tool_results"] = results
            if not any(t.strip() for t in texts):
                # a user record that only carries tool output is the tool speaking
                role = "tool"
                texts = [r["content"] for r in results]
        if images:
            extra["images"] = images
        if rec.get("isMeta"):
            role = "system"  # injected caveats / command wrappers, not the user's words
        self._add(role, ts, "\n".join(t for t in texts if t), extra, rec)

    def assistant(self, rec: dict[str, Any], ts: str | None, notes: Notes, where: str) -> None:
        msg = rec.get("message")
        if not isinstance(msg, dict):
            notes.bad(where, "assistant record without a message object")
            return
        content = msg.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if not isinstance(content, list):
            notes.bad(where, "assistant content is not a list")
            return
        model = as_str(msg.get("model"))
        msg_id = as_str(msg.get("id"))
        target = self._by_msg_id.get(msg_id) if msg_id else None
        if target is None:
            target = self._add("assistant", ts, "", {}, rec)
            if msg_id:
                self._by_msg_id[msg_id] = target
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                text = flatten_text(block.get("text"))
                target.text = f"{target.text}\n\n{text}" if target.text else text
            elif kind == "tool_use":
                target.extra.setdefault("tool_calls", []).append({
                    "id": as_str(block.get("id")),
                    "name": as_str(block.get("name")),
                    "input": block.get("input"),
                })
            elif kind in ("thinking", "redacted_thinking"):
                thought = flatten_text(block.get("thinking"))
                if thought:
                    prev = target.extra.get("thinking")
                    target.extra["thinking"] = f"{prev}\n\n{thought}" if prev else thought
            elif kind == "image":
                target.extra["images"] = int(target.extra.get("images", 0)) + 1
        if model:
            target.extra["model"] = model
            if model == "<synthetic>":
                target.extra["synthetic"] = True  # generated locally, not by the model
            else:
                self.models.append(model)
        usage = msg.get("usage")
        if isinstance(usage, dict):
            # streamed lines repeat the usage of their message: keep one copy per id
            target.extra["usage"] = usage

    def _add(
        self, role: str, ts: str | None, text: str, extra: dict[str, Any], rec: dict[str, Any]
    ) -> Message:
        if rec.get("isSidechain") is True:
            extra["sidechain"] = True
        m = Message(role=role, timestamp=ts, text=text, extra=extra)
        self.messages.append(m)
        return m


def parse(payload: bytes, source_hint: str | None = None) -> ParsedSession:
    """Parse a Claude Code JSONL payload into a session (pure; never raises on bad input).

    The session id is the first ``sessionId`` in the records, so it is the same on every
    machine that re-parses the payload; ``source_hint`` (the file path) is only used
    when no record names one.
    """
    notes = Notes()
    b = _Builder()
    session_id: str | None = None
    cwd: str | None = None
    branch: str | None = None
    version: str | None = None
    titles: dict[str, str] = {}
    times: list[str | None] = []
    for lineno, rec in iter_json_lines(payload, notes):
        where = f"line {lineno}"
        kind = rec.get("type")
        session_id = session_id or as_str(rec.get("sessionId"))
        cwd = cwd or as_str(rec.get("cwd"))
        branch = branch or as_str(rec.get("gitBranch"))
        version = as_str(rec.get("version")) or version
        ts = norm_ts(rec.get("timestamp"))
        if ts:
            times.append(ts)
        if kind == "user":
            b.user(rec, ts, notes, where)
        elif kind == "assistant":
            b.assistant(rec, ts, notes, where)
        elif kind == "summary":
            summary = as_str(rec.get("summary"))
            if summary:
                titles["summary"] = summary
        elif kind == "custom-title":
            title = as_str(rec.get("customTitle")) or as_str(rec.get("title"))
            if title:
                titles["custom"] = title  # the last rename wins
        elif kind == "ai-title":
            title = as_str(rec.get("aiTitle")) or as_str(rec.get("title"))
            if title:
                titles["ai"] = title
        elif isinstance(kind, str) and kind in _METADATA_TYPES:
            continue
        elif isinstance(kind, str):
            notes.unknown(kind)
        else:
            notes.bad(where, "record without a string 'type'")
    native = session_id or _id_from_hint(source_hint) or ""
    started, ended = span(times)
    bad, warnings = notes.finish()
    return ParsedSession(
        session_id=f"{TOOL}:{native}",
        tool=TOOL,
        native_id=native,
        project_path=cwd,
        started_at=started,
        ended_at=ended,
        messages=b.messages,
        model=b.models[-1] if b.models else None,
        title=titles.get("custom") or titles.get("ai") or titles.get("summary"),
        git_branch=branch,
        tool_version=version,
        bad_records=bad,
        warnings=warnings,
    )


def _id_from_hint(hint: str | None) -> str | None:
    if not hint:
        return None
    name = hint.replace("\\", "/").rsplit("/", 1)[-1]
    return name[: -len(".jsonl")] if name.endswith(".jsonl") else None


def is_subagent_file(name: str, parts: tuple[str, ...]) -> bool:
    """True for sub-agent transcripts, which belong to their parent session."""
    return name.startswith("agent-") or "subagents" in parts
