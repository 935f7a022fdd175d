"""``lorectl doctor``: check each part of this machine's Lore, and repair a damaged store.

Every check works without opening the facade, because the facade is what fails when the
store or the configuration is broken: the checks read files with the standard library
only. Each returns ``{"check","status","detail","fix"}`` with status ``ok``, ``warn``
(works, but something is off) or ``fail``. :func:`repair_store` moves a damaged
sessions.db aside (nothing is deleted) and rebuilds the archive: a capture pass over
the tools' files, then a pull of every other machine's sessions when this machine is
logged in and holds the key.
"""

from __future__ import annotations

import sqlite3
import urllib.error
import urllib.request
from typing import Any

from lored.config import Settings, load_settings
from lored.errors import LoreError

Check = dict[str, Any]


def _check(name: str, status: str, detail: str, fix: str | None = None) -> Check:
    return {"check": name, "status": status, "detail": detail, "fix": fix}


def check_config() -> tuple[Settings | None, Check]:
    """The settings (None when config.toml or a LORE_* variable is invalid) and the check."""
    try:
        settings = load_settings()
    except LoreError as err:
        return None, _check("config", "fail", err.message, err.hint)
    return settings, _check("config", "ok", f"{settings.paths.config_file}")


def check_store(settings: Settings) -> Check:
    """sessions.db opens and passes SQLite's quick_check."""
    from lored.store.health import check_file

    path = settings.paths.db_file
    if not path.exists():
        return _check("store", "warn", f"{path} does not exist yet",
                      "run `lorectl import` to capture this machine's sessions")
    problem = check_file(path)
    if problem is not None:
        return _check("store", "fail", f"{path} is damaged ({problem})",
                      "run `lorectl doctor --repair`")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        (count,) = conn.execute("SELECT count(*) FROM sessions").fetchone()
    except sqlite3.Error:
        count = 0
    finally:
        conn.close()
    return _check("store", "ok", f"{path}: {count} session(s)")


def check_login_and_key(settings: Settings) -> list[Check]:
    """The token file, the cached key (and that it belongs to the logged-in account)."""
    from lored.crypto.keycache import load_key
    from lored.sync.credentials import load_credentials

    try:
        creds = load_credentials(settings.paths)
    except LoreError as err:
        return [_check("login", "fail", err.message, "run `lorectl login` again")]
    if creds is None:
        return [_check("login", "warn", "not logged in to Lore Cloud (local capture only)",
                       "run `lorectl login --server URL` to sync with your other machines")]
    checks = [_check("login", "ok", f"{creds.email} on {creds.server_url}")]
    try:
        key = load_key(settings.paths.key_file)
    except LoreError as err:
        return [*checks, _check("key", "fail", err.message, "run `lorectl unlock`")]
    if key is None:
        checks.append(_check("key", "warn", "no encryption key on this machine yet",
                             "run `lorectl push` (first machine) or `lorectl unlock`"))
    elif key.account_id != creds.account_id:
        checks.append(_check("key", "fail", "the cached key belongs to another account",
                             "run `lorectl unlock`"))
    else:
        checks.append(_check("key", "ok", f"key {key.key_id[:8]}… (mode 0600)"))
    checks.append(check_server(creds.server_url))
    return checks


def check_server(url: str, timeout: float = 5.0) -> Check:
    """Lore Cloud answers its health check (``GET /healthz``)."""
    if not url.startswith(("http://", "https://")):
        return _check("server", "fail", f"the server URL {url!r} is not http(s)",
                      "run `lorectl login --server https://…` again")
    try:
        # S310: the scheme is checked just above (http/https only)
        with urllib.request.urlopen(f"{url.rstrip('/')}/healthz",  # noqa: S310
                                    timeout=timeout) as resp:
            ok = resp.status == 200
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return _check("server", "fail", f"cannot reach Lore Cloud at {url} ({reason})",
                      "check the network and the server URL (`lorectl config show`)")
    if not ok:
        return _check("server", "fail", f"Lore Cloud at {url} is not healthy",
                      "try again later, or ask the server's operator")
    return _check("server", "ok", f"{url} answers")


async def repair_store(settings: Settings) -> dict[str, Any]:
    """Move a damaged sessions.db aside and rebuild it: capture, then pull when possible.

    Returns ``{"moved_to","imported","pulled","pull_error"}``; a healthy store is left
    alone (``moved_to`` None) and only re-captured.
    """
    from lored.api.facade import Lore
    from lored.store.health import check_file, move_aside

    path = settings.paths.db_file
    moved = str(move_aside(path)) if path.exists() and check_file(path) else None
    lore = await Lore.open(settings)
    try:
        report = await lore.import_all()
        pulled, pull_error = 0, None
        if lore.credentials is not None and lore.encryption_configured():
            try:
                result = await lore.pull(all=True)
                pulled = int(result.get("pulled") or 0)
            except LoreError as err:
                pull_error = err.message
    finally:
        await lore.close()
    return {"moved_to": moved, "imported": report["imported"] + report["updated"],
            "pulled": pulled, "pull_error": pull_error}
