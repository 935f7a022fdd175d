"""Settings: first-run machine id, LORE_HOME layout, TOML errors, intervals, secret files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lored.config import (
    MAX_SOCKET_PATH,
    load_settings,
    parse_interval,
    resolve_paths,
    update_config,
    write_secret,
)
from lored.errors import ConfigError


def test_first_run_creates_machine_id_once(tmp_path: Path) -> None:
    env = {"LORE_HOME": str(tmp_path / "lore")}
    first = load_settings(env)
    again = load_settings(env)
    assert first.machine_id == again.machine_id and len(first.machine_id) == 36
    assert first.paths.db_file == tmp_path / "lore" / "sessions.db"
    assert stat.S_IMODE(os.stat(first.paths.config_file).st_mode) == 0o600


def test_platform_dirs_without_lore_home(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    os.environ.pop("LORE_HOME", None)
    paths = resolve_paths(env)
    assert paths.config_file.name == "config.toml" and "lore" in str(paths.data_dir)


def test_config_values_and_errors(tmp_path: Path) -> None:
    env = {"LORE_HOME": str(tmp_path)}
    s = load_settings(env)
    update_config(s.paths, {"sync": {"interval": "2s", "auto": False},
                            "privacy": {"metadata": "minimal"}, "server": {"url": "http://x"}})
    s = load_settings(env)
    assert (s.sync_interval, s.sync_auto, s.privacy_metadata, s.server_url) == (
        2, False, "minimal", "http://x")
    s.paths.config_file.write_text("machine_id = [broken")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env)
    s.paths.config_file.write_text('machine_id = "m"\n[privacy]\nmetadata = "none"\n')
    with pytest.raises(ConfigError, match=r"line 3: \[privacy\] metadata"):
        load_settings(env)


@pytest.mark.parametrize(("value", "seconds"), [(900, 900), ("15m", 900), ("2s", 2), ("1h", 3600),
                                                ("30", 30), ("2h15m", 8100), ("90s", 90),
                                                ("1d", 86400), ("1.5h", 5400),
                                                ("1h 2m 3s", 3723)])
def test_parse_interval(value: object, seconds: int) -> None:
    assert parse_interval(value) == seconds


@pytest.mark.parametrize("value", ["soon", 0, True, None, "-5m", "15m2h", "2 hours",
                                   "", "m", "0.5s", [15]])
def test_parse_interval_rejects(value: object) -> None:
    with pytest.raises(ConfigError):
        parse_interval(value)


def test_long_lore_home_gets_a_short_socket(tmp_path: Path) -> None:
    paths = resolve_paths({"LORE_HOME": str(tmp_path / ("x" * 120))})
    assert len(os.fsencode(paths.socket_path)) <= MAX_SOCKET_PATH
    assert resolve_paths({"LORE_HOME": "/tmp/l"}).socket_path == Path("/tmp/l/run/lored.sock")


def test_write_secret_is_0600(tmp_path: Path) -> None:
    path = tmp_path / "d" / "token.json"
    write_secret(path, b"s3cret")
    assert path.read_bytes() == b"s3cret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_find_line_points_at_the_key() -> None:
    from lored.config_check import find_line

    text = ('machine_id = "m"\n# [sync] in a comment\n[sync]\ninterval = "1m"\n'
            '"auto" = 1\n[capture]\ntools = []\nsync.x = 1\n[a . "b"]\nc = 2\n')
    assert find_line(text, ("machine_id",)) == 1
    assert find_line(text, ("sync",)) == 3
    assert find_line(text, ("sync", "auto")) == 5
    assert find_line(text, ("capture", "tools")) == 7
    assert find_line(text, ("capture", "sync", "x")) == 8
    assert find_line(text, ("a", "b", "c")) == 10
    assert find_line(text, ("capture", "nope")) == 6  # the section when the key is not written
    assert find_line(text, ("privacy",)) is None
    assert find_line('sync = { auto = "no" }\n', ("sync", "auto")) == 1
