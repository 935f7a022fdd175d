"""A pager for long listings on a terminal (`sessions list`, `sessions show`, `search`).

Like git: only when stdout is a TTY (never for ``--json`` or a pipe), the command is
``LORE_PAGER``, else ``PAGER``, else ``less -FRX`` (``-F`` quits at once when the text
fits, ``-R`` keeps colours, ``-X`` leaves it on the screen); an empty value or ``cat``
turns paging off. The command's output is collected while it runs (tables rendered for
the terminal's width and colours), then shown directly when it fits on the screen, or
piped to the pager. A pager that cannot be started prints the text directly; quitting
the pager early is not an error; Ctrl-C goes to the pager (as with git), not to us.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping

DEFAULT_PAGER = "less -FRX"


class ScreenBuffer(io.StringIO):
    """Collects output meant for the terminal: says it is a TTY and how wide it is."""

    def __init__(self, columns: int) -> None:
        super().__init__()
        self.columns = columns

    def isatty(self) -> bool:
        """Output is rendered as for the terminal it will reach."""
        return True


def pager_command(env: Mapping[str, str]) -> list[str] | None:
    """The pager's argv from ``LORE_PAGER`` / ``PAGER`` / the default; None: no paging."""
    for name in ("LORE_PAGER", "PAGER"):
        if name in env:
            value = env[name].strip()
            break
    else:
        value = DEFAULT_PAGER
    try:
        argv = shlex.split(value)
    except ValueError:
        return None
    return None if not argv or argv == ["cat"] else argv


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _fits(text: str, size: os.terminal_size) -> bool:
    lines = _ANSI.sub("", text).splitlines()
    return len(lines) < size.lines and all(len(line) <= size.columns for line in lines)


@contextlib.contextmanager
def paged(enabled: bool = True) -> Iterator[None]:
    """Page what the block writes to stdout, when ``enabled`` and stdout is a terminal."""
    out = sys.stdout
    argv = pager_command(os.environ) if enabled and _isatty(out) else None
    if argv is None:
        yield
        return
    size = shutil.get_terminal_size((80, 24))
    buf = ScreenBuffer(size.columns)
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        show(buf.getvalue(), argv, size, out)


def show(text: str, argv: list[str], size: os.terminal_size, out: io.TextIOBase | object
         ) -> None:
    """``text`` on ``out``, through the pager ``argv`` when it does not fit the screen."""
    write = getattr(out, "write")  # noqa: B009 - any text stream
    if not text:
        return
    if _fits(text, size):
        write(text)
        return
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, env=env, text=True,
                                encoding="utf-8", errors="replace")
    except OSError:  # no such pager: the text, unpaged
        write(text)
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the pager's
    try:
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # the user quit the pager early
            proc.stdin.write(text)
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        proc.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def _isatty(stream: object) -> bool:
    try:
        return bool(getattr(stream, "isatty")())  # noqa: B009
    except (AttributeError, ValueError):
        return False
