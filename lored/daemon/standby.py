"""lored keeps one warm MCP standby (:mod:`lored.mcp.standby`) once `lorectl mcp` has run.

The standby has the SDK loaded before an assistant asks, so the assistant's first
answer does not wait for a second of imports. lored starts it, starts the next one as
soon as an assistant has taken the current one over (the standby says ``consumed`` on
its stdout), and backs off when it keeps failing. An idle standby is stopped with
lored; one that serves an assistant ends when that assistant closes its stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger("lored")

#: how often lored looks for the "`lorectl mcp` has run here" marker while it has none
#: (one stat: the first assistant conversation after it gets a warm server soon)
CHECK_S = 5.0
#: the longest pause between failing standbys
MAX_BACKOFF_S = 300.0
#: a standby that lived this long was healthy: the back-off starts over
HEALTHY_S = 60.0
#: a standby not listening this long after its start is stuck: it is replaced
READY_S = 30.0


class StandbyKeeper:
    """Keeps one idle standby while ``wanted()`` (the marker exists)."""

    def __init__(self, wanted: Callable[[], bool], ready: bytes, consumed: bytes) -> None:
        self.wanted = wanted
        self.ready, self.consumed = ready, consumed
        self.stopping = False
        self.idle: asyncio.subprocess.Process | None = None
        self._serving: set[asyncio.Task[int]] = set()

    async def run(self) -> None:
        """Until cancelled: an idle standby whenever one is wanted."""
        backoff = 1.0
        log.info("mcp_standby", kept=self.wanted())
        while True:
            if not self.wanted():
                await asyncio.sleep(CHECK_S)
                continue
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "lored.mcp.standby",
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                env=dict(os.environ))
            self.idle = proc
            assert proc.stdout is not None
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), READY_S)
            except TimeoutError:
                line = b""
                log.warning("mcp_standby_stuck", seconds=READY_S)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            if line == self.ready:
                line = await proc.stdout.readline()
            self.idle = None
            if line == self.consumed:
                # it serves an assistant now: reap it when it ends, start the next one
                reaper = asyncio.create_task(proc.wait(), name="mcp-standby-serving")
                self._serving.add(reaper)
                reaper.add_done_callback(self._serving.discard)
                backoff = 1.0
                continue
            rc = await proc.wait()
            if self.stopping:  # stop() ended it
                return
            log.warning("mcp_standby_exited", rc=rc)
            backoff = 1.0 if time.monotonic() - started > HEALTHY_S else min(
                backoff * 2, MAX_BACKOFF_S)
            await asyncio.sleep(backoff)

    async def stop(self) -> None:
        """Stop the idle standby (a serving one keeps its assistant)."""
        self.stopping = True
        proc, self.idle = self.idle, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 3.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
