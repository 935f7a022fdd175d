"""Aider chat histories (``.aider.chat.history.md`` at a project root).

One file holds many sessions, each starting with ``# aider chat started at <local
time>``. Each session's payload is self-contained: one JSON header line, then the exact
bytes of that session's section::

    {"format":"lore-aider-v1","history_file":…,"inputs":[[utc, text], …],
     "project_path":…,"utc_offset":7200}\\n
    # aider chat started at 2025-06-14 14:05:31\\n…

``utc_offset`` turns the file's local times into UTC on any machine; ``inputs`` are the
user's prompts with their times from ``.aider.input.history`` within the session's time
window. The id is derived from the history file's path and the start line, so it is
stable as the session grows. In a section, ``#### `` lines are the user's, other ``> ``
lines are tool/status output, everything else is the assistant's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from lored.capture._common import Notes, as_str, canonical_json, loads_tolerant, norm_ts
from lored.model import Message, ParsedSession

TOOL = "aider"
FORMAT = "lore-aider-v1"
START = b"# aider chat started at "
_START_RE = re.compile(rb"^# aider chat started at (.+?)\s*$", re.MULTILINE)
_INPUT_RE = re.compile(r"^# (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)\s*$")
_LOCAL_FMT = "%Y-%m-%d %H:%M:%S"


def _local(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip()[:19], _LOCAL_FMT)
    except ValueError:
        return None


def split_sessions(history: bytes) -> list[tuple[str, bytes]]:
    """``(start line's time text, exact section bytes)`` for each session of a history file."""
    starts = [m for m in _START_RE.finditer(history)]
    out = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(history)
        out.append((m.group(1).decode("utf-8", "replace"), history[m.start():end]))
    return out


def parse_inputs(input_history: bytes) -> list[tuple[datetime, str]]:
    """(local time, text) of each prompt in ``.aider.input.history``."""
    out: list[tuple[datetime, str]] = []
    when: datetime | None = None
    lines: list[str] = []
    for line in input_history.decode("utf-8", "replace").splitlines() + ["# 0000"]:
        m = _INPUT_RE.match(line)
        if m or line.startswith("# "):
            if when is not None and lines:
                out.append((when, "\n".join(lines)))
            when, lines = (_local(m.group(1)) if m else None), []
        elif line.startswith("+"):
            lines.append(line[1:])
    return out


def render_payloads(
    history: bytes,
    *,
    project_path: str,
    history_file: str,
    input_history: bytes | None = None,
    utc_offset: Callable[[datetime], int],
) -> list[bytes]:
    """One payload per session in ``history``; ``utc_offset(local)`` gives seconds east.

    Pure: discovery supplies the files' bytes and the machine's time-zone function.
    """
    sessions = split_sessions(history)
    inputs = parse_inputs(input_history) if input_history else []
    payloads = []
    for i, (start_text, section) in enumerate(sessions):
        start = _local(start_text)
        nxt = _local(sessions[i + 1][0]) if i + 1 < len(sessions) else None
        offset = utc_offset(start) if start else 0
        mine = [
            [_utc(when, offset), text] for when, text in inputs
            if start and when >= start and (nxt is None or when < nxt)
        ]
        header = {"format": FORMAT, "project_path": project_path, "history_file": history_file,
                  "utc_offset": offset, "inputs": mine}
        payloads.append(canonical_json(header).encode() + b"\n" + section)
    return payloads


def _utc(local: datetime, offset: int) -> str:
    return (local - timedelta(seconds=offset)).replace(tzinfo=UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}Z"


class _Sections:
    """Groups a section's lines into messages."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.kind: str | None = None
        self.buf: list[str] = []

    def push(self, kind: str, text: str) -> None:
        if kind != self.kind:
            self.flush()
            self.kind = kind
        self.buf.append(text)

    def flush(self) -> None:
        text = "\n".join(self.buf).strip("\n")
        if self.kind is not None and text.strip():
            role = {"user": "user", "status": "tool", "header": "system"}.get(self.kind,
                                                                              "assistant")
            self.messages.append(Message(role, None, text))
        self.kind, self.buf = None, []


def parse(payload: bytes, source_hint: str | None = None) -> ParsedSession:
    """Parse one Aider session payload (header line + section); pure, never raises."""
    notes = Notes()
    first, _, section = payload.partition(b"\n")
    header: Any = loads_tolerant(first, notes, "line 1") if first.startswith(b"{") else None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        header, section = {}, payload  # a raw history section
    text = section.decode("utf-8", "replace")
    if "\ufffd" in text and b"\xef\xbf\xbd" not in section:
        notes.warn("invalid UTF-8 replaced")
    lines = text.splitlines()
    m = _START_RE.match(lines[0].encode()) if lines else None
    start_text = m.group(1).decode() if m else ""
    offset = header.get("utc_offset") if isinstance(header.get("utc_offset"), int) else 0
    start = _local(start_text)
    g = _Sections()
    model = version = None
    in_fence = False
    #: a tool message Aider wrote over several lines: ``> `` starts it, only its last line
    #: ends in the two spaces of a Markdown line break (aider/io.py append_chat_history)
    open_status = False
    for line in lines[1:]:
        body = line.rstrip()
        if open_status and g.kind in ("status", "header") and not body.startswith("####"):
            g.push(g.kind, body)  # even a ">>>>>>> REPLACE" line is still that report
            open_status = not line.endswith("  ")
            continue
        open_status = False
        if g.kind == "assistant" and in_fence:
            g.push("assistant", body)
        elif body.startswith("####"):
            # one space follows the marker; what comes after it is the prompt, indented
            # lines of a multi-line prompt included
            g.push("user", body[5:] if body.startswith("#### ") else body[4:])
        elif body.startswith(">"):
            status = body[1:].lstrip(" ")
            model = model or _after(status, "Main model: ", " with ")
            if status.startswith("Aider v") and version is None:
                version = status[len("Aider v"):].strip()
            # the block before the first prompt is aider's start-up banner
            g.push("header" if not g.messages and g.kind in (None, "header") else "status",
                   status)
            open_status = bool(status) and not line.endswith("  ")
        elif not body:
            if g.kind == "assistant":
                g.push("assistant", "")  # paragraph break inside the answer
            else:
                g.flush()  # a blank line ends a prompt or a status block
        else:
            g.push("assistant", body)
        if g.kind == "assistant" and body.lstrip().startswith("```"):
            in_fence = not in_fence
    g.flush()
    _stamp(g.messages, header.get("inputs"))
    hist = as_str(header.get("history_file")) or source_hint or ""
    native = hashlib.sha256(f"{hist}\n{start_text}".encode()).hexdigest()[:20] if m else ""
    started = _utc(start, offset) if start else None
    times = [t for t in (msg.timestamp for msg in g.messages) if t]
    bad, warnings = notes.finish()
    return ParsedSession(
        session_id=f"{TOOL}:{native}",
        tool=TOOL,
        native_id=native,
        project_path=as_str(header.get("project_path")),
        started_at=started,
        ended_at=max([started, *times]) if started else (max(times) if times else None),
        messages=g.messages,
        model=model,
        tool_version=version,
        bad_records=bad,
        warnings=warnings,
    )


def _after(text: str, prefix: str, stop: str) -> str | None:
    if not text.startswith(prefix):
        return None
    rest = text[len(prefix):]
    return rest.split(stop, 1)[0].strip() or None


def _stamp(messages: list[Message], inputs: Any) -> None:
    """Give user messages the times of matching prompts from the input history."""
    if not isinstance(inputs, list):
        return
    pending = [(norm_ts(i[0]), str(i[1]).strip()) for i in inputs
               if isinstance(i, list) and len(i) == 2]
    for msg in messages:
        if msg.role != "user":
            continue
        for k, (when, text) in enumerate(pending):
            if text == msg.text.strip():
                msg.timestamp = when
                del pending[: k + 1]
                break
