"""`lorectl` (also `lore`): the command-line entry point.

Subcommands are loaded lazily from ``lorectl.commands.*`` so that light commands
(`lorectl status` talking to the daemon) do not pay for heavy imports.
``lore cloud push|pull|sync|status|login|logout`` is the same command as
``lorectl push|…``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

#: command name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    # local: capture, browse, search (lorectl/commands/local.py)
    "import": "lorectl.commands.local:import_cmd",
    "sessions": "lorectl.commands.local:sessions_group",
    "search": "lorectl.commands.local:search_cmd",
    # continue a session here in its own tool (lorectl/commands/resume.py, issue 15)
    "resume": "lorectl.commands.resume:resume_cmd",
    "config": "lorectl.commands.local:config_group",
    # the read-only MCP server for assistants (lorectl/commands/mcp.py, issue 20)
    "mcp": "lorectl.commands.mcp:mcp_cmd",
    # secrets in the archive: scan and redact (lorectl/commands/secrets.py, issue 17)
    "secrets": "lorectl.commands.secrets:secrets_group",
    # which tools are captured, where, how many (lorectl/commands/tools.py, issue 22)
    "tools": "lorectl.commands.tools:tools_cmd",
    # cloud: account and sync (lorectl/commands/cloud.py)
    "login": "lorectl.commands.cloud:login_cmd",
    "register": "lorectl.commands.cloud:register_cmd",
    "logout": "lorectl.commands.cloud:logout_cmd",
    "push": "lorectl.commands.cloud:push_cmd",
    "pull": "lorectl.commands.cloud:pull_cmd",
    "sync": "lorectl.commands.cloud:sync_cmd",
    "status": "lorectl.commands.cloud:status_cmd",
    "passphrase": "lorectl.commands.cloud:passphrase_group",
    "unlock": "lorectl.commands.cloud:unlock_cmd",
    "machine": "lorectl.commands.machine:machine_group",
    # key management and deletion (lorectl/commands/keys.py)
    "key": "lorectl.commands.keys:key_group",
    # share links (lorectl/commands/shares.py, issue 18)
    "shares": "lorectl.commands.shares:shares_group",
    # service manager integration (lorectl/commands/service.py)
    "service": "lorectl.commands.service:service_group",
    # health checks and store repair (lorectl/commands/doctor.py)
    "doctor": "lorectl.commands.doctor:doctor_cmd",
}
CLOUD_ALIASES = ("push", "pull", "sync", "status", "login", "logout", "register")


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            module_name, attr = self._lazy[cmd_name].split(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name == module_name:
                    return None  # command not built yet
                raise
            cmd = getattr(module, attr, None)
            return cmd if isinstance(cmd, click.Command) else None
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="lore-sessions", prog_name="lorectl")
def cli() -> None:
    """Lore: capture, search and end-to-end encrypted sync of AI coding sessions."""


#: commands that exist only under `lorectl cloud …` (too drastic for a top-level name)
CLOUD_ONLY = {"reset": "lorectl.commands.keys:cloud_reset_cmd"}


@cli.group(
    "cloud", cls=LazyGroup,
    lazy={name: COMMANDS[name] for name in CLOUD_ALIASES} | CLOUD_ONLY,
)
def cloud_group() -> None:
    """Lore Cloud commands (the same as `lorectl push|pull|sync|status|login|logout`)."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; errors become exit codes in lorectl.errors_cli."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="lorectl")
