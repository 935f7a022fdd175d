"""One capture pass: find every enabled tool's sources and bring new data into the store.

Unchanged files (same size, mtime_ns and inode as last time) cost one ``stat``. An
append-only file that grew is read from the stored offset only, after checking that a
few bytes at its start and just before the offset still match the stored payload; a
file that shrank, was replaced, or no longer matches is read whole. One bad file never
stops the scan: its error is recorded with its path and the scan goes on.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lored.capture import claude, forks
from lored.capture.bulk import MIN_SOURCES, BulkReader, Prefetched
from lored.capture.discovery import DISCOVERERS, selected_tools
from lored.capture.projects import git_remote, normalise_remote
from lored.capture.redaction import local_redactor, policy_of, redact_parsed
from lored.capture.registry import parse_payload
from lored.capture.sources import Context, Source
from lored.config import Settings
from lored.errors import CorruptData, DiskFull, LoreError
from lored.model import ParsedSession
from lored.store.db import PreparedCapture, prepare_capture
from lored.store.rows import SourceState

if TYPE_CHECKING:
    from lored.store import Store

#: bytes compared at the file's start and before the stored offset to detect rewrites
CHECK_WINDOW = 64
#: parse off the event loop above this payload size (keeps the daemon responsive)
_THREAD_THRESHOLD = 256 * 1024
#: hash/compress a payload off the event loop above this size (zstd, BLAKE2b drop the GIL)
_PREPARE_THREAD_THRESHOLD = 32 * 1024
#: sources read and parsed ahead while an earlier one's store transaction runs
PIPELINE_DEPTH = 3


@dataclass
class ImportReport:
    """Counts of one capture pass (per session), errors per source, bytes read."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    #: bytes read from the tools' files (growth reads only the new bytes)
    bytes_read: int = 0
    #: unreadable records skipped in the sessions imported or updated in this pass
    bad_records: int = 0
    #: ids of sessions imported or updated in this pass
    changed: list[str] = field(default_factory=list)
    #: git remotes looked up during this pass (project path -> remote URL)
    remotes: dict[str, str | None] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """CLI.md's import object: ``{"imported","updated","unchanged","errors"}``."""
        return {
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [dict(e) for e in self.errors],
        }

    def count(self, status: str, session_id: str) -> None:
        """Add one session's outcome ("imported", "updated" or "unchanged")."""
        if status == "imported":
            self.imported += 1
        elif status == "updated":
            self.updated += 1
        else:
            self.unchanged += 1
            return
        self.changed.append(session_id)

    def merge(self, other: ImportReport) -> None:
        """Add another report's counts, errors and bytes (one source's share) to this one."""
        self.imported += other.imported
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.errors.extend(other.errors)
        self.bytes_read += other.bytes_read
        self.bad_records += other.bad_records
        self.changed.extend(other.changed)

    def error(self, path: str, exc: BaseException | str) -> None:
        """Record a source that could not be imported."""
        if isinstance(exc, str):
            message = exc
        elif isinstance(exc, LoreError):
            message = exc.message
        elif isinstance(exc, OSError):
            message = exc.strerror or str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}"
        self.errors.append({"path": path, "message": message})


