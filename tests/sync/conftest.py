"""Fixtures for engine tests: a Lore Cloud (in-process SyncService or a real server over
HTTP) and machines (a Lore with its own LORE_HOME, logged in, with a passphrase)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lored.api import Lore
from lored.config import load_settings
from lored.sync.remote import Remote

PASSPHRASE = "correct horse battery"
EMAIL = "dev@example.com"
PASSWORD = "account-password-1"


@dataclass
class Machine:
    """One simulated user machine."""

    name: str
    lore: Lore
    passphrase: str | None
    asked: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        """machine_id."""
        return self.lore.settings.machine_id

    def secrets(self, kind: str) -> str:
        """The machine's SecretProvider: records what was asked."""
        from lored.errors import SecretRequired

        self.asked.append(kind)
        if self.passphrase is None or kind == "password":
            raise SecretRequired(f"no {kind} in this test")
        return self.passphrase


@dataclass
class Cloud:
    """A Lore Cloud for tests plus a factory of machines talking to it."""

    kind: str
    tmp: Path
    new_remote: Callable[[], Remote]
    add_user: Callable[[str, str], Awaitable[Any]]
    url: str
    handle: Any = None
    machines: list[Machine] = field(default_factory=list)
    remotes: list[Remote] = field(default_factory=list)
    _n: itertools.count[int] = field(default_factory=itertools.count)

    async def machine(self, name: str | None = None, *, passphrase: str | None = PASSPHRASE,
                      email: str = EMAIL, password: str = PASSWORD, login: bool = True
                      ) -> Machine:
        """A fresh machine (own LORE_HOME), logged in unless ``login=False``."""
        name = name or f"m{next(self._n)}"
        settings = load_settings({"LORE_HOME": str(self.tmp / "machines" / name)})
        settings.machine_name = name
        holder: list[Machine] = []
        remote = self.new_remote()
        self.remotes.append(remote)
        lore = await Lore.open(settings, secrets=lambda k: holder[0].secrets(k), remote=remote)
        m = Machine(name, lore, passphrase)
        holder.append(m)
        self.machines.append(m)
        if login:
            await lore.login(self.url, email, password)
        return m

    async def close(self) -> None:
        """Close every machine and its remote (injected remotes are the caller's)."""
        for m in self.machines:
            await m.lore.close()
        for r in self.remotes:
            await r.close()
        self.machines.clear()
        self.remotes.clear()


@pytest.fixture(params=["inprocess", "http"])
async def cloud(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cloud]:
    """The same engine contract against the in-process server and over real HTTP."""
    if request.param == "inprocess":
        from tests.sync.inprocess import inprocess_cloud

        ctx = inprocess_cloud(tmp_path)
    else:
        from tests.sync.inprocess import http_cloud

        ctx = http_cloud(tmp_path)
    async with ctx as c:
        await c.add_user(EMAIL, PASSWORD)
        try:
            yield c
        finally:
            await c.close()
