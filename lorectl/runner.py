"""Run push / pull / sync / status / import for lorectl: the one place that decides
*where* an operation runs (the daemon over its socket when it answers — hook below —
else in-process through :class:`lored.api.Lore`), and how progress is shown.

Everything heavy is imported inside functions so ``lorectl status`` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from lored.errors import SecretRequired

if TYPE_CHECKING:
    from lored.api import Lore, ProgressFn, SecretKind
    from lored.config import Settings

Mode = Literal["push", "pull", "sync", "status", "import"]
T = TypeVar("T")

SETUP_BANNER = "First sync - set up encryption"
SETUP_TEXT = (
    "Your session content will be encrypted with a passphrase that only you know.\n"
    "The cloud service cannot read your session content.\n"
    "A forgotten passphrase cannot be recovered: after set-up, keep a copy of the key with "
    "`lorectl key export`."
)
PROMPT_NEW = "Enter passphrase:"
PROMPT_CONFIRM = "Confirm passphrase:"
UNLOCK_TEXT = "Enter your encryption passphrase to decrypt sessions:"
PROMPT_UNLOCK = "Passphrase:"
PROMPT_RETRY = "That passphrase does not open this account's key; try again."
PROMPT_PASSWORD = "Password:"


def terminal_secrets(kind: SecretKind) -> str:
    """lorectl's SecretProvider: LORE_PASSPHRASE / LORE_PASSWORD, else ask on the terminal.

    Without either it raises SecretRequired naming the variable (scripts, CI, cron).
    """
    import click

    from lorectl.common import ask_secret
    from lored.api import MIN_PASSPHRASE_LEN
    from lored.errors import SecretRequired

    try:
        at_terminal = not _env("LORE_PASSPHRASE") and sys.stdin.isatty()
        if kind == "new_passphrase":
            if at_terminal:
                click.echo(SETUP_BANNER, err=True)
                click.echo(SETUP_TEXT, err=True)
            return ask_secret("LORE_PASSPHRASE", PROMPT_NEW, confirm=PROMPT_CONFIRM,
                              min_len=MIN_PASSPHRASE_LEN)
        if kind == "passphrase":
            if at_terminal:
                click.echo(UNLOCK_TEXT, err=True)
            return ask_secret("LORE_PASSPHRASE", PROMPT_UNLOCK)
        if kind == "passphrase_retry":
            if not at_terminal:  # the variable's value was wrong: asking again changes nothing
                raise SecretRequired("no second try without a terminal")
            click.echo(PROMPT_RETRY, err=True)
            return ask_secret("LORE_PASSPHRASE", PROMPT_UNLOCK)
        return ask_secret("LORE_PASSWORD", PROMPT_PASSWORD)
    except SecretRequired:
        if kind == "password":
            raise SecretRequired(
                "the account password is needed but there is no terminal to ask for it",
                hint="set LORE_PASSWORD or pass --password-stdin") from None
        what = ("a new encryption passphrase is needed to set up encryption"
                if kind == "new_passphrase"
                else "the encryption passphrase is needed to unlock this account's key")
        raise SecretRequired(f"{what}, but there is no terminal to ask for it",
                             hint="set LORE_PASSPHRASE, or run the command in a terminal"
                             ) from None


def _env(name: str) -> str | None:
    import os

    return os.environ.get(name) or None


def with_lore(settings: Settings, work: Callable[[Lore], Awaitable[T]], *,
              secrets: Callable[[SecretKind], str] | None = None) -> T:
    """Open a Lore in a fresh event loop, run ``work(lore)``, close it."""
    import asyncio

    from lored.api import Lore

    async def main() -> T:
        lore = await Lore.open(settings, secrets=secrets or terminal_secrets)
        try:
            return await work(lore)
        finally:
            await lore.close()

    return asyncio.run(main())


def run_op(settings: Settings, mode: Mode, **opts: Any) -> dict[str, Any]:
    """Run one operation and return its CLI.md JSON document.

    ``opts``: ``dry_run`` (push), ``all`` (pull), ``tool`` (import), ``progress``
    (True/False; default: a rich progress bar when stderr is a terminal),
    ``secrets`` (a SecretProvider; default :func:`terminal_secrets`).
    """
    show = opts.pop("progress", None)
    secrets = opts.pop("secrets", None)
    if show is None:
        show = mode in ("push", "pull", "sync") and stderr_tty()
    with ProgressDisplay(enabled=bool(show)) as bar:
        try:
            answer = _try_daemon(settings, mode, bar.update, **opts)  # daemon hook: below
        except SecretRequired:
            # lored has no terminal to ask for the passphrase (first push, new machine);
            # this process has one (or LORE_PASSPHRASE): run here once, the key it caches
            # serves the daemon from then on
            if not (sys.stdin.isatty() or _env("LORE_PASSPHRASE")):
                raise
            answer = None
        if answer is not None:
            return answer
        return with_lore(settings, lambda lore: _dispatch(lore, mode, bar.update, opts),
                         secrets=bar.guard(secrets or terminal_secrets))


def _try_daemon(settings: Settings, mode: Mode, progress: ProgressFn,
                **opts: Any) -> dict[str, Any] | None:
    """Hook: the daemon's answer when lored runs (added by the daemon work), else None."""
    # --- daemon hook (owner: lored daemon work; lorectl/ipc_client.py) ---------------
    # sync|push|pull|status go to lored when it answers on its socket (progress streamed
    # as NDJSON, joins a running cycle); anything else, or no daemon, runs in-process.
    if mode not in ("sync", "push", "pull", "status"):
        return None
    from lorectl.ipc_client import try_daemon

    return try_daemon(settings.paths.socket_path, mode, progress=progress,
                      dry_run=bool(opts.get("dry_run")), all=bool(opts.get("all")))
    # --- end daemon hook --------------------------------------------------------------


