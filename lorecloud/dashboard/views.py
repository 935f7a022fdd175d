"""Dashboard pages: sessions, one session, machines, account, and their forms.

Every destructive form is two steps without JavaScript: the first post (CSRF-checked)
renders a confirmation page, whose own form posts again with ``confirm=yes``. After a
change the handler redirects (post/redirect/get) with a ``done`` key that selects a
fixed message, so no user text is ever reflected from the URL.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote

from aiohttp import web

from lorecloud.dashboard.auth import (
    base_context,
    checked_form,
    data,
    error_page,
    require_user,
)
from lorecloud.dashboard.listing import (
    SORTS,
    Cursor,
    Listing,
    ListingError,
    edge_value,
    parse_listing,
)
from lorecloud.dashboard.ports import BadCredentials, NotFound, Rejected, WebUser
from lorecloud.dashboard.render import page, percent
from loreproto import wire

DONE: Final = {
    "revoked": "Machine signed out. Its token no longer works; its next sync will fail "
    "with “this machine was signed out”.",
    "deleted": "Session deleted from Lore Cloud. Every machine, the one it was captured "
    "on too, removes it on its next pull.",
    "deleted_all": "All synced sessions were deleted from Lore Cloud. Every machine, the "
    "ones they were captured on too, removes them on its next pull.",
    "password": "Account password changed.",
    "renamed": "Machine renamed. Other machines show the new name after their next pull.",
}
COLUMNS: Final = (
    ("started", "Started", ""),
    ("ended", "Ended", ""),
    ("messages", "Messages", "num"),
    ("size", "Size", "num"),
)
MIN_PASSWORD: Final = 8


def session_url(session_id: str) -> str:
    """The dashboard URL of one session (ids contain ':' and may contain anything)."""
    return "/sessions/" + quote(session_id, safe="")


def _flash(request: web.Request, ctx: dict[str, Any]) -> None:
    message = DONE.get(request.query.get("done", ""))
    if message:
        ctx["flash"] = message


def _page_links(listing: Listing, rows: list[dict[str, Any]], more: bool) -> dict[str, str]:
    """First / previous / next URLs for a keyset page (see module docs of listing)."""
    if listing.before is not None:
        has_prev, has_next = more, True
    elif listing.after is not None:
        has_prev, has_next = True, more
    else:
        has_prev, has_next = False, more
    links = {"first_url": "", "prev_url": "", "next_url": ""}
    if rows and has_prev:
        edge = Cursor(edge_value(rows[0], listing), rows[0]["session_id"])
        links["prev_url"] = listing.query(before=edge.encode())
        links["first_url"] = listing.first_page().query()
    if rows and has_next:
        edge = Cursor(edge_value(rows[-1], listing), rows[-1]["session_id"])
        links["next_url"] = listing.query(after=edge.encode())
    return links


def _sort_links(listing: Listing) -> dict[str, dict[str, Any]]:
    links: dict[str, dict[str, Any]] = {}
    for key in SORTS:
        active = key == listing.sort
        order = ("asc" if listing.order == "desc" else "desc") if active else "desc"
        links[key] = {"url": listing.query(sort=key, order=order), "active": active}
    return links


async def sessions_page(request: web.Request) -> web.Response:
    """``GET /sessions``: filtered, sorted, keyset-paginated table of sessions."""
    user = await require_user(request)
    try:
        listing = parse_listing(request.query)
    except ListingError as exc:
        return error_page(request, user, 400, "Bad link", f"This link is not valid: {exc}.")
    port = data(request)
    rows = await port.list_sessions(user.account_id, listing)
    more = len(rows) > listing.limit
    if listing.before is not None:
        rows = rows[-listing.limit :]  # the extra row is the one furthest back
    else:
        rows = rows[: listing.limit]
    machines = await port.machines(user.account_id)
    shown = {m["id"]: m.get("label") or m["name"] for m in machines}  # "vm (3f2b9c)"
    for row in rows:
        row["url"] = session_url(row["session_id"])
        row["machine_name"] = shown.get(row.get("origin_machine_id"), row.get("machine_name"))
    ctx = base_context(request, user, "sessions")
    _flash(request, ctx)
    ctx.update(
        rows=rows,
        total=await port.count_sessions(user.account_id, listing.filters),
        filters=listing.filters,
        filtered=listing.filters.active(),
        sort=listing.sort,
        order=listing.order,
        tools=await port.tools(user.account_id),
        machines=machines,
        columns=COLUMNS,
        sort_links=_sort_links(listing),
        **_page_links(listing, rows, more),
    )
    return page(request, "sessions.html", ctx)


async def _session_or_404(request: web.Request, user: WebUser) -> dict[str, Any]:
    sid = request.match_info["session_id"]
    if len(sid) > wire.MAX_SESSION_ID or not wire.is_storable_text(sid):
        raise _not_found(request, user)  # no stored id is like this one
    try:
        return await data(request).session(user.account_id, sid)
    except NotFound:
        raise _not_found(request, user) from None


def _not_found(request: web.Request, user: WebUser) -> web.HTTPException:
    resp = error_page(request, user, 404, "Not found", "There is no such item in your account.")
    return web.HTTPNotFound(body=resp.body, content_type="text/html")


async def session_page(request: web.Request) -> web.Response:
    """``GET /sessions/{id}``: metadata and the end-to-end encryption statement."""
    user = await require_user(request)
    session = await _session_or_404(request, user)
    session["delete_url"] = session_url(session["session_id"]) + "/delete"
    session["sealed_url"] = session_url(session["session_id"]) + "/sealed"
    session["share_url"] = session_url(session["session_id"]) + "/shares"
    ctx = base_context(request, user, "sessions")
    ctx["s"] = session
    return page(request, "session.html", ctx)


def _confirm(
    request: web.Request, user: WebUser, heading: str, lines: list[str], button: str, back: str
) -> web.Response:
    ctx = base_context(request, user)
    ctx.update(heading=heading, lines=lines, button=button, back=back, action=request.path)
    return page(request, "confirm.html", ctx)


async def delete_session(request: web.Request) -> web.Response:
    """``POST /sessions/{id}/delete``: confirm, then tombstone through SyncService."""
    user = await require_user(request)
    form = await checked_form(request, user)
    session = await _session_or_404(request, user)
    back = session_url(session["session_id"])
    if form.get("confirm") != "yes":
        project = session.get("project_path") or "hidden project"
        return _confirm(
            request,
            user,
            "Delete this session from Lore Cloud?",
            [
                f"{session.get('tool') or 'unknown'} session in {project} "
                f"({session['session_id']}).",
                "The encrypted copy is erased from the server, and every machine removes "
                "its copy on its next pull: the machine it was captured on too, which then "
                "will not capture it again (the tool's own files are not touched).",
            ],
            "Delete session",
            back,
        )
    try:
        await data(request).delete_session(user.account_id, session["session_id"])
    except NotFound:
        raise _not_found(request, user) from None
    raise web.HTTPSeeOther("/sessions?done=deleted")


async def machines_page(request: web.Request) -> web.Response:
    """``GET /machines``: every machine with last sync, sessions and a revoke button."""
    user = await require_user(request)
    machines = await data(request).machines(user.account_id)
    for machine in machines:
        machine["revoke_url"] = "/machines/" + quote(machine["id"], safe="") + "/revoke"
        machine["rename_url"] = "/machines/" + quote(machine["id"], safe="") + "/rename"
    ctx = base_context(request, user, "machines")
    _flash(request, ctx)
    ctx["machines"] = machines
    return page(request, "machines.html", ctx)


async def revoke_machine(request: web.Request) -> web.Response:
    """``POST /machines/{id}/revoke``: confirm, then revoke the machine's tokens."""
    user = await require_user(request)
    form = await checked_form(request, user)
    machine_id = request.match_info["machine_id"]
    known = {m["id"]: m for m in await data(request).machines(user.account_id)}
    if machine_id not in known:
        raise _not_found(request, user)
    if form.get("confirm") != "yes":
        return _confirm(
            request,
            user,
            f"Sign out {known[machine_id]['name']}?",
            [
                f"Machine {machine_id} loses access to Lore Cloud now. Its next sync fails "
                "with “this machine was signed out”; its local sessions stay on it.",
                "To use it again, run lorectl login on it.",
            ],
            "Revoke machine",
            "/machines",
        )
    try:
        await data(request).revoke_machine(user.account_id, machine_id)
    except NotFound:
        raise _not_found(request, user) from None
    raise web.HTTPSeeOther("/machines?done=revoked")


