"""`lorectl machine rename NAME`: the name other machines and the dashboard show.

The name lives in config.toml (``machine_name``, the hostname at first run) and on Lore
Cloud (``PUT /v1/machine``). Renaming while logged out changes config.toml only; the
next `lorectl login` sends it. `lorectl login --machine-name NAME` renames at login.
"""

from __future__ import annotations

import click

from lorectl.common import emit_json, handle_errors


@click.group("machine")
def machine_group() -> None:
    """This machine's name (machines with the same hostname are told apart by it)."""


@machine_group.command("rename")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@handle_errors
def machine_rename(name: str, as_json: bool) -> None:
    """Rename this machine here and on Lore Cloud."""
    from lorectl.runner import with_lore
    from lored.config import load_settings

    doc = with_lore(load_settings(), lambda lore: lore.rename_machine(name))
    if as_json:
        emit_json(doc)
        return
    if doc["server"]:
        click.echo(f"This machine is now called {doc['name']!r} (here and on Lore Cloud).")
    else:
        click.echo(f"This machine is now called {doc['name']!r}; the next `lorectl login` "
                   "tells Lore Cloud.")
