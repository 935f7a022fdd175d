"""Storage backends of Lore Cloud (SQLite, PostgreSQL) behind one Protocol."""

from __future__ import annotations

from pathlib import Path

from lorecloud.backends.base import Backend, BackendUnavailable, redact_url
from lorecloud.blobs.base import BlobStore

__all__ = ["Backend", "BackendUnavailable", "open_backend", "redact_url"]


async def open_backend(*, data_dir: Path | None = None, database_url: str | None = None,
                       blobs: BlobStore | None = None) -> Backend:
    """SQLite in ``data_dir`` by default, PostgreSQL for a ``postgresql://`` URL; sealed
    chunks in ``blobs`` (default: the database itself).

    Raises :class:`BackendUnavailable` with a one-line reason (never the password).
    """
    if database_url:
        if not database_url.startswith(("postgresql://", "postgres://")):
            raise BackendUnavailable(
                f"unsupported database URL {redact_url(database_url)!r} "
                "(expected postgresql://user:password@host:port/dbname)"
            )
        from lorecloud.backends.postgres import PostgresBackend

        return await PostgresBackend.open(database_url, blobs=blobs)
    if data_dir is None:
        raise BackendUnavailable("no data dir and no database URL given")
    from lorecloud.backends.sqlite import SqliteBackend

    return await SqliteBackend.open(data_dir, blobs=blobs)
