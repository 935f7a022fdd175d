"""Push executor: load → plan → seal (worker pool) → batch → upload (several in flight).

Per-session outcomes: ``ok`` → ``mark_pushed``; ``too_large`` / ``quota_exceeded`` /
``owned_elsewhere`` → skipped with a warning (exit 0); ``conflict`` (the server holds a
state we did not expect, e.g. our last push committed but we were killed before
recording it) → retried once as a fresh generation above the server's.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lored.errors import LoreError, ServerError
from lored.faults import fault_point
from lored.secrets.redact import Redactor
from lored.store.rows import PushCandidate
from lored.sync.context import IN_FLIGHT, Inflight, RunContext, ordered_map
from lored.sync.outgoing import Sealing, conflict_generation, plan_only, prepare
from lored.sync.plan import BatchBuilder, Limits, PushStep, Skipped, too_large
from loreproto import wire

if TYPE_CHECKING:
    from lored.store import Store

_SKIP_RESULTS = (wire.RESULT_TOO_LARGE, wire.RESULT_QUOTA, wire.RESULT_OWNED_ELSEWHERE)


@dataclass
class Prepared:
    """A session sealed and ready to upload (or found unchanged: ``step is None``)."""

    candidate: PushCandidate
    step: PushStep | None
    header: wire.PushHeader | None = None
    parts: list[bytes] = field(default_factory=list)
    #: the local payload this push was made from (differs from the pushed bytes when
    #: secrets were redacted): clears the dirty flag only if the session is still this
    source: tuple[int, str] | None = None

    @property
    def size(self) -> int:
        """Sealed bytes on the wire."""
        return sum(len(p) for p in self.parts)


@dataclass
class PushReport:
    """CLI.md's push object."""

    dry_run: bool = False
    sessions: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    bytes_planned: int = 0
    #: dry run only: what each session would upload ({session_id, tool, title, bytes})
    planned: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``{"dry_run","pushed","sessions","bytes_uploaded","skipped"}`` (+ bytes_planned,
        and ``planned`` on a dry run)."""
        doc = {
            "dry_run": self.dry_run,
            "pushed": len(self.sessions),
            "sessions": list(self.sessions),
            "bytes_uploaded": self.bytes_uploaded,
            "skipped": [s.to_json() for s in self.skipped],
            "bytes_planned": self.bytes_planned,
        }
        if self.dry_run:
            doc["planned"] = list(self.planned)
        return doc


class Pusher:
    """Runs one push over a :class:`RunContext`."""

    def __init__(self, ctx: RunContext, limits: Limits) -> None:
        self.ctx = ctx
        self.limits = limits
        self.report = PushReport()
        self._conflicts: list[tuple[PushCandidate, dict[str, Any]]] = []
        self._done = 0
        self._total = 0
        assert ctx.key is not None  # a push always checks the key first
        self.key = ctx.key
        policy = ctx.redaction
        self.redactor: Redactor | None = (
            policy.redactor(self.key.data_key.reveal()) if policy and policy.upstream else None)
        self._sealing = Sealing(self.key.data_key, ctx.account_id, ctx.machine_id,
                                ctx.privacy_minimal)

    async def run(self, candidates: list[PushCandidate]) -> PushReport:
        """Push every candidate; returns the report (skips included)."""
        todo = []
        for c in candidates:
            skip = too_large(c.session_id, c.payload_length, self.limits)
            if skip is not None:
                self.report.skipped.append(skip)
            else:
                todo.append(c)
        self._total = len(todo)
        await self._upload(todo, retry=False)
        if self._conflicts:
            again, self._conflicts = self._conflicts, []
            await self._upload([c for c, _ in again], retry=True,
                               server={c.session_id: r for c, r in again})
            for c, r in self._conflicts:  # a second conflict: leave it for the next push
                self.report.skipped.append(Skipped(
                    c.session_id, wire.RESULT_CONFLICT,
                    f"session {c.session_id} changed on the server meanwhile "
                    f"({r.get('message') or 'conflict'}); it will be retried on the next push"))
        return self.report

    async def _upload(self, todo: list[PushCandidate], *, retry: bool,
                      server: dict[str, dict[str, Any]] | None = None) -> None:
        builder: BatchBuilder[Prepared] = BatchBuilder(self.limits.batch_bytes,
                                                       self.limits.max_batch_sessions)
        inflight = Inflight(IN_FLIGHT)

        async def one(c: PushCandidate) -> Prepared:
            return await self._prepare(c, (server or {}).get(c.session_id) if retry else None)

        try:
            async for prep in ordered_map(one, todo, window=IN_FLIGHT * 2):
                if prep.step is None:
                    await self._record_unchanged(prep)
                    continue
                full = builder.add(prep, prep.size)
                if full:
                    await inflight.spawn(functools.partial(self._send, full))
            last = builder.flush()
            if last:
                await inflight.spawn(functools.partial(self._send, last))
            await inflight.wait()
        finally:
            await inflight.cancel()

    async def _prepare(self, c: PushCandidate, conflict: dict[str, Any] | None) -> Prepared:
        blob = await self.ctx.store.load_blob(c.session_id)
        if blob is None:
            raise LoreError(f"session {c.session_id} has no stored payload")
        # a conflict: the server's state differs from what we recorded, so start a
        # generation above both, with the whole payload (never guess what it holds)
        above = conflict_generation(conflict) if conflict is not None else None
        out = await self.ctx.cpu(prepare, self._sealing, self.redactor, c, blob,
                                 self.limits, above)
        return Prepared(out.candidate, out.step, out.header, out.parts or [], out.source)

    async def _record_unchanged(self, p: Prepared) -> None:
        # dirty but byte-identical to what the server has (e.g. re-captured): just clear it
        c = p.candidate
        await self.ctx.store.mark_pushed(
            c.session_id, generation=c.pushed_generation, chunk_count=c.pushed_chunks,
            length=c.pushed_length, prefix_hash=c.pushed_hash or "", seq=None,
            **_source_kw(p.source))

    async def _send(self, batch: list[Prepared]) -> None:
        results = await self.ctx.remote.push([(p.header, p.parts) for p in batch if p.header])
        fault_point("after-commit-before-local-state")
        by_id = {r.get("session_id"): r for r in results}
        for p in batch:
            c, step = p.candidate, p.step
            assert step is not None
            r = by_id.get(c.session_id)
            if r is None:
                raise ServerError(f"Lore Cloud did not answer for session {c.session_id}")
            status = r.get("status")
            if status == wire.RESULT_OK:
                seq = r.get("seq")
                await self.ctx.store.mark_pushed(
                    c.session_id, generation=step.generation, chunk_count=step.chunk_count,
                    length=step.payload_length, prefix_hash=step.payload_hash,
                    seq=seq if isinstance(seq, int) else None, **_source_kw(p.source))
                self.report.sessions.append(c.session_id)
                self.report.bytes_uploaded += p.size
                fault_point("between-local-records")
            elif status in _SKIP_RESULTS:
                self.report.skipped.append(_skipped(c, str(status), r, self.limits))
            elif status == wire.RESULT_CONFLICT:
                self._conflicts.append((c, r))
            else:
                raise ServerError(f"Lore Cloud answered {status!r} for session {c.session_id}")
        self._done += len(batch)
        self.ctx.emit({"event": "push", "done": self._done, "total": self._total,
                       "bytes": self.report.bytes_uploaded})


def _source_kw(source: tuple[int, str] | None) -> dict[str, Any]:
    if source is None:
        return {}
    return {"source_length": source[0], "source_hash": source[1]}


def _skipped(c: PushCandidate, status: str, r: dict[str, Any], limits: Limits) -> Skipped:
    sid = c.session_id
    if status == wire.RESULT_TOO_LARGE:
        from lored.sync.plan import human_size

        msg = (f"session {sid} ({human_size(c.payload_length)}) exceeds the "
               f"{human_size(limits.max_session_bytes)} upload limit; kept locally")
    elif status == wire.RESULT_QUOTA:
        why = r.get("message") or "the account's storage quota is full"
        msg = f"session {sid} was not uploaded: {why}; kept locally"
    else:
        msg = f"session {sid} belongs to another machine of this account; kept locally"
    return Skipped(sid, status, msg)


async def dry_run(store: Store, candidates: list[PushCandidate], limits: Limits,
                  cpu: Callable[..., Awaitable[Any]], redactor: Redactor | None = None
                  ) -> PushReport:
    """What a push would upload, without sealing or uploading anything (no key needed)."""
    report = PushReport(dry_run=True)
    for c in candidates:
        skip = too_large(c.session_id, c.payload_length, limits)
        if skip is not None:
            report.skipped.append(skip)
            continue
        c, step = await cpu(plan_only, redactor, c, await store.load_payload(c.session_id),
                            limits)
        if step is not None:
            report.sessions.append(c.session_id)
            report.bytes_planned += step.upload_bytes
            report.planned.append({"session_id": c.session_id, "tool": c.tool,
                                   "title": c.info.get("title"),
                                   "project_path": c.project_path,
                                   "bytes": step.upload_bytes})
    return report
