"""kill -9 of lorectl, lored and lore-server at random moments during push and pull.

A bounded loop with a fixed seed: each round the transcripts grow (appends, new
sessions, a rewrite now and then), one operation starts, and a randomly chosen process
is killed after a random delay. After every round the origin's push records are
checked against what the server committed; at the end, after restarts and clean syncs,
every machine holds exactly the transcripts written — nothing lost, nothing twice.
Short by default; ``LORE_SOAK=1`` (``make soak``) runs the long variant.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.common import (
    Cloud,
    Corpus,
    Daemon,
    LorectlMachine,
    assert_converged,
    new_machine,
    record,
    variants,
)

VICTIMS = ("lorectl-push", "lorectl-pull", "server-during-push", "server-during-pull",
           "lored-during-sync")


def committed(cloud: Cloud) -> dict[str, tuple[int, int]]:
    """session -> (generation, chunk count) as the server's database holds it."""
    con = sqlite3.connect(f"file:{cloud.tmp / 'server-data' / 'lore.db'}?mode=ro", uri=True,
                          timeout=30)
    try:
        return {str(r[0]): (int(r[1]), int(r[2])) for r in con.execute(
            "SELECT session_id, generation, chunk_count FROM sessions WHERE deleted = 0")}
    finally:
        con.close()


def assert_no_phantom_push(m: LorectlMachine, cloud: Cloud) -> int:
    """Nothing is recorded as pushed that the server did not commit -> sessions checked."""
    server = committed(cloud)
    rows = m.db("SELECT id, pushed_generation, pushed_chunks FROM sessions "
                "WHERE local = 1 AND pushed_generation > 0")
    for sid, gen, chunks in rows:
        assert sid in server, f"{m.name} recorded {sid} as pushed; the server never got it"
        sgen, schunks = server[sid]
        assert (sgen, schunks) >= (gen, chunks), (sid, (gen, chunks), (sgen, schunks))
    return len(rows)


def _finish(proc: subprocess.Popen[str]) -> int:
    try:
        proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("lorectl hung after a kill") from None
    return proc.returncode


def _delay(proc: subprocess.Popen[str], seconds: float) -> bool:
    """Let ``proc`` run for up to ``seconds`` -> True when it is still running then."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return True
    return False


@variants(short=6, long=30)
@pytest.mark.timeout(1200)
def test_random_kill_9_during_push_and_pull(tmp_path: Path, cloud: Cloud, size: int) -> None:
    rounds = size
    rng = random.Random(9)
    corpus = Corpus(seed=9)
    a, b, c = (new_machine(tmp_path, cloud, n) for n in "abc")
    names = {"a": [f"a{i}" for i in range(8)], "c": [f"c{i}" for i in range(2)]}
    sizes: Counter[str] = Counter()
    for n in names["a"]:
        corpus.write(a, n, 6, pad=60_000)
        sizes[n] = 6
    for n in names["c"]:
        corpus.write(c, n, 4, pad=20_000)
        sizes[n] = 4
    a.json("import")
    c.json("import")
    lored = Daemon(c, LORE_SYNC_INTERVAL="3600")
    lored.start()
    kills: Counter[str] = Counter()
    finished_first: Counter[str] = Counter()
    phantom_checks = 0
    try:
        for r in range(rounds):
            # the transcripts grow: appends, a new session, now and then a rewrite
            for n in rng.sample(names["a"], 2):
                corpus.write(a, n, 2, start=sizes[n], pad=30_000, append=True)
                sizes[n] += 2
            new = f"a{len(names['a'])}"
            names["a"].append(new)
            corpus.write(a, new, 3, pad=40_000)
            sizes[new] = 3
            if r % 3 == 2:
                victim_name = rng.choice(names["a"])
                corpus.write(a, victim_name, 2, marker=f"rewrite {r}")
                sizes[victim_name] = 2
            a.json("import")
            if r % 2 == 1:
                cn = f"c{len(names['c'])}"
                names["c"].append(cn)
                corpus.write(c, cn, 3, pad=20_000)
                c.json("import")

            victim = rng.choice(VICTIMS)
            delay = rng.uniform(0.05, 0.7)
            if victim == "lored-during-sync":  # a cycle through lored is quick: kill sooner
                delay /= 3
                proc = c.popen("sync")  # lorectl hands the cycle to lored
                if _delay(proc, delay):
                    lored.kill()
                    kills[victim] += 1
                else:
                    finished_first[victim] += 1
                _finish(proc)
                lored.kill()  # (no-op when it was killed above)
                lored.start()
                continue
            who = a if victim.endswith("push") else b
            proc = who.popen("push" if victim.endswith("push") else "pull")
            if not _delay(proc, delay):
                finished_first[victim] += 1
            elif victim.startswith("lorectl"):
                proc.kill()
                kills[victim] += 1
            else:
                cloud.kill()
                kills[victim] += 1
            _finish(proc)
            if cloud.proc is None or cloud.proc.proc.poll() is not None:
                cloud.start()
            phantom_checks += assert_no_phantom_push(a, cloud)
        c.json("import")
        checked = assert_converged([a, b, c], corpus.expected())
        phantom_checks += assert_no_phantom_push(a, cloud) + assert_no_phantom_push(c, cloud)
    finally:
        lored.stop()
    assert sum(kills.values()) >= 1, (kills, finished_first)  # kills did land
    record({"suite": "random-kills", "rounds": rounds, "kills": dict(kills),
            "finished_before_kill": dict(finished_first), "sessions": len(corpus.files),
            "sessions_checked": checked, "push_records_checked": phantom_checks})


