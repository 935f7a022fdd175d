"""End to end: `lorectl resume` on another machine, for every tool Lore restores.

A real `lore-server`; machines A and B are real `lorectl` processes with different HOME
folders. A works in `~/src/orbital` (remote `git@example.com:dev/orbital.git`) with
Claude Code, Codex, Gemini CLI, OpenCode and Aider; B's checkout of the same remote is
`~/work/orbital` and B has never worked in it (no session of B's names it). None of
A's transcripts records the remote: capture reads it from `.git/config` and it travels
sealed. After the pull A's checkout is removed (both "machines" share this file system),
so only the remote can lead B to its own checkout: found by the scan of code roots.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lored.restore.paths import escape_claude_project
from tests.sync.machines import LorectlMachine

EMAIL = "dev@example.com"
PASSWORD = "account-password-1"
CLAUDE_ID = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
CODEX_ID = "0197b000-1111-7222-8333-944445555666"
GEMINI_ID = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
OC_ID = "ses_resume0001"
REMOTE = "example.com/dev/orbital"
#: tool -> (session id on A, the argv of its resume command)
EXPECTED = {
    "claude-code": (f"claude-code:{CLAUDE_ID}", ["claude", "--resume", CLAUDE_ID]),
    "codex": (f"codex:{CODEX_ID}", ["codex", "resume", CODEX_ID]),
    "gemini": (f"gemini:{GEMINI_ID}", ["gemini", "--resume", GEMINI_ID]),
    "opencode": (f"opencode:{OC_ID}", ["opencode", "--session", OC_ID]),
}
FAKE_TOOL = """#!{python}
import json, os, sys
with open(os.environ["RESUME_RECORD"], "a") as fh:
    fh.write(json.dumps({{"argv": [os.path.basename(sys.argv[0]), *sys.argv[1:]],
                         "cwd": os.getcwd()}}) + "\\n")
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    """A real `lore-server` subprocess with one account."""
    from tests.serverproc import start_server

    srv = start_server(tmp_path / "server")
    try:
        srv.add_user(EMAIL, PASSWORD)
        yield srv
    finally:
        srv.stop()


