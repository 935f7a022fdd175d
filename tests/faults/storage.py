"""Direct access to Lore Cloud's storage, as an attacker with the database has it:
the SQLite file, or the PostgreSQL database (same tables on both backends), and with
an S3 blob store the bucket's objects and the S3 server's data directory."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from tests.faults.common import Cloud
from tests.pgserver import find_bin, run_sync


class Storage:
    """Run SQL (``?`` placeholders) against the server's database; dump all of it."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.dsn = cloud.database_url
        self.path = cloud.tmp / "server-data" / "lore.db"

    def __call__(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.dsn is None:
            con = sqlite3.connect(self.path, timeout=30)
            try:
                with con:
                    return list(con.execute(sql, params))
            finally:
                con.close()
        n = iter(range(1, 1000))
        pg_sql = re.sub(r"\?", lambda _: f"${next(n)}", sql)
        return run_sync(self._pg(pg_sql, params))

    async def _pg(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        import asyncpg

        assert self.dsn is not None
        conn = await asyncpg.connect(self.dsn)
        try:
            return [tuple(r) for r in await conn.fetch(sql, *params)]
        finally:
            await conn.close()

    def _bucket(self) -> str:
        from urllib.parse import urlsplit

        return str(urlsplit(self.cloud.blob_store).hostname)

    def chunk(self, sid: str, gen: int, idx: int) -> bytes:
        """One stored (sealed) chunk (its row, or the object the row names)."""
        data, key = self("SELECT data, blob_key FROM chunks WHERE session_id = ? "
                         "AND generation = ? AND idx = ?", sid, gen, idx)[0]
        if key is None:
            return bytes(data)
        obj = self.cloud.s3.client().get_object(Bucket=self._bucket(), Key=key)
        return bytes(obj["Body"].read())

    def set_chunk(self, sid: str, gen: int, idx: int, data: bytes) -> None:
        """Overwrite a stored chunk (the attacker ignores If-None-Match)."""
        (key,), = self("SELECT blob_key FROM chunks WHERE session_id = ? AND generation = ? "
                       "AND idx = ?", sid, gen, idx)
        if key is None:
            self("UPDATE chunks SET data = ? WHERE session_id = ? AND generation = ? "
                 "AND idx = ?", data, sid, gen, idx)
        else:
            self.cloud.s3.client().put_object(Bucket=self._bucket(), Key=key, Body=data)

    def account(self, email: str) -> str:
        """account_id of ``email``."""
        return str(self("SELECT account_id FROM accounts WHERE email = ?", email)[0][0])

    def bump_seq(self, account: str, sid: str) -> None:
        """Re-offer a session in its account's change feed (as any write would)."""
        (seq,), = self("UPDATE accounts SET seq = seq + 1 WHERE account_id = ? RETURNING seq",
                       account)
        self("UPDATE sessions SET seq = ? WHERE account_id = ? AND session_id = ?",
             seq, account, sid)

    def dump(self, out: Path) -> list[Path]:
        """Every byte the server stores, as files to scan: the SQLite database, WAL and
        SHM; or a full ``pg_dump`` plus every table ``COPY``'d out in binary."""
        if self.dsn is None:
            return [p for p in self.path.parent.rglob("*") if p.is_file()]
        out.mkdir(parents=True, exist_ok=True)
        files = []
        if self.cloud.s3 is not None:  # every file of the S3 server: volumes, filer, logs
            files += [p for p in self.cloud.s3.root.rglob("*") if p.is_file()]
        pg_dump = find_bin("pg_dump")
        if pg_dump:
            text = out / "pg_dump.sql"
            subprocess.run([pg_dump, "--no-owner", "-f", str(text), self.dsn], check=True,
                           timeout=120, capture_output=True)
            files.append(text)
        tables = [r[0] for r in self("SELECT tablename FROM pg_tables WHERE schemaname = "
                                     "'public'")]
        run_sync(self._copy(tables, out))
        files += [out / f"{t}.copy" for t in tables]
        return files

    async def _copy(self, tables: list[str], out: Path) -> None:
        import asyncpg

        assert self.dsn is not None
        conn = await asyncpg.connect(self.dsn)
        try:
            for t in tables:
                await conn.copy_from_table(t, output=str(out / f"{t}.copy"), format="binary")
        finally:
            await conn.close()
