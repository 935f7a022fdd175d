"""A mixed corpus for P8: Claude Code sessions plus sessions of every other captured tool.

The other tools' sessions are written in each tool's real layout by the writers the
tests use (``tests/newtools.py``), with distinct ids, so one ``lorectl import`` reads
JSONL, rewritten JSON documents and SQLite stores in the same pass.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

from bench.corpus import generate


def build(out_dir: Path, claude_sessions: int, per_tool: int, seed: int = 1) -> tuple[Path, int]:
    """Write the mixed HOME under ``out_dir``; returns (home, sessions written)."""
    from tests import newtools as nt

    home = generate(out_dir, claude_sessions, seed).home
    made = claude_sessions
    for i in range(per_tool):
        tail = f"{i:012d}"
        nt.cline_task(home, task_id=str(nt.T0 + i), prompt=f"task {i} on the orders API")
        nt.cline_task(home, "rooveterinaryinc.roo-cline", "roo-code", f"0199-roo-{tail}",
                      f"roo task {i}")
        nt.cline_task(home, "kilocode.kilo-code", "kilo-code", f"0199-kilo-{tail}",
                      f"kilo task {i}")
        nt.continue_session(home, f"5b1c0a52-1111-4c1e-9d2a-{tail}")
        nt.copilot_session(home, f"c0ffee00-2222-4bbb-8ccc-{tail}")
        nt.qwen_chat(home, f"7a7a7a7a-4444-4ddd-8eee-{tail}")
        nt.droid_session(home, f"d801d801-5555-4fff-8aaa-{tail}")
        made += 7
    # Codex, Gemini CLI, Aider and OpenCode: the repository's fixtures, once
    fixtures = Path(__file__).resolve().parents[1] / "tests/fixtures"
    shutil.copytree(fixtures / "codex", home / ".codex")
    shutil.copytree(fixtures / "gemini", home / ".gemini")
    checkout = home / "src/webapp"
    (checkout / ".git").mkdir(parents=True)
    for f in (fixtures / "aider/home/dev/projects/webapp").iterdir():
        shutil.copy(f, checkout / f.name)
    _opencode(home)
    made += 5
    nt.cursor_db(home)
    db = sqlite3.connect(nt.goose_db(home))
    for i in range(per_tool):
        nt.goose_session(db, f"20251124_{i + 1}", f"goose prompt {i}")
    db.commit()
    db.close()
    return home, made + 1 + per_tool


def _opencode(home: Path) -> None:
    """One OpenCode session in its JSON storage tree."""
    storage = home / ".local/share/opencode/storage"
    docs = {
        "session/global/ses_bench0001.json": {"id": "ses_bench0001", "projectID": "global",
                                              "directory": "/home/dev/src/webapp",
                                              "title": "bench", "time": {"created": 1}},
        "message/ses_bench0001/msg_1.json": {"id": "msg_1", "sessionID": "ses_bench0001",
                                             "role": "user", "time": {"created": 2}},
        "part/msg_1/prt_1.json": {"id": "prt_1", "messageID": "msg_1",
                                  "sessionID": "ses_bench0001", "type": "text",
                                  "text": "hello"},
    }
    for rel, doc in docs.items():
        path = storage / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))


def parse_floor(home: Path) -> float:
    """Seconds to ``json.loads`` every JSONL line and every JSON file the tools wrote."""
    files = sorted(p for p in home.rglob("*") if p.suffix in (".jsonl", ".json") and p.is_file())
    t0 = time.perf_counter()
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".jsonl":
            for line in data.splitlines():
                if line.strip():
                    json.loads(line)
        else:
            json.loads(data)
    return time.perf_counter() - t0
