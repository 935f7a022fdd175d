"""Single flight: one sync cycle at a time; requests that arrive during a cycle join it.

A cycle is one run of pull-then-push (or a push / pull alone). When a request arrives
while a cycle that *covers* it is running (a ``sync`` covers a ``push`` and a ``pull``),
the request awaits the same future: it gets the same result and the progress events
still to come. A request the running cycle does not cover (a ``pull --all`` during a
``push``) waits for it to end and then starts or joins the next one. Nothing is ever
dropped — which is why this does not rely on APScheduler's ``max_instances``.

The cycle runs in its own task, shielded from its requesters: a client that hangs up
does not cancel a cycle others are waiting on. Pure asyncio, no I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from lored.errors import DaemonError

Mode = Literal["sync", "push", "pull"]
ProgressFn = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class CycleKind:
    """What a cycle does: the mode and its flags."""

    mode: Mode = "sync"
    dry_run: bool = False
    all: bool = False

    def covers(self, other: CycleKind) -> bool:
        """True when running ``self`` also answers a request for ``other``."""
        if self == other:
            return True
        if self.mode != "sync" or self.dry_run or other.dry_run:
            return False
        # a sync is pull-then-push, so it answers plain push and pull requests
        return other.mode == "push" or (other.mode == "pull" and not other.all)

    def answer(self, other: CycleKind, result: dict[str, Any]) -> dict[str, Any]:
        """The part of ``self``'s result that answers a request for ``other``."""
        if self.mode == "sync" and other.mode in ("push", "pull"):
            part = result.get(other.mode)
            return part if isinstance(part, dict) else result
        return result


CycleFn = Callable[[CycleKind, ProgressFn], Awaitable[dict[str, Any]]]


@dataclass
class Cycle:
    """One running (or finished) cycle, shared by everyone who asked for it."""

    seq: int
    kind: CycleKind
    trigger: str
    future: asyncio.Future[dict[str, Any]]
    started: float = field(default_factory=time.monotonic)
    listeners: list[ProgressFn] = field(default_factory=list)
    joined: int = 1

    def emit(self, event: dict[str, Any]) -> None:
        """Fan a progress event out to every current listener; one bad listener is skipped."""
        for listener in list(self.listeners):
            with contextlib.suppress(Exception):
                listener(event)

    async def join(self, progress: ProgressFn | None) -> dict[str, Any]:
        """Await this cycle's result, receiving its remaining progress events meanwhile."""
        if progress is not None:
            self.listeners.append(progress)
        try:
            return await asyncio.shield(self.future)
        finally:
            if progress is not None:
                self.listeners.remove(progress)


FinishedFn = Callable[[Cycle, BaseException | None, float], None]


class CycleRunner:
    """Runs cycles one at a time through ``cycle_fn``; see the module docstring.

    ``on_finished(cycle, error, seconds)`` is called after every cycle (for backoff,
    the per-cycle log line and the counters in ``/v1/status``).
    """

    def __init__(self, cycle_fn: CycleFn, on_finished: FinishedFn | None = None) -> None:
        self._cycle_fn = cycle_fn
        self._on_finished = on_finished
        self._seq = 0
        self._current: Cycle | None = None
        self._task: asyncio.Task[None] | None = None
        self.completed = 0
        self.failed = 0
        self.last: dict[str, Any] | None = None
        self._closed = False

    @property
    def current(self) -> Cycle | None:
        """The running cycle, if any."""
        return self._current

    @property
    def started(self) -> int:
        """How many cycles have started since the daemon started."""
        return self._seq

    async def request(
        self,
        kind: CycleKind,
        progress: ProgressFn | None = None,
        *,
        trigger: str = "manual",
        fresh: bool = False,
    ) -> dict[str, Any]:
        """Run ``kind`` or join a running cycle that covers it; returns the answer for ``kind``.

        ``fresh=True`` only joins a cycle that started after this request (used by the
        capture trigger: changes seen now must not ride on a cycle that already began).
        Raises whatever the cycle raised.
        """
        asked = self._seq
        while True:
            if self._closed:  # stopping: no new cycle may start under a closing store
                raise DaemonError("lored is stopping", hint="run the command again in a moment")
            cur = self._current
            if cur is None:
                cur = self._start(kind, trigger)
            elif not (cur.kind.covers(kind) and (not fresh or cur.seq > asked)):
                await self._wait_quietly(cur)
                continue
            else:
                cur.joined += 1
            result = await cur.join(progress)
            return cur.kind.answer(kind, result)

    def _start(self, kind: CycleKind, trigger: str) -> Cycle:
        self._seq += 1
        loop = asyncio.get_running_loop()
        cycle = Cycle(self._seq, kind, trigger, loop.create_future())
        self._current = cycle
        self._task = loop.create_task(self._run(cycle), name=f"cycle-{cycle.seq}")
        return cycle

    async def _run(self, cycle: Cycle) -> None:
        error: BaseException | None = None
        try:
            result = await self._cycle_fn(cycle.kind, cycle.emit)
        except BaseException as exc:  # noqa: BLE001 - handed to every joiner, then re-raised
            error = exc
            if isinstance(exc, asyncio.CancelledError):
                # joiners were not cancelled themselves; tell them what happened
                exc_for_joiners: BaseException = DaemonError(
                    "the sync cycle was interrupted because lored is stopping",
                    hint="run the command again once lored is back",
                )
            else:
                exc_for_joiners = exc
            if not cycle.future.done():
                cycle.future.set_exception(exc_for_joiners)
            # mark retrieved: a cycle nobody awaited must not log "never retrieved"
            cycle.future.exception()
        else:
            cycle.future.set_result(result)
        finally:
            self._current = None
            seconds = time.monotonic() - cycle.started
            if error is None:
                self.completed += 1
            else:
                self.failed += 1
            self.last = {"seq": cycle.seq, "mode": cycle.kind.mode, "ok": error is None,
                         "trigger": cycle.trigger, "seconds": round(seconds, 3)}
            if self._on_finished is not None:
                with contextlib.suppress(Exception):
                    self._on_finished(cycle, error, seconds)
        if isinstance(error, asyncio.CancelledError):
            raise error

    @staticmethod
    async def _wait_quietly(cycle: Cycle) -> None:
        with contextlib.suppress(BaseException):
            await asyncio.shield(cycle.future)

    async def stop(self, grace: float) -> bool:
        """Let the running cycle finish within ``grace`` seconds, else cancel it.

        No new cycle starts afterwards. Returns True when it finished on its own.
        Cancelling is safe for local state: the store commits each step in one
        transaction, so an abandoned cycle leaves either the old or the new state and
        the next cycle redoes the rest.
        """
        self._closed = True
        task = self._task
        if task is None or task.done():
            return True
        done, _ = await asyncio.wait({task}, timeout=grace)
        if done:
            return True
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        return False
