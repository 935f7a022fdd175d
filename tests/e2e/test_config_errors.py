"""config.toml mistakes as a user meets them: real `lorectl`, one sentence naming file+line+key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LORECTL = str(Path(sys.executable).parent / "lorectl")


def lorectl(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LORECTL, *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)


def config_file() -> Path:
    path = Path(os.environ["LORE_HOME"]) / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write(body: str) -> Path:
    path = config_file()
    path.write_text('machine_id = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"\nmachine_name = "vm"\n'
                    + body)
    return path


@pytest.mark.parametrize(("body", "line", "words"), [
    ('[sync]\ninterval = "15m"\nauto = "no"\n', 5, '[sync] auto must be true or false'),
    ('[capture]\ntools = ["claude-code", "vim-ai"]\n', 4, '[capture] tools: "vim-ai" is not'),
    ('[snyc]\nauto = false\n', 3, '[snyc] is not a section of config.toml (did you mean [sync]?)'),
    ('[sync]\nautomatic = false\n', 4, '[sync] automatic is not a key of [sync] (did you mean'),
    ('[server]\ninsecure_http = "yes"\n', 4, '[server] insecure_http must be true or false'),
    ('[sync]\ninterval = "soon"\n', 4, '[sync] interval must be a duration like 90s, 15m or 2h15m'),
    ('[privacy]\nmetadata = "none"\n', 4, '[privacy] metadata must be "full" or "minimal"'),
    ('[restore]\nauto = 1\n', 4, '[restore] auto must be true or false'),
])
def test_a_mistake_names_file_line_and_key(clean_env: Path, body: str, line: int,
                                           words: str) -> None:
    path = write(body)
    before = path.read_text()
    for args in (("config", "show"), ("status",), ("sessions", "list")):
        proc = lorectl(*args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        first, hint = proc.stderr.splitlines()
        assert first == f"error: {path}, line {line}: " + first.split(": ", 2)[2]
        assert words in first
        assert hint.startswith(f"hint: edit {path}")
        assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert path.read_text() == before  # nothing rewrote the user's file


def test_auto_no_is_never_true(clean_env: Path) -> None:
    write('[sync]\nauto = false\n')
    shown = json.loads(lorectl("config", "show", "--json").stdout)
    assert shown["sync"]["auto"] is False
    write('[sync]\nauto = "no"\n')
    assert lorectl("config", "show", "--json").returncode == 1


def test_invalid_toml_hint_works(clean_env: Path) -> None:
    path = write('[sync\nauto = false\n')
    proc = lorectl("config", "show")
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: {path} is not valid TOML: ")
    assert "(at line 3, column 6)" in proc.stderr
    hint = proc.stderr.splitlines()[-1]
    # the hint names the file to edit, never a command that reads the same broken file
    assert hint.startswith(f"hint: edit {path}") and "lorectl" not in hint
    path.write_text(path.read_text().replace("[sync\n", "[sync]\n"))  # do what it says
    fixed = lorectl("config", "show", "--json")
    assert fixed.returncode == 0 and json.loads(fixed.stdout)["sync"]["auto"] is False


@pytest.mark.parametrize(("value", "seconds"), [("2h15m", 8100), ("90s", 90), ("15m", 900),
                                                ("1h 30m", 5400), ("600", 600)])
def test_sync_interval_variable_takes_durations(clean_env: Path, value: str,
                                                seconds: int) -> None:
    proc = lorectl("config", "show", "--json", LORE_SYNC_INTERVAL=value)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sync"]["interval"] == seconds


def test_bad_sync_interval_variable_names_the_variable(clean_env: Path) -> None:
    proc = lorectl("config", "show", LORE_SYNC_INTERVAL="2 hours")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "error: LORE_SYNC_INTERVAL '2 hours' is not a duration like 90s, 15m or 2h15m",
        "hint: set LORE_SYNC_INTERVAL to a duration such as 15m, or unset it to use "
        "[sync] interval"]


def test_every_documented_key_is_accepted(clean_env: Path) -> None:
    """The config.toml block of docs/cli.md, as written there, loads."""
    doc = (Path(__file__).parents[2] / "docs/cli.md").read_text()
    block = doc.split("### config.toml\n\n```toml\n", 1)[1].split("```", 1)[0]
    block = block.replace('"…"', '"1b4e28ba-2fa1-11d2-883f-0016d3cca427"')
    config_file().write_text(block)
    proc = lorectl("config", "show", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["capture"]["tools"][0] == "claude-code"


def test_lored_refuses_a_broken_config_at_once(clean_env: Path) -> None:
    path = write('[sync]\nauto = "no"\n')
    proc = subprocess.run([str(Path(sys.executable).parent / "lored")], capture_output=True,
                          text=True, env=dict(os.environ), timeout=60)
    assert proc.returncode == 1
    assert f"error: {path}, line 4: [sync] auto must be true or false" in proc.stderr
    assert "Traceback" not in proc.stderr
