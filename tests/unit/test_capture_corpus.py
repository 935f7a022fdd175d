"""The corpus test: every fixture of every tool, imported twice.

The first pass captures each one; the second reports every session unchanged, reads no
byte and writes nothing — for append-only transcripts, rendered JSON and SQLite stores
alike.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from lored.capture.importer import import_all
from lored.config import Settings
from lored.store import Store
from tests import newtools as nt

FIX = Path(__file__).parents[1] / "fixtures"


def _every_fixture(home: Path) -> int:
    """Copy every tool's fixtures into ``home``; returns how many files were placed."""
    shutil.copytree(FIX / "claude/projects", home / ".claude/projects")
    shutil.copytree(FIX / "variants/claude/with-agents", home / ".claude/projects",
                    dirs_exist_ok=True)
    shutil.copytree(FIX / "codex", home / ".codex")
    variants = home / ".codex/sessions/2026/01/05"
    variants.mkdir(parents=True, exist_ok=True)
    for f in (FIX / "variants/codex").glob("*.jsonl"):
        shutil.copy(f, variants / f.name)
    shutil.copytree(FIX / "gemini", home / ".gemini")
    checkout = home / "src/webapp"  # found by the code-root scan, no config
    (checkout / ".git").mkdir(parents=True)
    for f in (FIX / "aider/home/dev/projects/webapp").iterdir():
        shutil.copy(f, checkout / f.name)
    nt.cline_task(home)
    nt.cline_task(home, "rooveterinaryinc.roo-cline", "roo-code", "0199-roo", "roo prompt")
    nt.cline_task(home, "kilocode.kilo-code", "kilo-code", "0199-kilo", "kilo prompt")
    nt.continue_session(home)
    nt.copilot_session(home)
    nt.cursor_db(home)
    nt.qwen_chat(home)
    nt.droid_session(home)
    db = sqlite3.connect(nt.goose_db(home))
    nt.goose_session(db)
    db.commit()
    db.close()
    return sum(1 for p in home.rglob("*") if p.is_file())


async def test_every_fixture_twice_second_pass_unchanged(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    assert _every_fixture(clean_env) > 20
    first = await import_all(store, settings)
    assert first.errors == [], first.errors
    captured = first.imported + first.updated
    tools = {r.tool for r in await store.list_sessions()}
    assert tools == {"claude-code", "codex", "gemini", "aider", "cline", "roo-code",
                     "kilo-code", "continue", "copilot-chat", "cursor", "goose", "qwen",
                     "droid"}
    assert captured == len(await store.list_sessions())
    second = await import_all(store, settings)
    assert second.to_json() == {"imported": 0, "updated": 0, "unchanged": captured,
                                "errors": []}
    assert second.bytes_read == 0 and second.changed == []
