"""A throwaway PostgreSQL 15 for the test session (initdb + pg_ctl, temp dir, free port).

Use from a conftest::

    from tests.pgserver import pg_cluster, pg_database  # noqa: F401  (fixtures)

``pg_cluster`` (session scope) -> the cluster's admin DSN; ``pg_database`` -> the DSN of
a fresh, empty database for one test. ``create_database(admin_dsn)`` makes another one.
Without the binaries the fixtures skip with the reason, unless ``LORE_REQUIRE_POSTGRES=1``
(CI), which fails instead. As root, the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

BIN_DIRS = ["/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/local/pgsql/bin"]
T = TypeVar("T")
_counter = itertools.count(1)


def _need_postgres(reason: str) -> None:
    if os.environ.get("LORE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason} (LORE_REQUIRE_POSTGRES=1)")
    pytest.skip(reason)


def find_bin(name: str) -> str | None:
    """Path of a PostgreSQL binary (PATH first, then the usual install dirs)."""
    found = shutil.which(name)
    if found:
        return found
    for d in BIN_DIRS:
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return None


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion in a private thread (safe inside a running loop)."""
    box: list[Any] = []

    def target() -> None:
        try:
            box.append((True, asyncio.run(coro)))
        except BaseException as exc:  # re-raised in the caller
            box.append((False, exc))

    t = threading.Thread(target=target)
    t.start()
    t.join()
    ok, value = box[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


class PgCluster:
    """One initdb'd cluster, started with pg_ctl, removed on stop()."""

    def __init__(self) -> None:
        initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise FileNotFoundError("PostgreSQL binaries (initdb, pg_ctl) are not installed")
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.root = Path(tempfile.mkdtemp(prefix="lore-pg-"))
        self.datadir = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        res = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {res.stdout}\n{res.stderr}")

    def start(self) -> str:
        """initdb + start; -> admin DSN."""
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o700)
        self._run(self.initdb, "-D", str(self.datadir), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--locale=C")
        # fsync off: a test cluster need not survive power loss, and it is much faster
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200")
        self._run(self.pg_ctl, "-D", str(self.datadir), "-o", opts,
                  "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")
        return self.dsn("postgres")

    def dsn(self, dbname: str) -> str:
        """DSN of one database of this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        """Stop immediately and remove the directory."""
        try:
            self._run(self.pg_ctl, "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


async def _create(admin_dsn: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def create_database(admin_dsn: str, prefix: str = "lore_test") -> str:
    """Create a fresh empty database on the cluster -> its DSN."""
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    run_sync(_create(admin_dsn, name))
    return admin_dsn.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[str]:
    """One PostgreSQL 15 for the whole test session -> admin DSN."""
    try:
        cluster = PgCluster()
    except FileNotFoundError as exc:
        _need_postgres(str(exc))
        raise
    try:
        dsn = cluster.start()
    except Exception as exc:  # noqa: BLE001 - report any start-up failure the same way
        cluster.stop()
        _need_postgres(f"cannot start PostgreSQL: {exc}")
        raise
    try:
        yield dsn
    finally:
        cluster.stop()


@pytest.fixture
def pg_database(pg_cluster: str) -> str:
    """A fresh database for one test -> DSN."""
    return create_database(pg_cluster)
