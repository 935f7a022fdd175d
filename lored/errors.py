"""Errors of the Lore client: one root, each with a message, a fix-it hint and an exit code.

A subclass's docstring is its default message (borg's pattern). Foreign exceptions are
converted into these only at I/O edges; ``lorectl`` is the only place that turns them
into exit codes and text. Messages never include secrets.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LoreError(Exception):
    """Something went wrong."""

    hint: ClassVar[str | None] = None
    exit_code: ClassVar[int] = 1
    retryable: ClassVar[bool] = False
    code: ClassVar[str] = "error"

    def __init__(self, message: str | None = None, *, hint: str | None = None) -> None:
        self.message = message or (self.__doc__ or "error").strip().splitlines()[0]
        self._hint = hint
        super().__init__(self.message)

    @property
    def fix(self) -> str | None:
        """The hint for this instance (instance hint beats the class default)."""
        return self._hint if self._hint is not None else type(self).hint

    def to_json(self) -> dict[str, Any]:
        """The ``{"code", "message", "hint"}`` form used by the IPC API and ``--json``."""
        return {"code": self.code, "message": self.message, "hint": self.fix}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class UsageError(LoreError):
    """Invalid usage."""

    exit_code = 2
    code = "usage"


class ConfigError(LoreError):
    """The configuration file is invalid."""

    code = "config"
    hint = "edit config.toml (docs/cli.md lists every key)"


class NotLoggedIn(LoreError):
    """This machine is not logged in to Lore Cloud."""

    code = "not_logged_in"
    hint = "run `lorectl login --server URL --email you@example.com`"


class SecretRequired(LoreError):
    """A secret is needed but there is no terminal to ask for it."""

    code = "secret_required"


class WrongPassphrase(LoreError):
    """The passphrase does not open this account's encryption key."""

    code = "wrong_passphrase"
    hint = "try again with the passphrase you chose at the first push (LORE_PASSPHRASE for scripts)"


class WrongKey(LoreError):
    """The cached encryption key does not match this account's key on the server."""

    code = "wrong_key"
    hint = "run `lorectl unlock` to enter the account's passphrase and replace the cached key"


class EncryptionNotConfigured(LoreError):
    """Encryption is not set up on this machine yet."""

    code = "encryption_not_configured"
    hint = "run `lorectl push` (first push sets it up) or `lorectl pull` to unlock"


class ServerUnreachable(LoreError):
    """Lore Cloud cannot be reached."""

    code = "server_unreachable"
    retryable = True
    hint = "check the network and the server URL (`lorectl status`); local sessions are kept"


class ServerError(LoreError):
    """Lore Cloud answered with an error."""

    code = "server_error"
    retryable = True


class AuthError(LoreError):
    """Lore Cloud refused this machine's credentials."""

    code = "auth"
    hint = "run `lorectl login` again"


class MachineRevoked(AuthError):
    """This machine was signed out of Lore Cloud."""

    code = "machine_revoked"
    hint = "run `lorectl login` to sign this machine in again"


class RateLimited(LoreError):
    """Too many attempts; Lore Cloud asks to wait."""

    code = "rate_limited"
    retryable = True
    hint = "wait a minute and try again"

    def __init__(self, message: str | None = None, *, hint: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, hint=hint)
        #: seconds the server asked us to wait (its Retry-After), if it said
        self.retry_after = retry_after


class ServerBusy(ServerError):
    """Lore Cloud is busy and asks to come back later."""

    code = "server_busy"
    hint = "try again in a few minutes (a running lored retries on its own, with backoff)"

    def __init__(self, message: str | None = None, *, hint: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, hint=hint)
        #: seconds the server asked us to wait (its Retry-After), if it said
        self.retry_after = retry_after


class CorruptData(LoreError):
    """Data failed its integrity check."""

    code = "corrupt"


class CorruptStore(LoreError):
    """This machine's sessions.db is damaged and cannot be read."""

    code = "corrupt_store"
    hint = ("run `lorectl doctor --repair`: it moves the damaged file aside and rebuilds "
            "the archive from the tools' files and a pull")

    @classmethod
    def of(cls, path: object, exc: BaseException) -> CorruptStore:
        """The error for ``path`` after SQLite raised ``exc`` (its text says what broke)."""
        return cls(f"{path} is damaged ({exc})")


class DiskFull(LoreError):
    """The disk holding sessions.db is full."""

    code = "disk_full"
    hint = ("free some space on that disk and run the command again: what was written "
            "before is kept whole, the session that failed was not written at all")


class DaemonError(LoreError):
    """The Lore daemon reported an error."""

    code = "daemon"


class AlreadyRunning(LoreError):
    """Another lored is already running for this user."""

    code = "already_running"
    hint = "stop it first (`lorectl service status`), or use the running daemon"
