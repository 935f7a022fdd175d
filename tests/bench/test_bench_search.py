"""P9 (search over the corpus) runs in the harness: structure only, never timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(120)
def test_smoke_run_search_scenario(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--only", "P9", "--no-install",
         "--json-out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=110,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["scenario"] for r in rows] == ["P9"] * 3
    main = rows[0]
    assert main["verdict"] in ("met", "MISSED"), main  # a number, judged against the bar
    assert isinstance(main["lore"], int | float) and main["lore"] > 0
    detail = main["detail"]
    assert detail["sessions"] == 30
    assert set(detail["per_query_median_ms"]) == set(detail["hits"])
    assert detail["hits"]["database"] > 0  # the query words are in the corpus
    assert all(isinstance(r["lore"], int | float) for r in rows)
    assert "P9 search over 30 sessions" in proc.stdout
