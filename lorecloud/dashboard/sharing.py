"""Share links in the dashboard and the public share page (issue 18).

``GET /s/{id}`` is public: it serves a page whose script reads the key from the
URL fragment (which browsers never send), fetches ``/s/{id}/sealed`` and opens it in
the tab. Revoked or expired shares answer 410 with a plain page; unknown ids 404.
The signed-in account creates shares from the session page (``POST
/sessions/{id}/shares``, CSRF token in ``X-CSRF-Token``), lists them on ``/shares``
and revokes them there.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from lorecloud.dashboard import security
from lorecloud.dashboard.auth import (
    base_context,
    checked_form,
    current_user,
    error_page,
    require_user,
)
from lorecloud.dashboard.render import page
from lorecloud.errors import ServiceError
from lorecloud.routes import service
from lorecloud.shares import SHARE_ID_RE, ShareStore, create_share

GONE: Final = {
    "revoked": "Its owner revoked this share link. Ask them for a new one.",
    "expired": "This share link has expired. Ask its owner for a new one.",
}


def _store(request: web.Request) -> ShareStore:
    return ShareStore(service(request).backend)


def _no_referrer(response: web.StreamResponse) -> web.StreamResponse:
    # the fragment is never in a Referer anyway; send no Referer at all from share pages
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def share_page(request: web.Request) -> web.StreamResponse:
    """``GET /s/{id}``: the public reader (key in the fragment), or 410/404."""
    share_id = request.match_info["share_id"]
    row = await _store(request).get(share_id) if SHARE_ID_RE.match(share_id) else None
    user = await current_user(request)
    if row is None:
        return _no_referrer(error_page(request, user, 404, "No such share link",
                                       "This link does not exist. Check that it was copied whole."))
    if row["state"] != "active":
        return _no_referrer(error_page(request, user, 410, "This link is no longer available",
                                       GONE[row["state"]]))
    ctx = base_context(request, user)
    ctx.update(share_id=share_id, sealed_url=f"/s/{share_id}/sealed")
    return _no_referrer(page(request, "share.html", ctx))


async def share_sealed(request: web.Request) -> web.StreamResponse:
    """``GET /s/{id}/sealed``: the ciphertext of a live share (counts a view); else 410."""
    share_id = request.match_info["share_id"]
    sealed = await _store(request).sealed(share_id) if SHARE_ID_RE.match(share_id) else None
    if sealed is None:
        return _no_referrer(web.Response(status=410, text="gone"))
    return _no_referrer(web.Response(body=sealed, content_type="application/octet-stream"))


async def create_from_dashboard(request: web.Request) -> web.StreamResponse:
    """``POST /sessions/{id}/shares``: the Share button (the tab sealed the body)."""
    user = await require_user(request)
    expected = request.get("lore_dashboard_csrf", "")
    if (security.cross_site_post(request) or not expected
            or not security.csrf_matches(expected, request.headers.get("X-CSRF-Token"))):
        return web.json_response({"error": {"code": "forbidden", "message":
                                            "reload the page and try again"}}, status=403)
    # the session id in the path wins over any query value
    query = dict(request.query)
    query["session_id"] = request.match_info["session_id"]
    try:
        return await create_share(request.clone(rel_url=request.rel_url.with_query(query)),
                                  user.account_id)
    except ServiceError as exc:
        resp = web.json_response(exc.body(), status=exc.status)
        if "retry_after" in exc.extra:
            resp.headers["Retry-After"] = str(exc.extra["retry_after"])
        return resp


async def shares_page(request: web.Request) -> web.Response:
    """``GET /shares``: the account's share links, with revoke."""
    user = await require_user(request)
    ctx = base_context(request, user, "shares")
    ctx["shares"] = await _store(request).list(user.account_id)
    if request.query.get("done") == "revoked":
        ctx["flash"] = "Share link revoked: it now answers 410 to anyone who opens it."
    return page(request, "shares.html", ctx)


async def revoke_share(request: web.Request) -> web.Response:
    """``POST /shares/{id}/revoke``: revoke one of the account's shares."""
    user = await require_user(request)
    await checked_form(request, user)
    if not await _store(request).revoke(user.account_id, request.match_info["share_id"]):
        return error_page(request, user, 404, "No such share link",
                          "That share link is not in this account.")
    raise web.HTTPSeeOther("/shares?done=revoked")
