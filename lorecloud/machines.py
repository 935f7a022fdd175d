"""Machine names: renaming, telling same-named machines apart, the admin listing.

Seven machines all called ``vm`` (the hostname every cloud image has) must not look
alike: wherever a name is shown next to others, a name used by more than one machine
of the account gets a short id fragment (``vm (3f2b9c)``; :func:`labels`). A machine
renames itself with ``PUT /v1/machine`` (``lorectl machine rename NAME``); the
dashboard renames any machine of the account; ``lore-server machine list`` lists them.

=================================  ==============================================
``PUT /v1/machine`` *              ``{name}`` -> ``{machine: {id, name}}``
=================================  ==============================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from lorecloud.errors import not_found
from lorecloud.names import clean_name, labels
from lorecloud.routes import json_body, principal, service

if TYPE_CHECKING:
    from lorecloud.service import SyncService

async def rename(svc: SyncService, account_id: str, machine_id: str, name: object
                 ) -> dict[str, str]:
    """Rename a machine of the account -> ``{id, name}``; 404 for an unknown machine."""
    cleaned = clean_name(name)
    if not await svc.backend.rename_machine(account_id, machine_id, cleaned):
        raise not_found("no such machine in this account")
    return {"id": machine_id, "name": cleaned}


async def admin_list(svc: SyncService, email: str | None) -> list[dict[str, Any]]:
    """Every machine of every account (or of ``email``'s), for ``lore-server machine list``."""
    accounts = [a for a, _ in await svc.backend.list_accounts()]
    if email is not None:
        wanted = email.strip().lower()
        accounts = [a for a in accounts if a.email == wanted]
        if not accounts:
            raise not_found(f"no account {wanted}")
    out: list[dict[str, Any]] = []
    for account in accounts:
        rows = await svc.backend.machines(account.account_id)
        shown = labels((m.machine_id, m.name) for m in rows)
        out += [{"email": account.email, "account_id": account.account_id,
                 "machine_id": m.machine_id, "name": m.name, "label": shown[m.machine_id],
                 "last_sync": m.last_sync, "sessions": m.sessions, "signed_in": m.active}
                for m in rows]
    return out


routes = web.RouteTableDef()


@routes.put("/v1/machine")
async def put_machine(request: web.Request) -> web.Response:
    """``PUT /v1/machine``: the calling machine's new name."""
    who = await principal(request)
    body = await json_body(request, who)
    doc = await rename(service(request), who.account_id, who.machine_id, body.get("name"))
    return web.json_response({"machine": doc})
