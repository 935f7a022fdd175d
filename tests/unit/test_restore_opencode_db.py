"""Restore into OpenCode's database (1.2+): rows in its schema, seen by capture as pulled."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from lored.capture import opencode_io
from lored.capture.importer import import_all
from lored.capture.registry import parse_payload
from lored.capture.sources import Context
from lored.config import Settings
from lored.restore.place import RestoreError, restore_session
from lored.store import PulledSession, Store
from tests.unit.test_capture_opencode import SID, write_tree

OTHER = "0a1b2c3d-0000-4000-8000-00000000000a"
#: OpenCode 1.2's tables (session.sql.ts / project.sql.ts), NOT NULL without defaults
SCHEMA = """
CREATE TABLE project (id TEXT PRIMARY KEY, worktree TEXT NOT NULL, vcs TEXT, name TEXT,
  time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL,
  sandboxes TEXT NOT NULL);
CREATE TABLE session (id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES project(id)
  ON DELETE CASCADE, parent_id TEXT, slug TEXT NOT NULL, directory TEXT NOT NULL,
  title TEXT NOT NULL, version TEXT NOT NULL, share_url TEXT, summary_additions INTEGER,
  time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, time_archived INTEGER);
CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES
  session(id) ON DELETE CASCADE, time_created INTEGER NOT NULL,
  time_updated INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE part (id TEXT PRIMARY KEY, message_id TEXT NOT NULL REFERENCES message(id)
  ON DELETE CASCADE, session_id TEXT NOT NULL, time_created INTEGER NOT NULL,
  time_updated INTEGER NOT NULL, data TEXT NOT NULL);
"""


def opencode_here(home: Path) -> Path:
    """An OpenCode 1.2 data dir on this machine: an empty opencode.db in WAL mode."""
    data = home / ".local/share/opencode"
    data.mkdir(parents=True)
    db = sqlite3.connect(data / "opencode.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    db.close()
    return data / "opencode.db"


async def pulled_session(tmp_path: Path, store: Store, settings: Settings) -> str:
    """The tree fixture rendered as machine A would push it, pulled here."""
    base = tmp_path / "machine-a"
    write_tree(base)
    src = opencode_io.discover(Context(settings, {"HOME": str(tmp_path),
                                                  "OPENCODE_DATA_DIR": str(base)}))
    payload = next(iter(src[0].render()))  # type: ignore[misc]
    parsed = parse_payload("opencode", payload)
    await store.apply_pull_page([PulledSession(parsed, payload, OTHER, "a", 1, 1, 1)], [], 1)
    return parsed.session_id


async def test_restore_writes_rows_opencode_reads_and_capture_sees_as_pulled(
        clean_env: Path, tmp_path: Path, store: Store, settings: Settings) -> None:
    db_path = opencode_here(clean_env)
    project = clean_env / "code/webapp"
    project.mkdir(parents=True)
    sid = await pulled_session(tmp_path, store, settings)
    res = await restore_session(store, settings, sid, to=str(project))
    assert res.written and res.path == str(db_path)
    assert res.command == ("opencode", "--session", SID)
    assert not (db_path.parent / "storage").exists()  # 1.2+ reads only the database
    db = sqlite3.connect(db_path)
    (directory, project_id, title, slug), = db.execute(
        "SELECT directory, project_id, title, slug FROM session WHERE id = ?", (SID,))
    assert (directory, project_id, title) == (str(project), "global", "Fix flaky test")
    assert slug  # NOT NULL column filled
    assert db.execute("SELECT worktree FROM project WHERE id = 'global'").fetchone() == (
        str(project),)
    parts = db.execute("SELECT count(*) FROM part WHERE session_id = ?", (SID,)).fetchone()
    assert parts == (8,)
    data = json.loads(db.execute("SELECT data FROM part WHERE id = 'prt_e'").fetchone()[0])
    assert data["state"]["input"] == {"filePath": "t.py"} and "id" not in data
    db.close()
    # capture renders the database: the same session, not a new one
    report = await import_all(store, settings, tool="opencode")
    assert (report.imported, report.updated, report.errors) == (0, 0, [])
    assert [(r.id, r.local) for r in await store.list_sessions()] == [(sid, False)]
    again = await restore_session(store, settings, sid, to=str(project))
    assert not again.written  # nothing written twice


async def test_a_different_session_under_the_same_id_needs_force(
        clean_env: Path, tmp_path: Path, store: Store, settings: Settings) -> None:
    db_path = opencode_here(clean_env)
    project = clean_env / "code/webapp"
    project.mkdir(parents=True)
    sid = await pulled_session(tmp_path, store, settings)
    await restore_session(store, settings, sid, to=str(project))
    db = sqlite3.connect(db_path)
    db.execute("DELETE FROM part WHERE id = 'prt_a'")
    db.commit()
    db.close()
    with pytest.raises(RestoreError) as err:
        await restore_session(store, settings, sid, to=str(project))
    assert "differs" in err.value.message and "--force" in (err.value.fix or "")
    forced = await restore_session(store, settings, sid, to=str(project), force=True)
    assert forced.written
    db = sqlite3.connect(db_path)
    assert db.execute("SELECT count(*) FROM part WHERE id = 'prt_a'").fetchone() == (1,)
    db.close()


async def test_a_database_without_opencode_tables_is_refused(
        clean_env: Path, tmp_path: Path, store: Store, settings: Settings) -> None:
    data = clean_env / ".local/share/opencode"
    data.mkdir(parents=True)
    sqlite3.connect(data / "opencode.db").close()
    project = clean_env / "code/webapp"
    project.mkdir(parents=True)
    sid = await pulled_session(tmp_path, store, settings)
    with pytest.raises(RestoreError) as err:
        await restore_session(store, settings, sid, to=str(project))
    assert "no OpenCode session tables" in err.value.message
