"""The importer: discovery, unchanged files, incremental growth, rewrites, errors, deletions."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from lored.capture import importer
from lored.capture.importer import import_all
from lored.config import Settings
from lored.errors import UsageError
from lored.store import Store

FIX = Path(__file__).parents[1] / "fixtures"
CLAUDE_FIX = FIX / "claude/projects/-home-dev-projects-webapp"
SID = "3f2b9c1e-7a4d-4e8b-9c2a-5d1e6f7a8b90"


def claude_home(home: Path) -> Path:
    target = home / ".claude/projects/-home-dev-projects-webapp"
    shutil.copytree(CLAUDE_FIX, target)
    return target / f"{SID}.jsonl"


def user_line(text: str, sid: str = SID) -> bytes:
    return json.dumps({
        "type": "user", "sessionId": sid, "cwd": "/home/dev/projects/webapp",
        "timestamp": "2025-06-14T10:00:00Z", "message": {"role": "user", "content": text},
    }).encode() + b"\n"


async def test_import_then_unchanged(clean_env: Path, store: Store, settings: Settings) -> None:
    path = claude_home(clean_env)
    first = await import_all(store, settings)
    assert first.to_json() == {"imported": 1, "updated": 0, "unchanged": 0, "errors": []}
    assert first.changed == [f"claude-code:{SID}"]
    assert await store.load_payload(f"claude-code:{SID}") == path.read_bytes()
    again = await import_all(store, settings)
    assert again.to_json() == {"imported": 0, "updated": 0, "unchanged": 1, "errors": []}
    assert again.bytes_read == 0
    rows = await store.list_sessions()
    assert rows[0].project_path == "/home/dev/projects/webapp" and rows[0].message_count == 6


async def test_appended_line_updates_reading_only_new_bytes(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    path = claude_home(clean_env)
    # grow the file to ~10 MB first, so a whole re-read would be obvious
    filler = user_line("x" * 1000) * 10_000
    with path.open("ab") as fh:
        fh.write(filler)
    assert path.stat().st_size > 10_000_000
    await import_all(store, settings)
    extra = user_line("one more question about pagination")
    with path.open("ab") as fh:
        fh.write(extra)
    report = await import_all(store, settings)
    assert report.to_json()["updated"] == 1
    assert report.bytes_read <= len(extra) + 2 * importer.CHECK_WINDOW
    assert await store.load_payload(f"claude-code:{SID}") == path.read_bytes()
    msgs = await store.messages(f"claude-code:{SID}")
    assert msgs[-1].text == "one more question about pagination"
    assert len(msgs) == 6 + 10_001


async def test_rewritten_or_shrunk_file_is_read_whole(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    path = claude_home(clean_env)
    await import_all(store, settings)
    original = path.read_bytes()
    # same length, different first bytes, then appended: must not be spliced
    changed = original.replace(b'"summary":"Add', b'"summary":"Put', 1) + user_line("tail")
    path.write_bytes(changed)
    report = await import_all(store, settings)
    assert report.updated == 1
    assert len(changed) <= report.bytes_read <= len(changed) + importer.CHECK_WINDOW
    assert await store.load_payload(f"claude-code:{SID}") == changed
    assert (await store.find_session(SID)).title == "Put limit/offset pagination to GET /api/users"
    # shrink
    short = b"".join(original.splitlines(keepends=True)[:3])
    path.write_bytes(short)
    report = await import_all(store, settings)
    assert report.updated == 1
    assert await store.load_payload(f"claude-code:{SID}") == short


async def test_replaced_file_new_inode_is_read_whole(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    path = claude_home(clean_env)
    await import_all(store, settings)
    new = path.read_bytes() + user_line("after atomic rename")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(new)
    os.replace(tmp, path)
    report = await import_all(store, settings)
    assert report.updated == 1 and report.bytes_read == len(new)


async def test_one_bad_file_does_not_stop_the_scan(
    clean_env: Path, store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = claude_home(clean_env)
    bad = path.with_name("0000-bad.jsonl")
    bad.write_bytes(user_line("hi", sid="0000-bad"))
    real = importer._read_range

    def failing(p: str, start: int, end: int) -> bytes:
        if p == str(bad):
            raise PermissionError(13, "Permission denied", p)
        return real(p, start, end)

    monkeypatch.setattr(importer, "_read_range", failing)
    report = await import_all(store, settings)
    assert report.imported == 1
    assert report.errors == [{"path": str(bad), "message": "Permission denied"}]


async def test_subagent_files_are_not_sessions(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    path = claude_home(clean_env)
    shutil.copy(FIX / "variants/claude/agent-5a6b7c8d.jsonl", path.parent)
    sub = path.parent / SID / "subagents"
    sub.mkdir(parents=True)
    shutil.copy(FIX / "variants/claude/agent-5a6b7c8d.jsonl", sub)
    await import_all(store, settings)
    assert [r.id for r in await store.list_sessions()] == [f"claude-code:{SID}"]


async def test_deleted_session_is_not_reimported(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    path = claude_home(clean_env)
    await import_all(store, settings)
    await store.delete_session(f"claude-code:{SID}")
    with path.open("ab") as fh:
        fh.write(user_line("grown after delete"))
    report = await import_all(store, settings)
    assert report.imported == 0 and report.updated == 0
    assert await store.list_sessions() == []


async def test_claude_config_dir_and_tool_selection(
    clean_env: Path, tmp_path: Path, store: Store, settings: Settings
) -> None:
    alt = tmp_path / "alt-claude"
    shutil.copytree(CLAUDE_FIX, alt / "projects/-home-dev-projects-webapp")
    env = {"HOME": str(clean_env), "CLAUDE_CONFIG_DIR": str(alt)}
    off = replace(settings, tools=("codex",))
    assert (await import_all(store, off, env=env)).imported == 0  # claude disabled
    assert (await import_all(store, off, env=env, tool="claude-code")).imported == 1
    with pytest.raises(UsageError):
        await import_all(store, settings, tool="notepad")


async def test_vanished_file_keeps_its_session(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    path = claude_home(clean_env)
    await import_all(store, settings)
    path.unlink()  # Claude Code cleans up old transcripts; Lore keeps them
    report = await import_all(store, settings)
    assert report.to_json()["errors"] == []
    assert len(await store.list_sessions()) == 1


async def test_codex_home_rollouts_and_archived(
    clean_env: Path, tmp_path: Path, store: Store, settings: Settings
) -> None:
    codex_home = tmp_path / "codex-home"
    shutil.copytree(FIX / "codex/sessions", codex_home / "sessions")
    (codex_home / "archived_sessions").mkdir()
    shutil.copy(next((FIX / "variants/codex").glob("rollout-legacy-*.jsonl")),
                codex_home / "archived_sessions")
    (codex_home / "sessions/broken.jsonl").write_bytes(b"not json at all\n")
    env = {"HOME": str(clean_env), "CODEX_HOME": str(codex_home)}
    report = await import_all(store, settings, env=env, tool="codex")
    assert report.imported == 2
    assert [e["path"] for e in report.errors] == [str(codex_home / "sessions/broken.jsonl")]
    assert "no session id" in report.errors[0]["message"]
    rows = {r.id: r for r in await store.list_sessions(tool="codex")}
    assert set(rows) == {"codex:0197a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                         "codex:0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"}


async def test_git_remote_of_local_checkout_is_recorded(
    clean_env: Path, tmp_path: Path, store: Store, settings: Settings
) -> None:
    import sqlite3

    repo = tmp_path / "webapp"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git/config").write_text('[remote "origin"]\n\turl = git@example.com:a/w.git\n')
    projects = clean_env / ".claude/projects/-webapp"
    projects.mkdir(parents=True)
    (projects / "s.jsonl").write_bytes(json.dumps({
        "type": "user", "sessionId": "s-git", "cwd": str(repo), "timestamp": "2025-01-01T00:00:00Z",
        "message": {"content": "hi"}}).encode() + b"\n")
    assert (await import_all(store, settings)).imported == 1
    db = sqlite3.connect(settings.paths.db_file)
    # stored normalised: the project's identity that travels in the sealed info
    assert db.execute("SELECT git_remote FROM sessions").fetchall() == [
        ("example.com/a/w",)]
    db.close()


async def test_a_changed_folder_imports_the_files_below_it(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    """A watcher may see only the new folder, not the file written into it right away."""
    path = claude_home(clean_env)
    other = str(clean_env / ".claude/projects/elsewhere")
    report = await import_all(store, settings, only={other})
    assert report.imported == 0
    report = await import_all(store, settings, only={str(path.parent)})
    assert report.imported == 1


async def test_unchanged_corpus_is_stat_only(
    clean_env: Path, store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-import of unchanged files reads no file and asks the store once, not per file."""
    path = claude_home(clean_env)
    for n in range(20):  # more sessions in the same project folder
        sid = f"00000000-0000-4000-8000-{n:012d}"
        (path.parent / f"{sid}.jsonl").write_bytes(user_line(f"question {n}", sid))
    assert (await import_all(store, settings)).imported == 21
    calls: list[str] = []
    real = store.get_source

    async def counted(key: str):  # type: ignore[no-untyped-def]
        calls.append(key)
        return await real(key)

    monkeypatch.setattr(store, "get_source", counted)
    again = await import_all(store, settings)
    assert again.to_json() == {"imported": 0, "updated": 0, "unchanged": 21, "errors": []}
    assert again.bytes_read == 0 and calls == []
    # one file grows after the snapshot of the last pass: still seen and read incrementally
    with path.open("ab") as fh:
        fh.write(user_line("and one more"))
    grown = await import_all(store, settings)
    assert grown.to_json() == {"imported": 0, "updated": 1, "unchanged": 20, "errors": []}
    assert set(calls) == {str(path)}  # only the file that changed is looked up
    assert (await store.messages(f"claude-code:{SID}"))[-1].text == "and one more"


