"""Claude Code sub-agent transcripts: folded into their parent session, never sessions."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

from lored.capture import claude, importer, sources
from lored.capture.importer import import_all
from lored.capture.registry import parse_payload
from lored.capture.watcher import CaptureWatcher
from lored.config import Settings
from lored.store import Store

FIX = Path(__file__).parents[1] / "fixtures/variants/claude/with-agents"
PROJECT = "-home-dev-projects-api"
SID = "a9e1c2d3-4b5f-4a6b-8c7d-9e0f1a2b3c4d"
OLD_AGENT = "agent-0c1d2e3f.jsonl"
NEW_AGENT = f"{SID}/subagents/agent-9e8f7a6b.jsonl"
SESSION = f"claude-code:{SID}"


def fixture_bytes(rel: str) -> bytes:
    return (FIX / PROJECT / rel).read_bytes()


def agent_line(text: str, agent: str = "9e8f7a6b") -> bytes:
    return json.dumps({
        "type": "user", "sessionId": SID, "isSidechain": True, "agentId": agent,
        "cwd": "/home/dev/projects/api", "timestamp": "2025-09-02T10:02:00Z",
        "message": {"role": "user", "content": text},
    }).encode() + b"\n"


def main_line(text: str) -> bytes:
    return json.dumps({
        "type": "user", "sessionId": SID, "cwd": "/home/dev/projects/api",
        "timestamp": "2025-09-02T10:03:00Z", "message": {"role": "user", "content": text},
    }).encode() + b"\n"


# --- the parser ----------------------------------------------------------------------
def folded_payload() -> bytes:
    return (fixture_bytes(f"{SID}.jsonl") + claude.part_line(OLD_AGENT)
            + fixture_bytes(OLD_AGENT) + claude.part_line(NEW_AGENT)
            + fixture_bytes(NEW_AGENT))


def test_parts_fold_agents_into_the_parent_session() -> None:
    s = claude.parse(folded_payload())
    assert s.session_id == SESSION and s.project_path == "/home/dev/projects/api"
    assert s.model == "claude-sonnet-4-5"  # the agents' haiku is not the session's model
    assert s.bad_records == 0 and s.warnings == []
    own = [m for m in s.messages if not m.extra.get("sidechain")]
    assert [m.role for m in own] == ["user", "assistant", "tool", "assistant"]
    assert own[1].extra["tool_calls"][0]["name"] == "Task"
    agents = [m for m in s.messages if m.extra.get("sidechain")]
    assert [(m.extra["agent_id"], m.role) for m in agents] == [
        ("0c1d2e3f", "user"), ("0c1d2e3f", "assistant"), ("0c1d2e3f", "tool"),
        ("0c1d2e3f", "assistant"), ("9e8f7a6b", "user"), ("9e8f7a6b", "assistant"),
    ]
    assert agents[1].extra["tool_calls"] == [
        {"id": "toolu_O1", "name": "Bash", "input": {"command": "pytest --durations=5"}}
    ]
    assert agents[-1].text == "babel-loader runs without cacheDirectory"


def test_split_parts_gives_back_each_files_bytes() -> None:
    payload = folded_payload() + claude.part_line(None) + main_line("and now?")
    parts, last = claude.split_parts(payload)
    assert last is None
    assert parts == {
        None: fixture_bytes(f"{SID}.jsonl") + main_line("and now?"),
        OLD_AGENT: fixture_bytes(OLD_AGENT),
        NEW_AGENT: fixture_bytes(NEW_AGENT),
    }
    assert claude.has_parts(payload) and not claude.has_parts(fixture_bytes(f"{SID}.jsonl"))
    # back in the session's own part, messages are the session's again
    assert not claude.parse(payload).messages[-1].extra.get("sidechain")


def test_agent_lines_without_part_lines_are_still_marked() -> None:
    s = claude.parse(fixture_bytes(f"{SID}.jsonl") + fixture_bytes(OLD_AGENT))
    assert s.session_id == SESSION
    assert [m.extra.get("agent_id") for m in s.messages[4:]] == ["0c1d2e3f"] * 4


def test_part_line_is_deterministic_json() -> None:
    assert claude.part_line("agent-x.jsonl") == (
        b'{"lore_part":{"agent_id":"x","file":"agent-x.jsonl"}}\n')
    assert claude.part_line(None) == b'{"lore_part":{"file":null}}\n'


# --- discovery and the importer --------------------------------------------------------
def install(home: Path, *, agents: bool = True) -> Path:
    target = home / ".claude/projects" / PROJECT
    if agents:
        shutil.copytree(FIX / PROJECT, target)
    else:
        target.mkdir(parents=True)
        shutil.copy(FIX / PROJECT / f"{SID}.jsonl", target)
    return target


def test_discovery_lists_agent_files_with_their_parent_only(
    clean_env: Path, settings: Settings
) -> None:
    folder = install(clean_env)
    # an old-layout agent file whose parent is gone is not a session either
    shutil.copy(Path(__file__).parents[1] / "fixtures/variants/claude/agent-5a6b7c8d.jsonl",
                folder)
    found = sources.discover_claude(sources.Context(settings, {"HOME": str(clean_env)}))
    assert [s.files for s in found] == [
        (folder / f"{SID}.jsonl", folder / NEW_AGENT, folder / OLD_AGENT)
    ]


async def test_import_folds_agents_and_payload_reparses(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    install(clean_env)
    report = await import_all(store, settings)
    assert report.to_json() == {"imported": 1, "updated": 0, "unchanged": 0, "errors": []}
    assert [r.id for r in await store.list_sessions()] == [SESSION]
    msgs = await store.messages(SESSION)
    assert len(msgs) == 10
    assert sum(1 for m in msgs if m.extra.get("sidechain")) == 6
    payload = await store.load_payload(SESSION)
    again = parse_payload("claude-code", payload)  # what another machine does after a pull
    assert [(m.role, m.text, m.extra) for m in again.messages] == [
        (m.role, m.text, m.extra) for m in msgs
    ]
    assert (await import_all(store, settings)).to_json()["unchanged"] == 1


async def test_growing_agent_file_updates_parent_reading_only_new_bytes(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    folder = install(clean_env)
    await import_all(store, settings)
    extra = agent_line("also look at the ts-loader")
    with (folder / NEW_AGENT).open("ab") as fh:
        fh.write(extra)
    report = await import_all(store, settings)
    assert report.to_json()["updated"] == 1
    assert report.bytes_read <= len(extra) + 2 * importer.CHECK_WINDOW
    last = (await store.messages(SESSION))[-1]
    assert last.text == "also look at the ts-loader"
    assert last.extra["agent_id"] == "9e8f7a6b" and last.extra["sidechain"] is True
    # then the session's own file grows: read from its own offset, not mixed up
    more = main_line("thanks, apply it")
    with (folder / f"{SID}.jsonl").open("ab") as fh:
        fh.write(more)
    report = await import_all(store, settings)
    assert report.to_json()["updated"] == 1
    assert report.bytes_read <= len(more) + 2 * importer.CHECK_WINDOW
    last = (await store.messages(SESSION))[-1]
    assert last.text == "thanks, apply it" and "sidechain" not in last.extra
    parts, _ = claude.split_parts(await store.load_payload(SESSION))
    assert parts[None] == (folder / f"{SID}.jsonl").read_bytes()
    assert parts[NEW_AGENT] == (folder / NEW_AGENT).read_bytes()
    assert parts[OLD_AGENT] == (folder / OLD_AGENT).read_bytes()


async def test_agent_appearing_later_joins_a_captured_session(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    folder = install(clean_env, agents=False)
    await import_all(store, settings)
    assert len(await store.messages(SESSION)) == 4
    sub = folder / SID / "subagents"
    sub.mkdir(parents=True)
    (sub / "agent-9e8f7a6b.jsonl").write_bytes(agent_line("half") + b'{"type":"us')
    report = await import_all(store, settings)
    assert report.to_json()["updated"] == 1
    msgs = await store.messages(SESSION)
    assert [m.text for m in msgs[4:]] == ["half"]  # the unterminated line waits
    with (sub / "agent-9e8f7a6b.jsonl").open("ab") as fh:
        fh.write(b'er","sessionId":"' + SID.encode() + b'","message":{"content":"rest"}}\n')
    await import_all(store, settings)
    assert [m.text for m in (await store.messages(SESSION))[4:]] == ["half", "rest"]
    # the agent file removed by Claude Code: its messages stay, and the parent still grows
    shutil.rmtree(folder / SID)
    with (folder / f"{SID}.jsonl").open("ab") as fh:
        fh.write(main_line("still here"))
    await import_all(store, settings)
    assert [m.text for m in (await store.messages(SESSION))[4:]] == ["half", "rest",
                                                                     "still here"]


async def test_rewritten_agent_file_rebuilds_the_payload(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    folder = install(clean_env)
    await import_all(store, settings)
    (folder / OLD_AGENT).write_bytes(agent_line("replaced", agent="0c1d2e3f"))
    report = await import_all(store, settings)
    assert report.to_json()["updated"] == 1
    texts = [m.text for m in await store.messages(SESSION) if m.extra.get("agent_id") == "0c1d2e3f"]
    assert texts == ["replaced"]


async def test_watcher_brings_a_growing_agent_file_into_its_parent(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    folder = install(clean_env)
    watcher = CaptureWatcher(store, settings, debounce_ms=50)
    await watcher.start()
    try:
        async def last_text() -> str | None:
            msgs = await store.messages(SESSION)
            return msgs[-1].text if msgs else None

        deadline = time.monotonic() + 10
        while len(await store.messages(SESSION)) < 10 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # polling a condition with a deadline
        with (folder / NEW_AGENT).open("ab") as fh:
            fh.write(agent_line("seen by the watcher"))
        while await last_text() != "seen by the watcher" and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert await last_text() == "seen by the watcher"
        assert [r.id for r in await store.list_sessions()] == [SESSION]
    finally:
        await watcher.stop()
