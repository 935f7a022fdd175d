"""The benchmark harness keeps working: corpus shape and determinism, and a smoke run.

No timing is asserted anywhere (PERFORMANCE.md: benchmarks, not timed tests). The smoke
run executes every scenario at tiny sizes and checks that each produced a number or an
explicit ``n/a: reason`` — so the harness is exercised whatever parts have landed. It
never installs rclone (``--no-install``): without rclone the anchors are n/a.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.corpus import append_to_sessions, generate, target_sizes

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = next((ROOT / "tests/fixtures/claude/projects").rglob("*.jsonl"))
SCENARIOS = ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P11")


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", 12, seed=3)
    b = generate(tmp_path / "b", 12, seed=3)
    c = generate(tmp_path / "c", 12, seed=4)
    assert a.digest() == b.digest()
    assert a.digest() != c.digest()
    assert a.sizes == b.sizes and a.total_bytes == sum(p.stat().st_size for p in a.files)


def test_size_distribution_matches_the_spec() -> None:
    sizes = sorted(target_sizes(2000, seed=1))
    median, p99 = sizes[1000], sizes[1980]
    assert 32_000 <= median <= 50_000
    assert 3_500_000 <= p99 <= 7_000_000
    assert 2 <= sum(1 for s in sizes if s >= 15_000_000) <= 6  # "a few ≈ 20 MB"
    assert 250e6 <= sum(sizes) <= 400e6  # ≈ 300 MB
    assert target_sizes(2000, seed=1) == target_sizes(2000, seed=1)


def test_records_look_like_claude_code(tmp_path: Path) -> None:
    info = generate(tmp_path, 8, seed=2)
    fixture_keys = {
        json.loads(line)["type"]: set(json.loads(line))
        for line in FIXTURE.read_text().splitlines()
    }
    kinds: set[str] = set()
    for path in info.files:
        assert path.parent.parent == info.projects_dir
        records = [json.loads(line) for line in path.read_bytes().splitlines()]
        sids = {r["sessionId"] for r in records if "sessionId" in r}
        assert sids == {path.stem}
        cwds = {r["cwd"] for r in records if "cwd" in r}
        assert len(cwds) == 1 and path.parent.name == "".join(
            c if c.isalnum() else "-" for c in cwds.pop())
        for r in records:
            kinds.add(r["type"])
            if r["type"] == "user":  # tool results add toolUseResult, as in the fixture
                assert set(r) | {"toolUseResult"} == fixture_keys["user"] | {"toolUseResult"}
            if r["type"] == "assistant":
                assert set(r) == fixture_keys["assistant"]
                assert r["timestamp"].endswith("Z")
    assert {"user", "assistant"} <= kinds


def test_append_adds_exact_valid_lines(tmp_path: Path) -> None:
    info = generate(tmp_path, 10, seed=5)
    before = {p: p.read_bytes() for p in info.files}
    added = append_to_sessions(info, count=4, nbytes=1024)
    assert added == 4 * 1024
    changed = [p for p in info.files if p.read_bytes() != before[p]]
    assert len(changed) == 4
    for p in changed:
        tail = p.read_bytes()[len(before[p]):]
        assert before[p] == p.read_bytes()[: len(before[p])] and len(tail) == 1024
        rec = json.loads(tail)
        assert rec["sessionId"] == p.stem and rec["type"] == "user"


# a hang guard, not a speed bar: the smoke run starts ~10 servers and daemons, and a
# shared 2-core machine under load has taken 2 minutes
@pytest.mark.timeout(400)
def test_smoke_run_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--scale", "--no-install",
         "--json-out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=390,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    header = proc.stdout.splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "scenario", "lore", "anchor", "ratio", "bar", "verdict"]
    doc = json.loads(out.read_text())
    assert {"date", "machine", "corpus", "rows", "table"} <= set(doc)
    assert doc["machine"]["cores"] and doc["corpus"]["sessions"] == 30
    seen = {r["scenario"].rstrip("fr") for r in doc["rows"]}  # P1f, P1r belong to P1
    assert seen == set(SCENARIOS)
    # lorectl mcp answered a list_sessions call, in-process and through lored's standby
    inproc, standby = [r for r in doc["rows"] if r["scenario"] == "P11"]
    assert isinstance(inproc["lore"], float) and inproc["anchor"], inproc
    assert "standby" in standby["what"] and isinstance(standby["lore"], float), standby
    # --scale adds P3 at the larger size and its ratio to the smaller one
    assert any(r["scenario"] == "P3" and "300" in r["what"] for r in doc["rows"])
    for row in doc["rows"]:
        assert {"scenario", "lore", "anchor", "ratio", "bar", "verdict"} <= set(row)
        if row["verdict"].startswith("n/a"):
            assert len(row["verdict"]) > len("n/a: ") + 3, row  # an explicit reason
            assert "harness error" not in row["verdict"], row
        else:
            assert isinstance(row["lore"], int | float), row
            assert row["verdict"] in ("met", "MISSED", "info"), row
    # the table on stdout has one line per JSON row
    assert len([ln for ln in proc.stdout.splitlines() if ln.startswith("| P")]) == len(doc["rows"])
