"""Pull executor: page through the change feed, fetch only missing chunks, open, and
store each group of sessions together with the cursor in one local transaction.

A session is stored as it arrived — its chunks' zstd frames, authenticated, and its
sealed info — so it is listable and restorable when the pull returns; parsing it into
messages and the search index is deferred (:mod:`lored.capture.deferred`).

Failures are per session: a chunk that does not open (tampered, swapped, replayed,
moved) or a chunk the server no longer has puts that session in ``failed`` and in a
local **retry list** (kv ``pull_retry``: the change
entries themselves). The cursor still advances, so one bad session never blocks the
feed; the next pull retries the listed entries first and drops those a newer change has
superseded. The list grows before the transaction that advances the cursor and shrinks
only after it, so a crash between the two can repeat work but never lose a session.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from lored.crypto.keycache import CachedKey
from lored.crypto.seal import Binding, open_chunk_frame, open_info
from lored.crypto.secret import SecretBytes
from lored.errors import CorruptData, LoreError
from lored.faults import fault_point
from lored.store.rows import PulledRaw
from lored.sync.context import IN_FLIGHT, Inflight, RunContext
from lored.sync.plan import (
    ChangeEntry,
    Held,
    Limits,
    PullStep,
    fetch_batches,
    plan_pull,
    supersedes,
)
from lored.sync.remote import FetchedChunk
from loreproto import wire

RETRY_KEY = "pull_retry"


class NoKey(Exception):  # noqa: N818 - a signal to the engine, never shown to a user
    """The key check found no envelope on the server: nothing there can be opened."""


class StateForgotten(Exception):  # noqa: N818 - a signal to the engine
    """The key check forgot sync state made with another key after this run read it."""


class ChunkMissing(LoreError):
    """Lore Cloud no longer has a chunk the change feed announced (it changed meanwhile)."""

    code = "missing"

#: sealed bytes fetched and held in memory before a group is stored (bounds memory)
GROUP_BYTES = 8 * wire.MiB


@dataclass
class PullReport:
    """CLI.md's pull object."""

    sessions: list[str] = field(default_factory=list)
    bytes_downloaded: int = 0
    failed: dict[str, dict[str, str]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``{"pulled","sessions","bytes_downloaded","failed"}`` (+ deleted)."""
        return {
            "pulled": len(self.sessions),
            "sessions": list(self.sessions),
            "bytes_downloaded": self.bytes_downloaded,
            "failed": list(self.failed.values()),
            "deleted": list(self.deleted),
        }

    def fail(self, sid: str, reason: str, message: str) -> None:
        """Record a failed session (the last word about a session wins)."""
        self.failed[sid] = {"session_id": sid, "reason": reason, "message": message}


def open_session(
    dk: SecretBytes, account_id: str, step: PullStep, chunks: list[bytes], base: bytes | None,
    base_length: int = 0,
) -> PulledRaw:
    """Verify and open one session's info and new chunks (leaving them compressed).

    Pure CPU (runs in the worker pool). Raises CorruptData naming what failed.
    ``base`` is the stored blob the new chunks continue (an append), of ``base_length``
    payload bytes.
    """
    e = step.entry
    b = Binding(account_id, e.session_id, e.origin_machine_id, e.generation)
    try:
        sealed_info = base64.b64decode(e.info or "", validate=True)
    except (binascii.Error, ValueError):
        raise CorruptData("its sealed info is not base64") from None
    try:
        info = open_info(dk, sealed_info, b, e.chunk_count)
    except CorruptData:
        raise CorruptData("its sealed info failed verification") from None
    frames: list[bytes] = []
    length = base_length
    for index, sealed in zip(step.indexes, chunks, strict=True):
        try:
            frame, size = open_chunk_frame(dk, sealed, b, index)
        except CorruptData:
            raise CorruptData(f"chunk {index} of generation {e.generation} failed "
                              "verification") from None
        frames.append(frame)
        length += size
    return PulledRaw(e.session_id, frames, length, info, dict(e.meta), e.origin_machine_id,
                     e.origin_machine_name, e.generation, e.chunk_count, e.seq, base)


@dataclass
class _Ready:
    """A group of sessions opened, waiting to be stored."""

    pulled: list[PulledRaw] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)
    own_deletions: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    failures: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    seen: int = 0


class Puller:
    """Runs one pull over a :class:`RunContext`."""

    def __init__(self, ctx: RunContext, limits: Limits,
                 key: Awaitable[tuple[CachedKey | None, bool]] | None = None) -> None:
        """``key``: the key check still running (``(key, state forgotten)``); the run
        downloads meanwhile and waits for it before opening or storing anything."""
        self.ctx = ctx
        self.limits = limits
        self._key_check = key
        self.report = PullReport()
        self._retry: dict[str, dict[str, Any]] = {}
        self._committed = 0
        self._total = 0
        self._held_length: dict[str, int] = {}
        self._pending: asyncio.Future[None] | None = None  # the group being stored
        self._held: tuple[_Ready, int] | None = None  # prepared, stored after the next plan

    async def run(self, *, from_zero: bool, page_size: int = wire.MAX_CHANGES_PAGE
                  ) -> PullReport:
        """Retry listed failures, then page through the feed from the cursor (or zero)."""
        store = self.ctx.store
        raw = await store.kv_get(RETRY_KEY)
        self._retry = _load_retry(raw)
        cursor = 0 if from_zero else await store.get_cursor()
        if self._retry:
            entries = []
            for obj in list(self._retry.values()):
                try:
                    entries.append(ChangeEntry.from_json(obj))
                except wire.WireError:
                    self._retry.pop(str(obj.get("session_id")), None)
            await self._apply(entries, cursor, retrying=True)
        # pages, groups and commits form one pipeline: the next page is asked for while
        # this one's chunks download, and group n+1 downloads and opens while group n is
        # stored (pages hold disjoint sessions: the feed lists each one once, at its seq)
        nxt: asyncio.Future[Any] | None = asyncio.ensure_future(
            self.ctx.remote.changes(cursor, page_size))
        try:
            while nxt is not None:
                page = await nxt
                nxt = None
                # the progress total: what this pull has seen, this page and what is left
                self._total = max(self._total, self._committed + len(page.changes)
                                  + (page.remaining or 0))
                entries = []
                for obj in page.changes:
                    try:
                        entries.append(ChangeEntry.from_json(obj))
                    except wire.WireError as exc:
                        sid = obj.get("session_id") if isinstance(obj, dict) else None
                        self.report.fail(str(sid), "corrupt", f"session {sid}: {exc}")
                advanced = page.cursor > cursor
                if page.more and advanced:
                    nxt = asyncio.ensure_future(self.ctx.remote.changes(page.cursor, page_size))
                await self._apply(entries, max(page.cursor, cursor), wait=False)
                if page.more and not advanced:
                    raise LoreError("Lore Cloud's change feed did not advance",
                                    hint="try again later; report it if it persists")
                cursor = max(page.cursor, cursor)
            await self._drain()
        finally:
            if nxt is not None and not nxt.done():
                nxt.cancel()
                await asyncio.gather(nxt, return_exceptions=True)
            await self._cancel_commit()
        return self.report

    def _start_held(self) -> None:
        """Start storing the group :meth:`_apply` held back (the previous one is done)."""
        if self._held is not None:
            assert self._pending is None
            (ready, cursor), self._held = self._held, None
            self._pending = asyncio.ensure_future(self._commit(ready, cursor))

    async def _drain(self) -> None:
        """Wait for the group being stored, and the one held back (failures raise here)."""
        commit, self._pending = self._pending, None
        if commit is not None:
            await commit
        if self._held is not None:
            self._start_held()
            await self._drain()

    async def _cancel_commit(self) -> None:
        self._held = None
        commit, self._pending = self._pending, None
        if commit is not None and not commit.done():
            commit.cancel()
            await asyncio.gather(commit, return_exceptions=True)

    async def _apply(self, entries: list[ChangeEntry], cursor: int,
                     retrying: bool = False, wait: bool = True) -> None:
        """Plan, fetch and store ``entries`` in groups; the last group carries ``cursor``.

        Without ``wait`` the last group may still be being stored on return (see
        :meth:`_drain`).
        """
        steps: list[PullStep] = []
        ids = [e.session_id for e in entries]
        states = await self.ctx.store.remote_states(ids)  # one query per page, not per entry
        deleted_here = await self.ctx.store.deleted_among(ids)
        self._start_held()
        for e in entries:
            state = states.get(e.session_id)
            held = (Held(state.generation, state.chunk_count, state.origin_machine_id,
                         state.local) if state else None)
            if state is not None:
                self._held_length[e.session_id] = state.payload_length
            if retrying and supersedes(e, held):
                self._retry.pop(e.session_id, None)
                continue
            if held is None and not e.deleted and e.session_id in deleted_here:
                # deleted here on purpose (`lorectl sessions delete`): pull does not bring
                # it back either; `lorectl sessions undelete` does
                self._retry.pop(e.session_id, None)
                continue
            step = plan_pull(e, held, self.ctx.machine_id)
            if step.kind == "rollback":
                if not retrying:
                    self.report.fail(e.session_id, "rollback", step.message or "rollback")
                self._retry.pop(e.session_id, None)
                continue
            steps.append(step)
        groups: list[list[PullStep]] = [[]]
        size = 0
        for step in steps:
            if groups[-1] and size + step.fetch_bytes > GROUP_BYTES:
                groups.append([])
                size = 0
            groups[-1].append(step)
            size += step.fetch_bytes
        # two-stage pipeline: fetch + open group n+1 while group n is being stored (in
        # SQLite's thread)
        try:
            for n, group in enumerate(groups):
                last = n == len(groups) - 1
                group_cursor = cursor if (last or retrying) else group[-1].entry.seq
                ready = await self._prepare(group)
                await self._drain()
                if last and not wait:
                    # started by the next page once it has read what it needs from the
                    # store: SQLite's one thread would otherwise make it wait for this
                    self._held = (ready, group_cursor)
                else:
                    self._pending = asyncio.ensure_future(self._commit(ready, group_cursor))
            if wait:
                await self._drain()
        except BaseException:
            await self._cancel_commit()
            raise

    async def _checked_key(self) -> CachedKey:
        """The checked key: the one given, or the key check's answer once it is in.

        Raises :class:`NoKey` or :class:`StateForgotten` (before anything is stored).
        """
        if self._key_check is not None:
            key, forgot = await self._key_check
            if key is None:
                raise NoKey
            if forgot:
                raise StateForgotten
            self.ctx.key, self._key_check = key, None
        assert self.ctx.key is not None
        return self.ctx.key

    async def _prepare(self, steps: list[PullStep]) -> _Ready:
        """Fetch the group's missing chunks, then open its sessions."""
        fetched = await self._fetch(steps)
        dk = (await self._checked_key()).data_key
        ready = _Ready()
        todo: list[tuple[PullStep, list[bytes], bytes | None, int]] = []

        def failed(step: PullStep, err: Exception) -> None:
            sid = step.entry.session_id
            if isinstance(err, LoreError):
                reason = "missing" if isinstance(err, ChunkMissing) else "corrupt"
                why = err.message
            else:  # a bug: report it, keep going, retry after an upgrade
                reason, why = "unreadable", f"{type(err).__name__} while reading it"
            ready.failures[sid] = (reason, f"session {sid} was refused: {why}; the local "
                                   "copy is kept and the next pull retries it",
                                   step.entry.to_json())

        for step in steps:
            sid = step.entry.session_id
            if step.kind == "delete":
                ready.deletions.append(sid)
                ready.done.append(sid)
            elif step.kind == "delete_own":
                ready.own_deletions.append(sid)
                ready.done.append(sid)
            elif step.kind != "fetch":
                ready.done.append(sid)
            else:
                try:
                    todo.append(await self._gather(step, fetched))
                except Exception as err:  # noqa: BLE001 - one session never stops the pull
                    failed(step, err)
        # open in a few slices on the worker pool (AEAD releases the GIL), not one hop
        # per session
        slices = [todo[i::_OPEN_SLICES] for i in range(min(_OPEN_SLICES, len(todo)))]
        opened = await asyncio.gather(*(
            self.ctx.cpu(_open_all, dk, self.ctx.account_id, part)
            for part in slices))
        for part, results in zip(slices, opened, strict=True):
            for (step, *_), result in zip(part, results, strict=True):
                if isinstance(result, Exception):
                    failed(step, result)
                else:
                    ready.pulled.append(result)
                    ready.done.append(step.entry.session_id)
        ready.seen = len(steps)
        return ready

    async def _commit(self, ready: _Ready, cursor: int) -> None:
        """Store one prepared group and the cursor in one transaction; keep the retry list."""
        await self._checked_key()  # nothing is stored before the key is checked
        for sid, (reason, message, entry) in ready.failures.items():
            self.report.fail(sid, reason, message)
            self._retry[sid] = entry
        if ready.failures:
            await self._save_retry()  # grow the list before the cursor moves past them
        for sid in ready.own_deletions:
            # before the cursor moves past the tombstone: a crash here repeats it, harmlessly
            await self.ctx.store.delete_session(sid, remember=True)
        await self.ctx.store.apply_pull_page(ready.pulled, ready.deletions, cursor)
        changed = any(self._retry.pop(sid, None) is not None for sid in ready.done)
        for sid in ready.done:
            self.report.failed.pop(sid, None)
        if changed:
            await self._save_retry()
        self.report.sessions.extend(p.session_id for p in ready.pulled)
        self.report.deleted.extend([*ready.deletions, *ready.own_deletions])
        self._committed += ready.seen
        self.ctx.emit({"event": "pull", "done": self._committed,
                       "total": max(self._total, self._committed),
                       "bytes": self.report.bytes_downloaded,
                       "sessions": len(self.report.sessions)})

    async def _fetch(self, steps: list[PullStep]) -> dict[tuple[str, int, int], bytes | None]:
        out: dict[tuple[str, int, int], bytes | None] = {}
        batches = fetch_batches(steps, self.limits.max_fetch_chunks, FETCH_BATCH_BYTES)
        inflight = Inflight(IN_FLIGHT)

        async def one(refs: list[tuple[str, int, int]]) -> None:
            answers: list[FetchedChunk] = await self.ctx.remote.fetch_chunks(refs)
            for a in answers:
                out[(a.session_id, a.generation, a.index)] = a.data
                self.report.bytes_downloaded += len(a.data or b"")
            fault_point("mid-chunk-download")

        try:
            for refs in batches:
                await inflight.spawn(functools.partial(one, refs))
            await inflight.wait()
        finally:
            await inflight.cancel()
        return out

    async def _gather(self, step: PullStep, fetched: dict[tuple[str, int, int], bytes | None]
                      ) -> tuple[PullStep, list[bytes], bytes | None, int]:
        """A fetch step's sealed chunks and, for an append, the stored blob they continue."""
        e = step.entry
        chunks: list[bytes] = []
        for i in step.indexes:
            data = fetched.get((e.session_id, e.generation, i))
            if data is None:
                raise ChunkMissing(f"Lore Cloud no longer has chunk {i} of generation "
                                f"{e.generation} (it changed meanwhile)")
            chunks.append(data)
        base: bytes | None = None
        base_length = 0
        if step.append:
            base = await self.ctx.store.load_blob(e.session_id)
            if base is None:
                raise LoreError(f"session {e.session_id} has no stored payload")
            base_length = self._held_length.get(e.session_id, 0)
        return step, chunks, base, base_length

    async def _save_retry(self) -> None:
        await self.ctx.store.kv_set(RETRY_KEY, json.dumps(self._retry, sort_keys=True))


#: worker-pool calls that open one group's sessions (the pool has up to 4 threads)
_OPEN_SLICES = 4
#: sealed bytes per fetch request: several requests of a group in flight at once
FETCH_BATCH_BYTES = 4 * wire.MiB


def _open_all(dk: SecretBytes, account_id: str,
              items: list[tuple[PullStep, list[bytes], bytes | None, int]]
              ) -> list[PulledRaw | Exception]:
    """:func:`open_session` of each item; a failure is returned in its place."""
    out: list[PulledRaw | Exception] = []
    for step, chunks, base, base_length in items:
        try:
            out.append(open_session(dk, account_id, step, chunks, base, base_length))
        except Exception as err:  # noqa: BLE001 - reported per session by the caller
            out.append(err)
    return out


def _load_retry(raw: str | None) -> dict[str, dict[str, Any]]:
    try:
        doc = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return {k: v for k, v in doc.items() if isinstance(v, dict)} if isinstance(doc, dict) else {}
