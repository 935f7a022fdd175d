"""End to end: resume anywhere. A real `lore-server`; machines A and B drive `lorectl`.

A and B have different home folders and each its own `git init` checkout of the same
project (same remote, spelled differently). A's Claude Code and Codex sessions reach B,
B restores them where the tools look, continues one, and the continuation comes back to
A as B's fork while A's own session stays exactly as it was.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lored.capture.registry import parse_payload
from lored.restore.paths import escape_claude_project
from tests.sync.machines import LorectlMachine
from tests.sync.sessions import lines, native_id

EMAIL = "dev@example.com"
PASSWORD = "account-password-1"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIX_ROOT = "/home/dev/projects/webapp"
CLAUDE_FIX = next((FIXTURES / "claude/projects").rglob("*.jsonl"))
CODEX_FIX = next((FIXTURES / "codex/sessions").rglob("*.jsonl"))
GEMINI_FIX = FIXTURES / "gemini/tmp/webapp/chats"
CLAUDE_NATIVE = CLAUDE_FIX.stem
CLAUDE_SID = f"claude-code:{CLAUDE_NATIVE}"
CODEX_SID = "codex:0197a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d"


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


def checkout(m: LorectlMachine, rel: str, remote: str) -> Path:
    """A real git checkout in the machine's home with ``origin`` = ``remote``."""
    path = m.home / rel
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "remote", "add", "origin", remote], check=True)
    return path


def claude_file(m: LorectlMachine, project: Path, native: str) -> Path:
    return m.claude / "projects" / escape_claude_project(str(project)) / f"{native}.jsonl"


