"""Rewrite a transcript from the origin machine's checkout to this machine's (pure).

Every ``cwd`` and every absolute path under the old project root inside tool calls,
tool results and metadata records is moved to the new root; what people and models
wrote (user prompts, assistant text, thinking) is left exactly as it was, so the
conversation reads the same on every machine.

Output stays as close to the input bytes as possible: lines that need no change, and
lines that are not JSON, are kept byte for byte. A changed line is first rewritten as
text (only the path spellings change) and that result is kept when it parses to
exactly the rewritten record; otherwise the record is serialised again in the line's
own style (compact or spaced, escaped or raw non-ASCII).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: a path spelling may not continue a longer name (``/src/app`` is not in ``/src/app2``)
_BEFORE = r"(?<![\w.\-])"
_AFTER = r"(?![\w\-]|\.[\w\-])"
#: Codex context injected as a user message: machine facts (cwd), not the user's words
_INJECTED = "<environment_context>"
_CLAUDE_PROSE_BLOCKS = frozenset({"text", "thinking", "redacted_thinking", "image"})
_CODEX_PROSE_EVENTS = frozenset({
    "user_message", "agent_message", "agent_reasoning", "agent_reasoning_raw_content",
})


@dataclass(frozen=True)
class PathMap:
    """Move paths under ``old`` (the origin's project root) to ``new`` (this machine's)."""

    old: str
    new: str
    _re: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        old, new = _clean(self.old), _clean(self.new)
        if old == "/" or not old.startswith("/"):
            raise ValueError(f"cannot remap paths under {self.old!r}")
        object.__setattr__(self, "old", old)
        object.__setattr__(self, "new", new)
        object.__setattr__(self, "_re", re.compile(_BEFORE + re.escape(old) + _AFTER))

    @property
    def identity(self) -> bool:
        """True when nothing moves."""
        return self.old == self.new

    def sub(self, text: str) -> str:
        """``text`` with every spelling of a path under the old root moved."""
        if self.old not in text:
            return text
        return self._re.sub(lambda _: self.new, text)

    def deep(self, value: Any) -> Any:
        """A copy of a JSON value with every string (and object key) moved."""
        if isinstance(value, str):
            return self.sub(value)
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        if isinstance(value, dict):
            return {self.sub(k): self.deep(v) for k, v in value.items()}
        return value


def _clean(path: str) -> str:
    return path.rstrip("/") or "/"


# --- per-tool record rules ------------------------------------------------------------
def claude_record(rec: dict[str, Any], pm: PathMap) -> dict[str, Any]:
    """A Claude Code record with paths moved; prompts, replies and thinking kept."""
    out: dict[str, Any] = {}
    for key, value in rec.items():
        if key == "summary" or key == "customTitle" or key == "aiTitle":
            out[key] = value
        elif key == "message" and isinstance(value, dict):
            out[key] = {k: _claude_content(v, pm) if k == "content" else pm.deep(v)
                        for k, v in value.items()}
        else:
            out[key] = pm.deep(value)
    return out


def _claude_content(content: Any, pm: PathMap) -> Any:
    if not isinstance(content, list):
        return content  # a prompt typed as a plain string
    return [
        block if isinstance(block, dict) and block.get("type") in _CLAUDE_PROSE_BLOCKS
        else pm.deep(block)
        for block in content
    ]


def codex_record(rec: dict[str, Any], pm: PathMap) -> dict[str, Any]:
    """A Codex rollout record (enveloped or legacy) with paths moved, prose kept."""
    body = rec.get("payload")
    if isinstance(body, dict) and isinstance(rec.get("type"), str):
        kind = rec["type"]
        if (kind == "response_item" and _codex_prose_item(body)) or (
            kind == "event_msg" and body.get("type") in _CODEX_PROSE_EVENTS
        ):
            return rec
        return {k: pm.deep(v) if k == "payload" else v for k, v in rec.items()}
    return rec if _codex_prose_item(rec) else dict(pm.deep(rec))


def _codex_prose_item(item: dict[str, Any]) -> bool:
    kind = item.get("type")
    if kind == "reasoning":
        return True
    if kind != "message":
        return False
    texts = [c.get("text") for c in item.get("content") or [] if isinstance(c, dict)]
    return not any(isinstance(t, str) and t.lstrip().startswith(_INJECTED) for t in texts)


def gemini_record(rec: dict[str, Any], pm: PathMap) -> dict[str, Any]:
    """A Gemini CLI record (chat document, metadata line or message) with paths moved.

    A message's ``content`` and ``thoughts`` are the person's and the model's words;
    tool calls (``toolCalls``: args, results) and metadata are moved.
    """
    if isinstance(rec.get("messages"), list):  # a whole chat document (older .json files)
        return {k: [gemini_record(m, pm) if isinstance(m, dict) else m for m in v]
                if k == "messages" else pm.deep(v) for k, v in rec.items()}
    return {k: v if k in ("content", "thoughts", "displayContent") else pm.deep(v)
            for k, v in rec.items()}


def opencode_record(rec: dict[str, Any], pm: PathMap) -> dict[str, Any]:
    """An OpenCode record (``session``/``message``/``part``) with paths moved, prose kept."""
    part = rec.get("part")
    if isinstance(part, dict) and part.get("type") in ("text", "reasoning"):
        return rec
    return dict(pm.deep(rec))


def aider_section(section: bytes, pm: PathMap) -> bytes:
    """An Aider history section with paths moved in its ``> `` status lines only.

    The user's ``#### `` lines and the assistant's answer stay as written; Aider names
    files relative to the repository, so mostly nothing changes.
    """
    if pm.identity or pm.old.encode() not in section:
        return section
    out = []
    for line in section.split(b"\n"):
        if line.startswith(b">"):
            line = pm.sub(line.decode("utf-8", "surrogateescape")).encode(
                "utf-8", "surrogateescape")
        out.append(line)
    return b"\n".join(out)


RULES: dict[str, Callable[[dict[str, Any], PathMap], dict[str, Any]]] = {
    "claude-code": claude_record,
    "codex": codex_record,
    "gemini": gemini_record,
    "opencode": opencode_record,
}


# --- lines ----------------------------------------------------------------------------
def rewrite_transcript(tool: str, payload: bytes, pm: PathMap) -> tuple[bytes, int]:
    """(rewritten JSONL payload, number of lines changed) for ``tool``'s records."""
    rule = RULES[tool]
    if pm.identity:
        return payload, 0
    lines = payload.split(b"\n")
    changed = 0
    for i, raw in enumerate(lines):
        new = rewrite_line(raw, rule, pm)
        if new is not raw:
            lines[i] = new
            changed += 1
    return b"\n".join(lines), changed


