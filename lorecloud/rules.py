"""The push rules of PROTOCOL.md as one planner per pushed session.

The planner runs inside the backend's write transaction (under the per-account lock)
and only reads through :class:`~lorecloud.backends.base.PushTxn`, so the decision and
the write it leads to are atomic. Rules, in the order they are checked:

1. origin: a session belongs to the first machine that pushed it -> ``owned_elsewhere``.
2. size: ``meta.payload_bytes`` above ``max_session_bytes``, or sealed chunks above it
   plus a small sealing allowance -> ``too_large``.
3. generations: lower -> ``conflict``; higher -> replace (``first_index`` must be 0);
   same -> append at the stored chunk count. Chunks that overlap what is stored must
   be byte-identical (an idempotent retry); anything else -> ``conflict``.
   A tombstoned session is revived by its origin with a higher generation.
4. quota: a new (or revived) session beyond the plan's ``max_sessions``, or a write
   that grows storage past the plan's quota -> ``quota_exceeded`` naming the plan.
"""

from __future__ import annotations

from typing import Final

from lorecloud.backends.base import Planner, PushPlan, PushTxn, SessionWrite
from lorecloud.config import Plan
from loreproto import wire

#: sealed chunks carry a nonce, a tag and zstd framing on top of the payload bytes;
#: this allowance keeps a payload of exactly max_session_bytes acceptable
SEAL_ALLOWANCE: Final = 64 * 1024


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def make_planner(
    header: wire.PushHeader, parts: list[bytes], machine_id: str, plan: Plan,
    max_session_bytes: int,
) -> Planner:
    """The planner for one pushed session; ``parts`` = [sealed info, *sealed chunks]."""
    info, chunks = parts[0], parts[1:]
    sid = header.session_id
    meta = dict(header.meta)

    async def planner(txn: PushTxn) -> PushPlan:
        cur = await txn.session()
        if cur is not None and cur.origin_machine_id != machine_id:
            who = cur.origin_machine_name or cur.origin_machine_id
            return PushPlan(
                wire.RESULT_OWNED_ELSEWHERE, f"session {sid} belongs to machine {who}"
            )
        payload = meta.get("payload_bytes")
        if isinstance(payload, int) and payload > max_session_bytes:
            return PushPlan(
                wire.RESULT_TOO_LARGE,
                f"session {sid} ({_mb(payload)}) exceeds the {_mb(max_session_bytes)} "
                "upload limit",
            )
        gen, first = header.generation, header.first_index
        new_chunks: list[tuple[int, bytes]]
        if cur is None or cur.deleted:
            if cur is not None and gen <= cur.generation:
                return PushPlan(
                    wire.RESULT_CONFLICT,
                    f"session {sid} was deleted; push generation > {cur.generation} to restore it",
                )
            if first != 0:
                return PushPlan(wire.RESULT_CONFLICT, f"session {sid} is not on the server yet")
            sizes = [len(c) for c in chunks]
            new_chunks = list(enumerate(chunks))
            is_new, old_bytes = True, 0
        elif gen < cur.generation:
            return PushPlan(
                wire.RESULT_CONFLICT,
                f"session {sid} is at generation {cur.generation} on the server",
            )
        elif gen > cur.generation:
            if first != 0:
                return PushPlan(wire.RESULT_CONFLICT, "a new generation must start at chunk 0")
            sizes = [len(c) for c in chunks]
            new_chunks = list(enumerate(chunks))
            is_new, old_bytes = False, cur.stored_bytes
        else:
            if first > cur.chunk_count:
                return PushPlan(
                    wire.RESULT_CONFLICT,
                    f"session {sid} has {cur.chunk_count} chunks on the server, "
                    f"not {first}",
                )
            overlap_stop = min(cur.chunk_count, header.chunk_count)
            if first < overlap_stop:
                stored = await txn.chunks(gen, first, overlap_stop)
                if stored != chunks[: overlap_stop - first]:
                    return PushPlan(
                        wire.RESULT_CONFLICT,
                        f"session {sid} chunks differ from the stored ones; "
                        "push a new generation",
                    )
            fresh = chunks[overlap_stop - first :]
            if header.chunk_count < cur.chunk_count or (
                not fresh and info == cur.info and meta == cur.meta
            ):
                return PushPlan(wire.RESULT_OK, "already stored")
            sizes = list(cur.chunk_sizes) + [len(c) for c in fresh]
            new_chunks = [(cur.chunk_count + i, c) for i, c in enumerate(fresh)]
            is_new, old_bytes = False, cur.stored_bytes
        sealed = sum(sizes)
        if sealed > max_session_bytes + SEAL_ALLOWANCE:
            return PushPlan(
                wire.RESULT_TOO_LARGE,
                f"session {sid} ({_mb(sealed)}) exceeds the {_mb(max_session_bytes)} "
                "upload limit",
            )
        stored_bytes = sealed + len(info)
        usage = await txn.usage()
        if is_new and plan.max_sessions is not None and usage.sessions >= plan.max_sessions:
            return PushPlan(
                wire.RESULT_QUOTA,
                f"the {plan.name} plan allows {plan.max_sessions} sessions",
            )
        if (
            plan.storage_bytes is not None
            and stored_bytes > old_bytes
            and usage.storage_bytes - old_bytes + stored_bytes > plan.storage_bytes
        ):
            return PushPlan(
                wire.RESULT_QUOTA,
                f"the {plan.name} plan's storage quota ({_mb(plan.storage_bytes)}) "
                "would be exceeded",
            )
        write = SessionWrite(
            origin_machine_id=machine_id,
            generation=gen,
            chunk_count=len(sizes),
            chunk_sizes=sizes,
            stored_bytes=stored_bytes,
            meta=meta,
            info=info,
            new_chunks=new_chunks,
        )
        return PushPlan(wire.RESULT_OK, "", write)

    return planner
