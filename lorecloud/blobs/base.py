"""The blob store seam of Lore Cloud: where the sealed chunk bytes live.

Two implementations: :mod:`lorecloud.blobs.db` (the default: chunks stay in the
database's ``chunks`` table, written in the push transaction) and
:mod:`lorecloud.blobs.s3` (an S3 bucket; the ``chunks`` row keeps only the object key).

The object-store invariant (restic's): a chunk object is written once, under a
content-derived key (:func:`blob_key`: ``<account>/<sha256 of the sealed bytes>``), is
durable before the metadata transaction that references it commits, and is never
overwritten (``If-None-Match: *``; a 412 means it is already there). A crash between
the object write and the commit leaves an unreferenced object, an *orphan*, which
``lore-server gc`` removes once it is older than the grace period. Deletes, resets and
generation replacements remove objects only after the metadata commit, and only those
no chunk row references any more (checked under the account's lock, see
:meth:`lorecloud.backends.base.Backend.sweep_blobs`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


def blob_key(account_id: str, data: bytes) -> str:
    """The content-derived object key of one sealed chunk of an account."""
    return f"{account_id}/{hashlib.sha256(data).hexdigest()}"


def key_account(key: str) -> str:
    """The account id a key belongs to (the part before the first ``/``)."""
    return key.split("/", 1)[0]


class BlobStoreError(Exception):
    """The blob store is misconfigured or unreachable (message and hint are safe to print)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


class BlobMissing(Exception):
    """The object a chunk row names is not in the store."""


@dataclass(frozen=True)
class BlobInfo:
    """One stored object, as a listing shows it."""

    key: str
    size: int
    modified: dt.datetime


@dataclass
class BlobStream:
    """An object being read: its size (known before any byte) and its bytes as they come."""

    size: int
    chunks: AsyncIterator[bytes]

    async def read_all(self) -> bytes:
        """The whole object (for small reads: the push overlap check, the dashboard)."""
        return b"".join([c async for c in self.chunks])


class BlobStore(Protocol):
    """Where sealed chunks live. ``inline`` stores keep them in the database itself."""

    #: "db" or "s3"
    kind: str
    #: True: the backend writes chunk bytes into its own rows; the methods below are unused
    inline: bool

    def describe(self) -> str:
        """Where the blobs are, fit for logs (never a credential)."""
        ...

    async def put(self, key: str, data: bytes) -> bool:
        """Write once (``If-None-Match: *``); -> False when the key was already present."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    async def open(self, key: str) -> BlobStream:
        """Start reading an object; raises :class:`BlobMissing` when there is none."""
        ...

    async def delete(self, keys: list[str]) -> None:
        """Remove objects (absent ones are fine)."""
        ...

    def list(self, prefix: str = "") -> AsyncIterator[list[BlobInfo]]:
        """Every object under ``prefix``, a page at a time."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
