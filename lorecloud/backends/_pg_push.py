"""The chunk side of the PostgreSQL backend: the push transaction, its plan, chunk sources,
blob sweeps and the inline-to-object migration.

Chunk rows hold their sealed bytes (``data``) with the db blob store, or the key of
their object (``blob_key``, ``data`` empty) with an object store (issue 21).
"""

from __future__ import annotations

import json
from typing import Any

from lorecloud.backends import _blobrows as blobrows
from lorecloud.backends.base import (
    ChunkRef,
    InlineChunk,
    PushOutcome,
    PushPlan,
    SessionRow,
    Usage,
)
from lorecloud.blobs.base import BlobStore

SESSION_SELECT = (
    "SELECT s.session_id, s.origin_machine_id, COALESCE(m.name, ''), s.seq, s.generation, "
    "s.chunk_count, s.chunk_sizes, s.stored_bytes, s.deleted, s.meta, s.info, s.updated_at "
    "FROM sessions s LEFT JOIN machines m "
    "ON m.account_id = s.account_id AND m.machine_id = s.origin_machine_id "
)


def session_row(r: Any) -> SessionRow:
    """A SessionRow from a SESSION_SELECT record."""
    return SessionRow(
        r[0], r[1], r[2], int(r[3]), r[4], r[5], json.loads(r[6]), int(r[7]), bool(r[8]),
        json.loads(r[9]), bytes(r[10]) if r[10] is not None else None, r[11],
    )


class Txn:
    """PushTxn over the connection holding the account row lock."""

    def __init__(self, conn: Any, account_id: str, session_id: str, blobs: BlobStore) -> None:
        self.conn, self.account_id, self.session_id = conn, account_id, session_id
        self.blobs = blobs
        self.row: SessionRow | None = None

    async def session(self) -> SessionRow | None:
        r = await self.conn.fetchrow(
            SESSION_SELECT + "WHERE s.account_id = $1 AND s.session_id = $2",
            self.account_id, self.session_id)
        self.row = session_row(r) if r else None
        return self.row

    async def chunks(self, generation: int, start: int, stop: int) -> list[bytes]:
        rows = await self.conn.fetch(
            "SELECT data, blob_key FROM chunks WHERE account_id = $1 AND session_id = $2 "
            "AND generation = $3 AND idx >= $4 AND idx < $5 ORDER BY idx",
            self.account_id, self.session_id, generation, start, stop)
        got = await blobrows.load(self.blobs, [blobrows.source(r[0], r[1]) for r in rows])
        return [g for g in got if g is not None]

    async def usage(self) -> Usage:
        r = await self.conn.fetchrow(
            "SELECT COUNT(*), COALESCE(SUM(stored_bytes), 0) FROM sessions "
            "WHERE account_id = $1 AND NOT deleted", self.account_id)
        return Usage(int(r[0]), int(r[1]))


