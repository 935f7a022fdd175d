"""Machines that share a hostname are told apart, and can be renamed (issue 16).

Every simulated machine here runs on the same host, so by default all are called by
the same hostname — the seven-`vm`s case. Real lorectl, real lore-server.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from pathlib import Path

from tests.daemonproc import Machine
from tests.e2e.conftest import EMAIL, PASSWORD
from tests.http.client import Browser
from tests.serverproc import ServerProc

FIX = Path(__file__).parents[1] / "fixtures/claude/projects/-home-dev-projects-webapp"
SID = "3f2b9c1e-7a4d-4e8b-9c2a-5d1e6f7a8b90"
PASSPHRASE = "correct horse battery"


def _machine(tmp_path: Path, name: str) -> Machine:
    return Machine(tmp_path / name, LORE_PASSWORD=PASSWORD, LORE_PASSPHRASE=PASSPHRASE)


def _capture_one(m: Machine, n: int) -> None:
    dest = m.home / ".claude/projects/-home-dev-projects-webapp"
    dest.mkdir(parents=True, exist_ok=True)
    new = str(uuid.UUID(int=n))
    (dest / f"{new}.jsonl").write_text((FIX / f"{SID}.jsonl").read_text().replace(SID, new))


def _listed(server: ServerProc, *args: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(
        server.cli("machine", "list", *args, "--json").stdout)
    return rows


def test_same_hostnames_are_told_apart_and_machines_rename(tmp_path: Path,
                                                           server: ServerProc) -> None:
    a, b, c = (_machine(tmp_path, n) for n in ("a", "b", "c"))
    host = a.status()["machine"]["name"]
    assert b.status()["machine"]["name"] == host  # the hostname, like seven cloud `vm`s
    a.lorectl("login", "--server", server.url, "--email", EMAIL)
    second = b.lorectl("login", "--server", server.url, "--email", EMAIL)
    assert f"(machine {host}, id {b.status()['machine']['id'][:8]})" in second.stdout
    assert "1 other machine of this account is also called" in second.stderr
    assert "lorectl machine rename NAME" in second.stderr
    third = c.lorectl("login", "--server", server.url, "--email", EMAIL,
                      "--machine-name", "build-3")
    assert "(machine build-3," in third.stdout and "also called" not in third.stderr
    assert c.status()["machine"]["name"] == "build-3"  # kept in config.toml

    rows = {r["machine_id"]: r for r in _listed(server)}
    assert len(rows) == 3 and {r["email"] for r in rows.values()} == {EMAIL}
    for m in (a, b):
        mid = m.status()["machine"]["id"]
        assert rows[mid]["name"] == host and rows[mid]["label"] == f"{host} ({mid[:6]})"
    assert rows[c.status()["machine"]["id"]]["label"] == "build-3"
    human = server.cli("machine", "list", EMAIL).stdout.splitlines()
    assert human[0].split()[:3] == ["ACCOUNT", "MACHINE", "ID"] and len(human) == 4
    assert server.cli("machine", "list", "nobody@example.com", check=False).returncode == 1

    # b and a (both `host`) push one session each; c lists them apart after a pull
    for n, m in enumerate((a, b), start=1):
        _capture_one(m, n)
        m.lorectl("push")
    c.lorectl("pull")
    listing = c.lorectl("sessions", "list").stdout
    for m in (a, b):
        assert f"{host} ({m.status()['machine']['id'][:6]})"[:16] in listing

    # b renames itself: the server, then everyone else, call it by the new name
    out = b.lorectl("machine", "rename", "laptop-b").stdout
    assert "now called 'laptop-b' (here and on Lore Cloud)" in out
    assert b.status()["machine"]["name"] == "laptop-b"
    rows = {r["machine_id"]: r for r in _listed(server, EMAIL)}
    assert rows[b.status()["machine"]["id"]]["label"] == "laptop-b"
    assert rows[a.status()["machine"]["id"]]["label"] == host  # no longer shared
    _capture_one(b, 3)
    b.lorectl("push")
    c.lorectl("pull")
    assert "laptop-b" in c.lorectl("sessions", "list").stdout

    bad = b.lorectl("machine", "rename", " \t ", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "hint: " in bad.stderr
    assert "Traceback" not in bad.stderr


def test_rename_while_logged_out_waits_for_the_next_login(tmp_path: Path,
                                                          server: ServerProc) -> None:
    m = _machine(tmp_path, "m")
    out = m.lorectl("machine", "rename", "desk").stdout
    assert "the next `lorectl login` tells Lore Cloud" in out
    m.lorectl("login", "--server", server.url, "--email", EMAIL)
    [row] = _listed(server)
    assert row["name"] == "desk"


def test_the_dashboard_renames_a_machine_with_its_csrf_token(tmp_path: Path,
                                                             server: ServerProc) -> None:
    m = _machine(tmp_path, "m")
    m.lorectl("login", "--server", server.url, "--email", EMAIL)
    mid = m.status()["machine"]["id"]
    browser = Browser(server.url)
    browser.sign_in(EMAIL)
    csrf = browser.csrf("/machines")
    action = f"/machines/{urllib.parse.quote(mid, safe='')}/rename"
    status, page, _ = browser.post_form(action, {"name": "stolen"})  # no CSRF token
    assert status == 403 and _listed(server)[0]["name"] != "stolen"
    status, _, headers = browser.post_form(action, {"csrf": csrf, "name": "  office  pc "})
    assert status == 303 and headers["location"] == "/machines?done=renamed"
    assert _listed(server)[0]["name"] == "office  pc"
    status, page, _ = browser.request("GET", "/machines?done=renamed")
    assert "Machine renamed" in page and re.search(r">\s*office  pc\b", page)
    status, page, _ = browser.post_form(action, {"csrf": csrf, "name": ""})
    assert status == 400 and "Not renamed" in page
    status, _, _ = browser.post_form("/machines/nope/rename", {"csrf": csrf, "name": "x"})
    assert status == 404
