"""Shared by the fault, tamper, audit and soak suites: a restartable server, a corpus of
transcripts whose expected digests are known, and the end-state check.

The end state is checked against the bytes the test wrote (the fault-free outcome by
construction): every machine holds every session with exactly the payload digest of its
transcript file, ``sessions show --json`` is identical everywhere (minus the fields
that say which machine is looking), the server holds each session once, and nothing is
left to push.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.serverproc import ServerProc, start_server
from tests.sync.machines import PROJECT, LorectlMachine, wait_for
from tests.sync.sessions import lines, native_id

EMAIL = "dev@example.com"
PASSWORD = "account-password-1"
PASSPHRASE = "correct horse battery"
#: fields of `sessions show --json` that describe the viewing machine, not the session
LOCAL_FIELDS = ("local", "origin_machine_name")


def digest(data: bytes) -> str:
    """The store's payload digest (BLAKE2b-256 hex)."""
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def sid(name: str) -> str:
    """Session id of test session ``name``."""
    return f"claude-code:{native_id(name)}"


@dataclass
class Cloud:
    """A ``lore-server`` that can be killed and restarted on the same port and data."""

    tmp: Path
    database_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: ``--blob-store`` (an S3 bucket of tests/s3server.py) and that server
    blob_store: str | None = None
    s3: Any = None
    proc: ServerProc | None = None
    port: int = 0
    starts: int = 0
    kills: int = 0

    def start(self, **env: str) -> ServerProc:
        """Start (again) with ``env`` added to the server's environment (e.g. LORE_FAULT)."""
        args = ["--port", str(self.port)] if self.port else []
        if self.blob_store:
            args += ["--blob-store", self.blob_store]
        self.proc = start_server(self.tmp, database_url=self.database_url, extra_args=args,
                                 env={**self.env, **env})
        self.port = urlsplit(self.proc.url).port or 0
        self.starts += 1
        return self.proc

    @property
    def url(self) -> str:
        """The server's URL (the same across restarts)."""
        assert self.proc is not None
        return self.proc.url

    def kill(self) -> None:
        """kill -9."""
        assert self.proc is not None
        self.proc.kill()
        self.kills += 1

    def restart(self, **env: str) -> ServerProc:
        """kill -9, then start again (with ``env``)."""
        if self.proc is not None and self.proc.proc.poll() is None:
            self.kill()
        return self.start(**env)

    def stop(self) -> None:
        """Graceful stop at teardown."""
        if self.proc is not None:
            self.proc.stop()

    def logs(self) -> str:
        """Every log line every incarnation wrote."""
        return "".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("server-*.log")))


class Corpus:
    """The transcripts written on each machine: what every machine must end up holding."""

    def __init__(self, seed: int = 9) -> None:
        self.rng = random.Random(seed)
        self.files: dict[str, Path] = {}

    def write(self, m: LorectlMachine, name: str, count: int, *, marker: str = "",
              pad: int = 0, append: bool = False, start: int = 0) -> str:
        """Write (or append to) transcript ``name`` on ``m`` -> its session id."""
        if pad:  # seeded filler per line: deterministic, and compresses only ~2x
            data = b"".join(lines(name, 1, start=start + k,
                                  marker=f"{marker} {self.rng.randbytes(pad // 2).hex()}")
                            for k in range(count))
        else:
            data = lines(name, count, marker=marker, start=start)
        path = m.write_session(native_id(name), data, append=append)
        self.files[sid(name)] = path
        return sid(name)

    def expected(self) -> dict[str, str]:
        """session id -> digest of its transcript as it is on disk now."""
        return {s: digest(p.read_bytes()) for s, p in self.files.items()}


def digests(m: LorectlMachine) -> dict[str, str]:
    """session id -> payload digest as ``m`` stores it."""
    return {str(r[0]): str(r[1]) for r in m.db("SELECT id, payload_hash FROM sessions")}


def shown(m: LorectlMachine, sids: Iterable[str]) -> dict[str, Any]:
    """`sessions show --json` of each session, without the viewer-specific fields."""
    out = {}
    for s in sids:
        doc = m.show(s)
        for k in LOCAL_FIELDS:
            doc.pop(k, None)
        out[s] = doc
    return out


def pending(m: LorectlMachine) -> list[str]:
    """Own sessions this machine still has to push."""
    return [str(r[0]) for r in m.db("SELECT id FROM sessions WHERE local = 1 AND dirty = 1")]


_ROW = ("tool, native_id, project_path, title, model, git_branch, tool_version, started_at, "
        "ended_at, message_count, bad_records, origin_machine_id, payload_length, payload_hash")


