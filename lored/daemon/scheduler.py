"""When the daemon syncs: the interval job, failure backoff and the debounced "sync soon".

Two layers, as ARCHITECTURE.md asks ("only the scheduler deals with time"):

* pure transitions — :func:`after_cycle` (backoff state × outcome → delay until the
  next automatic cycle) and :func:`debounce_due` (when a "sync soon" fires after
  capture saw changes). No clock, no randomness inside: the caller passes both in.
* :class:`SyncScheduler` — a thin wrapper around APScheduler 3.x's
  ``AsyncIOScheduler`` holding one interval job (``auto``) and one date job (``soon``).
  After a failed cycle it moves the interval job's next run to ``now + backoff``;
  APScheduler's IntervalTrigger computes the following run from that fire time, so
  after a success the cadence is the normal interval again without extra state.

The scheduler never runs a cycle itself: it calls ``fire(reason)``, which the daemon
routes through the single-flight runner (``lored/daemon/cycles.py``). APScheduler's
``max_instances=1`` would silently drop overlapping triggers; that is acceptable
only for *automatic* runs, and manual requests never go through APScheduler.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

AUTO_JOB = "auto"
SOON_JOB = "soon"


@dataclass(frozen=True)
class BackoffPolicy:
    """How retries grow after failed cycles."""

    base: float = 30.0  # first retry after ~30 s
    factor: float = 2.0
    cap: float = 30 * 60.0  # never wait longer than 30 minutes
    jitter: float = 0.2  # ± fraction, so many machines do not retry in lockstep


@dataclass(frozen=True)
class BackoffState:
    """Consecutive failed cycles so far (0 = healthy, normal cadence)."""

    failures: int = 0


def after_cycle(
    state: BackoffState,
    ok: bool,
    *,
    interval: float,
    rand: float,
    policy: BackoffPolicy = BackoffPolicy(),  # noqa: B008 - frozen, shared safely
    retry_after: float | None = None,
) -> tuple[BackoffState, float]:
    """The next backoff state and the delay (seconds) until the next automatic cycle.

    ``rand`` is a uniform sample from [0, 1) supplied by the caller (keeps this pure).
    On success the delay is the configured interval; on the n-th consecutive failure it
    is ``base * factor**(n-1)`` ± jitter, capped at ``policy.cap`` after jitter, and never
    sooner than the server's ``retry_after`` (a busy server's Retry-After, itself capped
    at ``policy.cap`` so a hostile answer cannot stop syncing for days).
    """
    if ok:
        return BackoffState(0), float(interval)
    failures = state.failures + 1
    raw = policy.base * policy.factor ** min(failures - 1, 32)  # min(): no float overflow
    jittered = raw * (1.0 + policy.jitter * (2.0 * rand - 1.0))
    delay = max(1.0, min(jittered, policy.cap))
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after * (1.0 + policy.jitter * rand), policy.cap))
    return BackoffState(failures), delay


def debounce_due(
    first_change: float | None, now: float, *, quiet: float, max_wait: float
) -> tuple[float, float]:
    """When a "sync soon" should fire after capture reported a change at ``now``.

    Returns ``(first_change, due)``. Each change pushes the sync ``quiet`` seconds out,
    but never past ``first_change + max_wait``: a transcript that grows every few seconds
    during a long AI session must not postpone its upload forever.
    """
    first = now if first_change is None else first_change
    return first, min(now + quiet, first + max_wait)


def interval_jitter(interval: float) -> float:
    """Small start jitter for the interval job: 5 % of it, at most 30 s."""
    return min(30.0, interval * 0.05)


FireFn = Callable[[str], Awaitable[Any]]


class SyncScheduler:
    """APScheduler 3.x wrapper: interval job, backoff retries, debounced sync-soon, pause.

    ``fire(reason)`` is awaited for each trigger (reason ``"schedule"``, ``"retry"`` or
    ``"capture"``); it must not raise for ordinary cycle failures. The daemon reports
    every finished cycle (automatic or manual) with :meth:`cycle_finished`.
    """

    def __init__(
        self,
        fire: FireFn,
        *,
        interval: float,
        auto: bool = True,
        quiet: float = 30.0,
        max_wait: float = 300.0,
        policy: BackoffPolicy = BackoffPolicy(),  # noqa: B008
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler  # heavy: daemon only

        self._fire = fire
        self.interval = float(interval)
        self.auto = auto
        self.quiet = quiet
        self.max_wait = max_wait
        self.policy = policy
        self._rng = rng
        self._clock = clock
        self.backoff = BackoffState()
        self.paused = False
        self._first_change: float | None = None
        self._sched = AsyncIOScheduler(timezone=UTC)

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        """Start on the running event loop and add the interval job (unless auto=false)."""
        self._sched.start()
        self._install_auto()

    def shutdown(self) -> None:
        """Stop firing. A cycle already running is the single-flight runner's business."""
        if self._sched.running:
            self._sched.shutdown(wait=False)

    def _install_auto(self) -> None:
        if self._sched.get_job(AUTO_JOB):
            self._sched.remove_job(AUTO_JOB)
        if not self.auto:
            return
        self._sched.add_job(
            self._fire,
            "interval",
            args=("schedule",),
            id=AUTO_JOB,
            seconds=self.interval,
            jitter=interval_jitter(self.interval) or None,
            coalesce=True,
            max_instances=1,
            # None = run however late: a busy loop must not turn a cycle into a "misfire"
            misfire_grace_time=None,
            next_run_time=self._at(self.interval) if not self.paused else None,
        )

    # -- controls -----------------------------------------------------------------
    def reconfigure(self, *, interval: float, auto: bool) -> None:
        """Apply a reloaded config: new interval and/or auto flag; the clock restarts."""
        changed = interval != self.interval or auto != self.auto
        self.interval, self.auto = float(interval), auto
        if changed or self._sched.get_job(AUTO_JOB) is None:
            self._install_auto()

    def pause(self) -> None:
        """Stop automatic cycles (manual ones still run) until :meth:`resume`."""
        self.paused = True
        for job_id in (AUTO_JOB, SOON_JOB):
            if self._sched.get_job(job_id):
                self._sched.pause_job(job_id)

    def resume(self) -> None:
        """Restart automatic cycles; the next one is due one interval from now."""
        self.paused = False
        if self._sched.get_job(SOON_JOB):
            self._sched.resume_job(SOON_JOB)
        if self._sched.get_job(AUTO_JOB):
            self._sched.modify_job(AUTO_JOB, next_run_time=self._at(self.interval))

    def cycle_finished(self, ok: bool, retry_after: float | None = None) -> float:
        """Feed a finished cycle's outcome to the backoff; returns the new delay.

        After a failure the interval job is moved to ``now + backoff`` (at least the
        server's ``retry_after`` when it answered busy); after a success that ends a
        failure streak it is moved back to ``now + interval``.
        """
        was_failing = self.backoff.failures > 0
        self.backoff, delay = after_cycle(
            self.backoff, ok, interval=self.interval, rand=self._rng(), policy=self.policy,
            retry_after=retry_after,
        )
        if (not ok or was_failing) and not self.paused and self._sched.get_job(AUTO_JOB):
            self._sched.modify_job(AUTO_JOB, next_run_time=self._at(delay))
        return delay

    def changes_seen(self) -> None:
        """Capture stored new or grown sessions: (re)arm the debounced "sync soon" job."""
        if not self.auto:
            return
        now = self._clock()
        self._first_change, due = debounce_due(
            self._first_change, now, quiet=self.quiet, max_wait=self.max_wait
        )
        self._sched.add_job(
            self._soon,
            "date",
            id=SOON_JOB,
            run_date=datetime.fromtimestamp(due, UTC),
            replace_existing=True,
            misfire_grace_time=None,
        )
        if self.paused:
            self._sched.pause_job(SOON_JOB)

    async def _soon(self) -> None:
        self._first_change = None
        await self._fire("capture")

    # -- queries ------------------------------------------------------------------
    def next_run(self) -> datetime | None:
        """The next automatic cycle (interval, retry or sync-soon), or None when none is due."""
        if self.paused or not self.auto:
            return None
        times = [
            job.next_run_time
            for job in self._sched.get_jobs()
            if job.next_run_time is not None
        ]
        return min(times) if times else None

    def next_run_iso(self) -> str | None:
        """:meth:`next_run` as ISO 8601 UTC (``…Z``), the form of ``next_auto_sync``."""
        when = self.next_run()
        if when is None:
            return None
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # as store.utcnow()

    def _at(self, delay: float) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC) + timedelta(seconds=delay)
