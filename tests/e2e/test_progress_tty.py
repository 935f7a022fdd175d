"""Progress on a terminal: import, push (rate, time left) and pull (a real total).

rich's transient bars go to stderr only when it is a terminal (a real pty here), and
never when piped or with --json.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.daemonproc import Machine
from tests.e2e.conftest import EMAIL, PASSWORD
from tests.ptyproc import run_pty
from tests.serverproc import ServerProc

FIX = Path(__file__).parents[1] / "fixtures/claude/projects/-home-dev-projects-webapp"
SID = "3f2b9c1e-7a4d-4e8b-9c2a-5d1e6f7a8b90"


def _sessions(m: Machine, count: int) -> None:
    dest = m.home / ".claude/projects/-home-dev-projects-webapp"
    dest.mkdir(parents=True, exist_ok=True)
    text = (FIX / f"{SID}.jsonl").read_text()
    for n in range(count):
        new = str(uuid.UUID(int=n + 1))
        (dest / f"{new}.jsonl").write_text(text.replace(SID, new))


def test_import_push_and_pull_show_progress_on_a_tty_only(tmp_path: Path,
                                                           server: ServerProc) -> None:
    a = Machine(tmp_path / "a", LORE_PASSWORD=PASSWORD, LORE_PASSPHRASE="correct horse battery")
    b = Machine(tmp_path / "b", LORE_PASSWORD=PASSWORD, LORE_PASSPHRASE="correct horse battery")
    _sessions(a, 5)
    env = {**a.env, "TERM": "xterm"}
    code, screen = run_pty(["import"], env)
    assert code == 0 and "Reading claude-code" in screen and "5/5" in screen, screen
    assert screen.rstrip().endswith("Imported 5, updated 0, unchanged 0.")
    piped = a.lorectl("import")
    assert piped.stderr == "" and piped.stdout.strip() == "Imported 0, updated 0, unchanged 5."

    a.lorectl("login", "--server", server.url, "--email", EMAIL)
    code, screen = run_pty(["push"], env)
    assert code == 0 and "Uploading" in screen and "5/5" in screen, screen
    assert "0:00:00" in screen or "-:--:--" in screen  # the time-left column
    assert "Pushed 5 sessions" in screen

    b.lorectl("login", "--server", server.url, "--email", EMAIL)
    code, screen = run_pty(["pull"], {**b.env, "TERM": "xterm"})
    assert code == 0 and "Downloading" in screen and "5/5" in screen, screen
    assert "/?" not in screen  # the total is known from the first page
    again = b.lorectl("pull", "--all", "--json")
    assert again.stderr == ""  # no bar when stderr is not a terminal