async def import_all(
    store: Store,
    settings: Settings,
    *,
    tool: str | None = None,
    env: Mapping[str, str] | None = None,
    only: Collection[str] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    defer_messages: bool = False,
) -> ImportReport:
    """Run one capture pass over every enabled tool (or just ``tool``) and return counts.

    ``defer_messages`` (a bulk ``lorectl import``) stores the sessions of append-only
    files (JSONL) with their metadata and payload but leaves their message rows to the
    deferred parse (:mod:`lored.capture.deferred`), as a pull does: encoding and writing
    the messages is a third of an import's work, and nothing but reading them needs it.

    ``env`` defaults to ``os.environ`` (HOME, CLAUDE_CONFIG_DIR, CODEX_HOME, …).
    ``only`` limits the pass to sources whose files are among these paths (the watcher's
    targeted import). Raises UsageError for an unknown ``tool``; everything else that goes
    wrong is recorded in ``report.errors`` with its path. ``progress`` gets
    ``{"event": "import", "tool", "done", "total"}`` as each tool's files are read.
    """
    ctx = Context(
        settings,
        dict(os.environ) if env is None else env,
        known_projects=sorted({*await store.project_paths(), *settings.aider_roots}),
    )
    report = ImportReport()
    wanted = {os.path.abspath(p) for p in only} if only is not None else None
    pipe = _Pipeline(report)
    try:
        # Aider's histories live in projects: look for them after every other tool has
        # been read, in the projects this very pass found too
        order = sorted(selected_tools(ctx, tool), key=lambda t: t == "aider")
        for name in order:
            if name == "aider":
                await pipe.drain()
                ctx.known_projects = sorted({*ctx.known_projects, *await store.project_paths()})
            try:
                found = await asyncio.to_thread(DISCOVERERS[name], ctx)
            except Exception as exc:  # a broken tool folder must not stop the others
                await pipe.drain()
                report.error(f"<{name}>", exc)
                continue
            seen = await _snapshot(store, found, wanted)
            bulk = (await _bulk_reader(settings, found, seen, wanted) if defer_messages
                    else None)
            try:
                await _scan(store, settings, found, name, seen, wanted, pipe, report,
                            progress, defer_messages, bulk)
            finally:
                if bulk is not None:
                    bulk.close()
        await pipe.drain()
    finally:
        await pipe.close()
    return report


#: append sources in a pass from which the snapshot is one query over every source row
_SNAPSHOT_ALL = 2000


async def _snapshot(store: Store, found: list[Source], wanted: set[str] | None
                    ) -> Mapping[str, SourceState]:
    """The recorded state of the append sources this tool's pass looks at, read at once
    instead of one query per file: an unchanged corpus costs a stat per file (sources
    written during the pass are re-checked the ordinary way, see _unchanged). Only the
    rows it needs: a poll of one tool or a targeted pass reads a handful."""
    keys = [key for src in found if src.append
            and (wanted is None or _touched(src.files, wanted)) for key in _row_keys(src)]
    if not keys:
        return {}
    return await store.source_states(None if len(keys) >= _SNAPSHOT_ALL else keys)


async def _bulk_reader(settings: Settings, found: list[Source],
                       seen: Mapping[str, SourceState], wanted: set[str] | None
                       ) -> BulkReader | None:
    """Worker processes for a tool's never-seen append-only files, when there are many
    (a new machine's first import) and nothing needs the bytes in this process."""
    fresh = [src for src in found
             if src.append and len(src.files) == 1 and src.key not in seen
             and (wanted is None or _touched(src.files, wanted))]
    if len(fresh) < MIN_SOURCES or local_redactor(settings) is not None:
        return None
    policy = policy_of(settings)
    # the detector pushes will use: the workers scan with it while they hold the bytes
    # (compiling it may read detect-secrets' patterns in a child, once: off the loop)
    detector = await asyncio.to_thread(policy.detector) if policy.upstream else None
    try:
        return BulkReader(fresh, detector=detector)
    except (OSError, RuntimeError, ValueError):  # no processes here: one by one, as before
        return None


async def _scan(store: Store, settings: Settings, found: list[Source], name: str,
                seen: Mapping[str, SourceState], wanted: set[str] | None, pipe: _Pipeline,
                report: ImportReport, progress: Callable[[dict[str, Any]], None] | None,
                defer_messages: bool, bulk: BulkReader | None) -> None:
    """One tool's sources through the pipeline, in scan order."""
    for done, src in enumerate(found, start=1):
        if progress is not None:
            progress({"event": "import", "tool": name, "done": done,
                      "total": len(found)})
        if wanted is not None and not _touched(src.files, wanted):
            continue
        if src.append and _unchanged(seen, src):
            report.unchanged += 1
            continue
        if src.append:
            await pipe.add(src, functools.partial(_plan_append, store, settings, src,
                                                  defer=defer_messages, bulk=bulk))
            continue
        await pipe.drain()
        try:
            await _import_rendered(store, settings, src, report)
        except DiskFull:
            raise  # the first failed write stops the pass (the others would fail too)
        except Exception as exc:  # one bad file never stops the scan
            report.error(src.key, exc)


