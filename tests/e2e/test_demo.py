"""`make demo` end to end: the script the Makefile runs, as a real process tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_shows_sessions_arriving_on_machine_b() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")}
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py")], env=env,
                         capture_output=True, text=True, timeout=180, cwd=REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "sessions arrived on machine B" in res.stdout
    assert res.stdout.count("Next auto-sync:") == 2
    assert "machine-A" in res.stdout  # B lists A's sessions by their origin machine
    leftovers = [p for p in Path("/tmp").glob("lore-demo-*") if p.is_dir()]
    assert not any(str(p) in res.stdout for p in leftovers)  # the demo cleaned up after itself
