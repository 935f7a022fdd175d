"""Sealing a session for a share link (issue 18); the browser opens it (web/src/share.js).

Layout: ``0x02`` ‖ nonce(24) ‖ XChaCha20-Poly1305-IETF(key, JSON, ad), ad =
``b"lore/v1/share"`` ‖ lp(share_id). No zstd: the browser bundle carries only a zstd
*decoder*, and the Share button seals in the tab with the same layout. The key is 32
fresh random bytes per share, written base64url (no padding) after the link's ``#``.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any, Final

from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt

from lored.crypto.kdf import lp

SHARE_VERSION: Final = 2
NONCE_BYTES: Final = 24


def share_ad(share_id: str) -> bytes:
    """The associated data binding a share blob to its id."""
    return b"lore/v1/share" + lp(share_id)


def new_share_id() -> str:
    """128 random bits as 22 base64url characters."""
    return base64.urlsafe_b64encode(os.urandom(16)).decode("ascii").rstrip("=")


def key_text(key: bytes) -> str:
    """The key as it stands in the link's fragment."""
    return base64.urlsafe_b64encode(key).decode("ascii").rstrip("=")


def seal_share(key: bytes, share_id: str, doc: dict[str, Any]) -> bytes:
    """Seal ``{"v": 1, **doc}`` (tool, session_id, payload text) under ``key``."""
    nonce = os.urandom(NONCE_BYTES)
    body = json.dumps({"v": 1, **doc}, ensure_ascii=False).encode()
    return bytes([SHARE_VERSION]) + nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(
        body, share_ad(share_id), nonce, key)
