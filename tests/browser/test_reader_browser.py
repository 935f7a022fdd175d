"""Reading a session in the browser, end-to-end encrypted (issue 18).

A real ``lore-server``; an envelope and sealed chunks made by lored's own crypto and
pushed through the real API; Debian's Chromium signs in, unlocks with the passphrase
(or the ``lore1-`` recovery key), reads, searches and locks. Afterwards the server's
database, WAL and log hold no plaintext marker and no key.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.sealed import Keyed, create_share, set_up_encryption
from tests.browser.seed import login
from tests.serverproc import ServerProc, start_server

EMAIL, PASSWORD = "reader@example.com", "account-password-1"
PASSPHRASE = "Corréct horse battery staple"
MARKER = "zebra-marker-7f31"
SID = "claude-code:0b1c2d3e-reader"
CODEX_SID = "codex:0197a3c4-reader"
BIG_SID = "claude-code:big-transcript"


def claude_payload() -> bytes:
    """A small Claude Code transcript with a code block and a tool call/result."""
    recs = [
        {"type": "user", "timestamp": "2025-06-14T10:00:00Z",
         "message": {"role": "user", "content": f"please fix the {MARKER} bug"}},
        {"type": "assistant", "timestamp": "2025-06-14T10:00:05Z",
         "message": {"role": "assistant", "content": [
             {"type": "text", "text": "Here is the fix:\n```python\nprint('fixed')\n```"},
             {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "pytest -q"}}]}},
        {"type": "user", "timestamp": "2025-06-14T10:00:09Z",
         "message": {"role": "user", "content": [
             {"type": "tool_result", "tool_use_id": "t1", "content": "3 passed"}]}},
        {"type": "assistant", "timestamp": "2025-06-14T10:00:12Z",
         "message": {"role": "assistant", "content": "All tests pass now."}},
    ]
    return "".join(json.dumps(r) + "\n" for r in recs).encode()


def codex_payload() -> bytes:
    """A Codex rollout (response_item records)."""
    recs = [
        {"timestamp": "2025-06-14T10:00:00Z", "type": "session_meta", "payload": {"id": "x"}},
        {"timestamp": "2025-06-14T10:00:01Z", "type": "response_item", "payload": {
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "list the files"}]}},
        {"timestamp": "2025-06-14T10:00:02Z", "type": "response_item", "payload": {
            "type": "function_call", "name": "shell", "arguments": "{\"command\":[\"ls\"]}"}},
        {"timestamp": "2025-06-14T10:00:03Z", "type": "response_item", "payload": {
            "type": "function_call_output", "output": "README.md"}},
        {"timestamp": "2025-06-14T10:00:04Z", "type": "response_item", "payload": {
            "type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": "One file: README.md"}]}},
    ]
    return "".join(json.dumps(r) + "\n" for r in recs).encode()


def big_payload(n: int) -> bytes:
    """n alternating user/assistant lines (several MB: more than one chunk)."""
    filler = "x" * 900
    return "".join(
        json.dumps({"type": "user" if i % 2 == 0 else "assistant",
                    "timestamp": "2025-06-14T10:00:00Z",
                    "message": {"role": "user" if i % 2 == 0 else "assistant",
                                "content": f"line {i} {filler}"}}) + "\n"
        for i in range(n)
    ).encode()


class World:
    """One server, one account with encryption and three sealed sessions."""

    def __init__(self, server: ServerProc) -> None:
        self.server = server
        self.url = server.url
        server.add_user(EMAIL, PASSWORD)
        self.keyed: Keyed = set_up_encryption(login(self.url, EMAIL, PASSWORD, "laptop"),
                                              PASSPHRASE)
        self.keyed.push_payload(SID, "claude-code", claude_payload(), 4)
        self.keyed.push_payload(CODEX_SID, "codex", codex_payload(), 4)
        self.big_lines = 6000
        self.keyed.push_payload(BIG_SID, "claude-code", big_payload(self.big_lines),
                                self.big_lines)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A real lore-server with one encrypted account."""
    server = start_server(tmp_path_factory.mktemp("reader-server"))
    try:
        yield World(server)
    finally:
        server.stop()


def signed_in(new_page: Any, world: World) -> Any:
    """A fresh browser context signed in to the dashboard."""
    page = new_page()
    page.goto(world.url + "/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/sessions")
    return page


