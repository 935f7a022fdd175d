"""Sign in, sign out, and the per-request checks every dashboard page relies on.

A page handler calls :func:`require_user` (redirects to ``/login`` without a valid
cookie) and, for posts, :func:`checked_form` (refuses a missing or wrong CSRF token
with 403 before anything changes).
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from lorecloud.admission import MAX_ANON_BODY
from lorecloud.dashboard import security
from lorecloud.dashboard.ports import BadCredentials, DashboardData, RateLimited, WebUser
from lorecloud.dashboard.render import page
from lorecloud.errors import ServiceError
from lorecloud.routes import leased_body, peer_key

DATA_KEY: Final = web.AppKey("lore_dashboard_data", object)
_USER_KEY: Final = "lore_dashboard_user"
_MAX_FORM_FIELD = 4096
_MAX_FORM_FIELDS = 64
#: the largest dashboard form of a signed-in user; the sign-in form gets the API's
#: unauthenticated cap (lorecloud.admission.MAX_ANON_BODY)
MAX_FORM_BODY: Final = 64 * 1024
_REFUSED: Final = {503: "The server is busy", 429: "Too much at once",
                   408: "The form arrived too slowly", 413: "The form is too large"}


def data(request: web.Request) -> DashboardData:
    """The dashboard's data port stored on the app by ``setup_dashboard``."""
    port: Any = request.app[DATA_KEY]
    return port  # type: ignore[no-any-return]


async def current_user(request: web.Request) -> WebUser | None:
    """The signed-in account of this request, looked up once per request."""
    if _USER_KEY in request:
        cached: WebUser | None = request[_USER_KEY]
        return cached
    token = security.read_cookie(request, security.SESSION_COOKIE)
    user = await data(request).web_session(security.token_hash(token)) if token else None
    request[_USER_KEY] = user
    if user is not None and token is not None:
        request["lore_dashboard_csrf"] = security.csrf_for(token)
    return user


async def require_user(request: web.Request) -> WebUser:
    """The signed-in account, or a redirect to the sign-in page."""
    user = await current_user(request)
    if user is None:
        raise web.HTTPSeeOther("/login")
    return user


def base_context(request: web.Request, user: WebUser | None, nav: str = "") -> dict[str, Any]:
    """What base.html needs: the account, the CSRF token, the current tab, a flash."""
    return {
        "account": user,
        "csrf": request.get("lore_dashboard_csrf", ""),
        "nav": nav,
        "flash": "",
        "flash_error": False,
    }


def error_page(
    request: web.Request, user: WebUser | None, status: int, heading: str, message: str
) -> web.Response:
    """A plain error page (403 CSRF, 404, 429 …) with the dashboard's layout."""
    ctx = base_context(request, user)
    ctx.update(heading=heading, message=message, back="/")
    return page(request, "error.html", ctx, status=status)


def _forbidden(request: web.Request, user: WebUser | None) -> web.HTTPException:
    resp = error_page(
        request,
        user,
        403,
        "Form expired",
        "This form was not sent by this dashboard (missing or stale security token). "
        "Go back, reload the page and try again.",
    )
    return web.HTTPForbidden(body=resp.body, content_type="text/html")


class _Refused(web.HTTPException):
    """An HTML error page with any status (busy 503/429, slow 408, too large 413)."""

    def __init__(self, status: int, **kwargs: Any) -> None:
        self.status_code = status
        super().__init__(**kwargs)