def state(m: LorectlMachine) -> dict[str, tuple[Any, ...]]:
    """Every stored session as (its row's machine-independent fields, digest of its
    message rows): what `sessions show --json` renders, read in one pass."""
    msgs: dict[str, Any] = {}
    for r in m.db("SELECT session_id, idx, role, timestamp, text, extra FROM messages "
                  "ORDER BY session_id, idx"):
        h = msgs.setdefault(str(r[0]), hashlib.blake2b(digest_size=16))
        h.update(json.dumps(r[1:]).encode())
    return {str(r[0]): (*r[1:], msgs[str(r[0])].hexdigest() if str(r[0]) in msgs else None)
            for r in m.db(f"SELECT id, {_ROW} FROM sessions")}


def assert_converged(machines: list[LorectlMachine], expected: dict[str, str],
                     reference: LorectlMachine | None = None, *, show: int = 3) -> int:
    """Sync everyone twice (the second pass pushes nothing), then check the end state:
    digests equal the transcripts written, every stored field and message row is the
    same on every machine, and `sessions show --json` agrees for ``show`` sessions.

    Returns the number of (machine, session) pairs checked.
    """
    for m in machines:
        m.run("sync")
    for m in machines:  # everything was pushed in the first pass: this one only pulls
        assert pending(m) == [], f"{m.name} still has sessions to push"
        again = m.json("sync")
        assert again["pull"]["failed"] == [] and again["push"]["pushed"] == 0, (m.name, again)
    for m in machines:
        # pulls and bulk imports leave messages and the index to the deferred parse;
        # a search waits for it, so the message rows below are complete
        m.run("search", "message")
        assert m.json("status")["local"]["index_pending"] == 0, m.name
    ref = reference or machines[0]
    status = ref.json("status")
    assert status["cloud"]["sessions"] == len(expected), status["cloud"]  # no duplicates
    sample = sorted(expected)[:: max(1, len(expected) // show)][:show]
    want, want_state = shown(ref, sample), state(ref)
    checked = 0
    for m in machines:
        got = digests(m)
        assert got == expected, f"{m.name}: {_diff(got, expected)}"
        assert state(m) == want_state, m.name
        assert m is ref or shown(m, sample) == want, m.name
        checked += len(expected)
    return checked


def _diff(got: dict[str, str], want: dict[str, str]) -> str:
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = sorted(s for s in set(got) & set(want) if got[s] != want[s])
    return f"missing {missing}, extra {extra}, different {wrong}"


def new_machine(tmp: Path, cloud: Cloud, name: str, **kw: Any) -> LorectlMachine:
    """A logged-in lorectl machine."""
    m = LorectlMachine(tmp, name, server_url=cloud.url, **kw)
    m.login(EMAIL)
    return m


#: read at import: the autouse fixture scrubs LORE_* from the environment of each test
FIGURES = os.environ.get("LORE_FIGURES")


def variants(short: int, long: int) -> Any:
    """Parameters for a suite's short run (``make test``) and its long run (``make soak``:
    marked ``slow`` and run only with ``LORE_SOAK=1``)."""
    import pytest

    return pytest.mark.parametrize("size", [
        pytest.param(short, id="short"),
        # deselected (not skipped) by pytest's default `-m "not slow"`; `make soak` selects it
        pytest.param(long, id="long", marks=[pytest.mark.slow]),
    ])


def record(figures: dict[str, Any]) -> None:
    """Print this run's figures and append them to $LORE_FIGURES (JSON lines) when set."""
    print("figures:", json.dumps(figures, sort_keys=True))
    if FIGURES:
        with open(FIGURES, "a") as fh:
            fh.write(json.dumps(figures, sort_keys=True) + "\n")


__all__ = ["EMAIL", "PASSPHRASE", "PASSWORD", "PROJECT", "Cloud", "Corpus", "Daemon",
           "LorectlMachine", "state", "variants", "wait_for",
           "assert_converged", "digest", "digests", "new_machine", "pending", "record", "shown",
           "sid"]


class Daemon:
    """``lored`` for a :class:`LorectlMachine` (same HOME, LORE_HOME and runtime dir)."""

    def __init__(self, m: LorectlMachine, **env: str) -> None:
        from lored.config import resolve_paths

        self.m = m
        self.env = m.env(**env)
        self.socket = resolve_paths(self.env).socket_path
        self.log = m.root / "lored.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        """Start lored and wait until it answers on its socket."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([str(Path(sys.executable).parent / "lored")],
                                         env=self.env, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)
        wait_for(self.answers, timeout=30, what=f"{self.m.name}'s lored")

    def answers(self) -> bool:
        """True when lored answers /v1/health."""
        from lorectl.ipc_client import DaemonClient

        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"lored exited with {self.proc.returncode}: "
                                 f"{self.log.read_text(errors='replace')[-2000:]}")
        try:
            return bool(DaemonClient(self.socket).call("GET", "/health", timeout=5)["ok"])
        except Exception:  # noqa: BLE001 - not up yet
            return False

    def kill(self) -> None:
        """kill -9 (the socket file stays behind)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.kills += 1
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM at teardown (kill -9 if it does not go)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
