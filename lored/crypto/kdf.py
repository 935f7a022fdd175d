"""Argon2id key derivation, key ids and the byte encodings shared by the AD builders.

PROTOCOL.md: KEK = Argon2id(NFC(passphrase) as UTF-8, salt 16 random bytes, t=3,
m=65536 KiB, p=4, 32 bytes, version 19). The parameters travel inside the envelope so
they can be raised later without breaking older envelopes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
import unicodedata
from dataclasses import dataclass
from typing import Any

from argon2.low_level import Type, hash_secret_raw

from lored.crypto.secret import SecretBytes
from lored.errors import CorruptData, UsageError

KDF_ALG = "argon2id"
KDF_VERSION = 19
DEFAULT_T = 3
DEFAULT_M_KIB = 65536
DEFAULT_P = 4
SALT_BYTES = 16
KEY_BYTES = 32
MIN_PASSPHRASE_LEN = 8
#: refuse envelopes whose parameters would make us burn absurd memory/CPU (hostile server)
_MAX_M_KIB = 4 * 1024 * 1024
_MAX_T = 64
_MAX_P = 64
_KEY_ID_MESSAGE = b"lore key id v1"
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


def lp(value: str | bytes) -> bytes:
    """PROTOCOL.md's lp(x): u16 big-endian length, then the bytes (strings as UTF-8)."""
    raw = value.encode() if isinstance(value, str) else value
    if len(raw) > 0xFFFF:
        raise ValueError("lp() value longer than 65535 bytes")
    return _U16.pack(len(raw)) + raw


def u32(value: int) -> bytes:
    """PROTOCOL.md's u32(n): 4 bytes big-endian."""
    return _U32.pack(value)


def normalize_passphrase(passphrase: str) -> bytes:
    """NFC-normalise then UTF-8 encode, so the same passphrase typed on macOS and Linux
    (which may differ in composed/decomposed accents) derives the same key."""
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def check_new_passphrase(passphrase: str) -> None:
    """Refuse a passphrase shorter than PROTOCOL.md's minimum (8 characters)."""
    if len(unicodedata.normalize("NFC", passphrase)) < MIN_PASSPHRASE_LEN:
        raise UsageError(f"the passphrase must be at least {MIN_PASSPHRASE_LEN} characters")


@dataclass(frozen=True)
class KdfParams:
    """Argon2id parameters as stored in the envelope's ``kdf`` object."""

    salt: bytes
    t: int = DEFAULT_T
    m: int = DEFAULT_M_KIB
    p: int = DEFAULT_P

    @classmethod
    def fresh(cls) -> KdfParams:
        """Default parameters with a new random salt."""
        return cls(salt=os.urandom(SALT_BYTES))

    @classmethod
    def from_json(cls, obj: Any) -> KdfParams:
        """Parse and bound-check the envelope's ``kdf`` object (CorruptData when bad)."""
        import base64
        import binascii

        if not isinstance(obj, dict) or obj.get("alg") != KDF_ALG or obj.get("v") != KDF_VERSION:
            raise CorruptData("the account's key envelope uses an unknown key derivation",
                              hint="upgrade Lore on this machine")
        try:
            salt = base64.b64decode(obj["salt"], validate=True)
            t, m, p = int(obj["t"]), int(obj["m"]), int(obj["p"])
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise CorruptData("the account's key envelope is malformed") from None
        if not (1 <= t <= _MAX_T and 8 * p <= m <= _MAX_M_KIB and 1 <= p <= _MAX_P) or len(
            salt
        ) < 8:
            raise CorruptData("the account's key envelope has out-of-range KDF parameters")
        return cls(salt=salt, t=t, m=m, p=p)

    def to_json(self) -> dict[str, Any]:
        """The envelope's ``kdf`` object (salt in padded standard base64)."""
        import base64

        return {
            "alg": KDF_ALG,
            "v": KDF_VERSION,
            "t": self.t,
            "m": self.m,
            "p": self.p,
            "salt": base64.b64encode(self.salt).decode("ascii"),
        }


def derive_kek(passphrase: str, salt: bytes, t: int, m: int, p: int) -> SecretBytes:
    """Argon2id KEK (32 bytes) from a passphrase; CPU- and memory-heavy (≈0.1–0.3 s)."""
    raw = hash_secret_raw(
        secret=normalize_passphrase(passphrase),
        salt=salt,
        time_cost=t,
        memory_cost=m,
        parallelism=p,
        hash_len=KEY_BYTES,
        type=Type.ID,
        version=KDF_VERSION,
    )
    return SecretBytes(raw)


async def derive_kek_async(passphrase: str, params: KdfParams) -> SecretBytes:
    """:func:`derive_kek` in a worker thread (argon2 releases the GIL), off the event loop."""
    return await asyncio.to_thread(
        derive_kek, passphrase, params.salt, params.t, params.m, params.p
    )


def key_id(data_key: SecretBytes | bytes) -> str:
    """hex(BLAKE2b(message=b"lore key id v1", key=DK, digest_size=16)) — safe to show."""
    raw = data_key.reveal() if isinstance(data_key, SecretBytes) else data_key
    return hashlib.blake2b(_KEY_ID_MESSAGE, key=raw, digest_size=16).hexdigest()


def new_data_key() -> SecretBytes:
    """A fresh random 32-byte data key (made once per account)."""
    return SecretBytes(os.urandom(KEY_BYTES))
