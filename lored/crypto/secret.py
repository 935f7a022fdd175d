"""A bytes wrapper for key material that never shows itself in reprs, logs or tracebacks."""

from __future__ import annotations

import hmac
from typing import NoReturn


class SecretBytes:
    """Key bytes (data key, KEK) with a redacted ``repr``/``str``.

    ``reveal()`` is the one way to get the bytes out, so every use of raw key material
    is greppable. Comparison is constant-time; pickling is refused so a key cannot leak
    through a multiprocessing queue or a cache by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        if not isinstance(value, bytes | bytearray):
            raise TypeError("SecretBytes wraps bytes")
        self._value = bytes(value)

    def reveal(self) -> bytes:
        """The secret bytes themselves (pass them straight to a primitive)."""
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"SecretBytes(<{len(self._value)} bytes redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretBytes):
            return NotImplemented
        return hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        # equal secrets hash equal without exposing the bytes through a weak hash
        return hash((SecretBytes, len(self._value)))

    def __reduce__(self) -> NoReturn:
        raise TypeError("SecretBytes cannot be pickled")
