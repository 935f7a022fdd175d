"""Codex parser: the fixture exactly, legacy and event-only variants, quirks."""

from __future__ import annotations

import json
from pathlib import Path

from lored.capture import codex

FIX = Path(__file__).parents[1] / "fixtures"
MAIN = next((FIX / "codex/sessions").rglob("rollout-*.jsonl"))
VARIANTS = FIX / "variants/codex"
CID = "0197a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d"


def env(kind: str, payload: object, ts: str = "2025-06-14T10:00:00Z") -> bytes:
    return json.dumps({"timestamp": ts, "type": kind, "payload": payload}).encode() + b"\n"


META = env("session_meta", {"id": "c-1", "cwd": "/p", "timestamp": "2025-06-14T09:59:00Z"})


def test_fixture_identity_and_metadata() -> None:
    s = codex.parse(MAIN.read_bytes())
    assert s.session_id == f"codex:{CID}" and s.tool == "codex" and s.native_id == CID
    assert s.project_path == "/home/dev/projects/webapp"
    assert s.started_at == "2025-06-14T10:02:11.198Z"
    assert s.ended_at == "2025-06-14T10:02:45.420Z"
    assert s.model == "gpt-5-codex" and s.tool_version == "0.39.0"
    assert s.git_branch == "main" and s.git_remote == "git@example.com:dev/webapp.git"
    assert s.bad_records == 0 and s.warnings == []


def test_fixture_messages_tools_and_no_duplicates() -> None:
    s = codex.parse(MAIN.read_bytes())
    assert [m.role for m in s.messages] == ["user", "assistant", "tool", "assistant", "tool",
                                           "assistant"]
    texts = [m.text for m in s.messages]
    assert texts[0] == "Add a unit test for the slugify helper in src/utils/slug.ts"
    assert not any("environment_context" in t for t in texts)  # injected context hidden
    assert texts.count(texts[0]) == 1 and texts.count(texts[-1]) == 1  # event_msg dropped
    call = s.messages[1].extra["tool_calls"][0]
    assert call == {"id": "call_SynthShell0001", "name": "shell", "input": {
        "command": ["bash", "-lc", "cat src/utils/slug.ts"],
        "workdir": "/home/dev/projects/webapp"}}
    assert s.messages[1].extra["thinking"].startswith("**Inspecting the helper**")
    out = s.messages[2].extra["tool_results"][0]
    assert out["tool_use_id"] == "call_SynthShell0001" and out["is_error"] is False
    assert s.messages[2].text.startswith("export function slugify")
    patch = s.messages[3].extra["tool_calls"][0]
    assert patch["name"] == "apply_patch" and patch["input"].startswith("*** Begin Patch")
    assert s.messages[4].text.startswith("Success. Updated the following files")
    assert s.messages[5].text.startswith("I added `src/utils/slug.test.ts`")
    assert s.messages[5].extra["model"] == "gpt-5-codex"


def test_legacy_file_without_envelope() -> None:
    path = next(VARIANTS.glob("rollout-legacy-*.jsonl"))
    s = codex.parse(path.read_bytes())
    assert s.session_id == "codex:0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"
    assert s.started_at == "2025-04-02T15:20:00.000Z" and s.git_branch == "dev"
    assert [m.role for m in s.messages] == ["user", "assistant", "tool", "assistant"]
    assert s.messages[0].text == "List the TODOs in src/"
    assert s.messages[1].extra["tool_calls"][0]["name"] == "local_shell"
    assert s.messages[2].extra["tool_results"][0]["is_error"] is True  # exit code 2
    assert s.messages[2].text == "rg: src: No such file"
    assert s.bad_records == 0


