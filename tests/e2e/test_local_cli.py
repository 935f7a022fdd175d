"""lorectl's local commands as a real process: import, sessions list/show, search, config."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

FIX = Path(__file__).parents[1] / "fixtures"
SID = "3f2b9c1e-7a4d-4e8b-9c2a-5d1e6f7a8b90"
LORECTL = str(Path(sys.executable).parent / "lorectl")


def lorectl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LORECTL, *args], capture_output=True, text=True, env=dict(os.environ),
                          timeout=60)


def ok_json(*args: str) -> object:
    proc = lorectl(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_import_list_show_search_config(clean_env: Path) -> None:
    shutil.copytree(FIX / "claude/projects", clean_env / ".claude/projects")
    assert ok_json("import") == {"imported": 1, "updated": 0, "unchanged": 0, "errors": []}
    assert ok_json("import", "--tool", "claude-code")["unchanged"] == 1

    sessions = ok_json("sessions", "list")
    assert isinstance(sessions, list) and len(sessions) == 1
    row = sessions[0]
    assert {"id", "tool", "project_path", "started_at", "ended_at", "message_count",
            "origin_machine_id", "local"} <= set(row)
    assert row["id"] == f"claude-code:{SID}" and row["local"] is True
    assert row["message_count"] == 6 and row["started_at"] == "2025-06-14T09:12:03.512Z"
    assert ok_json("sessions", "list", "--tool", "codex") == []
    assert len(ok_json("sessions", "list", "--project", "webapp", "--limit", "1")) == 1

    shown = ok_json("sessions", "show", "3f2b9c")
    assert shown["id"] == row["id"]
    msgs = shown["messages"]
    assert [m["role"] for m in msgs][:3] == ["user", "assistant", "tool"]
    assert {"role", "timestamp", "text"} <= set(msgs[0])
    assert msgs[1]["tool_calls"][0]["name"] == "Read"

    hits = ok_json("search", "pagination")
    assert hits and set(hits[0]) >= {"session_id", "role", "timestamp", "snippet"}
    assert hits[0]["session_id"] == row["id"] and "pagination" in hits[0]["snippet"]

    assert ok_json("search", "pagination", "--tool", "codex") == []
    assert ok_json("search", "pagination", "--project", "webapp", "--limit", "1") == hits[:1]

    config = ok_json("config", "show")
    assert config["capture"]["tools"][0] == "claude-code"

    human = lorectl("sessions", "list")
    assert human.returncode == 0 and "webapp" in human.stdout and "\x1b[" not in human.stdout


def test_unknown_session_and_tool_fail_clearly(clean_env: Path) -> None:
    proc = lorectl("sessions", "show", "nope")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no session matches 'nope'") and "hint:" in proc.stderr
    proc = lorectl("import", "--tool", "notepad")
    assert proc.returncode == 2 and "unknown tool" in proc.stderr


def test_empty_store_lists_nothing(clean_env: Path) -> None:
    assert ok_json("sessions", "list") == []
    proc = lorectl("search", "anything")
    assert proc.returncode == 0 and "No messages match" in proc.stdout
