"""OpenAI Codex CLI rollouts (``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl``).

The payload is the rollout file itself (append-only; a resumed session appends to it).
Envelope lines ``{timestamp, type, payload}``: the first ``session_meta`` is the
identity, ``turn_context`` carries the model, ``response_item`` the conversation.
``event_msg`` user/agent messages duplicate response items and are used only when a
file has no response-item messages of that role. Legacy files have no envelope: a bare
header object with ``id``, then bare items.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from lored.capture._common import Notes, as_str, flatten_text, iter_json_lines, norm_ts, span
from lored.model import Message, ParsedSession

FORMATS: dict[str, Any] = json.loads(
    (Path(__file__).with_name("formats.json")).read_text(encoding="utf-8"))

TOOL = "codex"
#: injected context that arrives as "user" text but is not the user's words; the list
#: is shared with the browser's parser (lored/capture/formats.json)
_INJECTED = tuple(FORMATS["codex"]["injected_user_prefixes"])
_SILENT_ITEMS = frozenset({"compaction", "compacted", "ghost_snapshot", "other"})
_SILENT_RECORDS = frozenset({"compacted", "state"})
_UUID_AT_END = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$")


def _output_text(output: Any) -> tuple[str, bool]:
    """(text, is_error) of a tool output: often a JSON string ``{"output", "metadata"}``."""
    is_error = False
    if isinstance(output, str):
        try:
            decoded = json.loads(output)
        except ValueError:
            return output, False
        if isinstance(decoded, dict) and "output" in decoded:
            meta = decoded.get("metadata")
            if isinstance(meta, dict) and isinstance(meta.get("exit_code"), int):
                is_error = meta["exit_code"] != 0
            return flatten_text(decoded["output"]), is_error
        return output, False
    if isinstance(output, dict):
        is_error = output.get("success") is False
        return flatten_text(output.get("content", output.get("output"))), is_error
    return flatten_text(output), False


class _Builder:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.model: str | None = None
        self.thinking: list[str] = []
        self.roles_seen: set[str] = set()
        self.events: list[tuple[int, Message]] = []  # event_msg fallbacks, by position
        #: user-role response items, and the prompts Codex marked as typed (event_msg
        #: user_message): with those markers present, they decide what the user said
        self.user_items: list[Message] = []
        self.typed: list[str] = []

    def add(self, role: str, ts: str | None, text: str, **extra: Any) -> Message:
        if role == "assistant":
            if self.thinking:
                extra["thinking"] = "\n\n".join(self.thinking)
                self.thinking = []
            if self.model:
                extra["model"] = self.model
        m = Message(role, ts, text, {k: v for k, v in extra.items() if v is not None})
        self.messages.append(m)
        return m

    def item(self, item: dict[str, Any], ts: str | None, notes: Notes, where: str) -> None:
        kind = item.get("type")
        if kind == "message":
            role = as_str(item.get("role")) or "assistant"
            text = flatten_text(item.get("content"))
            role = role if role in ("user", "assistant") else "system"
            self.roles_seen.add(role)
            m = self.add(role, ts, text)
            if role == "user":
                self.user_items.append(m)  # typed or injected: decided in finish()
        elif kind == "reasoning":
            summary = flatten_text(item.get("summary"))
            if summary:
                self.thinking.append(summary)
        elif kind in ("function_call", "custom_tool_call"):
            raw = item.get("arguments") if kind == "function_call" else item.get("input")
            args: Any = raw
            if kind == "function_call" and isinstance(raw, str):
                try:
                    args = json.loads(raw)
                except ValueError:
                    args = raw
            call = {"id": as_str(item.get("call_id")), "name": as_str(item.get("name")),
                    "input": args}
            self.add("assistant", ts, "", tool_calls=[call])
        elif kind in ("local_shell_call", "web_search_call"):
            call = {"id": as_str(item.get("call_id")) or as_str(item.get("id")),
                    "name": "local_shell" if kind == "local_shell_call" else "web_search",
                    "input": item.get("action")}
            self.add("assistant", ts, "", tool_calls=[call])
        elif kind in ("function_call_output", "custom_tool_call_output",
                      "local_shell_call_output"):
            text, is_error = _output_text(item.get("output"))
            result = {"tool_use_id": as_str(item.get("call_id")), "content": text,
                      "is_error": is_error}
            self.add("tool", ts, text, tool_results=[result])
        elif isinstance(kind, str) and kind in _SILENT_ITEMS:
            return
        elif isinstance(kind, str):
            notes.unknown(f"response_item/{kind}")
        else:
            notes.bad(where, "response item without a string 'type'")

    def event(self, ev: dict[str, Any], ts: str | None) -> None:
        kind = ev.get("type")
        role = {"user_message": "user", "agent_message": "assistant"}.get(str(kind))
        text = as_str(ev.get("message"))
        if role == "user" and text:
            self.typed.append(" ".join(text.split()))
        if role and text and not (role == "user" and text.lstrip().startswith(_INJECTED)):
            self.events.append((len(self.messages), Message(role, ts, text)))

    def finish(self) -> list[Message]:
        """Messages, with event_msg text only for roles no response item covered."""
        injected = {id(m) for m in self.user_items if not self._typed(m.text)}
        covered = set(self.roles_seen)
        if len(injected) == len(self.user_items):
            covered.discard("user")  # no typed prompt among the items: the events have them
        extra = [(pos, m) for pos, m in self.events if m.role not in covered]
        out = list(self.messages)
        for shift, (pos, m) in enumerate(extra):
            if m.role == "assistant" and self.model:
                m.extra["model"] = self.model
            out.insert(pos + shift, m)
        return [m for m in out if id(m) not in injected]

    def _typed(self, text: str) -> bool:
        """Whether a user-role item is the person's words (not injected context)."""
        if not self.typed:  # older rollouts carry no marker: known prefixes decide
            return not text.lstrip().startswith(_INJECTED)
        line = " ".join(text.split())
        def same(a: str, b: str) -> bool:
            short, long = sorted((a, b), key=len)
            # the item may add attachments around the typed text: allow containment, but
            # not of a short prompt inside a long injected document
            return a == b or (bool(short) and short in long and 2 * len(short) >= len(long))

        return bool(line) and any(same(line, t) for t in self.typed)


