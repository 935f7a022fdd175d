"""Data printed in tables on a terminal is shown as written: never read as rich markup."""

from __future__ import annotations

import io

from lorectl import render


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_brackets_in_cells_and_titles_survive_on_a_tty() -> None:
    out = _Tty()
    render.table(["SESSION", "SNIPPET"],
                 [["claude-code:[x]", "the [pagination] cursor and [bold]not bold[/bold]"],
                  ["p", "[/] a stray closing tag"]],
                 title="[title] with brackets", stream=out)
    text = out.getvalue()
    assert "[pagination]" in text and "[bold]not bold[/bold]" in text
    assert "claude-code:[x]" in text and "[/] a stray closing tag" in text
    assert "[title] with brackets" in text


def test_plain_output_is_unchanged() -> None:
    out = io.StringIO()
    render.table(["A"], [["[pagination]"]], stream=out)
    assert out.getvalue() == "A\n[pagination]\n"
