"""Cline, Roo Code and Kilo Code tasks (VS Code extensions), as a canonical rendering.

The three extensions share Cline's task folder (``globalStorage/<extension>/tasks/<id>/``):
``api_conversation_history.json`` (Anthropic ``MessageParam[]``: ``role``, ``content`` as
a string or blocks; Roo adds ``ts``), ``ui_messages.json`` (``{ts, type: ask|say, say,
text}``), ``task_metadata.json`` (``model_usage[{ts, model_id}]``) and, for Roo and Kilo,
``history_item.json`` (``{id, ts, task, workspace, …}``). Cline 4.x keeps new tasks in
``~/.cline/data/sessions/<id>/<id>.json`` (manifest: ``cwd``, ``model``, ``started_at``)
and ``<id>.messages.json`` (``{messages[{role, content, ts, modelInfo}]}``). Formats read
from cline/cline ``apps/vscode/src/core/storage/disk.ts`` and
``apps/vscode/src/shared/ExtensionMessage.ts``, RooCodeInc/Roo-Code
``src/core/task-persistence/apiMessages.ts`` and ``packages/types/src/history.ts``
(see docs/formats.md). The files are rewritten whole, so the payload is one line::

    {"api":[…],"format":"lore-vscode-task-v1","history":{…}|null,"manifest":{…}|null,
     "metadata":{…}|null,"task_id":"…","tool":"cline","ui":[…]|null}

Tool results arrive under the user role, as ``tool_result`` blocks (Roo, Cline 4) or as
text blocks starting ``[read_file for 'x'] Result:`` (Cline 3): those are the tool
speaking, not the person. ``<environment_details>`` that the extension appends to each
user turn is context, not words, and is cut from the text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lored.capture._common import (
    Notes,
    as_dict,
    as_str,
    canonical_json,
    flatten_text,
    norm_ts,
    span,
)
from lored.model import Message, ParsedSession

FORMAT = "lore-vscode-task-v1"
TOOLS = ("cline", "roo-code", "kilo-code")
_RESULT = re.compile(r"^\[[^\]\n]{1,200}\] Result:")
_ENV = re.compile(r"<environment_details>.*?(</environment_details>|$)", re.S)
_CWD = re.compile(r"# Current (?:Working Directory|Workspace Directory) \(([^)\n]+)\)")
_TASK = re.compile(r"^\s*<task>\s*(.*?)\s*</task>", re.S)


def render(tool: str, task_id: str, *, api: Any, ui: Any = None, metadata: Any = None,
           history: Any = None, manifest: Any = None) -> bytes:
    """The canonical payload of one task (the decoded JSON of its files)."""
    return (canonical_json({
        "format": FORMAT, "tool": tool, "task_id": task_id, "api": api, "ui": ui,
        "metadata": metadata, "history": history, "manifest": manifest,
    }) + "\n").encode()


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b if isinstance(b, dict) else {"type": "text", "text": str(b)} for b in content]
    return []


def _user(entry: dict[str, Any], ts: str | None) -> Message | None:
    texts: list[str] = []
    results: list[dict[str, Any]] = []
    for block in _blocks(entry.get("content")):
        kind = block.get("type")
        if kind == "tool_result":
            results.append({"tool_use_id": as_str(block.get("tool_use_id")),
                            "content": flatten_text(block.get("content")),
                            "is_error": bool(block.get("is_error", False))})
        elif kind == "text":
            text = flatten_text(block.get("text"))
            if _RESULT.match(text):
                results.append({"tool_use_id": None, "content": text, "is_error": False})
            else:
                texts.append(text)
    words = "\n".join(t for t in (_ENV.sub("", t).strip() for t in texts) if t)
    task = _TASK.match(words)
    if task:
        words = task.group(1) + words[task.end():]
    extra: dict[str, Any] = {"tool_results": results} if results else {}
    if not words.strip():
        if not results:
            return None  # only environment details: nothing anyone said
        return Message("tool", ts, "\n".join(r["content"] for r in results), extra)
    return Message("user", ts, words.strip(), extra)


def _assistant(entry: dict[str, Any], ts: str | None) -> Message:
    msg = Message("assistant", ts, "", {})
    for block in _blocks(entry.get("content")):
        kind = block.get("type")
        if kind == "text":
            text = flatten_text(block.get("text"))
            msg.text = f"{msg.text}\n\n{text}" if msg.text else text
        elif kind == "tool_use":
            msg.extra.setdefault("tool_calls", []).append({
                "id": as_str(block.get("id")), "name": as_str(block.get("name")),
                "input": block.get("input")})
        elif kind in ("thinking", "reasoning"):
            thought = flatten_text(block.get("thinking") or block.get("text"))
            if thought:
                msg.extra["thinking"] = thought
    info = entry.get("modelInfo")
    if isinstance(info, dict) and as_str(info.get("modelId")):
        msg.extra["model"] = info["modelId"]
    return msg


def _human_times(ui: Any) -> list[str | None]:
    """Times of the person's turns in the UI log (the first ``text`` and every feedback)."""
    out: list[str | None] = []
    if not isinstance(ui, list):
        return out
    for n, m in enumerate(x for x in ui if isinstance(x, dict)):
        if m.get("type") == "say" and (m.get("say") == "user_feedback"
                                       or (m.get("say") == "text" and n == 0)):
            out.append(norm_ts(m.get("ts")))
    return out


