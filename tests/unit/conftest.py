"""Fixtures shared by the unit suites: this test's settings and an open store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lored.config import Settings, load_settings
from lored.store import Store


@pytest.fixture
def settings() -> Settings:
    """Settings under the test's private LORE_HOME (see tests/conftest.py)."""
    return load_settings()


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    """sessions.db of this test's machine, opened and migrated."""
    s = await Store.open(settings.paths.db_file)
    yield s
    await s.close()
