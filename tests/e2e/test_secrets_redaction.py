"""Secrets never travel (issue 17): a real `lore-server` and `lorectl` machines.

Secrets of every kind are planted in sessions of five tools on machine A. After A pushes
and B pulls, none appears on the server (byte audit of its data dir), in B's
``sessions.db``, in B's search results, nor in a transcript B restores; A (``redact =
"sync"``) still shows them, a machine with ``redact = "everywhere"`` does not hold them
at all. 20 appends to a redacted session upload only the new tails.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any

from tests.e2e.test_every_tool_syncs import CLAUDE_SID, line, opencode_message, setup_machine_a
from tests.sync.machines import LorectlMachine

EMAIL = "dev@example.com"
AN = string.ascii_letters + string.digits


def _rand(alphabet: str, n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


def planted(seed: int = 0) -> tuple[str, dict[str, str]]:
    """A text with one secret of every kind, and kind -> the secret part that must never
    travel (assembled at run time: no literal token sits in git)."""
    s = {
        "aws-access-key": "AK" + "IA" + _rand(string.ascii_uppercase + string.digits, 16, seed + 1),
        "aws-secret-key": _rand(AN + "/+", 40, seed + 2),
        "github-token": "gh" + "p_" + _rand(AN, 36, seed + 3),
        "gitlab-token": "gl" + "pat-" + _rand(AN, 20, seed + 4),
        "slack-token": "xo" + "xb-" + "1234567890-" + _rand(AN, 24, seed + 5),
        "stripe-key": "sk" + "_live_" + _rand(AN, 24, seed + 6),
        "openai-key": "sk-" + "proj-" + _rand(AN, 48, seed + 7),
        "anthropic-key": "sk-" + "ant-api03-" + _rand(AN, 90, seed + 8),
        "google-api-key": "AI" + "za" + _rand(AN, 35, seed + 9),
        "jwt": "ey" + "J" + _rand(AN, 20, seed + 10) + ".eyJ" + _rand(AN, 30, seed + 11) + "."
               + _rand(AN, 43, seed + 12),
        "url-password": _rand(AN, 16, seed + 13),
        "env-secret": _rand(AN, 20, seed + 14),
        "private-key": _rand(AN, 64, seed + 15),
    }
    text = (
        f"Found these in .env and the config:\nAWS_ACCESS_KEY_ID={s['aws-access-key']}\n"
        f"aws_secret_access_key = {s['aws-secret-key']}\n"
        f"GITHUB_TOKEN is {s['github-token']} and gitlab {s['gitlab-token']}\n"
        f"slack {s['slack-token']} stripe {s['stripe-key']}\n"
        f"openai {s['openai-key']} anthropic {s['anthropic-key']}\n"
        f"google {s['google-api-key']} jwt {s['jwt']}\n"
        f"postgres://app:{s['url-password']}@db.internal:5432/app\n"
        f"DATABASE_PASSWORD={s['env-secret']}\n"
        f"-----BEGIN RSA PRIVATE KEY-----\n{s['private-key']}\n-----END RSA PRIVATE KEY-----\n"
        "and the commit was 3f2b9c1e7a4d4e8b9c2a5d1e6f7a8b90aabbccdd (keep that)"
    )
    return text, s


def plant(files: dict[str, Path], text: str) -> None:
    """Append a message holding ``text`` to a session of each tool."""
    with files["claude"].open("ab") as fh:
        fh.write(line({"type": "user", "sessionId": CLAUDE_SID, "timestamp":
                       "2025-06-14T09:20:00.000Z", "cwd": "/home/dev/projects/webapp",
                       "message": {"role": "user", "content": text}}))
    with files["codex"].open("ab") as fh:
        fh.write(line({"timestamp": "2025-06-14T10:09:00.000Z", "type": "response_item",
                       "payload": {"type": "message", "role": "assistant", "content": [
                           {"type": "output_text", "text": text}]}}))
    with files["gemini"].open("ab") as fh:
        fh.write(line({"id": "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", "type": "user",
                       "timestamp": "2026-02-03T08:16:00.000Z", "content": [{"text": text}]}))
    with files["aider"].open("a") as fh:
        fh.write("\n#### please read my .env  \n\n" + text + "\n")
    opencode_message(files["opencode"], "msg_009", "user", text, 1749900090000)


def tree_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def leaked(blob: bytes, secrets: dict[str, str]) -> list[str]:
    return sorted(k for k, v in secrets.items() if v.encode() in blob)


def all_text(shown: dict[str, Any]) -> str:
    return json.dumps(shown)


def test_secrets_stay_on_the_machine_that_captured_them(tmp_path: Path, server: Any) -> None:
    a = LorectlMachine(tmp_path, "a", server_url=server.url)
    b = LorectlMachine(tmp_path, "b", server_url=server.url)
    a.login(EMAIL)
    b.login(EMAIL)
    files = setup_machine_a(a)
    text, secrets = planted()
    plant(files, text)
    assert a.json("import")["errors"] == []
    sids = set(a.sessions())
    planted_in = {sid for sid in sids if leaked(all_text(a.show(sid)).encode(), secrets)}
    tools = {sid.split(":", 1)[0] for sid in planted_in}
    assert tools == {"claude-code", "codex", "gemini", "aider", "opencode"}, tools

    # scan names kinds, counts and first lines -- never the secret, not even partly
    scan = a.run("secrets", "scan", "--json")
    doc = json.loads(scan.stdout)
    assert doc["sessions_scanned"] == len(sids)
    kinds = {f["kind"] for f in doc["findings"]}
    assert set(secrets) <= kinds, set(secrets) - kinds
    assert {f["session_id"] for f in doc["findings"]} >= planted_in
    assert all(f["count"] >= 1 and f["first_line"] >= 1 for f in doc["findings"])
    for value in secrets.values():
        assert value[:12] not in scan.stdout + scan.stderr

    pushed = a.json("push")
    assert set(pushed["sessions"]) == sids and pushed["skipped"] == []
    assert leaked(tree_bytes(server.data_dir), secrets) == []
    pulled = b.json("pull")
    assert pulled["failed"] == [] and set(pulled["sessions"]) == sids

    # B: no secret in its store, its search results, its views, or a restored transcript
    db_dir = b.lore_home
    assert leaked(tree_bytes(db_dir), secrets) == [], "B's data dir holds a secret"
    for sid in planted_in:
        shown = all_text(b.show(sid))
        assert leaked(shown.encode(), secrets) == [], sid
        assert "[REDACTED:" in shown and "3f2b9c1e7a4d4e8b9c2a5d1e6f7a8b90aabbccdd" in shown
    hits = b.json("search", "Found these")
    assert {h["session_id"] for h in hits} >= planted_in
    assert leaked(json.dumps(hits).encode(), secrets) == []
    (b.home / "src/webapp").mkdir(parents=True)
    got = b.json("sessions", "restore", f"claude-code:{CLAUDE_SID}", "--to",
                 str(b.home / "src/webapp"))
    restored = Path(got["path"]).read_bytes()
    assert leaked(restored, secrets) == []
    for raw in restored.splitlines():
        json.loads(raw)  # every line is still JSON the tool can open
    # A ("sync", the default) keeps its originals
    assert leaked(all_text(a.show(f"claude-code:{CLAUDE_SID}")).encode(), secrets) == sorted(
        secrets)

    # a machine with redact = "everywhere" never stores them, nor indexes them
    c = LorectlMachine(tmp_path, "c")
    files_c = setup_machine_a(c)
    config = c.lore_home / "config.toml"
    config.write_text(config.read_text() + '\n[privacy]\nredact = "everywhere"\n')
    plant(files_c, text)
    assert c.json("import")["errors"] == []
    assert leaked(tree_bytes(c.lore_home), secrets) == []
    assert "[REDACTED:" in all_text(c.show(f"claude-code:{CLAUDE_SID}"))
    assert c.json("secrets", "scan")["findings"] == []
    # and its next import is stable: nothing re-captured, no secret creeping back
    assert c.json("import")["updated"] == 0
    plant(files_c, planted(100)[0])
    assert c.json("import")["errors"] == []
    assert leaked(tree_bytes(c.lore_home), planted(100)[1] | secrets) == []


def test_appends_to_a_redacted_session_upload_only_their_tails(
        tmp_path: Path, server: Any) -> None:
    a = LorectlMachine(tmp_path, "a", server_url=server.url)
    a.login(EMAIL)
    head, secrets = planted()
    path = a.write_session(CLAUDE_SID, line({
        "type": "user", "sessionId": CLAUDE_SID, "timestamp": "2025-06-14T09:00:00.000Z",
        "cwd": "/home/dev/projects/webapp", "message": {"role": "user", "content": head}}))
    a.json("import")
    first = a.json("push")
    assert first["sessions"] == [f"claude-code:{CLAUDE_SID}"]
    total_tails = 0
    for i in range(20):
        text, more = planted(1000 + i)
        tail = line({"type": "assistant", "sessionId": CLAUDE_SID,
                     "timestamp": f"2025-06-14T09:{i + 1:02d}:00.000Z",
                     "message": {"role": "assistant", "content": f"reply {i}: {text}"}})
        with path.open("ab") as fh:
            fh.write(tail)
        secrets |= {f"{k}-{i}": v for k, v in more.items()}
        a.json("import")
        doc = a.json("push")
        assert doc["sessions"] == [f"claude-code:{CLAUDE_SID}"], doc
        # only the new (redacted, sealed) tail goes up: well under twice the tail itself,
        # far from the whole grown session
        assert 0 < doc["bytes_uploaded"] < 2 * len(tail) + 1024, (i, doc, len(tail))
        total_tails += len(tail)
    session_size = path.stat().st_size
    assert total_tails < session_size
    assert leaked(tree_bytes(server.data_dir), secrets) == []


def _set_mode(m: LorectlMachine, mode: str) -> None:
    config = m.lore_home / "config.toml"
    text = config.read_text()
    cut = text.find("\n[privacy]")
    config.write_text((text if cut < 0 else text[:cut]) + f'\n[privacy]\nredact = "{mode}"\n')


def test_turning_redaction_on_re_pushes_affected_sessions_once(
        tmp_path: Path, server: Any) -> None:
    a = LorectlMachine(tmp_path, "a", server_url=server.url)
    b = LorectlMachine(tmp_path, "b", server_url=server.url)
    a.login(EMAIL)
    b.login(EMAIL)
    text, secrets = planted()
    clean_sid, dirty_sid = "0d1e2f30-4152-4637-8899-aabbccddeeff", CLAUDE_SID
    for sid, content in ((clean_sid, "nothing secret here"), (dirty_sid, text)):
        a.write_session(sid, line({"type": "user", "sessionId": sid, "timestamp":
                                   "2025-06-14T09:00:00.000Z", "cwd": "/home/dev/p",
                                   "message": {"role": "user", "content": content}}))
    a.json("import")
    # at first nothing is redacted: the secret reaches B (what users had before issue 17)
    _set_mode(a, "off")
    assert len(a.json("push")["sessions"]) == 2
    b.json("pull")
    assert leaked(tree_bytes(b.lore_home), secrets) != []
    # redaction on: the one affected session goes up again, once, as a new generation
    _set_mode(a, "sync")
    doc = a.json("push")
    assert doc["sessions"] == [f"claude-code:{dirty_sid}"], doc
    assert a.json("push")["sessions"] == []
    gen = b.json("pull")
    assert gen["sessions"] == [f"claude-code:{dirty_sid}"] and gen["failed"] == []
    assert "[REDACTED:" in all_text(b.show(f"claude-code:{dirty_sid}"))
    assert leaked(all_text(b.show(f"claude-code:{dirty_sid}")).encode(), secrets) == []
    # "everywhere" + secrets redact: A's own copy is rewritten and the store compacted
    _set_mode(a, "everywhere")
    assert leaked(tree_bytes(a.lore_home), secrets) != []
    red = a.json("secrets", "redact", "--yes")
    assert red["mode"] == "everywhere" and red["sessions_with_secrets"] == 1, red
    assert red["rewritten_locally"] == 1, red
    assert leaked(tree_bytes(a.lore_home), secrets) == []
    assert a.json("secrets", "scan")["findings"] == []
    # without --yes and without a terminal it refuses with a hint, changing nothing
    refused = a.run("secrets", "redact", check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert "Traceback" not in refused.stderr
