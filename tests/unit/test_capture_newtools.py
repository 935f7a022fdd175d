"""Capture of Cline, Roo Code, Kilo Code, Continue, Copilot Chat, Cursor and Goose.

Each session is written in its tool's real layout under a fresh HOME, found by
discovery, imported into a real store, and parsed again from its payload alone (as
another machine does after a pull).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from lored.capture import copilot, opencode, opencode_io
from lored.capture.importer import import_all
from lored.capture.registry import parse_payload
from lored.config import Settings
from lored.store import Store
from tests import newtools as nt


async def _imported(store: Store, settings: Settings, sid: str):  # type: ignore[no-untyped-def]
    report = await import_all(store, settings)
    assert report.errors == []
    row = await store.find_session(sid)
    msgs = await store.messages(sid)
    again = parse_payload(row.tool, await store.load_payload(sid))
    assert again.session_id == sid and len(again.messages) == len(msgs)
    return row, msgs


async def test_cline_task_folder(clean_env: Path, store: Store, settings: Settings) -> None:
    sid = nt.cline_task(clean_env)
    row, msgs = await _imported(store, settings, sid)
    assert row.project_path == nt.PROJECT and row.model == "claude-sonnet-4"
    assert [m.role for m in msgs] == ["user", "assistant", "tool", "assistant"]
    assert msgs[0].text == "add pagination to the orders API"  # no <task>, no environment
    assert msgs[0].timestamp == "2025-11-24T16:00:00.000Z"
    assert msgs[1].extra["tool_calls"][0]["name"] == "read_file"
    assert "Result:" in msgs[2].text  # the tool's output, not the person's words
    assert row.started_at == "2025-11-24T16:00:00.000Z"
    assert row.title == "add pagination to the orders API"


async def test_roo_and_kilo_in_a_fork_of_vscode(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    roo = nt.cline_task(clean_env, "rooveterinaryinc.roo-cline", "roo-code",
                        "0199a0b1-roo0-7000-8000-000000000001", "fix the flaky test",
                        app="VSCodium")
    kilo = nt.cline_task(clean_env, "kilocode.kilo-code", "kilo-code",
                         "0199a0b1-kilo-7000-8000-000000000002", "rename the module",
                         app="Cursor")
    row, msgs = await _imported(store, settings, roo)
    assert row.tool == "roo-code" and row.project_path == nt.PROJECT
    assert row.title == "fix the flaky test"
    row, _ = await _imported(store, settings, kilo)
    assert row.tool == "kilo-code" and msgs[0].role == "user"


async def test_kilo_db_reads_opencodes_schema(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    folder = clean_env / ".local/share/kilo"
    folder.mkdir(parents=True)
    db = sqlite3.connect(folder / "kilo.db")
    db.executescript(
        "CREATE TABLE session (id TEXT PRIMARY KEY, project_id TEXT, slug TEXT, directory TEXT,"
        " title TEXT, version TEXT, time_created INTEGER, time_updated INTEGER);"
        "CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT, time_created INTEGER,"
        " time_updated INTEGER, data TEXT);"
        "CREATE TABLE part (id TEXT PRIMARY KEY, message_id TEXT, session_id TEXT,"
        " time_created INTEGER, time_updated INTEGER, data TEXT);")
    db.execute("INSERT INTO session VALUES ('ses_k1', 'global', 's', ?, 'Kilo task', '7.0.46',"
               " ?, ?)", (nt.PROJECT, nt.T0, nt.T0 + 1000))
    db.execute("INSERT INTO message VALUES ('msg_1', 'ses_k1', ?, ?, ?)",
               (nt.T0, nt.T0, json.dumps({"role": "user"})))
    db.execute("INSERT INTO part VALUES ('prt_1', 'msg_1', 'ses_k1', ?, ?, ?)",
               (nt.T0, nt.T0, json.dumps({"type": "text", "text": "hello kilo"})))
    db.commit()
    db.close()
    row, msgs = await _imported(store, settings, "kilo-code:ses_k1")
    assert row.project_path == nt.PROJECT and msgs[0].text == "hello kilo"
    # OpenCode's own payloads keep their bytes: no tool key unless derived
    assert b'"tool"' not in opencode.render({"id": "x"}, [], {})


async def test_continue_session(clean_env: Path, store: Store, settings: Settings) -> None:
    sid = nt.continue_session(clean_env)
    row, msgs = await _imported(store, settings, sid)
    assert row.title == "Pagination for orders" and row.project_path == nt.PROJECT
    assert [m.role for m in msgs] == ["user", "assistant"] and row.model == "GPT-4o"
    assert row.started_at == "2025-11-24T16:00:00.000Z"


async def test_copilot_operation_log(clean_env: Path, store: Store, settings: Settings) -> None:
    sid = nt.copilot_session(clean_env)
    row, msgs = await _imported(store, settings, sid)
    assert row.title == "Flaky orders test" and row.project_path == nt.PROJECT
    assert [m.text for m in msgs] == ["why is the orders test flaky?",
                                      "The fixture shares a clock."]
    assert msgs[1].extra["tool_calls"][0]["name"] == "runTests" and row.model == "gpt-4.1"


def test_copilot_replay_splice_and_delete() -> None:
    ops = [{"kind": 0, "v": {"requests": [1, 2, 3], "x": 1}},
           {"kind": 2, "k": ["requests"], "v": [9], "i": 1},
           {"kind": 3, "k": ["x"]}, {"kind": 1, "k": ["missing", "deep"], "v": 1}]
    assert copilot.replay(ops) == {"requests": [1, 9]}


async def test_cursor_composer_without_its_tokens(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    sid = nt.cursor_db(clean_env)
    row, msgs = await _imported(store, settings, sid)
    assert row.title == "Orders pagination" and row.project_path == nt.PROJECT
    assert [m.role for m in msgs] == ["user", "assistant"] and row.model == "claude-4-sonnet"
    assert len(await store.list_sessions()) == 1  # the empty draft is not a session
    assert b"secret" not in await store.load_payload(sid)  # auth rows are never read


async def test_goose_rows_still_in_the_wal(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    path = nt.goose_db(clean_env)
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA wal_autocheckpoint=0")  # keep every row in the -wal file
    sid = nt.goose_session(writer)
    writer.commit()  # committed, not checkpointed; the writer stays open
    try:
        assert path.with_name("sessions.db-wal").stat().st_size > 0
        row, msgs = await _imported(store, settings, sid)
        assert [m.role for m in msgs] == ["user", "assistant", "tool", "assistant"]
        assert msgs[1].extra["tool_calls"][0]["name"] == "shell"
        assert row.project_path == nt.PROJECT
        # a row the writer adds later is seen by the next pass, still without a checkpoint
        writer.execute("INSERT INTO messages (session_id, role, content_json, "
                       "created_timestamp) VALUES (?, 'user', ?, 1764000100)",
                       ("20251124_1", json.dumps([{"type": "text", "text": "and indexes?"}])))
        writer.commit()
        report = await import_all(store, settings)
        assert report.to_json()["updated"] == 1
        assert (await store.messages(sid))[-1].text == "and indexes?"
    finally:
        writer.close()


async def test_opencode_channel_database(clean_env: Path, settings: Settings) -> None:
    base = clean_env / ".local/share/opencode"
    base.mkdir(parents=True)
    db = sqlite3.connect(base / "opencode-stable.db")
    db.executescript("CREATE TABLE session (id TEXT PRIMARY KEY, directory TEXT, title TEXT,"
                     " time_created INTEGER, time_updated INTEGER);"
                     "CREATE TABLE message (id TEXT, session_id TEXT, data TEXT);"
                     "CREATE TABLE part (id TEXT, message_id TEXT, session_id TEXT, data TEXT);")
    db.execute("INSERT INTO session VALUES ('ses_s', '/p', 'stable', 1, 2)")
    db.commit()
    db.close()
    from lored.capture.sources import Context

    found = opencode_io.discover(Context(settings))
    assert [Path(s.key).name for s in found] == ["opencode-stable.db"]


# --- hostile payloads: every field of every new tool's payload replaced by a wrong type ---
def _good_payloads(home: Path) -> dict[str, bytes]:
    from lored.capture import cline, continue_dev, cursor, goose

    task = [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "name": "x", "input": {}}]}]
    return {
        "cline": cline.render("cline", "1", api=task, ui=[{"ts": 1, "type": "say"}],
                              metadata={"model_usage": [{"model_id": "m"}]},
                              history={"workspace": "/p", "task": "t"}, manifest={"cwd": "/p"}),
        "continue": continue_dev.render({"sessionId": "s", "history": [
            {"message": {"role": "user", "content": [{"type": "text", "text": "q"}]}},
            {"message": {"role": "assistant", "content": "a", "toolCalls": [
                {"id": "1", "function": {"name": "f", "arguments": "{}"}}]}}]},
            {"sessionId": "s", "dateCreated": "1764000000000"}),
        "copilot-chat": copilot.render({"sessionId": "s", "requests": [
            {"timestamp": 1, "message": {"text": "q"}, "response": [{"value": "a"}, {
                "kind": "toolInvocationSerialized", "toolId": "t"}]}]}, "/p"),
        "cursor": cursor.render({"composerId": "c", "modelConfig": {"modelName": "m"}},
                                [{"type": 1, "text": "q"}, {"type": 2, "text": "a",
                                 "toolFormerData": {"name": "t"}}], "/p"),
        "goose": goose.render({"id": "g", "working_dir": "/p"}, [
            {"role": "user", "content": [{"type": "text", "text": "q"}]},
            {"role": "assistant", "content": [{"type": "toolRequest", "toolCall": {
                "value": {"name": "n"}}}]}]),
    }


def _paths(obj: object, prefix: tuple[object, ...] = ()):  # type: ignore[no-untyped-def]
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def test_every_field_with_a_wrong_type_never_raises(tmp_path: Path) -> None:
    import copy

    from lored.errors import CorruptData

    for tool, payload in _good_payloads(tmp_path).items():
        good = parse_payload(tool, payload)
        assert good.messages and good.bad_records == 0, tool
        doc = json.loads(payload)
        tried = 0
        for path in list(_paths(doc))[1:]:
            for wrong in (None, 7, "text", [1, "x"], {"k": {}}):
                bent = copy.deepcopy(doc)
                target = bent
                for key in path[:-1]:
                    target = target[key]  # type: ignore[index]
                target[path[-1]] = wrong  # type: ignore[index]
                try:
                    parse_payload(tool, json.dumps(bent).encode())
                except CorruptData:
                    pass  # the id itself was bent: refused with a reason, never a crash
                tried += 1
        assert tried > 20, tool
        for junk in (b"", b"\xff\xfe garbage", b"[]", b"{" * 100_000):
            try:
                parse_payload(tool, junk)
            except CorruptData:
                pass


def _json_values():  # type: ignore[no-untyped-def]
    from hypothesis import strategies as st

    leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    return st.recursive(leaf, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                        max_leaves=20)


def test_hypothesis_fuzz_of_every_new_parser(tmp_path: Path) -> None:
    """Arbitrary JSON in any top-level field, or arbitrary bytes: no exception escapes."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from lored.errors import CorruptData

    payloads = _good_payloads(tmp_path)

    @settings(max_examples=150, deadline=None)
    @given(st.sampled_from(sorted(payloads)), _json_values(), st.binary(max_size=64),
           st.integers(min_value=0, max_value=20))
    def run(tool: str, value: object, junk: bytes, which: int) -> None:
        doc = json.loads(payloads[tool])
        keys = sorted(k for k in doc if k != "format")
        doc[keys[which % len(keys)]] = value
        for payload in (json.dumps(doc).encode(), junk, payloads[tool][:which] + junk):
            try:
                parse_payload(tool, payload)
            except CorruptData:
                pass  # refused with a reason (no session id left), never a crash

    run()


