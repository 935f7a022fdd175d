"""The SQLite side of ``commit_push``: a PushTxn over the open write transaction.

A push request commits all its sessions in one ``BEGIN IMMEDIATE`` transaction (one
fsync instead of one per session, see bench/README.md), each session inside its own
``SAVEPOINT`` so a failing session undoes only its own writes.
"""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from lorecloud.backends import _blobrows as blobrows
from lorecloud.backends.base import (
    ChunkRef,
    InlineChunk,
    Planner,
    PushItem,
    PushOutcome,
    SessionRow,
    SessionWrite,
    Usage,
)
from lorecloud.blobs.base import BlobStore

#: a session row with its origin machine's name; ``{where}`` narrows it to the sessions
SESSION_SQL = (
    "SELECT s.session_id, s.origin_machine_id, COALESCE(m.name, ''), s.seq, "
    "s.generation, s.chunk_count, s.chunk_sizes, s.stored_bytes, s.deleted, s.meta, "
    "s.info, s.updated_at FROM sessions s LEFT JOIN machines m "
    "ON m.account_id = s.account_id AND m.machine_id = s.origin_machine_id "
    "WHERE s.account_id = ? AND {where}"
)
INSERT_SESSION_SQL = (
    "INSERT INTO sessions (account_id, session_id, origin_machine_id, seq, generation, "
    "chunk_count, chunk_sizes, stored_bytes, deleted, meta, info, created_at, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)"
)
UPDATE_SESSION_SQL = (
    "UPDATE sessions SET seq = ?, generation = ?, chunk_count = ?, chunk_sizes = ?, "
    "stored_bytes = ?, deleted = 0, meta = ?, info = ?, updated_at = ? "
    "WHERE account_id = ? AND session_id = ?"
)
CHUNK_SQL = (
    "INSERT OR REPLACE INTO chunks (account_id, session_id, generation, idx, data, "
    "blob_key) VALUES (?, ?, ?, ?, ?, ?)"
)
#: the new generation is written first; older generations (and any stray index past
#: the new count) go in the same transaction, so readers never see a gap
DROP_SQL = (
    "DELETE FROM chunks WHERE account_id = ? AND session_id = ? "
    "AND (generation != ? OR idx >= ?) RETURNING blob_key"
)


def session_row(r: Any) -> SessionRow:
    """A :data:`SESSION_SQL` row as a SessionRow."""
    return SessionRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], bool(r[8]),
                      json.loads(r[9]), r[10], r[11])


def usage_after(was: Usage, cur: SessionRow | None, w: SessionWrite) -> Usage:
    """The account's usage once ``w`` replaced ``cur`` (what later sessions of the same
    request must see)."""
    live_before = cur is not None and not cur.deleted
    return Usage(was.sessions + (0 if live_before else 1),
                 was.storage_bytes - (cur.stored_bytes if live_before and cur else 0)
                 + w.stored_bytes)


async def next_seq(db: aiosqlite.Connection, account_id: str) -> int:
    """Allocate the account's next seq (the caller holds the write lock)."""
    async with db.execute(
        "UPDATE accounts SET seq = seq + 1 WHERE account_id = ? RETURNING seq", (account_id,)
    ) as cur:
        r = await cur.fetchone()
    if r is None:
        raise LookupError(f"no account {account_id}")
    return int(r[0])


class _Txn:
    """PushTxn reading through the connection that holds BEGIN IMMEDIATE."""

    def __init__(self, db: aiosqlite.Connection, account_id: str, session_id: str,
                 blobs: BlobStore, known: list[Usage] | None = None) -> None:
        self.db, self.account_id, self.session_id = db, account_id, session_id
        self.blobs = blobs
        self.row: SessionRow | None = None
        #: the account's usage as of this request's earlier sessions (see usage())
        self.known = known if known is not None else []

    async def session(self) -> SessionRow | None:
        async with self.db.execute(SESSION_SQL.format(where="s.session_id = ?"),
                                   (self.account_id, self.session_id)) as cur:
            r = await cur.fetchone()
        self.row = None if r is None else session_row(r)
        return self.row

    async def chunks(self, generation: int, start: int, stop: int) -> list[bytes]:
        async with self.db.execute(
            "SELECT data, blob_key FROM chunks WHERE account_id = ? AND session_id = ? "
            "AND generation = ? AND idx >= ? AND idx < ? ORDER BY idx",
            (self.account_id, self.session_id, generation, start, stop),
        ) as cur:
            rows = await cur.fetchall()
        got = await blobrows.load(self.blobs, [blobrows.source(r[0], r[1]) for r in rows])
        return [g for g in got if g is not None]

    async def usage(self) -> Usage:
        """Live sessions and bytes of the account. Read once per push request: every
        later session of the request gets it as the earlier ones left it (the write
        lock is held), instead of summing every row of the account per session."""
        if self.known:
            return self.known[0]
        async with self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(stored_bytes), 0) FROM sessions "
            "WHERE account_id = ? AND deleted = 0", (self.account_id,)
        ) as cur:
            r = await cur.fetchone()
        assert r is not None
        self.known.append(Usage(r[0], r[1]))
        return self.known[0]


