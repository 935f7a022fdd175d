"""The cached data key: ``key.json`` in the data dir, mode 0600.

Holds the unwrapped data key with its key_id and account_id — never the passphrase or
the KEK (PROTOCOL.md). Logout deletes it. The key id is recomputed on load so a
damaged or hand-edited file is caught before it is used against the server.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path

from lored.config import write_secret
from lored.crypto.kdf import KEY_BYTES, key_id
from lored.crypto.secret import SecretBytes
from lored.errors import CorruptData


@dataclass(frozen=True)
class CachedKey:
    """The data key of one account, unlocked on this machine."""

    data_key: SecretBytes
    key_id: str
    account_id: str


def load_key(path: Path) -> CachedKey | None:
    """The cached key, or None when there is none; CorruptData when the file is damaged."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        obj = json.loads(raw)
        dk = SecretBytes(base64.b64decode(obj["data_key"], validate=True))
        kid, account = str(obj["key_id"]), str(obj["account_id"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise CorruptData(
            f"the cached encryption key {path} is damaged",
            hint="run `lorectl unlock` to enter the passphrase again",
        ) from None
    if len(dk) != KEY_BYTES or key_id(dk) != kid:
        raise CorruptData(
            f"the cached encryption key {path} does not match its key id",
            hint="run `lorectl unlock` to enter the passphrase again",
        )
    return CachedKey(dk, kid, account)


def save_key(path: Path, key: CachedKey) -> None:
    """Write the key cache atomically, created 0600."""
    doc = {
        "v": 1,
        "account_id": key.account_id,
        "key_id": key.key_id,
        "data_key": base64.b64encode(key.data_key.reveal()).decode("ascii"),
    }
    write_secret(path, json.dumps(doc).encode())


def delete_key(path: Path) -> bool:
    """Remove the cached key; True when there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
