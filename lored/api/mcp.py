"""The facade's door to the MCP server (`lorectl mcp`), so lorectl never imports it."""

from __future__ import annotations

from lored.config import Settings


def serve_mcp(settings: Settings) -> None:
    """Run the read-only MCP server on this machine's archive until stdin closes."""
    from lored.capture.redaction import local_redactor
    from lored.errors import UsageError
    from lored.mcp.archive import ArchiveError
    from lored.mcp.server import run

    try:
        # what the assistant sees is redacted whatever [privacy] redact says locally
        run(settings.paths.db_file,
            redactor=lambda: local_redactor(settings, always=True))
    except ArchiveError as exc:
        raise UsageError(str(exc), hint="run `lorectl import` to capture sessions") from None


def mcp_config(tool: str) -> str:
    """The snippet that registers `lorectl mcp` with ``tool`` (claude, codex, gemini)."""
    from lored.mcp.configs import config_for

    return config_for(tool)
