"""A push request's sessions planned together and written with a few statements.

The per-session path (``_sqlite_push.commit_push_many``) pays about a dozen round trips
to aiosqlite's thread for every session — its savepoint, its row, the seq counter, its
insert, its chunks — and those hops were most of the server's CPU on a first push of
2,000 sessions (bench/README.md). Here one query reads every session row of the
request, the planners run against those rows, and the writes go out as one
``executemany`` per statement, seq numbers allocated in order under the write lock.

The outcome is the same as the per-session path's: sessions are planned in request
order, each seeing the usage the earlier ones left. Anything unusual — a session twice
in one request, or any exception while writing — rolls this attempt back to its
savepoint and returns None, and the caller runs the per-session path, whose
savepoints give each session its own fate.
"""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from lorecloud.backends import _blobrows as blobrows
from lorecloud.backends._sqlite_push import (
    CHUNK_SQL,
    DROP_SQL,
    INSERT_SESSION_SQL,
    SESSION_SQL,
    UPDATE_SESSION_SQL,
    _Txn,
    session_row,
    usage_after,
)
from lorecloud.backends.base import PushItem, PushOutcome, SessionRow, Usage
from lorecloud.blobs.base import BlobStore


class _Known(_Txn):
    """A PushTxn whose session row was read with the rest of the request's."""

    def __init__(self, db: aiosqlite.Connection, account_id: str, session_id: str,
                 blobs: BlobStore, known: list[Usage], row: SessionRow | None) -> None:
        super().__init__(db, account_id, session_id, blobs, known)
        self._prefetched = row

    async def session(self) -> SessionRow | None:
        self.row = self._prefetched
        return self.row


async def _rows(db: aiosqlite.Connection, account_id: str, ids: list[str]
                ) -> dict[str, SessionRow]:
    out: dict[str, SessionRow] = {}
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        sql = SESSION_SQL.format(where=f"s.session_id IN ({', '.join('?' * len(part))})")
        async with db.execute(sql, (account_id, *part)) as cur:
            out.update((r[0], session_row(r)) for r in await cur.fetchall())
    return out


async def _seq(db: aiosqlite.Connection, account_id: str) -> int:
    async with db.execute("SELECT seq FROM accounts WHERE account_id = ?",
                          (account_id,)) as cur:
        r = await cur.fetchone()
    if r is None:
        raise LookupError(f"no account {account_id}")
    return int(r[0])


async def commit_push_batch(
    db: aiosqlite.Connection, account_id: str, items: list[PushItem], now: str,
    blobs: BlobStore, staged: blobrows.Staged | None, dropped: list[str],
) -> list[PushOutcome] | None:
    """Plan and write every session of the request at once inside the caller's write
    transaction; None (and nothing written) when the per-session path must decide."""
    ids = [sid for sid, _ in items]
    if len(set(ids)) != len(ids):
        return None
    await db.execute("SAVEPOINT push_batch")
    try:
        out = await _plan_and_write(db, account_id, items, now, blobs, staged)
    except Exception:
        await db.execute("ROLLBACK TO push_batch")
        await db.execute("RELEASE push_batch")
        return None
    await db.execute("RELEASE push_batch")
    outcomes, gone = out
    dropped.extend(gone)
    return outcomes


async def _plan_and_write(
    db: aiosqlite.Connection, account_id: str, items: list[PushItem], now: str,
    blobs: BlobStore, staged: blobrows.Staged | None,
) -> tuple[list[PushOutcome], list[str]]:
    rows = await _rows(db, account_id, [sid for sid, _ in items])
    known: list[Usage] = []
    seq = await _seq(db, account_id)
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    chunks: list[tuple[Any, ...]] = []
    drops: list[tuple[Any, ...]] = []
    outcomes: list[PushOutcome] = []
    start_seq = seq
    for sid, planner in items:
        txn = _Known(db, account_id, sid, blobs, known, rows.get(sid))
        plan = await planner(txn)
        cur = txn.row
        if plan.write is None:
            outcomes.append(PushOutcome(
                plan.status, plan.message, cur.seq if cur else None,
                cur.generation if cur else None, cur.chunk_count if cur else None))
            continue
        w = plan.write
        if known:  # the usage the later sessions of this request must see
            known[0] = usage_after(known[0], cur, w)
        seq += 1
        meta = json.dumps(w.meta, separators=(",", ":"))
        sizes = json.dumps(w.chunk_sizes)
        if cur is None:
            inserts.append((account_id, sid, w.origin_machine_id, seq, w.generation,
                            w.chunk_count, sizes, w.stored_bytes, meta, w.info, now, now))
        else:
            updates.append((seq, w.generation, w.chunk_count, sizes, w.stored_bytes, meta,
                            w.info, now, account_id, sid))
            drops.append((account_id, sid, w.generation, w.chunk_count))
        chunks += await blobrows.chunk_rows(blobs, staged, account_id, sid, w.generation,
                                            w.new_chunks)
        outcomes.append(PushOutcome(plan.status, plan.message, seq, w.generation,
                                    w.chunk_count))
    if inserts:
        await db.executemany(INSERT_SESSION_SQL, inserts)
    if updates:
        await db.executemany(UPDATE_SESSION_SQL, updates)
    if chunks:
        await db.executemany(CHUNK_SQL, chunks)
    gone: list[str] = []
    # a session that was on the server already: its older generations (and any index
    # past the new count) go after the new chunks are in, as on the per-session path
    for params in drops:
        async with db.execute(DROP_SQL, params) as cur_:
            gone.extend(r[0] for r in await cur_.fetchall() if r[0])
    if seq != start_seq:
        await db.execute("UPDATE accounts SET seq = ? WHERE account_id = ?",
                         (seq, account_id))
    return outcomes, gone
