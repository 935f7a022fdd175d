"""``lorectl key export`` / ``key import``: the data key in its printable recovery form.

Export prints the checked data key (the same check as before any transfer, so a stale
cache is never exported). Import decodes a recovery key, verifies its key id against
the server's envelope — a key of another account, or one replaced by an account reset,
is refused before it is stored — and replaces this machine's cached key, exactly what
``lorectl unlock`` does with a passphrase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lored.crypto.envelope import envelope_key_id
from lored.crypto.kdf import key_id
from lored.crypto.keycache import CachedKey, save_key
from lored.crypto.recovery import decode_recovery, encode_recovery
from lored.errors import EncryptionNotConfigured, NotLoggedIn, WrongKey

if TYPE_CHECKING:
    from lored.service import Lore


async def export_key(lore: Lore) -> dict[str, Any]:
    """``{key_id, recovery_key}`` of the account's checked data key."""
    key = await lore.engine().keys.require(setup=False)
    if key is None:
        raise EncryptionNotConfigured("encryption is not set up for this account yet",
                                      hint="run `lorectl push` to set it up first")
    return {"key_id": key.key_id, "account_id": key.account_id,
            "recovery_key": encode_recovery(key.data_key)}


async def import_key(lore: Lore, text: str) -> dict[str, Any]:
    """Verify a recovery key against the server's envelope and cache it here."""
    creds = lore.credentials
    if creds is None:
        raise NotLoggedIn()
    dk = decode_recovery(text)
    kid = key_id(dk)
    envelope, _ = await lore.engine().remote.get_envelope()
    if envelope is None:
        raise EncryptionNotConfigured(
            "the account has no encryption key on Lore Cloud (never set up, or reset), so "
            "this recovery key cannot be checked; nothing was changed",
            hint="run `lorectl push` to set up encryption with a new passphrase")
    if envelope_key_id(envelope) != kid:
        raise WrongKey(
            f"this recovery key (key {kid[:8]}) is not the account's current key "
            f"(key {envelope_key_id(envelope)[:8]}): it belongs to another account or to "
            "a key replaced by an account reset; nothing was changed",
            hint="use the recovery key exported after the last reset, or `lorectl unlock` "
                 "with the passphrase")
    save_key(lore.settings.paths.key_file, CachedKey(dk, kid, creds.account_id))
    return {"key_id": kid, "account_id": creds.account_id}