def checkout(home: Path, rel: str, remote: str) -> Path:
    """A real `git init` checkout with ``origin`` = ``remote``."""
    path = home / rel
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "remote", "add", "origin", remote], check=True)
    return path


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def jsonl(*records: dict[str, Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def tools_on_a(a: LorectlMachine, repo: Path) -> dict[str, Path]:
    """One session per tool in A's checkout; each names a file by its absolute path."""
    home, p, f = a.home, str(repo), str(repo / "orbit.py")
    config = a.lore_home / "config.toml"
    write(config, (config.read_text() if config.exists() else "")
          + f'\n[capture]\naider_roots = ["{repo}"]\n')
    files = {}
    files["claude-code"] = write(
        home / ".claude/projects" / escape_claude_project(p) / f"{CLAUDE_ID}.jsonl", jsonl(
            {"type": "user", "sessionId": CLAUDE_ID, "cwd": p, "uuid": "u1",
             "timestamp": "2025-06-14T09:00:00.000Z",
             "message": {"role": "user", "content": "Why is the orbit drifting?"}},
            {"type": "assistant", "sessionId": CLAUDE_ID, "cwd": p, "uuid": "u2",
             "timestamp": "2025-06-14T09:00:05.000Z",
             "message": {"role": "assistant", "model": "claude-sonnet-4", "content": [
                 {"type": "text", "text": "Let me read the integrator."},
                 {"type": "tool_use", "id": "t1", "name": "Read",
                  "input": {"file_path": f}}]}}))
    files["codex"] = write(
        home / f".codex/sessions/2025/06/14/rollout-2025-06-14T10-00-00-{CODEX_ID}.jsonl",
        jsonl({"timestamp": "2025-06-14T10:00:00.000Z", "type": "session_meta",
               "payload": {"id": CODEX_ID, "timestamp": "2025-06-14T10:00:00.000Z",
                           "cwd": p, "cli_version": "0.39.0"}},
              {"timestamp": "2025-06-14T10:00:01.000Z", "type": "response_item",
               "payload": {"type": "message", "role": "user",
                           "content": [{"type": "input_text", "text": "Fix the drift."}]}},
              {"timestamp": "2025-06-14T10:00:02.000Z", "type": "response_item",
               "payload": {"type": "function_call", "name": "shell", "call_id": "c1",
                           "arguments": json.dumps({"command": ["cat", f]})}}))
    folder = home / ".gemini/tmp" / hashlib.sha256(p.encode()).hexdigest()
    write(folder / ".project_root", p)
    files["gemini"] = write(folder / "chats/session-2025-06-14T11-00-5e6f7a8b.json", json.dumps({
        "sessionId": GEMINI_ID, "projectHash": hashlib.sha256(p.encode()).hexdigest(),
        "startTime": "2025-06-14T11:00:00.000Z", "lastUpdated": "2025-06-14T11:00:09.000Z",
        "messages": [
            {"id": "g1", "timestamp": "2025-06-14T11:00:00.000Z", "type": "user",
             "content": [{"text": "Explain the orbit module."}]},
            {"id": "g2", "timestamp": "2025-06-14T11:00:09.000Z", "type": "gemini",
             "content": "It integrates positions.", "toolCalls": [
                 {"id": "r1", "name": "read_file", "args": {"absolute_path": f},
                  "status": "success", "result": [{"functionResponse": {
                      "id": "r1", "name": "read_file", "response": {"output": "x = 1"}}}]}]},
        ]}, indent=2))
    storage = home / ".local/share/opencode/storage"
    files["opencode"] = write(storage / "session/global" / f"{OC_ID}.json", json.dumps({
        "id": OC_ID, "projectID": "global", "directory": p, "title": "Orbit drift",
        "version": "0.9.1", "time": {"created": 1749900000000, "updated": 1749900060000}}))
    write(storage / "message" / OC_ID / "msg_001.json", json.dumps({
        "id": "msg_001", "sessionID": OC_ID, "role": "user", "time": {"created": 1749900005000}}))
    write(storage / "part/msg_001/prt_001.json", json.dumps({
        "id": "prt_001", "messageID": "msg_001", "sessionID": OC_ID, "type": "text",
        "text": "Why does the orbit drift?"}))
    write(storage / "message" / OC_ID / "msg_002.json", json.dumps({
        "id": "msg_002", "sessionID": OC_ID, "role": "assistant", "modelID": "m",
        "providerID": "p", "path": {"cwd": p, "root": p}, "time": {"created": 1749900010000}}))
    write(storage / "part/msg_002/prt_002.json", json.dumps({
        "id": "prt_002", "messageID": "msg_002", "sessionID": OC_ID, "type": "tool",
        "callID": "c1", "tool": "read", "state": {"status": "completed",
                                                  "input": {"filePath": f}, "output": "x"}}))
    files["aider"] = write(repo / ".aider.chat.history.md", (
        "\n# aider chat started at 2025-06-14 14:05:31\n\n"
        f"> {home}/.local/bin/aider orbit.py  \n> Aider v0.84.0  \n"
        "> Main model: sonnet with diff edit format  \n\n"
        "#### Make the step size adaptive.  \n\n"
        "Use an error estimate to pick the step.\n\n"
        f"> Applied edit to {f}  \n"))
    return files


def test_resume_on_a_machine_whose_checkout_is_elsewhere(tmp_path: Path, server: Any) -> None:
    a = LorectlMachine(tmp_path, "a", server_url=server.url)
    b = LorectlMachine(tmp_path, "b", server_url=server.url)
    a_repo = checkout(a.home, "src/orbital", "git@example.com:dev/orbital.git")
    b_repo = checkout(b.home, "work/orbital", "https://example.com/dev/orbital.git")
    old, new = str(a_repo), str(b_repo)
    files = tools_on_a(a, a_repo)
    originals = {tool: path.read_bytes() for tool, path in files.items()}
    for m in (a, b):
        m.login(EMAIL)
    assert a.json("import")["imported"] == 5
    pushed = set(a.json("push")["sessions"])
    assert {sid for sid, _ in EXPECTED.values()} < pushed
    aider_sid = next(s for s in pushed if s.startswith("aider:"))
    assert set(b.json("pull")["sessions"]) == pushed
    shutil.rmtree(a_repo)  # B must find its own checkout, not A's

    for tool, (sid, argv) in [*EXPECTED.items(), ("aider", (aider_sid, ["aider",
                                                                         "--restore-chat-history"]))]:
        assert b.show(sid)["git_remote"] == REMOTE, tool  # sealed, kept by the pull
        plan = b.json("resume", sid, "--print", "--json")
        assert set(plan) == {"session_id", "tool", "cwd", "command", "restored_to"}
        assert (plan["session_id"], plan["tool"], plan["cwd"], plan["command"]) == (
            sid, tool, new, argv), tool
        restored = Path(plan["restored_to"])
        assert restored.is_file() and str(restored).startswith(str(b.home)), tool
        data = restored.read_bytes()
        assert old.encode() not in data, tool
        if tool in ("claude-code", "codex", "aider"):  # byte-identical but for the paths
            want = originals[tool].replace(old.encode(), new.encode())
            assert data == want.lstrip(b"\n") if tool == "aider" else data == want, tool
        elif tool == "gemini":  # the same document, its project hash moved with it
            doc = json.loads(originals[tool].decode().replace(old, new))
            doc["projectHash"] = hashlib.sha256(new.encode()).hexdigest()
            assert json.loads(data) == doc
            assert restored.parent.parent.name == hashlib.sha256(new.encode()).hexdigest()
        else:  # OpenCode: its session record, in B's project ("global": no commits yet)
            rec = json.loads(data)
            assert rec["directory"] == new and rec["projectID"] == "global"
            part = restored.parents[2] / "part/msg_002/prt_002.json"
            assert json.loads(part.read_text())["state"]["input"]["filePath"] == \
                f"{new}/orbit.py"
        again = b.json("resume", sid, "--print", "--json")
        assert again == plan  # nothing written twice
        assert b.run("resume", sid, "--print").stdout.strip() == (
            f"cd {new} && {' '.join(argv)}")
    assert b.json("import")["imported"] == 0  # restored files are the pulled sessions
    assert all(not s["local"] for s in b.sessions().values())

    # resume runs the tool itself, in B's checkout (fake programs record argv and cwd)
    fakebin = tmp_path / "fakebin"
    fakebin.mkdir()
    for name in ("claude", "codex", "gemini", "opencode", "aider"):
        exe = write(fakebin / name, FAKE_TOOL.format(python=shutil.which("python3")))
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    record = tmp_path / "record.jsonl"
    path_env = f"{fakebin}{os.pathsep}{os.environ['PATH']}"
    for sid, argv in (*EXPECTED.values(), (aider_sid, ["aider", "--restore-chat-history"])):
        b.run("resume", sid, PATH=path_env, RESUME_RECORD=str(record))
        assert json.loads(record.read_text().splitlines()[-1]) == {"argv": argv, "cwd": new}

    # the program missing: one sentence naming it, the session already restored
    claude_file = Path(b.json("resume", EXPECTED["claude-code"][0], "--json")["restored_to"])
    before = claude_file.stat().st_mtime_ns
    missing = b.run("resume", EXPECTED["claude-code"][0], check=False, PATH="/nonexistent")
    errors = [ln for ln in missing.stderr.splitlines() if ln.startswith(("error:", "hint:"))]
    assert missing.returncode != 0 and len(errors) == 2, missing.stderr
    assert "`claude` is not installed" in errors[0] and "Claude Code" in errors[1]
    assert "Traceback" not in missing.stderr
    assert claude_file.stat().st_mtime_ns == before


def test_auto_restore_after_pull_and_a_continued_aider_session_forks(
        tmp_path: Path, server: Any) -> None:
    a = LorectlMachine(tmp_path, "a", server_url=server.url)
    b = LorectlMachine(tmp_path, "b", server_url=server.url)
    a_repo = checkout(a.home, "src/orbital", "git@example.com:dev/orbital.git")
    b_repo = checkout(b.home, "code/orbital", "git@example.com:dev/orbital")
    tools_on_a(a, a_repo)
    for m in (a, b):
        m.login(EMAIL)
    config = b.lore_home / "config.toml"
    config.write_text(config.read_text() + "\n[restore]\nauto = true\n")
    a.json("import")
    a.json("push")
    shutil.rmtree(a_repo)
    pulled = b.json("pull")
    restored = {r["tool"]: r for r in pulled["restored"]}
    assert set(restored) == {"claude-code", "codex", "gemini", "opencode", "aider"}
    assert all(r["project_path"] == str(b_repo) for r in restored.values())
    claude_here = b.home / ".claude/projects" / escape_claude_project(str(b_repo)) / \
        f"{CLAUDE_ID}.jsonl"
    assert claude_here.is_file()
    assert b.json("import")["imported"] == 0

    # B continues the Aider session: a fork of B's, synced back; A's original untouched
    history = b_repo / ".aider.chat.history.md"
    aider_sid = restored["aider"]["session_id"]
    a_before = a.show(aider_sid)
    with history.open("a") as fh:
        fh.write("\n#### Also log the step size.  \n\nDone: it is logged at debug level.\n")
    config.write_text(config.read_text() + f'\n[capture]\naider_roots = ["{b_repo}"]\n')
    assert b.json("import")["imported"] == 1
    b_id = b.json("status")["machine"]["id"]
    fork = f"{aider_sid}@{b_id.replace('-', '')[:8]}"
    assert b.json("push")["sessions"] == [fork]
    assert fork in a.json("pull")["sessions"]
    shown = a.show(fork)
    assert shown["forked_from"] == aider_sid and not shown["local"]
    assert shown["messages"][-2]["text"].strip() == "Also log the step size."
    assert a.show(aider_sid) == a_before
