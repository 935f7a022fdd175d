"""The deferred parse of pulled sessions (and of a bulk import's messages), then the
search index.

A pull stores what it downloaded as it arrived (authenticated zstd frames plus the
sealed info) so that it returns as soon as the sessions are listable and restorable;
parsing the payloads into messages, and tokenising those for full-text search, happens
here afterwards: in the daemon's background right after a pull (and at start-up, which
is also how an interrupted run recovers: the work is recorded in ``sessions.db``, one
transaction per batch), or lazily by whatever needs it (``search`` waits for it,
``sessions show`` parses the one session it shows).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from lored.capture.registry import parse_payload, tool_of
from lored.errors import CorruptData
from lored.store.db import ParsedPayload, Unparsed, decompress, prepare_parsed

if TYPE_CHECKING:
    from lored.store import Store

#: payload bytes parsed per transaction (bounds memory and how long the store is held)
BATCH_BYTES = 16 * 1024 * 1024
#: waiting sessions from which the parse uses worker processes
POOL_MIN_SESSIONS = 64


def parse_one(item: Unparsed) -> ParsedPayload:
    """Decompress and parse one stored payload (pure CPU; any thread).

    A payload this version cannot read, or one naming another session, is recorded as
    unreadable instead of raising: one bad session never stops the others.
    """
    sid = item.session_id
    try:
        payload = decompress(item.blob)
        parsed = parse_payload(tool_of(sid), payload, item.source)
        if parsed.session_id != sid:
            raise CorruptData(f"its payload belongs to {parsed.session_id}")
    except Exception as exc:  # noqa: BLE001 - a parser bug is reported, never fatal
        return ParsedPayload(sid, item.length, item.seq, None, error=f"{type(exc).__name__}: "
                             f"{getattr(exc, 'message', exc)}", local=item.local)
    return prepare_parsed(item, parsed, payload)


def parse_light(item: Unparsed) -> ParsedPayload:
    """:func:`parse_one` in a worker process: the message rows travel back, the parse's
    message objects (costly to pickle, and the rows say the same) do not."""
    out = parse_one(item)
    if out.parsed is None:
        return out
    return replace(out, parsed=out.parsed.without_messages())


async def _parse_in_pool(store: Store) -> int:
    """Every waiting session, batch by batch, parsed by worker processes; the next
    batch is parsed while this one is written. Returns how many were stored."""
    from lored.capture.bulk import quiet_spawn, worker_pool

    pool = worker_pool()
    try:
        def submit(batch: list[Unparsed]) -> Awaitable[list[ParsedPayload]]:
            with quiet_spawn():
                futures = [pool.submit(parse_light, item) for item in batch]
            return asyncio.gather(*(asyncio.wrap_future(f) for f in futures))

        done = 0
        batch = await store.unparsed(max_bytes=BATCH_BYTES)
        parsing = submit(batch) if batch else None
        while parsing is not None:
            results = await parsing
            nxt = await store.unparsed(max_bytes=BATCH_BYTES, after=batch[-1].session_id)
            parsing = submit(nxt) if nxt else None
            done += await store.save_parsed(results)
            batch = nxt
        return done
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


async def parse_pending(store: Store, *, only: Sequence[str] | None = None) -> int:
    """Parse every pulled session still waiting (or just ``only``); returns how many.

    A backlog of ``POOL_MIN_SESSIONS`` or more (a first pull or bulk import) is parsed by
    a pool of processes, one per core; what remains after it (a session pulled again
    meanwhile) is parsed here.
    """
    done = 0
    if only is None and await store.unparsed_count() >= POOL_MIN_SESSIONS:
        try:
            done = await _parse_in_pool(store)
        except (OSError, RuntimeError):  # no processes here (or a broken pool): below
            pass
    while True:
        batch = await store.unparsed(max_bytes=BATCH_BYTES, only=only)
        if not batch:
            return done
        results = [await asyncio.to_thread(parse_one, item) for item in batch]
        stored = await store.save_parsed(results)
        done += stored
        if not stored and only is not None:
            return done  # pulled again while parsing, every one: the caller asks again


async def catch_up(store: Store) -> tuple[int, int]:
    """All deferred work: parse what is pending, then bring the search index up to date.

    Returns (sessions parsed, messages indexed).
    """
    parsed = await parse_pending(store)
    indexed = await store.index_pending()
    return parsed, indexed
