"""Live capture: watch the tools' folders and import what changes.

:class:`CaptureWatcher` runs ``watchfiles.awatch`` over the folders of the enabled tools
that exist (re-checked every few seconds, so a tool installed later is picked up;
Aider's history files live in whole repositories and are polled at that pace instead),
debounces bursts of writes, imports only the sources whose files changed, and calls
``on_change(report)`` when sessions were imported/updated or errors occurred. A full
rescan runs periodically as a safety net for events the OS did not deliver.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from lored.capture.discovery import POLLED, selected_tools, watch_roots
from lored.capture.importer import ImportReport, import_all
from lored.capture.sources import Context
from lored.config import Settings

if TYPE_CHECKING:
    from lored.store import Store

log = structlog.get_logger("lored.capture")
OnChange = Callable[[ImportReport], Awaitable[None] | None]


class CaptureWatcher:
    """Watches the AI tools' transcript folders and imports changes into the store.

    ``target`` is a :class:`~lored.store.Store`, or any object with a ``store`` attribute
    (the daemon's service facade). ``debounce_ms`` groups bursts of writes;
    ``roots_interval`` is how often (s) to look for tool folders that appeared;
    ``rescan_interval`` (s) how often to run a full import regardless of events.
    """

    def __init__(
        self,
        target: Any,
        settings: Settings,
        *,
        on_change: OnChange | None = None,
        env: Mapping[str, str] | None = None,
        debounce_ms: int = 200,
        roots_interval: float = 5.0,
        rescan_interval: float = 300.0,
    ) -> None:
        self.store: Store = getattr(target, "store", None) or target
        self.settings = settings
        self.on_change = on_change
        self.env = env
        self.debounce_ms = debounce_ms
        self.roots_interval = roots_interval
        self.rescan_interval = rescan_interval
        self.passes = 0  # import passes run (tests and status use it)
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._watching: dict[Path, str] = {}

    @property
    def running(self) -> bool:
        """True while the watch loop is alive."""
        return self._task is not None and not self._task.done()

    @property
    def watching(self) -> list[Path]:
        """The folders currently watched."""
        return sorted(self._watching)

    async def start(self) -> None:
        """Start watching in the background; returns once the watch is in place.

        Watching each set of folders begins with a full scan, so anything written before
        (or while lored was down) is caught up.
        """
        if self.running:
            return
        self._stop.clear()
        self._watching = await asyncio.to_thread(self._roots)
        self._ready.clear()
        self._task = asyncio.create_task(self._run(), name="lore-capture-watcher")
        # return once the OS watch is set up (and caught up), so no write is missed
        ready = asyncio.ensure_future(self._ready.wait())
        await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()

    async def stop(self) -> None:
        """Stop watching and wait for a running import to finish."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def import_now(
        self, *, tool: str | None = None, only: set[str] | None = None
    ) -> ImportReport:
        """One import pass (serialised with the watcher's own), then ``on_change``."""
        async with self._lock:
            report = await import_all(self.store, self.settings, tool=tool, env=self.env,
                                      only=only)
            self.passes += 1
        if report.changed or report.errors:
            await self._notify(report)
        return report

    # --- internals ---------------------------------------------------------------------
    def _context(self) -> Context:
        return Context(self.settings, dict(os.environ) if self.env is None else self.env)

    def _roots(self) -> dict[Path, str]:
        ctx = self._context()
        return watch_roots(ctx, selected_tools(ctx, None))

    async def _poll(self) -> None:
        """Import the polled tools (a stat per history file when nothing changed)."""
        ctx = self._context()
        for tool in selected_tools(ctx, None):
            if tool in POLLED:
                try:
                    await self.import_now(tool=tool)
                except Exception as exc:
                    log.warning("capture_failed", tool=tool, error=str(exc))

    async def _notify(self, report: ImportReport) -> None:
        if self.on_change is None:
            return
        try:
            result = self.on_change(report)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # the callback's problem must not stop capture
            log.warning("on_change_failed", error=str(exc))

    async def _run(self) -> None:
        last_rescan = time.monotonic()
        while not self._stop.is_set():
            if not self._watching:
                self._ready.set()
                # nothing to watch yet: wait for a tool folder to appear
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.roots_interval)
                await self._poll()
                self._watching = await asyncio.to_thread(self._roots)
                continue
            last_rescan = await self._watch(last_rescan)

    async def _watch(self, last_rescan: float) -> float:
        """Watch the current roots until they change or we stop; returns the rescan time."""
        from watchfiles import awatch

        roots = dict(self._watching)
        last_roots = time.monotonic()
        events = awatch(
            *roots, stop_event=self._stop, debounce=self.debounce_ms, step=50,
            rust_timeout=int(self.roots_interval * 1000), yield_on_timeout=True,
            ignore_permission_denied=True,
        )
        # awatch sets up its OS watch on the first step; scan only after that, so a file
        # written between the scan and the watch cannot be missed
        pending = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0)
        await self._safe_import(None)
        last_rescan = time.monotonic()
        self._ready.set()
        settled = False
        try:
            while True:
                try:
                    changes = await pending
                except StopAsyncIteration:
                    return last_rescan  # stop_event set
                if not settled:
                    # the first answer proves the OS watch is live: scan once more for
                    # files written between the start-up scan and the watch taking hold
                    settled = True
                    await self._safe_import(None)
                elif changes:
                    await self._safe_import({os.path.abspath(p) for _, p in changes})
                now = time.monotonic()
                if now - last_rescan >= self.rescan_interval:
                    await self._safe_import(None)
                    last_rescan = now
                if now - last_roots >= self.roots_interval:
                    last_roots = now
                    await self._poll()
                    current = await asyncio.to_thread(self._roots)
                    if current != roots:  # a tool folder appeared or vanished: re-watch
                        self._watching = current
                        return last_rescan
                pending = asyncio.ensure_future(anext(events))
        except FileNotFoundError:
            # a watched folder vanished; look again after a pause
            self._watching = await asyncio.to_thread(self._roots)
            return last_rescan
        finally:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
            with contextlib.suppress(Exception):
                await events.aclose()

    async def _safe_import(self, changed: set[str] | None) -> None:
        try:
            await self.import_now(only=changed)
        except Exception as exc:  # keep watching; the next event or rescan retries
            log.warning("capture_failed", error=str(exc))
        if changed is None:
            release_memory()  # a full pass built a row per file: give the memory back


def release_memory() -> None:
    """Collect reference cycles and hand freed heap pages back to the system.

    A full pass over 20,000 files builds and drops tens of MB of small objects; without
    this the daemon keeps that high-water mark as its idle size (PERFORMANCE.md P6:
    ≤ 60 MB). ``malloc_trim`` is glibc's; elsewhere only the collection runs.
    """
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass
