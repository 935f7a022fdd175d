"""Account commands as real processes: login/logout/unlock/passphrase change, aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.sync.machines import LorectlMachine
from tests.sync.sessions import lines, native_id

EMAIL = "dev@example.com"
PASSWORD = "account-password-1"


def test_login_logout_unlock_and_passphrase_change(tmp_path: Path, server: Any) -> None:
    a = LorectlMachine(tmp_path, "a", server_url=server.url, password=None)
    out = a.run("login", "--email", EMAIL, check=False)  # LORE_SERVER, but no password
    assert out.returncode != 0 and "LORE_PASSWORD" in out.stderr
    out = a.run("login", "--email", EMAIL, "--password-stdin", input="wrong-password\n",
                check=False)
    assert out.returncode == 1 and "error: wrong email or password" in out.stderr
    out = a.run("cloud", "login", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n")
    assert f"Logged in to {server.url} as {EMAIL}" in out.stdout
    token = a.lore_home / "token.json"
    assert token.stat().st_mode & 0o777 == 0o600
    assert f'url = "{server.url}"' in (a.lore_home / "config.toml").read_text()

    a.write_session(native_id("acc"), lines("acc", 2))
    a.json("import")
    assert a.json("cloud", "push")["pushed"] == 1
    key = a.lore_home / "key.json"
    assert key.stat().st_mode & 0o777 == 0o600
    assert a.passphrase and a.passphrase.encode() not in key.read_bytes()

    text = a.run("cloud", "status").stdout
    assert text.startswith("Cloud Sync\nAccount:\n  Email: dev@example.com\n  Plan: pro\n")
    assert "  Sessions: 1\n" in text and "  Next auto-sync: Not scheduled\n" in text

    new = "a new passphrase 2"
    doc = a.json("passphrase", "change", LORE_NEW_PASSPHRASE=new)
    assert len(doc["key_id"]) == 32

    b = LorectlMachine(tmp_path, "b", server_url=server.url)
    b.login(EMAIL)
    out = b.run("pull", check=False)  # the old passphrase no longer opens the envelope
    assert out.returncode == 1 and "passphrase" in out.stderr.lower()
    assert b.json("unlock", LORE_PASSPHRASE=new)["key_id"] == doc["key_id"]
    assert b.json("pull")["pulled"] == 1

    out = a.run("logout")
    assert "Logged out. Local sessions are kept." in out.stdout
    assert not token.exists() and not key.exists()
    assert len(a.sessions()) == 1
    out = a.run("push", check=False)
    assert out.returncode == 1 and "hint: run `lorectl login" in out.stderr


def test_plain_http_to_remote_host_is_a_usage_error(tmp_path: Path) -> None:
    a = LorectlMachine(tmp_path, "a")
    out = a.run("login", "--server", "http://lore.example.com", "--email", EMAIL,
                check=False)
    assert out.returncode == 2
    assert "plain http://" in out.stderr and "--insecure-http" in out.stderr
