"""Gemini parser and discovery: JSON and JSONL chats, $set/$rewindTo, project paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lored.capture import gemini
from lored.capture.importer import import_all
from lored.capture.sources import Context, discover_gemini
from lored.config import Settings
from lored.store import Store

FIX = Path(__file__).parents[1] / "fixtures"
HASHED = "608522968388256661c35357bfd784a80b626639e0beb631d838209b44ab687f"
JSON_CHAT = next((FIX / "gemini/tmp" / HASHED / "chats").glob("*.json"))
JSONL_CHAT = next((FIX / "gemini/tmp/webapp/chats").glob("*.jsonl"))
REWIND = FIX / "variants/gemini/session-rewind.jsonl"
PROJECT = "/home/dev/projects/webapp"


def test_json_chat_through_lore_payload() -> None:
    doc = json.loads(JSON_CHAT.read_bytes())
    payload = gemini.render_json_payload(doc, PROJECT)
    assert payload == gemini.render_json_payload(json.loads(JSON_CHAT.read_bytes()), PROJECT)
    s = gemini.parse(payload)
    assert s.session_id == "gemini:8d2f4a6c-1b3e-4d5f-9a7c-2e4b6d8f0a1c"
    assert s.project_path == PROJECT
    assert (s.started_at, s.ended_at) == ("2025-06-14T11:30:05.120Z", "2025-06-14T11:30:21.884Z")
    assert s.model == "gemini-2.5-pro"
    assert [m.role for m in s.messages] == ["user", "assistant", "assistant"]
    assert s.messages[0].text == "Summarize what README.md says about this project."
    tool = s.messages[1]
    assert tool.extra["tool_calls"] == [{"id": "read_file-1749900609447-3f9c2a7b1d5e8",
                                         "name": "read_file",
                                         "input": {"absolute_path": f"{PROJECT}/README.md"}}]
    assert tool.extra["tool_results"][0]["content"].startswith("# webapp")
    assert tool.extra["tool_results"][0]["is_error"] is False
    assert tool.extra["thinking"].startswith("Locating the README: I'll read")
    assert s.messages[2].text.startswith("README.md describes **webapp**")
    assert s.bad_records == 0


def test_jsonl_chat_replacement_and_set() -> None:
    payload = gemini.render_header("jsonl", PROJECT) + JSONL_CHAT.read_bytes()
    s = gemini.parse(payload)
    assert s.session_id == "gemini:9e3a5b7d-2c4f-4e6a-8b8d-3f5c7e9a1b2d"
    assert s.project_path == PROJECT and s.title == "Dev server port question"
    assert [m.role for m in s.messages] == ["user", "assistant"]  # repeated id replaced
    assert s.messages[1].extra["usage"]["total"] == 5232
    assert s.ended_at == "2026-02-03T08:15:06.745Z" and s.model == "gemini-2.5-flash"


def test_raw_files_parse_without_header() -> None:
    assert gemini.parse(JSON_CHAT.read_bytes()).message_count == 3
    assert gemini.parse(JSONL_CHAT.read_bytes(), str(JSONL_CHAT)).message_count == 2
    assert gemini.parse(JSONL_CHAT.read_bytes()).project_path is None


def test_rewind_drops_message_and_everything_after() -> None:
    s = gemini.parse(REWIND.read_bytes())
    assert [(m.role, m.text) for m in s.messages] == [
        ("user", "Rename foo to bar"), ("user", "Actually rename baz"),
        ("system", "Switched model"), ("assistant", "Renamed baz in 3 files.")]
    assert s.messages[2].extra["level"] == "info"
    assert s.title == "Rename baz" and s.ended_at == "2026-01-10T10:00:12.000Z"
    assert any("$rewindTo" in w for w in s.warnings) and s.bad_records == 0


def test_tool_error_status_and_wrong_types() -> None:
    rec = {"id": "x", "type": "gemini", "content": 5, "thoughts": "no", "toolCalls": [
        {"id": "t", "name": "shell", "args": {}, "status": "error",
         "result": [{"functionResponse": {"response": {"error": "boom"}}}]}, "junk"]}
    body = json.dumps({"sessionId": "s"}) + "\n" + json.dumps(rec) + "\n[1]\n{\"$set\": 3}\n"
    s = gemini.parse(gemini.render_header("jsonl", None) + body.encode())
    assert s.messages[0].extra["tool_results"] == [
        {"tool_use_id": "t", "content": "boom", "is_error": True}]
    assert s.bad_records == 2 and any(w.startswith("line 4:") for w in s.warnings)


def test_hostile_json_document() -> None:
    for body in (b"{trunc", b"\xff\xfe", b"[1,2]", b'{"messages": "nope", "sessionId": 3}'):
        s = gemini.parse(gemini.render_header("json", "/p") + body)
        assert s.messages == [] and s.native_id == ""
    huge = b'{"sessionId":"s","messages":[{"id":"1","type":"user","content":"' + (
        b"y" * 50_000_000) + b'"}]}'
    assert gemini.parse(gemini.render_header("json", "/p") + huge).message_count == 1


def _install(home: Path) -> Path:
    shutil.copytree(FIX / "gemini", home / ".gemini")
    return home / ".gemini"


def test_discovery_resolves_projects(clean_env: Path, settings: Settings) -> None:
    gem = _install(clean_env)
    (gem / "projects.json").unlink()  # the hashed folder then needs a known project path
    found = discover_gemini(Context(settings, {"HOME": str(clean_env)}))
    assert [(Path(s.key).suffix, s.append) for s in found] == [(".json", False),
                                                                (".jsonl", True)]
    assert b'"project_path":null' in found[0].render()[0]  # type: ignore[misc]
    assert json.loads(found[1].header)["project_path"] == PROJECT  # from .project_root
    found = discover_gemini(Context(settings, {"HOME": str(clean_env)}, [PROJECT]))
    assert f'"project_path":"{PROJECT}"'.encode() in found[0].render()[0]  # type: ignore[misc]


async def test_import_gemini_and_append(clean_env: Path, store: Store,
                                        settings: Settings) -> None:
    gem = _install(clean_env)
    report = await import_all(store, settings, tool="gemini")
    assert report.to_json() == {"imported": 2, "updated": 0, "unchanged": 0, "errors": []}
    rows = await store.list_sessions(tool="gemini")
    assert {r.project_path for r in rows} == {PROJECT}
    again = await import_all(store, settings, tool="gemini")
    assert again.unchanged == 2 and again.bytes_read == 0
    chat = next((gem / "tmp/webapp/chats").glob("*.jsonl"))
    line = json.dumps({"id": "new", "type": "user", "content": "and the prod port?"}) + "\n"
    with chat.open("a") as fh:
        fh.write(line)
    grown = await import_all(store, settings, tool="gemini")
    assert grown.updated == 1 and grown.bytes_read <= len(line) + 128
    sid = "gemini:9e3a5b7d-2c4f-4e6a-8b8d-3f5c7e9a1b2d"
    assert (await store.messages(sid))[-1].text == "and the prod port?"
    payload = await store.load_payload(sid)
    assert payload.endswith(chat.read_bytes()) and gemini.parse(payload).project_path == PROJECT
