"""Status and push tell the truth when the server is down or a session cannot go up."""

from __future__ import annotations

import json
from pathlib import Path

from tests.daemonproc import Machine
from tests.e2e.conftest import EMAIL, PASSWORD

PASSPHRASE = "correct horse battery"
FIX = Path(__file__).parents[1] / "fixtures"


def _transcript(m: Machine, sid: str, lines: int) -> None:
    folder = m.home / ".claude/projects/-home-dev-src-orbital"
    folder.mkdir(parents=True, exist_ok=True)
    rec = {"type": "user", "sessionId": sid, "cwd": "/home/dev/src/orbital",
           "timestamp": "2026-11-30T10:00:00.000Z",
           "message": {"role": "user", "content": "x" * 200}}
    text = "".join(json.dumps({**rec, "uuid": f"u{i}"}) + "\n" for i in range(lines))
    (folder / f"{sid}.jsonl").write_text(text)


def _machine(tmp_path: Path, url: str) -> Machine:
    m = Machine(tmp_path / "a", LORE_PASSWORD=PASSWORD, LORE_PASSPHRASE=PASSPHRASE)
    m.lorectl("login", "--server", url, "--email", EMAIL)
    return m


def test_push_with_the_server_down_fails_and_last_sync_stays(tmp_path: Path,
                                                              server: object) -> None:
    m = _machine(tmp_path, server.url)  # type: ignore[attr-defined]
    m.lorectl("push")  # sets up encryption; nothing to upload
    before = m.status()["local"]["last_sync"]
    assert before is not None
    server.stop()  # type: ignore[attr-defined]
    for cmd in ("push", "pull", "sync"):
        proc = m.lorectl(cmd, check=False)
        assert proc.returncode != 0, (cmd, proc.stdout)
        assert "Nothing to push" not in proc.stdout
        assert proc.stderr.startswith("error: cannot reach Lore Cloud"), proc.stderr
    doc = m.status()
    assert doc["local"]["last_sync"] == before  # only a completed sync moves it
    assert doc["cloud_error"] is not None


def test_a_too_large_session_is_counted_apart(tmp_path: Path) -> None:
    from tests.serverproc import start_server

    srv = start_server(tmp_path / "srv", max_session_bytes=4096)
    try:
        srv.add_user(EMAIL, PASSWORD)
        m = _machine(tmp_path, srv.url)
        _transcript(m, "5b7e1c2a-0000-4000-8000-00000000000a", 60)  # ~ 20 KB: too large
        _transcript(m, "5b7e1c2a-0000-4000-8000-00000000000b", 2)
        m.lorectl("import")
        out = m.lorectl("push")
        assert "Pushed 1 session" in out.stdout
        assert "exceeds the 4.1 KB upload limit; kept locally" in out.stderr, out.stderr
        doc = m.status()
        assert doc["local"]["pending_sync"] == 0
        assert doc["local"]["skipped_too_large"] == 1
        assert "Too large to sync: 1" in m.lorectl("status").stdout
        again = m.lorectl("push")
        assert "Nothing pushed: 1 session skipped" in again.stdout
    finally:
        srv.stop()
