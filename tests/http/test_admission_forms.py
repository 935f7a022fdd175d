"""Dashboard form posts and POST /v1/shares are inside the body budget (issue 16).

A real lore-server with the smallest budget (`--max-inflight-bytes 1 MiB`); another
account holds all but 256 bytes of it with a stalled push. The sign-in form, a
signed-in dashboard form, the dashboard's Share button and `POST /v1/shares` are then
refused with 503 and `Retry-After` (HTML pages for the dashboard) and work again once
the holder lets go. Oversized forms are 413, stalled ones 408, never a 500.
"""

from __future__ import annotations

import base64
import os
import socket
import time
import urllib.parse
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from loreproto import wire
from tests.http.client import PASSWORD, Api, Browser, frame, hold_budget, wait_budget_full
from tests.serverproc import ServerProc, start_server

MIB = 1024 * 1024
SHARE_ID = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    server = start_server(tmp_path_factory.mktemp("forms"),
                          extra_args=["--max-inflight-bytes", str(MIB), "--body-timeout", "2"])
    try:
        for who in ("alice@example.com", "holder@example.com", "probe@example.com"):
            server.add_user(who, PASSWORD)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def alice(srv: ServerProc) -> tuple[Api, str]:
    """alice's machine with one pushed session -> (api, session id)."""
    api = Api.login(srv.url, "alice@example.com", "alice-m")
    sid = "claude-code:forms-1"
    api.push([frame(sid, [b"sealed chunk"])])
    return api, sid


def served_500(srv: ServerProc) -> list[str]:
    """Access lines with a 500, but the holder's push (its client hung up on purpose)."""
    return [line for line in srv.logs().splitlines()
            if '"status": 500' in line and '"path": "/v1/push"' not in line]


def share_body() -> bytes:
    return b"\x02" + os.urandom(1024)


def test_forms_and_shares_are_refused_503_while_the_budget_is_full(
        srv: ServerProc, alice: tuple[Api, str]) -> None:
    api, sid = alice
    signed_in = Browser(srv.url)
    signed_in.sign_in("alice@example.com")
    form_csrf = signed_in.csrf("/machines")
    newcomer = Browser(srv.url)
    login_csrf = newcomer.csrf("/login")
    holder = hold_budget(srv.url, Api.login(srv.url, "holder@example.com", "h").token,
                         MIB - 256)
    try:
        wait_budget_full(srv.url, Api.login(srv.url, "probe@example.com", "p"))
        # the sign-in form (unauthenticated, leased under the peer address)
        status, page, headers = newcomer.post_form("/login", {
            "csrf": login_csrf, "email": "alice@example.com", "password": PASSWORD + "x" * 400})
        assert status == 503 and headers["retry-after"] == "2"
        assert "text/html" in headers["content-type"] and "The server is busy" in page
        # a signed-in form (the sign-out button, leased under the account)
        status, page, headers = signed_in.post_form("/logout", {"csrf": form_csrf,
                                                                "pad": "x" * 400})
        assert status == 503 and headers["retry-after"] == "2" and "busy" in page
        # POST /v1/shares and the dashboard's Share button
        query = urllib.parse.urlencode({"share_id": SHARE_ID, "session_id": sid,
                                        "expires_in": "3600"})
        status, doc, headers = api.call("POST", f"/v1/shares?{query}", share_body(),
                                        "application/octet-stream")
        assert status == 503 and headers["Retry-After"] == "2"
        assert doc["error"]["code"] == wire.E_UNAVAILABLE
        path = f"/sessions/{urllib.parse.quote(sid, safe='')}/shares?share_id={SHARE_ID}"
        status, text, headers = signed_in.request("POST", path, share_body(),
                                                  "application/octet-stream",
                                                  {"X-CSRF-Token": form_csrf})
        assert status == 503 and headers["retry-after"] == "2", text
    finally:
        holder.close()
    # once the holder is gone everything is served again (the budget was given back)
    deadline = time.monotonic() + 20
    while True:
        status, doc, _ = api.call("POST", f"/v1/shares?{query}", share_body(),
                                  "application/octet-stream")
        if status != 503:
            break
        assert time.monotonic() < deadline, "the held bytes were never given back"
        time.sleep(0.05)  # polling a condition with a deadline
    assert status == 201 and doc["share_id"] == SHARE_ID
    status, _, headers = signed_in.post_form("/logout", {"csrf": form_csrf})
    assert status == 303 and headers["location"] == "/login"
    newcomer.sign_in("alice@example.com")
    assert not served_500(srv)


def test_an_oversized_form_is_413_and_a_stalled_one_408(srv: ServerProc) -> None:
    browser = Browser(srv.url)
    csrf = browser.csrf("/login")
    status, page, _ = browser.post_form("/login", {"csrf": csrf, "email": "a@example.com",
                                                   "password": "x" * (32 * 1024)})
    assert status == 413 and "The form is too large" in page
    browser.sign_in("alice@example.com")
    status, page, _ = browser.post_form("/logout", {"csrf": browser.csrf("/machines"),
                                                    "pad": "y" * (128 * 1024)})
    assert status == 413
    # a body that stops half-way: 408 after --body-timeout (2 s), not a held slot
    part = urlsplit(srv.url)
    with socket.create_connection((part.hostname, part.port), timeout=30) as sock:
        sock.sendall(f"POST /login HTTP/1.1\r\nHost: {part.netloc}\r\nOrigin: {srv.url}\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n"
                     "Content-Length: 500\r\n\r\nemail=a".encode())
        started = time.monotonic()
        answer = sock.recv(4096).decode(errors="replace")
        assert answer.startswith("HTTP/1.1 408") and time.monotonic() - started < 20
    assert not served_500(srv)
