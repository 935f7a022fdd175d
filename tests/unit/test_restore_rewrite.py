"""Rewriting transcripts onto another checkout: cwd, tool inputs/results, prose, bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lored.capture.registry import parse_payload
from lored.restore.rewrite import PathMap, claude_record, rewrite_line, rewrite_transcript

FIX = Path(__file__).parents[1] / "fixtures"
CLAUDE = next((FIX / "claude/projects/-home-dev-projects-webapp").glob("*.jsonl"))
CODEX = next((FIX / "codex/sessions").rglob("*.jsonl"))
OLD = "/home/dev/projects/webapp"
NEW = "/Users/bo/code/web app"
PM = PathMap(OLD, NEW)


def records(payload: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in payload.splitlines() if line.strip()]


def test_path_map_respects_name_boundaries() -> None:
    assert PM.sub(f"{OLD}/app.py and {OLD}.") == f"{NEW}/app.py and {NEW}."
    for other in (f"{OLD}2/x", f"/mnt{OLD}/x", f"{OLD}-old", f"{OLD}.git"):
        assert PM.sub(other) == other
    assert PathMap(OLD + "/", NEW + "/").sub(OLD) == NEW
    with pytest.raises(ValueError):
        PathMap("/", NEW)
    with pytest.raises(ValueError):
        PathMap("relative/dir", NEW)


def test_claude_every_cwd_and_tool_path_moves_prose_stays() -> None:
    original = CLAUDE.read_bytes()
    out, changed = rewrite_transcript("claude-code", original, PM)
    assert changed > 0 and OLD.encode() not in out
    recs = records(out)
    assert {r["cwd"] for r in recs if "cwd" in r} == {NEW}
    before, after = parse_payload("claude-code", original), parse_payload("claude-code", out)
    assert after.session_id == before.session_id and after.project_path == NEW
    assert [(m.role, m.text.replace(OLD, NEW)) for m in before.messages] == [
        (m.role, m.text) for m in after.messages]
    calls = [c for m in after.messages for c in m.extra.get("tool_calls", [])]
    assert any(c["input"]["file_path"] == f"{NEW}/app/api/users.py" for c in calls)
    results = [r for r in recs if isinstance(r.get("toolUseResult"), dict)]
    assert any(NEW in json.dumps(r["toolUseResult"]) for r in results)


def test_unchanged_and_unparseable_lines_stay_byte_for_byte() -> None:
    summary = b'{"type":"summary","summary":"x","leafUuid":"u"}'
    broken = b'{"cwd": "' + OLD.encode() + b'", not json'
    payload = b"\n".join([summary, broken, b"", b"  "]) + b"\n" + b'{"cwd":"' + OLD.encode() + b'"}'
    out, changed = rewrite_transcript("claude-code", payload, PM)
    lines = out.split(b"\n")
    assert lines[:4] == [summary, broken, b"", b"  "] and changed == 1
    assert lines[4] == b'{"cwd":"' + NEW.encode() + b'"}'  # no newline added at the end
    assert rewrite_transcript("claude-code", payload, PathMap(OLD, OLD)) == (payload, 0)


def test_changed_lines_keep_their_style_and_line_endings() -> None:
    rec = {"type": "user", "cwd": OLD,
           "message": {"role": "user", "content": f"open {OLD}/a.py ünï"}}
    raw = (json.dumps(rec, ensure_ascii=False) + "\r").encode()
    out = rewrite_line(raw, claude_record, PM)
    text = out.decode()
    assert text.endswith("}}\r") and '"type": "user", ' in text and "ünï" in text
    obj = json.loads(text)
    assert obj["cwd"] == NEW
    assert obj["message"]["content"] == f"open {OLD}/a.py ünï"  # the user's words are kept


def test_codex_meta_context_arguments_move_prose_stays() -> None:
    original = CODEX.read_bytes()
    out, _ = rewrite_transcript("codex", original, PM)
    recs = records(out)
    assert recs[0]["payload"]["cwd"] == NEW  # type: ignore[index]
    assert recs[0]["payload"]["git"]["repository_url"] == "git@example.com:dev/webapp.git"  # type: ignore[index]
    ctx = [r for r in recs if r["type"] == "turn_context"]
    assert ctx and all(r["payload"]["cwd"] == NEW for r in ctx)  # type: ignore[index]
    calls = [r["payload"] for r in recs if r["type"] == "response_item"
             and r["payload"]["type"] == "function_call"]  # type: ignore[index]
    assert json.loads(calls[0]["arguments"])["workdir"] == NEW  # type: ignore[index]
    env = json.dumps(recs[1])
    assert f"<cwd>{NEW}</cwd>" in json.loads(env)["payload"]["content"][0]["text"]
    before, after = parse_payload("codex", original), parse_payload("codex", out)
    assert after.project_path == NEW and after.native_id == before.native_id
    assert [(m.role, m.text) for m in before.messages] == [(m.role, m.text)
                                                           for m in after.messages]


def test_codex_prose_with_a_path_is_kept_and_legacy_items_move() -> None:
    prose = {"timestamp": "t", "type": "response_item", "payload": {
        "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": f"look at {OLD}/x"}]}}
    event = {"timestamp": "t", "type": "event_msg",
             "payload": {"type": "user_message", "message": f"look at {OLD}/x"}}
    legacy_header = {"id": "abc", "timestamp": "t", "cwd": OLD}
    legacy_call = {"type": "function_call", "name": "shell",
                   "arguments": json.dumps({"workdir": OLD})}
    payload = "\n".join(json.dumps(r) for r in (prose, event, legacy_header, legacy_call))
    out, changed = rewrite_transcript("codex", payload.encode(), PM)
    recs = records(out)
    assert recs[0] == prose and recs[1] == event and changed == 2
    assert recs[2]["cwd"] == NEW and NEW in str(recs[3]["arguments"])
