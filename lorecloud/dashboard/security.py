"""Cookie, CSRF and response-header rules of the web dashboard.

The sign-in cookie holds a random token; the server keeps only its SHA-256, so a
leaked database cannot be replayed as a cookie. The cookie is ``HttpOnly`` and
``SameSite=Strict`` always, and ``Secure`` whenever the browser reached us over
HTTPS: either directly (TLS on the socket) or through a reverse proxy that says so
with ``X-Forwarded-Proto: https`` / ``Forwarded: proto=https`` (our nginx and Caddy
examples both do). On plain HTTP (loopback development, the test suite) a ``Secure``
cookie would never come back, so it is sent without the flag there. A client that
forges the proxy header on plain HTTP only gets a cookie its own browser refuses to
return, so trusting the header cannot weaken anyone else's session. Over HTTPS the
cookie also takes the ``__Host-`` prefix, which browsers only accept with
``Secure``, ``Path=/`` and no ``Domain`` (no cookie tossing from sibling hosts).

CSRF: every form carries a token. Signed in, it is an HMAC of the cookie token (a
cross-site page can neither read the cookie nor compute the HMAC); on the sign-in
form, before any session exists, it is a double-submit value also kept in a short
cookie. Posts whose ``Sec-Fetch-Site`` says another site sent them are refused too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

from aiohttp import web

SESSION_COOKIE: Final = "lore_session"
LOGIN_CSRF_COOKIE: Final = "lore_login_csrf"
HOST_PREFIX: Final = "__Host-"
#: A dashboard sign-in lasts this long (seconds), then the password is asked again.
SESSION_TTL: Final = 12 * 3600
LOGIN_CSRF_TTL: Final = 3600
CSRF_FIELD: Final = "csrf"

#: Sent with every dashboard response. No inline scripts or styles are allowed: the
#: pages need neither, and so an injected tag cannot run even if escaping ever fails.
#: Scripts come only from our origin (the SRI-pinned bundle); 'wasm-unsafe-eval' lets
#: that bundle compile its own WebAssembly (Argon2id, libsodium), and nothing else.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # pages show account data: never keep them in shared or back/forward caches
    "Cache-Control": "no-store",
}


def is_https(request: web.Request) -> bool:
    """Whether the browser reached us over HTTPS (directly or via a TLS proxy)."""
    if request.secure:
        return True
    xfp = request.headers.get("X-Forwarded-Proto", "")
    if xfp.split(",")[0].strip().lower() == "https":
        return True
    forwarded = request.headers.get("Forwarded", "").split(",")[0]
    for pair in forwarded.split(";"):
        key, _, value = pair.strip().partition("=")
        if key.lower() == "proto" and value.strip('"').lower() == "https":
            return True
    return False


def cookie_name(request: web.Request, base: str) -> str:
    """The cookie's name for this request: ``__Host-`` prefixed over HTTPS."""
    return HOST_PREFIX + base if is_https(request) else base


def set_cookie(
    response: web.StreamResponse, request: web.Request, base: str, value: str, max_age: int
) -> None:
    """Set a dashboard cookie with the flags described in the module docstring."""
    response.set_cookie(
        cookie_name(request, base),
        value,
        max_age=max_age,
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="Strict",
    )


def clear_cookie(response: web.StreamResponse, request: web.Request, base: str) -> None:
    """Expire a dashboard cookie (same name and flags it was set with)."""
    set_cookie(response, request, base, "", 0)


def read_cookie(request: web.Request, base: str) -> str | None:
    """The cookie's value, or None when absent or implausible."""
    value = request.cookies.get(cookie_name(request, base))
    if not value or len(value) > 128:
        return None
    return value


def new_token() -> str:
    """A fresh random cookie token (256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the server stores for a cookie token: hex SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_for(session_token: str) -> str:
    """The CSRF token of a signed-in session, derived from its (secret) cookie token."""
    return hmac.new(session_token.encode(), b"lore/dashboard/csrf/v1", hashlib.sha256).hexdigest()


def csrf_matches(expected: str, given: object) -> bool:
    """Constant-time check of a submitted CSRF token."""
    return isinstance(given, str) and bool(given) and hmac.compare_digest(expected, given)


def cross_site_post(request: web.Request) -> bool:
    """True when the browser says another site sent this request (Fetch Metadata)."""
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("cross-site", "same-site")


def apply_security_headers(response: web.StreamResponse) -> None:
    """Add the dashboard's security headers to a response about to be sent."""
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
