"""kill -9 of lore-server between its object writes and the metadata commit (PostgreSQL
+ S3): no partial session is visible anywhere, the objects are orphans, ``lore-server gc``
removes them (and only them), and the retried push converges."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.faults.common import EMAIL, PASSWORD, Cloud, Corpus, assert_converged, new_machine
from tests.faults.common import pending as pending_of
from tests.faults.storage import Storage
from tests.s3server import WeedServer


@pytest.fixture
def s3_cloud(tmp_path: Path, pg_database: str, s3_store: str,
             s3_server: WeedServer) -> Iterator[Cloud]:
    """A restartable `lore-server` on PostgreSQL with its chunks in a fresh bucket."""
    c = Cloud(tmp_path / "cloud", database_url=pg_database, blob_store=s3_store, s3=s3_server)
    c.start()
    try:
        assert c.proc is not None
        c.proc.add_user(EMAIL, PASSWORD)
        yield c
    finally:
        c.stop()


def _keys(cloud: Cloud) -> set[str]:
    bucket = urlsplit(cloud.blob_store).hostname
    listing = cloud.s3.client().list_objects_v2(Bucket=bucket)
    return {o["Key"] for o in listing.get("Contents", [])}


def test_crash_between_object_write_and_commit(tmp_path: Path, s3_cloud: Cloud) -> None:
    cloud, corpus, db = s3_cloud, Corpus(), Storage(s3_cloud)
    a, b = new_machine(tmp_path, cloud, "a"), new_machine(tmp_path, cloud, "b")
    names = [corpus.write(a, f"x{i}", 4, pad=3000) for i in range(3)]
    a.json("import")

    cloud.restart(LORE_FAULT="after-blob-write-before-commit")
    out = a.run("push", check=False)
    assert out.returncode not in (0, 137) and "cannot reach Lore Cloud" in out.stderr
    assert cloud.proc is not None and cloud.proc.proc.wait(timeout=60) == 137
    orphans = _keys(cloud)
    assert orphans  # the objects were durable before the commit ...
    assert db("SELECT COUNT(*) FROM sessions") == [(0,)]  # ... which never happened
    assert db("SELECT COUNT(*) FROM chunks") == [(0,)]
    assert sorted(pending_of(a)) == sorted(names)

    cloud.start()
    assert b.json("pull")["sessions"] == []  # nothing partial is visible
    assert cloud.proc is not None
    young = cloud.proc.cli("gc", "--grace", "3600", "--blob-store", cloud.blob_store)
    assert f"{len(orphans)} objects, 0 orphans deleted" in young.stdout
    gone = cloud.proc.cli("gc", "--grace", "0", "--blob-store", cloud.blob_store)
    assert f"{len(orphans)} orphans deleted" in gone.stdout, gone.stdout
    assert _keys(cloud) == set()

    a.run("push")
    assert sorted(b.json("pull")["sessions"]) == sorted(names)
    live = _keys(cloud)
    (n,), = db("SELECT COUNT(DISTINCT blob_key) FROM chunks")
    assert len(live) == n > 0
    again = cloud.proc.cli("gc", "--grace", "0", "--blob-store", cloud.blob_store)
    assert "0 orphans deleted" in again.stdout  # referenced objects are never collected
    assert _keys(cloud) == live
    assert_converged([a, b], corpus.expected())
