"""The MCP server itself: the official ``mcp`` SDK (FastMCP) over stdio, four tools.

Tools answer JSON objects from :class:`lored.mcp.archive.Archive`; a bad argument or an
unknown id raises :class:`ArchiveError`, which the SDK turns into a tool error the
assistant reads (the server keeps running). stdin closing ends the server (exit 0).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lored.config import Settings
from lored.mcp.archive import Archive, redact_with
from lored.secrets.redact import Redactor

INSTRUCTIONS = (
    "Lore holds the user's past AI coding sessions from every tool and every machine "
    "(Claude Code, Codex, Gemini CLI, Aider, OpenCode, Cline, Cursor, …). Use "
    "search_sessions to find what was said or decided, project_history for the project "
    "you are in (matched across machines by git remote), and get_session to read one."
)


def build(archive: Callable[[], Archive]) -> Any:
    """The FastMCP server whose tools read ``archive()`` (a read-only store).

    The archive is asked for per call, so the warm standby (:mod:`lored.mcp.standby`)
    can build the server — the costly part: the SDK turns each signature into pydantic
    models — before it knows which store it will serve.
    """
    from mcp.server.fastmcp import FastMCP

    # the SDK logs every request at INFO on stderr; an assistant shows that as noise
    server = FastMCP("lore", instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool()
    def search_sessions(query: str, tool: str | None = None, project: str | None = None,
                        machine: str | None = None, since: str | None = None,
                        limit: int | None = None) -> dict[str, Any]:
        """Full-text search over every message of every session; ranked snippets with
        session id, tool, project, machine and time. `since`: a date or '7d'/'12h'.
        `limit` (default 10, at most 50); `more` says how many results were left out."""
        return archive().search(query, tool=tool, project=project, machine=machine,
                              since=since, limit=limit)

    @server.tool()
    def list_sessions(project: str | None = None, tool: str | None = None,
                      machine: str | None = None, since: str | None = None,
                      limit: int | None = None) -> dict[str, Any]:
        """Sessions, most recent first (default 20, at most 100), with `total` and `more`.
        `project` matches part of a project path or git remote."""
        return archive().list_sessions(project=project, tool=tool, machine=machine,
                                     since=since, limit=limit)

    @server.tool()
    def get_session(session_id: str, offset: int | None = None,
                    limit: int | None = None) -> dict[str, Any]:
        """One session's metadata and a page of its messages (default 50 from `offset`,
        at most 200; long texts shortened, tool calls summarised by name)."""
        return archive().get_session(session_id, offset=offset, limit=limit)

    @server.tool()
    def project_history(path: str, limit: int | None = None) -> dict[str, Any]:
        """Recent sessions of the project at `path` from every machine: matched by the
        checkout's git remote, so a checkout at another path elsewhere still matches."""
        return archive().project_history(path, limit=limit)

    return server


def run(db_file: Path, redactor: Callable[[], Redactor | None] | None = None) -> None:
    """Serve over stdio until stdin closes; every answer's text redacted by
    ``redactor()`` (called on the first answer that has text)."""
    archive = Archive(db_file)  # a missing store is a start-up error, not a tool error
    redact_with(redactor)
    build(lambda: archive).run("stdio")


def assistant_redactor(settings: Settings) -> Redactor | None:
    """What every answer passes through: secrets redacted whatever ``[privacy] redact``
    says for this machine's own store."""
    from lored.capture.redaction import local_redactor

    return local_redactor(settings, always=True)
