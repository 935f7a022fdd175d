"""The live watcher: new sessions and appended lines arrive within 2 s; new folders too."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from lored.capture.importer import ImportReport
from lored.capture.watcher import CaptureWatcher
from lored.config import Settings
from lored.store import Store

FIX = Path(__file__).parents[1] / "fixtures"
SID = "3f2b9c1e-7a4d-4e8b-9c2a-5d1e6f7a8b90"


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 2.0) -> float:
    """Poll ``check`` until true; return the seconds it took, fail after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if await check():
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout} s")


def user_line(text: str) -> bytes:
    return json.dumps({"type": "user", "sessionId": SID, "cwd": "/w",
                       "timestamp": "2025-06-14T10:00:00Z",
                       "message": {"role": "user", "content": text}}).encode() + b"\n"


async def test_new_session_and_appended_line_within_two_seconds(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    projects = clean_env / ".claude/projects"
    projects.mkdir(parents=True)
    reports: list[ImportReport] = []
    watcher = CaptureWatcher(store, settings, on_change=reports.append, debounce_ms=50)
    await watcher.start()
    try:
        assert watcher.running and watcher.watching == [projects]
        target = projects / "-home-dev-projects-webapp" / f"{SID}.jsonl"
        target.parent.mkdir()
        shutil.copy(next((FIX / "claude/projects").rglob("*.jsonl")), target)

        async def has_session() -> bool:
            return len(await store.list_sessions()) == 1

        await eventually(has_session)
        with target.open("ab") as fh:
            fh.write(user_line("appended while watching"))

        async def has_line() -> bool:
            msgs = await store.messages(f"claude-code:{SID}")
            return bool(msgs) and msgs[-1].text == "appended while watching"

        await eventually(has_line)

        async def reported() -> bool:
            # on_change runs just after the store commit: wait for it, don't race it
            return sum(r.updated for r in reports) >= 1

        await eventually(reported, timeout=5.0)
        assert sum(r.imported for r in reports) == 1
    finally:
        await watcher.stop()
    assert not watcher.running


async def test_tool_folder_created_later_is_watched(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    async def notify(report: ImportReport) -> None:
        seen.append(report)

    seen: list[ImportReport] = []
    watcher = CaptureWatcher(store, settings, on_change=notify, debounce_ms=50,
                             roots_interval=0.1)
    await watcher.start()
    try:
        assert watcher.watching == []
        codex = clean_env / ".codex/sessions/2025/06/14"
        codex.mkdir(parents=True)
        shutil.copy(next((FIX / "codex/sessions").rglob("*.jsonl")), codex)

        async def captured() -> bool:
            return len(await store.list_sessions(tool="codex")) == 1

        await eventually(captured, timeout=3.0)

        async def reported() -> bool:
            return sum(r.imported for r in seen) == 1

        await eventually(reported, timeout=5.0)
    finally:
        await watcher.stop()


async def test_callback_errors_do_not_stop_capture(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    def broken(report: ImportReport) -> None:
        raise RuntimeError("callback bug")

    projects = clean_env / ".claude/projects/-p"
    projects.mkdir(parents=True)
    watcher = CaptureWatcher(store, settings, on_change=broken, debounce_ms=50)
    await watcher.start()
    try:
        (projects / "a.jsonl").write_bytes(user_line("first"))

        async def first() -> bool:
            return len(await store.list_sessions()) == 1

        await eventually(first)
        with (projects / "a.jsonl").open("ab") as fh:
            fh.write(user_line("second"))

        async def second() -> bool:
            return len(await store.messages(f"claude-code:{SID}")) == 2

        await eventually(second)
        assert watcher.running
    finally:
        await watcher.stop()


async def test_start_catches_up_and_accepts_facade(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    shutil.copytree(FIX / "claude/projects", clean_env / ".claude/projects")

    class Facade:
        def __init__(self, store: Store) -> None:
            self.store = store

    watcher = CaptureWatcher(Facade(store), settings)
    await watcher.start()  # returns after the first scan: files written before are in
    try:
        assert watcher.passes == 1 and len(await store.list_sessions()) == 1
    finally:
        await watcher.stop()


async def test_aider_history_is_polled(
    clean_env: Path, tmp_path: Path, store: Store, settings: Settings
) -> None:
    from dataclasses import replace

    root = tmp_path / "repo"
    root.mkdir()
    cfg = replace(settings, aider_roots=(str(root),))
    watcher = CaptureWatcher(store, cfg, roots_interval=0.1, debounce_ms=50)
    await watcher.start()
    try:
        (root / ".aider.chat.history.md").write_text(
            "# aider chat started at 2025-06-14 14:05:31\n\n#### hello aider\n\nHi.\n")

        async def captured() -> bool:
            return len(await store.list_sessions(tool="aider")) == 1

        await eventually(captured)
    finally:
        await watcher.stop()
