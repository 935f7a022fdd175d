"""The PostgreSQL side of ``commit_push``: apply a plan under the account row lock."""

from __future__ import annotations

import json
from typing import Any

from lorecloud.backends.base import PushOutcome, PushPlan, SessionRow


async def apply_plan(
    conn: Any, account_id: str, session_id: str, cur: SessionRow | None, plan: PushPlan,
    now: str,
) -> PushOutcome:
    """Write the planned session state with the next seq (caller holds the row lock)."""
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
        await conn.executemany(
            "INSERT INTO chunks (account_id, session_id, generation, idx, data) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, session_id, generation, idx) "
            "DO UPDATE SET data = EXCLUDED.data",
            [(account_id, session_id, w.generation, idx, data) for idx, data in w.new_chunks],
        )
    # new generation written first; the old one (and any index past the new count) goes
    # in the same transaction, so no reader ever sees a session without its chunks
    await conn.execute(
        "DELETE FROM chunks WHERE account_id = $1 AND session_id = $2 "
        "AND (generation <> $3 OR idx >= $4)",
        account_id, session_id, w.generation, w.chunk_count,
    )
    return PushOutcome(plan.status, plan.message, int(seq), w.generation, w.chunk_count)
