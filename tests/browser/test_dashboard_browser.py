"""The dashboard in headless Chromium against a real ``lore-server`` subprocess.

Sessions are seeded through the real push API (opaque "sealed" bytes); the revoke and
delete stories use real ``lorectl`` machines. Screenshots of every page are saved
under each test's tmp dir (paths printed; run with ``-s`` to see them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from lorecloud.dashboard.security import SECURITY_HEADERS
from tests.browser.conftest import PHONE
from tests.browser.seed import Machine, SeedSession, http, login, register
from tests.serverproc import ServerProc, start_server

PASSWORD = "account-password-1"
A, B = "alice@example.com", "bob@example.com"
PROJECTS = ["/home/dev/projects/webapp", "/home/dev/projects/api", "/srv/infra", ""]
TOOLS = ["claude-code", "codex", "gemini"]
T0 = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)


def laptop_session(i: int) -> SeedSession:
    """Session i of alice's laptop: distinct start times, sizes and message counts."""
    return SeedSession(
        f"{TOOLS[i % 3]}:laptop-{i:03d}",
        tool=TOOLS[i % 3],
        project_path=PROJECTS[i % 4],  # every 4th: privacy.metadata = "minimal"
        started_at=(T0 + dt.timedelta(hours=i)).isoformat(),
        ended_at=(T0 + dt.timedelta(hours=i, minutes=40)).isoformat(),
        message_count=(i * 31) % 200,
        payload_bytes=(i * 7919) % 100_000 + 1,
    )


