"""Fixtures shared by the end-to-end suites (real processes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: the account every e2e story logs in to (LorectlMachine's default password)
EMAIL = "dev@example.com"
PASSWORD = "account-password-1"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    """A real `lore-server` subprocess with one account (EMAIL / PASSWORD)."""
    from tests.serverproc import start_server

    srv = start_server(tmp_path)
    try:
        srv.add_user(EMAIL, PASSWORD)
        yield srv
    finally:
        srv.stop()
