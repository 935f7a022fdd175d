"""Pull executor: page through the change feed, fetch only missing chunks, open, re-parse,
and store each group of sessions together with the cursor in one local transaction.

Failures are per session: a chunk that does not open (tampered, swapped, replayed,
moved), a chunk the server no longer has, or a payload this version cannot parse puts
that session in ``failed`` and in a local **retry list** (kv ``pull_retry``: the change
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
from dataclasses import dataclass, field
from typing import Any

from lored.capture.registry import parse_payload, tool_of
from lored.crypto.seal import Binding, open_chunk, open_info
from lored.crypto.secret import SecretBytes
from lored.errors import CorruptData, LoreError
from lored.faults import fault_point
from lored.store.rows import PulledSession
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
    dk: SecretBytes, account_id: str, step: PullStep, chunks: list[bytes], base: bytes
) -> PulledSession:
    """Verify and open one session's info and new chunks, rebuild and re-parse the payload.

    Pure CPU (runs in the worker pool). Raises CorruptData naming what failed.
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
    parts = [base]
    for index, sealed in zip(step.indexes, chunks, strict=True):
        try:
            parts.append(open_chunk(dk, sealed, b, index))
        except CorruptData:
            raise CorruptData(f"chunk {index} of generation {e.generation} failed "
                              "verification") from None
    payload = b"".join(parts)
    parsed = parse_payload(tool_of(e.session_id), payload)
    if parsed.session_id != e.session_id:
        raise CorruptData(f"its payload belongs to {parsed.session_id}")
    # the payload is the truth; the sealed info only fills what parsing cannot recover
    for key in ("title", "model", "git_branch", "tool_version", "git_remote"):
        if getattr(parsed, key) is None and isinstance(info.get(key), str):
            setattr(parsed, key, info[key])
    return PulledSession(parsed, payload, e.origin_machine_id, e.origin_machine_name,
                         e.generation, e.chunk_count, e.seq)


@dataclass
class _Ready:
    """A group of sessions opened and parsed, waiting to be stored."""

    pulled: list[PulledSession] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)
    own_deletions: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    failures: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    seen: int = 0


class Puller:
    """Runs one pull over a :class:`RunContext`."""

    def __init__(self, ctx: RunContext, limits: Limits) -> None:
        self.ctx = ctx
        self.limits = limits
        self.report = PullReport()
        self._retry: dict[str, dict[str, Any]] = {}
        self._committed = 0
        self._total = 0

    async def run(self, *, from_zero: bool, page_size: int = wire.DEFAULT_CHANGES_PAGE
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
        while True:
            page = await self.ctx.remote.changes(cursor, page_size)
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
            await self._apply(entries, max(page.cursor, cursor))
            if page.cursor <= cursor and page.more:
                raise LoreError("Lore Cloud's change feed did not advance",
                                hint="try again later; report it if it persists")
            cursor = max(page.cursor, cursor)
            if not page.more:
                break
        return self.report

    async def _apply(self, entries: list[ChangeEntry], cursor: int,
                     retrying: bool = False) -> None:
        """Plan, fetch and store ``entries`` in groups; the last group carries ``cursor``."""
        steps: list[PullStep] = []
        for e in entries:
            state = await self.ctx.store.remote_state(e.session_id)
            held = (Held(state.generation, state.chunk_count, state.origin_machine_id,
                         state.local) if state else None)
            if retrying and supersedes(e, held):
                self._retry.pop(e.session_id, None)
                continue
            if held is None and not e.deleted and await self.ctx.store.is_deleted(e.session_id):
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
        # two-stage pipeline: fetch + open group n+1 while group n is being stored (the
        # store's work — compression, message rows, FTS — runs in SQLite's thread)
        commit: asyncio.Future[None] | None = None
        try:
            for n, group in enumerate(groups):
                last = n == len(groups) - 1
                group_cursor = cursor if (last or retrying) else group[-1].entry.seq
                ready = await self._prepare(group)
                if commit is not None:
                    await commit
                commit = asyncio.ensure_future(self._commit(ready, group_cursor))
            if commit is not None:
                await commit
        finally:
            if commit is not None and not commit.done():
                commit.cancel()
                await asyncio.gather(commit, return_exceptions=True)

    async def _prepare(self, steps: list[PullStep]) -> _Ready:
        """Fetch the group's missing chunks, then open and re-parse its sessions."""
        fetched = await self._fetch(steps)
        ready = _Ready()

        async def one(step: PullStep) -> None:
            sid = step.entry.session_id
            if step.kind == "delete":
                ready.deletions.append(sid)
                ready.done.append(sid)
                return
            if step.kind == "delete_own":
                ready.own_deletions.append(sid)
                ready.done.append(sid)
                return
            if step.kind != "fetch":
                ready.done.append(sid)
                return
            try:
                ready.pulled.append(await self._open(step, fetched))
                ready.done.append(sid)
            except Exception as err:  # noqa: BLE001 - one session never stops the pull
                if isinstance(err, LoreError):
                    reason = "missing" if isinstance(err, ChunkMissing) else "corrupt"
                    why = err.message
                else:  # a parser bug: report it, keep going, retry after an upgrade
                    reason, why = "unreadable", f"{type(err).__name__} while reading it"
                ready.failures[sid] = (reason, f"session {sid} was refused: {why}; the local "
                                       "copy is kept and the next pull retries it",
                                       step.entry.to_json())

        await asyncio.gather(*(one(step) for step in steps))
        ready.seen = len(steps)
        return ready

    async def _commit(self, ready: _Ready, cursor: int) -> None:
        """Store one prepared group and the cursor in one transaction; keep the retry list."""
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
        self.report.sessions.extend(p.parsed.session_id for p in ready.pulled)
        self.report.deleted.extend([*ready.deletions, *ready.own_deletions])
        self._committed += ready.seen
        self.ctx.emit({"event": "pull", "done": self._committed,
                       "total": max(self._total, self._committed),
                       "bytes": self.report.bytes_downloaded,
                       "sessions": len(self.report.sessions)})

    async def _fetch(self, steps: list[PullStep]) -> dict[tuple[str, int, int], bytes | None]:
        out: dict[tuple[str, int, int], bytes | None] = {}
        batches = fetch_batches(steps, self.limits.max_fetch_chunks, wire.DEFAULT_BATCH_BYTES)
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

    async def _open(self, step: PullStep, fetched: dict[tuple[str, int, int], bytes | None]
                    ) -> PulledSession:
        e = step.entry
        chunks: list[bytes] = []
        for i in step.indexes:
            data = fetched.get((e.session_id, e.generation, i))
            if data is None:
                raise ChunkMissing(f"Lore Cloud no longer has chunk {i} of generation "
                                f"{e.generation} (it changed meanwhile)")
            chunks.append(data)
        base = await self.ctx.store.load_payload(e.session_id) if step.append else b""
        return await self.ctx.cpu(open_session, self.ctx.key.data_key, self.ctx.account_id,
                                  step, chunks, base)

    async def _save_retry(self) -> None:
        await self.ctx.store.kv_set(RETRY_KEY, json.dumps(self._retry, sort_keys=True))


def _load_retry(raw: str | None) -> dict[str, dict[str, Any]]:
    try:
        doc = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return {k: v for k, v in doc.items() if isinstance(v, dict)} if isinstance(doc, dict) else {}
