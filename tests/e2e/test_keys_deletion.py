"""Issue 10 with real processes: passphrase change, delete everywhere, reset, wrong key,
recovery keys. One `lore-server` subprocess; every machine is `lorectl` subprocesses with
its own HOME and LORE_HOME (tests/sync/machines.py)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sync.machines import LORECTL, LorectlMachine
from tests.sync.sessions import lines, native_id, session_id

EMAIL, OTHER = "dev@example.com", "other@example.com"
OLD, NEW_A, NEW_B = "old passphrase 1", "new passphrase A", "new passphrase B"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    """A real `lore-server` subprocess with two accounts."""
    from tests.serverproc import start_server

    srv = start_server(tmp_path)
    try:
        srv.add_user(EMAIL, "account-password-1")
        srv.add_user(OTHER, "account-password-1")
        yield srv
    finally:
        srv.stop()


def machine(tmp_path: Path, server: Any, name: str, email: str = EMAIL,
            passphrase: str | None = OLD) -> LorectlMachine:
    m = LorectlMachine(tmp_path, name, server_url=server.url, passphrase=passphrase)
    m.login(email)
    return m


def write(m: LorectlMachine, name: str, count: int = 2, **kw: Any) -> str:
    m.write_session(native_id(name), lines(name, count), **kw)
    m.json("import")
    return session_id(name)


def test_passphrase_change_race_then_old_and_new_machines(tmp_path: Path, server: Any) -> None:
    a, b = machine(tmp_path, server, "a"), machine(tmp_path, server, "b")
    s1 = write(a, "s1")
    assert a.json("push")["pushed"] == 1
    assert b.json("pull")["sessions"] == [s1]

    # two machines change the passphrase at once: exactly one wins
    racers = [(m, new, subprocess.Popen(
        [*LORECTL, "passphrase", "change", "--json"], env=m.env(LORE_NEW_PASSPHRASE=new),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True))
        for m, new in ((a, NEW_A), (b, NEW_B))]
    outcomes = [(m, new, p.wait(timeout=60), p.stderr.read() if p.stderr else "")
                for m, new, p in racers]
    winners = [new for _, new, rc, _ in outcomes if rc == 0]
    losers = [err for _, _, rc, err in outcomes if rc != 0]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert ("another machine" in losers[0] or "passphrase" in losers[0].lower()), losers
    new = winners[0]

    # both old machines keep syncing with their cached key, no passphrase anywhere
    s2 = write(a, "s2")
    assert a.json("sync", LORE_PASSPHRASE=None)["push"]["sessions"] == [s2]
    assert b.json("sync", LORE_PASSPHRASE=None)["pull"]["sessions"] == [s2]

    # a new machine: the old passphrase is refused, the new one unlocks
    c = machine(tmp_path, server, "c")
    out = c.run("pull", check=False)
    assert out.returncode == 1 and "passphrase" in out.stderr.lower()
    assert c.run("unlock", check=False).returncode == 1
    c.json("unlock", LORE_PASSPHRASE=new)
    assert sorted(c.json("pull", LORE_PASSPHRASE=None)["sessions"]) == sorted([s1, s2])


def test_delete_everywhere_stays_deleted_and_undelete_brings_it_back(
    tmp_path: Path, server: Any
) -> None:
    a, b, c = (machine(tmp_path, server, n) for n in ("a", "b", "c"))
    s1, s2 = write(a, "s1", 4), write(a, "s2")
    assert a.json("push")["pushed"] == 2
    for m in (b, c):
        assert sorted(m.json("pull")["sessions"]) == sorted([s1, s2])

    # a machine that did not capture it cannot delete it everywhere (and says who can)
    out = b.run("sessions", "delete", s1, "--everywhere", "--yes", check=False)
    assert out.returncode == 1 and "only that machine can delete it everywhere" in out.stderr
    assert "hint: run `lorectl sessions delete" in out.stderr and s1 in b.sessions()

    doc = a.json("sessions", "delete", s1, "--everywhere", "--yes")
    assert doc["on_server"] is True and s1 not in a.sessions()
    for m in (b, c):
        assert m.json("pull")["deleted"] == [s1]
        assert s1 not in m.sessions()
        assert m.db("SELECT COUNT(*) FROM messages WHERE session_id = ?", (s1,)) == [(0,)]
        m.json("pull", "--all")
        assert s1 not in m.sessions()

    # the origin's capture sees the (grown) file again: it stays deleted everywhere
    a.write_session(native_id("s1"), lines("s1", 2, start=4), append=True)
    assert a.json("import")["imported"] == 0 and s1 not in a.sessions()
    assert a.json("push")["pushed"] == 0
    b.json("pull", "--all")
    assert s1 not in b.sessions()

    # deleted here only: C's capture and pulls do not bring it back, others keep it
    assert c.json("sessions", "delete", s2, "--yes")["everywhere"] is False
    c.json("pull", "--all")
    assert s2 not in c.sessions() and s2 in a.sessions() and s2 in b.sessions()
    assert [r["session_id"] for r in c.json("sessions", "deleted")] == [s2]

    # undelete on purpose: A captures it again and pushes a new generation
    assert a.json("sessions", "undelete", s1)["captured"] is True
    assert a.json("push")["sessions"] == [s1]
    assert b.json("pull")["sessions"] == [s1]
    assert b.show(s1)["message_count"] == 6
    assert c.json("sessions", "undelete", s2)["captured"] is False
    assert sorted(c.json("pull")["sessions"]) == sorted([s1, s2])


def test_reset_wrong_key_and_recovery_keys(tmp_path: Path, server: Any) -> None:
    a, b = machine(tmp_path, server, "a"), machine(tmp_path, server, "b")
    sa, sb = write(a, "from-a"), write(b, "from-b")
    assert a.json("push")["pushed"] == 1 and b.json("sync")["push"]["pushed"] == 1
    a.json("pull")
    recovery = a.json("key", "export")
    assert recovery["recovery_key"].startswith("lore1-")
    assert OLD not in recovery["recovery_key"]

    # a key cache from another account: stop before any transfer, name the fix
    d = machine(tmp_path, server, "d", email=OTHER, passphrase="other passphrase")
    write(d, "other")
    d.json("push")
    e = machine(tmp_path, server, "e", passphrase=None)
    shutil.copy(d.lore_home / "key.json", e.lore_home / "key.json")
    out = e.run("pull", check=False)
    assert out.returncode == 1 and "another Lore Cloud account" in out.stderr
    assert "`lorectl unlock`" in out.stderr and e.sessions() == {}

    # the recovery key on a fresh machine: checked against the server, then pulls decrypt
    bad = recovery["recovery_key"][:-2] + ("AA" if recovery["recovery_key"][-2:] != "AA"
                                           else "BB")
    out = e.run("key", "import", "--stdin", input=bad, check=False)
    assert out.returncode == 2 and "typo" in out.stderr
    foreign = d.json("key", "export")["recovery_key"]
    out = e.run("key", "import", "--stdin", input=foreign, check=False)
    assert out.returncode == 1 and "not the account's current key" in out.stderr
    assert e.json("key", "import", "--stdin", input=recovery["recovery_key"] + "\n")[
        "key_id"] == recovery["key_id"]
    assert sorted(e.json("pull")["sessions"]) == sorted([sa, sb])

    # reset from A: typed email confirms; local sessions stay everywhere
    out = a.run("cloud", "reset", "--confirm", OTHER, check=False)
    assert out.returncode == 2 and "nothing was erased" in out.stderr
    doc = a.json("cloud", "reset", "--confirm", EMAIL)
    assert doc["erased"] == 2 and doc["local_sessions"] == 2
    assert not (a.lore_home / "key.json").exists()

    out = b.run("sync", check=False)
    assert out.returncode == 1, out
    assert "the account's cloud data was reset on" in out.stderr
    assert "local sessions are kept" in out.stderr and "`lorectl unlock`" in out.stderr
    assert set(b.sessions()) == {sa, sb}

    # A sets up again with a new passphrase and re-uploads; B unlocks and catches up
    assert a.json("push", LORE_PASSPHRASE=NEW_A)["sessions"] == [sa]
    out = b.run("pull", check=False)
    assert out.returncode == 1 and "new passphrase" in out.stderr
    b.json("unlock", LORE_PASSPHRASE=NEW_A)
    doc = b.json("sync", LORE_PASSPHRASE=None)
    assert doc["pull"]["sessions"] == [sa] and doc["push"]["sessions"] == [sb]
    assert a.json("pull", LORE_PASSPHRASE=None)["sessions"] == [sb]
    # the recovery key of the erased key is refused now
    out = e.run("key", "import", "--stdin", input=recovery["recovery_key"], check=False)
    assert out.returncode == 1 and "account reset" in out.stderr
