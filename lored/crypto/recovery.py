"""A printable recovery form of the data key (``lorectl key export`` / ``key import``).

For users who fear forgetting the passphrase: the data key itself, written so it can
be printed or copied by hand and typed back without mistakes going unnoticed::

    lore1-ABCD-EFGH-…            (RFC 4648 base32, groups of 4, case-insensitive)

The 36 encoded bytes are DK (32) ‖ check (4), check = BLAKE2b(DK, key=b"lore recovery
v1", digest 4): a typo or a swapped group fails the check before anything is used.
The key id (BLAKE2b of DK, PROTOCOL.md) is shown next to the form and checked against
the server's envelope on import, so a recovery key of another account or of a key
replaced by ``lorectl cloud reset`` is refused with a clear message.

Risk (docs/security.md): whoever holds this text reads every session of the account,
without the passphrase. Changing the passphrase does not change the data key, so it
does not invalidate an exported form; only an account reset (a new key) does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from lored.crypto.kdf import KEY_BYTES
from lored.crypto.secret import SecretBytes
from lored.errors import UsageError

PREFIX = "lore1"
_CHECK_KEY = b"lore recovery v1"
_CHECK_BYTES = 4
_GROUP = 4


def _check(dk: bytes) -> bytes:
    return hashlib.blake2b(dk, key=_CHECK_KEY, digest_size=_CHECK_BYTES).digest()


def encode_recovery(data_key: SecretBytes) -> str:
    """The printable recovery form of ``data_key`` (one line)."""
    raw = data_key.reveal()
    if len(raw) != KEY_BYTES:
        raise ValueError("a data key has 32 bytes")
    text = base64.b32encode(raw + _check(raw)).decode("ascii").rstrip("=")
    groups = [text[i:i + _GROUP] for i in range(0, len(text), _GROUP)]
    return "-".join([PREFIX, *groups])


class BadRecoveryKey(UsageError):
    """That is not a valid Lore recovery key."""

    code = "bad_recovery_key"
    hint = "copy it again exactly as `lorectl key export` printed it (starts with lore1-)"


def decode_recovery(text: str) -> SecretBytes:
    """The data key from its recovery form; BadRecoveryKey on any typo.

    Spaces, line breaks, dashes and letter case are ignored, so a form retyped from
    paper in groups works.
    """
    cleaned = "".join(ch for ch in text if not ch.isspace() and ch != "-").upper()
    if not cleaned.startswith(PREFIX.upper()):
        raise BadRecoveryKey("that is not a Lore recovery key (it should start with lore1-)")
    body = cleaned[len(PREFIX):]
    body += "=" * (-len(body) % 8)
    try:
        raw = base64.b32decode(body)
    except (binascii.Error, ValueError):
        raise BadRecoveryKey("the recovery key contains characters that cannot be in it"
                             ) from None
    if len(raw) != KEY_BYTES + _CHECK_BYTES:
        raise BadRecoveryKey("the recovery key is too short or too long")
    if base64.b32encode(raw).decode("ascii") != body:
        # the last character carries unused bits that b32decode ignores: a typo there
        # would otherwise slip through as the same key
        raise BadRecoveryKey("the recovery key has a typo (its last group is off)")
    dk, check = raw[:KEY_BYTES], raw[KEY_BYTES:]
    if _check(dk) != check:
        raise BadRecoveryKey("the recovery key has a typo (its checksum does not match)")
    return SecretBytes(dk)
