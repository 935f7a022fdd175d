"""Blob store upkeep: ``lore-server gc`` (orphaned objects) and ``migrate-blobs``.

**gc.** An object is an orphan when no chunk row names it: a push that died between its
object writes and its commit, a sweep after a delete that failed, an account removed
while the server ran without the object store. :func:`collect_garbage` lists the bucket,
and hands every object older than the grace period to the backend's
:meth:`~lorecloud.backends.base.Backend.sweep_blobs`, which deletes it only if, under
the account's lock, still no row references it. Younger objects are left alone: their
push may be about to commit. Several processes may collect at once (each sweep is
idempotent).

**migrate-blobs.** :func:`migrate_blobs` moves chunks stored inline in the database into
the object store while servers keep serving: for each inline row, in key order, it
writes the object (``If-None-Match``: a rerun finds it present) and then points the row
at it, only if the row still holds exactly those bytes. Rerunning resumes: rows already
moved are no longer inline. A row deleted meanwhile leaves an object no row names, which
the same sweep removes at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from lorecloud.backends.base import Backend
from lorecloud.blobs.base import BlobStore, blob_key, key_account
from lorecloud.faults import fault_point

log = structlog.get_logger("lorecloud")

#: inline chunks read per round of a migration
MIGRATE_BATCH = 64


@dataclass
class GcReport:
    """What one collection saw and did."""

    objects: int = 0
    young: int = 0
    deleted: int = 0


async def collect_garbage(backend: Backend, grace: float) -> GcReport:
    """Delete objects older than ``grace`` seconds that no chunk row references."""
    report = GcReport()
    store = backend.blobs
    if store.inline:
        return report
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=grace)
    async for page in store.list():
        report.objects += len(page)
        old: dict[str, list[str]] = {}
        for obj in page:
            if obj.modified > cutoff:
                report.young += 1
            else:
                old.setdefault(key_account(obj.key), []).append(obj.key)
        for account_id, keys in old.items():
            report.deleted += await backend.sweep_blobs(account_id, keys)
    log.info("gc done", objects=report.objects, young=report.young, deleted=report.deleted)
    return report


async def gc_forever(backend: Backend, interval: float, grace: float) -> None:
    """``serve``'s periodic job: collect every ``interval`` seconds; errors are logged."""
    while True:
        await asyncio.sleep(interval)
        try:
            await collect_garbage(backend, grace)
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            log.warning("gc failed", error=type(exc).__name__)


@dataclass
class MigrateReport:
    """Chunks moved by one run of migrate-blobs."""

    moved: int = 0
    bytes: int = 0
    skipped: int = 0
    seconds: float = 0.0


async def migrate_blobs(
    backend: Backend, target: BlobStore, *, batch: int = MIGRATE_BATCH,
    progress: Callable[[MigrateReport], None] | None = None,
) -> MigrateReport:
    """Move every inline chunk of ``backend`` into ``target`` (idempotent, resumable).

    ``backend.blobs`` must be ``target`` itself (the sweep of a chunk deleted meanwhile
    goes through it).
    """
    report = MigrateReport()
    started = time.monotonic()
    after: tuple[str, str, int, int] | None = None
    while True:
        rows = await backend.inline_chunks(after, batch)
        if not rows:
            break
        keys = [blob_key(r.account_id, r.data) for r in rows]
        await asyncio.gather(*(target.put(k, r.data) for k, r in zip(keys, rows, strict=True)))
        for row, key in zip(rows, keys, strict=True):
            if await backend.move_to_blob(row, key):
                report.moved += 1
                report.bytes += len(row.data)
            else:  # deleted or rewritten since it was read: drop the object if unused
                report.skipped += 1
                await backend.sweep_blobs(row.account_id, [key])
        after = rows[-1].ref
        fault_point("migrate-blobs-after-batch")
        if progress:
            progress(report)
    report.seconds = time.monotonic() - started
    return report
