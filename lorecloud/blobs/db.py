"""The default blob store: sealed chunks stay in the database (``chunks.data``).

The backend writes the bytes inside its push transaction, so there is nothing to
stage, sweep or collect: this store is only the marker that says so (``inline``).
Its object methods are never called by the backends; they answer as an empty store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from lorecloud.blobs.base import BlobInfo, BlobMissing, BlobStream


class DbBlobStore:
    """Chunks in the database: today's layout, the default of ``--blob-store``."""

    kind = "db"
    inline = True

    def describe(self) -> str:
        """Logged at start-up."""
        return "db (chunks in the database)"

    def __repr__(self) -> str:
        return "DbBlobStore()"

    async def put(self, key: str, data: bytes) -> bool:
        """Not used: inline chunks are written by the backend's own transaction."""
        raise NotImplementedError("the db blob store keeps chunks in the chunks table")

    async def exists(self, key: str) -> bool:
        """No objects exist outside the database."""
        return False

    async def open(self, key: str) -> BlobStream:
        """No objects exist outside the database."""
        raise BlobMissing(key)

    async def delete(self, keys: list[str]) -> None:
        """Nothing to delete."""

    async def list(self, prefix: str = "") -> AsyncIterator[list[BlobInfo]]:
        """An empty listing."""
        if False:  # pragma: no cover - makes this an (empty) async generator
            yield []

    async def close(self) -> None:
        """Nothing to release."""