async def commit_push(
    db: aiosqlite.Connection, txn: _Txn, planner: Planner, now: str,
    staged: blobrows.Staged | None, dropped: list[str],
) -> PushOutcome:
    """Plan and apply one session's push inside the caller's write transaction."""
    account_id, session_id, blobs = txn.account_id, txn.session_id, txn.blobs
    plan = await planner(txn)
    cur = txn.row
    if plan.write is None:
        return PushOutcome(
            plan.status, plan.message,
            cur.seq if cur else None,
            cur.generation if cur else None,
            cur.chunk_count if cur else None,
        )
    w = plan.write
    if txn.known:  # keep the request's usage true for the sessions after this one
        txn.known[0] = usage_after(txn.known[0], cur, w)
    seq = await next_seq(db, account_id)
    meta = json.dumps(w.meta, separators=(",", ":"))
    sizes = json.dumps(w.chunk_sizes)
    if cur is None:
        await db.execute(
            INSERT_SESSION_SQL,
            (account_id, session_id, w.origin_machine_id, seq, w.generation, w.chunk_count,
             sizes, w.stored_bytes, meta, w.info, now, now),
        )
    else:
        await db.execute(
            UPDATE_SESSION_SQL,
            (seq, w.generation, w.chunk_count, sizes, w.stored_bytes, meta, w.info, now,
             account_id, session_id),
        )
    rows = await blobrows.chunk_rows(blobs, staged, account_id, session_id, w.generation,
                                     w.new_chunks)
    await db.executemany(CHUNK_SQL, rows)
    async with db.execute(DROP_SQL, (account_id, session_id, w.generation, w.chunk_count)
                          ) as gone:
        dropped.extend(r[0] for r in await gone.fetchall() if r[0])
    return PushOutcome(plan.status, plan.message, seq, w.generation, w.chunk_count)


async def commit_push_many(
    db: aiosqlite.Connection, account_id: str, items: list[PushItem], now: str,
    blobs: BlobStore, staged: blobrows.Staged | None, dropped: list[str],
) -> tuple[list[PushOutcome], Exception | None]:
    """Plan and apply each session in its own savepoint of the caller's write transaction.

    -> (outcomes of the sessions applied, the exception of the session that failed).
    On a failure that session's savepoint is rolled back and the rest are not attempted;
    the caller commits the outcomes' writes and then raises the exception.
    """
    outcomes: list[PushOutcome] = []
    known: list[Usage] = []
    for session_id, planner in items:
        await db.execute("SAVEPOINT push_session")
        try:
            txn = _Txn(db, account_id, session_id, blobs, known)
            out = await commit_push(db, txn, planner, now, staged, dropped)
        except Exception as exc:
            await db.execute("ROLLBACK TO push_session")
            await db.execute("RELEASE push_session")
            return outcomes, exc
        await db.execute("RELEASE push_session")
        outcomes.append(out)
    return outcomes, None


async def chunk_sources(
    db: aiosqlite.Connection, account_id: str, refs: list[ChunkRef]
) -> list[blobrows.ChunkSource | None]:
    """Each ref's inline bytes or object key (inside the caller's read transaction): one
    query for all of them (a fetch group), not one round trip to the database thread
    per chunk; None where absent."""
    if not refs:
        return []
    values = ", ".join("(?, ?, ?)" for _ in refs)
    async with db.execute(
        f"WITH r(sid, gen, idx) AS (VALUES {values}) "  # noqa: S608 (placeholders only)
        "SELECT c.session_id, c.generation, c.idx, c.data, c.blob_key FROM r "
        "JOIN chunks c ON c.account_id = ? AND c.session_id = r.sid "
        "AND c.generation = r.gen AND c.idx = r.idx",
        [*(x for ref in refs for x in ref), account_id]) as cur:
        rows = await cur.fetchall()
    found = {(r[0], r[1], r[2]): blobrows.source(r[3], r[4]) for r in rows}
    return [found.get(tuple(ref)) for ref in refs]  # type: ignore[arg-type]


async def referenced(db: aiosqlite.Connection, account_id: str, keys: list[str]) -> set[str]:
    """The keys among ``keys`` some chunk row of the account still names."""
    live: set[str] = set()
    for i in range(0, len(keys), 500):
        part = keys[i : i + 500]
        async with db.execute(
            "SELECT DISTINCT blob_key FROM chunks WHERE account_id = ? AND blob_key IN "
            f"({', '.join('?' * len(part))})", (account_id, *part)) as cur:
            live |= {r[0] for r in await cur.fetchall()}
    return live


async def inline_chunks(
    db: aiosqlite.Connection, after: tuple[str, str, int, int] | None, limit: int
) -> list[InlineChunk]:
    """Inline chunk rows in primary-key order after ``after``."""
    async with db.execute(
        "SELECT account_id, session_id, generation, idx, data FROM chunks "
        "WHERE (account_id, session_id, generation, idx) > (?, ?, ?, ?) "
        "AND blob_key IS NULL ORDER BY account_id, session_id, generation, idx LIMIT ?",
        (*(after or ("", "", -1, -1)), limit)) as cur:
        return [InlineChunk(r[0], r[1], r[2], r[3], bytes(r[4])) for r in await cur.fetchall()]