async def rename_machine(request: web.Request) -> web.Response:
    """``POST /machines/{id}/rename``: give a machine of the account a new name."""
    user = await require_user(request)
    form = await checked_form(request, user)
    machine_id = request.match_info["machine_id"]
    try:
        await data(request).rename_machine(user.account_id, machine_id, form.get("name", ""))
    except NotFound:
        raise _not_found(request, user) from None
    except Rejected as exc:
        return error_page(request, user, 400, "Not renamed",
                          f"That name cannot be used: {exc}.")
    raise web.HTTPSeeOther("/machines?done=renamed")


async def _account_context(request: web.Request, user: WebUser) -> dict[str, Any]:
    port = data(request)
    doc = await port.account(user.account_id)
    by_tool = await port.storage_by_tool(user.account_id)
    total = sum(int(t["stored_bytes"] or 0) for t in by_tool)
    for t in by_tool:
        t["share"] = percent(int(t["stored_bytes"] or 0), total)
    ctx = base_context(request, user, "account")
    ctx.update(
        doc=doc,
        by_tool=by_tool,
        by_tool_total=total,
        storage_pct=percent(doc["usage"]["storage_bytes"], doc["limits"].get("storage_bytes")),
        sessions_pct=percent(doc["usage"]["sessions"], doc["limits"].get("max_sessions")),
    )
    return ctx


