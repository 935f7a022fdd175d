"""Shared fixtures: every test runs with a scrubbed environment and a private HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.s3server import s3_server, s3_store  # noqa: F401  (fixtures: one S3 server per run)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Scrub LORE_* and point HOME, XDG dirs and LORE_HOME into tmp (never the real user's)."""
    for key in list(os.environ):
        if key.startswith("LORE_") and key not in ("LORE_REQUIRE_POSTGRES", "LORE_REQUIRE_BROWSER",
                                                  "LORE_REQUIRE_SYSTEMD", "LORE_REQUIRE_S3"):
            monkeypatch.delenv(key, raising=False)
    for key in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "NOTIFY_SOCKET", "OPENCODE_DATA_DIR",
                "CLINE_DIR", "CLINE_DATA_DIR", "CONTINUE_GLOBAL_DIR", "GOOSE_PATH_ROOT",
                "VSCODE_USER_DIRS", "OPENCODE_DB"):
        monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    monkeypatch.setenv("LORE_HOME", str(tmp_path / "lore"))
    yield home


@pytest.fixture
def fixtures_dir() -> Path:
    """The synthetic transcripts copied from shared/fixtures."""
    return FIXTURES
