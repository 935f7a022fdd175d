"""The account's data key on this machine: key check, first-push setup, unlock, re-wrap.

Every transfer starts with :meth:`KeyManager.require`, which fetches the server's
envelope and compares its key id with the cached key (PROTOCOL.md: key check before any
transfer — syncing with the wrong key is Atuin's most reported problem). Secrets are
asked through the caller's :data:`SecretProvider` only when really needed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from lored.crypto.envelope import create_envelope, envelope_key_id, open_envelope
from lored.crypto.kdf import check_new_passphrase, key_id, new_data_key
from lored.crypto.keycache import CachedKey, delete_key, load_key, save_key
from lored.crypto.secret import SecretBytes
from lored.errors import (
    EncryptionNotConfigured,
    LoreError,
    SecretRequired,
    WrongKey,
    WrongPassphrase,
)
from lored.sync.remote import EnvelopeConflict, Remote
from lored.sync.reset import last_reset, raise_if_reset

#: ``passphrase_retry``: asked once after a wrong passphrase; a provider that cannot ask
#: again (an environment variable, no terminal) raises SecretRequired and the
#: WrongPassphrase stands
SecretKind = Literal["new_passphrase", "passphrase", "passphrase_retry", "password"]
#: asks for a secret; may raise SecretRequired (no terminal, no environment variable)
SecretProvider = Callable[[SecretKind], str]


def no_secrets(kind: SecretKind) -> str:
    """A provider for callers that must never prompt."""
    from lored.errors import SecretRequired

    raise SecretRequired(f"the {kind.replace('_', ' ')} is needed but cannot be asked for here",
                         hint="set LORE_PASSPHRASE, or run `lorectl unlock` in a terminal")


class KeyManager:
    """Loads, checks, sets up and unlocks the data key of one account."""

    def __init__(self, key_file: Path, remote: Remote, account_id: str,
                 secrets: SecretProvider) -> None:
        self._file = key_file
        self._remote = remote
        self._account = account_id
        self._secrets = secrets

    def cached(self) -> CachedKey | None:
        """The cached key of this account (WrongKey when it belongs to another account)."""
        key = load_key(self._file)
        if key is not None and key.account_id != self._account:
            raise WrongKey("the cached encryption key belongs to another Lore Cloud account")
        return key

    async def require(self, *, setup: bool) -> CachedKey | None:
        """The checked data key, unlocking or setting it up as needed.

        ``setup=True`` (push) creates the account's key when the server has none;
        ``setup=False`` (pull) returns None then — nothing on the server can be opened.
        """
        envelope, _version = await self._remote.get_envelope()
        key = self.cached()
        if key is not None:
            if envelope is None:
                # after `lorectl cloud reset` elsewhere the old key must not come back
                await raise_if_reset(self._remote, None)
                if not setup:
                    return key
                # the server lost or never had our envelope: publish ours, same key
                return await self._setup(reuse=key)
            if envelope_key_id(envelope) != key.key_id:
                await raise_if_reset(self._remote, envelope)
                raise WrongKey()
            return key
        if envelope is None:
            return await self._setup() if setup else None
        return await self._unlock(envelope, self._secrets("passphrase"))

    async def unlock(self) -> CachedKey:
        """Ask for the passphrase and replace the cached key (``lorectl unlock``).

        After an account reset with no envelope yet, this sets up a fresh key instead.
        """
        envelope, _ = await self._remote.get_envelope()
        if envelope is None and await last_reset(self._remote) is not None:
            # the account was reset and nobody set it up since: a fresh key, new passphrase
            delete_key(self._file)
            return await self._setup()
        if envelope is None:
            raise EncryptionNotConfigured("encryption is not set up for this account yet",
                                          hint="run `lorectl push` to set it up")
        return await self._unlock(envelope, self._secrets("passphrase"))

    async def change_passphrase(self, current: str, new: str) -> dict[str, Any]:
        """Re-wrap the data key under ``new`` (fresh salt, conditional update).

        No data is re-encrypted; other machines keep their cached key and keep working.
        """
        check_new_passphrase(new)
        envelope, version = await self._remote.get_envelope()
        if envelope is None:
            raise EncryptionNotConfigured()
        dk = await open_envelope(envelope, current, self._account)
        cached = self.cached()
        if cached is not None and cached.key_id != key_id(dk):
            raise WrongKey()
        fresh = await create_envelope(dk, new, self._account)
        try:
            new_version = await self._remote.put_envelope(fresh, version)
        except EnvelopeConflict:
            raise LoreError("the passphrase was changed from another machine meanwhile; "
                            "nothing was changed here",
                            hint="run `lorectl passphrase change` again and give the "
                                 "passphrase set there as the current one") from None
        self._save(dk)
        return {"key_id": key_id(dk), "version": new_version}

    async def _setup(self, reuse: CachedKey | None = None) -> CachedKey:
        passphrase = self._secrets("new_passphrase")
        check_new_passphrase(passphrase)
        dk = reuse.data_key if reuse is not None else new_data_key()
        envelope = await create_envelope(dk, passphrase, self._account)
        try:
            await self._remote.put_envelope(envelope, 0)
        except EnvelopeConflict as lost:
            # another machine set up encryption first: use its key with the same passphrase
            current = lost.current
            if current is None:
                current, _ = await self._remote.get_envelope()
            if current is None:
                raise
            if reuse is not None and envelope_key_id(current) != reuse.key_id:
                raise WrongKey() from None
            try:
                return await self._unlock(current, passphrase)
            except WrongPassphrase:
                raise WrongPassphrase(
                    "another machine set up encryption at the same time with a different "
                    "passphrase", hint="run `lorectl unlock` with that machine's passphrase",
                ) from None
        return self._save(dk)

    async def _unlock(self, envelope: dict[str, Any], passphrase: str) -> CachedKey:
        try:
            dk = await open_envelope(envelope, passphrase, self._account)
        except WrongPassphrase as wrong:
            try:  # a person at a terminal gets a second try (a typo is the usual cause)
                again = self._secrets("passphrase_retry")
            except SecretRequired:
                raise wrong from None
            dk = await open_envelope(envelope, again, self._account)
        return self._save(dk)

    def _save(self, dk: SecretBytes) -> CachedKey:
        key = CachedKey(dk, key_id(dk), self._account)
        save_key(self._file, key)
        return key
