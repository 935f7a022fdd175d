"""The core of the ``Lore`` facade: store, remote, engine, capture, sync, login, status.

:class:`lored.api.facade.Lore` extends it with the archive and account operations.
It owns the store, the (lazy) Lore Cloud remote, the worker pool and the sync engine.
Heavy modules (crypto, aiohttp, the engine) are imported on first use so ``lorectl
status`` stays light. Errors are LoreErrors; only lorectl turns them into exit codes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Self

from lored.config import Settings, update_config
from lored.errors import CorruptData, CorruptStore, LoreError, NotLoggedIn
from lored.secrets.policy import Policy
from lored.store import Store, utcnow
from lored.sync.credentials import load_credentials
from lored.sync.keys import SecretKind, SecretProvider, no_secrets
from lored.sync.remote import Credentials, Remote

if TYPE_CHECKING:
    from lored.sync.engine import SyncEngine

ProgressFn = Callable[[dict[str, Any]], None]
__all__ = ["LoreCore", "ProgressFn", "SecretKind", "SecretProvider"]

#: kv key: ids of own sessions the last push skipped as larger than the plan allows
SKIPPED_TOO_LARGE = "push_skipped_too_large"
#: a status call must answer promptly even when the server hangs
_STATUS_TIMEOUT_S = 8.0


class LoreCore:
    """One machine's Lore: capture store + Lore Cloud sync. Open with :meth:`open`."""

    def __init__(self, settings: Settings, store: Store, secrets: SecretProvider,
                 remote: Remote | None) -> None:
        self.settings = settings
        self.store = store
        self._secrets = secrets
        self._injected = remote
        self._remote: Remote | None = remote
        self._engine: SyncEngine | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._creds = load_creds_or_none(settings)
        store.parse_pending = self._parse_pending  # readers of messages wait for a pull's

    async def _parse_pending(self, only: Sequence[str] | None) -> int:
        from lored.capture.deferred import parse_pending

        return await parse_pending(self.store, only=only)

    @classmethod
    async def open(cls, settings: Settings, *, secrets: SecretProvider | None = None,
                   remote: Remote | None = None) -> Self:
        """Open the store; ``remote`` replaces HttpRemote (tests, in-process server)."""
        store = await Store.open(settings.paths.db_file)
        return cls(settings, store, secrets or no_secrets, remote)

    async def close(self) -> None:
        """Close the remote (if created here), the store and the worker pool."""
        if self._remote is not None and self._remote is not self._injected:
            await self._remote.close()
        self._remote = None
        await self.store.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # --- identity ---------------------------------------------------------------------
    @property
    def credentials(self) -> Credentials | None:
        """This machine's Lore Cloud login, if any."""
        return self._creds

    def encryption_configured(self) -> bool:
        """True when this machine holds a (readable) data key for its account."""
        return self._key_id() is not None

    def _get_remote(self) -> Remote:
        if self._remote is None:
            if self._creds is None:
                raise NotLoggedIn()
            from lored.sync.http import HttpRemote

            self._remote = HttpRemote.from_credentials(
                self._creds, insecure_http=self.settings.insecure_http)
        return self._remote

    def engine(self) -> SyncEngine:
        """The sync engine of the logged-in account (NotLoggedIn before login)."""
        if self._creds is None:
            raise NotLoggedIn()
        if self._engine is None:
            from lored.sync.engine import SyncEngine

            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2),
                                                thread_name_prefix="lore-crypto")
            self._engine = SyncEngine(
                self.store, self._get_remote(), account_id=self._creds.account_id,
                machine_id=self.settings.machine_id, key_file=self.settings.paths.key_file,
                secrets=self._secrets, pool=self._pool,
                privacy_minimal=self.settings.privacy_metadata == "minimal",
                redaction=self.redaction_policy())
        return self._engine

    def redaction_policy(self) -> Policy:
        """``[privacy] redact`` / ``redact_allow`` as the secrets room's rules."""
        from lored.capture.redaction import policy_of

        return policy_of(self.settings)

    # --- capture ----------------------------------------------------------------------
    async def import_all(self, tool: str | None = None, *,
                         only: Collection[str] | None = None,
                         progress: ProgressFn | None = None,
                         defer_messages: bool = False) -> dict[str, Any]:
        """One capture pass (CLI.md import JSON); ``only`` limits it to these files;
        ``progress`` gets ``{"event": "import", "tool", "done", "total"}``.

        ``defer_messages``: leave the message rows of JSONL sessions to the deferred
        parse (``lorectl import``: the sessions are listed and pushable at once; search
        and ``sessions show`` build what they need, lored does the rest in the background).
        """
        from lored.capture.importer import import_all

        report = await import_all(self.store, self.settings, tool=tool, only=only,
                                  progress=progress, defer_messages=defer_messages)
        doc: dict[str, Any] = report.to_json()
        doc["changed"] = list(report.changed)
        if report.bad_records:  # only when some were skipped (CLI.md: more keys may come)
            doc["bad_records"] = report.bad_records
        return doc

    async def catch_up_index(self, *, background: bool = False) -> tuple[int, int]:
        """The deferred work: parse pulled sessions, then index new messages for search.

        Returns (sessions parsed, messages indexed). The daemon runs it in the background
        after each cycle and at start-up (``background``: a large backlog goes to a child
        process, :mod:`lored.capture.backlog`); ``search`` waits for it.
        """
        from lored.capture.deferred import catch_up

        if background:
            from lored.capture.backlog import CHILD_MIN_SESSIONS, catch_up_in_child

            if await self.store.unparsed_count() >= CHILD_MIN_SESSIONS:
                # a big backlog (a first pull) in a child process: the daemon's own memory
                # stays small (P6). BacklogFailed: the caller may do it in-process instead
                return await catch_up_in_child(self.store.path)
        return await catch_up(self.store)

    # --- sync -------------------------------------------------------------------------
    async def push(self, *, dry_run: bool = False, progress: ProgressFn | None = None
                   ) -> dict[str, Any]:
        """Upload new and changed sessions (CLI.md push JSON)."""
        result = await self.engine().push(dry_run_only=dry_run, progress=progress)
        if not dry_run:
            await self._record_skipped(result)
            await self.store.kv_set("last_sync_at", utcnow())
        return result

    async def _record_skipped(self, push: dict[str, Any]) -> None:
        """Remember sessions too large for the plan: status counts them apart from pending."""
        import json

        ids = sorted(str(s.get("session_id")) for s in push.get("skipped") or []
                     if s.get("reason") == "too_large")
        await self.store.kv_set(SKIPPED_TOO_LARGE, json.dumps(ids))

    async def _skipped_too_large(self) -> int:
        """How many of the sessions the last push found too large are still pending."""
        import json

        raw = await self.store.kv_get(SKIPPED_TOO_LARGE)
        ids = set(json.loads(raw)) if raw else set()
        if not ids:
            return 0
        return len(ids & {c.session_id for c in await self.store.push_candidates()})

    async def pull(self, *, all: bool = False, progress: ProgressFn | None = None
                   ) -> dict[str, Any]:
        """Download other machines' sessions (CLI.md pull JSON)."""
        result, _ = await self.engine().pull(all=all, progress=progress)
        await self.store.kv_set("last_sync_at", utcnow())
        await self._auto_restore(result)
        return result

    async def _auto_restore(self, pull: dict[str, Any]) -> None:
        """``[restore] auto = true``: put freshly pulled sessions of projects that map to a
        checkout here where their tools look, so the tools' own pickers show them."""
        from lored.restore.place import auto_enabled, restore_pulled

        if not auto_enabled(self.settings) or not pull.get("sessions"):
            return
        done, skipped = await restore_pulled(self.store, self.settings,
                                             list(pull["sessions"]))
        # reported in the pull's result (the daemon's cycle line counts them); never logs
        # from here: one-shot lorectl prints JSON on stdout
        pull["restored"] = [r.to_json() for r in done]
        pull["restore_skipped"] = [{"session_id": k, "message": v} for k, v in skipped.items()]

    async def sync(self, *, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Pull, then push: ``{"pull": …, "push": …}``."""
        result = await self.engine().sync(progress=progress)
        await self._record_skipped(result.get("push") or {})
        await self._auto_restore(result.get("pull") or {})
        await self.store.kv_set("last_sync_at", utcnow())
        return result

    # --- account ----------------------------------------------------------------------
    async def login(self, server_url: str, email: str, password: str, *,
                    insecure_http: bool = False, register: bool = False,
                    machine_name: str | None = None) -> dict[str, Any]:
        """Log this machine in (optionally registering first); stores the token (0600).

        ``machine_name`` renames this machine first (kept in config.toml). The answer
        says how many other machines of the account share its name (``same_name``).
        """
        from lored.crypto.keycache import delete_key, load_key
        from lored.sync.credentials import save_credentials
        from lored.sync.http import HttpRemote, check_url

        remote: Remote
        if self._injected is not None:
            remote = self._injected
        else:
            url = check_url(server_url, insecure_http=insecure_http)
            remote = HttpRemote(url, insecure_http=insecure_http)
        if machine_name is not None:
            self._set_machine_name(machine_name)
        try:
            if register:
                await remote.register(email, password)
            creds = await remote.login(email, password, self.settings.machine_id,
                                       self.settings.machine_name)
        except BaseException:
            if remote is not self._injected:
                await remote.close()
            raise
        save_credentials(self.settings.paths, creds)
        update_config(self.settings.paths,
                      {"server": {"url": creds.server_url, "insecure_http": insecure_http}})
        self.settings.server_url, self.settings.insecure_http = creds.server_url, insecure_http
        try:
            key = load_key(self.settings.paths.key_file)
        except CorruptData:
            key = None
        if key is None or key.account_id != creds.account_id:
            delete_key(self.settings.paths.key_file)  # a key of another account is useless
        if self._remote is not None and self._remote is not self._injected:
            await self._remote.close()
        self._remote, self._engine, self._creds = remote, None, creds
        answer = getattr(remote, "login_answer", None) or {}
        return {"email": creds.email, "account_id": creds.account_id,
                "server": creds.server_url, "machine_id": self.settings.machine_id,
                "machine_name": self.settings.machine_name, "registered": register,
                "same_name": int(answer.get("same_name") or 0)}

    def _set_machine_name(self, name: str) -> str:
        """Check and keep a new machine name in config.toml (1..64 printable characters)."""
        cleaned = " ".join("".join(ch for ch in name if ch.isprintable()).split())
        if not cleaned or len(cleaned) > 64:
            from lored.errors import UsageError

            raise UsageError(f"{name!r} is not a usable machine name",
                             hint="give 1 to 64 printable characters, e.g. laptop or vm-build-2")
        update_config(self.settings.paths, {"machine_name": cleaned})
        self.settings.machine_name = cleaned
        return cleaned

    async def rename_machine(self, name: str) -> dict[str, Any]:
        """Rename this machine here and, when logged in, on Lore Cloud -> ``{id, name,
        server}`` (``server`` false when not logged in: the next login sends it)."""
        cleaned = self._set_machine_name(name)
        if self._creds is None:
            return {"id": self.settings.machine_id, "name": cleaned, "server": False}
        doc = await self._get_remote().rename_machine(cleaned)
        return {"id": self.settings.machine_id, "name": str(doc.get("name") or cleaned),
                "server": True}

    async def logout(self) -> dict[str, Any]:
        """Revoke the token if the server answers; delete token and cached key (sessions stay)."""
        from lored.crypto.keycache import delete_key
        from lored.sync.credentials import delete_credentials

        revoked, why = False, None
        if self._creds is not None:
            try:
                await self._get_remote().logout()
                revoked = True
            except LoreError as err:
                why = err.message
        was_in = delete_credentials(self.settings.paths)
        delete_key(self.settings.paths.key_file)
        self._creds, self._engine = None, None
        return {"logged_out": was_in, "revoked": revoked, "revoke_error": why}

    async def unlock(self) -> dict[str, Any]:
        """Ask for the passphrase and replace the cached key."""
        key = await self.engine().keys.unlock()
        return {"key_id": key.key_id, "account_id": key.account_id}

    async def change_passphrase(self, current: str, new: str) -> dict[str, Any]:
        """Re-wrap the data key under a new passphrase (no data re-encrypted)."""
        return await self.engine().keys.change_passphrase(current, new)

    # --- status -----------------------------------------------------------------------
    async def status(self, *, daemon: dict[str, Any] | None = None) -> dict[str, Any]:
        """CLI.md's status document; the cloud part degrades to an error when unreachable."""
        total, pending = await self.store.counts()
        backlog = await self.store.index_backlog()
        too_large = await self._skipped_too_large()
        times = [await self.store.kv_get(k) for k in ("last_sync_at", "last_push_at",
                                                       "last_pull_at")]
        key_id = self._key_id()
        daemon = daemon or {}
        running = bool(daemon.get("running"))
        doc: dict[str, Any] = {
            "machine": {"id": self.settings.machine_id, "name": self.settings.machine_name},
            "account": None,
            "cloud": None,
            "local": {
                "total_sessions": total,
                "pending_sync": max(0, pending - too_large),
                "skipped_too_large": too_large,
                # sessions whose messages or search index are still being built
                "index_pending": backlog,
                "last_sync": max((t for t in times if t), default=None),
                "next_auto_sync": (daemon.get("next_auto_sync")
                                   if running and key_id is not None else None),
            },
            "daemon": {"running": running, "paused": bool(daemon.get("paused", False))},
            "encryption": {"configured": key_id is not None, "key_id": key_id},
            "server": self._creds.server_url if self._creds else self.settings.server_url,
            "logged_in": self._creds is not None,
            "cloud_error": None,
        }
        if self._creds is None:
            return doc
        doc["account"] = {"email": self._creds.email, "plan": None}
        try:
            acct = await asyncio.wait_for(self.cloud_account(), _STATUS_TIMEOUT_S)
        except (LoreError, TimeoutError) as err:
            if isinstance(err, TimeoutError):
                err = LoreError(f"Lore Cloud at {self._creds.server_url} did not answer in time")
            doc["cloud_error"] = err.to_json()
            return doc
        raw_usage = acct.get("usage")
        usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
        doc["account"] = {"email": acct.get("email") or self._creds.email,
                          "plan": acct.get("plan")}
        doc["cloud"] = {"sessions": usage.get("sessions"),
                        "storage_bytes": usage.get("storage_bytes"),
                        "last_sync": acct.get("last_sync")}
        doc["limits"] = acct.get("limits")
        return doc

    def _key_id(self) -> str | None:
        from lored.crypto.keycache import load_key

        try:
            key = load_key(self.settings.paths.key_file)
        except CorruptData:
            return None
        if key is None or (self._creds is not None and key.account_id != self._creds.account_id):
            return None
        return key.key_id

    async def cloud_account(self) -> dict[str, Any]:
        """The AccountDoc from Lore Cloud (NotLoggedIn before login)."""
        return await self._get_remote().account()


def load_creds_or_none(settings: Settings) -> Credentials | None:
    try:
        return load_credentials(settings.paths)
    except NotLoggedIn:
        return None


def corrupt_store_error(exc: BaseException) -> CorruptStore | None:
    """The one-sentence error for SQLite finding sessions.db damaged mid-operation, else None."""
    from lored.store.health import is_corruption

    return CorruptStore("sessions.db is damaged (" + str(exc) + ")") if is_corruption(exc) else None
