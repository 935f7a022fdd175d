"""Service units (lorectl/service_units.py): systemd user unit and LaunchAgent rendering.

The systemd unit is checked with ``systemd-analyze verify --user`` when the binary
exists (its stderr too: it exits 0 on many errors); the plist round-trips through
plistlib. The committed examples in systemd/ and launchd/ must match the renderer.
"""

from __future__ import annotations

import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest

from lorectl import service_units as units

ROOT = Path(__file__).resolve().parents[2]
LORED = Path("/opt/lore/bin/lored")


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith(("#", "[")):
            out.setdefault(key, []).append(value)
    return out


def test_systemd_unit_has_the_required_directives() -> None:
    text = units.render_systemd(LORED, {})
    d = _directives(text)
    assert d["Type"] == ["notify"]
    assert d["ExecStart"] == [f"{LORED} --log-format json"]
    assert d["Restart"] == ["on-failure"]
    assert d["RuntimeDirectory"] == ["lore"]
    assert d["RuntimeDirectoryMode"] == ["0700"]
    assert d["UMask"] == ["0077"]
    assert int(d["TimeoutStopSec"][0]) >= 10
    assert d["WantedBy"] == ["default.target"]
    for bad in ("User", "Group", "PrivateTmp", "ProtectSystem", "DynamicUser"):
        assert bad not in d, f"{bad}= misbehaves in user units"
    assert "network-online.target" not in text


def test_systemd_unit_passes_lore_home_through_quoted() -> None:
    text = units.render_systemd(LORED, {"LORE_HOME": "/home/a b/lore"})
    assert 'Environment="LORE_HOME=/home/a b/lore"' in text
    assert "Environment=PYTHONUNBUFFERED=1" in text


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    lored = tmp_path / "bin" / "lored"
    lored.parent.mkdir()
    lored.write_text("#!/bin/sh\n")
    lored.chmod(0o755)
    unit = tmp_path / "lored.service"
    unit.write_text(units.render_systemd(lored, {"LORE_HOME": str(tmp_path / "lore")}))
    runtime = tmp_path / "xdg-run"
    runtime.mkdir(mode=0o700)
    proc = subprocess.run(
        [analyze, "verify", "--user", str(unit)], capture_output=True, text=True,
        env={"XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    # ignore only complaints about the host (no user bus/manager), never about our file
    problems = [line for line in proc.stderr.splitlines() if "lored.service" in line]
    assert proc.returncode == 0 and not problems, proc.stderr


def test_launchd_plist_round_trips() -> None:
    home = Path("/Users/dev")
    data = units.render_launchd(LORED, home, {"LORE_HOME": "/Users/dev/lore"})
    doc = plistlib.loads(data)
    assert doc["Label"] == "org.lore.lored"
    assert doc["ProgramArguments"][0] == str(LORED)
    assert doc["RunAtLoad"] is True
    assert doc["KeepAlive"] == {"SuccessfulExit": False}
    assert doc["StandardErrorPath"] == "/Users/dev/Library/Logs/lore/lored.log"
    assert doc["Umask"] == 0o077
    assert doc["EnvironmentVariables"]["LORE_HOME"] == "/Users/dev/lore"
    assert plistlib.dumps(doc, sort_keys=False) == data


def test_paths_respect_xdg_and_home() -> None:
    assert units.systemd_unit_path({"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/h"}) == Path(
        "/x/cfg/systemd/user/lored.service"
    )
    assert units.systemd_unit_path({"HOME": "/h"}) == Path(
        "/h/.config/systemd/user/lored.service"
    )
    assert units.launchd_plist_path(Path("/Users/d")) == Path(
        "/Users/d/Library/LaunchAgents/org.lore.lored.plist"
    )


def test_find_lored_is_absolute_and_executable() -> None:
    path = units.find_lored()
    assert path.is_absolute() and path.name == "lored"


def test_committed_examples_match_the_renderer() -> None:
    example = Path("/usr/local/bin/lored")
    committed = (ROOT / "systemd" / "lored.service").read_text()
    assert committed == units.render_systemd(example, {})
    plist = (ROOT / "launchd" / "org.lore.lored.plist").read_bytes()
    assert plist == units.render_launchd(example, Path("/Users/you"), {})
