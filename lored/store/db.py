"""sessions.db: the local store of every session, own and pulled (SQLite, WAL).

Each session keeps its raw payload (zstd), its parsed messages (with an FTS5 index),
its push state (own sessions) or pull state (other machines' sessions). Writes that
belong together run in one ``BEGIN IMMEDIATE`` transaction under an asyncio lock, so a
crash leaves either the old or the new state, never a mix.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lored.errors import CorruptStore, LoreError, UsageError
from lored.faults import fault_point
from lored.model import Message, ParsedSession
from lored.store import frames
from lored.store.conn import Connection
from lored.store.health import is_corruption
from lored.store.rows import (
    PulledRaw,
    PulledSession,
    PushCandidate,
    RemoteState,
    SessionRow,
    SourceState,
)
from lored.store.schema import MIGRATIONS

#: compress/decompress off the event loop above this size (zstd releases the GIL)
_THREAD_THRESHOLD = 256 * 1024
_ROW_COLUMNS = (
    "id, tool, native_id, project_path, title, model, git_branch, started_at, ended_at, "
    "message_count, origin_machine_id, origin_machine_name, local, payload_length, "
    "pushed_generation, git_remote, bad_records"
)


def digest(data: bytes) -> str:
    """BLAKE2b-256 hex of ``data`` (payload and pushed-prefix hashes)."""
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def utcnow() -> str:
    """Now as ISO 8601 UTC with a Z suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# a payload is zstd frames aligned on the sync chunk size (captured: see frames.py;
# pulled: the sealed chunks' frames as they arrived, see apply_pull_page)
_compress = frames.compress
_decompress = frames.decompress


async def _maybe_thread(func: Any, data: bytes) -> bytes:
    if len(data) > _THREAD_THRESHOLD:
        result: bytes = await asyncio.to_thread(func, data)
        return result
    out: bytes = func(data)
    return out


@dataclass(frozen=True)
class PreparedCapture:
    """The CPU work of storing a session (hash, compressed payload, message rows).

    ``rows`` None: the messages are left to the deferred parse (``parsed = 0``).
    ``scan_mark``: the payload was scanned for secrets and found clean (a bulk import's
    worker does that while it holds the bytes; see ``secrets.redact.scan_mark``).
    """

    payload_hash: str
    blob: bytes
    rows: list[tuple[Any, ...]] | None
    scan_mark: str | None = None


def prepare_capture(parsed: ParsedSession, payload: bytes, defer: bool = False
                    ) -> PreparedCapture:
    """Hash and compress ``payload`` and encode the messages (pure; any thread)."""
    return PreparedCapture(digest(payload), _compress(payload),
                           None if defer else _message_rows(parsed))


@dataclass(frozen=True)
class ParsedPayload:
    """The deferred parse of a pulled session (:meth:`Store.save_parsed`).

    ``parsed`` is None when this version cannot read the payload (``error`` says why);
    ``length`` and ``seq`` are what was parsed, so a newer pull of the same session
    meanwhile is never overwritten by an older parse.
    """

    session_id: str
    length: int
    seq: int | None
    parsed: ParsedSession | None
    payload_hash: str = ""
    rows: list[tuple[Any, ...]] | None = None
    error: str | None = None
    local: bool = False


@dataclass(frozen=True)
class Unparsed:
    """A pulled session waiting for its deferred parse: its stored (compressed) payload."""

    session_id: str
    length: int
    seq: int | None
    blob: bytes
    #: captured here (its metadata is already the parse's: only messages are missing)
    local: bool = False
    #: the file it was captured from (the parser's hint), if any
    source: str | None = None


def prepare_parsed(item: Unparsed, parsed: ParsedSession, payload: bytes) -> ParsedPayload:
    """Hash the payload and encode the messages of a deferred parse (pure; any thread)."""
    return ParsedPayload(item.session_id, item.length, item.seq, parsed,
                         "" if item.local else digest(payload), _message_rows(parsed),
                         local=item.local)


def decompress(blob: bytes) -> bytes:
    """A stored payload blob's bytes (pure; releases the GIL)."""
    return _decompress(blob)


def _message_rows(p: ParsedSession) -> list[tuple[Any, ...]]:
    return [
        (p.session_id, i, m.role, m.timestamp, m.text,
         json.dumps(m.extra, ensure_ascii=False, default=str) if m.extra else None)
        for i, m in enumerate(p.messages)
    ]


def _row(r: Sequence[Any]) -> SessionRow:
    return SessionRow(
        id=r[0], tool=r[1], native_id=r[2], project_path=r[3], title=r[4], model=r[5],
        git_branch=r[6], started_at=r[7], ended_at=r[8], message_count=r[9],
        origin_machine_id=r[10], origin_machine_name=r[11], local=bool(r[12]),
        payload_length=r[13], pushed=r[14] > 0, git_remote=r[15], bad_records=r[16] or 0,
    )