async def _form(request: web.Request, key: str, limit: int) -> MultiDictProxy[str]:
    """The urlencoded form, read under the server's body budget of ``key``.

    Like every API body (lorecloud/admission.py) its bytes are leased while they arrive:
    past the budget the answer is 503/429 with Retry-After, a stalled body is 408, more
    than ``limit`` bytes 413 — each an HTML page. Other content types (multipart: no
    form here uploads files) read as an empty form, which then fails its CSRF check.
    """
    try:
        raw = await leased_body(request, key, limit)
    except ServiceError as exc:
        user = request.get(_USER_KEY)
        resp = error_page(request, user, exc.status, _REFUSED.get(exc.status, "Not accepted"),
                          f"{exc.message[:1].upper()}{exc.message[1:]}. "
                          "Go back and send the form again in a moment.")
        headers = ({"Retry-After": str(exc.extra["retry_after"])}
                   if "retry_after" in exc.extra else None)
        raise _Refused(exc.status, body=resp.body, content_type="text/html",
                       headers=headers) from None
    if request.content_type != "application/x-www-form-urlencoded":
        return MultiDictProxy(MultiDict())
    try:
        pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True,
                          max_num_fields=_MAX_FORM_FIELDS)
    except ValueError:
        pairs = []
    # only short text fields: nothing huge reaches a handler
    out = {k: v for k, v in pairs if len(v) <= _MAX_FORM_FIELD}
    return MultiDictProxy(MultiDict(out))


async def checked_form(request: web.Request, user: WebUser) -> MultiDictProxy[str]:
    """The posted form of a signed-in user, after the CSRF checks (403 otherwise)."""
    form = await _form(request, f"account:{user.account_id}", MAX_FORM_BODY)
    expected = request.get("lore_dashboard_csrf", "")
    if (
        security.cross_site_post(request)
        or not expected
        or not security.csrf_matches(expected, form.get(security.CSRF_FIELD))
    ):
        raise _forbidden(request, user)
    return form


# --- handlers ---------------------------------------------------------------------------


async def index(request: web.Request) -> web.Response:
    """``GET /``: the sessions list when signed in, else the sign-in page."""
    user = await current_user(request)
    raise web.HTTPSeeOther("/sessions" if user else "/login")


def _login_page(
    request: web.Request, csrf: str, email: str = "", error: str = "", status: int = 200
) -> web.Response:
    ctx = base_context(request, None)
    ctx.update(csrf=csrf, email=email, error=error)
    resp = page(request, "login.html", ctx, status=status)
    security.set_cookie(resp, request, security.LOGIN_CSRF_COOKIE, csrf, security.LOGIN_CSRF_TTL)
    return resp


async def login_form(request: web.Request) -> web.Response:
    """``GET /login``: the sign-in form with a fresh double-submit CSRF token."""
    if await current_user(request):
        raise web.HTTPSeeOther("/sessions")
    return _login_page(request, security.new_token())


async def login_submit(request: web.Request) -> web.Response:
    """``POST /login``: check the password through SyncService, then set the cookie."""
    form = await _form(request, peer_key(request), MAX_ANON_BODY)
    cookie_csrf = security.read_cookie(request, security.LOGIN_CSRF_COOKIE)
    if (
        security.cross_site_post(request)
        or not cookie_csrf
        or not security.csrf_matches(cookie_csrf, form.get(security.CSRF_FIELD))
    ):
        raise _forbidden(request, None)
    email = form.get("email", "").strip()
    password = form.get("password", "")
    fresh = security.new_token()  # a new login CSRF token per attempt
    port = data(request)
    try:
        account_id = await port.sign_in(email, password, request.remote or "")
    except RateLimited as exc:
        resp = _login_page(request, fresh, email, str(exc), status=429)
        if exc.retry_after:
            resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    except BadCredentials:
        return _login_page(request, fresh, email, "Wrong email or password.", status=401)
    token = security.new_token()
    await port.open_web_session(account_id, security.token_hash(token), security.SESSION_TTL)
    resp = web.HTTPSeeOther("/sessions")
    security.set_cookie(resp, request, security.SESSION_COOKIE, token, security.SESSION_TTL)
    security.clear_cookie(resp, request, security.LOGIN_CSRF_COOKIE)
    raise resp


async def logout(request: web.Request) -> web.Response:
    """``POST /logout``: forget the sign-in server-side and expire the cookie."""
    user = await current_user(request)
    if user is not None:
        await checked_form(request, user)
        await data(request).close_web_session(user.token_hash)
    resp = web.HTTPSeeOther("/login")
    security.clear_cookie(resp, request, security.SESSION_COOKIE)
    raise resp
