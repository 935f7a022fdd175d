"""What a push or pull run needs: store, remote, key, identity, worker pool, progress."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from lored.crypto.keycache import CachedKey
from lored.secrets.policy import Policy
from lored.sync.remote import Remote

if TYPE_CHECKING:
    from lored.store import Store

ProgressFn = Callable[[dict[str, Any]], None]
T = TypeVar("T")
R = TypeVar("R")

#: push/fetch requests in flight at once (PERFORMANCE.md P1/P4: parallel transfers)
IN_FLIGHT = 4


@dataclass
class RunContext:
    """Shared by the push and pull executors of one Lore instance."""

    store: Store
    remote: Remote
    #: None only while a pull's key check is still running (see Puller)
    key: CachedKey | None
    account_id: str
    machine_id: str
    pool: ThreadPoolExecutor
    progress: ProgressFn | None = None
    privacy_minimal: bool = False
    #: ``[privacy] redact``: what leaves the machine has its secrets redacted unless "off"
    redaction: Policy | None = None

    async def cpu(self, fn: Callable[..., R], *args: Any) -> R:
        """Run CPU work (zstd, AEAD, hashing, parsing) in the worker pool.

        zstd, libsodium and hashlib release the GIL, so sealing really runs in parallel
        and the event loop stays responsive for the daemon's socket.
        """
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def emit(self, event: dict[str, Any]) -> None:
        """Send a progress event if anyone listens (a failing listener never stops sync)."""
        if self.progress is not None:
            try:
                self.progress(event)
            except Exception:  # noqa: BLE001,S110 - progress display is best-effort
                pass


async def ordered_map(
    fn: Callable[[T], Awaitable[R]], items: Iterable[T], window: int
) -> AsyncIterator[R]:
    """Yield ``fn(item)`` for every item in order, running up to ``window`` at once."""
    pending: list[asyncio.Task[R]] = []
    it = iter(items)
    try:
        for item in it:
            pending.append(asyncio.ensure_future(fn(item)))
            if len(pending) >= window:
                yield await pending.pop(0)
        while pending:
            yield await pending.pop(0)
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


class Inflight:
    """At most ``limit`` concurrent tasks; the first failure is re-raised by ``wait``."""

    def __init__(self, limit: int = IN_FLIGHT) -> None:
        self._sem = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()

    async def spawn(self, start: Callable[[], Awaitable[None]]) -> None:
        """Run ``start()`` in a task once a slot is free (back-pressure for the producer).

        ``start`` makes the coroutine only inside the task: a Ctrl-C (cancellation) while
        waiting for a slot, or before the task first runs, leaves no coroutine that was
        never awaited (the RuntimeWarning ``coroutine Pusher._send was never awaited``).
        """
        await self._sem.acquire()
        try:
            for t in [t for t in self._tasks if t.done()]:
                self._tasks.discard(t)
                t.result()  # surface a failure early
        except BaseException:
            self._sem.release()
            raise

        async def run() -> None:
            try:
                await start()
            finally:
                self._sem.release()

        self._tasks.add(asyncio.ensure_future(run()))

    async def wait(self) -> None:
        """Wait for every task; cancel the rest and raise on the first failure."""
        try:
            while self._tasks:
                done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
                for t in done:
                    self._tasks.discard(t)
                    t.result()
        finally:
            await self.cancel()

    async def cancel(self) -> None:
        """Cancel whatever still runs."""
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