def put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def error_lines(proc: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """The one `error:` and one `hint:` line of a refused command."""
    assert proc.returncode != 0, proc
    lines_ = proc.stderr.strip().splitlines()
    errors = [ln for ln in lines_ if ln.startswith("error: ")]
    hints = [ln for ln in lines_ if ln.startswith("hint: ")]
    assert len(errors) == 1 and len(hints) == 1, proc.stderr
    return errors[0], hints[0]


def texts(messages: list[dict[str, Any]], old: str = "", new: str = "") -> list[tuple[str, str]]:
    return [(m["role"], m["text"].replace(old, new) if old else m["text"]) for m in messages]


def test_pulled_sessions_resume_on_another_machine_and_forks_come_back(
        tmp_path: Path, server: Any) -> None:
    a = LorectlMachine(tmp_path, "a", server_url=server.url)
    b = LorectlMachine(tmp_path, "b", server_url=server.url)
    a_repo = checkout(a, "src/webapp", "git@example.com:dev/webapp.git")
    b_repo = checkout(b, "work/clients/webapp", "https://example.com/dev/webapp")
    old, new = str(a_repo), str(b_repo)

    # A works in its checkout with Claude Code and Codex (fixtures moved onto A's paths)
    put(claude_file(a, a_repo, CLAUDE_NATIVE),
        CLAUDE_FIX.read_bytes().replace(FIX_ROOT.encode(), old.encode()))
    codex_rel = CODEX_FIX.relative_to(FIXTURES / "codex")
    put(a.home / ".codex" / codex_rel, CODEX_FIX.read_bytes().replace(FIX_ROOT.encode(),
                                                                     old.encode()))
    # …in a project B has never checked out, and with Gemini (not restorable yet)
    elsewhere = native_id("elsewhere")
    put(claude_file(a, a.home / "src/secret-tool", elsewhere),
        lines("elsewhere", 2, project=str(a.home / "src/secret-tool")))
    for f in GEMINI_FIX.iterdir():
        put(a.home / ".gemini/tmp/webapp/chats" / f.name, f.read_bytes())
    put(a.home / ".gemini/tmp/webapp/.project_root", old.encode())
    # B has worked in its own checkout before: that is how B's copy of the project is known
    b_native = native_id("b-own")
    put(claude_file(b, b_repo, b_native), lines("b-own", 2, project=new))

    for m in (a, b):
        m.login(EMAIL)
    assert a.json("import")["imported"] == 4
    assert b.json("import")["imported"] == 1
    pushed = a.json("push")
    assert CLAUDE_SID in pushed["sessions"] and CODEX_SID in pushed["sessions"]
    gemini_sid = next(s for s in pushed["sessions"] if s.startswith("gemini:"))
    assert set(b.json("pull")["sessions"]) == set(pushed["sessions"])
    a_original = {sid: a.show(sid) for sid in (CLAUDE_SID, CODEX_SID)}
    a_hash = a.db("SELECT payload_hash FROM sessions WHERE id = ?", (CLAUDE_SID,))
    # both "machines" share this file system: A's checkout must not be visible to B
    shutil.rmtree(a_repo)

    # B restores both where the tools look, moved onto B's checkout
    got = b.json("sessions", "restore", CLAUDE_NATIVE[:13])
    want = claude_file(b, b_repo, CLAUDE_NATIVE)
    assert got == {**got, "session_id": CLAUDE_SID, "tool": "claude-code", "path": str(want),
                   "project_path": new, "written": True, "origin_project_path": old}
    got_cx = b.json("sessions", "restore", CODEX_SID, TZ="UTC")
    want_cx = b.home / ".codex" / codex_rel
    assert (got_cx["path"], got_cx["written"], got_cx["mapping"]) == (
        str(want_cx), True, "git remote")
    for sid, tool, path in ((CLAUDE_SID, "claude-code", want), (CODEX_SID, "codex", want_cx)):
        data = path.read_bytes()
        assert old.encode() not in data
        records = [json.loads(ln) for ln in data.splitlines() if ln.strip()]
        cwds = [r.get("cwd") or (r.get("payload") or {}).get("cwd") for r in records]
        assert {c for c in cwds if c} == {new}
        parsed = parse_payload(tool, data)
        assert parsed.session_id == sid and parsed.bad_records == 0
        assert parsed.project_path == new
        assert [(m.role, m.text) for m in parsed.messages] == texts(
            a_original[sid]["messages"], old, new)
    again = b.json("sessions", "restore", CLAUDE_SID)
    assert again["written"] is False and again["path"] == str(want)
    assert b.json("import")["imported"] == 0  # restored files are the pulled sessions
    assert not b.sessions()[CLAUDE_SID]["local"]

    # B continues the Claude Code session: a fork of B's, synced back to A
    with want.open("ab") as fh:
        fh.write(lines("cont", 2, project=new).replace(
            native_id("cont").encode(), CLAUDE_NATIVE.encode()))
    assert b.json("import")["imported"] == 1
    b_id = b.json("status")["machine"]["id"]
    fork = f"{CLAUDE_SID}@{b_id.replace('-', '')[:8]}"
    b_own = f"claude-code:{b_native}"
    assert set(b.json("sync")["push"]["sessions"]) == {fork, b_own}
    assert set(a.json("pull")["sessions"]) == {fork, b_own}
    shown = a.show(fork)
    assert shown["forked_from"] == CLAUDE_SID and not shown["local"]
    assert shown["origin_machine_id"] == b_id
    assert texts(shown["messages"])[-2:] == [
        ("user", " message 0 of cont"), ("assistant", " message 1 of cont")]
    # B goes on: the same fork grows (stable id), and only its new tail travels
    with want.open("ab") as fh:
        fh.write(lines("cont", 1, start=2, project=new).replace(
            native_id("cont").encode(), CLAUDE_NATIVE.encode()))
    assert b.json("import")["updated"] == 1
    assert b.json("push")["sessions"] == [fork]
    assert a.json("pull")["sessions"] == [fork]
    assert len(a.show(fork)["messages"]) == len(shown["messages"]) + 1
    assert a.show(CLAUDE_SID) == a_original[CLAUDE_SID]  # A's own session is untouched
    assert a.db("SELECT payload_hash FROM sessions WHERE id = ?", (CLAUDE_SID,)) == a_hash
    assert a.json("push")["pushed"] == 0

    # refusals: one sentence, a hint, a non-zero exit
    err, hint = error_lines(b.run("sessions", "restore", f"claude-code:{elsewhere}",
                                  check=False))
    assert "secret-tool does not exist on this machine" in err and "--to PATH" in hint
    target = put(claude_file(b, b_repo, elsewhere), b'{"type":"user","mine":true}\n')
    err, hint = error_lines(b.run("sessions", "restore", f"claude-code:{elsewhere}",
                                  "--to", new, check=False))
    assert "already exists and differs" in err and "--force" in hint
    assert target.read_bytes() == b'{"type":"user","mine":true}\n'
    forced = b.run("sessions", "restore", f"claude-code:{elsewhere}", "--to", new, "--force",
                   "--json")
    assert "warning: replaced" in forced.stderr and json.loads(forced.stdout)["written"]
    # the replaced file is kept beside it
    assert target.with_name(target.name + ".bak").read_bytes() == b'{"type":"user","mine":true}\n'
    # Gemini's session (its folder known only from A's .project_root) maps the same way
    gem = b.json("sessions", "restore", gemini_sid)
    assert gem["written"] and gem["project_path"] == new and gem["mapping"] == "git remote"
