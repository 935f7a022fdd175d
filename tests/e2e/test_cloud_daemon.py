"""lorectl with a running lored that cannot ask for secrets.

The daemon has no terminal: when a push or pull needs the passphrase (first push, new
machine) it answers ``secret_required``; lorectl then runs the operation itself, where
it can ask (terminal or LORE_PASSPHRASE). The key it caches serves the daemon after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemonproc import Machine
from tests.sync.sessions import lines, native_id

EMAIL = "dev@example.com"
PASSWORD = "account-password-1"
PASSPHRASE = "correct horse battery staple"
PROJECT = "-home-dev-projects-webapp"


@pytest.fixture
def machines() -> Iterator[list[Machine]]:
    """Machines whose lored is killed if a test leaves it running."""
    made: list[Machine] = []
    yield made
    for m in made:
        m.cleanup()


def _write(m: Machine, name: str) -> str:
    folder = m.home / ".claude" / "projects" / PROJECT
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{native_id(name)}.jsonl").write_bytes(lines(name, 3))
    return f"claude-code:{native_id(name)}"


def test_first_push_runs_here_when_the_daemon_cannot_ask(
        tmp_path: Path, server: Any, machines: list[Machine]) -> None:
    a = Machine(tmp_path / "a", LORE_PASSWORD=PASSWORD, NO_COLOR="1")  # lored: no passphrase
    machines.append(a)
    a.lorectl("login", "--server", server.url, "--email", EMAIL)
    sid = _write(a, "d1")
    a.lorectl("import")
    a.start_lored()

    out = a.lorectl("push", "--json", check=False)  # no TTY, no LORE_PASSPHRASE
    assert out.returncode != 0 and "LORE_PASSPHRASE" in out.stderr
    doc = json.loads(a.lorectl("push", "--json", env={"LORE_PASSPHRASE": PASSPHRASE}).stdout)
    assert doc["sessions"] == [sid]
    status = a.status()  # answered by lored, which now uses the cached key
    assert status["daemon"]["running"] and status["encryption"]["configured"]
    assert status["local"]["pending_sync"] == 0

    b = Machine(tmp_path / "b", LORE_PASSWORD=PASSWORD, NO_COLOR="1")
    machines.append(b)
    b.lorectl("login", "--server", server.url, "--email", EMAIL)
    b.start_lored()
    out = b.lorectl("pull", "--json", check=False)
    assert out.returncode != 0 and "LORE_PASSPHRASE" in out.stderr
    pulled = json.loads(b.lorectl("pull", "--json", env={"LORE_PASSPHRASE": PASSPHRASE}).stdout)
    assert pulled["sessions"] == [sid]
    again = json.loads(b.lorectl("sync", "--json").stdout)  # through lored, key cached
    assert again["pull"]["pulled"] == 0 and again["pull"]["failed"] == []
