"""Concurrency soak: three machines with lored syncing every second while their
transcripts grow, manual `lorectl sync`s in between, and two `lore-server` processes on
one PostgreSQL behind them. The end state is checked, not logs: every session on every
machine, byte for byte the transcripts written, identical everywhere, once on the server.

The short variant runs in `make test`; `make soak` (LORE_SOAK=1) runs the long one.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.common import (
    EMAIL,
    PASSWORD,
    Cloud,
    Corpus,
    Daemon,
    LorectlMachine,
    digests,
    pending,
    record,
    state,
    variants,
    wait_for,
)


@variants(short=40, long=400)
@pytest.mark.timeout(1200)
@pytest.mark.postgres
def test_three_daemons_two_servers_one_postgres(
        tmp_path: Path, pg_database: str, size: int) -> None:
    rounds = size
    rng = random.Random(9)
    corpus = Corpus(seed=9)
    servers = [Cloud(tmp_path / f"server{i}", database_url=pg_database) for i in (1, 2)]
    daemons: list[Daemon] = []
    try:
        for s in servers:
            s.start()
        assert servers[0].proc is not None
        servers[0].proc.add_user(EMAIL, PASSWORD)
        ms = []
        for i, name in enumerate("abc"):
            m = LorectlMachine(tmp_path, name, server_url=servers[i % 2].url)
            m.login(EMAIL)
            ms.append(m)
        names: dict[str, list[str]] = {m.name: [] for m in ms}
        sizes: Counter[str] = Counter()
        for m in ms:  # something to push from the start
            n = f"{m.name}0"
            names[m.name].append(n)
            corpus.write(m, n, 4, pad=4000)
            sizes[n] = 4
        for m in ms:
            d = Daemon(m, LORE_SYNC_INTERVAL="1s", LORE_SYNC_DEBOUNCE="1")
            d.start()
            daemons.append(d)
        started = time.monotonic()
        manual: Counter[str] = Counter()
        for r in range(rounds):
            for m in ms:  # every machine's transcripts grow
                if rng.random() < 0.3 or not names[m.name]:
                    n = f"{m.name}{len(names[m.name])}"
                    names[m.name].append(n)
                    corpus.write(m, n, 3, pad=rng.choice((0, 2000, 30_000)))
                    sizes[n] = 3
                else:
                    n = rng.choice(names[m.name])
                    corpus.write(m, n, 2, start=sizes[n], pad=rng.choice((0, 5000)),
                                 append=True)
                    sizes[n] += 2
            m = rng.choice(ms)  # a manual sync joins or follows an automatic cycle
            out = m.run("sync", "--json", check=False)
            assert out.returncode == 0, out.stderr
            manual[m.name] += 1
        grow = time.monotonic() - started
        requests = 0

        expected = corpus.expected()
        wait_for(lambda: all(digests(m) == expected for m in ms), timeout=120,
                 what="every machine to hold every session")
        want = state(ms[0])
        for m in ms:
            assert state(m) == want, m.name
            assert pending(m) == [], m.name
        cloud = ms[1].json("status")["cloud"]
        assert cloud["sessions"] == len(expected)  # once each, through either server
        for d in daemons:
            assert d.proc is not None and d.proc.poll() is None, "a lored died"
        for s in servers:
            assert s.proc is not None and s.proc.proc.poll() is None, "a server died"
            statuses = [json.loads(line).get("status") for line in s.logs().splitlines()
                        if line.startswith("{")]
            requests += len(statuses)
            assert not [st for st in statuses if isinstance(st, int) and st >= 500]
    finally:
        for d in daemons:
            d.stop()
        for s in servers:
            s.stop()
    record({"suite": "soak", "rounds": rounds, "machines": 3, "servers": 2,
            "sessions": len(expected), "manual_syncs": sum(manual.values()),
            "grow_seconds": round(grow, 1), "server_requests": requests,
            "sessions_checked": 3 * len(expected)})