class World:
    """One server, two accounts, seeded sessions; shared by the read-only tests."""

    def __init__(self, server: ServerProc) -> None:
        self.server = server
        self.url = server.url
        server.add_user(A, PASSWORD)  # pro: 135 sessions are over the free plan's 50
        register(self.url, B, PASSWORD)  # no CLI process start: quicker
        self.laptop = login(self.url, A, PASSWORD, "laptop")
        self.desktop = login(self.url, A, PASSWORD, "desktop")
        self.sessions = {s.session_id: s for s in map(laptop_session, range(120))}
        self.laptop.push(list(self.sessions.values())[:100])
        self.laptop.push(list(self.sessions.values())[100:])
        desk = [SeedSession(f"aider:desk-{i:02d}", tool="aider", project_path="/home/dev/dotfiles",
                            started_at=f"2025-07-{i + 1:02d}T09:00:00+00:00",
                            ended_at=f"2025-07-{i + 1:02d}T09:30:00+00:00", payload_bytes=500)
                for i in range(15)]
        self.desktop.push(desk)
        self.sessions.update({s.session_id: s for s in desk})
        self.bob = login(self.url, B, PASSWORD, "bobs-box")
        self.bob.push([SeedSession(f"codex:bob-{i}", tool="codex", project_path="/bob/only")
                       for i in range(3)])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A real lore-server with alice (135 sessions on 2 machines) and bob (3 sessions)."""
    server = start_server(tmp_path_factory.mktemp("dashboard-server"), open_registration=True)
    try:
        yield World(server)
    finally:
        server.stop()


def sign_in(page: Any, base: str, email: str, password: str = PASSWORD) -> Any:
    """Sign in through the form; -> the page on /sessions."""
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/sessions")
    return page


def row_ids(page: Any) -> list[str]:
    """Session ids of the table rows, in order."""
    hrefs = page.eval_on_selector_all(
        "#sessions tbody tr td:first-child a", "els => els.map(e => e.getAttribute('href'))")
    return [unquote(h.removeprefix("/sessions/")) for h in hrefs]


def assert_headers(resp: Any, cacheable: bool = False) -> None:
    """Every dashboard response carries the security headers (pages: also no-store)."""
    headers = resp.all_headers() if hasattr(resp, "all_headers") else resp.headers
    for key, value in SECURITY_HEADERS.items():
        if cacheable and key == "Cache-Control":
            continue
        assert headers.get(key.lower()) == value, (resp.url, key, headers)


def test_sign_in_filter_sort_paginate_open(world: World, new_page: Any, shots: Any) -> None:
    page = new_page()
    resp = page.goto(world.url + "/")
    assert page.url.endswith("/login")
    assert_headers(resp)
    shots(page, "01-login")
    page.fill("#email", A)
    page.fill("#password", "wrong password")
    page.click("form[action='/login'] button[type=submit]")
    assert "Wrong email or password" in page.inner_text("main")
    sign_in(page, world.url, A)

    cookie = next(c for c in page.context.cookies() if c["name"] == "lore_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    db = sqlite3.connect(world.server.data_dir / "lore.db")
    stored = [r[0] for r in db.execute("SELECT token_hash FROM web_sessions")]
    db.close()
    assert hashlib.sha256(cookie["value"].encode()).hexdigest() in stored
    assert cookie["value"] not in stored  # only the hash is kept

    # first page: newest first, 50 rows, minimal-metadata sessions say "hidden"
    assert page.inner_text("#match-count").startswith("135 sessions")
    first = row_ids(page)
    assert len(first) == 50 and first[:15] == [f"aider:desk-{i:02d}" for i in range(14, -1, -1)]
    assert "hidden" in page.inner_text("#sessions")
    shots(page, "02-sessions")

    # keyset pagination: Next until the end, then Previous
    seen, pages = list(first), [first]
    while page.locator("a[rel=next]").count():
        page.click("a[rel=next]")
        pages.append(row_ids(page))
        seen += pages[-1]
    assert [len(p) for p in pages] == [50, 50, 35]
    assert len(set(seen)) == 135 and set(seen) == set(world.sessions)
    starts = [world.sessions[s].started_at or "" for s in seen]
    assert starts == sorted(starts, reverse=True)
    shots(page, "03-sessions-last-page")
    page.click("a[rel=prev]")
    assert row_ids(page) == pages[1]
    page.click("a[rel=first]")
    assert row_ids(page) == first

    # filters: tool, machine, project, date range
    page.select_option("#f-tool", "codex")
    page.click("form.filters button[type=submit]")
    assert page.inner_text("#match-count").startswith("40 sessions match")
    assert {world.sessions[s].tool for s in row_ids(page)} == {"codex"}
    page.goto(world.url + "/sessions")
    page.select_option("#f-machine", label="desktop")
    page.click("form.filters button[type=submit]")
    assert sorted(row_ids(page)) == [f"aider:desk-{i:02d}" for i in range(15)]
    page.goto(world.url + "/sessions")
    page.fill("#f-project", "INFRA")
    page.fill("#f-since", "2025-05-02")
    page.fill("#f-until", "2025-05-03")
    page.click("form.filters button[type=submit]")
    expected = {sid for sid, s in world.sessions.items() if s.project_path == "/srv/infra"
                and "2025-05-02" <= (s.started_at or "")[:10] <= "2025-05-03"}
    assert set(row_ids(page)) == expected and len(expected) == 12
    shots(page, "04-sessions-filtered")

    # sort by size: first click descending, second ascending (filters kept)
    page.goto(world.url + "/sessions?machine=" + world.laptop.machine_id)
    page.click("#sessions th a:has-text('Size')")
    sizes = [world.sessions[s].payload_bytes for s in row_ids(page)]
    assert sizes == sorted(sizes, reverse=True)
    page.click("#sessions th a:has-text('Size')")
    asc = [world.sessions[s].payload_bytes for s in row_ids(page)]
    assert asc == sorted(asc) and "machine=" in page.url and "order=asc" in page.url
    page.click("a[rel=next]")
    more = [world.sessions[s].payload_bytes for s in row_ids(page)]
    assert more and more == sorted(more) and more[0] >= asc[-1]

    # one session: metadata and the end-to-end encryption statement
    page.goto(world.url + "/sessions")
    page.click("#sessions tbody tr:first-child td:first-child a")
    note = page.inner_text("#e2e-note")
    assert "end-to-end encrypted" in note and "in this tab only" in note
    body = page.inner_text("main")
    assert "aider:desk-14" in body and "/home/dev/dotfiles" in body and "desktop" in body
    shots(page, "05-session")
    resp = page.goto(world.url + "/sessions/" + "claude-code%3Alaptop-003")
    assert resp.status == 200 and "hidden" in page.inner_text("main")
    assert_headers(resp)

    # phone: tables become cards, nothing overflows horizontally
    phone = new_page(PHONE)
    sign_in(phone, world.url, A)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    shots(phone, "06-phone-sessions", full_page=False)
    phone.goto(world.url + "/machines")
    shots(phone, "07-phone-machines", full_page=False)
    assert page.lore_errors == [] and phone.lore_errors == []  # no CSP violations


def test_csrf_and_account_isolation(world: World, new_page: Any, shots: Any) -> None:
    page = sign_in(new_page(), world.url, B)
    assert page.inner_text("#match-count").startswith("3 sessions")
    assert sorted(row_ids(page)) == ["codex:bob-0", "codex:bob-1", "codex:bob-2"]
    for path in ("/sessions", "/machines", "/account"):
        page.goto(world.url + path)
        text = page.content()
        for secret in ("laptop-0", "alice@", "/home/dev/projects", world.laptop.machine_id,
                       world.desktop.machine_id, "desktop"):
            assert secret not in text, (path, secret)
    assert page.goto(world.url + "/sessions/codex%3Alaptop-001").status == 404
    assert page.goto(world.url + "/sessions?machine=" + world.laptop.machine_id).ok
    assert row_ids(page) == []

    csrf = page.get_attribute("form.logout input[name=csrf]", "value")
    req = page.request
    # bob's own valid token cannot touch alice's machine or sessions
    revoke = f"{world.url}/machines/{world.laptop.machine_id}/revoke"
    resp = req.post(revoke, form={"csrf": csrf, "confirm": "yes"}, max_redirects=0)
    assert resp.status == 404
    resp = req.post(f"{world.url}/sessions/codex%3Alaptop-001/delete",
                    form={"csrf": csrf, "confirm": "yes"}, max_redirects=0)
    assert resp.status == 404
    assert world.laptop.call("GET", "/v1/account")[0] == 200

    # posts without the CSRF token, with a wrong one, or sent cross-site are refused
    delete_all = world.url + "/account/delete-sessions"
    assert req.post(delete_all, form={"confirm": "yes"}, max_redirects=0).status == 403
    assert req.post(delete_all, form={"csrf": "x" * 64, "confirm": "yes"},
                    max_redirects=0).status == 403
    cross = req.post(delete_all, form={"csrf": csrf, "confirm": "yes"}, max_redirects=0,
                     headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status == 403
    assert_headers(cross)
    assert "Form expired" in cross.text()
    assert req.post(world.url + "/login", form={"email": B, "password": PASSWORD},
                    max_redirects=0).status == 403
    page.goto(world.url + "/sessions")
    assert len(row_ids(page)) == 3  # nothing was deleted

    # alice's cookie token with bob's CSRF token: refused as well
    alice = sign_in(new_page(), world.url, A)
    resp = alice.request.post(delete_all, form={"csrf": csrf, "confirm": "yes"},
                              max_redirects=0)
    assert resp.status == 403

    # the real form, posted by the browser with its CSRF field removed
    alice.goto(world.url + "/account")
    alice.evaluate("document.querySelector("
                   "\"form[action='/account/delete-sessions'] input[name=csrf]\").remove()")
    with alice.expect_response(re.compile(r".*/account/delete-sessions$")) as info:
        alice.click("form[action='/account/delete-sessions'] button")
    assert info.value.status == 403 and "Form expired" in alice.inner_text("h1")
    shots(alice, "08-csrf-refused")
    alice.goto(world.url + "/sessions")
    assert alice.inner_text("#match-count").startswith("135 sessions")


def test_sign_out_and_login_rate_limit(world: World, new_page: Any, shots: Any) -> None:
    page = sign_in(new_page(), world.url, A)
    old = next(c for c in page.context.cookies() if c["name"] == "lore_session")
    page.click("form.logout button[type=submit]")
    page.wait_for_url("**/login")
    assert page.goto(world.url + "/sessions").url.endswith("/login")
    # the old cookie value is dead server-side, not just deleted in this browser
    replay = new_page()
    replay.context.add_cookies(
        [{"name": "lore_session", "value": old["value"], "url": world.url}])
    replay.goto(world.url + "/account")
    assert replay.url.endswith("/login")

    # the API's failed-login limit (5 per minute per email and address) applies here too
    limited = new_page()
    limited.goto(world.url + "/login")
    statuses = []
    for _ in range(6):  # each answer is the form again, with a fresh CSRF token
        limited.fill("#email", "nobody@example.com")
        limited.fill("#password", "not the password")
        with limited.expect_response(re.compile(r".*/login$")) as info:
            limited.click("form[action='/login'] button[type=submit]")
        statuses.append(info.value.status)
    assert statuses == [401] * 5 + [429]
    assert "Too many failed sign-ins" in limited.inner_text("main")
    shots(limited, "09-login-rate-limited")
    status, doc = http(world.url, "POST", "/v1/login",
                       b'{"email":"nobody@example.com","password":"x","machine_id":"m",'
                       b'"machine_name":"m"}')
    assert status == 429 and doc["error"]["code"] == "rate_limited"  # one limiter for both


def machine_id_of(m: Any) -> str:
    """A lorectl machine's id, from its config.toml."""
    path = next(m.lore_home.rglob("config.toml"))
    return str(tomllib.loads(path.read_text())["machine_id"])


