"""`lorectl mcp` end to end: a real subprocess driven by the MCP SDK's own stdio client.

Machine A works in ``~/src/orbital`` (a git checkout) and pushes; machine B, whose
checkout of the same remote is ``~/work/orbital``, pulls. On B the MCP server lists,
searches and reads A's session, finds it through ``project_history`` of B's own
checkout (matched by git remote), answers bad calls with tool errors, never writes
the store, and exits 0 when stdin closes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.sync.machines import LorectlMachine, wait_for

SID = "4d5e6f70-8192-4a3b-8c4d-5e6f708192a3"
REMOTE = "git@example.com:dev/orbital.git"
LORECTL = str(Path(sys.executable).parent / "lorectl")


def checkout(home: Path, rel: str) -> Path:
    path = home / rel
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "remote", "add", "origin", REMOTE], check=True)
    return path


def claude_session(a: LorectlMachine, cwd: Path) -> None:
    folder = a.claude / "projects" / str(cwd).replace("/", "-")
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        {"type": "user", "sessionId": SID, "cwd": str(cwd), "timestamp":
         "2026-11-20T10:00:00.000Z", "message": {"role": "user", "content":
                                                 "what did we decide about pagination?"}},
        {"type": "assistant", "sessionId": SID, "cwd": str(cwd), "timestamp":
         "2026-11-20T10:00:05.000Z", "message": {"id": "m1", "role": "assistant",
         "model": "claude-sonnet-4", "content": [
             {"type": "text", "text": "We chose keyset pagination with an opaque cursor."},
             {"type": "tool_use", "id": "t1", "name": "Read",
              "input": {"file_path": "api.py"}}]}},
    ]
    (folder / f"{SID}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


async def _drive(b: LorectlMachine, b_checkout: Path) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=LORECTL, args=["mcp"], env=b.env(),
                                   cwd=str(b.root))
    out: dict[str, Any] = {}
    started = time.perf_counter()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
        await s.initialize()
        tools = await s.list_tools()
        out["first_answer_s"] = time.perf_counter() - started
        out["tools"] = sorted(t.name for t in tools.tools)

        async def call(name: str, **args: Any) -> tuple[bool, Any]:
            res = await s.call_tool(name, args)
            text = res.content[0].text if res.content else ""
            try:
                return bool(res.isError), json.loads(text)
            except ValueError:
                return bool(res.isError), text

        out["list"] = await call("list_sessions")
        out["list_tool"] = await call("list_sessions", tool="codex")
        out["search"] = await call("search_sessions", query="keyset pagination")
        out["get"] = await call("get_session", session_id=f"claude-code:{SID[:8]}")
        out["page"] = await call("get_session", session_id=f"claude-code:{SID}", offset=1,
                                 limit=1)
        out["history"] = await call("project_history", path=str(b_checkout))
        out["unknown"] = await call("get_session", session_id="claude-code:nope")
        out["bad_since"] = await call("list_sessions", since="last tuesday-ish")
        out["bad_limit"] = await call("search_sessions", query="x", limit=-3)
        out["still_up"] = await call("list_sessions", limit=1)
    return out


def test_mcp_server_answers_from_sessions_of_another_machine(tmp_path: Path,
                                                             server: Any) -> None:
    a = LorectlMachine(tmp_path, "a", server_url=server.url)
    b = LorectlMachine(tmp_path, "b", server_url=server.url)
    a.login()
    b.login()
    claude_session(a, checkout(a.home, "src/orbital"))
    assert a.json("import")["imported"] == 1
    assert a.json("push")["pushed"] == 1
    assert b.json("pull")["pulled"] == 1
    b_checkout = checkout(b.home, "work/orbital")
    db = b.lore_home / "sessions.db"
    before = hashlib.sha256(db.read_bytes()).hexdigest()

    out = asyncio.run(_drive(b, b_checkout))

    assert out["tools"] == ["get_session", "list_sessions", "project_history",
                            "search_sessions"]
    err, listed = out["list"]
    assert not err and listed["total"] == 1 and listed["more"] == 0
    row = listed["sessions"][0]
    a_id = a.json("status")["machine"]["id"]
    assert row["session_id"] == f"claude-code:{SID}" and isinstance(row["machine"], str)
    assert b.db("SELECT origin_machine_id FROM sessions")[0][0] == a_id
    assert row["local"] is False and row["git_remote"] == "example.com/dev/orbital"
    assert out["list_tool"][1]["sessions"] == []
    err, found = out["search"]
    assert not err and found["results"][0]["session_id"] == f"claude-code:{SID}"
    assert "keyset" in found["results"][0]["snippet"]  # not indexed yet: scanned
    err, got = out["get"]
    assert not err and [m["role"] for m in got["messages"]] == ["user", "assistant"]
    assert got["messages"][1]["tool_calls"] == ["Read"] and got["more"] == 0
    err, page = out["page"]
    assert not err and [m["index"] for m in page["messages"]] == [1] and page["more"] == 0
    err, hist = out["history"]
    assert not err and hist["git_remote"] == "example.com/dev/orbital"
    assert [s["session_id"] for s in hist["sessions"]] == [f"claude-code:{SID}"]
    for key, words in (("unknown", "no session"), ("bad_since", "not a date"),
                       ("bad_limit", "positive integer")):
        err, text = out[key]
        assert err and words in str(text), (key, text)
    assert not out["still_up"][0]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # never writes
    print(f"first answer after {out['first_answer_s'] * 1000:.0f} ms")


def test_mcp_answers_are_redacted_whatever_the_local_mode_while_lored_runs(
        tmp_path: Path) -> None:
    from tests.e2e.test_secrets_redaction import planted

    a = LorectlMachine(tmp_path, "a")
    cwd = checkout(a.home, "src/orbital")
    claude_session(a, cwd)
    text, secrets = planted()
    path = next(a.claude.rglob(f"{SID}.jsonl"))
    with path.open("a") as fh:
        fh.write(json.dumps({"type": "user", "sessionId": SID, "cwd": str(cwd), "timestamp":
                             "2026-11-20T10:01:00.000Z", "message": {
                                 "role": "user", "content": "keyset pagination " + text}})
                 + "\n")
    assert a.json("import")["imported"] == 1
    assert secrets["github-token"] in json.dumps(a.show(f"claude-code:{SID}"))  # kept here

    # while lored runs (it holds the store open for writing, WAL): the server still answers
    lored = subprocess.Popen([str(Path(LORECTL).parent / "lored")], env=a.env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: a.json("status")["daemon"]["running"], what="lored answering")
        out = asyncio.run(_drive(a, cwd))
        assert lored.poll() is None
    finally:
        lored.terminate()
        lored.wait(20)

    answers = json.dumps({k: v for k, v in out.items() if k != "first_answer_s"})
    assert [k for k, v in secrets.items() if v[:16] in answers] == []
    err, got = out["get"]
    assert not err and "[REDACTED:github-token:" in got["messages"][2]["text"]
    err, found = out["search"]
    assert not err and found["results"] and "pagination" in answers


def test_mcp_closed_stdin_exits_zero_and_print_config(tmp_path: Path) -> None:
    m = LorectlMachine(tmp_path, "m")
    m.run("import")
    proc = subprocess.run([LORECTL, "mcp"], env=m.env(), input="", capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    claude = m.run("mcp", "--print-config", "claude").stdout
    assert "claude mcp add lore -- " in claude and " mcp" in claude
    assert "[mcp_servers.lore]" in m.run("mcp", "--print-config", "codex").stdout
    assert '"mcpServers"' in m.run("mcp", "--print-config", "gemini").stdout
    bad = m.run("mcp", "--print-config", "emacs", check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
