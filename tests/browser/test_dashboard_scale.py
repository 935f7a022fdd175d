"""The sessions list at 100,000 sessions: keyset pages use the indexes, at any depth.

Metadata rows are inserted straight into the database (the list reads metadata
only). The timing of a deep page is printed, not asserted; what is asserted is that
the query plan walks an index in order (no sort of the whole account) and that the
deep keyset page equals the same page computed with OFFSET.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from lorecloud.backends.dashboard_schema import (
    POSTGRES_EXPR,
    POSTGRES_MIGRATION,
    SORT_KEYS,
    SQLITE_EXPR,
    SQLITE_MIGRATION,
)
from lorecloud.dashboard import queries
from lorecloud.dashboard.adapter import ServiceDashboard
from lorecloud.dashboard.listing import Cursor, Filters, Listing
from tests.pgserver import pg_cluster, pg_database  # noqa: F401  (fixtures)
from tests.serverproc import fast_config

N = 100_000
TOOLS = ["claude-code", "codex", "gemini", "aider", "opencode"]
DEEP = 97_500  # the edge row of the deep page


def _rows(account_id: str) -> list[tuple[Any, ...]]:
    rows = []
    for i in range(N):
        meta = {
            "tool": TOOLS[i % 5],
            "project_path": "" if i % 11 == 0 else f"/home/dev/projects/p{i % 97}",
            "started_at": f"20{20 + i % 6}-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:"
            f"{i % 60:02d}:00.000Z" if i % 50 else None,
            "ended_at": None,
            "message_count": (i * 7919) % 500,
            "payload_bytes": (i * 104729) % 5_000_000,
        }
        rows.append((account_id, f"{TOOLS[i % 5]}:{i:08d}", f"machine-{i % 3}", i + 1, 1, 1,
                     "[100]", 100 + i % 1000, 0, json.dumps(meta), b"i", "2025-01-01T00:00:00Z",
                     "2025-01-01T00:00:00Z"))
    return rows


COLS = ("account_id", "session_id", "origin_machine_id", "seq", "generation", "chunk_count",
        "chunk_sizes", "stored_bytes", "deleted", "meta", "info", "created_at", "updated_at")


async def _check_deep_pages(dash: ServiceDashboard, account_id: str, offset_sql: Any) -> None:
    """For every sort and order: a deep keyset page equals the OFFSET page after it.

    ``offset_sql(key, order, n)`` -> rows n .. n+3 as (session_id, sort value).
    """
    for key in SORT_KEYS:
        for order in ("desc", "asc"):
            edge_row, *expected = await offset_sql(key, order, DEEP)
            edge_id, edge_value = edge_row
            listing = Listing(Filters(), key, order, after=Cursor(edge_value, edge_id))
            started = time.perf_counter()
            page = await dash.list_sessions(account_id, listing)
            took = (time.perf_counter() - started) * 1000
            print(f"{dash.dialect}: page after row {DEEP} of {N}, sort {key} {order}: "
                  f"{took:.1f} ms")
            assert [(r["session_id"], r["sort_value"]) for r in page[:3]] == expected
            assert len(page) == listing.limit + 1
    started = time.perf_counter()
    total = await dash.count_sessions(account_id, Filters(tool="codex"))
    print(f"{dash.dialect}: count with a tool filter: "
          f"{(time.perf_counter() - started) * 1000:.1f} ms")
    assert total == N // 5


def _plans(account_id: str) -> list[tuple[str, Listing]]:
    edge = Cursor("2023-06-01T00:00:00Z", "codex:00001234")
    cases = []
    for key in SORT_KEYS:
        value: str | int = edge.value if key in ("started", "ended") else 1000
        for order in ("desc", "asc"):
            cases.append((key, Listing(Filters(), key, order, after=Cursor(value, "x"))))
            cases.append((key, Listing(Filters(), key, order, before=Cursor(value, "x"))))
    filtered = Filters(tool="codex", project="p4", machine="machine-1", since="2022-01-01",
                       until="2024-12-31")
    cases.append(("started", Listing(filtered, "started", "desc", after=edge)))
    return cases


async def test_sqlite_deep_keyset_page_at_100k(tmp_path: Path) -> None:
    from lorecloud.backends.sqlite import SqliteBackend
    from lorecloud.service import SyncService

    backend = await SqliteBackend.open(tmp_path / "d")
    svc = await SyncService.create(backend, fast_config())
    try:
        acct = (await svc.add_user("big@example.com", "password-big", "pro"))["account_id"]
        con = sqlite3.connect(backend.path)
        started = time.perf_counter()
        index_ddl = [sql for sql in SQLITE_MIGRATION if "sessions_dash_" in sql]
        with con:  # bulk load, then build the indexes from their migration DDL
            for sql in index_ddl:
                con.execute("DROP INDEX " + sql.split()[2])
            con.executemany(
                f"INSERT INTO sessions ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})",
                _rows(acct))
            for sql in index_ddl:
                con.execute(sql)
        con.execute("ANALYZE")
        print(f"sqlite: inserted {N} rows in {time.perf_counter() - started:.1f} s")

        for key, listing in _plans(acct):
            sql, params = queries.list_sessions("sqlite", acct, listing)
            plan = " | ".join(r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql, params))
            assert f"USING INDEX sessions_dash_{key}" in plan, plan
            assert "TEMP B-TREE" not in plan, plan  # walked in index order, never sorted
        plan = " | ".join(r[3] for r in con.execute(
            "EXPLAIN QUERY PLAN " + queries.tools("sqlite", acct)[0], [acct]))
        assert "sessions_dash_tool" in plan, plan

        async def offset(key: str, order: str, n: int) -> list[tuple[str, Any]]:
            expr = SQLITE_EXPR[key]
            rows = con.execute(
                f"SELECT session_id, {expr} FROM sessions WHERE account_id = ? AND deleted = 0 "
                f"ORDER BY {expr} {order}, session_id {order} LIMIT 4 OFFSET ?",
                (acct, n)).fetchall()
            return [(r[0], r[1]) for r in rows]

        await _check_deep_pages(ServiceDashboard(svc), acct, offset)
        con.close()
    finally:
        await svc.close()


@pytest.mark.postgres
async def test_postgres_deep_keyset_page_at_100k(pg_database: str) -> None:  # noqa: F811
    import asyncpg

    from lorecloud.backends.postgres import PostgresBackend
    from lorecloud.service import SyncService

    backend = await PostgresBackend.open(pg_database)
    svc = await SyncService.create(backend, fast_config())
    con = await asyncpg.connect(pg_database)
    try:
        acct = (await svc.add_user("big@example.com", "password-big", "pro"))["account_id"]
        started = time.perf_counter()
        records = [(*r[:8], False, *r[9:]) for r in _rows(acct)]
        # bulk load, then build the dashboard's indexes from their migration DDL (much
        # faster than maintaining five expression indexes row by row)
        index_ddl = [sql for sql in POSTGRES_MIGRATION if "sessions_dash_" in sql]
        for sql in index_ddl:
            await con.execute("DROP INDEX " + sql.split()[2])
        await con.copy_records_to_table("sessions", records=records, columns=list(COLS))
        for sql in index_ddl:
            await con.execute(sql)
        await con.execute("ANALYZE sessions")
        print(f"postgres: inserted {N} rows in {time.perf_counter() - started:.1f} s")

        for key, listing in _plans(acct):
            sql, params = queries.list_sessions("postgres", acct, listing)
            plan = " | ".join(r[0] for r in await con.fetch("EXPLAIN " + sql, *params))
            assert f"sessions_dash_{key}" in plan, plan
            assert "Sort" not in plan.replace("Sort Key", ""), plan

        async def offset(key: str, order: str, n: int) -> list[tuple[str, Any]]:
            expr = POSTGRES_EXPR[key]
            rows = await con.fetch(
                f"SELECT session_id, {expr} FROM sessions WHERE account_id = $1 AND NOT deleted "
                f"ORDER BY {expr} {order}, session_id {order} LIMIT 4 OFFSET $2", acct, n)
            return [(r[0], r[1]) for r in rows]

        await _check_deep_pages(ServiceDashboard(svc), acct, offset)
    finally:
        await con.close()
        await svc.close()
