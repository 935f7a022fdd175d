"""Reading sessions in the browser: the sealed bytes for the page's own decryption.

The server never decrypts. ``GET /sessions/{id}/sealed`` hands the signed-in account's
envelope and the session's sealed info and chunks (base64 in one JSON document) to
``static/lore-web.js``, which derives the key from the passphrase in the tab, opens
the chunks and renders them (see docs/security.md, "The browser path"). The bundle is
served from our own origin with a Subresource Integrity digest in the page.
"""

from __future__ import annotations

import base64
from typing import Any, Final

from aiohttp import web

from lorecloud.dashboard.auth import data, require_user
from lorecloud.dashboard.ports import NotFound
from lorecloud.dashboard.render import STATIC

JS_FILE: Final = STATIC / "lore-web.js"


def _b64(raw: bytes | None) -> str | None:
    return base64.b64encode(raw).decode("ascii") if raw is not None else None


async def sealed_session(request: web.Request) -> web.Response:
    """``GET /sessions/{id}/sealed``: envelope + sealed info and chunks, as JSON."""
    user = await require_user(request)
    try:
        doc: dict[str, Any] = await data(request).sealed_session(
            user.account_id, request.match_info["session_id"]
        )
    except NotFound:
        return web.json_response(
            {"error": {"code": "not_found", "message": "no such session in this account"}},
            status=404,
        )
    doc["info"] = _b64(doc["info"])
    doc["chunks"] = [_b64(c) for c in doc["chunks"]]
    return web.json_response(doc)


def make_js_handler() -> Any:
    """The handler that serves the bundle (read once at mount)."""
    body = JS_FILE.read_bytes()

    async def script(request: web.Request) -> web.Response:
        return web.Response(
            body=body,
            content_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    return script
