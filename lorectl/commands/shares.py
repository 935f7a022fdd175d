"""Share links: ``lorectl sessions share ID [--expires 7d] [--json]``, ``lorectl shares
list [--json]`` and ``lorectl shares revoke SHARE_ID`` (issue 18).

The link's key is made here and printed once; the server never sees it, so it cannot
be listed again later (``shares list`` shows ids, expiry and views).
"""

from __future__ import annotations

from typing import Any

import click

from lorectl.common import emit_json, handle_errors

_JSON = click.option("--json", "as_json", is_flag=True, help="print JSON")


def _settings() -> Any:
    from lored.config import load_settings

    return load_settings()


@click.command("share")
@click.argument("session_id", metavar="ID")
@click.option("--expires", default="7d", show_default=True, metavar="DURATION",
              help="link lifetime: 30m, 12h, 7d, 2w (at most 90d)")
@_JSON
@handle_errors
def sessions_share(session_id: str, expires: str, as_json: bool) -> None:
    """Make a read-only link to one session, end-to-end encrypted (key in the link)."""
    from lorectl.runner import with_lore

    doc = with_lore(_settings(), lambda lore: lore.share_session(session_id, expires))
    if as_json:
        emit_json(doc)
        return
    click.echo(doc["url"])
    click.echo(f"expires {doc['expires_at']}; anyone with this link can read the session. "
               f"Revoke: lorectl shares revoke {doc['share_id']}", err=True)


@click.group("shares")
def shares_group() -> None:
    """Share links of this account."""


@shares_group.command("list")
@_JSON
@handle_errors
def shares_list(as_json: bool) -> None:
    """List share links: id, session, expiry, views, state."""
    from lorectl.runner import with_lore

    rows = with_lore(_settings(), lambda lore: lore.list_shares())
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No share links. Make one with `lorectl sessions share ID`.")
        return
    for r in rows:
        click.echo(f"{r['share_id']}  {r['state']:<8} views {r['views']:<4} "
                   f"expires {r['expires_at']}  {r['session_id']}")


@shares_group.command("revoke")
@click.argument("share_id", metavar="SHARE_ID")
@_JSON
@handle_errors
def shares_revoke(share_id: str, as_json: bool) -> None:
    """Revoke a share link: it answers 410 from now on."""
    from lorectl.runner import with_lore

    doc = with_lore(_settings(), lambda lore: lore.revoke_share(share_id))
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"Revoked {share_id}; the link now answers 410.")