async def account_page(request: web.Request) -> web.Response:
    """``GET /account``: email, plan, usage bars, storage by tool, password, deletion."""
    user = await require_user(request)
    ctx = await _account_context(request, user)
    _flash(request, ctx)
    return page(request, "account.html", ctx)


async def change_password(request: web.Request) -> web.Response:
    """``POST /account/password``: current + new (twice), checked by SyncService."""
    user = await require_user(request)
    form = await checked_form(request, user)
    new = form.get("new", "")
    error = ""
    if new != form.get("new2", ""):
        error = "The two new passwords differ."
    elif len(new) < MIN_PASSWORD:
        error = f"The new password must have at least {MIN_PASSWORD} characters."
    else:
        try:
            await data(request).change_password(
                user.account_id, form.get("current", ""), new, user.token_hash
            )
        except BadCredentials:
            error = "The current password is wrong."
        except Rejected as exc:
            error = str(exc)
    if not error:
        raise web.HTTPSeeOther("/account?done=password")
    ctx = await _account_context(request, user)
    ctx.update(flash=error, flash_error=True)
    return page(request, "account.html", ctx, status=400)


async def delete_all_sessions(request: web.Request) -> web.Response:
    """``POST /account/delete-sessions``: confirm, then tombstone every session."""
    user = await require_user(request)
    form = await checked_form(request, user)
    if form.get("confirm") != "yes":
        total = (await data(request).account(user.account_id))["usage"]["sessions"]
        return _confirm(
            request,
            user,
            "Delete all synced sessions?",
            [
                f"All {total} sessions are erased from Lore Cloud, and every machine "
                "removes its copies on its next pull, also the ones captured there (the "
                "tools' own files are not touched).",
            ],
            "Delete all sessions",
            "/account",
        )
    await data(request).delete_all_sessions(user.account_id)
    raise web.HTTPSeeOther("/account?done=deleted_all")
