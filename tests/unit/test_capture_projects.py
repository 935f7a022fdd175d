"""Project keys from git remotes; remotes read from .git/config (also worktrees)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lored.capture.projects import git_remote, normalise_remote, project_key


@pytest.mark.parametrize("url", [
    "git@github.com:ana/webapp.git",
    "https://github.com/ana/webapp",
    "https://ana:tok@GitHub.com/ana/webapp.git/",
    "ssh://git@github.com:22/ana/webapp.git",
    "github.com:ana/webapp",
])
def test_equivalent_remotes_share_a_key(url: str) -> None:
    assert normalise_remote(url) == "github.com/ana/webapp"


def test_local_and_missing_remotes() -> None:
    assert normalise_remote("/srv/git/webapp.git/") == "/srv/git/webapp.git"
    assert normalise_remote("file:///srv/git/webapp.git") == "file:///srv/git/webapp.git"
    assert normalise_remote("") is None and normalise_remote(None) is None
    assert project_key(None, "/home/ana/webapp") == "/home/ana/webapp"
    assert project_key("git@h.io:a/b.git", "/x") == "h.io/a/b"


def write_config(git: Path, body: str) -> None:
    git.mkdir(parents=True)
    (git / "config").write_text(body)


def test_git_remote_prefers_origin_from_a_subfolder(tmp_path: Path) -> None:
    write_config(tmp_path / "repo/.git", '[core]\n\tbare = false\n[remote "upstream"]\n'
                 '\turl = https://example.com/up/webapp.git\n[remote "origin"]\n'
                 '\turl = git@example.com:ana/webapp.git\n\tfetch = +refs/heads/*\n')
    (tmp_path / "repo/src/app").mkdir(parents=True)
    assert git_remote(str(tmp_path / "repo/src/app")) == "git@example.com:ana/webapp.git"
    assert git_remote(str(tmp_path / "nowhere")) is None
    assert git_remote(None) is None


def test_git_remote_of_a_worktree(tmp_path: Path) -> None:
    main = tmp_path / "main/.git"
    write_config(main, '[remote "fork"]\n\turl = https://example.com/f/w\n')
    wt_git = main / "worktrees/feature"
    wt_git.mkdir(parents=True)
    (wt_git / "commondir").write_text("../..\n")
    (tmp_path / "feature").mkdir()
    (tmp_path / "feature/.git").write_text(f"gitdir: {wt_git}\n")
    assert git_remote(str(tmp_path / "feature")) == "https://example.com/f/w"
