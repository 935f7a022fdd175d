"""The scheduler's pure transitions (backoff, debounce) and the APScheduler wrapper."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from lored.daemon.scheduler import (
    AUTO_JOB,
    SOON_JOB,
    BackoffPolicy,
    BackoffState,
    SyncScheduler,
    after_cycle,
    debounce_due,
    interval_jitter,
)

POLICY = BackoffPolicy(base=30, factor=2, cap=1800, jitter=0.2)


def test_success_returns_to_interval() -> None:
    state, delay = after_cycle(BackoffState(5), True, interval=900, rand=0.9, policy=POLICY)
    assert state == BackoffState(0)
    assert delay == 900


def test_failures_grow_geometrically_without_jitter() -> None:
    state = BackoffState()
    delays = []
    for _ in range(5):
        state, delay = after_cycle(state, False, interval=900, rand=0.5, policy=POLICY)
        delays.append(delay)
    assert delays == [30, 60, 120, 240, 480]
    assert state.failures == 5


def test_backoff_is_capped_at_30_minutes_even_with_jitter() -> None:
    state = BackoffState(40)  # large exponent must not overflow either
    state, delay = after_cycle(state, False, interval=900, rand=0.999, policy=POLICY)
    assert delay == 1800
    assert state.failures == 41


@pytest.mark.parametrize("rand", [0.0, 0.25, 0.5, 0.75, 0.999])
def test_jitter_stays_within_bounds(rand: float) -> None:
    _, delay = after_cycle(BackoffState(1), False, interval=900, rand=rand, policy=POLICY)
    assert 60 * 0.8 <= delay <= 60 * 1.2


def test_failure_then_success_resets() -> None:
    state, _ = after_cycle(BackoffState(), False, interval=120, rand=0.5, policy=POLICY)
    state, _ = after_cycle(state, False, interval=120, rand=0.5, policy=POLICY)
    state, delay = after_cycle(state, True, interval=120, rand=0.5, policy=POLICY)
    assert (state.failures, delay) == (0, 120)
    state, delay = after_cycle(state, False, interval=120, rand=0.5, policy=POLICY)
    assert delay == 30  # a new streak starts from the base again


def test_debounce_pushes_out_but_never_past_max_wait() -> None:
    first, due = debounce_due(None, 100.0, quiet=30, max_wait=300)
    assert (first, due) == (100.0, 130.0)
    first, due = debounce_due(first, 120.0, quiet=30, max_wait=300)
    assert (first, due) == (100.0, 150.0)
    first, due = debounce_due(first, 390.0, quiet=30, max_wait=300)
    assert (first, due) == (100.0, 400.0)  # capped at first change + max_wait


def test_interval_jitter_is_small() -> None:
    assert interval_jitter(900) == 30
    assert interval_jitter(2) == pytest.approx(0.1)


async def _wait_for(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_interval_job_fires_and_next_run_moves_forward() -> None:
    fired: list[str] = []

    async def fire(reason: str) -> None:
        fired.append(reason)

    sched = SyncScheduler(fire, interval=0.3)
    sched.start()
    try:
        first = sched.next_run()
        assert first is not None
        await _wait_for(lambda: len(fired) >= 2)
        later = sched.next_run()
        assert later is not None and later > first
        assert set(fired) == {"schedule"}
        iso = sched.next_run_iso()
        assert iso is not None and iso.endswith("Z")
        assert datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) == later
    finally:
        sched.shutdown()


async def test_pause_stops_firing_and_resume_restarts() -> None:
    fired: list[str] = []

    async def fire(reason: str) -> None:
        fired.append(reason)

    sched = SyncScheduler(fire, interval=0.2)
    sched.start()
    try:
        sched.pause()
        assert sched.next_run() is None
        count = len(fired)
        # nothing may fire for a few intervals while paused (deadline-bounded check)
        end = time.monotonic() + 0.7
        while time.monotonic() < end:
            assert len(fired) == count
            await asyncio.sleep(0.05)
        sched.resume()
        assert sched.next_run() is not None
        await _wait_for(lambda: len(fired) > count)
    finally:
        sched.shutdown()


async def test_failure_moves_next_run_to_backoff_and_success_restores_interval() -> None:
    async def fire(reason: str) -> None:
        return None

    now = [1_000_000.0]
    sched = SyncScheduler(
        fire, interval=3600, rng=lambda: 0.5, clock=lambda: now[0], policy=POLICY
    )
    sched.start()
    try:
        base = datetime.fromtimestamp(now[0], UTC)
        assert sched.cycle_finished(False) == 30
        nxt = sched.next_run()
        assert nxt is not None and (nxt - base).total_seconds() == pytest.approx(30)
        assert sched.cycle_finished(False) == 60
        assert sched.cycle_finished(True) == 3600
        nxt = sched.next_run()
        assert nxt is not None and (nxt - base).total_seconds() == pytest.approx(3600)
        assert sched.backoff.failures == 0
    finally:
        sched.shutdown()


async def test_auto_false_schedules_nothing_and_reload_enables() -> None:
    async def fire(reason: str) -> None:
        return None

    sched = SyncScheduler(fire, interval=60, auto=False)
    sched.start()
    try:
        assert sched.next_run() is None
        sched.changes_seen()
        assert sched._sched.get_job(SOON_JOB) is None
        sched.reconfigure(interval=120, auto=True)
        nxt = sched.next_run()
        assert nxt is not None
        secs = (nxt - datetime.now(UTC)).total_seconds()
        assert 100 < secs <= 121
        sched.reconfigure(interval=120, auto=False)
        assert sched._sched.get_job(AUTO_JOB) is None
    finally:
        sched.shutdown()


async def test_changes_seen_fires_a_debounced_capture_sync() -> None:
    fired: list[str] = []

    async def fire(reason: str) -> None:
        fired.append(reason)

    sched = SyncScheduler(fire, interval=3600, quiet=0.2, max_wait=1.0)
    sched.start()
    try:
        sched.changes_seen()
        sched.changes_seen()  # a burst of changes makes one sync
        soon = sched.next_run()
        assert soon is not None and (soon - datetime.now(UTC)).total_seconds() < 1
        await _wait_for(lambda: "capture" in fired)
        assert fired.count("capture") == 1
        assert sched._sched.get_job(SOON_JOB) is None
    finally:
        sched.shutdown()


def test_a_busy_servers_retry_after_is_a_floor_on_the_backoff() -> None:
    # the first failure alone would retry after 30 s; the server asked for 300 s
    state, delay = after_cycle(BackoffState(), False, interval=900, rand=0.0, policy=POLICY,
                               retry_after=300)
    assert state.failures == 1 and delay == 300
    # a shorter Retry-After never shortens the backoff
    _, delay = after_cycle(BackoffState(3), False, interval=900, rand=0.5, policy=POLICY,
                           retry_after=5)
    assert delay == 240
    # a hostile Retry-After (a week) is capped like any backoff
    _, delay = after_cycle(BackoffState(), False, interval=900, rand=0.999, policy=POLICY,
                           retry_after=7 * 86400)
    assert delay == POLICY.cap
    # success ignores it
    assert after_cycle(BackoffState(2), True, interval=900, rand=0.5, policy=POLICY,
                       retry_after=300)[1] == 900


async def test_cycle_finished_with_retry_after_moves_next_run_past_it() -> None:
    async def fire(reason: str) -> None:
        return None

    now = [1_000_000.0]
    sched = SyncScheduler(fire, interval=3600, rng=lambda: 0.0, clock=lambda: now[0],
                          policy=POLICY)
    sched.start()
    try:
        base = datetime.fromtimestamp(now[0], UTC)
        assert sched.cycle_finished(False, retry_after=120) == 120
        nxt = sched.next_run()
        assert nxt is not None and (nxt - base).total_seconds() == pytest.approx(120)
    finally:
        sched.shutdown()