def fts_query(text: str) -> str:
    """Turn user text into a safe FTS5 query: every word quoted, all required."""
    words = [w.replace('"', '""') for w in text.split() if w.strip()]
    return " ".join(f'"{w}"' for w in words)


class Store:
    """Async access to sessions.db; one instance per process, safe across coroutines."""

    def __init__(self, db: Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()
        #: the deferred parse of pulled sessions (``ids`` or all), set by the layer that
        #: has the parsers (:mod:`lored.capture.deferred`); readers of messages call it
        self.parse_pending: Callable[[Sequence[str] | None], Awaitable[int]] | None = None

    # --- lifecycle -------------------------------------------------------------
    @classmethod
    async def open(cls, path: Path) -> Store:
        """Open (creating and migrating as needed) the store at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fresh = not path.exists()
        db = await Connection.open(path, isolation_level=None)
        try:
            if fresh:
                os.chmod(path, 0o600)
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA foreign_keys=ON")
            await db.execute("PRAGMA busy_timeout=10000")
            store = cls(db, path)
            await store._migrate()
        except BaseException as exc:
            # close the connection's worker thread, or the process never exits (it is
            # not a daemon thread): a damaged file must fail at once, not hang
            await db.close()
            if is_corruption(exc):
                raise CorruptStore.of(path, exc) from None
            raise
        return store

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    async def _migrate(self) -> None:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise LoreError(
                f"{self.path} was written by a newer Lore (schema {version})",
                hint="upgrade Lore on this machine",
            )
        async with self.transaction() as db:
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _split_sql(script):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version={number}")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error)."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def _write_in_thread(self, fn: Callable[[sqlite3.Connection], None]) -> None:
        """``fn`` inside one BEGIN IMMEDIATE … COMMIT on the connection's thread: the
        whole transaction is one hop (ROLLBACK if ``fn`` raises)."""
        def txn(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

        async with self._lock:
            await self._db.run(txn)

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        # one hop to the store's thread (execute, fetch and close there together): a
        # bulk import asks a few of these per file, a push one per session
        return await self._db.run(lambda conn: _fetch(conn, sql, params, one=True))

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        rows: list[Any] = await self._db.run(lambda conn: _fetch(conn, sql, params, one=False))
        return rows

    # --- key/value -------------------------------------------------------------
    async def kv_get(self, key: str) -> str | None:
        """A small persistent value (cursor, last sync times)."""
        row = await self._one("SELECT value FROM kv WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def kv_set(self, key: str, value: str) -> None:
        """Set a small persistent value."""
        async with self.transaction() as db:
            await _kv_put(db, key, value)

    async def get_cursor(self) -> int:
        """The pull cursor (highest change-feed seq applied)."""
        return int(await self.kv_get("pull_cursor") or 0)

    # --- capture ---------------------------------------------------------------
    async def get_source(self, path: str) -> SourceState | None:
        """What capture last recorded for a native file."""
        r = await self._one(
            "SELECT path, session_id, size, mtime_ns, inode, offset FROM sources WHERE path = ?",
            (path,),
        )
        return SourceState(*r) if r else None

    async def tool_counts(self) -> dict[str, tuple[int, str | None]]:
        """tool -> (sessions captured on this machine, time of the newest capture)."""
        rows = await self._all(
            "SELECT tool, COUNT(*), MAX(updated_at) FROM sessions WHERE local = 1 GROUP BY tool"
        )
        return {r[0]: (int(r[1]), r[2]) for r in rows}

    async def source_states(self, paths: Collection[str] | None = None
                            ) -> dict[str, SourceState]:
        """The native files capture has recorded, by path: all of them (one query: a
        pass's snapshot), or those among ``paths`` (a poll or a watcher's targeted pass
        must not build 20,000 rows to look at a handful)."""
        sql = "SELECT path, session_id, size, mtime_ns, inode, offset FROM sources"
        if paths is None:
            # built from the cursor on the connection's thread: no list of every row
            # beside the dict (the daemon's peak memory with 20,000 files)
            return await self._db.run(
                lambda conn: {r[0]: SourceState(*r) for r in conn.execute(sql)})
        out: dict[str, SourceState] = {}
        for part in _parts(list(paths)):
            rows = await self._all(f"{sql} WHERE path IN ({_marks(part)})", part)
            out.update((r[0], SourceState(*r)) for r in rows)
        return out

    async def save_source(self, source: SourceState) -> None:
        """Record a file's state without touching any session (e.g. nothing new in it)."""
        async with self.transaction() as db:
            await _put_source(db, source)

    async def is_deleted(self, session_id: str) -> bool:
        """True when the user deleted this session here on purpose (capture skips it)."""
        row = await self._one("SELECT 1 FROM deleted WHERE session_id = ?", (session_id,))
        return row is not None

    async def save_capture(
        self,
        parsed: ParsedSession,
        payload: bytes,
        source: SourceState | None,
        machine_id: str,
        prepared: PreparedCapture | None = None,
        extra_sources: Sequence[SourceState] = (),
        payload_length: int | None = None,
    ) -> str:
        """Store a session captured on this machine: "imported", "updated" or "unchanged".

        A session already held as another machine's (pulled, or restored from a pull)
        is never overwritten by a local capture; only the source state is recorded.
        ``prepared`` is :func:`prepare_capture` of the same session and payload, when the
        caller already did that CPU work (e.g. off the event loop, ahead of time).
        ``extra_sources`` are more rows of the same session (its sub-agent files).
        ``payload_length`` stands for ``len(payload)`` when ``prepared`` came from a bulk
        import's worker process and ``payload`` is not here (pass ``b""``).
        One transaction checks what is stored and writes the session with its source rows.
        """
        if prepared is None:
            if len(payload) > _THREAD_THRESHOLD:
                prepared = await asyncio.to_thread(prepare_capture, parsed, payload)
            else:
                prepared = prepare_capture(parsed, payload)
        sid = parsed.session_id
        rows = [_session_params(
            parsed, payload_len=len(payload) if payload_length is None else payload_length,
            payload_hash=prepared.payload_hash,
            origin=machine_id, origin_name=None, local=True, now=utcnow(), dirty=True,
        )]
        sources = ([source] if source is not None else []) + list(extra_sources)

        def write(conn: sqlite3.Connection) -> str:
            # on the connection's thread: the whole transaction is one round trip
            conn.execute("BEGIN IMMEDIATE")
            try:
                existing = conn.execute(
                    "SELECT payload_hash, local FROM sessions WHERE id = ?", (sid,)
                ).fetchone()
                changed = existing is None or (
                    existing[0] != prepared.payload_hash and existing[1])
                if changed:
                    conn.executemany(_UPSERT_SESSION_SQL, rows)
                    conn.execute(_PUT_PAYLOAD_SQL, (sid, prepared.blob))
                    conn.execute("UPDATE sessions SET parsed = ?, scan_clean = ? WHERE id = ?",
                                 (int(prepared.rows is not None), prepared.scan_mark, sid))
                    if prepared.rows is not None:
                        conn.execute(_DELETE_MESSAGES_SQL, (sid,))
                        conn.executemany(_INSERT_MESSAGE_SQL, prepared.rows)
                conn.executemany(_PUT_SOURCE_SQL, [_source_params(x) for x in sources])
                if changed:
                    fault_point("capture-mid-transaction")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            if not changed:
                return "unchanged"
            return "imported" if existing is None else "updated"

        async with self._lock:
            return await self._on_connection_thread(write)

    async def _on_connection_thread(self, fn: Callable[[sqlite3.Connection], str]) -> str:
        """Run ``fn`` with the sqlite3 connection on its own thread (one hop).

        The caller holds ``self._lock`` when ``fn`` writes.
        """
        return await self._db.run(fn)

    # --- reading ---------------------------------------------------------------
    async def load_payload(self, session_id: str) -> bytes:
        """The session's raw payload bytes."""
        r = await self._one("SELECT data FROM payloads WHERE session_id = ?", (session_id,))
        if r is None:
            raise LoreError(f"session {session_id} has no stored payload")
        return await _maybe_thread(_decompress, bytes(r[0]))

    async def list_sessions(
        self,
        *,
        tool: str | None = None,
        project: str | None = None,
        machine: str | None = None,
        limit: int | None = None,
    ) -> list[SessionRow]:
        """Sessions, newest first, filtered by tool, project (substring) and machine."""
        where: list[str] = []
        params: list[Any] = []
        if tool:
            where.append("tool = ?")
            params.append(tool)
        if project:
            where.append("project_path LIKE ?")
            params.append(f"%{project}%")
        if machine:
            where.append("(origin_machine_id LIKE ? OR origin_machine_name = ?)")
            params.extend([f"{machine}%", machine])
        sql = f"SELECT {_ROW_COLUMNS} FROM sessions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY COALESCE(started_at, '') DESC, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [_row(r) for r in await self._all(sql, params)]

    async def find_session(self, id_or_prefix: str) -> SessionRow:
        """One session by id, unique id prefix, or unique native-id prefix."""
        rows = await self._all(
            f"SELECT {_ROW_COLUMNS} FROM sessions WHERE id = ?", (id_or_prefix,)
        )
        if not rows:
            pattern = id_or_prefix.replace("%", r"\%").replace("_", r"\_") + "%"
            rows = await self._all(
                f"SELECT {_ROW_COLUMNS} FROM sessions WHERE id LIKE ? ESCAPE '\\' "
                "OR native_id LIKE ? ESCAPE '\\' LIMIT 6",
                (pattern, pattern),
            )
        if not rows:
            raise UsageError(
                f"no session matches {id_or_prefix!r}",
                hint="list sessions with `lorectl sessions list`",
            )
        if len(rows) > 1:
            ids = ", ".join(r[0] for r in rows[:5])
            raise UsageError(
                f"{id_or_prefix!r} matches several sessions ({ids})",
                hint="give more of the id",
            )
        return _row(rows[0])

    async def messages(self, session_id: str) -> list[Message]:
        """The session's messages in order (parsing a pulled session first, if pending)."""
        if self.parse_pending is not None:
            await self.parse_pending([session_id])
        rows = await self._all(
            "SELECT role, timestamp, text, extra FROM messages WHERE session_id = ? ORDER BY idx",
            (session_id,),
        )
        return [Message(r[0], r[1], r[2], json.loads(r[3]) if r[3] else {}) for r in rows]

    async def index_pending(self) -> int:
        """Bring the full-text index up to date; returns how many messages it indexed.

        Capture and pull leave new messages unindexed (ids above the watermark) so that
        tokenising never slows them down; this catches up in one transaction.
        """
        async with self.transaction() as db:
            async with db.execute(
                "SELECT CAST(value AS INTEGER) FROM kv WHERE key = 'fts_indexed_id'"
            ) as cur:
                row = await cur.fetchone()
            mark = int(row[0]) if row else 0
            async with db.execute("SELECT COALESCE(MAX(id), 0) FROM messages") as cur:
                top_row = await cur.fetchone()
            top = int(top_row[0]) if top_row else 0
            if top <= mark:
                return 0
            cur2 = await db.execute(
                "INSERT INTO messages_fts(rowid, text) "
                "SELECT id, text FROM messages WHERE id > ? AND id <= ?",
                (mark, top),
            )
            await _kv_put(db, "fts_indexed_id", str(top))
            return max(cur2.rowcount or 0, 0)

    async def unparsed(self, *, max_bytes: int, only: Sequence[str] | None = None,
                       after: str | None = None) -> list[Unparsed]:
        """Pulled sessions waiting for the deferred parse, up to ``max_bytes`` of payload
        (at least one), in id order; ``only`` limits them to these ids, ``after`` to ids
        above it (the next batch while this one is still being parsed)."""
        where = "s.parsed = 0"
        params: list[Any] = []
        if after is not None:
            where += " AND s.id > ?"
            params.append(after)
        if only is not None:
            if not only:
                return []
            where += f" AND s.id IN ({_marks(only)})"
            params.extend(only)
        sql = ("SELECT s.id, s.payload_length, s.remote_seq, p.data, s.local, "
               "(SELECT path FROM sources WHERE session_id = s.id ORDER BY LENGTH(path) "
               "LIMIT 1) FROM sessions s "
               f"JOIN payloads p ON p.session_id = s.id WHERE {where} ORDER BY s.id")

        def read(conn: sqlite3.Connection) -> list[Unparsed]:
            out: list[Unparsed] = []
            total = 0
            cur = conn.execute(sql, params)
            try:
                for r in cur:
                    out.append(Unparsed(r[0], int(r[1]), r[2], bytes(r[3]), bool(r[4]),
                                        r[5]))
                    total += int(r[1])
                    if total >= max_bytes:
                        break
            finally:
                cur.close()
            return out

        return await self._db.run(read)

    async def save_parsed(self, results: Sequence[ParsedPayload]) -> int:
        """Store deferred parses (messages and metadata, or "unreadable") in one
        transaction; a session pulled again meanwhile is left for its next parse.
        Returns how many were stored."""
        def write(conn: sqlite3.Connection) -> int:
            done = 0
            conn.execute("BEGIN IMMEDIATE")
            try:
                for r in results:
                    held = conn.execute(
                        "SELECT 1 FROM sessions WHERE id = ? AND parsed = 0 AND "
                        "payload_length = ? AND remote_seq IS ?",
                        (r.session_id, r.length, r.seq)).fetchone()
                    if held is None:
                        continue
                    done += 1
                    p = r.parsed
                    if p is None:
                        conn.execute("UPDATE sessions SET parsed = 2 WHERE id = ?",
                                     (r.session_id,))
                        continue
                    if r.local:  # capture stored the same parse's metadata already
                        conn.execute("UPDATE sessions SET parsed = 1 WHERE id = ?",
                                     (r.session_id,))
                    else:
                        conn.execute(_SAVE_PARSED_SQL, (
                            p.native_id, p.project_path, p.title, p.model, p.git_branch,
                            p.git_remote, p.tool_version, p.started_at, p.ended_at,
                            p.message_count, p.bad_records, r.payload_hash, r.session_id))
                    conn.execute(_DELETE_MESSAGES_SQL, (r.session_id,))
                    conn.executemany(_INSERT_MESSAGE_SQL, r.rows or [])
                fault_point("mid-deferred-index")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return done

        async with self._lock:
            return await self._db.run(write)

    async def unparsed_count(self) -> int:
        """Sessions waiting for the deferred parse."""
        row = await self._one("SELECT COUNT(*) FROM sessions WHERE parsed = 0")
        return int(row[0])

    async def index_backlog(self) -> int:
        """Sessions whose messages or search index are not built yet (deferred work)."""
        unparsed = await self._one("SELECT COUNT(*) FROM sessions WHERE parsed = 0")
        mark = await self._one(
            "SELECT CAST(value AS INTEGER) FROM kv WHERE key = 'fts_indexed_id'")
        top = await self._one("SELECT COALESCE(MAX(id), 0) FROM messages")
        low = int(mark[0]) if mark else 0
        unindexed = 0
        if int(top[0]) > low:
            row = await self._one(
                "SELECT COUNT(DISTINCT session_id) FROM messages WHERE id > ?", (low,))
            unindexed = int(row[0])
        return int(unparsed[0]) + unindexed

    async def search(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        """Full-text search over messages: CLI.md's search objects, best match first."""
        q = fts_query(query)
        if not q:
            return []
        if self.parse_pending is not None:
            await self.parse_pending(None)
        await self.index_pending()
        rows = await self._all(
            "SELECT m.session_id, m.role, m.timestamp, "
            "snippet(messages_fts, 0, '[', ']', '…', 12) "
            "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
            "WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?",
            (q, limit),
        )
        return [
            {"session_id": r[0], "role": r[1], "timestamp": r[2], "snippet": r[3]} for r in rows
        ]

    async def project_paths(self) -> list[str]:
        """Distinct project paths of all sessions (e.g. Aider roots, Gemini hash matching)."""
        rows = await self._all(
            "SELECT DISTINCT project_path FROM sessions WHERE project_path IS NOT NULL "
            "AND project_path != ''"
        )
        return [r[0] for r in rows]

    async def project_remotes(self) -> list[tuple[str, str | None, str, bool]]:
        """Distinct (project path, git remote, origin machine id, local) of all sessions.

        Used by restore to find this machine's checkout of a pulled session's project.
        """
        rows = await self._all(
            "SELECT DISTINCT project_path, git_remote, origin_machine_id, local FROM sessions "
            "WHERE project_path IS NOT NULL AND project_path != ''"
        )
        return [(r[0], r[1], r[2], bool(r[3])) for r in rows]

    async def counts(self) -> tuple[int, int]:
        """(total sessions, own sessions pending push)."""
        total = await self._one("SELECT COUNT(*) FROM sessions")
        pending = await self._one("SELECT COUNT(*) FROM sessions WHERE local = 1 AND dirty = 1")
        return int(total[0]), int(pending[0])

    # --- push ------------------------------------------------------------------
    async def push_candidates(self) -> list[PushCandidate]:
        """Own sessions changed since their last push (uses the partial index on dirty)."""
        rows = await self._all(
            "SELECT id, tool, project_path, started_at, ended_at, message_count, payload_length, "
            "payload_hash, title, model, git_branch, tool_version, pushed_generation, "
            "pushed_chunks, pushed_length, pushed_hash, git_remote, scan_clean FROM sessions "
            "WHERE local = 1 AND dirty = 1 ORDER BY id"
        )
        out = []
        for r in rows:
            info = {k: v for k, v in zip(("title", "model", "git_branch", "tool_version"),
                                          r[8:12], strict=True) if v is not None}
            if r[16]:  # the project's identity travels sealed: Claude Code's lacks it
                info["git_remote"] = r[16]
            if r[2]:  # sealed too, so a pulled session lists its project before it is
                info["project_path"] = r[2]  # parsed, even with privacy "minimal"
            info["payload_hash"] = r[7]  # what a pull stores until its deferred parse
            out.append(PushCandidate(
                session_id=r[0], tool=r[1], project_path=r[2], started_at=r[3], ended_at=r[4],
                message_count=r[5], payload_length=r[6], payload_hash=r[7], info=info,
                pushed_generation=r[12], pushed_chunks=r[13], pushed_length=r[14],
                pushed_hash=r[15], scan_clean=r[17],
            ))
        return out

    async def mark_pushed(
        self,
        session_id: str,
        *,
        generation: int,
        chunk_count: int,
        length: int,
        prefix_hash: str,
        seq: int | None,
        source_length: int | None = None,
        source_hash: str | None = None,
    ) -> None:
        """Record a committed push; the session stays dirty if it grew meanwhile.

        ``source_*`` name the local payload the push was made from when what was pushed
        differs from it (redacted secrets); by default the pushed bytes are the payload.
        """
        src_len = length if source_length is None else source_length
        src_hash = prefix_hash if source_hash is None else source_hash
        now = utcnow()

        def record(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE sessions SET pushed_generation = ?, pushed_chunks = ?, pushed_length = ?, "
                "pushed_hash = ?, pushed_seq = ?, pushed_at = ?, "
                "dirty = CASE WHEN payload_length = ? AND payload_hash = ? THEN 0 ELSE 1 END "
                "WHERE id = ?",
                (generation, chunk_count, length, prefix_hash, seq, now, src_len,
                 src_hash, session_id),
            )
            conn.execute(_KV_PUT_SQL, ("last_push_at", now))

        # the whole transaction is one hop to the store's thread (once per pushed session)
        await self._write_in_thread(record)

    async def compact(self) -> None:
        """Purge deleted text from the search index and the file's free pages (after
        rewriting sessions whose old text must not linger: redacted secrets)."""
        async with self.transaction() as db:
            await db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('optimize')")
        async with self._lock:
            await self._db.execute("VACUUM")
            await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def mark_own_dirty(self, session_ids: Sequence[str] | None = None) -> int:
        """Mark own pushed sessions (all, or these) for the next push to re-plan; returns
        how many (redaction rules changed: the planner then rewrites only what differs)."""
        sql = "UPDATE sessions SET dirty = 1 WHERE local = 1 AND pushed_generation > 0"
        params: list[Any] = []
        if session_ids is not None:
            sql += f" AND id IN ({','.join('?' * len(session_ids))})"
            params = list(session_ids)
            if not params:
                return 0
        async with self.transaction() as db:
            cur = await db.execute(sql, params)
            return int(cur.rowcount)

    # --- pull ------------------------------------------------------------------
    async def remote_state(self, session_id: str) -> RemoteState | None:
        """What this machine holds of a session (None when it holds nothing)."""
        r = await self._one(
            "SELECT remote_generation, remote_chunks, payload_length, origin_machine_id, local "
            "FROM sessions WHERE id = ?",
            (session_id,),
        )
        return RemoteState(r[0], r[1], r[2], r[3], bool(r[4])) if r else None

    async def held_state(self, session_id: str) -> tuple[RemoteState | None, bool]:
        """:meth:`remote_state` and :meth:`is_deleted` of one session, in one hop (a
        bulk import asks both of every new file)."""
        def read(conn: sqlite3.Connection) -> tuple[RemoteState | None, bool]:
            r = conn.execute(
                "SELECT remote_generation, remote_chunks, payload_length, origin_machine_id, "
                "local FROM sessions WHERE id = ?", (session_id,)).fetchone()
            gone = conn.execute("SELECT 1 FROM deleted WHERE session_id = ?",
                                (session_id,)).fetchone()
            state = RemoteState(r[0], r[1], r[2], r[3], bool(r[4])) if r else None
            return state, gone is not None

        return await self._db.run(read)

    async def remote_states(self, session_ids: Sequence[str]) -> dict[str, RemoteState]:
        """:meth:`remote_state` of many sessions in one query per 500 (a feed page)."""
        out: dict[str, RemoteState] = {}
        for part in _parts(session_ids):
            rows = await self._all(
                "SELECT id, remote_generation, remote_chunks, payload_length, "
                f"origin_machine_id, local FROM sessions WHERE id IN ({_marks(part)})", part)
            out.update({r[0]: RemoteState(r[1], r[2], r[3], r[4], bool(r[5])) for r in rows})
        return out

    async def deleted_among(self, session_ids: Sequence[str]) -> set[str]:
        """Those of ``session_ids`` deleted here on purpose (see :meth:`is_deleted`)."""
        out: set[str] = set()
        for part in _parts(session_ids):
            rows = await self._all(
                f"SELECT session_id FROM deleted WHERE session_id IN ({_marks(part)})", part)
            out.update(r[0] for r in rows)
        return out

    async def load_blob(self, session_id: str) -> bytes | None:
        """The session's stored payload as stored (zstd frames), without decompressing."""
        def read(conn: sqlite3.Connection) -> bytes | None:
            r = conn.execute("SELECT data FROM payloads WHERE session_id = ?",
                             (session_id,)).fetchone()
            return None if r is None else bytes(r[0])

        # one hop to the store's thread (a push reads 2,000 of these back to back)
        return await self._db.run(read)

    async def apply_pull_page(
        self, sessions: Iterable[PulledSession | PulledRaw], deletions: Iterable[str],
        cursor: int,
    ) -> None:
        """Store one page of pulled sessions, tombstones and the new cursor atomically.

        A :class:`PulledRaw` is stored as it arrived (its zstd frames, the sealed info and
        the feed's metadata) and left for the deferred parse; a :class:`PulledSession`
        (already parsed) is stored whole.
        """
        prepared = []
        raw: list[PulledRaw] = []
        for s in sessions:
            if isinstance(s, PulledRaw):
                raw.append(s)
                continue
            blob = await _maybe_thread(_compress, s.payload)
            prepared.append((s, blob, digest(s.payload)))
        now = utcnow()
        raw_rows = [_raw_params(s, now) for s in raw]
        raw_blobs = [(s.session_id, b"".join([s.base or b"", *s.frames])) for s in raw]

        def write_raw(conn: sqlite3.Connection) -> None:
            conn.executemany(_UPSERT_RAW_SQL, raw_rows)
            conn.executemany(_PUT_PAYLOAD_SQL, raw_blobs)

        async with self.transaction() as db:
            if raw:
                await db.run(write_raw)
            for s, blob, payload_hash in prepared:
                await _upsert_session(
                    db, s.parsed, payload_len=len(s.payload), payload_hash=payload_hash,
                    blob=blob, origin=s.origin_machine_id, origin_name=s.origin_machine_name,
                    local=False, now=now,
                )
                await db.execute(
                    "UPDATE sessions SET remote_generation = ?, remote_chunks = ?, "
                    "remote_seq = ?, pulled_at = ?, dirty = 0, parsed = 1 WHERE id = ?",
                    (s.generation, s.chunk_count, s.seq, now, s.parsed.session_id),
                )
            for sid in deletions:
                await db.execute("DELETE FROM sessions WHERE id = ? AND local = 0", (sid,))
            await _kv_put(db, "pull_cursor", str(int(cursor)))
            await _kv_put(db, "last_pull_at", now)
            fault_point("mid-local-transaction")

    async def reset_cursor(self) -> None:
        """Start the next pull from the beginning of the feed (`pull --all`)."""
        await self.kv_set("pull_cursor", "0")

    # --- deletion --------------------------------------------------------------
    async def delete_session(self, session_id: str, *, remember: bool = True) -> bool:
        """Remove a session here; ``remember`` keeps capture from bringing it back."""
        async with self.transaction() as db:
            cur = await db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            gone = (cur.rowcount or 0) > 0
            await db.execute("DELETE FROM sources WHERE session_id = ?", (session_id,))
            if remember:
                await db.execute(
                    "INSERT OR REPLACE INTO deleted(session_id, deleted_at) VALUES (?, ?)",
                    (session_id, utcnow()),
                )
        return gone

    async def undelete(self, session_id: str) -> None:
        """Forget a deliberate local deletion so capture picks the session up again."""
        async with self.transaction() as db:
            await db.execute("DELETE FROM deleted WHERE session_id = ?", (session_id,))


def _fetch(conn: sqlite3.Connection, sql: str, params: Sequence[Any], *, one: bool) -> Any:
    cur = conn.execute(sql, params)
    try:
        return cur.fetchone() if one else cur.fetchall()
    finally:
        cur.close()


_KV_PUT_SQL = ("INSERT INTO kv(key, value) VALUES (?, ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value")


async def _kv_put(db: Connection, key: str, value: str) -> None:
    await db.execute(_KV_PUT_SQL, (key, value))


_PUT_SOURCE_SQL = (
    "INSERT OR REPLACE INTO sources(path, session_id, size, mtime_ns, inode, offset) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_PUT_PAYLOAD_SQL = "INSERT OR REPLACE INTO payloads(session_id, data) VALUES (?, ?)"
_DELETE_MESSAGES_SQL = "DELETE FROM messages WHERE session_id = ?"
_INSERT_MESSAGE_SQL = (
    "INSERT INTO messages(session_id, idx, role, timestamp, text, extra) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_UPSERT_SESSION_SQL = (
    "INSERT INTO sessions(id, tool, native_id, project_path, title, model, git_branch, "
    "git_remote, tool_version, started_at, ended_at, message_count, bad_records, "
    "origin_machine_id, origin_machine_name, local, payload_length, payload_hash, "
    "captured_at, updated_at, dirty) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT(id) DO UPDATE SET tool=excluded.tool, native_id=excluded.native_id, "
    "project_path=excluded.project_path, title=excluded.title, model=excluded.model, "
    "git_branch=excluded.git_branch, git_remote=excluded.git_remote, "
    "tool_version=excluded.tool_version, started_at=excluded.started_at, "
    "ended_at=excluded.ended_at, message_count=excluded.message_count, "
    "bad_records=excluded.bad_records, origin_machine_id=excluded.origin_machine_id, "
    "origin_machine_name=excluded.origin_machine_name, local=excluded.local, "
    "payload_length=excluded.payload_length, payload_hash=excluded.payload_hash, "
    "updated_at=excluded.updated_at, dirty=excluded.dirty"
)


_UPSERT_RAW_SQL = (
    "INSERT INTO sessions(id, tool, native_id, project_path, title, model, git_branch, "
    "git_remote, tool_version, started_at, ended_at, message_count, bad_records, "
    "origin_machine_id, origin_machine_name, local, payload_length, payload_hash, "
    "captured_at, updated_at, dirty, remote_generation, remote_chunks, remote_seq, "
    "pulled_at, parsed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,0,?,?,0,?,?,?,?,0,?,?,?,?,0) "
    "ON CONFLICT(id) DO UPDATE SET tool=excluded.tool, project_path=excluded.project_path, "
    "title=excluded.title, model=excluded.model, git_branch=excluded.git_branch, "
    "git_remote=excluded.git_remote, tool_version=excluded.tool_version, "
    "started_at=excluded.started_at, ended_at=excluded.ended_at, "
    "message_count=excluded.message_count, origin_machine_id=excluded.origin_machine_id, "
    "origin_machine_name=excluded.origin_machine_name, local=0, "
    "payload_length=excluded.payload_length, payload_hash=excluded.payload_hash, "
    "updated_at=excluded.updated_at, dirty=0, remote_generation=excluded.remote_generation, "
    "remote_chunks=excluded.remote_chunks, remote_seq=excluded.remote_seq, "
    "pulled_at=excluded.pulled_at, parsed=0"
)
# the payload is the truth; the sealed info only fills what parsing cannot recover
_SAVE_PARSED_SQL = (
    "UPDATE sessions SET native_id = ?, project_path = ?, title = COALESCE(?, title), "
    "model = COALESCE(?, model), git_branch = COALESCE(?, git_branch), "
    "git_remote = COALESCE(?, git_remote), tool_version = COALESCE(?, tool_version), "
    "started_at = ?, ended_at = ?, message_count = ?, bad_records = ?, payload_hash = ?, "
    "parsed = 1 WHERE id = ?"
)


def _text(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _count(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0


def _raw_params(s: PulledRaw, now: str) -> tuple[Any, ...]:
    """The provisional row of an unparsed pulled session: sealed info + feed metadata."""
    tool, _, native = s.session_id.partition(":")
    i, m = s.info, s.meta
    return (s.session_id, tool, native or s.session_id,
            _text(i.get("project_path")) or _text(m.get("project_path")),
            _text(i.get("title")), _text(i.get("model")), _text(i.get("git_branch")),
            _text(i.get("git_remote")), _text(i.get("tool_version")),
            _text(m.get("started_at")), _text(m.get("ended_at")),
            _count(m.get("message_count")), s.origin_machine_id, s.origin_machine_name,
            s.payload_length, _text(i.get("payload_hash")) or "", now, now, s.generation,
            s.chunk_count, s.seq, now)


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _parts(values: Sequence[str], size: int = 500) -> list[list[str]]:
    return [list(values[i:i + size]) for i in range(0, len(values), size)]


def _source_params(s: SourceState) -> tuple[Any, ...]:
    return (s.path, s.session_id, s.size, s.mtime_ns, s.inode, s.offset)


async def _put_source(db: Connection, s: SourceState) -> None:
    await db.execute(_PUT_SOURCE_SQL, _source_params(s))


def _session_params(
    p: ParsedSession,
    *,
    payload_len: int,
    payload_hash: str,
    origin: str,
    origin_name: str | None,
    local: bool,
    now: str,
    dirty: bool,
) -> tuple[Any, ...]:
    return (p.session_id, p.tool, p.native_id, p.project_path, p.title, p.model,
            p.git_branch, p.git_remote, p.tool_version, p.started_at, p.ended_at,
            p.message_count, p.bad_records, origin, origin_name, int(local), payload_len,
            payload_hash, now, now, int(dirty))


async def _upsert_session(
    db: Connection,
    p: ParsedSession,
    *,
    payload_len: int,
    payload_hash: str,
    blob: bytes,
    origin: str,
    origin_name: str | None,
    local: bool,
    now: str,
    rows: list[tuple[Any, ...]] | None = None,
    dirty: bool = False,
) -> None:
    """Insert or replace a session's row, payload and messages (caller holds the txn).

    ``rows`` are :func:`_message_rows` of ``p`` when already computed; ``dirty`` marks
    the session as changed since its last push.
    """
    await db.execute(_UPSERT_SESSION_SQL, _session_params(
        p, payload_len=payload_len, payload_hash=payload_hash, origin=origin,
        origin_name=origin_name, local=local, now=now, dirty=dirty,
    ))
    await db.execute(_PUT_PAYLOAD_SQL, (p.session_id, blob))
    await db.execute(_DELETE_MESSAGES_SQL, (p.session_id,))
    await db.executemany(_INSERT_MESSAGE_SQL, _message_rows(p) if rows is None else rows)


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements, keeping trigger bodies whole."""
    statements, buf = [], []
    depth = 0
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        buf.append(line)
        upper = stripped.upper()
        if upper.startswith("CREATE TRIGGER"):
            depth += 1
        if upper.startswith("END;"):
            depth -= 1
        if stripped.endswith(";") and depth == 0:
            statements.append("\n".join(buf))
            buf = []
    if buf:
        statements.append("\n".join(buf))
    return statements
