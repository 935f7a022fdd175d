"""Crash points: a process dies (``os._exit(137)``, as after ``kill -9``) at each named
point of a push, a pull or a capture; after a restart and a clean sync every machine
holds exactly the fault-free end state — nothing lost, nothing twice — and at no moment
does a client record as pushed what the server did not commit.
"""

from __future__ import annotations

from typing import Any

from tests.faults.common import (
    Cloud,
    Corpus,
    assert_converged,
    digests,
    new_machine,
    pending,
    record,
    sid,
)


def server_exit(cloud: Cloud) -> int:
    """Wait for the server process to end (it crashes at its fault point) -> exit code."""
    assert cloud.proc is not None
    return cloud.proc.proc.wait(timeout=60)


def test_push_crash_points_client_and_server(tmp_path: Any, cloud: Cloud) -> None:
    corpus = Corpus()
    a, b = new_machine(tmp_path, cloud, "a"), new_machine(tmp_path, cloud, "b")
    first = [corpus.write(a, f"p{i}", 4, marker="v1", pad=2000) for i in range(6)]
    assert a.json("import")["imported"] == 6

    # 1. the server committed the batch; the client dies before recording any of it
    out = a.run("push", check=False, LORE_FAULT="after-commit-before-local-state")
    assert out.returncode == 137, out.stderr
    assert sorted(pending(a)) == sorted(first)  # nothing recorded as pushed ...
    assert sorted(b.json("pull")["sessions"]) == sorted(first)  # ... all committed
    a.run("sync")  # the server's state differs from ours: a fresh generation above it
    assert pending(a) == []

    # 2. the client dies after recording the first session of a batch
    for i in range(6):
        corpus.write(a, f"p{i}", 2, start=4, marker="v1-tail", append=True)
    assert a.json("import")["updated"] == 6
    out = a.run("push", check=False, LORE_FAULT="between-local-records")
    assert out.returncode == 137, out.stderr
    assert len(pending(a)) == 5
    b.run("sync")

    # 3. the server dies with the whole upload received, before committing anything
    cloud.restart(LORE_FAULT="after-upload-before-commit")
    late = [corpus.write(a, f"late{i}", 3, marker="v1") for i in range(2)]
    corpus.write(a, "p0", 1, start=6, marker="v1-more", append=True)
    a.json("import")
    out = a.run("push", check=False)
    assert out.returncode not in (0, 137) and "cannot reach Lore Cloud" in out.stderr
    assert server_exit(cloud) == 137
    assert set(late) <= set(pending(a)) and sid("p0") in pending(a)
    cloud.start()
    assert not set(late) & set(b.json("pull")["sessions"])  # nothing of it was committed

    # 4. the server dies after committing, before answering
    cloud.restart(LORE_FAULT="after-commit-before-response")
    out = a.run("push", check=False)
    assert out.returncode not in (0, 137) and "cannot reach Lore Cloud" in out.stderr
    assert server_exit(cloud) == 137
    assert set(late) <= set(pending(a))  # never recorded as pushed ...
    cloud.start()
    assert set(late) <= set(b.json("pull")["sessions"])  # ... although committed

    checked = assert_converged([a, b], corpus.expected())
    record({"suite": "crash-points/push", "faults": 4, "server_kills": cloud.kills + 2,
            "sessions_checked": checked})


def test_pull_and_capture_crash_points(tmp_path: Any, cloud: Cloud) -> None:
    corpus = Corpus()
    a = new_machine(tmp_path, cloud, "a")
    # ≈ 20 MB of transcripts, ≈ 10.5 MB sealed: more than one fetch request and pull group
    names = [corpus.write(a, f"d{i}", 4, pad=180_000) for i in range(28)]
    names += [corpus.write(a, f"s{i}", 3) for i in range(10)]

    # capture dies inside its third transaction: two sessions stored, nothing torn
    out = a.run("import", check=False, LORE_FAULT="capture-mid-transaction@3")
    assert out.returncode == 137
    assert len(digests(a)) == 2
    assert a.json("import")["imported"] == len(names) - 2
    assert a.json("push")["pushed"] == len(names)
    expected = corpus.expected()
    assert digests(a) == expected

    b, c, d = (new_machine(tmp_path, cloud, n) for n in "bcd")
    # B dies with the first fetch request answered, the rest not fetched yet
    out = b.run("pull", check=False, LORE_FAULT="mid-chunk-download")
    assert out.returncode == 137
    assert len(digests(b)) < len(names)
    # C dies inside the second page transaction: the first group stays, the second is
    # rolled back whole (with its cursor)
    out = c.run("pull", check=False, LORE_FAULT="mid-local-transaction@2")
    assert out.returncode == 137
    held = digests(c)
    assert 0 < len(held) < len(names)
    assert all(expected[s] == h for s, h in held.items())  # what is there is whole
    # D dies inside its first page transaction: nothing at all, cursor untouched
    out = d.run("pull", check=False, LORE_FAULT="mid-local-transaction")
    assert out.returncode == 137
    assert digests(d) == {} and d.db("SELECT value FROM kv WHERE key = 'pull_cursor'") in (
        [], [("0",)])

    checked = assert_converged([a, b, c, d], expected)
    record({"suite": "crash-points/pull+capture", "faults": 4, "sessions_checked": checked})


