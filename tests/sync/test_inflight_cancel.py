"""Cancelling a push or pull (Ctrl-C) leaves no coroutine that was never awaited.

Regression: `Inflight.spawn(self._send(batch))` built the coroutine before a slot was
free; a Ctrl-C while waiting for the slot, or before the task first ran, dropped it
unawaited and Python printed "RuntimeWarning: coroutine 'Pusher._send' was never
awaited" under the "interrupted" line. spawn now takes a factory.
"""

from __future__ import annotations

import asyncio
import gc
import warnings

from lored.sync.context import Inflight


async def test_cancelling_while_waiting_for_a_slot_or_before_the_start_warns_nothing(
) -> None:
    started: list[int] = []
    release = asyncio.Event()

    async def work(n: int) -> None:
        started.append(n)
        await release.wait()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inflight = Inflight(1)
        await inflight.spawn(lambda: work(1))
        waiting = asyncio.ensure_future(inflight.spawn(lambda: work(2)))  # no slot free
        await asyncio.sleep(0)
        waiting.cancel()  # Ctrl-C while the producer waits for a slot
        await asyncio.gather(waiting, return_exceptions=True)
        await inflight.cancel()  # Ctrl-C: the running and the not-yet-started tasks
        fresh = Inflight(2)
        await fresh.spawn(lambda: work(3))
        await fresh.cancel()  # cancelled before its first step
        del waiting
        gc.collect()
    assert started == [1]
    assert not [w for w in caught if "never awaited" in str(w.message)], caught
