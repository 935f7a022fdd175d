"""Shared state of one ``make bench`` run, with prerequisites done at most once.

Scenarios build on each other (a push needs an import, a pull needs a push). Each
prerequisite here is idempotent: when ``--only P4`` skips P8 and P1, ``pushed()`` still
imports and pushes first, untimed, so any subset of scenarios can run.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.corpus import CorpusInfo, generate
from bench.lore import LoreServer, Machine
from bench.procs import Unavailable


@dataclass(frozen=True)
class Sizes:
    """How big each scenario runs (full or ``--smoke``)."""

    sessions: int
    idle_seconds: float
    clients: int
    client_sessions: int
    repeats: int
    scale_sessions: int

    @classmethod
    def pick(cls, smoke: bool, sessions: int | None) -> Sizes:
        """Defaults of PERFORMANCE.md, or seconds-long smoke sizes."""
        if smoke:
            return cls(sessions or 30, 3.0, 5, 5, 3, 300)
        return cls(sessions or 2000, 60.0, 50, 100, 10, 20000)


class Ctx:
    """The temp directory, the corpus, the servers and machines of this run."""

    def __init__(self, sizes: Sizes, *, seed: int = 1, keep: bool = False, install: bool = True,
                 scale: bool = False, size_scale: float = 1.0) -> None:
        self.sizes = sizes
        self.seed = seed
        self.keep = keep
        self.install = install
        self.scale = scale
        self.size_scale = size_scale
        self.work = Path(tempfile.mkdtemp(prefix="lore-bench-"))
        self.facts: dict[str, Any] = {}  # results later scenarios reuse (e.g. P1's push)
        self._corpus: CorpusInfo | None = None
        self._server: LoreServer | None = None
        self._machines: dict[str, Machine] = {}
        self._rclone: Any = None
        self._done: set[str] = set()
        self._failed: dict[str, Unavailable] = {}
        self.closers: list[Any] = []

    # --- lazily built pieces ----------------------------------------------------------
    @property
    def corpus(self) -> CorpusInfo:
        """The run's corpus (generated on first use)."""
        if self._corpus is None:
            self._corpus = generate(self.work / "corpus", self.sizes.sessions, self.seed,
                                    scale=self.size_scale)
        return self._corpus

    def machine(self, name: str, home: Path | None = None) -> Machine:
        """Machine ``name``; ``a`` owns the corpus, others start with an empty HOME."""
        if name not in self._machines:
            if home is None:
                home = self.corpus.home if name == "a" else self.work / name / "home"
            m = Machine(self.work / name, home, name)
            self._machines[name] = m
        return self._machines[name]

    @property
    def server(self) -> LoreServer:
        """A SQLite ``lore-server`` behind the counting proxy, with the bench account."""
        if self._server is None:
            srv = LoreServer(self.work / "server-sqlite")
            self._server = srv
            srv.start()
            srv.add_user()
        return self._server

    @property
    def rclone(self) -> Any:
        """The rclone anchor, started on first use (Unavailable when rclone is missing)."""
        if self._rclone is None:
            from bench.anchors import Rclone

            r = Rclone(self.work / "rclone", install=self.install)
            r.start()
            self._rclone = r
        return self._rclone

    # --- prerequisites ----------------------------------------------------------------
    def step(self, key: str, fn: Any) -> None:
        """Run ``fn`` once for ``key``; a failure is remembered and raised again later."""
        if key in self._done:
            return
        if key in self._failed:
            raise self._failed[key]
        try:
            fn()
        except Unavailable as e:
            self._failed[key] = e
            raise
        self._done.add(key)

    def mark(self, key: str) -> None:
        """Record that a scenario did ``key`` itself (timed), so nobody repeats it."""
        self._done.add(key)

    def imported(self) -> None:
        """Machine ``a`` has captured the corpus."""
        self.step("imported", lambda: self.machine("a").json("import", what="import"))

    def logged_in(self, name: str = "a") -> Machine:
        """Machine ``name`` is logged in to the SQLite server."""
        m = self.machine(name)
        self.step(f"login:{name}", lambda: m.login(self.server.url))
        return m

    def pushed(self) -> None:
        """Machine ``a`` has pushed the corpus (P1 does this timed)."""
        self.imported()
        m = self.logged_in("a")
        self.step("pushed", lambda: m.json("push", what="push"))

    def close(self) -> None:
        """Stop everything this run started; remove the temp dir unless ``--keep``."""
        for m in self._machines.values():
            m.stop_daemon()
        for c in reversed(self.closers):
            try:
                c()
            except Exception:  # noqa: BLE001, S110 - best effort on the way out
                pass
        if self._rclone is not None:
            self._rclone.stop()
        if self._server is not None:
            self._server.stop()
        if self.keep:
            print(f"bench: kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)
