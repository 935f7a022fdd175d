"""``lored``: run the Lore daemon in the foreground (the service manager supervises it).

Keeps the machine in sync on its own: captures sessions as the AI tools write them,
runs a pull-then-push cycle every ``[sync] interval`` (and soon after new captures),
and answers ``lorectl`` on its Unix socket.
"""

from __future__ import annotations

import asyncio
import sys

# The daemon never draws rich output, but structlog imports rich (when installed) for
# its console renderer: ~5 MB of idle RSS (PERFORMANCE.md P6). Hide it in this process.
sys.modules.setdefault("rich", None)  # type: ignore[arg-type]

import click  # noqa: E402

from lored.errors import LoreError  # noqa: E402

LEVELS = ("debug", "info", "warning", "error")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--foreground/--no-foreground",
    default=True,
    show_default=True,
    help="Run in the foreground (the only mode: systemd/launchd do the supervising).",
)
@click.option(
    "--log-level",
    type=click.Choice(LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
    envvar="LORE_LOG_LEVEL",
    help="Minimum level of log lines (JSON on a pipe/journal, plain text on a terminal).",
)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "json", "console"]),
    default="auto",
    show_default=True,
    help="auto: JSON lines unless stderr is a terminal.",
)
@click.version_option(package_name="lore-sessions", prog_name="lored")
def cli(foreground: bool, log_level: str, log_format: str) -> None:
    """Run the Lore daemon: capture, scheduled sync and the lorectl socket API.

    \b
    Files: state under LORE_HOME (or the platform dirs); socket <runtime dir>/lored.sock.
    Signals: SIGTERM/SIGINT stop gracefully; SIGHUP re-reads config.toml.
    Environment: LORE_HOME, LORE_SYNC_INTERVAL, LORE_PASSPHRASE, NOTIFY_SOCKET.
    """
    if not foreground:
        raise click.UsageError("lored only runs in the foreground; use `lorectl service install`")
    from lored.logging import configure_logging

    json_lines = None if log_format == "auto" else log_format == "json"
    configure_logging(log_level, json_lines=json_lines)
    try:
        from lored.config import load_settings
        from lored.daemon.core import Daemon

        code = asyncio.run(Daemon(load_settings()).run())
    except LoreError as err:
        click.echo(f"error: {err.message}", err=True)
        if err.fix:
            click.echo(f"hint: {err.fix}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="lored")
