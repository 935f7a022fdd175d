"""The key envelope: the account's data key wrapped under a passphrase-derived KEK.

JSON shape (PROTOCOL.md)::

    {"v":1,"kdf":{"alg":"argon2id","v":19,"t":3,"m":65536,"p":4,"salt":…},
     "key_id":…,"nonce":…,"wrapped":…}

``wrapped`` = XChaCha20-Poly1305(KEK, DK, ad = b"lore/v1/envelope" ‖ lp(account_id) ‖
lp(key_id)). Binding the account and key id means an envelope copied to another account,
or relabelled with another key id, fails to open. A failed open means a wrong passphrase.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError

from lored.crypto.kdf import (
    KEY_BYTES,
    KdfParams,
    derive_kek_async,
    key_id,
    lp,
)
from lored.crypto.secret import SecretBytes
from lored.errors import CorruptData, WrongPassphrase

ENVELOPE_VERSION = 1
ENVELOPE_TAG = b"lore/v1/envelope"
NONCE_BYTES = 24


def envelope_ad(account_id: str, kid: str) -> bytes:
    """Associated data of the wrapped key."""
    return ENVELOPE_TAG + lp(account_id) + lp(kid)


def wrap_key(
    data_key: SecretBytes,
    kek: SecretBytes,
    account_id: str,
    params: KdfParams,
    *,
    nonce: bytes | None = None,
) -> dict[str, Any]:
    """Build the envelope JSON from an already-derived KEK (``nonce`` only for vectors)."""
    kid = key_id(data_key)
    nonce = nonce if nonce is not None else os.urandom(NONCE_BYTES)
    wrapped = crypto_aead_xchacha20poly1305_ietf_encrypt(
        data_key.reveal(), envelope_ad(account_id, kid), nonce, kek.reveal()
    )
    return {
        "v": ENVELOPE_VERSION,
        "kdf": params.to_json(),
        "key_id": kid,
        "nonce": _b64(nonce),
        "wrapped": _b64(wrapped),
    }


def unwrap_key(envelope: dict[str, Any], kek: SecretBytes, account_id: str) -> SecretBytes:
    """Open the envelope with a derived KEK; WrongPassphrase when it does not open."""
    kid, nonce, wrapped = _fields(envelope)
    try:
        raw = crypto_aead_xchacha20poly1305_ietf_decrypt(
            wrapped, envelope_ad(account_id, kid), nonce, kek.reveal()
        )
    except CryptoError:
        raise WrongPassphrase() from None
    dk = SecretBytes(raw)
    if len(dk) != KEY_BYTES or key_id(dk) != kid:
        # authenticated but inconsistent: only a buggy or hostile writer produces this
        raise CorruptData("the account's key envelope is inconsistent (key id mismatch)")
    return dk


def kdf_params(envelope: dict[str, Any]) -> KdfParams:
    """The KDF parameters of an envelope (validated)."""
    if not isinstance(envelope, dict) or envelope.get("v") != ENVELOPE_VERSION:
        raise CorruptData("the account's key envelope has an unknown version",
                          hint="upgrade Lore on this machine")
    return KdfParams.from_json(envelope.get("kdf"))


async def create_envelope(
    data_key: SecretBytes, passphrase: str, account_id: str, *, params: KdfParams | None = None
) -> dict[str, Any]:
    """Wrap ``data_key`` under a new passphrase with a fresh salt (setup, passphrase change).

    The KDF runs in a worker thread.
    """
    params = params or KdfParams.fresh()
    kek = await derive_kek_async(passphrase, params)
    return wrap_key(data_key, kek, account_id, params)


async def open_envelope(
    envelope: dict[str, Any], passphrase: str, account_id: str
) -> SecretBytes:
    """Unwrap the data key with a passphrase; raises WrongPassphrase when it is not the one."""
    params = kdf_params(envelope)
    kek = await derive_kek_async(passphrase, params)
    return unwrap_key(envelope, kek, account_id)


def envelope_key_id(envelope: dict[str, Any]) -> str:
    """The key id an envelope announces (to compare with the cached key before transfers)."""
    kid = envelope.get("key_id") if isinstance(envelope, dict) else None
    if not isinstance(kid, str) or len(kid) != 32:
        raise CorruptData("the account's key envelope has no valid key id")
    return kid


def _fields(envelope: dict[str, Any]) -> tuple[str, bytes, bytes]:
    kdf_params(envelope)
    kid = envelope_key_id(envelope)
    try:
        nonce = base64.b64decode(envelope["nonce"], validate=True)
        wrapped = base64.b64decode(envelope["wrapped"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise CorruptData("the account's key envelope is malformed") from None
    if len(nonce) != NONCE_BYTES:
        raise CorruptData("the account's key envelope has a bad nonce")
    return kid, nonce, wrapped


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