async def _dispatch(lore: Lore, mode: Mode, progress: ProgressFn,
                    opts: dict[str, Any]) -> dict[str, Any]:
    if mode in ("push", "sync"):
        # capture first, as lored does before a cycle: a push (or a dry run) is about
        # what the tools hold now, not what the last import saw
        await lore.import_all()
    if mode == "push":
        return await lore.push(dry_run=bool(opts.get("dry_run")), progress=progress)
    if mode == "pull":
        return await lore.pull(all=bool(opts.get("all")), progress=progress)
    if mode == "sync":
        return await lore.sync(progress=progress)
    if mode == "status":
        return await lore.status(daemon=opts.get("daemon"))
    if mode == "import":
        return await lore.import_all(tool=opts.get("tool"))
    raise ValueError(f"unknown mode {mode!r}")


def stderr_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class ProgressDisplay:
    """A transient rich progress display on stderr fed by the engine's events.

    push: sessions done of total, upload rate and time left; pull: feed entries done of
    the server's total (``remaining``), bytes; import: files of the tool being read.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._started: dict[str, float] = {}

    def __enter__(self) -> ProgressDisplay:
        return self

    def _start(self) -> None:
        # started on the first event, not on entry: secret prompts come before any
        # transfer, and a live display redrawing the line would garble them
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        from lorectl.render import console

        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(), console=console(sys.stderr), transient=True)
        self._progress.start()

    def __exit__(self, *exc: object) -> None:
        self.pause()

    def pause(self) -> None:
        """Take the display off the terminal (before a prompt); the next event restarts it."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._tasks.clear()

    def guard(self, secrets: Callable[[SecretKind], str]) -> Callable[[SecretKind], str]:
        """``secrets`` wrapped so that the display pauses while a prompt is shown."""
        def ask(kind: SecretKind) -> str:
            self.pause()
            return secrets(kind)

        return ask

    def update(self, event: dict[str, Any]) -> None:
        """Show one engine event (``{"event": "push"|"pull"|"import", "done", "total"?,
        "bytes"?, "tool"?}``)."""
        import time

        name = str(event.get("event"))
        if not self.enabled or name not in ("push", "pull", "import"):
            return
        if self._progress is None:
            self._start()
        from lorectl.render import human_size

        key = f"import:{event.get('tool')}" if name == "import" else name
        started = self._started.setdefault(key, time.monotonic())
        done, total = int(event.get("done") or 0), event.get("total")
        if name == "import":
            description, rate = f"Reading {event.get('tool')}", ""
        else:
            sent = int(event.get("bytes") or 0)
            label = "Uploading" if name == "push" else "Downloading"
            description = f"{label} {human_size(sent)}"
            took = time.monotonic() - started
            rate = f"{human_size(sent / took)}/s" if took > 0.2 and sent else ""
        task = self._tasks.get(key)
        if task is None:
            task = self._tasks[key] = self._progress.add_task(
                description, total=int(total) if total else None, completed=done, rate=rate)
        self._progress.update(task, completed=done, total=int(total) if total else None,
                              description=description, rate=rate)
