"""restore_session against a real store and real files; capture of restored files and forks."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import replace
from datetime import UTC
from pathlib import Path

import pytest

from lored.capture import forks, gemini
from lored.capture.importer import import_all
from lored.capture.registry import parse_payload
from lored.config import Settings
from lored.restore.paths import escape_claude_project
from lored.restore.place import RestoreError, restore_session
from lored.store import PulledSession, Store

FIX = Path(__file__).parents[1] / "fixtures"
CLAUDE = next((FIX / "claude/projects/-home-dev-projects-webapp").glob("*.jsonl")).read_bytes()
CODEX_FILE = next((FIX / "codex/sessions").rglob("*.jsonl"))
CODEX = CODEX_FILE.read_bytes()
GEMINI = next((FIX / "gemini").rglob("*.jsonl"))
SID = "claude-code:3f2b9c1e-7a4d-4e8b-9c2a-5d1e6f7a8b90"
ORIGIN = "/home/dev/projects/webapp"
OTHER = "0a1b2c3d-0000-4000-8000-00000000000a"


@pytest.fixture
def checkout(clean_env: Path) -> Path:
    """This machine's checkout of the project (a different path than the origin's)."""
    path = clean_env / "code" / "web app"
    (path / ".git").mkdir(parents=True)
    (path / ".git" / "config").write_text(
        '[remote "origin"]\n\turl = https://example.com/dev/webapp\n')
    return path


async def pull(store: Store, tool: str, payload: bytes, seq: int = 1,
               origin: str = OTHER, chunks: int = 1) -> str:
    parsed = parse_payload(tool, payload)
    await store.apply_pull_page(
        [PulledSession(parsed, payload, origin, "machine-a", 1, chunks, seq)], [], seq)
    return parsed.session_id


def user_line(text: str, cwd: str, sid: str = SID.split(":")[1]) -> bytes:
    return json.dumps({"type": "user", "sessionId": sid, "cwd": cwd,
                       "timestamp": "2025-06-15T08:00:00.000Z",
                       "message": {"role": "user", "content": text}}).encode() + b"\n"


async def test_restore_claude_with_to_is_seen_by_capture_as_the_pulled_session(
        clean_env: Path, store: Store, settings: Settings, checkout: Path) -> None:
    await pull(store, "claude-code", CLAUDE)
    res = await restore_session(store, settings, SID[:20], to=str(checkout))
    target = (clean_env / ".claude/projects" / escape_claude_project(str(checkout))
              / (SID.split(":")[1] + ".jsonl"))
    assert Path(res.path) == target and res.written and res.mapping == "--to"
    assert res.to_json()["project_path"] == str(checkout)
    data = target.read_bytes()
    assert ORIGIN.encode() not in data and oct(target.stat().st_mode)[-3:] == "600"
    assert parse_payload("claude-code", data).project_path == str(checkout)
    report = await import_all(store, settings)
    assert (report.imported, report.updated, report.errors) == (0, 0, [])
    rows = await store.list_sessions()
    assert [(r.id, r.local) for r in rows] == [(SID, False)]
    again = await restore_session(store, settings, SID, to=str(checkout))
    assert not again.written and again.path == res.path
    os.utime(target)  # touched but not grown: still the pulled session, not a fork
    assert (await import_all(store, settings)).imported == 0


async def test_continuing_a_restored_session_makes_one_fork_of_this_machine(
        store: Store, settings: Settings, checkout: Path) -> None:
    await pull(store, "claude-code", CLAUDE)
    target = Path((await restore_session(store, settings, SID, to=str(checkout))).path)
    with target.open("ab") as fh:
        fh.write(user_line("continue here on machine B", str(checkout)))
    first = await import_all(store, settings)
    fork = forks.fork_id(SID, settings.machine_id)
    assert first.changed == [fork] and fork == f"{SID}@{settings.machine_id[:8]}"
    assert await store.load_payload(SID) == CLAUDE  # the origin's session is untouched
    payload = await store.load_payload(fork)
    assert payload == forks.fork_header(fork, settings.machine_id) + target.read_bytes()
    parsed = parse_payload("claude-code", payload)  # what every other machine will see
    assert (parsed.session_id, parsed.forked_from) == (fork, SID)
    assert parsed.messages[-1].text == "continue here on machine B"
    rows = {r.id: r for r in await store.list_sessions()}
    assert rows[fork].local and not rows[SID].local
    assert [c.session_id for c in await store.push_candidates()] == [fork]

    line = user_line("and once more", str(checkout))
    with target.open("ab") as fh:
        fh.write(line)
    second = await import_all(store, settings)
    assert second.changed == [fork] and second.updated == 1
    assert second.bytes_read <= len(line) + 2 * 64  # read incrementally, like any session
    assert len(await store.messages(fork)) == len(parsed.messages) + 1


async def test_restored_fork_continued_here_forks_the_fork(
        store: Store, settings: Settings, checkout: Path) -> None:
    b_fork = f"{SID}@0a1b2c3d"
    grown = CLAUDE + user_line("said on B", ORIGIN)
    await pull(store, "claude-code", forks.fork_header(b_fork, OTHER) + grown)
    res = await restore_session(store, settings, b_fork, to=str(checkout))
    target = Path(res.path)
    assert target.name == SID.split(":")[1] + ".jsonl" and not target.read_bytes().startswith(
        b'{"lore_fork"')
    assert (await import_all(store, settings)).imported == 0
    with target.open("ab") as fh:
        fh.write(user_line("said on C", str(checkout)))
    report = await import_all(store, settings)
    mine = forks.fork_id(b_fork, settings.machine_id)
    assert report.changed == [mine]
    assert parse_payload("claude-code", await store.load_payload(mine)).forked_from == b_fork


async def test_existing_files_are_never_silently_replaced(
        store: Store, settings: Settings, checkout: Path) -> None:
    await pull(store, "claude-code", CLAUDE)
    first = await restore_session(store, settings, SID, to=str(checkout))
    target = Path(first.path)
    target.write_bytes(b'{"type":"user","note":"something else"}\n')
    with pytest.raises(RestoreError) as err:
        await restore_session(store, settings, SID, to=str(checkout))
    assert "already exists and differs" in err.value.message
    assert "--force" in (err.value.fix or "")
    forced = await restore_session(store, settings, SID, to=str(checkout), force=True)
    assert forced.written and forced.replaced and "differs" in forced.replaced
    assert parse_payload("claude-code", target.read_bytes()).project_path == str(checkout)


async def test_an_older_copy_is_brought_up_to_date(
        store: Store, settings: Settings, checkout: Path) -> None:
    await pull(store, "claude-code", CLAUDE)
    target = Path((await restore_session(store, settings, SID, to=str(checkout))).path)
    await pull(store, "claude-code", CLAUDE + user_line("later on A", ORIGIN), seq=2, chunks=2)
    res = await restore_session(store, settings, SID, to=str(checkout))
    assert res.written and res.replaced and "older copy" in res.replaced
    assert parse_payload("claude-code", target.read_bytes()).messages[-1].text == "later on A"
    assert (await import_all(store, settings)).imported == 0


async def test_a_fork_never_replaces_this_machines_own_session(
        clean_env: Path, store: Store, settings: Settings, checkout: Path) -> None:
    # this machine's own session S lives in the checkout; another machine forked it
    own = clean_env / ".claude/projects" / escape_claude_project(str(checkout))
    own.mkdir(parents=True)
    (own / (SID.split(":")[1] + ".jsonl")).write_bytes(CLAUDE)
    assert (await import_all(store, settings)).imported == 1
    b_fork = f"{SID}@0a1b2c3d"
    await pull(store, "claude-code",
               forks.fork_header(b_fork, OTHER) + CLAUDE + user_line("B", ORIGIN))
    with pytest.raises(RestoreError, match="this machine's session") as err:
        await restore_session(store, settings, b_fork, to=str(checkout), force=True)
    assert "--to" in (err.value.fix or "")
    assert (own / (SID.split(":")[1] + ".jsonl")).read_bytes() == CLAUDE
    # not even when the own file is a prefix of the fork (same paths on both machines)
    same = CLAUDE.replace(ORIGIN.encode(), str(checkout).encode())
    (own / (SID.split(":")[1] + ".jsonl")).write_bytes(same)
    assert (await import_all(store, settings)).updated == 1
    c_fork = f"{SID}@0c0c0c0c"
    await pull(store, "claude-code", forks.fork_header(c_fork, OTHER) + same
               + user_line("C", str(checkout)), seq=3)
    with pytest.raises(RestoreError, match="this machine's session"):
        await restore_session(store, settings, c_fork, to=str(checkout))
    assert (own / (SID.split(":")[1] + ".jsonl")).read_bytes() == same


async def test_unsupported_tool_and_missing_mapping_are_refused(
        store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = gemini.render_header("jsonl", "/p") + GEMINI.read_bytes()
    parsed = parse_payload("gemini", payload)
    await store.apply_pull_page([PulledSession(parsed, payload, OTHER, "a", 1, 1, 1)], [], 1)
    with pytest.raises(RestoreError) as err:
        await restore_session(store, settings, parsed.session_id)
    assert err.value.message.startswith("/p does not exist on this machine")
    # a tool this version cannot put back (every captured tool but these five)
    import lored.restore.place as place

    monkeypatch.setattr(place, "SUPPORTED", ("claude-code", "codex"))
    with pytest.raises(RestoreError) as err:
        await restore_session(store, settings, parsed.session_id)
    assert err.value.message == "restore is not supported for gemini sessions yet"
    monkeypatch.undo()
    await pull(store, "claude-code", CLAUDE, seq=2)
    with pytest.raises(RestoreError) as err2:
        await restore_session(store, settings, SID)
    assert "git remote" in err2.value.message and "--to PATH" in (err2.value.fix or "")


async def test_codex_and_claude_found_by_git_remote_in_the_tools_own_homes(
        clean_env: Path, store: Store, settings: Settings, checkout: Path) -> None:
    own = user_line("my own work here", str(checkout), sid="11111111-2222-4333-8444-555555555555")
    await store.save_capture(parse_payload("claude-code", own), own, None, settings.machine_id)
    codex_sid = await pull(store, "codex", CODEX)
    await pull(store, "claude-code", CLAUDE, seq=2)
    env = {"HOME": str(clean_env), "CODEX_HOME": str(clean_env / "cx"),
           "CLAUDE_CONFIG_DIR": str(clean_env / "cc")}
    res = await restore_session(store, settings, codex_sid, env=env, tz=UTC)
    assert res.mapping == "git remote" and res.project_path == str(checkout)
    assert Path(res.path) == clean_env / "cx/sessions/2025/06/14" / CODEX_FILE.name
    restored = parse_payload("codex", Path(res.path).read_bytes())
    assert restored.project_path == str(checkout)
    # Claude Code records no remote: the Codex session from the same origin folder does
    res2 = await restore_session(store, settings, SID, env=env)
    assert res2.mapping == "git remote"
    assert Path(res2.path).parent.parent == clean_env / "cc/projects"


async def test_own_session_whose_file_was_cleaned_up_comes_back_in_place(
        clean_env: Path, store: Store, settings: Settings, checkout: Path) -> None:
    # Claude Code deletes old transcripts at start-up; Lore kept the session
    data = CLAUDE.replace(ORIGIN.encode(), str(checkout).encode())
    folder = clean_env / ".claude/projects" / escape_claude_project(str(checkout))
    folder.mkdir(parents=True)
    (folder / (SID.split(":")[1] + ".jsonl")).write_bytes(data)
    assert (await import_all(store, settings)).imported == 1
    (folder / (SID.split(":")[1] + ".jsonl")).unlink()
    res = await restore_session(store, settings, SID)
    assert res.written and res.mapping == "git remote" and res.project_path == str(checkout)
    assert Path(res.path).read_bytes() == data
    with Path(res.path).open("ab") as fh:
        fh.write(user_line("back again", str(checkout)))
    report = await import_all(store, settings)
    assert report.changed == [SID] and report.updated == 1  # its own session grows: no fork


def test_cli_prints_where_and_how_to_resume(settings: Settings, checkout: Path) -> None:
    from click.testing import CliRunner

    from lorectl.commands.local import sessions_group

    async def setup() -> None:
        store = await Store.open(settings.paths.db_file)
        try:
            await pull(store, "claude-code", CLAUDE)
        finally:
            await store.close()

    asyncio.run(setup())
    runner = CliRunner()
    done = runner.invoke(sessions_group, ["restore", SID[:16], "--to", str(checkout)])
    assert done.exit_code == 0, done.output
    assert f"Restored {SID} to " in done.output
    assert f"claude --resume {SID.split(':')[1]}" in done.output
    assert "Remembered in config.toml: [projects]" in done.output
    again = runner.invoke(sessions_group, ["restore", SID[:16], "--to", str(checkout)])
    assert "already restored" in again.output
    # the --to answer was remembered: asked once per project
    remembered = runner.invoke(sessions_group, ["restore", SID])
    assert remembered.exit_code == 0, remembered.output
    assert "(found by config)" in remembered.output
    assert ORIGIN in Path(settings.paths.config_file).read_text()


async def test_auto_restore_after_pull_restores_only_what_maps(
        clean_env: Path, store: Store, settings: Settings, checkout: Path) -> None:
    from lored.restore.place import auto_enabled, restore_pulled

    assert not auto_enabled(settings)
    assert auto_enabled(replace(settings, raw={"restore": {"auto": True}}))
    own = user_line("mine", str(checkout), sid="11111111-2222-4333-8444-555555555555")
    await store.save_capture(parse_payload("claude-code", own), own, None, settings.machine_id)
    codex_sid = await pull(store, "codex", CODEX)  # its remote matches the checkout
    other = CLAUDE.replace(b"3f2b9c1e", b"4f2b9c1e").replace(  # no remote, not here
        ORIGIN.encode(), b"/home/dev/projects/elsewhere")
    other_sid = await pull(store, "claude-code", other, seq=2)
    ids = [codex_sid, other_sid, "claude-code:11111111-2222-4333-8444-555555555555"]
    done, skipped = await restore_pulled(store, settings, ids, env={"HOME": str(clean_env)})
    assert [r.session_id for r in done] == [codex_sid]
    assert list(skipped) == [other_sid]
    again, _ = await restore_pulled(store, settings, ids, env={"HOME": str(clean_env)})
    assert again == []  # already there: nothing written twice
