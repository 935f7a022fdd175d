"""Helpers shared by lorectl commands: error reporting, JSON output, secrets, asyncio."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import click

from lored.errors import LoreError, SecretRequired, UsageError

P = ParamSpec("P")
T = TypeVar("T")


def fail(err: LoreError) -> None:
    """Print `error: …` and `hint: …` to stderr and exit with the error's code."""
    click.echo(f"error: {err.message}", err=True)
    if err.fix:
        click.echo(f"hint: {err.fix}", err=True)
    sys.exit(err.exit_code)


def handle_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Decorator for click commands: LoreError → message + hint + exit code; ^C → 130."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except LoreError as err:
            fail(err)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:
            from lored.api import corrupt_store_error

            found = corrupt_store_error(exc)  # a damaged sessions.db found mid-command
            if found is None:
                raise
            fail(found)
        raise AssertionError("unreachable")

    return wrapper


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion in a fresh event loop."""
    import asyncio  # lazy: `lorectl status` through the daemon never needs an event loop

    async def _main() -> T:
        return await coro

    return asyncio.run(_main())


def emit_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def ask_secret(env_var: str, prompt: str, *, confirm: str | None = None, min_len: int = 0) -> str:
    """A secret from ``env_var``, else from the terminal; never echoed, never logged.

    Without a TTY and without the variable this raises SecretRequired naming the variable.
    """
    value = os.environ.get(env_var)
    if value:
        if len(value) < min_len:
            raise UsageError(f"{env_var} must be at least {min_len} characters")
        return value
    if not sys.stdin.isatty():
        raise SecretRequired(
            f"{prompt.rstrip(': ')} is required but there is no terminal to ask",
            hint=f"set {env_var} for non-interactive use",
        )
    while True:
        value = click.prompt(prompt.rstrip(": "), hide_input=True, prompt_suffix=": ", err=True)
        if len(value) < min_len:
            click.echo(f"must be at least {min_len} characters", err=True)
            continue
        if confirm is not None:
            again = click.prompt(
                confirm.rstrip(": "), hide_input=True, prompt_suffix=": ", err=True
            )
            if again != value:
                click.echo("the two entries do not match; try again", err=True)
                continue
        return value


def read_stdin_secret() -> str:
    """One line from stdin (for --password-stdin), without the newline."""
    line = sys.stdin.readline()
    if not line:
        raise UsageError("--password-stdin given but stdin is empty")
    return line.rstrip("\r\n")
