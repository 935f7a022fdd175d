"""Human formatting helpers shared by lorectl commands."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from lorectl import render

NOW = datetime(2025, 6, 14, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(hours=-3), "3 hours ago"),
    (timedelta(hours=-3, minutes=-20), "3 hours ago"),
    (timedelta(minutes=-1), "1 minute ago"),
    (timedelta(seconds=-45), "45 seconds ago"),
    (timedelta(days=-2, hours=-5), "2 days ago"),
    (timedelta(hours=2, minutes=15), "in 2 hours 15 minutes"),
    (timedelta(hours=2, seconds=30), "in 2 hours"),
    (timedelta(minutes=5), "in 5 minutes"),
    (timedelta(days=1, hours=1), "in 1 day 1 hour"),
    (timedelta(0), "just now"),
])
def test_human_time(delta: timedelta, text: str) -> None:
    assert render.human_time(NOW + delta, now=NOW) == text


def test_human_time_accepts_iso_strings_and_missing() -> None:
    assert render.human_time("2025-06-14T09:00:00Z", now=NOW) == "3 hours ago"
    assert render.human_time("2025-06-14T14:15:00+00:00", now=NOW) == "in 2 hours 15 minutes"
    assert render.human_time(None, now=NOW) == "never"
    assert render.human_time("garbage", now=NOW, never="Not scheduled") == "Not scheduled"


@pytest.mark.parametrize(("n", "text"), [
    (0, "0 B"), (999, "999 B"), (1000, "1 KB"), (1234, "1.2 KB"), (1_200_000, "1.2 MB"),
    (8_000_000, "8 MB"), (12_400_000, "12.4 MB"), (999_999, "1 MB"), (3 * 10**12, "3 TB"),
    (None, "-"),
])
def test_human_size(n: int | None, text: str) -> None:
    assert render.human_size(n) == text


def test_plain_table_aligns_columns() -> None:
    out = io.StringIO()
    render.table(["ID", "TOOL"], [["a", "claude-code"], ["bbbb", None]], stream=out)
    assert out.getvalue() == "ID    TOOL\na     claude-code\nbbbb\n"


def test_color_only_on_tty_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert render.use_color(Tty()) and not render.use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not render.use_color(Tty())
    out = Tty()
    render.table(["A"], [["x"]], stream=out)  # rich on a TTY, but no escape codes
    assert "x" in out.getvalue() and "\x1b[" not in out.getvalue()


def test_truncate_local_time_key_values() -> None:
    assert render.truncate("a\nb   c", 10) == "a b c"
    assert render.truncate("abcdefghijk", 5) == "abcd…"
    assert render.local_time(None) == "-"
    assert render.key_values([("Plan", "pro"), ("Email", None)], indent=2) == (
        "  Plan: pro\n  Email: -\n"
    )


def test_fit_rows_cuts_only_the_flex_columns_last_listed_first() -> None:
    rows = [["3f2b9c1e", "claude-code", "a-rather-long-project-name", "T" * 60]]
    cols = ["ID", "TOOL", "PROJECT", "TITLE"]
    [row] = render.fit_rows(cols, rows, 80, flex=[3, 2])
    assert row[:2] == rows[0][:2]
    assert len("  ".join(row)) <= 80 and row[2] == "a-rath…" and row[3].endswith("…")
    [wide] = render.fit_rows(cols, rows, 200, flex=[3, 2])
    assert wide == rows[0]


def test_short_time_is_ls_style() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 3, tzinfo=UTC)
    assert render.short_time("2024-06-14T09:12:03Z", now) == "2024-06-14"
    assert render.short_time(None, now) == "-"
    assert len(render.short_time("2026-06-14T09:12:03Z", now)) == 12


def test_pager_command_order_and_off_switches() -> None:
    from lorectl.pager import pager_command

    assert pager_command({}) == ["less", "-FRX"]
    assert pager_command({"PAGER": "more"}) == ["more"]
    assert pager_command({"PAGER": "more", "LORE_PAGER": "most -s"}) == ["most", "-s"]
    assert pager_command({"LORE_PAGER": ""}) is None
    assert pager_command({"PAGER": "cat"}) is None
    assert pager_command({"LORE_PAGER": "'unterminated"}) is None