def _row_keys(src: Source) -> list[str]:
    """The source rows an append source's files are recorded under."""
    return [src.key] if len(src.files) == 1 else [str(f) for f in src.files]


def _unchanged(seen: Mapping[str, SourceState], src: Source) -> bool:
    """True when every file of an append source is as capture last recorded it.

    The same test as the per-file checks in :func:`_plan_append` and
    :func:`_plan_with_agents`, on the pass's snapshot. A snapshot row can only be stale
    for a file this pass wrote, and such a file's recorded state is the one it has now;
    anything else (a missing file, a row without a session) goes the ordinary way.
    """
    for key, path in zip(_row_keys(src), src.files, strict=True):
        row = seen.get(key)
        if row is None or not row.session_id:
            return False
        try:
            st = os.stat(path)
        except OSError:
            return False
        if (row.size, row.mtime_ns, row.inode) != (st.st_size, st.st_mtime_ns, st.st_ino):
            return False
    return True


#: the store writes of one source, run in scan order after the reads of later sources
Commit = Callable[[ImportReport], Awaitable[None]]


@dataclass
class _Plan:
    """One source read and parsed: ``commit`` writes it (None: nothing to write).

    ``keys`` are the source paths and session ids whose stored state the reading
    consulted or the commit writes; a later source touching one of them waits for the
    earlier write, so it reads exactly what a one-by-one scan would.
    """

    keys: set[str]
    commit: Commit | None = None


@dataclass
class _Item:
    src: Source
    plan: _Plan
    report: ImportReport


class _Pipeline:
    """Read and parse the next sources while earlier ones are written (bounded queue).

    Sources are written one at a time in scan order, each in its own transaction; each
    source's counts and errors are merged into the pass's report in that order.
    """

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        self.queue: asyncio.Queue[_Item | None] = asyncio.Queue(maxsize=PIPELINE_DEPTH)
        self.inflight: list[_Item] = []
        self.writer: asyncio.Task[None] | None = None
        #: the write failure that stops the pass (a full disk); later items are dropped
        self.failed: DiskFull | None = None

    def _raise_failed(self) -> None:
        if self.failed is not None:
            raise self.failed

    async def add(
        self, src: Source, prepare: Callable[[ImportReport], Awaitable[_Plan]]
    ) -> None:
        self._raise_failed()
        item = await self._prepare(src, prepare)
        item.plan.keys.discard("")  # no session yet
        if any(item.plan.keys & other.plan.keys for other in self.inflight):
            await self.drain()  # depends on a write still pending: read again after it
            item = await self._prepare(src, prepare)
        if item.plan.commit is None and not self.inflight:
            self.report.merge(item.report)
            return
        if self.writer is None:
            self.writer = asyncio.create_task(self._write())
        self.inflight.append(item)
        await self.queue.put(item)

    async def _prepare(
        self, src: Source, prepare: Callable[[ImportReport], Awaitable[_Plan]]
    ) -> _Item:
        part = ImportReport(remotes=self.report.remotes)
        try:
            plan = await prepare(part)
        except DiskFull:
            raise
        except Exception as exc:  # one bad file never stops the scan
            part.error(src.key, exc)
            plan = _Plan(set())
        return _Item(src, plan, part)

    async def _write(self) -> None:
        while (item := await self.queue.get()) is not None:
            try:
                if item.plan.commit is not None and self.failed is None:
                    await item.plan.commit(item.report)
            except DiskFull as exc:
                self.failed = exc  # keep draining the queue so no producer blocks on it
            except Exception as exc:  # one bad file never stops the scan
                item.report.error(item.src.key, exc)
            finally:
                self.inflight.remove(item)
                self.report.merge(item.report)
                self.queue.task_done()

    async def drain(self) -> None:
        """Wait until every queued source is written."""
        if self.writer is not None and self.inflight:
            joined = asyncio.ensure_future(self.queue.join())
            await asyncio.wait([joined, self.writer], return_when=asyncio.FIRST_COMPLETED)
            joined.cancel()
            if self.writer.done():
                self.writer.result()  # re-raise what stopped it (e.g. cancellation)
        self._raise_failed()

    async def close(self) -> None:
        """Stop the writer (after draining on success; cancelled on error)."""
        if self.writer is None:
            return
        if self.writer.done():
            return
        if self.inflight:
            self.writer.cancel()
        else:
            await self.queue.put(None)
        try:
            await self.writer
        except asyncio.CancelledError:
            pass


