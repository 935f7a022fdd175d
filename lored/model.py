"""What every capture parser produces: a parsed session with its messages.

Pure data. Parsers take the session's payload bytes (the raw transcript, or a
canonical rendering for tools whose files are not append-only) and return a
:class:`ParsedSession`; the same parser runs on the origin machine at capture and
on every other machine after a pull.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass
class Message:
    """One message of a session.

    ``extra`` carries tool calls and other structured fields (``tool_calls``,
    ``tool_results``, ``thinking``, ``model`` …); it is rendered as extra JSON keys.
    """

    role: str  # user | assistant | tool | system
    timestamp: str | None  # ISO 8601 UTC
    text: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedSession:
    """A session parsed from its payload."""

    session_id: str  # "<tool>:<native id>"
    tool: str  # claude-code | codex | gemini | aider | opencode
    native_id: str
    project_path: str | None
    started_at: str | None
    ended_at: str | None
    messages: list[Message] = field(default_factory=list)
    model: str | None = None
    title: str | None = None
    git_branch: str | None = None
    git_remote: str | None = None
    tool_version: str | None = None
    #: the session this one continues when it is a fork (see capture/forks.py)
    forked_from: str | None = None
    #: lines/records that could not be parsed (skipped, counted, never fatal)
    bad_records: int = 0
    #: human-readable notes about skipped input, e.g. "line 7: not JSON"
    warnings: list[str] = field(default_factory=list)
    #: the message count of a parse whose messages were left behind (a bulk import's
    #: worker sends metadata only: capture/bulk.py); None: count ``messages``
    counted: int | None = None

    @property
    def message_count(self) -> int:
        """Number of messages."""
        return len(self.messages) if self.counted is None else self.counted

    def without_messages(self) -> ParsedSession:
        """This parse with its messages counted but dropped (cheap to send to another
        process: a worker's message rows, or nothing, travel instead)."""
        return replace(self, messages=[], counted=self.message_count)

    def info(self) -> dict[str, Any]:
        """Private metadata sealed into the 'info' blob (never sent in plaintext)."""
        out = {
            "title": self.title,
            "model": self.model,
            "git_branch": self.git_branch,
            "tool_version": self.tool_version,
        }
        return {k: v for k, v in out.items() if v is not None}
