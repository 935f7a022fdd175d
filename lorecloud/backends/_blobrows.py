"""What both backends do with a blob store: stage, ensure, load and sweep chunk objects.

A chunk row holds either its sealed bytes (``data``, the db store) or the key of its
object (``blob_key``, ``data`` empty). The backends call these helpers from their own
transactions; the SQL stays in each backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from lorecloud.blobs.base import BlobMissing, BlobStore, blob_key

log = structlog.get_logger("lorecloud")

#: object PUTs / GETs in flight at once for one request
PARALLEL = 16


@dataclass
class Staged:
    """Objects written before a push transaction: key -> True when this request wrote it,
    False when it was already there (then the commit re-checks it under the lock)."""

    keys: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkSource:
    """Where one stored chunk's bytes are: inline ``data``, or the object ``key``."""

    data: bytes | None = None
    key: str | None = None


async def stage(store: BlobStore, account_id: str, chunks: list[bytes]) -> Staged:
    """Write every chunk's object (durable before the commit that will reference it)."""
    staged = Staged()
    if store.inline or not chunks:
        return staged
    todo = {blob_key(account_id, c): c for c in chunks}
    sem = asyncio.Semaphore(PARALLEL)

    async def one(key: str, data: bytes) -> None:
        async with sem:
            staged.keys[key] = await store.put(key, data)

    await asyncio.gather(*(one(k, d) for k, d in todo.items()))
    return staged


async def ensure(store: BlobStore, staged: Staged | None, key: str, data: bytes) -> None:
    """Called under the account's lock before a row references ``key``.

    An object this request wrote is young, so no gc sweeps it before the grace period.
    An object that was already there (412) may be an old orphan a concurrent sweep is
    about to remove; sweeps take the same lock, so checking it here is conclusive.
    """
    fresh = staged.keys.get(key) if staged else None
    if fresh:
        return
    if not await store.exists(key):
        await store.put(key, data)


def row_bytes(store: BlobStore, account_id: str, data: bytes) -> tuple[bytes, str | None]:
    """(what goes in ``chunks.data``, what goes in ``chunks.blob_key``) for a new chunk."""
    if store.inline:
        return data, None
    return b"", blob_key(account_id, data)


async def load(store: BlobStore, sources: list[ChunkSource | None]) -> list[bytes | None]:
    """Whole bytes of each source (None where absent or its object is missing)."""
    sem = asyncio.Semaphore(PARALLEL)

    async def one(src: ChunkSource | None) -> bytes | None:
        if src is None or src.key is None:
            return src.data if src else None
        async with sem:
            try:
                return await (await store.open(src.key)).read_all()
            except BlobMissing:
                log.error("chunk object missing", key=src.key)
                return None

    return list(await asyncio.gather(*(one(s) for s in sources)))


async def chunk_rows(store: BlobStore, staged: Staged | None, account_id: str,
                     session_id: str, generation: int, chunks: list[tuple[int, bytes]]
                     ) -> list[tuple[str, str, int, int, bytes, str | None]]:
    """The ``chunks`` rows of a push's new chunks, each object checked with :func:`ensure`
    first (the caller holds the account's lock): (account, session, gen, idx, data, key)."""
    rows = []
    for idx, data in chunks:
        inline, key = row_bytes(store, account_id, data)
        if key is not None:
            await ensure(store, staged, key, data)
        rows.append((account_id, session_id, generation, idx, inline, key))
    return rows


def source(data: bytes | None, key: str | None) -> ChunkSource:
    """A row's ChunkSource (``data`` for inline rows, ``key`` for object rows)."""
    if key is not None:
        return ChunkSource(None, key)
    return ChunkSource(bytes(data or b""), None)


async def sweep_quietly(
    sweep: Callable[[str, list[str]], Awaitable[int]], store: BlobStore, account_id: str,
    keys: list[str],
) -> None:
    """Sweep after a commit; a failure only leaves orphans for gc (logged, not raised)."""
    if not keys or store.inline:
        return
    try:
        await sweep(account_id, keys)
    except Exception as exc:  # noqa: BLE001 - the commit stands; gc collects later
        log.warning("chunk objects left for gc", count=len(keys), error=type(exc).__name__)
