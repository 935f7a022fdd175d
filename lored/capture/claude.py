"""Claude Code transcripts (``~/.claude/projects/<escaped cwd>/<sessionId>.jsonl``).

The payload is the JSONL file itself (append-only). One record per line; assistant
messages streamed as one content block per line share ``message.id`` and are merged
here, with their token usage counted once. Unknown record types and malformed lines
are skipped and reported, never fatal.

**Sub-agents.** Sub-agent transcripts belong to their parent session: older versions
write ``agent-<id>.jsonl`` beside the sessions (records carry ``isSidechain``,
``agentId`` and the parent's ``sessionId``), newer ones
``<sessionId>/subagents/agent-<id>.jsonl``. They are never sessions of their own; their
records are folded into the parent's payload, which stays self-contained and stays
append-only, as a log of **parts**:

- bytes before any part line come from the session's own file;
- a part line ``{"lore_part":{"agent_id":"5a6b7c8d","file":"agent-5a6b7c8d.jsonl"}}``
  (``file`` relative to the session file's folder) says the lines that follow were
  appended from that sub-agent's file; ``{"lore_part":{"file":null}}`` switches back to
  the session's own file.

Capture appends only complete lines, each file's new bytes after a part line naming it
when the previous bytes came from another file, so the session file and every agent
file are still read incrementally from their own offsets (:func:`split_parts` rebuilds
each file's consumed bytes from a payload). A payload without part lines is exactly the
session file, as before. Messages read from an agent part are marked
``extra["sidechain"] = True`` and ``extra["agent_id"]``; their models do not become the
session's model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from lored.capture._common import (
    Notes,
    as_str,
    flatten_text,
    iter_json_lines,
    norm_ts,
    span,
)
from lored.model import Message, ParsedSession

TOOL = "claude-code"
#: how a part line starts (see the module docstring)
PART_MARK = b'{"lore_part":'
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
        #: agent id of the part being read; "" for an agent part without an id
        self.agent: str | None = None

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
            elif self.agent is None:
                self.models.append(model)
        usage = msg.get("usage")
        if isinstance(usage, dict):
            # streamed lines repeat the usage of their message: keep one copy per id
            target.extra["usage"] = usage

    def _add(
        self, role: str, ts: str | None, text: str, extra: dict[str, Any], rec: dict[str, Any]
    ) -> Message:
        if rec.get("isSidechain") is True or self.agent is not None:
            extra["sidechain"] = True
            agent_id = as_str(rec.get("agentId")) or self.agent
            if agent_id:
                extra["agent_id"] = agent_id
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
        part = rec.get("lore_part")
        if isinstance(part, dict) and "type" not in rec:
            b.agent = None if part.get("file") is None else as_str(part.get("agent_id")) or ""
            continue
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


def agent_id_of(name: str) -> str:
    """The agent id in a sub-agent file name (``agent-5a6b7c8d.jsonl`` -> ``5a6b7c8d``)."""
    stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
    return stem[len("agent-"):] if stem.startswith("agent-") else stem


def part_line(file: str | None) -> bytes:
    """The part line that introduces bytes from ``file`` (None: the session's own file)."""
    doc: dict[str, Any] = {"lore_part": {"file": None}}
    if file is not None:
        doc = {"lore_part": {"agent_id": agent_id_of(file.rsplit("/", 1)[-1]), "file": file}}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def split_parts(payload: bytes) -> tuple[dict[str | None, bytes], str | None]:
    """(bytes consumed from each file, the file of the last part) of a session payload.

    Keys are agent file names relative to the session's folder, None for the session's
    own file. A payload without part lines is all the session file's.
    """
    parts: dict[str | None, list[bytes]] = {None: []}
    current: str | None = None
    start = 0
    for at in _part_starts(payload):
        end = payload.find(b"\n", at)
        stop = len(payload) if end < 0 else end + 1
        try:
            info = json.loads(payload[at:stop])["lore_part"]
            name = info["file"]
        except (ValueError, KeyError, TypeError):
            continue  # only looked like a part line: it stays in the current part
        if name is not None and not isinstance(name, str):
            continue
        parts.setdefault(current, []).append(payload[start:at])
        current, start = name, stop
    parts.setdefault(current, []).append(payload[start:])
    return {k: b"".join(v) for k, v in parts.items()}, current


def has_parts(payload: bytes) -> bool:
    """True when a payload holds sub-agent parts (see the module docstring)."""
    return next(_part_starts(payload), None) is not None


def _part_starts(payload: bytes) -> Iterator[int]:
    if payload.startswith(PART_MARK):
        yield 0
    i = payload.find(b"\n" + PART_MARK)
    while i >= 0:
        yield i + 1
        i = payload.find(b"\n" + PART_MARK, i + 1)
