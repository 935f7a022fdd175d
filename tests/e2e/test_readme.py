"""The README's commands, run in order in a temp HOME against a real lore-server.

Substitutions, and only these: ``pipx install …`` lines are skipped (the test runs the
package installed in this virtualenv), ``https://lore.example.com`` becomes the URL of
the test's own ``lore-server``, ``/var/lib/lore-server`` its temp data dir, and the
service managers are the recording fakes in ``tests/fakebin`` (systemctl cannot run
here). Secrets come from LORE_PASSWORD / LORE_PASSPHRASE, as the README says.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.serverproc import start_server

REPO = Path(__file__).resolve().parents[2]
FAKEBIN = REPO / "tests" / "fakebin"
FIXTURES = REPO / "tests" / "fixtures"
EMAIL = "you@example.com"


def readme_block(heading: str, index: int = 0) -> list[str]:
    """The commands of the ``index``-th bash block after ``heading`` (comments dropped)."""
    text = (REPO / "README.md").read_text()
    section = text.split(f"## {heading}", 1)[1]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    lines = []
    for raw in blocks[index].splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def run_lines(lines: list[str], env: dict[str, str], cwd: Path, subst: dict[str, str]) -> str:
    out = []
    for line in lines:
        if line.startswith("pipx "):
            continue
        for old, new in subst.items():
            line = line.replace(old, new)
        res = subprocess.run(["bash", "-c", line], env=env, cwd=cwd, capture_output=True,
                             text=True, timeout=120)
        assert res.returncode == 0, f"README command failed: {line}\n{res.stdout}\n{res.stderr}"
        out.append(res.stdout)
    return "".join(out)


def machine_env(root: Path, name: str) -> dict[str, str]:
    home = root / name / "home"
    home.mkdir(parents=True)
    (root / name / "run").mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LORE_", "XDG_", "CLAUDE_", "CODEX_"))}
    env.update(
        HOME=str(home), XDG_RUNTIME_DIR=str(root / name / "run"), NO_COLOR="1",
        PATH=f"{FAKEBIN}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        LORE_PASSWORD="readme-password-1", LORE_PASSPHRASE="readme passphrase",
        FAKEBIN_LOG=str(root / name / "fakebin.log"), PYTHONPATH=str(REPO),
    )
    return env


def test_readme_commands_work_as_written(tmp_path: Path) -> None:
    server = start_server(tmp_path / "server-proc")
    try:
        data_dir = str(server.data_dir)
        admin = readme_block("Self-host Lore Cloud")[1]  # lore-server user add …
        assert admin.startswith("lore-server user add")
        env_a = machine_env(tmp_path, "A")
        run_lines([admin], env_a, tmp_path, {"/var/lib/lore-server": data_dir})
        subst = {"https://lore.example.com": server.url}

        home_a = Path(env_a["HOME"])
        shutil.copytree(FIXTURES / "claude", home_a / ".claude")
        shutil.copytree(FIXTURES / "codex", home_a / ".codex")
        install = readme_block("Install the client")
        status = run_lines(install, env_a, tmp_path, subst)
        assert "Email: you@example.com" in status and "Pending sync: 0" in status
        unit = Path(env_a["HOME"]) / ".config/systemd/user/lored.service"
        assert unit.exists() and "ExecStart=" in unit.read_text()
        calls = Path(env_a["FAKEBIN_LOG"]).read_text()
        assert "enable" in calls and "lored" in calls

        everyday = run_lines(readme_block("Install the client", 1), env_a, tmp_path, subst)
        assert "Next auto-sync" in everyday and "pagination" in everyday.lower()

        # "On a second machine: lorectl login …, then lorectl pull"
        env_b = machine_env(tmp_path, "B")
        login = next(line for line in install if line.startswith("lorectl login"))
        run_lines([login, "lorectl pull"], env_b, tmp_path, subst)
        listed = subprocess.run(["lorectl", "sessions", "list", "--json"], env=env_b,
                                capture_output=True, text=True, check=True).stdout
        ids = {s["id"] for s in json.loads(listed)}
        assert any(i.startswith("claude-code:3f2b") for i in ids)
        assert any(i.startswith("codex:") for i in ids)
        checkout = Path(env_b["HOME"]) / "src/webapp"
        checkout.mkdir(parents=True)
        # "Continue a session on another machine": tests/fakebin/claude records the exec
        printed = run_lines(readme_block("Continue a session on another machine"), env_b,
                            tmp_path, subst)
        assert f"cd {checkout} && claude --resume 3f2b" in printed
        restored = list((Path(env_b["HOME"]) / ".claude/projects").rglob("3f2b*.jsonl"))
        assert len(restored) == 1 and '"cwd":"' + env_b["HOME"] in restored[0].read_text()
        calls = [json.loads(ln) for ln in Path(env_b["FAKEBIN_LOG"]).read_text().splitlines()]
        resumed = [c for c in calls if c["argv"][0] == "claude"]
        assert len(resumed) == 1 and resumed[0]["cwd"] == str(checkout)
        assert resumed[0]["argv"][1] == "--resume" and resumed[0]["argv"][2].startswith("3f2b")
    finally:
        server.stop()
