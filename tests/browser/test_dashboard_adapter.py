"""The dashboard's data port on both backends (in process, no browser).

Same story on SQLite and PostgreSQL: sign-ins stored as hashes and expiring,
filters, the session page's data, storage by tool, tombstones on the feed.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lorecloud.auth import Principal
from lorecloud.dashboard import queries, security
from lorecloud.dashboard.adapter import ServiceDashboard
from lorecloud.dashboard.listing import Filters, Listing
from lorecloud.dashboard.ports import BadCredentials, NotFound, RateLimited
from loreproto import wire
from tests.pgserver import pg_cluster, pg_database  # noqa: F401  (fixtures)
from tests.serverproc import fast_config

PW = "password-one"


@pytest.fixture(params=["sqlite", "postgres"])
async def dash(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceDashboard]:
    """A ServiceDashboard over a fresh SyncService on each backend."""
    from lorecloud.service import SyncService

    backend: Any
    if request.param == "sqlite":
        from lorecloud.backends.sqlite import SqliteBackend

        backend = await SqliteBackend.open(tmp_path / "d")
    else:
        from lorecloud.backends.postgres import PostgresBackend

        backend = await PostgresBackend.open(request.getfixturevalue("pg_database"))
    svc = await SyncService.create(backend, fast_config(login_failures=3))
    try:
        yield ServiceDashboard(svc)
    finally:
        await svc.close()


def _push(sid: str, tool: str, project: str, started: str | None) -> tuple[Any, list[bytes]]:
    meta: wire.SessionMeta = {"tool": tool, "project_path": project, "started_at": started,
                              "message_count": 3, "payload_bytes": 1000}
    parts = [os.urandom(16), os.urandom(100)]
    return wire.PushHeader(sid, 1, 0, 1, [16, 100], meta), parts


async def test_port_story(dash: ServiceDashboard) -> None:
    svc = dash.service
    a = (await svc.add_user("a@example.com", PW, "pro"))["account_id"]
    b = (await svc.add_user("b@example.com", PW, "pro"))["account_id"]
    await svc.login("a@example.com", PW, "m1", "laptop")
    me = Principal(a, "m1", "laptop")
    await svc.push(me, [
        _push("codex:1", "codex", "/p/web", "2025-06-01T10:00:00Z"),
        _push("codex:2", "codex", "", "2025-06-02T10:00:00Z"),
        _push("claude-code:3", "claude-code", "/p/100%_done", None),
    ])

    # sign-in: the password rule and rate limit of the API; only the hash is stored
    assert await dash.sign_in("A@example.com", PW, "1.2.3.4") == a
    for _ in range(3):
        with pytest.raises(BadCredentials):
            await dash.sign_in("a@example.com", "nope", "5.6.7.8")
    with pytest.raises(RateLimited):
        await dash.sign_in("a@example.com", PW, "5.6.7.8")
    token = security.new_token()
    await dash.open_web_session(a, security.token_hash(token), 3600)
    user = await dash.web_session(security.token_hash(token))
    assert user is not None and (user.account_id, user.email) == (a, "a@example.com")
    assert await dash.web_session(token) is None  # the raw token is not a key
    expired = security.new_token()
    await dash.open_web_session(a, security.token_hash(expired), -1)
    assert await dash.web_session(security.token_hash(expired)) is None
    await dash.close_web_session(security.token_hash(token))
    assert await dash.web_session(security.token_hash(token)) is None

    # listing and filters ('%' and '_' in a project filter are plain characters)
    assert await dash.tools(a) == ["claude-code", "codex"]
    assert await dash.tools(b) == []
    rows = await dash.list_sessions(a, Listing())
    assert [r["session_id"] for r in rows] == ["codex:2", "codex:1", "claude-code:3"]
    assert rows[0]["project_path"] == "" and rows[0]["machine_name"] == "laptop"
    assert await dash.count_sessions(a, Filters(project="100%_")) == 1
    assert await dash.count_sessions(a, Filters(project="%")) == 1
    assert await dash.count_sessions(a, Filters(since="2025-06-02", until="2025-06-02")) == 1
    assert await dash.count_sessions(b, Filters()) == 0
    assert await dash.list_sessions(b, Listing()) == []

    detail = await dash.session(a, "codex:1")
    assert detail["project_path"] == "/p/web" and detail["chunk_count"] == 1
    with pytest.raises(NotFound):
        await dash.session(b, "codex:1")  # another account's session does not exist
    by_tool = await dash.storage_by_tool(a)
    assert [t["tool"] for t in by_tool] == ["codex", "claude-code"]
    assert by_tool[0]["sessions"] == 2

    # tombstones through SyncService, visible on the feed of another machine
    await dash.delete_session(a, "codex:1")
    with pytest.raises(NotFound):
        await dash.session(a, "codex:1")
    with pytest.raises(NotFound):
        await dash.delete_session(b, "codex:2")
    assert await dash.delete_all_sessions(a) == 2
    assert await dash.count_sessions(a, Filters()) == 0
    other = Principal(a, "m2", "desktop")
    feed = await svc.changes(other, 0, 100)
    assert {c["session_id"]: c["deleted"] for c in feed["changes"]} == {
        "codex:1": True, "codex:2": True, "claude-code:3": True}

    # revoke and password change go through the service as well
    await dash.revoke_machine(a, "m1")
    assert [m["active"] for m in await dash.machines(a)] == [False]
    keep, drop = security.new_token(), security.new_token()
    for t in (keep, drop):
        await dash.open_web_session(a, security.token_hash(t), 3600)
    with pytest.raises(BadCredentials):
        await dash.change_password(a, "wrong", "password-two", security.token_hash(keep))
    await dash.change_password(a, PW, "password-two", security.token_hash(keep))
    assert await dash.web_session(security.token_hash(keep)) is not None
    assert await dash.web_session(security.token_hash(drop)) is None  # other browsers out
    assert await dash.sign_in("a@example.com", "password-two", "9.9.9.9") == a


def test_placeholders_per_dialect() -> None:
    sql, params = queries.count_sessions("postgres", "acct", Filters(tool="codex"))
    assert "$1" in sql and "$2" in sql and "?" not in sql and params == ["acct", "codex"]
    sql, params = queries.count_sessions("sqlite", "acct", Filters(tool="codex"))
    assert "$1" not in sql and sql.count("?") == 2
