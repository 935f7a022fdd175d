"""Mounting the dashboard on an aiohttp app: routes, stylesheet, security headers.

Routes (HTML that works without JavaScript, plus the one same-origin bundle that
unlocks and reads sessions in the tab; every response carries ``security.SECURITY_HEADERS``):

===================================  ===========================================
``GET  /``                           redirect to ``/sessions`` or ``/login``
``GET  /login``, ``POST /login``     sign in with the account password
``POST /logout``                     sign out
``GET  /sessions``                   filters, sort, keyset pages
``GET  /sessions/{id}``              one session's metadata
``POST /sessions/{id}/delete``       confirm, then tombstone
``GET  /machines``                   machines; ``POST /machines/{id}/revoke|rename``
``GET  /account``                    plan, usage, storage by tool
``POST /account/password``           change the account password
``POST /account/delete-sessions``    confirm, then tombstone every session
``GET  /sessions/{id}/sealed``       envelope + sealed chunks for the page's own decryption
``POST /sessions/{id}/shares``       the Share button (body sealed in the tab)
``GET  /shares``                     share links; ``POST /shares/{id}/revoke``
``GET  /s/{id}``, ``/s/{id}/sealed`` the public share page and its ciphertext (410 when gone)
``GET  /static/dashboard.css``       the one stylesheet (and ``/static/favicon.svg``)
``GET  /static/lore-web.js``         the browser bundle (SRI digest in the pages)
===================================  ===========================================
"""

from __future__ import annotations

import functools
from typing import Any, Final

import structlog
from aiohttp import web

from lorecloud.dashboard import auth, reader, security, sharing, views
from lorecloud.dashboard.ports import DashboardData
from lorecloud.dashboard.render import CSS_FILE, STATIC, setup_templates

ROUTE_PREFIX: Final = "dashboard."
log = structlog.get_logger("lorecloud.dashboard")


def _guarded(handler: Any) -> Any:
    """Unexpected failures become an HTML 500 page (the API middleware would answer JSON)."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except web.HTTPException:
            raise
        except Exception:
            log.exception("dashboard error", method=request.method, path=request.path)
            return auth.error_page(
                request, None, 500, "Something went wrong",
                "The server could not show this page. Try again in a moment.",
            )

    return wrapped


def mount_dashboard(app: web.Application, port: DashboardData) -> None:
    """Mount the dashboard routes on ``app`` over any :class:`DashboardData`."""
    setup_templates(app)
    app[auth.DATA_KEY] = port
    css = CSS_FILE.read_bytes()
    icon = (STATIC / "favicon.svg").read_bytes()

    async def stylesheet(request: web.Request) -> web.Response:
        # versioned by ?v=<digest> in the pages, so it may be cached for long
        return web.Response(
            body=css, content_type="text/css", headers={"Cache-Control": "public, max-age=86400"}
        )

    async def favicon(request: web.Request) -> web.Response:
        return web.Response(
            body=icon,
            content_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    routes: list[tuple[str, str, Any, str]] = [
        ("GET", "/", auth.index, "index"),
        ("GET", "/login", auth.login_form, "login"),
        ("POST", "/login", auth.login_submit, "login-submit"),
        ("POST", "/logout", auth.logout, "logout"),
        ("GET", "/sessions", views.sessions_page, "sessions"),
        ("GET", "/sessions/{session_id}", views.session_page, "session"),
        ("POST", "/sessions/{session_id}/delete", views.delete_session, "session-delete"),
        ("GET", "/machines", views.machines_page, "machines"),
        ("POST", "/machines/{machine_id}/revoke", views.revoke_machine, "machine-revoke"),
        ("POST", "/machines/{machine_id}/rename", views.rename_machine, "machine-rename"),
        ("GET", "/account", views.account_page, "account"),
        ("POST", "/account/password", views.change_password, "account-password"),
        ("POST", "/account/delete-sessions", views.delete_all_sessions, "account-delete"),
        ("GET", "/sessions/{session_id}/sealed", reader.sealed_session, "session-sealed"),
        ("POST", "/sessions/{session_id}/shares", sharing.create_from_dashboard, "share-create"),
        ("GET", "/shares", sharing.shares_page, "shares"),
        ("POST", "/shares/{share_id}/revoke", sharing.revoke_share, "share-revoke"),
        ("GET", "/s/{share_id}", sharing.share_page, "share"),
        ("GET", "/s/{share_id}/sealed", sharing.share_sealed, "share-sealed"),
        ("GET", "/static/dashboard.css", stylesheet, "css"),
        ("GET", "/static/lore-web.js", reader.make_js_handler(), "js"),
        ("GET", "/static/favicon.svg", favicon, "favicon"),
    ]
    for method, path, handler, name in routes:
        app.router.add_route(method, path, _guarded(handler), name=ROUTE_PREFIX + name)
    app.on_response_prepare.append(_headers)


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    """Security headers on every dashboard response, errors and redirects included."""
    route = request.match_info.route if request.match_info is not None else None
    name = getattr(route, "name", None) or ""
    if name.startswith(ROUTE_PREFIX):
        security.apply_security_headers(response)