def local_ids(m: Any) -> set[str]:
    """Session ids in a lorectl machine's sessions.db (read directly: no process start)."""
    return {r[0] for r in m.db("SELECT id FROM sessions")}


def test_delete_then_revoke_with_real_lorectl_machines(
        tmp_path: Path, world: World, new_page: Any, shots: Any) -> None:
    from tests.sync.machines import LorectlMachine

    server = world.server
    email = "carol@example.com"  # a separate account on the shared server
    register(server.url, email, PASSWORD)  # free plan
    x = LorectlMachine(tmp_path, "x", server_url=server.url, password=PASSWORD)
    y = LorectlMachine(tmp_path, "y", server_url=server.url, password=PASSWORD)
    x.login(email)
    y.login(email)
    x.copy_fixtures(Path(__file__).parents[1] / "fixtures")
    assert x.json("import")["imported"] == 1
    (sid,) = x.json("push")["sessions"]
    assert sid in y.json("pull")["sessions"] and sid in local_ids(y)
    watcher = login(server.url, email, PASSWORD, "watcher")

    page = sign_in(new_page(), server.url, email)
    page.goto(server.url + "/account")
    assert page.inner_text("#acct-plan") == "free"
    assert page.get_attribute("#sessions-bar", "max") == "50"
    assert page.get_attribute("#sessions-bar", "value") == "1"
    assert "claude-code" in page.inner_text("#by-tool")
    shots(page, "10-account")

    # change the account password: wrong current refused, then done
    page.fill("#current", "not-it-at-all")
    page.fill("#new", "a-new-password-2")
    page.fill("#new2", "a-new-password-2")
    page.click("#password-form button[type=submit]")
    assert "current password is wrong" in page.inner_text(".flash")
    page.fill("#current", PASSWORD)
    page.fill("#new", "a-new-password-2")
    page.fill("#new2", "a-new-password-2")
    page.click("#password-form button[type=submit]")
    assert "password changed" in page.inner_text(".flash").lower()
    assert http(server.url, "POST", "/v1/login", _login_body(email, PASSWORD))[0] == 401
    assert http(server.url, "POST", "/v1/login",
                _login_body(email, "a-new-password-2"))[0] == 200

    # delete the session: confirmation step, then a tombstone on the feed
    page.goto(server.url + "/sessions/" + sid.replace(":", "%3A"))
    page.click("form[action$='/delete'] button[type=submit]")
    assert "Delete this session" in page.inner_text("h1")
    shots(page, "11-delete-confirm")
    page.click("form button.danger")
    page.wait_for_url("**/sessions?done=deleted")
    assert row_ids(page) == [] and "deleted" in page.inner_text(".flash")
    change = next(c for c in watcher.changes() if c["session_id"] == sid)
    assert change["deleted"] is True and change["info"] is None
    pulled = y.json("pull")
    assert sid in pulled.get("deleted", []), pulled
    assert sid not in local_ids(y)  # gone from the other machine

    # revoke machine y: confirmation step, then its next sync is refused
    page.goto(server.url + "/machines")
    y_id = machine_id_of(y)
    assert y_id in page.inner_text("#machines")
    shots(page, "12-machines")
    page.click(f"form[action='/machines/{y_id}/revoke'] button")
    assert "Sign out" in page.inner_text("h1")
    shots(page, "13-revoke-confirm")
    page.click("form button.danger")
    page.wait_for_url("**/machines?done=revoked")
    assert "signed out" in page.inner_text(".flash")
    shots(page, "14-machines-after-revoke")
    proc = y.run("sync", check=False)
    assert proc.returncode != 0
    assert "this machine was signed out" in proc.stderr, proc.stderr
    statuses = page.inner_text("#machines")
    assert "signed in" in statuses and "signed out" in statuses  # x is still signed in
    assert page.lore_errors == []


