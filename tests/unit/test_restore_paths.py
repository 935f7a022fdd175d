"""Restore targets and project mapping: pure rules, file-system facts faked by a Probe."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from pathlib import Path

import pytest

from lored.restore.paths import (
    Probe,
    RestoreError,
    claude_target,
    codex_target,
    escape_claude_project,
    local_candidates,
    origin_remote,
    parse_time,
    resolve_project,
)

A = "/home/ana/src/webapp"
B = "/Users/bo/code/webapp"
REMOTE = "git@github.com:ana/webapp.git"


def probe(dirs: dict[str, str | None]) -> Probe:
    """Folders that exist here, each with its git remote (or None)."""
    return Probe(is_dir=lambda p: p.rstrip("/") in dirs,
                 remote_of=lambda p: dirs.get(p.rstrip("/")))


@pytest.mark.parametrize(("path", "escaped"), [
    ("/home/dev/projects/webapp", "-home-dev-projects-webapp"),
    ("/home/a b/my_app.v2", "-home-a-b-my-app-v2"),
    ("/srv/café", "-srv-caf-"),
    ("/tmp/🚀x", "-tmp---x"),  # one astral char = two UTF-16 units = two dashes
])
def test_claude_escaping(path: str, escaped: str) -> None:
    assert escape_claude_project(path) == escaped


def test_claude_target() -> None:
    root = Path("/h/.claude/projects")
    assert claude_target(root, B, "3f2b") == root / "-Users-bo-code-webapp" / "3f2b.jsonl"
    for bad in ("../../etc/x", "a/b", "", ".hidden"):
        with pytest.raises(RestoreError, match="cannot be used as a file name"):
            claude_target(root, B, bad)


def test_codex_target_uses_local_time_of_the_start() -> None:
    started = parse_time("2025-06-14T23:30:05.120Z")
    assert started is not None
    plus2 = timezone(timedelta(hours=2))
    path = codex_target(Path("/h/.codex"), "0197a3c4", started, plus2)
    assert path == Path("/h/.codex/sessions/2025/06/15/rollout-2025-06-15T01-30-05-0197a3c4.jsonl")
    utc = codex_target(Path("/h/.codex"), "0197a3c4", started, UTC)
    assert utc.name == "rollout-2025-06-14T23-30-05-0197a3c4.jsonl"
    assert parse_time("not a time") is None and parse_time(None) is None


def test_to_wins_and_must_exist(tmp_path: Path) -> None:
    got = resolve_project(A, REMOTE, to=str(tmp_path), config={A: "/x"}, candidates=[],
                          probe=Probe())
    assert (got.local_path, got.how) == (str(tmp_path), "--to")
    with pytest.raises(RestoreError, match="no such directory"):
        resolve_project(A, None, to=str(tmp_path / "nope"), config={}, candidates=[],
                        probe=Probe())


def test_config_maps_origin_path_or_remote_in_any_spelling() -> None:
    fs = probe({B: None})
    by_path = resolve_project(A + "/", None, to=None, config={A: B}, candidates=[], probe=fs)
    assert (by_path.local_path, by_path.how) == (B, "config")
    by_remote = resolve_project(A, REMOTE, to=None, candidates=[], probe=fs,
                                config={"https://github.com/ana/webapp": B})
    assert by_remote.local_path == B
    with pytest.raises(RestoreError, match="does not exist") as err:
        resolve_project(A, None, to=None, config={A: "/gone"}, candidates=[], probe=fs)
    assert "--to" in (err.value.fix or "")


def test_git_remote_finds_the_checkout_among_candidates() -> None:
    fs = probe({"/other": "git@github.com:ana/other.git", B: "https://github.com/ana/webapp"})
    got = resolve_project(A, REMOTE, to=None, config={}, candidates=["/other", B], probe=fs)
    assert (got.local_path, got.how) == (B, "git remote")


def test_same_path_when_it_exists_and_no_remote_contradicts() -> None:
    got = resolve_project(A, None, to=None, config={}, candidates=[], probe=probe({A: REMOTE}))
    assert (got.local_path, got.how) == (A, "same path")
    same_remote = resolve_project(A, REMOTE, to=None, config={}, candidates=[],
                                  probe=probe({A: "https://github.com/ana/webapp.git"}))
    assert same_remote.how == "git remote"
    with pytest.raises(RestoreError, match="no checkout of"):
        resolve_project(A, REMOTE, to=None, config={}, candidates=[],
                        probe=probe({A: "git@github.com:someone/else.git"}))


def test_no_mapping_names_to_and_says_why() -> None:
    with pytest.raises(RestoreError) as err:
        resolve_project(A, None, to=None, config={}, candidates=[B], probe=probe({B: None}))
    assert "does not record its git remote" in err.value.message
    assert "--to PATH" in (err.value.fix or "") and "[projects]" in (err.value.fix or "")
    with pytest.raises(RestoreError) as err2:
        resolve_project(A, REMOTE, to=None, config={}, candidates=[B], probe=probe({B: None}))
    assert REMOTE in err2.value.message and "--to" in (err2.value.fix or "")
    with pytest.raises(RestoreError, match="project folder"):
        resolve_project(None, None, to=None, config={}, candidates=[], probe=Probe())


def test_remote_inferred_from_a_sibling_session_of_the_same_origin_folder() -> None:
    known = [(A, None, "m-a", False), (A, REMOTE, "m-a", False), (A, "x", "m-c", False),
             (B, None, "me", True)]
    assert origin_remote(None, A, "m-a", known) == REMOTE
    assert origin_remote("given", A, "m-a", known) == "given"
    assert origin_remote(None, A, "m-z", known) is None
    assert list(local_candidates(known, {"k": "/conf"}, ["/aider"])) == [B, "/conf", "/aider"]
