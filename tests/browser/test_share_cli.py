"""A real ``lorectl`` machine pushes; the browser unlocks it; ``lorectl`` shares it.

``lorectl login/import/push`` (the machine's own sealing), then in Chromium: sign in,
unlock with the machine's passphrase, read; ``lorectl sessions share ID --json`` makes
a link that a fresh, cookie-less context reads; ``lorectl shares list|revoke``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.serverproc import ServerProc, start_server
from tests.sync.machines import LorectlMachine
from tests.sync.sessions import lines, native_id

EMAIL, PASSWORD = "cli-share@example.com", "account-password-1"
MARKER = "PLANTED-MARKER-share-4c0ffee"


@pytest.fixture(scope="module")
def pushed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProc, LorectlMachine, str]]:
    """A server and a machine that pushed one session containing MARKER."""
    root = tmp_path_factory.mktemp("share-cli")
    server = start_server(root / "srv")
    try:
        server.add_user(EMAIL, PASSWORD)
        m = LorectlMachine(root, "laptop", server_url=server.url, password=PASSWORD)
        m.login(EMAIL)
        m.write_session(native_id("s1"), lines("s1", 6, marker=MARKER))
        m.json("import")
        out = m.json("push")
        (sid,) = out["sessions"]
        yield server, m, sid
    finally:
        server.stop()


def test_browser_unlocks_what_a_machine_pushed(new_page: Any, pushed: Any) -> None:
    server, m, sid = pushed
    page = new_page()
    page.goto(server.url + "/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/sessions")
    page.goto(server.url + "/sessions/" + quote(sid, safe=""))
    page.fill("#unlock-secret", m.passphrase)
    page.click("#unlock-button")
    page.wait_for_selector("#reader[data-state=unlocked]", timeout=60_000)
    texts = page.locator("#messages > li").all_inner_texts()
    assert len(texts) == 6 and all(MARKER in t for t in texts)
    assert page.lore_errors == []


def test_lorectl_share_list_revoke(new_page: Any, pushed: Any) -> None:
    server, m, sid = pushed
    doc = m.json("sessions", "share", sid, "--expires", "2d")
    assert set(doc) == {"share_id", "url", "expires_at"}
    base, _, key = doc["url"].partition("#")
    assert base == f"{server.url}/s/{doc['share_id']}" and len(key) == 43
    page = new_page()
    page.goto(doc["url"])
    page.wait_for_selector("#share-view[data-state=open]", timeout=30_000)
    assert page.context.cookies() == []
    assert MARKER in page.locator("#messages").inner_text()
    (row,) = [r for r in m.json("shares", "list") if r["share_id"] == doc["share_id"]]
    assert row["views"] == 1 and row["state"] == "active" and row["session_id"] == sid
    m.run("shares", "revoke", doc["share_id"])
    assert new_page().goto(doc["url"]).status == 410
    (row,) = [r for r in m.json("shares", "list") if r["share_id"] == doc["share_id"]]
    assert row["state"] == "revoked"
    # the server's files and log hold neither the marker nor the share key
    for p in [*Path(server.data_dir).rglob("*"), Path(server.log_path)]:
        if p.is_file():
            blob = p.read_bytes()
            assert MARKER.encode() not in blob and key.encode() not in blob


def test_bad_input_is_one_sentence(pushed: Any) -> None:
    _server, m, sid = pushed
    bad = m.run("sessions", "share", sid, "--expires", "soon", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "error: --expires 'soon' is not a duration" in bad.stderr and "hint:" in bad.stderr
    gone = m.run("shares", "revoke", "A" * 22, check=False)
    assert gone.returncode != 0 and "Traceback" not in gone.stderr and "error:" in gone.stderr
