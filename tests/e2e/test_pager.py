"""Long listings on a terminal go through a pager; pipes and --json never do.

`lorectl` runs on a real pseudo-terminal (python's `pty`, 80x24) with a fake pager that
records its argv and what it was given. 40 captured Claude Code sessions make
`sessions list` longer than the screen.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.ptyproc import run_pty

FIX = Path(__file__).parents[1] / "fixtures/claude/projects/-home-dev-projects-webapp"
SID = "3f2b9c1e-7a4d-4e8b-9c2a-5d1e6f7a8b90"
LORECTL = str(Path(sys.executable).parent / "lorectl")
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
FAKE_PAGER = """\
import json, os, sys
data = sys.stdin.read()
with open(os.environ["FAKE_PAGER_OUT"], "w") as f:
    json.dump({"argv": sys.argv[1:], "text": data, "less": os.environ.get("LESS")}, f)
"""


@pytest.fixture
def many(clean_env: Path, tmp_path: Path) -> dict[str, str]:
    """40 captured sessions; -> the environment for lorectl with the fake pager."""
    dest = clean_env / ".claude/projects/-home-dev-projects-webapp"
    dest.mkdir(parents=True)
    text = (FIX / f"{SID}.jsonl").read_text()
    for n in range(40):
        new = str(uuid.UUID(int=n + 1))
        (dest / f"{new}.jsonl").write_text(
            text.replace(SID, new).replace("Add limit/offset", f"#{n} Add limit/offset"))
    pager = tmp_path / "fakepager.py"
    pager.write_text(FAKE_PAGER)
    env = {k: v for k, v in os.environ.items() if k not in ("PAGER", "LESS", "NO_COLOR")}
    env |= {"LORE_PAGER": f"{sys.executable} {pager} --flag", "TERM": "xterm",
            "FAKE_PAGER_OUT": str(tmp_path / "paged.json")}
    subprocess.run([LORECTL, "import"], env=env, check=True, capture_output=True, timeout=60)
    return env


def paged(env: dict[str, str]) -> dict[str, object] | None:
    out = Path(env["FAKE_PAGER_OUT"])
    if not out.exists():
        return None
    doc: dict[str, object] = json.loads(out.read_text())
    out.unlink()
    return doc


def test_a_long_list_on_a_tty_goes_through_lore_pager_in_80_columns(
        many: dict[str, str]) -> None:
    code, screen = run_pty(["sessions", "list"], many)
    assert code == 0, screen
    got = paged(many)
    assert got is not None and got["argv"] == ["--flag"] and got["less"] == "FRX"
    lines = ANSI.sub("", str(got["text"])).rstrip("\n").splitlines()
    assert lines[0].split() == ["ID", "TOOL", "STARTED", "MSGS", "MACHINE", "PROJECT", "TITLE"]
    assert len(lines) == 41 and all(len(line) <= 80 for line in lines), lines
    assert sum("webapp" in line and "this machine" in line for line in lines) == 40
    assert "00000000" in str(got["text"])  # the short id `sessions show` accepts
    assert "claude-code" not in screen  # the rows went to the pager, not the terminal


def test_pager_choice_lore_pager_then_pager_then_less_frx(many: dict[str, str],
                                                          tmp_path: Path) -> None:
    fake = many["LORE_PAGER"]
    env = {k: v for k, v in many.items() if k != "LORE_PAGER"} | {"PAGER": fake + " viaPAGER"}
    assert run_pty(["sessions", "list"], env)[0] == 0
    assert (paged(env) or {})["argv"] == ["--flag", "viaPAGER"]
    # neither set: `less -FRX`, found on PATH (here a recording stand-in)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    less = bindir / "less"
    less.write_text(f"#!{sys.executable}\n" + FAKE_PAGER)
    less.chmod(0o755)
    env = {k: v for k, v in env.items() if k != "PAGER"}
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    assert run_pty(["sessions", "list"], env)[0] == 0
    assert (paged(env) or {})["argv"] == ["-FRX"]
    # an empty LORE_PAGER turns paging off
    code, screen = run_pty(["sessions", "list"], {**env, "LORE_PAGER": ""})
    assert code == 0 and paged(env) is None and screen.count("this machine") == 40


def test_no_pager_for_json_pipes_or_what_fits_the_screen(many: dict[str, str]) -> None:
    code, screen = run_pty(["sessions", "list", "--json"], many)
    assert code == 0 and paged(many) is None
    assert len(json.loads(screen)) == 40
    piped = subprocess.run([LORECTL, "sessions", "list"], env=many, capture_output=True,
                           text=True, timeout=60)
    assert piped.returncode == 0 and paged(many) is None
    lines = piped.stdout.splitlines()
    assert len(lines) == 41 and all(len(line) <= 80 for line in lines)
    assert "\x1b[" not in piped.stdout
    code, screen = run_pty(["sessions", "list", "--limit", "3"], many)
    assert code == 0 and paged(many) is None and screen.count("this machine") == 3


def test_sessions_show_pages_a_long_session(many: dict[str, str]) -> None:
    code, screen = run_pty(["sessions", "show", "00000000-0000-0000-0000-000000000001"],
                           many, rows=10)
    assert code == 0, screen
    got = paged(many)
    assert got is not None
    text = str(got["text"])
    assert text.startswith("Session: claude-code:00000000-0000-0000-0000-000000000001")
    assert "[user]" in text and "[assistant]" in text and "[user]" not in screen


def test_search_says_when_its_answer_was_cut(many: dict[str, str]) -> None:
    every = json.loads(subprocess.run(
        [LORECTL, "search", "pagination", "--limit", "1000", "--json"], env=many,
        capture_output=True, text=True, check=True, timeout=60).stdout)
    assert len(every) > 20
    out = subprocess.run([LORECTL, "search", "pagination", "--limit", "20"], env=many,
                         capture_output=True, text=True, check=True, timeout=60).stdout
    lines = out.splitlines()
    assert lines[-1] == f"showing 20 of {len(every)} — use --limit N for more"
    assert len(lines) == 22 and all(len(line) <= 80 for line in lines)
    everything = subprocess.run([LORECTL, "search", "pagination", "--limit", "1000"], env=many,
                                capture_output=True, text=True, check=True, timeout=60).stdout
    assert "showing" not in everything
    # --json keeps CLI.md's plain list
    assert len(json.loads(subprocess.run(
        [LORECTL, "search", "pagination", "--json", "--limit", "20"], env=many,
        capture_output=True, text=True, check=True, timeout=60).stdout)) == 20


def test_a_missing_pager_prints_the_text(many: dict[str, str]) -> None:
    env = {**many, "LORE_PAGER": "/nonexistent/pager"}
    code, screen = run_pty(["sessions", "list"], env)
    assert code == 0 and screen.count("this machine") == 40
    assert shutil.which("lorectl", path=str(Path(LORECTL).parent))