def _login_body(email: str, password: str) -> bytes:
    import json

    return json.dumps({"email": email, "password": password, "machine_id": "probe",
                       "machine_name": "probe"}).encode()


def test_delete_all_sessions_needs_confirmation(world: World, new_page: Any) -> None:
    page = sign_in(new_page(), world.url, B)
    page.goto(world.url + "/account")
    page.click("form[action='/account/delete-sessions'] button")
    assert "Delete all synced sessions?" in page.inner_text("h1")
    assert "All 3 sessions" in page.inner_text("main")
    page.click("form button.danger")
    page.wait_for_url("**/account?done=deleted_all")
    page.goto(world.url + "/sessions")
    assert row_ids(page) == []
    # bob's other machines learn it from the feed
    other: Machine = login(world.url, B, PASSWORD, "bobs-laptop")
    feed = {c["session_id"]: c["deleted"] for c in other.changes()}
    assert feed == {"codex:bob-0": True, "codex:bob-1": True, "codex:bob-2": True}


def test_cookie_is_secure_behind_a_tls_proxy(world: World, new_page: Any) -> None:
    req = new_page().request
    plain = req.get(world.url + "/login")
    cookie = next(h["value"] for h in plain.headers_array if h["name"].lower() == "set-cookie")
    assert cookie.startswith("lore_login_csrf=") and "Secure" not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    proxied = req.get(world.url + "/login", headers={"X-Forwarded-Proto": "https"})
    cookie = next(h["value"] for h in proxied.headers_array
                  if h["name"].lower() == "set-cookie")
    assert cookie.startswith("__Host-lore_login_csrf=") and "; Secure" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert_headers(proxied)
    css = req.get(world.url + "/static/dashboard.css")
    assert css.ok and css.headers["content-type"].startswith("text/css")
    assert_headers(css, cacheable=True)  # versioned URL: may be cached
