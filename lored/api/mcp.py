"""The facade's door to the MCP server (`lorectl mcp`), so lorectl never imports it."""

from __future__ import annotations

import contextlib

from lored.config import Settings


def serve_mcp(settings: Settings) -> int:
    """Serve the read-only MCP server on this machine's archive until stdin closes;
    returns the exit status.

    With ``lored`` running, its warm standby (``lored.mcp.standby``) takes this
    process's stdin/stdout over and serves them, the SDK already loaded; otherwise the
    server runs here. Either way, ``lorectl mcp`` having run is remembered so that
    lored keeps a standby from now on.
    """
    from lored.mcp.standby import handoff, marker, socket_path

    paths = settings.paths
    if paths.data_dir.is_dir():
        with contextlib.suppress(OSError):
            marker(paths).touch()
    status = handoff(socket_path(paths))
    if status is not None:
        return status
    from lored.errors import UsageError
    from lored.mcp.archive import ArchiveError
    from lored.mcp.server import assistant_redactor, run

    try:
        # what the assistant sees is redacted whatever [privacy] redact says locally
        run(paths.db_file, redactor=lambda: assistant_redactor(settings))
    except ArchiveError as exc:
        raise UsageError(str(exc), hint="run `lorectl import` to capture sessions") from None
    return 0


def mcp_config(tool: str) -> str:
    """The snippet that registers `lorectl mcp` with ``tool`` (claude, codex, gemini)."""
    from lored.mcp.configs import config_for

    return config_for(tool)


def standby_wanted(settings: Settings) -> bool:
    """True once `lorectl mcp` has run on this machine (lored then keeps a standby),
    unless lored's environment says ``LORE_MCP_STANDBY=0``."""
    import os

    from lored.mcp.standby import marker

    if os.environ.get("LORE_MCP_STANDBY", "").strip() == "0":
        return False
    return marker(settings.paths).exists()
