"""Fixtures of the fault suites: a restartable SQLite Lore Cloud with one account; the
PostgreSQL fixtures of tests/pgserver.py and the S3 ones of tests/s3server.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.common import EMAIL, PASSWORD, Cloud
from tests.pgserver import pg_cluster, pg_database  # noqa: F401  (fixtures)


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    """A `lore-server` on SQLite that tests may kill and restart on the same port."""
    c = Cloud(tmp_path / "cloud")
    c.start()
    try:
        assert c.proc is not None
        c.proc.add_user(EMAIL, PASSWORD)
        yield c
    finally:
        c.stop()


@pytest.fixture(params=["sqlite", "postgres", "postgres+s3"])
def any_cloud(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cloud]:
    """The same `lore-server` on SQLite, on PostgreSQL (a fresh database), and on
    PostgreSQL with the chunks in a fresh S3 bucket."""
    kind = request.param
    dsn = request.getfixturevalue("pg_database") if kind.startswith("postgres") else None
    store = request.getfixturevalue("s3_store") if kind == "postgres+s3" else None
    s3 = request.getfixturevalue("s3_server") if store else None
    c = Cloud(tmp_path / "cloud", database_url=dsn, blob_store=store, s3=s3)
    c.start()
    try:
        assert c.proc is not None
        c.proc.add_user(EMAIL, PASSWORD)
        yield c
    finally:
        c.stop()
