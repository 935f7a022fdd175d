"""Client-side crypto: Argon2id KDF, key envelope, chunk sealing, key cache.

Nothing here does network or database I/O; the KDF runs in a worker thread when called
through the ``*_async`` helpers. Secrets are wrapped in :class:`SecretBytes`.
"""

from lored.crypto.secret import SecretBytes

__all__ = ["SecretBytes"]