async def apply_plan(
    conn: Any, txn: Txn, plan: PushPlan, now: str, staged: blobrows.Staged | None,
    dropped: list[str],
) -> PushOutcome:
    """Write the planned session state with the next seq (caller holds the row lock).

    Keys of the object rows this removes are appended to ``dropped`` (swept after commit).
    """
    account_id, session_id, cur, blobs = txn.account_id, txn.session_id, txn.row, txn.blobs
    if plan.write is None:
        return PushOutcome(
            plan.status, plan.message,
            cur.seq if cur else None,
            cur.generation if cur else None,
            cur.chunk_count if cur else None,
        )
    w = plan.write
    seq = await conn.fetchval(
        "UPDATE accounts SET seq = seq + 1 WHERE account_id = $1 RETURNING seq", account_id)
    meta = json.dumps(w.meta, separators=(",", ":"))
    sizes = json.dumps(w.chunk_sizes)
    await conn.execute(
        "INSERT INTO sessions (account_id, session_id, origin_machine_id, seq, generation, "
        "chunk_count, chunk_sizes, stored_bytes, deleted, meta, info, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, $9, $10, $11, $11) "
        "ON CONFLICT (account_id, session_id) DO UPDATE SET seq = EXCLUDED.seq, "
        "generation = EXCLUDED.generation, chunk_count = EXCLUDED.chunk_count, "
        "chunk_sizes = EXCLUDED.chunk_sizes, stored_bytes = EXCLUDED.stored_bytes, "
        "deleted = FALSE, meta = EXCLUDED.meta, info = EXCLUDED.info, "
        "updated_at = EXCLUDED.updated_at",
        account_id, session_id, w.origin_machine_id, seq, w.generation, w.chunk_count,
        sizes, w.stored_bytes, meta, w.info, now,
    )
    if w.new_chunks:
        rows = await blobrows.chunk_rows(blobs, staged, account_id, session_id,
                                         w.generation, w.new_chunks)
        await conn.executemany(
            "INSERT INTO chunks (account_id, session_id, generation, idx, data, blob_key) "
            "VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT (account_id, session_id, generation, idx) "
            "DO UPDATE SET data = EXCLUDED.data, blob_key = EXCLUDED.blob_key", rows)
    # new generation written first; the old one (and any index past the new count) goes
    # in the same transaction, so no reader ever sees a session without its chunks
    gone = await conn.fetch(
        "DELETE FROM chunks WHERE account_id = $1 AND session_id = $2 "
        "AND (generation <> $3 OR idx >= $4) RETURNING blob_key",
        account_id, session_id, w.generation, w.chunk_count,
    )
    dropped.extend(r[0] for r in gone if r[0])
    return PushOutcome(plan.status, plan.message, int(seq), w.generation, w.chunk_count)


async def chunk_sources(
    pool: Any, account_id: str, refs: list[ChunkRef]
) -> list[blobrows.ChunkSource | None]:
    """One query for all refs; None where absent."""
    if not refs:
        return []
    rows = await pool.fetch(
        "SELECT c.session_id, c.generation, c.idx, c.data, c.blob_key FROM chunks c "
        "JOIN unnest($2::text[], $3::int[], $4::int[]) AS r(sid, gen, idx) "
        "ON c.session_id = r.sid AND c.generation = r.gen AND c.idx = r.idx "
        "WHERE c.account_id = $1",
        account_id, [r[0] for r in refs], [r[1] for r in refs], [r[2] for r in refs])
    found = {(r[0], r[1], r[2]): blobrows.source(r[3], r[4]) for r in rows}
    return [found.get(ref) for ref in refs]


async def sweep(pool: Any, blobs: BlobStore, account_id: str, keys: list[str]) -> int:
    """Delete the unreferenced objects among ``keys`` under the account row lock."""
    wanted = sorted({k for k in keys if k})
    if blobs.inline or not wanted:
        return 0
    async with pool.acquire() as conn, conn.transaction():
        # the lock pushes hold while they check a pre-existing object (blobrows.ensure)
        await conn.execute("SELECT 1 FROM accounts WHERE account_id = $1 FOR UPDATE",
                           account_id)
        live = {r[0] for r in await conn.fetch(
            "SELECT DISTINCT blob_key FROM chunks WHERE account_id = $1 "
            "AND blob_key = ANY($2::text[])", account_id, wanted)}
        gone = [k for k in wanted if k not in live]
        await blobs.delete(gone)
    return len(gone)


async def inline_chunks(
    pool: Any, after: tuple[str, str, int, int] | None, limit: int
) -> list[InlineChunk]:
    """Inline chunk rows in primary-key order after ``after``."""
    start = after or ("", "", -1, -1)
    rows = await pool.fetch(
        "SELECT account_id, session_id, generation, idx, data FROM chunks "
        "WHERE (account_id, session_id, generation, idx) > ($1, $2, $3, $4) "
        "AND blob_key IS NULL ORDER BY account_id, session_id, generation, idx LIMIT $5",
        *start, limit)
    return [InlineChunk(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]


async def move_to_blob(pool: Any, chunk: InlineChunk, key: str) -> bool:
    """Swap the row's bytes for the key, when the row still holds exactly those bytes."""
    status = await pool.execute(
        "UPDATE chunks SET data = ''::bytea, blob_key = $5 WHERE account_id = $1 "
        "AND session_id = $2 AND generation = $3 AND idx = $4 AND blob_key IS NULL "
        "AND data = $6", *chunk.ref, key, chunk.data)
    return bool(status != "UPDATE 0")
