"""Which parser reads which tool's payload.

Used at capture and, after a pull, to re-parse payloads that other machines captured:
a payload alone is enough to rebuild the session's messages.
"""

from __future__ import annotations

from collections.abc import Callable

from lored.capture import (
    aider,
    claude,
    cline,
    codex,
    continue_dev,
    copilot,
    cursor,
    droid,
    forks,
    gemini,
    goose,
    opencode,
    qwen,
)
from lored.capture._common import prompt_title
from lored.errors import CorruptData
from lored.model import ParsedSession

Parser = Callable[[bytes, str | None], ParsedSession]

def _kilo(payload: bytes, hint: str | None) -> ParsedSession:
    """Kilo Code: older task folders (Cline's shape) or ``kilo.db`` (OpenCode's)."""
    # canonical JSON sorts keys: a task payload starts with "api", OpenCode's with "format"
    if payload.startswith(b'{"format":"%s"' % opencode.FORMAT.encode()):
        return opencode.parse(payload, hint)
    return cline.parse(payload, hint)


#: tool name (as in ``settings.tools`` and session ids) -> pure parser
PARSERS: dict[str, Parser] = {
    claude.TOOL: claude.parse,
    codex.TOOL: codex.parse,
    gemini.TOOL: gemini.parse,
    aider.TOOL: aider.parse,
    opencode.TOOL: opencode.parse,
    **{tool: cline.parse for tool in cline.TOOLS},
    "kilo-code": _kilo,
    continue_dev.TOOL: continue_dev.parse,
    copilot.TOOL: copilot.parse,
    cursor.TOOL: cursor.parse,
    goose.TOOL: goose.parse,
    qwen.TOOL: qwen.parse,
    droid.TOOL: droid.parse,
}


def parse_payload(tool: str, payload: bytes, source_hint: str | None = None) -> ParsedSession:
    """Parse one session's payload with its tool's parser (pure; bad lines are counted).

    Raises :class:`CorruptData` for a tool this version of Lore cannot read, and when the
    payload names no session at all (nothing to store it under).
    """
    parser = PARSERS.get(tool)
    if parser is None:
        raise CorruptData(
            f"no parser for tool {tool!r}", hint="upgrade Lore on this machine to read it"
        )
    fork, transcript = forks.split_header(payload)  # a fork's id lives in its payload
    parsed = parser(transcript, source_hint)
    if not parsed.title:  # the tool's own title wins; else the first real prompt
        parsed.title = prompt_title(m.text for m in parsed.messages if m.role == "user")
    if not parsed.native_id:
        raise CorruptData(f"{tool} payload names no session id")
    return parsed if fork is None else forks.apply_header(parsed, fork)


def tool_of(session_id: str) -> str:
    """The tool part of a session id (``"codex:abc"`` -> ``"codex"``)."""
    return session_id.split(":", 1)[0]
