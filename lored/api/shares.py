"""Share links from this machine: ``lorectl sessions share`` and ``lorectl shares``.

The session's payload is read from the local archive, sealed under a fresh random key
(:mod:`lored.crypto.share`) and uploaded; the key is appended to the link as its
fragment and never sent to the server.
"""

from __future__ import annotations

import os
import re
from typing import Any, Final

from lored.api.core import LoreCore
from lored.capture.redaction import local_redactor, policy_of
from lored.crypto.share import key_text, new_share_id, seal_share
from lored.errors import UsageError

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_EXPIRES: Final = 90 * 86400


class BadExpiry(UsageError):
    """An --expires value that is not a duration."""

    code = "bad_expires"
    hint = "use a number and a unit, e.g. 30m, 12h, 7d or 2w (at most 90d)"


def parse_expires(text: str) -> int:
    """``7d`` / ``12h`` / ``30m`` / ``90s`` / ``2w`` -> seconds (1 s … 90 days)."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text.lower())
    if not m:
        raise BadExpiry(f"--expires {text!r} is not a duration")
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if not 1 <= seconds <= MAX_EXPIRES:
        raise BadExpiry(f"--expires {text} is outside 1 second … 90 days")
    return seconds


async def share_session(lore: LoreCore, id_or_prefix: str, expires: str) -> dict[str, Any]:
    """Seal one local session for a link -> ``{share_id, url, expires_at}``."""
    seconds = parse_expires(expires)
    row = await lore.store.find_session(id_or_prefix)
    payload = await lore.store.load_payload(row.id)
    # a link leaves the machine: its secrets are redacted unless [privacy] redact = "off"
    redactor = local_redactor(lore.settings, always=policy_of(lore.settings).upstream)
    if redactor is not None:
        payload = redactor.redact(payload)
    key = os.urandom(32)
    share_id = new_share_id()
    sealed = seal_share(key, share_id, {
        "tool": row.tool, "session_id": row.id,
        "payload": payload.decode("utf-8", errors="replace")})
    doc = await lore.engine().remote.create_share(share_id, row.id, sealed, seconds)
    return {"share_id": doc["share_id"], "url": f"{doc['url']}#{key_text(key)}",
            "expires_at": doc["expires_at"]}


async def list_shares(lore: LoreCore) -> list[dict[str, Any]]:
    """The account's share links (no keys: the server never had them)."""
    return await lore.engine().remote.list_shares()


async def revoke_share(lore: LoreCore, share_id: str) -> dict[str, Any]:
    """Revoke a share link: it answers 410 from now on."""
    await lore.engine().remote.revoke_share(share_id)
    return {"share_id": share_id, "revoked": True}
