"""A full disk during `lorectl import`: one sentence, non-zero exit, nothing half-written.

The disk is real: LORE_HOME sits on a small tmpfs mounted for the test (root only; the
test is skipped, saying so, where mounting is not allowed), so SQLite meets the same
ENOSPC a full laptop disk gives it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

LORECTL = str(Path(sys.executable).parent / "lorectl")
SESSIONS, MESSAGES = 120, 12


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _sessions(home: Path) -> None:
    folder = home / ".claude/projects/-home-dev-src-orbital"
    folder.mkdir(parents=True)
    for n in range(SESSIONS):
        sid = f"5b7e1c2a-0000-4000-8000-{n:012d}"
        recs = [{"type": "user" if i % 2 == 0 else "assistant", "sessionId": sid,
                 "cwd": "/home/dev/src/orbital", "uuid": f"{sid}-{i}",
                 "timestamp": f"2026-11-30T10:{i:02d}:00.000Z",
                 "message": {"role": "user" if i % 2 == 0 else "assistant",
                             "content": os.urandom(400).hex()}}  # incompressible
                for i in range(MESSAGES)]
        (folder / f"{sid}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))


def _import(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LORECTL, "import", "--json"], capture_output=True, text=True,
                          env=env, timeout=120)


def test_import_stops_at_the_first_failed_write(clean_env: Path, small_disk: Path) -> None:
    env = {**os.environ, "LORE_HOME": str(small_disk / "lore")}
    _sessions(clean_env)
    proc = _import(env)
    assert proc.returncode == 1, proc.stdout
    db = small_disk / "lore" / "sessions.db"
    assert proc.stderr.splitlines() == [
        f"error: cannot write {db}: the disk is full",
        "hint: free some space on that disk and run the command again: what was written "
        "before is kept whole, the session that failed was not written at all"]
    assert proc.stdout == ""  # no "Imported 37", no warning per file

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute("SELECT id, message_count, parsed FROM sessions").fetchall()
        # every session that is there is whole: all its messages, none cut short (a bulk
        # import leaves the message rows to the deferred parse: then none yet)
        for sid, count, parsed in rows:
            assert count == MESSAGES, sid
            assert conn.execute("SELECT count(*) FROM messages WHERE session_id = ?",
                                (sid,)).fetchone() == (MESSAGES if parsed else 0,)
    finally:
        conn.close()
    assert len(rows) < SESSIONS  # the disk really filled up

    # space freed: the next import brings in the rest and nothing twice
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    again = _import(env)
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    assert doc["errors"] == []
    assert doc["imported"] + doc["unchanged"] + doc["updated"] == SESSIONS
    assert doc["imported"] >= SESSIONS - len(rows)