def _ui_times(ui: Any) -> list[str | None]:
    return [norm_ts(m.get("ts")) for m in ui if isinstance(m, dict)] if isinstance(ui, list) else []


def parse(payload: bytes, source_hint: str | None = None) -> ParsedSession:
    """Parse one task's canonical payload (any of the three extensions)."""
    notes = Notes()
    doc = None
    try:
        doc = json.loads(payload.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        notes.bad("payload", "not valid JSON")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        notes.bad("payload", f"not a {FORMAT} payload")
        doc = {}
    tool = as_str(doc.get("tool")) or "cline"
    task_id = as_str(doc.get("task_id")) or ""
    history = as_dict(doc.get("history"))
    manifest = as_dict(doc.get("manifest"))
    metadata = as_dict(doc.get("metadata"))
    api = doc.get("api")
    if isinstance(api, dict):  # Cline 4.x messages file: {"messages": [...]}
        api = api.get("messages")
    human = iter(_human_times(doc.get("ui")))
    messages: list[Message] = []
    models: list[str] = []
    for n, entry in enumerate(api if isinstance(api, list) else []):
        if not isinstance(entry, dict) or entry.get("condenseParent"):
            continue  # condensed away (Roo keeps the originals on disk)
        ts = norm_ts(entry.get("ts"))
        role = entry.get("role")
        if role == "user":
            m = _user(entry, ts)
            if m is not None and m.role == "user" and m.timestamp is None:
                m.timestamp = next(human, None)
        elif role == "assistant":
            m = _assistant(entry, ts)
            if isinstance(m.extra.get("model"), str):
                models.append(m.extra["model"])
        else:
            notes.unknown(str(role or entry.get("type")))
            continue
        if m is None:
            continue
        if not messages and m.role == "user" and not m.text.strip():
            notes.warn(f"entry {n}: empty first prompt")
        messages.append(m)
    usage = metadata.get("model_usage")
    if isinstance(usage, list):
        models += [u["model_id"] for u in usage
                   if isinstance(u, dict) and as_str(u.get("model_id"))]
    model = (models[-1] if models else None) or as_str(manifest.get("model")) \
        or as_str(history.get("modelId"))
    project = (as_str(history.get("workspace")) or as_str(history.get("cwdOnTaskInitialization"))
               or as_str(manifest.get("cwd")) or as_str(manifest.get("workspace_root")))
    if project is None:
        for entry in api if isinstance(api, list) else []:
            content = entry.get("content") if isinstance(entry, dict) else ""
            found = _CWD.search(flatten_text(content))
            if found:
                project = found.group(1).strip()
                break
    times = [m.timestamp for m in messages] + _ui_times(doc.get("ui"))
    times += [norm_ts(history.get("ts")), norm_ts(manifest.get("started_at"))]
    if task_id.isdigit():
        times.append(norm_ts(int(task_id)))  # Cline 3's task ids are its start, in ms
    start, end = span(times)
    first = next((m.text for m in messages if m.role == "user"), None)
    title = as_str(history.get("task")) or first
    bad, warnings = notes.finish()
    return ParsedSession(
        session_id=f"{tool}:{task_id}", tool=tool, native_id=task_id, project_path=project,
        started_at=start, ended_at=end, messages=messages, model=model,
        title=_short_title(title), bad_records=bad, warnings=warnings)


def _short_title(text: str | None, limit: int = 80) -> str | None:
    if not text:
        return None
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