def _touched(files: Collection[object], wanted: set[str]) -> bool:
    """True when a file, or a folder above it, is among the changed paths.

    A new folder's events can arrive without events for the files written into it
    before the OS watch on it existed (inotify adds recursive watches after the fact).
    """
    for f in files:
        path = str(f)
        while True:
            if path in wanted:
                return True
            parent = os.path.dirname(path)
            if parent == path:
                break
            path = parent
    return False


def _read_range(path: str, start: int, end: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(start)
        return fh.read(max(0, end - start))


async def _read(path: str, start: int, end: int, report: ImportReport) -> bytes:
    data = await asyncio.to_thread(_read_range, path, start, end)
    report.bytes_read += len(data)
    return data


async def _parse(tool: str, payload: bytes, hint: str, report: ImportReport) -> ParsedSession:
    if len(payload) > _THREAD_THRESHOLD:
        parsed = await asyncio.to_thread(parse_payload, tool, payload, hint)
    else:
        parsed = parse_payload(tool, payload, hint)
    if not parsed.messages and parsed.bad_records:
        # e.g. a .jsonl of random bytes: an empty session would be stored and pushed
        raise CorruptData(f"none of its {parsed.bad_records} record(s) could be read, so it "
                          "is not a session (is it a transcript of this tool?)")
    await _fill_remote(parsed, report)
    return parsed


async def _fill_remote(parsed: ParsedSession, report: ImportReport) -> None:
    """The session's git remote: from its records, else looked up in its project."""
    path = parsed.project_path
    if parsed.git_remote is None and path:
        # the remote groups one project's checkouts across machines (see projects.py);
        # it travels in the sealed info, so a machine with the checkout elsewhere finds it
        if path not in report.remotes:
            report.remotes[path] = await asyncio.to_thread(git_remote, path)
        parsed.git_remote = report.remotes[path]
    parsed.git_remote = normalise_remote(parsed.git_remote)


async def _local_redact(
    settings: Settings, parsed: ParsedSession, payload: bytes
) -> tuple[ParsedSession, bytes]:
    """``[privacy] redact = "everywhere"``: the payload and its parsed text as stored here
    have their secrets redacted (the stored payload then differs from the file, so its
    next growth is read whole, and redacted whole, again)."""
    redactor = local_redactor(settings)
    if redactor is None:
        return parsed, payload
    red = await asyncio.to_thread(redactor.redact, payload)
    if red is payload:
        return parsed, payload
    return redact_parsed(redactor, parsed), red


async def _prepare_capture(parsed: ParsedSession, payload: bytes, defer: bool = False
                           ) -> PreparedCapture:
    if len(payload) > _PREPARE_THREAD_THRESHOLD:
        return await asyncio.to_thread(prepare_capture, parsed, payload, defer)
    return prepare_capture(parsed, payload, defer)


def _save(
    store: Store,
    settings: Settings,
    parsed: ParsedSession,
    payload: bytes,
    source: SourceState,
    prepared: PreparedCapture,
    extra_sources: list[SourceState] | None = None,
    payload_length: int | None = None,
) -> Commit:
    """The commit of a captured session (with its sub-agent files' rows, if any)."""

    async def commit(report: ImportReport) -> None:
        status = await store.save_capture(parsed, payload, source, settings.machine_id,
                                          prepared, extra_sources or (), payload_length)
        report.count(status, parsed.session_id)
        if status != "unchanged":
            report.bad_records += parsed.bad_records

    return commit


def _save_source(store: Store, source: SourceState, *, unchanged: bool = False) -> Commit:
    """The commit of a source row alone (optionally counting its session unchanged)."""

    async def commit(report: ImportReport) -> None:
        await store.save_source(source)
        if unchanged:
            report.unchanged += 1

    return commit


async def _plan_append(
    store: Store, settings: Settings, src: Source, report: ImportReport, *, defer: bool = False,
    bulk: BulkReader | None = None,
) -> _Plan:
    plan = _Plan({src.key, *(str(f) for f in src.files)})
    prev = await store.get_source(src.key)  # read once: both paths below need it
    if src.tool == claude.TOOL:
        agents = await _plan_with_agents(store, settings, src, report, plan, prev,
                                         defer=defer)
        if agents is not None:
            return agents
    path = str(src.files[0])
    st = os.stat(path)
    if prev is not None:
        plan.keys.add(prev.session_id)
    if prev is not None and (prev.size, prev.mtime_ns, prev.inode) == (
        st.st_size, st.st_mtime_ns, st.st_ino
    ):
        if prev.session_id:
            report.unchanged += 1
        return plan
    if st.st_size == 0:
        return plan  # created but nothing written yet
    if prev is not None and forks.is_own_fork(prev.session_id, settings.machine_id):
        # fork: the stored payload is header + file, so growth is still read incrementally
        src = replace(src, header=forks.fork_header(prev.session_id, settings.machine_id)
                      + src.header)
    payload: bytes | None = None
    if (
        prev is not None
        and prev.session_id
        and prev.inode == st.st_ino
        and 0 < prev.offset <= st.st_size
    ):
        payload = await _grown_payload(store, src, prev, st.st_size, report)
    if payload is None and prev is None and bulk is not None:
        pre = await bulk.get(src)
        if pre is not None and (pre.size, pre.mtime_ns, pre.inode) == (
                st.st_size, st.st_mtime_ns, st.st_ino):
            done = await _plan_prefetched(store, settings, src, plan, pre, report)
            if done is not None:
                return done
    if payload is None:
        payload = src.header + await _read(path, 0, st.st_size, report)
    parsed = await _parse(src.tool, payload, path, report)
    plan.keys.add(parsed.session_id)
    header = src.header
    # another machine's session in a file here: still its copy, or continued (a fork)
    held = await forks.resolve(store, settings.machine_id, src.key, prev, parsed, payload,
                               header)
    if isinstance(held, forks.Held):
        plan.keys.add(held.session_id)
        plan.commit = _save_source(store, SourceState(
            src.key, held.session_id, st.st_size, st.st_mtime_ns, st.st_ino,
            len(payload) - len(header)), unchanged=True)
        return plan
    if isinstance(held, forks.Fork):
        parsed, payload, header = held.parsed, held.payload, held.header
        plan.keys.add(parsed.session_id)
    offset = len(payload) - len(header)
    source = SourceState(src.key, parsed.session_id, st.st_size, st.st_mtime_ns, st.st_ino,
                         offset)
    if await store.is_deleted(parsed.session_id):
        # deleted here on purpose: remember, don't bring back
        plan.commit = _save_source(store, source)
        return plan
    parsed, payload = await _local_redact(settings, parsed, payload)
    prepared = await _prepare_capture(parsed, payload, defer)
    plan.commit = _save(store, settings, parsed, payload, source, prepared)
    return plan


async def _plan_prefetched(store: Store, settings: Settings, src: Source, plan: _Plan,
                           pre: Prefetched, report: ImportReport) -> _Plan | None:
    """The plan of a never-seen file a bulk worker read (None: read it the ordinary way).

    The same decisions as the ordinary path for a file without a source row; a session
    id already held as another machine's needs the bytes (forks), so it goes that way.
    """
    parsed, prepared = pre.parsed, pre.prepared
    if parsed is None or prepared is None:
        return None
    state, deleted = await store.held_state(parsed.session_id)
    if state is not None and not state.local:
        return None
    report.bytes_read += pre.size
    plan.keys.add(parsed.session_id)
    await _fill_remote(parsed, report)
    source = SourceState(src.key, parsed.session_id, pre.size, pre.mtime_ns, pre.inode,
                         pre.payload_length - len(src.header))
    if deleted:
        plan.commit = _save_source(store, source)
    else:
        plan.commit = _save(store, settings, parsed, b"", source, prepared,
                            payload_length=pre.payload_length)
    return plan


async def _grown_payload(
    store: Store, src: Source, prev: SourceState, size: int, report: ImportReport
) -> bytes | None:
    """The stored payload plus only the file's new bytes, or None if it must be re-read."""
    try:
        old = await store.load_payload(prev.session_id)
    except LoreError:
        return None
    h = len(src.header)
    if len(old) != h + prev.offset or old[:h] != src.header:
        return None
    path = str(src.files[0])
    window = min(CHECK_WINDOW, prev.offset)
    head = await _read(path, 0, window, report)
    if head != old[h : h + window]:
        return None  # rewritten from the start: not an append
    tail = await _read(path, prev.offset - window, size, report)
    if tail[:window] != old[len(old) - window :]:
        return None
    return old + tail[window:]


async def _plan_with_agents(
    store: Store, settings: Settings, src: Source, report: ImportReport, plan: _Plan,
    prev: SourceState | None, *, defer: bool = False,
) -> _Plan | None:
    """A Claude Code session with sub-agent files: its plan when handled here.

    The payload is a log of parts (see :mod:`lored.capture.claude`): each file's complete
    new lines are appended, after a part line naming the file when the previous bytes
    came from another one, so every file is read from its own offset. A file that no
    longer continues what was read makes the whole payload re-read. Sessions without
    agents (never had any), forks and other machines' sessions go the ordinary way.
    """
    main = src.files[0]
    if prev is not None:
        plan.keys.add(prev.session_id)
    if prev is not None and forks.is_own_fork(prev.session_id, settings.machine_id):
        return None
    stats: dict[Path, os.stat_result] = {}
    for f in src.files:
        try:
            stats[f] = os.stat(f)
        except FileNotFoundError:
            if f == main:
                raise
    rows = {f: prev if str(f) == src.key else await store.get_source(str(f)) for f in stats}
    if all(
        (r := rows[f]) is not None and r.session_id and (r.size, r.mtime_ns, r.inode)
        == (st.st_size, st.st_mtime_ns, st.st_ino) for f, st in stats.items()
    ):
        report.unchanged += 1
        return plan
    old: bytes | None = None
    if prev is not None and prev.session_id:
        try:
            old = await store.load_payload(prev.session_id)
        except LoreError:
            old = None
    if len(src.files) == 1 and (old is None or not claude.has_parts(old)):
        return None  # no sub-agents, now or before: the plain payload
    names = {f: None if f == main else f.relative_to(main.parent).as_posix() for f in stats}
    payload = None if old is None else await _append_parts(old, stats, rows, names, report)
    if payload is None:  # first import, or a file was rewritten: read every file whole
        payload = b""
        for f, st in stats.items():
            data = _complete_lines(await _read(str(f), 0, st.st_size, report))
            if names[f] is not None and data:
                payload += claude.part_line(names[f])
            payload += data
    parsed = await _parse(src.tool, payload, str(main), report)
    plan.keys.add(parsed.session_id)
    state, deleted = await store.held_state(parsed.session_id)
    if state is not None and not state.local:
        return None  # another machine's session in this file: see forks
    consumed, _ = claude.split_parts(payload)
    main_st = stats[main]
    source = SourceState(src.key, parsed.session_id, main_st.st_size, main_st.st_mtime_ns,
                         main_st.st_ino, len(consumed.get(None, b"")))
    if await store.is_deleted(parsed.session_id):
        plan.commit = _save_source(store, source)
        return plan
    agents = [
        SourceState(str(f), parsed.session_id, st.st_size, st.st_mtime_ns, st.st_ino,
                    len(consumed.get(names[f], b"")))
        for f, st in stats.items() if f != main
    ]
    parsed, payload = await _local_redact(settings, parsed, payload)
    prepared = await _prepare_capture(parsed, payload, defer)
    plan.commit = _save(store, settings, parsed, payload, source, prepared, agents)
    return plan


def _complete_lines(data: bytes) -> bytes:
    """``data`` up to its last newline (an unterminated line waits for the rest)."""
    return data[: data.rfind(b"\n") + 1]


async def _append_parts(
    old: bytes,
    stats: dict[Path, os.stat_result],
    rows: dict[Path, SourceState | None],
    names: dict[Path, str | None],
    report: ImportReport,
) -> bytes | None:
    """``old`` plus every file's new complete lines, or None if it must be re-read whole."""
    if old and not old.endswith(b"\n"):
        return None
    consumed, current = claude.split_parts(old)
    out = [old]
    for f, st in stats.items():
        name = names[f]
        have = consumed.get(name, b"")
        row = rows[f]
        if row is not None and (row.size, row.mtime_ns, row.inode) == (
            st.st_size, st.st_mtime_ns, st.st_ino
        ):
            continue
        if len(have) > st.st_size or (row is not None and row.inode != st.st_ino and have):
            return None
        if have:
            window = min(CHECK_WINDOW, len(have))
            if await _read(str(f), 0, window, report) != have[:window]:
                return None
            tail = await _read(str(f), len(have) - window, st.st_size, report)
            if tail[:window] != have[len(have) - window:]:
                return None
            new = _complete_lines(tail[window:])
        else:
            new = _complete_lines(await _read(str(f), 0, st.st_size, report))
        if not new:
            continue
        if name != current:
            out.append(claude.part_line(name))
            current = name
        out.append(new)
    return b"".join(out)


def _fingerprint(src: Source) -> tuple[int, int, int]:
    """(total size, newest mtime_ns, combined inodes) of a rendered source's files."""
    size = mtime = inode = 0
    for n, f in enumerate(src.files):
        try:
            st = os.stat(f)
        except FileNotFoundError:
            if n == 0:
                raise
            continue  # e.g. a database's -wal, which SQLite creates and removes
        if n and st.st_size == 0:
            continue  # an empty -wal holds no rows (a reader may have just created it)
        size += st.st_size
        mtime = max(mtime, st.st_mtime_ns)
        inode = (inode * 1_000_003 + st.st_ino) % (1 << 62)
    return size, mtime, inode


async def _import_rendered(
    store: Store, settings: Settings, src: Source, report: ImportReport
) -> None:
    """Sources rendered into canonical payloads; may hold several sessions.

    For these the stored ``offset`` is the number of sessions the source held (no byte
    offset applies), so an unchanged source still counts its sessions as unchanged.
    """
    assert src.render is not None
    size, mtime, inode = await asyncio.to_thread(_fingerprint, src)
    prev = await store.get_source(src.key)
    if prev is not None and (prev.size, prev.mtime_ns, prev.inode) == (size, mtime, inode):
        report.unchanged += prev.offset
        return
    payloads = await asyncio.to_thread(src.render)
    report.bytes_read += size
    ids: list[str] = []
    for payload in payloads:
        try:
            parsed = await _parse(src.tool, payload, src.key, report)
            # a session restored here from another machine: still its copy, or a fork
            held = await forks.resolve_rendered(store, settings.machine_id, src.key,
                                                parsed, payload)
            if isinstance(held, forks.Held):
                ids.append(held.session_id)
                report.unchanged += 1
                continue
            if isinstance(held, forks.Fork):
                parsed, payload = held.parsed, held.payload
            if await store.is_deleted(parsed.session_id):
                continue
            parsed, payload = await _local_redact(settings, parsed, payload)
            status = await store.save_capture(parsed, payload, None, settings.machine_id)
            if status != "unchanged":
                report.bad_records += parsed.bad_records
        except DiskFull:
            raise
        except Exception as exc:  # one bad session of a shared file spares the others
            report.error(src.key, exc)
            continue
        ids.append(parsed.session_id)
        report.count(status, parsed.session_id)
    await store.save_source(
        SourceState(src.key, ids[-1] if ids else "", size, mtime, inode, len(ids))
    )
