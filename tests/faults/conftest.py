"""Fixtures of the fault suites: a restartable SQLite Lore Cloud with one account; the
PostgreSQL fixtures of tests/pgserver.py."""

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


@pytest.fixture(params=["sqlite", "postgres"])
def any_cloud(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cloud]:
    """The same `lore-server` on SQLite and on PostgreSQL (a fresh database)."""
    dsn = request.getfixturevalue("pg_database") if request.param == "postgres" else None
    c = Cloud(tmp_path / "cloud", database_url=dsn)
    c.start()
    try:
        assert c.proc is not None
        c.proc.add_user(EMAIL, PASSWORD)
        yield c
    finally:
        c.stop()
