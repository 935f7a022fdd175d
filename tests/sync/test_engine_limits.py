"""Limits and account flows against the real server rules: too large, quota, register."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lored.errors import AuthError
from tests.sync.conftest import EMAIL, PASSWORD, Cloud
from tests.sync.sessions import capture, lines

LIMIT = 1_000_000


@pytest.fixture(params=["inprocess", "http"])
async def small_cloud(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cloud]:
    """A server with a 1 MB session limit and the account on the free plan (50 sessions)."""
    from tests.sync.inprocess import http_cloud, inprocess_cloud

    if request.param == "inprocess":
        ctx = inprocess_cloud(tmp_path, max_session_bytes=LIMIT)
    else:
        ctx = http_cloud(tmp_path, max_session_bytes=LIMIT)
    async with ctx as cloud:
        if cloud.kind == "inprocess":
            await cloud.handle.add_user(EMAIL, PASSWORD, "free")
        else:
            cloud.handle.add_user(EMAIL, PASSWORD, "free")
        try:
            yield cloud
        finally:
            await cloud.close()


async def test_too_large_and_quota_are_skipped_rest_continue(small_cloud: Cloud) -> None:
    a = await small_cloud.machine("a")
    big = await capture(a.lore, lines("big", 10, pad=150_000))  # ≈ 1.5 MB
    small = [await capture(a.lore, lines(f"s{i}", 2)) for i in range(52)]
    out = await a.lore.push()
    assert out["pushed"] == 50 and set(out["sessions"]) <= set(small)
    reasons = {s["session_id"]: s for s in out["skipped"]}
    assert reasons[big]["reason"] == "too_large"
    assert reasons[big]["message"] == (
        f"session {big} (1.5 MB) exceeds the 1 MB upload limit; kept locally")
    quota = [s for s in out["skipped"] if s["reason"] == "quota_exceeded"]
    assert len(quota) == 2 and all("free" in s["message"] for s in quota)
    assert all(s["message"].endswith("kept locally") for s in quota)
    assert (await a.lore.store.counts()) == (53, 3)  # skipped ones stay pending, kept

    b = await small_cloud.machine("b")
    assert (await b.lore.pull())["pulled"] == 50


async def test_register_needs_open_registration(tmp_path: Path) -> None:
    from tests.sync.inprocess import inprocess_cloud

    async with inprocess_cloud(tmp_path / "closed") as closed:
        m = await closed.machine("x", login=False)
        with pytest.raises(AuthError, match="does not allow registration"):
            await m.lore.login(closed.url, "new@example.com", "password-123", register=True)
        await closed.close()
    async with inprocess_cloud(tmp_path / "open", open_registration=True) as cloud:
        m = await cloud.machine("y", login=False)
        doc = await m.lore.login(cloud.url, "new@example.com", "password-123", register=True)
        assert doc["email"] == "new@example.com" and m.lore.credentials is not None
        await capture(m.lore, lines("r", 2))
        assert (await m.lore.push())["pushed"] == 1
        with pytest.raises(AuthError, match="wrong email or password"):
            await m.lore.login(cloud.url, "new@example.com", "wrong-password")
        await cloud.close()
