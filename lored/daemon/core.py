"""``lored``'s composition root: lock → socket → Lore → IPC → import → watcher → scheduler.

Everything with a clock or a socket is wired here and nowhere else: the engine
(``lored/api/facade.py``) never sleeps or loops, the scheduler only says *when*, the
single-flight runner (``lored/daemon/cycles.py``) makes sure cycles never overlap, and the IPC
server only translates HTTP. Signals: SIGTERM/SIGINT stop gracefully (a running cycle
gets a few seconds to finish, then is abandoned — the store commits each step in one
transaction, so nothing is half-written), SIGHUP re-reads config.toml.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from lored.config import Settings, load_settings
from lored.daemon.cycles import Cycle, CycleKind, CycleRunner, ProgressFn
from lored.daemon.ipc.runtime import (
    InstanceLock,
    bind_socket,
    ensure_private_dir,
    remove_socket,
    socket_inode,
)
from lored.daemon.notify import Notifier
from lored.daemon.scheduler import SyncScheduler
from lored.errors import LoreError, SecretRequired
from lored.faults import wedge_point
from lored.logging import cycle_fields

if TYPE_CHECKING:
    from lored.api import Lore
    from lored.daemon.ipc.server import IpcServer
    from lored.daemon.standby import StandbyKeeper

log = structlog.get_logger("lored")

#: how long SIGTERM waits for a running cycle before abandoning it (unit: TimeoutStopSec=30)
STOP_GRACE_S = 5.0
SYNC = CycleKind("sync")
#: settings whose change needs a fresh Lore (the rest only reschedules)
_LORE_FIELDS = ("server_url", "insecure_http", "privacy_metadata", "tools", "aider_roots",
                "projects", "machine_id", "machine_name")


def daemon_secrets(kind: str) -> str:
    """The secrets provider of a process with no terminal: environment or a clear error."""
    var = "LORE_PASSWORD" if "password" in kind else "LORE_PASSPHRASE"
    value = os.environ.get(var)
    if value:
        return value
    raise SecretRequired(
        f"lored needs the {kind.replace('_', ' ')} but has no terminal to ask for it",
        hint=f"run `lorectl push` (first push) or `lorectl unlock` once in a terminal, "
        f"or set {var} in lored's environment",
    )


class Daemon:
    """The running daemon; implements ``lored.daemon.ipc.server.DaemonApi``."""

    def __init__(self, settings: Settings, *, notifier: Notifier | None = None) -> None:
        self.settings = settings
        self.notifier = notifier or Notifier()
        self.lore: Lore | None = None
        self.runner = CycleRunner(self._cycle, self._cycle_finished)
        self.scheduler: SyncScheduler | None = None
        self.watcher: Any = None
        self.started_at = time.time()
        self._stop = asyncio.Event()
        self._lore_lock = asyncio.Lock()
        self._startup: asyncio.Task[None] | None = None
        self._stamps = self._file_stamps()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.standby: StandbyKeeper | None = None
        self._index_again = False  # deferred work was asked for while it ran

    # -- lifecycle ------------------------------------------------------------------
    async def run(self) -> int:
        """Run until SIGTERM or ``/v1/shutdown``; returns the exit status (0)."""
        from lored.daemon.ipc.server import IpcServer  # aiohttp: only the daemon pays for it

        paths = self.settings.paths
        ensure_private_dir(paths.runtime_dir)
        lock = InstanceLock(paths.lock_file)
        lock.acquire()  # AlreadyRunning → daemon_cli prints it and exits non-zero
        sock_path, inode, server = paths.socket_path, None, None
        try:
            sock = bind_socket(sock_path)
            inode = socket_inode(sock_path)
            self.lore = await self._open_lore(self.settings)
            server = IpcServer(self, sock)
            await server.start()
            self._install_signals()
            self.scheduler = self._make_scheduler(self.settings)
            if self._pause_file().exists():  # a pause outlives restarts (Atuin users asked)
                self.scheduler.pause()
            self.scheduler.start()
            self._startup = asyncio.create_task(self._initial_import(), name="initial-import")
            self._keep_mcp_standby()
            log.info("lored_started", pid=os.getpid(), socket=str(sock_path),
                     interval_s=self.settings.sync_interval, auto=self.settings.sync_auto)
            self.notifier.ready(self._status_line())
            if self.notifier.watchdog_interval():
                self._spawn(self._watchdog(), "watchdog")
            await self._stop.wait()
            log.info("lored_stopping")
            self.notifier.stopping()
        finally:
            await self._shutdown(server)
            remove_socket(sock_path, inode)
            lock.release()
        log.info("lored_stopped")
        return 0

    async def _shutdown(self, server: IpcServer | None) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown()
        if self._startup is not None and not self._startup.done():
            self._startup.cancel()
        grace = _env_float("LORE_STOP_GRACE", STOP_GRACE_S)
        if not await self.runner.stop(grace):
            log.warning("cycle_abandoned", reason="stopping", grace_s=grace)
        if server is not None:
            await server.stop()
        await self._stop_watcher()
        if self.standby is not None:
            await self.standby.stop()
        for task in list(self._tasks):
            task.cancel()
        if self.lore is not None:
            with contextlib.suppress(Exception):
                await self.lore.close()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self.reload(), "reload"))

    def _keep_mcp_standby(self) -> None:
        """A warm `lorectl mcp` for assistants, once one has been used here."""
        from lored.api.mcp import standby_wanted
        from lored.daemon.standby import StandbyKeeper
        from lored.mcp.standby import CONSUMED, READY

        self.standby = StandbyKeeper(lambda: standby_wanted(self.settings), READY, CONSUMED)
        self._spawn(self.standby.run(), "mcp-standby")

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _open_lore(self, settings: Settings) -> Lore:
        from lored.api import Lore

        return await Lore.open(settings, secrets=daemon_secrets)

    def _make_scheduler(self, settings: Settings) -> SyncScheduler:
        return SyncScheduler(self._fire, interval=settings.sync_interval,
                             auto=settings.sync_auto, quiet=_env_float("LORE_SYNC_DEBOUNCE", 30),
                             max_wait=min(300.0, settings.sync_interval))

    async def _initial_import(self) -> None:
        """Catch up with what the tools wrote while lored was down, then keep watching.

        The watcher's start is itself a full scan; without a watcher, one import pass.
        """
        started = time.monotonic()
        await self._start_watcher()
        if self.watcher is None:
            assert self.lore is not None
            try:
                report = await self.lore.import_all()
                log.info("import", **_import_counts(report))
            except LoreError as err:
                log.warning("import_failed", error=err.message)
        log.info("capture_ready", watching=self.watcher is not None,
                 seconds=round(time.monotonic() - started, 3))
        self._index_later()  # what an earlier run left (a pull's deferred parse, a crash)

    async def _watchdog(self) -> None:
        interval = self.notifier.watchdog_interval() or 30.0
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    # -- capture watcher ------------------------------------------------------------
    async def _start_watcher(self) -> None:
        try:
            from lored.capture.watcher import CaptureWatcher
        except ImportError:
            log.info("watcher_unavailable", fallback="import before each cycle")
            return
        assert self.lore is not None
        try:
            self.watcher = CaptureWatcher(self.lore, self.settings, on_change=self._captured)
            await _maybe_await(self.watcher.start())
        except Exception as exc:  # a watcher problem must not take sync down with it
            log.warning("watcher_failed", error=str(exc), fallback="import before each cycle")
            self.watcher = None

    async def _stop_watcher(self) -> None:
        if self.watcher is not None:
            with contextlib.suppress(Exception):
                await _maybe_await(self.watcher.stop())
            self.watcher = None

    def _captured(self, report: Any = None) -> None:
        """Capture stored new or grown sessions: sync soon (debounced)."""
        counts = _import_counts(report)
        if report is not None and not (counts.get("imported") or counts.get("updated")):
            return
        log.debug("captured", **counts)  # fires per write burst: too chatty for info
        self._index_later()
        if self.scheduler is not None and self._encryption_configured():
            self.scheduler.changes_seen()

    def _index_later(self) -> None:
        """Do the deferred work in the background: parse pulled sessions, then catch the
        full-text index up (capture and pull skip both). A request while it runs makes
        it go round once more, so nothing stored meanwhile waits for the next trigger."""
        if self.lore is None:
            return
        self._index_again = True
        if any(t.get_name() == "fts-index" for t in self._tasks):
            return
        task = asyncio.get_running_loop().create_task(self._index(), name="fts-index")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _index(self) -> None:
        while self._index_again:
            self._index_again = False
            lore = self.lore
            if lore is None:
                return
            from lored.api import BacklogFailed

            try:
                try:
                    parsed, indexed = await lore.catch_up_index(background=True)
                except BacklogFailed as exc:  # the child could not: slower, in-process
                    log.warning("background_parse_failed", error=exc.message)
                    parsed, indexed = await lore.catch_up_index()
            except Exception as exc:  # search catches up itself; never take the daemon down
                log.warning("index_failed", error=str(exc))
                return
            if parsed or indexed:
                log.debug("indexed", sessions=parsed, messages=indexed)

    # -- cycles -----------------------------------------------------------------------
    async def _fire(self, reason: str) -> None:
        """An automatic trigger from the scheduler (interval, retry, capture)."""
        if not self._encryption_configured():
            return  # nothing to sync with; status says "Not scheduled"
        await self._reload_if_changed()
        with contextlib.suppress(Exception):  # the outcome is logged in _cycle_finished
            await self.runner.request(SYNC, trigger=reason, fresh=reason == "capture")

    async def _cycle(self, kind: CycleKind, progress: ProgressFn) -> dict[str, Any]:
        if self._startup is not None:
            await asyncio.shield(self._startup)  # sync what was captured at start-up too

        def emit(event: dict[str, Any]) -> None:
            progress(event if "event" in event else {"event": "progress", **event})

        async with self._lore_lock:
            lore = self.lore
            assert lore is not None
            if self.watcher is None:
                await lore.import_all()
            result: dict[str, Any]
            if kind.mode == "push":
                result = await lore.push(dry_run=kind.dry_run, progress=emit)
            elif kind.mode == "pull":
                result = await lore.pull(all=kind.all, progress=emit)
            else:
                result = await lore.sync(progress=emit)
            return result

    def _cycle_finished(self, cycle: Cycle, error: BaseException | None, seconds: float) -> None:
        result = cycle.future.result() if error is None else None
        fields: dict[str, Any] = {"seq": cycle.seq, "trigger": cycle.trigger,
                                  "mode": cycle.kind.mode, "joined": cycle.joined,
                                  "seconds": round(seconds, 3), "ok": error is None}
        if error is None:
            log.info("cycle", **fields, **cycle_fields(result))
        elif isinstance(error, LoreError):
            log.warning("cycle", **fields, error=error.code, message=error.message)
        else:
            log.error("cycle", **fields, error=type(error).__name__, exc_info=error)
        if self.scheduler is not None and not cycle.kind.dry_run:
            wait = getattr(error, "retry_after", None)  # ServerBusy / RateLimited
            self.scheduler.cycle_finished(error is None, retry_after=wait)
        if error is None:
            self._index_later()
        self.notifier.status(self._status_line())

    # -- DaemonApi --------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Liveness: pid, uptime, whether a cycle runs."""
        return {"ok": True, "pid": os.getpid(), "uptime_s": round(time.time() - self.started_at),
                "paused": bool(self.scheduler and self.scheduler.paused),
                "cycles": self._cycles_doc()}

    def _cycles_doc(self) -> dict[str, Any]:
        cur = self.runner.current
        return {"started": self.runner.started, "completed": self.runner.completed,
                "failed": self.runner.failed, "running": cur is not None,
                "current": None if cur is None else {
                    "seq": cur.seq, "mode": cur.kind.mode, "trigger": cur.trigger,
                    "joined": cur.joined}}

    def daemon_doc(self) -> dict[str, Any]:
        """The ``daemon`` part of the status document (extra keys beyond CLI.md's)."""
        sched = self.scheduler
        return {
            "running": True,
            "pid": os.getpid(),
            "paused": bool(sched and sched.paused),
            "next_auto_sync": self.next_auto_sync(),
            "interval_s": self.settings.sync_interval,
            "auto": self.settings.sync_auto,
            "backoff_failures": sched.backoff.failures if sched else 0,
            "cycles": self._cycles_doc(),
            "last_cycle": self.runner.last,
        }

    def next_auto_sync(self) -> str | None:
        """When the next automatic cycle runs; None when paused, off or not configured."""
        if self.scheduler is None or not self._encryption_configured():
            return None
        return self.scheduler.next_run_iso()

    async def status(self) -> dict[str, Any]:
        """The `lorectl status --json` document, with the scheduler's view of the daemon."""
        wedge_point("ipc-status")
        assert self.lore is not None
        daemon = self.daemon_doc()
        doc: dict[str, Any] = await self.lore.status(daemon=daemon)
        doc.setdefault("daemon", {}).update(daemon)
        if isinstance(doc.get("local"), dict):
            doc["local"]["next_auto_sync"] = daemon["next_auto_sync"]
        return doc

    async def sync(self, kind: CycleKind, progress: ProgressFn) -> dict[str, Any]:
        """A manual request: run or join (single flight)."""
        await self._reload_if_changed()
        return await self.runner.request(kind, progress, trigger="manual")

    def _pause_file(self) -> Path:
        """Present while automatic sync is paused; read at start, so a pause survives restarts."""
        return self.settings.paths.data_dir / "daemon-paused"

    def pause(self) -> dict[str, Any]:
        """Stop automatic cycles until resume (persisted: a restarted lored stays paused)."""
        if self.scheduler is not None:
            self.scheduler.pause()
        try:
            self.settings.paths.data_dir.mkdir(parents=True, exist_ok=True)
            self._pause_file().touch(mode=0o600)
        except OSError as err:
            log.warning("pause_not_persisted", error=str(err))
        log.info("paused")
        self.notifier.status(self._status_line())
        return {"paused": True, "next_auto_sync": None}

    def resume(self) -> dict[str, Any]:
        """Restart automatic cycles."""
        if self.scheduler is not None:
            self.scheduler.resume()
        with contextlib.suppress(FileNotFoundError):
            self._pause_file().unlink()
        log.info("resumed")
        self.notifier.status(self._status_line())
        return {"paused": False, "next_auto_sync": self.next_auto_sync()}

    async def reload(self) -> dict[str, Any]:
        """Re-read config.toml (and the LORE_* environment) and reschedule."""
        self.notifier.reloading()
        try:
            new = load_settings()
        except LoreError as err:
            log.warning("reload_failed", error=err.message)
            raise
        finally:
            self.notifier.send("READY=1")
        # a new token or key file (`lorectl login`, `unlock`, `passphrase change` while
        # lored runs) also needs a fresh Lore: it caches credentials and the key
        stamps = self._file_stamps()
        swap = (any(getattr(new, f) != getattr(self.settings, f) for f in _LORE_FIELDS)
                or stamps[1:] != self._stamps[1:])
        self.settings = new
        if swap:
            async with self._lore_lock:  # never swap under a running cycle
                watching = self.watcher is not None
                await self._stop_watcher()  # it holds the old store
                old, self.lore = self.lore, await self._open_lore(new)
                if old is not None:
                    await old.close()
                if watching:
                    await self._start_watcher()
        self._stamps = stamps
        if self.scheduler is not None:
            self.scheduler.reconfigure(interval=new.sync_interval, auto=new.sync_auto)
        log.info("reloaded", interval_s=new.sync_interval, auto=new.sync_auto)
        self.notifier.status(self._status_line())
        return {"reloaded": True, "interval_s": new.sync_interval, "auto": new.sync_auto,
                "next_auto_sync": self.next_auto_sync()}

    def shutdown(self) -> dict[str, Any]:
        """Stop after this response has been sent."""
        asyncio.get_running_loop().call_later(0.05, self._stop.set)
        return {"stopping": True}

    # -- helpers ----------------------------------------------------------------------
    def _encryption_configured(self) -> bool:
        try:
            return bool(self.lore is not None and self.lore.encryption_configured())
        except Exception:
            return False

    def _file_stamps(self) -> tuple[float | None, ...]:
        paths = self.settings.paths
        return tuple(_mtime(p) for p in (paths.config_file, paths.token_file, paths.key_file))

    async def _reload_if_changed(self) -> None:
        """`lorectl login`/`config` wrote new files since we read them: pick them up."""
        if self._file_stamps() != self._stamps:
            with contextlib.suppress(LoreError):
                await self.reload()

    def _status_line(self) -> str:
        last = self.runner.last
        parts = ["paused" if self.scheduler and self.scheduler.paused else "running"]
        if last:
            parts.append(f"last cycle {'ok' if last['ok'] else 'failed'}")
        nxt = self.next_auto_sync()
        parts.append(f"next sync {nxt}" if nxt else "not scheduled")
        return "; ".join(parts)


def _mtime(path: os.PathLike[str]) -> float | None:
    try:
        return os.stat(path).st_mtime_ns / 1e9
    except OSError:
        return None


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _import_counts(report: Any) -> dict[str, Any]:
    doc = report.to_json() if hasattr(report, "to_json") else report
    if not isinstance(doc, dict):
        return {}
    return {k: (len(v) if isinstance(v, list) else v) for k, v in doc.items()
            if k in ("imported", "updated", "unchanged", "errors")}


async def _maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value