def open_session(page: Any, world: World, sid: str) -> None:
    page.goto(world.url + "/sessions/" + quote(sid, safe=""))
    page.wait_for_selector("#reader[data-state=locked]")


def unlock(page: Any, secret: str) -> None:
    page.fill("#unlock-secret", secret)
    page.click("#unlock-button")


def test_unlock_read_search_lock(new_page: Any, world: World, shots: Any) -> None:
    page = signed_in(new_page, world)
    open_session(page, world, SID)
    assert MARKER not in page.content()  # the server never renders the content
    unlock(page, PASSPHRASE)
    page.wait_for_selector("#reader[data-state=unlocked]", timeout=60_000)
    msgs = page.locator("#messages > li")
    assert msgs.count() == 4
    assert msgs.nth(0).locator(".msg-role").inner_text().lower() == "user"
    assert MARKER in msgs.nth(0).inner_text()
    assert page.locator("#messages pre.code code[data-lang=python]").inner_text().strip() == (
        "print('fixed')")
    # tool calls and results are collapsed
    call = page.locator("details.tool-call")
    assert call.count() == 1 and call.get_attribute("open") is None
    assert "Bash" in call.locator("summary").inner_text()
    assert page.locator("details.tool-result").count() == 1
    assert page.locator("#unlock-secret").input_value() == ""
    shots(page, "unlocked")
    page.fill("#search", "all tests pass")
    assert page.locator("#search-count").inner_text() == "1 matching"
    assert page.locator("#messages > li:visible").count() == 1
    page.click("#lock")
    page.wait_for_selector("#reader[data-state=locked]")
    assert page.locator("#messages > li").count() == 0
    assert MARKER not in page.content()
    assert page.locator("#unlock-form").is_visible()
    # nothing reached storage
    stored = page.evaluate("() => [localStorage.length, sessionStorage.length, document.cookie]")
    assert stored == [0, 0, ""]
    assert page.lore_errors == []


def test_wrong_passphrase_refused(new_page: Any, world: World) -> None:
    page = signed_in(new_page, world)
    open_session(page, world, SID)
    unlock(page, "not the passphrase at all")
    page.locator("#unlock-error:not(:empty)").wait_for(timeout=60_000)
    assert page.locator("#unlock-error").inner_text() == (
        "Wrong passphrase: this is not the encryption passphrase of this account.")
    assert page.locator("#reader").get_attribute("data-state") == "locked"
    assert page.locator("#messages > li").count() == 0


def test_recovery_key_unlocks_and_typo_refused(new_page: Any, world: World) -> None:
    page = signed_in(new_page, world)
    open_session(page, world, CODEX_SID)
    good = world.keyed.recovery
    typo = good[:-1] + ("A" if good[-1] != "A" else "B")
    unlock(page, typo)
    page.locator("#unlock-error:not(:empty)").wait_for()
    assert "typo" in page.locator("#unlock-error").inner_text()
    unlock(page, good.lower())
    page.wait_for_selector("#reader[data-state=unlocked]")
    texts = page.locator("#messages > li").all_inner_texts()
    assert len(texts) == 4
    assert "list the files" in texts[0] and "One file: README.md" in texts[3]
    assert page.locator("details.tool-call summary").inner_text() == "Tool call: shell"


def test_big_transcript_renders_progressively(new_page: Any, world: World) -> None:
    page = signed_in(new_page, world)
    open_session(page, world, BIG_SID)
    unlock(page, world.keyed.recovery)
    page.wait_for_selector("#reader[data-state=unlocked]", timeout=120_000)
    assert page.locator("#messages > li").count() == world.big_lines
    assert page.locator("#msg-count").inner_text() == f"{world.big_lines} messages"


def test_server_holds_no_plaintext_or_key(new_page: Any, world: World) -> None:
    """After unlocking and reading, the DB, its WAL and the log hold no marker or key."""
    page = signed_in(new_page, world)
    open_session(page, world, SID)
    unlock(page, PASSPHRASE)
    page.wait_for_selector("#reader[data-state=unlocked]", timeout=60_000)
    dk = world.keyed.data_key.reveal()
    files = sorted(Path(world.server.data_dir).glob("lore.db*"))
    assert files, "no database files found to audit"
    blobs = [p.read_bytes() for p in files]
    blobs.append(Path(world.server.log_path).read_bytes())
    for blob in blobs:
        for needle in (MARKER.encode(), dk, dk.hex().encode(), PASSPHRASE.encode(),
                       world.keyed.recovery.encode()):
            assert needle not in blob


