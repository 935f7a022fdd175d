"""A first import of many transcripts: read, parse and compress them in worker processes.

Parsing is pure-Python work under the GIL, so threads cannot spread it over cores; a
bulk ``lorectl import`` of a new machine's history (thousands of files never seen)
hands the files to a pool of processes instead. A worker reads one file, parses it,
hashes and compresses the payload (:func:`~lored.store.db.prepare_capture`, message
rows deferred) and sends back only what the store needs: the session's metadata (its
messages counted, not shipped), the compressed payload and its digest. Everything that
consults the store (fork checks, deletions, the write) stays in the importer, in scan
order; a file that changed since the worker read it, or that the worker could not
read, goes the ordinary way, so the result is exactly what a one-by-one pass gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace

from lored.capture._common import use_fast_json
from lored.capture.registry import parse_payload
from lored.capture.sources import Source
from lored.model import ParsedSession
from lored.secrets.detect import Detector
from lored.secrets.redact import scan_mark
from lored.store.db import PreparedCapture, prepare_capture

#: new append-only files in one tool from which a pass uses the pool (fewer: not worth
#: starting processes)
MIN_SOURCES = 48
#: files handed out ahead of the one being stored: enough that one large file at the
#: head of the line does not leave the other workers idle, few enough to bound the
#: results held in memory (a compressed payload each)
WINDOW = 256


@dataclass(frozen=True)
class Prefetched:
    """One file as a worker read it: its stat, and the parse (None: use the ordinary
    path, which reports the problem with the file's path)."""

    size: int
    mtime_ns: int
    inode: int
    parsed: ParsedSession | None
    prepared: PreparedCapture | None
    payload_length: int


#: the detector of pushes' redaction, set in each worker by the pool's initializer
_detector: Detector | None = None


def read_one(tool: str, path: str, header: bytes) -> Prefetched:
    """In a worker: stat, read, parse and prepare one append-only source; when pushes
    redact, also scan it for secrets while the bytes are here (a clean payload is then
    pushed without a second decompress and scan)."""
    st = os.stat(path)
    try:
        with open(path, "rb") as fh:
            payload = header + fh.read(st.st_size)
        if len(payload) - len(header) != st.st_size:
            raise OSError("the file changed while it was read")
        parsed = parse_payload(tool, payload, path)
        if not parsed.messages:
            raise ValueError("no messages: the ordinary path decides what it is")
        prepared = prepare_capture(parsed, payload, True)
        if _detector is not None:
            mark = scan_mark(_detector, payload, tool, prepared.payload_hash)
            prepared = replace(prepared, scan_mark=mark)
    except Exception:  # noqa: BLE001 - the importer reads it again and reports it
        return Prefetched(st.st_size, st.st_mtime_ns, st.st_ino, None, None, 0)
    light = replace(parsed.without_messages(), warnings=parsed.warnings[:20])
    return Prefetched(st.st_size, st.st_mtime_ns, st.st_ino, light, prepared, len(payload))


def worker_pool(workers: int | None = None, detector: Detector | None = None
                ) -> ProcessPoolExecutor:
    """A pool of one process per core (at most 8) for parsing (and, with ``detector``,
    scanning for secrets: compiled once here, its patterns travel to each worker once).

    Spawned, not forked: the calling process has threads (the store's, the event loop's
    executor), and forking a process with threads can deadlock the child.
    """
    n = workers or min(os.cpu_count() or 2, 8)
    return ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_start, initargs=(detector,))


def _worker_start(detector: Detector | None = None) -> None:
    """Ctrl-C at the terminal reaches the whole process group: the importer handles it
    (and stops the pool); a worker must not die printing a traceback of its own."""
    global _detector
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _detector = detector
    use_fast_json()


@contextlib.contextmanager
def quiet_spawn() -> Iterator[None]:
    """Submit to a :func:`worker_pool` inside this: a worker is spawned with SIGINT
    blocked (the mask survives exec), so a Ctrl-C while it is still starting cannot kill
    it mid-import with a traceback; here the signal waits until the block ends."""
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except (AttributeError, OSError):  # no pthread_sigmask: the initializer still helps
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class BulkReader:
    """Hands a tool's new files to worker processes, WINDOW ahead of the consumer."""

    def __init__(self, sources: Sequence[Source], workers: int | None = None,
                 detector: Detector | None = None) -> None:
        self._todo = list(sources)
        self._next = 0
        self._futures: dict[str, Future[Prefetched]] = {}
        self._pool = worker_pool(workers, detector)
        self._fill(WINDOW)

    def _fill(self, upto: int) -> None:
        while self._next < min(upto, len(self._todo)):
            src = self._todo[self._next]
            try:
                with quiet_spawn():
                    self._futures[src.key] = self._pool.submit(
                        read_one, src.tool, str(src.files[0]), src.header)
            except RuntimeError:  # a broken or shut-down pool: the rest go the ordinary way
                self._next = len(self._todo)
                return
            self._next += 1

    async def get(self, src: Source) -> Prefetched | None:
        """The worker's reading of ``src`` (None: not handed out, or the worker failed)."""
        fut = self._futures.pop(src.key, None)
        if fut is None:
            return None
        done = self._next - len(self._futures)
        self._fill(done + WINDOW)
        try:
            return await asyncio.wrap_future(fut)
        except Exception:  # noqa: BLE001 - a broken pool: the ordinary path still works
            return None

    def close(self) -> None:
        """Stop the workers (queued reads are dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
