"""The contract story runs once per backend: SQLite, PostgreSQL, and PostgreSQL with its
chunks in S3 (a real SeaweedFS on loopback, tests/s3server.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lorecloud.service import SyncService
from tests.pgserver import pg_cluster, pg_database  # noqa: F401  (fixtures)
from tests.serverproc import fast_config

NewService = Callable[..., Awaitable[SyncService]]


@pytest.fixture(params=["sqlite", "postgres", "postgres+s3"])
async def new_service(request: pytest.FixtureRequest, tmp_path: Path
                      ) -> AsyncIterator[NewService]:
    """A factory of SyncServices on one fresh database of the parametrized backend."""
    kind = request.param
    dsn = request.getfixturevalue("pg_database") if kind.startswith("postgres") else None
    store = request.getfixturevalue("s3_store") if kind == "postgres+s3" else None
    made: list[SyncService] = []

    async def make(**overrides: Any) -> SyncService:
        if dsn:
            from lorecloud.backends.postgres import PostgresBackend
            from lorecloud.blobs import open_blob_store

            blobs = await open_blob_store(store) if store else None
            backend: Any = await PostgresBackend.open(dsn, blobs=blobs)
        else:
            from lorecloud.backends.sqlite import SqliteBackend

            backend = await SqliteBackend.open(tmp_path / "data")
        svc = await SyncService.create(backend, fast_config(**overrides))
        made.append(svc)
        return svc

    yield make
    for svc in made:
        await svc.close()


@pytest.fixture
async def svc(new_service: NewService) -> SyncService:
    """A service with open registration on the parametrized backend."""
    return await new_service(open_registration=True)
