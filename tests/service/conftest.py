"""Fixtures of the real-systemd suite: a user manager, a lore-server, a logged-in user.

Root only (namespaces, cgroup delegation, a test user). Where it cannot run, the suite
is skipped — unless ``LORE_REQUIRE_SYSTEMD=1`` (CI sets it), which turns that into a
failure, so a CI run never counts a skipped service suite as passing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.usermanager import UserManager, missing_requirements

BIN = Path(sys.executable).parent
LORECTL = str(BIN / "lorectl")
EMAIL, PASSWORD, PASSPHRASE = "svc@example.com", "account-password-1", "correct horse battery"


@pytest.fixture
def manager() -> Iterator[UserManager]:
    """A running ``systemd --user`` of a fresh test user (``loresvc<pid>``)."""
    why = missing_requirements()
    if why is not None:
        if os.environ.get("LORE_REQUIRE_SYSTEMD") == "1":
            pytest.fail(f"LORE_REQUIRE_SYSTEMD=1 but a real user manager cannot run: {why}")
        pytest.skip(f"real systemd user manager: {why}")
    m = UserManager()
    try:
        m.start()
        yield m
    finally:
        m.close()


class User:
    """The test user's shell: ``lorectl`` as that user, with the account's secrets."""

    def __init__(self, manager: UserManager, server_url: str) -> None:
        self.m = manager
        self.server_url = server_url
        self.env = {"LORE_PASSWORD": PASSWORD, "LORE_PASSPHRASE": PASSPHRASE}

    def lorectl(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        """Run lorectl as the user; its stdout (AssertionError with output on failure)."""
        proc = self.m.run(LORECTL, *args, env=self.env, timeout=timeout, check=check)
        return proc.stdout

    def status_json(self) -> dict[str, object]:
        """``lorectl status --json`` (through the daemon's socket when it answers)."""
        import json

        doc: dict[str, object] = json.loads(self.lorectl("status", "--json"))
        return doc

    def write(self, rel: str, text: str) -> None:
        """Write a file in the user's HOME, owned by the user (as a tool would)."""
        path = self.m.home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        for part in [Path(rel), *Path(rel).parents]:
            os.chown(self.m.home / part, self.m.uid, self.m.gid)


@pytest.fixture
def user(manager: UserManager, tmp_path: Path) -> Iterator[User]:
    """The test user logged in to a real lore-server, with encryption set up."""
    from tests.serverproc import start_server

    srv = start_server(tmp_path / "server")
    try:
        srv.add_user(EMAIL, PASSWORD)
        u = User(manager, srv.url)
        u.lorectl("login", "--server", srv.url, "--email", EMAIL)
        u.lorectl("push")  # sets up encryption with LORE_PASSPHRASE
        yield u
    finally:
        srv.stop()