def rewrite_line(raw: bytes, rule: Callable[[dict[str, Any], PathMap], dict[str, Any]],
                 pm: PathMap) -> bytes:
    """One JSONL line rewritten; the very same object back when nothing changes."""
    if pm.old.encode() not in raw and _json_str(pm.old).encode() not in raw:
        return raw  # fast path: the old root is not spelled anywhere on this line
    try:
        text = raw.decode("utf-8")
        obj = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return raw  # not ours to fix: kept as it is
    if not isinstance(obj, dict):
        return raw
    new_obj = rule(obj, pm)
    if new_obj == obj:
        return raw
    textual = re.sub(_BEFORE + re.escape(_json_str(pm.old)) + _AFTER,
                     lambda _: _json_str(pm.new), text)
    try:
        if json.loads(textual) == new_obj:
            return textual.encode("utf-8")
    except ValueError:
        pass
    return _dumps_like(text, obj, new_obj).encode("utf-8")


def _json_str(s: str) -> str:
    """How ``s`` is spelled inside a JSON string (without the quotes)."""
    return json.dumps(s, ensure_ascii=False)[1:-1]


def _dumps_like(original: str, obj: Any, new_obj: Any) -> str:
    """``new_obj`` serialised in the style that reproduces ``original`` from ``obj``."""
    stripped = original.strip()
    lead = original[: len(original) - len(original.lstrip())]
    trail = original[len(original.rstrip()):]
    styles: list[tuple[tuple[str, str], bool]] = [
        ((",", ":"), False), ((",", ":"), True), ((", ", ": "), False), ((", ", ": "), True),
    ]
    chosen = styles[0]
    for separators, ascii_only in styles:
        if json.dumps(obj, separators=separators, ensure_ascii=ascii_only) == stripped:
            chosen = (separators, ascii_only)
            break
    body = json.dumps(new_obj, separators=chosen[0], ensure_ascii=chosen[1])
    return lead + body + trail
