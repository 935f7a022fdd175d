"""A bulk first import reads new files in worker processes, with the one-by-one result."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lored.capture.bulk import MIN_SOURCES
from lored.capture.importer import import_all
from lored.config import Settings
from lored.store import Store
from tests.sync.sessions import lines, native_id

_COLUMNS = ("id, title, model, git_branch, tool_version, project_path, started_at, "
            "ended_at, message_count, bad_records, payload_length, payload_hash")


def _write(home: Path, n: int) -> list[str]:
    folder = home / ".claude/projects/-home-dev-projects-webapp"
    folder.mkdir(parents=True)
    ids = []
    for i in range(n):
        nid = native_id(f"bulk{i}")
        body = lines(f"bulk{i}", 6, marker=f"quince{i}", pad=200 * (i % 5))
        if i == 3:
            body += b"{not json\n"  # one bad record: counted the same way
        (folder / f"{nid}.jsonl").write_bytes(body)
        ids.append(f"claude-code:{nid}")
    (folder / "garbage.jsonl").write_bytes(b"\x00\x01 not a transcript\n")
    return ids


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return sorted(con.execute(sql).fetchall())
    finally:
        con.close()


async def test_bulk_import_equals_one_by_one(clean_env: Path, settings: Settings,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _write(clean_env, MIN_SOURCES + 2)
    one = await Store.open(clean_env / "one.db")
    try:
        plain = await import_all(one, settings)  # no deferral: never the worker pool
    finally:
        await one.close()

    # the workers are other processes: this process's parser is never called for the
    # new files (the garbage file is read again here, and fails here, with its path)
    import lored.capture.importer as importer

    calls: list[str] = []
    real = importer.parse_payload

    def counting(tool: str, payload: bytes, hint: str | None = None) -> object:
        calls.append(str(hint))
        return real(tool, payload, hint)

    monkeypatch.setattr(importer, "parse_payload", counting)
    bulk = Store.open(settings.paths.db_file)
    store = await bulk
    try:
        report = await import_all(store, settings, defer_messages=True)
        assert report.to_json()["imported"] == len(ids) == plain.imported
        assert [e["path"] for e in report.errors] == [e["path"] for e in plain.errors]
        assert len(report.errors) == 1 and "garbage.jsonl" in report.errors[0]["path"]
        assert report.bytes_read == plain.bytes_read and report.bad_records == 1
        assert [c for c in calls if "garbage" not in c] == []
        assert await store.unparsed_count() == len(ids)
    finally:
        await store.close()
    for sql in (f"SELECT {_COLUMNS} FROM sessions",
                "SELECT path, session_id, size, mtime_ns, inode, offset FROM sources",
                "SELECT session_id, data FROM payloads"):
        assert _rows(settings.paths.db_file, sql) == _rows(clean_env / "one.db", sql), sql

    again = await Store.open(settings.paths.db_file)
    try:
        assert (await import_all(again, settings, defer_messages=True)).unchanged == len(ids)
        from lored.capture import deferred

        # the deferred parse of a backlog runs in worker processes too: the parser of
        # this process is never called, and the messages are exactly a one-by-one parse's
        def not_here(*_: object) -> None:
            raise AssertionError("parsed in the calling process")

        monkeypatch.setattr(deferred, "POOL_MIN_SESSIONS", 2)
        monkeypatch.setattr(deferred, "parse_one", not_here)
        assert await deferred.catch_up(again) == (len(ids), 6 * len(ids))
        hits = await again.search("quince5")
        assert {h["session_id"] for h in hits} == {ids[5]}
    finally:
        await again.close()
    for sql in (f"SELECT {_COLUMNS} FROM sessions",
                "SELECT session_id, idx, role, timestamp, text, extra FROM messages"):
        assert _rows(settings.paths.db_file, sql) == _rows(clean_env / "one.db", sql), sql


async def test_bulk_workers_mark_clean_payloads_and_only_those(
        clean_env: Path, settings: Settings) -> None:
    """The workers scan for secrets while they hold the bytes: a payload with nothing to
    redact gets its clean mark (detector fingerprint + digest), one with a secret none."""
    from lored.capture.redaction import policy_of
    from lored.secrets.redact import clean_mark

    ids = _write(clean_env, MIN_SOURCES)
    folder = clean_env / ".claude/projects/-home-dev-projects-webapp"
    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    nid = native_id("leaky")
    (folder / f"{nid}.jsonl").write_bytes(lines("leaky", 4, marker=f"token {secret}"))
    store = await Store.open(settings.paths.db_file)
    try:
        report = await import_all(store, settings, defer_messages=True)
        assert report.imported == len(ids) + 1
    finally:
        await store.close()
    detector = policy_of(settings).detector()
    marks = dict(_rows(settings.paths.db_file, "SELECT id, scan_clean FROM sessions"))
    hashes = dict(_rows(settings.paths.db_file, "SELECT id, payload_hash FROM sessions"))
    assert marks[f"claude-code:{nid}"] is None
    assert all(marks[i] == clean_mark(detector, hashes[i]) for i in ids)
