"""Plain row types returned and accepted by :class:`lored.store.Store`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lored.model import ParsedSession


@dataclass(frozen=True)
class SourceState:
    """What capture last saw of a native transcript file.

    ``offset`` is how many bytes of the file are already in the session's payload,
    so an append-only file that grew is read from there.
    """

    path: str
    session_id: str
    size: int
    mtime_ns: int
    inode: int
    offset: int


@dataclass(frozen=True)
class SessionRow:
    """One session as listed (no payload, no messages)."""

    id: str
    tool: str
    native_id: str
    project_path: str | None
    title: str | None
    model: str | None
    git_branch: str | None
    started_at: str | None
    ended_at: str | None
    message_count: int
    origin_machine_id: str
    origin_machine_name: str | None
    local: bool
    payload_length: int
    pushed: bool
    #: the project's normalised git remote (``host/owner/repo``), when known
    git_remote: str | None = None
    #: records of the transcript that could not be read (skipped, never fatal)
    bad_records: int = 0

    def to_json(self) -> dict[str, Any]:
        """CLI.md's `sessions list` object (fixed keys first, extras after)."""
        return {
            "id": self.id,
            "tool": self.tool,
            "project_path": self.project_path,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "message_count": self.message_count,
            "origin_machine_id": self.origin_machine_id,
            "local": self.local,
            "title": self.title,
            "model": self.model,
            "git_branch": self.git_branch,
            "origin_machine_name": self.origin_machine_name,
            "payload_bytes": self.payload_length,
            "git_remote": self.git_remote,
            "bad_records": self.bad_records,
        }


@dataclass(frozen=True)
class PushCandidate:
    """An own session whose payload changed since its last push (or never pushed)."""

    session_id: str
    tool: str
    project_path: str | None
    started_at: str | None
    ended_at: str | None
    message_count: int
    payload_length: int
    payload_hash: str
    info: dict[str, Any]
    pushed_generation: int
    pushed_chunks: int
    pushed_length: int
    pushed_hash: str | None
    #: the capture's clean mark (see ``secrets.redact.clean_mark``), if it scanned it
    scan_clean: str | None = None


@dataclass(frozen=True)
class RemoteState:
    """What this machine holds of a session, as the pull planner needs it."""

    generation: int
    chunk_count: int
    payload_length: int
    origin_machine_id: str
    local: bool


@dataclass
class PulledSession:
    """A session downloaded, opened and re-parsed, ready to store."""

    parsed: ParsedSession
    payload: bytes
    origin_machine_id: str
    origin_machine_name: str | None
    generation: int
    chunk_count: int
    seq: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def session_id(self) -> str:
        """The session's id."""
        return self.parsed.session_id


@dataclass
class PulledRaw:
    """A session downloaded and authenticated but not parsed yet (the fast pull path).

    ``frames`` are the new chunks' zstd frames exactly as sealed (a stored payload is a
    concatenation of frames); with ``append`` they continue the stored payload
    ``base`` (its compressed blob). ``info`` is the opened sealed info, ``meta`` the
    feed's plaintext metadata: together they make the session listable until the
    deferred parse (``parsed = 0``) replaces them with what the payload says.
    """

    session_id: str
    frames: list[bytes]
    payload_length: int
    info: dict[str, Any]
    meta: dict[str, Any]
    origin_machine_id: str
    origin_machine_name: str | None
    generation: int
    chunk_count: int
    seq: int
    base: bytes | None = None
