"""`push --dry-run` as a user meets it: it captures first and names what would go up."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.daemonproc import Machine
from tests.e2e.conftest import EMAIL, PASSWORD

FIX = Path(__file__).parents[1] / "fixtures"
SID = "claude-code:3f2b9c1e-7a4d-4e8b-9c2a-5d1e6f7a8b90"
TITLE = "Add limit/offset pagination to GET /api/users"


def test_dry_run_captures_first_and_lists_title_tool_size(tmp_path: Path,
                                                          server: object) -> None:
    m = Machine(tmp_path / "a", LORE_PASSWORD=PASSWORD, LORE_PASSPHRASE="correct horse battery")
    m.lorectl("login", "--server", server.url, "--email", EMAIL)  # type: ignore[attr-defined]
    m.lorectl("push")  # sets up encryption; nothing captured yet
    # the tool writes a session; nobody ran `lorectl import`
    shutil.copytree(FIX / "claude/projects", m.home / ".claude/projects")

    doc = json.loads(m.lorectl("push", "--dry-run", "--json").stdout)
    assert doc["dry_run"] is True and doc["sessions"] == [SID] and doc["pushed"] == 1
    [row] = doc["planned"]
    assert row["session_id"] == SID and row["tool"] == "claude-code" and row["title"] == TITLE
    assert row["bytes"] == doc["bytes_planned"] > 0

    human = m.lorectl("push", "--dry-run").stdout.splitlines()
    assert human[0].startswith("Would push 1 session (") and human[0].endswith("):")
    line = human[1]
    assert line.split()[:2] == ["3f2b9c1e", "claude-code"] and TITLE[:30] in line
    assert "KB" in line or " B " in line
    assert SID not in line and all(len(text) <= 80 for text in human)
    assert m.status()["cloud"]["sessions"] == 0  # a dry run uploads nothing

    assert "Pushed 1 session" in m.lorectl("push").stdout  # push captures first too
    again = m.lorectl("push", "--dry-run")
    assert again.stdout.strip() == "Would push 0 sessions (0 B before compression)."