def reader_page(new_page: Any, url: str) -> Any:
    """A fresh context without cookies opening a share link."""
    page = new_page()
    page.goto(url)
    page.wait_for_selector("#share-view[data-state]", timeout=30_000)
    return page


def test_share_button_link_list_and_revoke(new_page: Any, world: World, shots: Any) -> None:
    page = signed_in(new_page, world)
    open_session(page, world, SID)
    unlock(page, PASSPHRASE)
    page.wait_for_selector("#reader[data-state=unlocked]", timeout=60_000)
    page.click("#share")
    page.wait_for_selector("#share-result:not([hidden])")
    link = page.locator("#share-link").input_value()
    share_id = page.locator("#reader").get_attribute("data-shared")
    assert link.startswith(f"{world.url}/s/{share_id}#") and len(link.split("#")[1]) == 43
    # a stranger: fresh context, no cookies
    other = reader_page(new_page, link)
    assert other.context.cookies() == []
    assert other.locator("#share-view").get_attribute("data-state") == "open"
    texts = other.locator("#messages > li").all_inner_texts()
    assert len(texts) == 4 and MARKER in texts[0]
    shots(other, "shared")
    # the owner's list shows it with one view, then revokes it
    page.goto(world.url + "/shares")
    row = page.locator(f"tr[data-share-id='{share_id}']")
    assert row.locator("td.num").inner_text() == "1"
    assert row.locator("td.state").inner_text() == "active"
    row.locator("button").click()
    page.wait_for_url("**/shares?done=revoked")
    assert page.locator(f"tr[data-share-id='{share_id}'] td.state").inner_text() == "revoked"
    gone = new_page()
    resp = gone.goto(link)
    assert resp.status == 410
    assert "revoked" in gone.locator("main").inner_text()
    # the plaintext audit: after unlock, view and share, no marker, data key or share key
    share_key = link.split("#")[1]
    files = sorted(Path(world.server.data_dir).glob("lore.db*"))
    blobs = [p.read_bytes() for p in files] + [Path(world.server.log_path).read_bytes()]
    dk = world.keyed.data_key.reveal()
    raw_key = base64.urlsafe_b64decode(share_key + "=")
    for blob in blobs:
        for needle in (MARKER.encode(), dk, share_key.encode(), raw_key):
            assert needle not in blob


def test_share_link_expired_and_tampered(new_page: Any, world: World) -> None:
    payload = claude_payload()
    # expired: a one-second share answers 410 once its time has passed
    _sid, link = create_share(world.keyed.machine, SID, payload, "claude-code", expires_in=1)
    deadline = time.monotonic() + 15
    status = 200
    while time.monotonic() < deadline:
        page = new_page()
        status = page.goto(link).status
        if status == 410:
            break
        page.context.close()
    assert status == 410
    assert "expired" in page.locator("main").inner_text()
    # tampered: flip one ciphertext byte in the server's database
    share_id, link = create_share(world.keyed.machine, SID, payload, "claude-code")
    ok = reader_page(new_page, link)
    assert ok.locator("#share-view").get_attribute("data-state") == "open"
    db = sqlite3.connect(Path(world.server.data_dir) / "lore.db")
    (blob,) = db.execute("SELECT sealed FROM shares WHERE share_id = ?", (share_id,)).fetchone()
    bad = bytearray(blob)
    bad[40] ^= 0x01
    db.execute("UPDATE shares SET sealed = ? WHERE share_id = ?", (bytes(bad), share_id))
    db.commit()
    db.close()
    damaged = reader_page(new_page, link)
    assert damaged.locator("#share-view").get_attribute("data-state") == "failed"
    assert damaged.locator("#share-error").inner_text().startswith("This link is damaged")
    assert damaged.locator("#messages > li").count() == 0
    # a wrong key in the fragment is "damaged" too
    wrong = reader_page(new_page, link.split("#")[0] + "#" + "A" * 43)
    assert wrong.locator("#share-error").inner_text().startswith("This link is damaged")
