"""Pull paging, grouping, crash in the middle, `--all`, and progress events."""

from __future__ import annotations

from typing import Any

import pytest

from lored.sync.plan import Limits
from lored.sync.pull import Puller
from tests.sync.conftest import Cloud
from tests.sync.sessions import capture, lines


class Crash(RuntimeError):
    """Stands for the process dying at that point."""


async def _pull_pages(lore: Any, page_size: int) -> Any:
    engine = lore.engine()
    key = await engine.keys.require(setup=False)
    return await Puller(engine._ctx(key, None), Limits()).run(from_zero=False,
                                                              page_size=page_size)


async def test_many_pages_and_groups(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lored.sync.pull.GROUP_BYTES", 3000)  # a few sessions per group
    a, b = await cloud.machine("a"), await cloud.machine("b")
    ids = {await capture(a.lore, lines(f"p{i}", 3, pad=600)) for i in range(12)}
    await a.lore.push()
    report = await _pull_pages(b.lore, page_size=5)
    assert set(report.sessions) == ids and not report.failed
    assert await b.lore.store.get_cursor() >= 12
    again = await b.lore.pull()
    assert again["pulled"] == 0 and again["bytes_downloaded"] == 0


async def test_crash_mid_pull_repeats_at_most_a_group(cloud: Cloud,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lored.sync.pull.GROUP_BYTES", 3000)
    a, b = await cloud.machine("a"), await cloud.machine("b")
    ids = {await capture(a.lore, lines(f"c{i}", 3, pad=600)) for i in range(10)}
    await a.lore.push()
    real = b.lore.store.apply_pull_page
    calls = {"n": 0}

    async def crash_on_third(*args: Any, **kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash("simulated crash")
        await real(*args, **kw)

    monkeypatch.setattr(b.lore.store, "apply_pull_page", crash_on_third)
    with pytest.raises(Crash):
        await b.lore.pull()
    stored = {r.id for r in await b.lore.store.list_sessions()}
    assert stored and stored < ids and await b.lore.store.get_cursor() > 0
    monkeypatch.setattr(b.lore.store, "apply_pull_page", real)
    rest = await b.lore.pull()
    assert set(rest["sessions"]) == ids - stored  # nothing fetched twice
    assert {r.id for r in await b.lore.store.list_sessions()} == ids


async def test_pull_all_rechecks_and_restores(cloud: Cloud) -> None:
    a, b = await cloud.machine("a"), await cloud.machine("b")
    s1 = await capture(a.lore, lines("r1", 2))
    s2 = await capture(a.lore, lines("r2", 2))
    await a.lore.push()
    await b.lore.pull()
    same = await b.lore.pull(all=True)
    assert same["pulled"] == 0 and same["bytes_downloaded"] == 0
    await b.lore.store.delete_session(s1, remember=False)  # lost locally
    assert (await b.lore.pull())["pulled"] == 0  # the cursor is past it
    back = await b.lore.pull(all=True)
    assert back["sessions"] == [s1]
    assert {r.id for r in await b.lore.store.list_sessions()} == {s1, s2}


async def test_progress_events(cloud: Cloud) -> None:
    a, b = await cloud.machine("a"), await cloud.machine("b")
    for i in range(3):
        await capture(a.lore, lines(f"e{i}", 2))
    pushed: list[dict[str, Any]] = []
    await a.lore.push(progress=pushed.append)
    assert pushed and pushed[-1]["event"] == "push"
    assert pushed[-1]["done"] == pushed[-1]["total"] == 3 and pushed[-1]["bytes"] > 0
    pulled: list[dict[str, Any]] = []
    await b.lore.pull(progress=pulled.append)
    assert pulled[-1] == {"event": "pull", "done": 3, "total": 3, "sessions": 3,
                          "bytes": pulled[-1]["bytes"]} and pulled[-1]["bytes"] > 0
    assert all(e["total"] == 3 for e in pulled)  # the real total from the first page

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("a broken progress display never stops a sync")

    await capture(a.lore, lines("e9", 2))
    assert (await a.lore.push(progress=broken))["pushed"] == 1
