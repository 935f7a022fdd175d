"""Single flight (lored/daemon/cycles.py): one cycle at a time, joiners share its result."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lored.daemon.cycles import CycleKind, CycleRunner, ProgressFn
from lored.errors import DaemonError, ServerUnreachable

SYNC = CycleKind("sync")
PUSH = CycleKind("push")
PULL = CycleKind("pull")
PULL_ALL = CycleKind("pull", all=True)
DRY_PUSH = CycleKind("push", dry_run=True)


class GatedCycle:
    """A real cycle function: emits events, then waits on a gate the test opens."""

    def __init__(self) -> None:
        self.runs: list[CycleKind] = []
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.fail_with: BaseException | None = None

    async def __call__(self, kind: CycleKind, progress: ProgressFn) -> dict[str, Any]:
        self.runs.append(kind)
        n = len(self.runs)
        progress({"event": "phase", "phase": "start", "n": n})
        self.entered.set()
        await self.gate.wait()
        progress({"event": "phase", "phase": "end", "n": n})
        if self.fail_with is not None:
            raise self.fail_with
        if kind.mode == "sync":
            return {"pull": {"pulled": n}, "push": {"pushed": n}}
        return {"mode": kind.mode, "n": n}


def test_covers() -> None:
    assert SYNC.covers(SYNC) and SYNC.covers(PUSH) and SYNC.covers(PULL)
    assert not SYNC.covers(PULL_ALL)
    assert not SYNC.covers(DRY_PUSH)
    assert not PUSH.covers(SYNC)
    assert not PUSH.covers(PULL)
    assert PULL_ALL.covers(PULL_ALL)


def test_answer_extracts_the_requested_part() -> None:
    result = {"pull": {"pulled": 1}, "push": {"pushed": 2}}
    assert SYNC.answer(PUSH, result) == {"pushed": 2}
    assert SYNC.answer(PULL, result) == {"pulled": 1}
    assert SYNC.answer(SYNC, result) == result


async def test_two_concurrent_requests_run_one_cycle_and_share_result() -> None:
    cyc = GatedCycle()
    runner = CycleRunner(cyc)
    events_a: list[dict[str, Any]] = []
    events_b: list[dict[str, Any]] = []
    a = asyncio.create_task(runner.request(SYNC, events_a.append))
    await cyc.entered.wait()
    b = asyncio.create_task(runner.request(SYNC, events_b.append))
    await asyncio.sleep(0)  # let b register as a joiner before the gate opens
    cyc.gate.set()
    ra, rb = await asyncio.gather(a, b)
    assert ra == rb == {"pull": {"pulled": 1}, "push": {"pushed": 1}}
    assert len(cyc.runs) == 1
    assert runner.started == 1 and runner.completed == 1
    assert [e["phase"] for e in events_a] == ["start", "end"]
    assert [e["phase"] for e in events_b] == ["end"]  # only the remaining events


async def test_manual_push_joins_scheduled_sync() -> None:
    cyc = GatedCycle()
    runner = CycleRunner(cyc)
    auto = asyncio.create_task(runner.request(SYNC, trigger="schedule"))
    await cyc.entered.wait()
    manual = asyncio.create_task(runner.request(PUSH))
    await asyncio.sleep(0)
    cyc.gate.set()
    assert await manual == {"pushed": 1}
    await auto
    assert cyc.runs == [SYNC]


async def test_uncovered_request_waits_then_runs_its_own_cycle() -> None:
    cyc = GatedCycle()
    runner = CycleRunner(cyc)
    first = asyncio.create_task(runner.request(PUSH))
    await cyc.entered.wait()
    second = asyncio.create_task(runner.request(PULL_ALL))
    await asyncio.sleep(0)
    assert cyc.runs == [PUSH]  # not concurrently
    cyc.gate.set()
    assert await first == {"mode": "push", "n": 1}
    assert await second == {"mode": "pull", "n": 2}
    assert cyc.runs == [PUSH, PULL_ALL]


async def test_fresh_request_does_not_ride_on_a_cycle_already_running() -> None:
    cyc = GatedCycle()
    runner = CycleRunner(cyc)
    first = asyncio.create_task(runner.request(SYNC))
    await cyc.entered.wait()
    fresh = asyncio.create_task(runner.request(SYNC, trigger="capture", fresh=True))
    await asyncio.sleep(0)
    cyc.gate.set()
    await first
    assert (await fresh)["push"] == {"pushed": 2}
    assert len(cyc.runs) == 2


async def test_errors_reach_every_joiner_and_runner_recovers() -> None:
    cyc = GatedCycle()
    finished: list[tuple[int, bool]] = []
    runner = CycleRunner(cyc, lambda c, err, secs: finished.append((c.seq, err is None)))
    cyc.fail_with = ServerUnreachable()
    a = asyncio.create_task(runner.request(SYNC))
    await cyc.entered.wait()
    b = asyncio.create_task(runner.request(PULL))
    await asyncio.sleep(0)
    cyc.gate.set()
    for task in (a, b):
        with pytest.raises(ServerUnreachable):
            await task
    cyc.fail_with = None
    assert await runner.request(PUSH) == {"mode": "push", "n": 2}
    assert finished == [(1, False), (2, True)]
    assert runner.failed == 1 and runner.completed == 1
    assert runner.last is not None and runner.last["ok"] is True


async def test_cancelled_requester_does_not_cancel_the_cycle() -> None:
    cyc = GatedCycle()
    runner = CycleRunner(cyc)
    a = asyncio.create_task(runner.request(SYNC))
    await cyc.entered.wait()
    b = asyncio.create_task(runner.request(SYNC))
    await asyncio.sleep(0)
    a.cancel()
    cyc.gate.set()
    assert (await b)["push"] == {"pushed": 1}
    assert a.cancelled()


async def test_stop_cancels_a_stuck_cycle_and_joiners_get_a_daemon_error() -> None:
    cyc = GatedCycle()
    runner = CycleRunner(cyc)
    a = asyncio.create_task(runner.request(SYNC))
    await cyc.entered.wait()
    assert await runner.stop(grace=0.05) is False
    with pytest.raises(DaemonError):
        await a
    assert runner.current is None


async def test_stop_waits_for_a_cycle_that_finishes_in_time() -> None:
    cyc = GatedCycle()
    runner = CycleRunner(cyc)
    a = asyncio.create_task(runner.request(PUSH))
    await cyc.entered.wait()
    asyncio.get_running_loop().call_soon(cyc.gate.set)
    assert await runner.stop(grace=5) is True
    assert await a == {"mode": "push", "n": 1}


async def test_no_new_cycle_after_stop() -> None:
    cyc = GatedCycle()
    runner = CycleRunner(cyc)
    a = asyncio.create_task(runner.request(PUSH))
    await cyc.entered.wait()
    b = asyncio.create_task(runner.request(PULL_ALL))  # waits for the push to end
    await asyncio.sleep(0)
    assert await runner.stop(grace=0.05) is False
    with pytest.raises(DaemonError):
        await a
    with pytest.raises(DaemonError, match="stopping"):
        await b
    with pytest.raises(DaemonError, match="stopping"):
        await runner.request(SYNC)
    assert cyc.runs == [PUSH]
