"""`lorectl status` layout (CLI.md) and the terminal secret prompts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lorectl.commands.cloud import render_status
from lorectl.runner import terminal_secrets
from lored.errors import SecretRequired, UsageError


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_status_layout_logged_in() -> None:
    doc = {
        "account": {"email": "you@example.com", "plan": "pro"},
        "cloud": {"sessions": 42, "storage_bytes": 1_200_000,
                  "last_sync": _iso(-timedelta(hours=3, minutes=1))},
        "local": {"total_sessions": 56, "pending_sync": 3,
                  "last_sync": _iso(-timedelta(hours=3, minutes=1)),
                  "next_auto_sync": _iso(timedelta(hours=2, minutes=15, seconds=30))},
    }
    assert render_status(doc) == (
        "Cloud Sync\n"
        "Account:\n"
        "  Email: you@example.com\n"
        "  Plan: pro\n"
        "Cloud:\n"
        "  Sessions: 42\n"
        "  Storage: 1.2 MB\n"
        "  Last sync: 3 hours ago\n"
        "Local:\n"
        "  Total sessions: 56\n"
        "  Pending sync: 3\n"
        "  Last sync: 3 hours ago\n"
        "  Next auto-sync: in 2 hours 15 minutes\n"
    )


def test_status_layout_before_login_and_unreachable() -> None:
    local = {"total_sessions": 2, "pending_sync": 2, "last_sync": None, "next_auto_sync": None}
    text = render_status({"account": None, "cloud": None, "local": local})
    assert "Not logged in (run `lorectl login --server URL --email you@example.com`)" in text
    assert "Next auto-sync: Not scheduled" in text and "Last sync: never" in text
    text = render_status({
        "account": {"email": "e@x", "plan": None}, "cloud": None, "local": local,
        "cloud_error": {"message": "cannot reach Lore Cloud at http://127.0.0.1:9", "hint": "h"},
    })
    assert "  Unavailable: cannot reach Lore Cloud at http://127.0.0.1:9\n" in text
    assert "Total sessions: 2" in text


def test_secrets_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORE_PASSPHRASE", "long enough phrase")
    monkeypatch.setenv("LORE_PASSWORD", "pw")
    assert terminal_secrets("new_passphrase") == "long enough phrase"
    assert terminal_secrets("passphrase") == "long enough phrase"
    assert terminal_secrets("password") == "pw"
    monkeypatch.setenv("LORE_PASSPHRASE", "short")
    with pytest.raises(UsageError, match="at least 8"):
        terminal_secrets("new_passphrase")


def test_secrets_without_terminal_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    for kind, var in (("new_passphrase", "LORE_PASSPHRASE"), ("passphrase", "LORE_PASSPHRASE"),
                      ("password", "LORE_PASSWORD")):
        with pytest.raises(SecretRequired) as info:
            terminal_secrets(kind)  # type: ignore[arg-type]
        assert var in (info.value.fix or "")
