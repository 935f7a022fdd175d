"""Every capture tool syncs: real `lore-server` and two `lorectl` machines.

Machine A holds sessions of all five tools (Claude Code with sub-agents, Codex, Gemini
CLI JSON and JSONL, Aider via ``[capture] aider_roots``, an OpenCode storage tree),
imports and pushes them; B pulls and shows every session exactly as A does. Then one
session of each tool grows on A and B receives the tail.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.sync.machines import LorectlMachine

EMAIL = "dev@example.com"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TOOLS = {"claude-code", "codex", "gemini", "aider", "opencode"}
CLAUDE_SID = "3f2b9c1e-7a4d-4e8b-9c2a-5d1e6f7a8b90"
AGENTS_SID = "a9e1c2d3-4b5f-4a6b-8c7d-9e0f1a2b3c4d"
OC_SID = "ses_e2eSynth0001"
#: what `sessions show --json` must agree on between the origin and a puller
SAME = ("id", "tool", "title", "project_path", "model", "started_at", "message_count",
        "messages")


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def opencode_message(storage: Path, mid: str, role: str, text: str, created: int,
                     tool: dict[str, Any] | None = None) -> None:
    msg: dict[str, Any] = {"id": mid, "sessionID": OC_SID, "role": role,
                           "time": {"created": created}}
    if role == "assistant":
        msg |= {"modelID": "claude-sonnet-4", "providerID": "anthropic"}
    write_json(storage / "message" / OC_SID / f"{mid}.json", msg)
    parts = [{"id": f"prt_{mid}_t", "messageID": mid, "sessionID": OC_SID, "type": "text",
              "text": text}]
    if tool:
        parts.append({"id": f"prt_{mid}_u", "messageID": mid, "sessionID": OC_SID,
                      "type": "tool", **tool})
    for part in parts:
        write_json(storage / "part" / mid / f"{part['id']}.json", part)


def setup_machine_a(a: LorectlMachine) -> dict[str, Path]:
    """Every tool's files in A's HOME; returns the files that grow later."""
    home = a.home
    a.copy_fixtures(FIXTURES)
    shutil.copytree(FIXTURES / "variants/claude/with-agents", a.claude / "projects",
                    dirs_exist_ok=True)
    shutil.copytree(FIXTURES / "codex", home / ".codex")
    shutil.copytree(FIXTURES / "gemini", home / ".gemini")
    aider_root = home / "projects/webapp"
    shutil.copytree(FIXTURES / "aider/home/dev/projects/webapp", aider_root)
    storage = home / ".local/share/opencode/storage"
    write_json(storage / "session/4b1e9d0c" / f"{OC_SID}.json", {
        "id": OC_SID, "projectID": "4b1e9d0c", "directory": "/home/dev/projects/webapp",
        "title": "Fix flaky test", "version": "0.9.1",
        "time": {"created": 1749900000000, "updated": 1749900060000}})
    opencode_message(storage, "msg_001", "user", "Why does test_login flake?", 1749900005000)
    opencode_message(storage, "msg_002", "assistant", "It races the login timer.",
                     1749900010000, tool={"callID": "call_1", "tool": "read", "state": {
                         "status": "completed", "input": {"filePath": "t.py"},
                         "output": "time.sleep(0.1)"}})
    config = a.lore_home / "config.toml"
    existing = config.read_text() if config.exists() else ""
    config.write_text(existing + f'\n[capture]\naider_roots = ["{aider_root}"]\n')
    project = a.claude / "projects"
    return {
        "claude": project / "-home-dev-projects-webapp" / f"{CLAUDE_SID}.jsonl",
        "agent": project / "-home-dev-projects-api" / AGENTS_SID / "subagents"
        / "agent-9e8f7a6b.jsonl",
        "codex": next((home / ".codex/sessions").rglob("rollout-*.jsonl")),
        "gemini": next((home / ".gemini/tmp/webapp/chats").glob("*.jsonl")),
        "aider": aider_root / ".aider.chat.history.md",
        "opencode": storage,
    }


def line(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode() + b"\n"


def grow(files: dict[str, Path]) -> dict[str, str]:
    """Append one message to a session of each tool; returns tool -> the new text."""
    texts = {t: f"grown tail of the {t} session" for t in
             ("claude", "agent", "codex", "gemini", "aider", "opencode")}
    with files["claude"].open("ab") as fh:
        fh.write(line({"type": "user", "sessionId": CLAUDE_SID, "timestamp":
                       "2025-06-14T09:20:00.000Z", "cwd": "/home/dev/projects/webapp",
                       "message": {"role": "user", "content": texts["claude"]}}))
    with files["agent"].open("ab") as fh:
        fh.write(line({"type": "user", "sessionId": AGENTS_SID, "isSidechain": True,
                       "agentId": "9e8f7a6b", "timestamp": "2025-09-02T10:05:00.000Z",
                       "message": {"role": "user", "content": texts["agent"]}}))
    with files["codex"].open("ab") as fh:
        fh.write(line({"timestamp": "2025-06-14T10:09:00.000Z", "type": "response_item",
                       "payload": {"type": "message", "role": "assistant", "content": [
                           {"type": "output_text", "text": texts["codex"]}]}}))
    with files["gemini"].open("ab") as fh:
        fh.write(line({"id": "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", "type": "user",
                       "timestamp": "2026-02-03T08:16:00.000Z",
                       "content": [{"text": texts["gemini"]}]}))
    with files["aider"].open("a") as fh:
        fh.write(f"\n#### {texts['aider']}  \n")
    opencode_message(files["opencode"], "msg_003", "user", texts["opencode"], 1749900090000)
    return texts


def same(m: LorectlMachine, sid: str) -> dict[str, Any]:
    shown = m.show(sid)
    return {k: shown[k] for k in SAME}


def test_sessions_of_every_tool_push_pull_and_grow(tmp_path: Path, server: Any) -> None:
    a = LorectlMachine(tmp_path, "a", server_url=server.url)
    b = LorectlMachine(tmp_path, "b", server_url=server.url)
    a.login(EMAIL)
    b.login(EMAIL)
    files = setup_machine_a(a)
    imported = a.json("import")
    assert imported["errors"] == [] and imported["imported"] == 8, imported
    listed = a.sessions()
    assert {s["tool"] for s in listed.values()} == TOOLS
    assert len(listed) == imported["imported"]
    # sub-agents are folded into their parent, never sessions of their own
    assert {sid for sid in listed if sid.startswith("claude-code:")} == {
        f"claude-code:{x}" for x in (AGENTS_SID, CLAUDE_SID)}
    assert sorted(s["tool"] for s in listed.values()) == [
        "aider", "aider", "claude-code", "claude-code", "codex", "gemini", "gemini", "opencode"]
    pushed = a.json("push")
    assert set(pushed["sessions"]) == set(listed) and pushed["skipped"] == []

    pulled = b.json("pull")
    assert set(pulled["sessions"]) == set(listed) and pulled["failed"] == []
    for sid in listed:
        theirs = same(b, sid)
        assert theirs == same(a, sid), sid
        assert theirs["messages"], sid
    agents = b.show(f"claude-code:{AGENTS_SID}")["messages"]
    assert {m.get("agent_id") for m in agents if m.get("sidechain")} == {"0c1d2e3f", "9e8f7a6b"}
    assert any(m.get("tool_calls") for m in b.show(f"opencode:{OC_SID}")["messages"])

    # one session of every tool grows on A: B receives the tails
    texts = grow(files)
    again = a.json("import")
    assert again["errors"] == [] and again["imported"] == 0 and again["updated"] == 6, again
    grown = a.json("push")["sessions"]
    assert len(grown) == 6
    assert {s.split(":", 1)[0] for s in grown} == TOOLS
    got = b.json("pull")
    assert set(got["sessions"]) == set(grown) and got["failed"] == []
    tails = set()
    for sid in grown:
        assert same(b, sid) == same(a, sid), sid
        tails |= {m["text"] for m in b.show(sid)["messages"][-1:]}
    assert tails == set(texts.values())
    assert b.json("pull")["pulled"] == 0
