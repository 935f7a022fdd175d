"""A damaged sessions.db: every command fails at once with one sentence, and doctor repairs it.

Two kinds of damage a user meets: a file that is not a database at all (a bad copy, a
sync tool's conflict file) and a database whose pages are damaged (a disk or power
failure). Before, every command printed a 62-line traceback and several then hung on
aiosqlite's worker thread.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIX = Path(__file__).parents[1] / "fixtures"
BIN = Path(sys.executable).parent
COMMANDS = (["status"], ["sessions", "list"], ["search", "pagination"], ["import"],
            ["pull"], ["sessions", "show", "claude-code"])


def run(*argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "lorectl"), *argv], capture_output=True, text=True,
                          env=dict(os.environ), timeout=timeout)


def _db() -> Path:
    return Path(os.environ["LORE_HOME"]) / "sessions.db"


def _garbage(db: Path) -> None:
    db.write_bytes(random.Random(1).randbytes(20_000))


def _damage_pages(db: Path) -> None:
    data = bytearray(db.read_bytes())
    rnd = random.Random(2)
    for page in range(2, len(data) // 4096, 2):  # page 1 (the header) survives
        data[page * 4096 + 8: page * 4096 + 4000] = rnd.randbytes(3992)
    db.write_bytes(bytes(data))


def _capture_many(home: Path) -> None:
    src = next((FIX / "claude/projects").rglob("*.jsonl"))
    folder = home / ".claude/projects" / src.parent.name
    folder.mkdir(parents=True)
    text = src.read_text()
    for i in range(30):  # enough pages for page damage to hit tables and indexes
        sid = f"3f2b9c1e-7a4d-4e8b-9c2a-{i:012d}"
        (folder / f"{sid}.jsonl").write_text(text.replace(src.stem, sid))
    assert run("import").returncode == 0


@pytest.mark.parametrize("damage", [_garbage, _damage_pages], ids=["not-a-db", "pages"])
def test_every_command_fails_at_once_with_one_sentence(clean_env: Path, damage: object) -> None:
    _capture_many(clean_env)
    damage(_db())  # type: ignore[operator]
    damaged = 0
    for argv in COMMANDS:
        proc = run(*argv)  # a hang fails here through the timeout
        assert "Traceback" not in proc.stderr, (argv, proc.stderr)
        if proc.returncode == 0:
            assert damage is _damage_pages, argv  # only partial damage can leave pages readable
            continue
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith("error: "), lines
        if "sessions.db is damaged" in lines[0]:
            damaged += 1
            assert lines[1] == ("hint: run `lorectl doctor --repair`: it moves the damaged "
                                "file aside and rebuilds the archive from the tools' files "
                                "and a pull")
        else:  # e.g. pull: "not logged in" is the true first problem when pages survive
            assert damage is _damage_pages, lines
    assert damaged >= (len(COMMANDS) if damage is _garbage else 3)

def test_lored_exits_at_once_on_a_damaged_store(clean_env: Path) -> None:
    _capture_many(clean_env)
    _garbage(_db())
    proc = subprocess.run([str(BIN / "lored")], capture_output=True, text=True,
                          env=dict(os.environ), timeout=30)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "sessions.db is damaged" in proc.stderr


@pytest.mark.parametrize("damage", [_garbage, _damage_pages], ids=["not-a-db", "pages"])
def test_doctor_finds_the_damage_and_repair_rebuilds(clean_env: Path, damage: object) -> None:
    _capture_many(clean_env)
    damage(_db())  # type: ignore[operator]
    proc = run("doctor", "--json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    store = next(c for c in doc["checks"] if c["check"] == "store")
    assert store["status"] == "fail" and store["fix"] == "run `lorectl doctor --repair`"
    assert "\n" not in store["detail"]
    human = run("doctor")
    assert "[FAIL] store:" in human.stdout and "fix: run `lorectl doctor --repair`" in human.stdout

    proc = run("doctor", "--repair", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["repair"]["imported"] == 30 and doc["ok"] is True
    moved = Path(doc["repair"]["moved_to"])
    assert moved.exists() and moved.parent == _db().parent  # kept, not deleted
    listed = json.loads(run("sessions", "list", "--json").stdout)
    assert len(listed) == 30
    assert json.loads(run("doctor", "--json").stdout)["checks"][1]["status"] == "ok"


def test_doctor_on_a_healthy_machine(clean_env: Path) -> None:
    shutil.copytree(FIX / "claude/projects", clean_env / ".claude/projects")
    assert run("import").returncode == 0
    doc = json.loads(run("doctor", "--json").stdout)
    by = {c["check"]: c for c in doc["checks"]}
    assert by["store"]["status"] == "ok" and "1 session(s)" in by["store"]["detail"]
    assert by["login"]["status"] == "warn" and "lorectl login" in by["login"]["fix"]
    assert by["daemon"]["status"] == "warn"
    assert doc["ok"] is True
