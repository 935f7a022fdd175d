"""The crash-point switch itself: dies with 137 only where named, n-th hit, once per file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys
from {module} import fault_point
for i in range(3):
    fault_point("other")
    fault_point("here")
    print(i, flush=True)
"""


def _run(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT.format(module=module)], env={
        "PYTHONPATH": str(REPO), **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("module", ["lored.faults", "lorecloud.faults"])
def test_fault_point_protocol(module: str, tmp_path: Path) -> None:
    assert _run(module, {}).stdout.split() == ["0", "1", "2"]
    assert _run(module, {"LORE_FAULT": "elsewhere"}).returncode == 0
    first = _run(module, {"LORE_FAULT": "nothing,here"})
    assert first.returncode == 137 and first.stdout == ""
    second = _run(module, {"LORE_FAULT": "here@2"})
    assert second.returncode == 137 and second.stdout.split() == ["0"]
    once = tmp_path / "fired"
    env = {"LORE_FAULT": "here", "LORE_FAULT_ONCE_FILE": str(once)}
    assert _run(module, env).returncode == 137 and once.exists()
    assert _run(module, env).stdout.split() == ["0", "1", "2"]  # the restart carries on