async def test_qwen_chain_after_a_rewind(clean_env: Path, store: Store, settings: Settings) -> None:
    sid = nt.qwen_chat(clean_env)
    row, msgs = await _imported(store, settings, sid)
    assert [m.role for m in msgs] == ["user", "tool", "assistant"]  # the rewound prompt is gone
    assert msgs[0].text == "find the slow query"
    assert msgs[2].extra["tool_calls"][0]["name"] == "grep"
    assert row.title == "Slow query" and row.model == "qwen3-coder-plus"
    assert row.project_path == nt.PROJECT


async def test_droid_session_grows_by_its_tail(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    path = nt.droid_session(clean_env)
    row, msgs = await _imported(store, settings, "droid:d801d801-5555-4fff-8aaa-000000000005")
    assert [m.role for m in msgs] == ["user", "assistant", "tool"]
    assert row.title == "Orders cleanup" and row.project_path == nt.PROJECT
    extra = (json.dumps({"type": "message", "id": "m4", "timestamp": "2025-11-24T16:01:00Z",
                         "message": {"role": "user", "content": "and the tests?"}}) + "\n").encode()
    with path.open("ab") as fh:
        fh.write(extra)
    report = await import_all(store, settings)
    assert report.to_json()["updated"] == 1
    assert report.bytes_read <= len(extra) + 2 * 64  # only the new tail was read