def test_events_only_first_meta_wins_unknowns_warned() -> None:
    s = codex.parse((VARIANTS / "rollout-events-only.jsonl").read_bytes())
    assert s.native_id == "0196bbbb-0000-7000-8000-000000000001"  # not the later meta
    assert s.project_path == "/srv/app" and s.model == "gpt-5"
    assert [(m.role, m.text) for m in s.messages] == [
        ("user", "ping"), ("assistant", "pong"), ("assistant", "")]
    assert s.messages[2].extra["tool_calls"][0] == {
        "id": None, "name": "web_search", "input": {"type": "search", "query": "pong protocol"}}
    assert s.bad_records == 0
    assert any("brand_new_item" in w for w in s.warnings)
    assert any("new_record_kind" in w for w in s.warnings)


def test_id_from_file_name_when_meta_missing() -> None:
    hint = f"/h/.codex/sessions/2025/06/14/rollout-2025-06-14T10-02-11-{CID}.jsonl"
    s = codex.parse(env("response_item", {"type": "message", "role": "user",
                                          "content": [{"type": "input_text", "text": "x"}]}),
                    hint)
    assert s.native_id == CID


def test_developer_role_is_system_and_cwd_from_turn_context() -> None:
    payload = env("session_meta", {"id": "c-2"}) + env(
        "turn_context", {"cwd": "/from/turn", "model": "m"}) + env(
        "response_item", {"type": "message", "role": "developer",
                          "content": [{"type": "input_text", "text": "be brief"}]})
    s = codex.parse(payload)
    assert s.project_path == "/from/turn" and s.messages[0].role == "system"


def test_wrong_types_and_bad_lines_are_counted() -> None:
    payload = META + b"{not json\n" + env("response_item", {"type": 5}) + json.dumps(
        {"timestamp": "x", "payload": 3}).encode() + b"\n" + env(
        "response_item", {"type": "message", "role": "user", "content": "ok"})
    s = codex.parse(payload)
    assert [m.text for m in s.messages] == ["ok"]
    assert s.bad_records == 3
    assert any(w.startswith("line 2:") for w in s.warnings)


def _env(kind: str, payload: dict, ts: str = "2026-01-05T10:00:00.000Z") -> bytes:
    import json as _json

    return _json.dumps({"timestamp": ts, "type": kind, "payload": payload}).encode() + b"\n"


def _user_item(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def test_codex_typed_prompt_marker_decides_what_the_user_said() -> None:
    from lored.capture import codex

    payload = (
        _env("session_meta", {"id": "0199aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee", "cwd": "/p"})
        + _env("response_item", _user_item("<permissions instructions>sandboxed, "
                                           "network off</permissions instructions>"))
        + _env("response_item", _user_item("Some new wording of injected repo guidance"))
        + _env("response_item", _user_item("fix the flaky orders test"))
        + _env("event_msg", {"type": "user_message", "message": "fix the flaky orders test"})
        + _env("response_item", {"type": "message", "role": "assistant",
                                 "content": [{"type": "output_text", "text": "Done."}]})
    )
    s = codex.parse(payload)
    assert [(m.role, m.text) for m in s.messages] == [
        ("user", "fix the flaky orders test"), ("assistant", "Done.")]


def test_codex_without_markers_falls_back_to_known_prefixes() -> None:
    from lored.capture import codex

    payload = (
        _env("session_meta", {"id": "0199aaaa-bbbb-7ccc-8ddd-ffffffffffff", "cwd": "/p"})
        + _env("response_item", _user_item("<environment_context>cwd=/p</environment_context>"))
        + _env("response_item", _user_item("rename the module"))
    )
    assert [m.text for m in codex.parse(payload).messages] == ["rename the module"]


def test_codex_typed_prompts_only_in_events_are_kept() -> None:
    from lored.capture import codex

    payload = (
        _env("session_meta", {"id": "0199aaaa-bbbb-7ccc-8ddd-000000000000", "cwd": "/p"})
        + _env("response_item", _user_item("# AGENTS.md instructions for /p\n..."))
        + _env("event_msg", {"type": "user_message", "message": "add a changelog entry"})
    )
    assert [(m.role, m.text) for m in codex.parse(payload).messages] == [
        ("user", "add a changelog entry")]
