"""A throwaway PostgreSQL 15 for P7: initdb + pg_ctl in a temp dir on a free port.

PostgreSQL refuses to run as root, so when the harness is root the cluster belongs to the
``postgres`` user (``runuser``). Trust authentication on 127.0.0.1 only; the directory is
deleted on stop.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.procs import Unavailable, free_port

_CANDIDATES = ("/usr/local/bin", "/usr/lib/postgresql/15/bin")


def _bin(name: str) -> str:
    for d in _CANDIDATES:
        p = Path(d) / name
        if p.exists():
            return str(p)
    found = shutil.which(name)
    if not found:
        raise Unavailable(f"PostgreSQL's {name} not found")
    return found


class PgServer:
    """One PostgreSQL cluster; ``url`` is a ``postgresql://`` URL for ``lore-server``."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="lore-bench-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as: list[str] = []
        self.started = False

    def _run(self, *cmd: str, timeout: float = 120) -> None:
        r = subprocess.run([*self._as, *cmd], capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise Unavailable(f"{Path(cmd[0]).name} failed: {(r.stderr or r.stdout)[-300:]}")

    def start(self) -> PgServer:
        """initdb, then pg_ctl start (waits until it accepts connections)."""
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("running as root and no `postgres` user for PostgreSQL") from None
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c max_connections=200 -c shared_buffers=128MB")
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "pg.log"),
                  "-o", opts, "-w", "-t", "60", "start")
        self.started = True
        return self

    def pids(self) -> list[int]:
        """The postmaster's pid (its backends are its children), for CPU accounting."""
        try:
            return [int((self.data / "postmaster.pid").read_text().split()[0])]
        except (OSError, ValueError, IndexError):
            return []

    def database(self, name: str) -> str:
        """Create database ``name`` (a fresh start without a second cluster) -> its URL."""
        import asyncio

        import asyncpg

        async def create() -> None:
            conn = await asyncpg.connect(self.url)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        """Stop the cluster and delete its directory."""
        if self.started:
            try:
                self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop",
                          timeout=60)
            except (Unavailable, subprocess.TimeoutExpired):
                pass
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)
