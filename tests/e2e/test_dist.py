"""`make dist` builds what the README installs: a wheel and an sdist with every data file."""

from __future__ import annotations

import subprocess
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = ("lored/capture/formats.json", "lorecloud/dashboard/static/lore-web.js")


def test_make_dist_builds_wheel_and_sdist(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    proc = subprocess.run(["make", "-s", "dist", f"DIST={out}"], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [wheel] = out.glob("lore_sessions-*-py3-none-any.whl")
    [sdist] = out.glob("lore_sessions-*.tar.gz")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert set(DATA) <= names
        assert any(n.startswith("lorecloud/dashboard/templates/") for n in names)
        [entry] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = zf.read(entry).decode()
    for command in ("lored =", "lorectl =", "lore =", "lore-server ="):
        assert command in scripts
    with tarfile.open(sdist) as tf:
        members = {m.name.split("/", 1)[1] for m in tf.getmembers() if "/" in m.name}
    assert {"pyproject.toml", "README.md", *DATA} <= members