async def test_random_bytes_are_not_a_session(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    folder = clean_env / ".claude/projects/-home-dev-junk"
    folder.mkdir(parents=True)
    (folder / "00000000-0000-4000-8000-00000000dead.jsonl").write_bytes(
        bytes(range(256)) * 40 + b"\n" + os.urandom(4096).replace(b"\n", b"x"))
    report = await import_all(store, settings)
    assert report.imported == 0 and await store.list_sessions() == []
    assert len(report.errors) == 1 and "not a session" in report.errors[0]["message"]


async def test_title_is_the_first_real_prompt_and_bad_records_are_counted(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    folder = clean_env / ".claude/projects/-home-dev-projects-webapp"
    folder.mkdir(parents=True)
    sid = "11111111-2222-4333-8444-555555555555"
    wrapper = "<command-name>/clear</command-name>\n<command-message>clear</command-message>"
    (folder / f"{sid}.jsonl").write_bytes(
        user_line(wrapper, sid) + b"{not json\n"
        + user_line("  Why does the   orders endpoint\n time out " + "x" * 100, sid))
    report = await import_all(store, settings)
    assert report.imported == 1 and report.bad_records == 1
    row = (await store.list_sessions())[0]
    assert row.title is not None and row.title.startswith("Why does the orders endpoint time out")
    assert len(row.title) == 80 and row.title.endswith("…")
    assert row.to_json()["bad_records"] == 1


async def test_aider_history_found_on_the_first_pass_in_a_code_root(
    clean_env: Path, store: Store, settings: Settings
) -> None:
    """No config, no other tool in that project: the bounded code-root scan finds it."""
    checkout = clean_env / "src/team/webapp"
    (checkout / ".git").mkdir(parents=True)
    shutil.copy(FIX / "aider/home/dev/projects/webapp/.aider.chat.history.md", checkout)
    report = await import_all(store, settings)
    assert report.errors == [] and report.imported >= 1
    rows = await store.list_sessions()
    assert {r.tool for r in rows} == {"aider"}
    assert {r.project_path for r in rows} == {str(checkout)}


async def test_a_poll_or_targeted_pass_reads_only_its_own_source_rows(
    clean_env: Path, store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # lored polls Aider every few seconds and re-imports single changed files: reading
    # every source row for that (20,000 of them) cost 1.7 % CPU idle and its memory
    path = claude_home(clean_env)
    assert (await import_all(store, settings)).imported == 1
    asked: list[object] = []
    real = store.source_states

    async def spy(paths: object = None) -> object:
        asked.append(None if paths is None else sorted(paths))  # type: ignore[call-overload]
        return await real(paths)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "source_states", spy)
    assert (await import_all(store, settings, tool="aider")).to_json()["errors"] == []
    assert asked == []  # no append source among the polled tool's: no snapshot at all
    again = await import_all(store, settings, only={str(path)})
    assert again.unchanged == 1 and asked == [[str(path)]]
    asked.clear()
    assert (await import_all(store, settings)).unchanged == 1
    assert asked == [[str(path)]]  # a full pass of a few files: their rows, by path
