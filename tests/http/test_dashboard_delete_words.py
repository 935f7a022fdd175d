"""The dashboard's delete text is true (issue 16).

It used to say "the machine it was captured on keeps its local copy", but that
machine's next pull removes it (and remembers the deletion, so capture does not bring
it back). The words now say so; this test reads them on the real pages and then checks
what a real ``lorectl`` machine does.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import aiohttp

from tests.http.client import PASSWORD
from tests.http.test_dashboard_hostile import EMAIL, _signed_in
from tests.serverproc import ServerProc
from tests.sync.machines import LorectlMachine

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def test_dashboard_delete_says_what_the_next_pull_does(
    tmp_path: Path, lore_server: ServerProc,
) -> None:
    lore_server.add_user(EMAIL, PASSWORD)
    x = LorectlMachine(tmp_path, "x", server_url=lore_server.url, password=PASSWORD)
    x.login(EMAIL)
    x.copy_fixtures(FIXTURES)
    assert x.json("import")["imported"] == 1
    (sid,) = x.json("push")["sessions"]
    url = lore_server.url
    page_url = url + "/sessions/" + quote(sid, safe="")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await _signed_in(http, url)
        async with http.get(page_url) as resp:
            html = await resp.text()
        words = _text(html)
        assert "keeps its local copy" not in words
        assert "the machine it was captured on too" in words, words
        csrf = re.search(r'name="csrf" value="([^"]+)"', html)
        assert csrf
        async with http.post(page_url + "/delete", data={"csrf": csrf.group(1)}) as resp:
            confirm = _text(await resp.text())
        assert "the machine it was captured on too" in confirm, confirm
        async with http.post(page_url + "/delete", data={"csrf": csrf.group(1),
                                                        "confirm": "yes"}) as resp:
            assert resp.status == 200 and "/sessions" in str(resp.url)
            flash = _text(await resp.text())
        assert "the one it was captured on too" in flash, flash
        async with http.get(url + "/account") as resp:
            account = _text(await resp.text())
        assert "keeps its own local copy" not in account
    # what the words promise: the capturing machine's next pull removes its copy ...
    pulled = x.json("pull")
    assert sid in pulled.get("deleted", []), pulled
    assert sid not in {r[0] for r in x.db("SELECT id FROM sessions")}
    # ... and it is not captured again from the tool's file, which is untouched
    assert list((x.claude / "projects").rglob("*.jsonl"))
    x.json("import")
    assert sid not in {r[0] for r in x.db("SELECT id FROM sessions")}