def parse(payload: bytes, source_hint: str | None = None) -> ParsedSession:
    """Parse a Codex rollout payload (enveloped or legacy) into a session (pure)."""
    notes = Notes()
    b = _Builder()
    meta: dict[str, Any] | None = None
    cwd: str | None = None
    times: list[str | None] = []
    models: list[str] = []
    for lineno, rec in iter_json_lines(payload, notes):
        where = f"line {lineno}"
        ts = norm_ts(rec.get("timestamp"))
        kind = rec.get("type")
        body = rec.get("payload")
        enveloped = isinstance(body, dict) and isinstance(kind, str)
        if not enveloped:
            # legacy: a bare header (id + timestamp, no type), then bare items
            if meta is None and "type" not in rec and as_str(rec.get("id")):
                meta = rec
                times.append(ts)
            elif isinstance(rec.get("record_type"), str) or _is_silent(rec.get("type")):
                continue
            elif "type" in rec:
                b.item(rec, ts, notes, where)
            else:
                notes.bad(where, "neither an envelope nor a response item")
            continue
        assert isinstance(body, dict)
        times.append(ts)
        if kind == "session_meta":
            if meta is None:  # the first one is the identity; later ones are forks/resumes
                meta = body
        elif kind == "turn_context":
            cwd = cwd or as_str(body.get("cwd"))
            model = as_str(body.get("model"))
            if model:
                b.model = model
                models.append(model)
        elif kind == "response_item":
            b.item(body, ts, notes, where)
        elif kind == "event_msg":
            b.event(body, ts)
        elif kind in _SILENT_RECORDS:
            continue
        else:
            notes.unknown(str(kind))
    meta = meta or {}
    native = as_str(meta.get("id")) or _id_from_hint(source_hint) or ""
    git = meta.get("git") if isinstance(meta.get("git"), dict) else {}
    assert isinstance(git, dict)
    messages = b.finish()
    started, ended = span([norm_ts(meta.get("timestamp")), *times])
    bad, warnings = notes.finish()
    return ParsedSession(
        session_id=f"{TOOL}:{native}",
        tool=TOOL,
        native_id=native,
        project_path=as_str(meta.get("cwd")) or cwd,
        started_at=started,
        ended_at=ended,
        messages=messages,
        model=models[-1] if models else as_str(meta.get("model")),
        git_branch=as_str(git.get("branch")),
        git_remote=as_str(git.get("repository_url")),
        tool_version=as_str(meta.get("cli_version")),
        bad_records=bad,
        warnings=warnings,
    )


def _is_silent(kind: Any) -> bool:
    return isinstance(kind, str) and kind in _SILENT_RECORDS


def _id_from_hint(hint: str | None) -> str | None:
    m = _UUID_AT_END.search(hint or "")
    return m.group(1) if m else None
