"""The sync engine: push, pull and sync over a :class:`~lored.sync.remote.Remote`.

It never sleeps or loops on time (the daemon's scheduler decides *when*); it is called,
does one pass, and returns CLI.md's result documents. Every pass that transfers data
checks the cached key against the server's envelope first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lored.crypto.keycache import CachedKey
from lored.secrets.policy import Policy
from lored.sync.context import ProgressFn, RunContext
from lored.sync.keys import KeyManager, SecretProvider
from lored.sync.plan import Limits
from lored.sync.pull import NoKey, Puller, PullReport, StateForgotten
from lored.sync.push import Pusher, PushReport, dry_run
from lored.sync.remote import Remote
from lored.sync.reset import adopt_key

if TYPE_CHECKING:
    from lored.store import Store

#: kv key: fingerprint of the redaction rules the pushed sessions were made with
REDACTION_RULES = "redaction_rules"


class SyncEngine:
    """One account's sync on this machine."""

    def __init__(
        self,
        store: Store,
        remote: Remote,
        *,
        account_id: str,
        machine_id: str,
        key_file: Path,
        secrets: SecretProvider,
        pool: ThreadPoolExecutor,
        privacy_minimal: bool = False,
        redaction: Policy | None = None,
    ) -> None:
        self.store = store
        self.remote = remote
        self.account_id = account_id
        self.machine_id = machine_id
        self.keys = KeyManager(key_file, remote, account_id, secrets)
        self._pool = pool
        self._minimal = privacy_minimal
        self.redaction = redaction or Policy()
        self._limits: Limits | None = None
        self._forgot = False  # sync state was just forgotten (another key): re-list

    def _ctx(self, key: CachedKey | None, progress: ProgressFn | None) -> RunContext:
        return RunContext(self.store, self.remote, key, self.account_id, self.machine_id,
                          self._pool, progress, self._minimal, self.redaction)

    async def limits(self, *, refresh: bool = False) -> Limits:
        """The account's limits (fetched once per engine unless ``refresh``)."""
        if self._limits is None or refresh:
            self._limits = Limits.from_account(await self.remote.account())
        return self._limits

    async def push(self, *, dry_run_only: bool = False, progress: ProgressFn | None = None,
                   key: CachedKey | None = None) -> dict[str, Any]:
        """Upload new and changed own sessions; the first push sets up encryption."""
        rules = self.redaction.fingerprint()
        if not dry_run_only and await self.store.kv_get(REDACTION_RULES) != rules:
            # redaction turned on/off or the allow-list changed: every pushed session is
            # re-planned once; only those whose outgoing bytes change get a new generation
            await self.store.mark_own_dirty()
        candidates = await self.store.push_candidates()
        if not candidates:
            if not dry_run_only and key is None:
                # "Nothing to push" is a claim about Lore Cloud, so it needs an answer from
                # it (the key check, one request): with the server down the push fails
                # instead. The first push also sets up encryption here even when there is
                # nothing to upload yet, so the daemon (which never prompts) can schedule.
                key = await self._require(setup=True)
                candidates = await self.store.push_candidates()  # a new key re-sends all
            if not candidates:
                if not dry_run_only:
                    await self.store.kv_set(REDACTION_RULES, rules)
                return PushReport(dry_run=dry_run_only).to_json()
        if dry_run_only:
            limits = await self.limits()
            return (await dry_run(self.store, candidates, limits, self._cpu)).to_json()
        key = key or await self._require(setup=True)
        assert key is not None  # setup=True always yields a key or raises
        if self._forgot:  # the key changed (account reset): everything goes up again
            self._forgot = False
            candidates = await self.store.push_candidates()
        limits = await self.limits(refresh=True)  # plan/quota may have changed
        report = await Pusher(self._ctx(key, progress), limits).run(candidates)
        await self.store.kv_set(REDACTION_RULES, rules)
        return report.to_json()

    async def pull(self, *, all: bool = False, progress: ProgressFn | None = None
                   ) -> tuple[dict[str, Any], CachedKey | None]:
        """Download other machines' changes since the cursor (``all``: from zero).

        Returns the result and the checked key (so a sync does not check it twice).
        """
        # the key check (on a new machine: the envelope, then ≈ 0.1 s of Argon2id in a
        # thread) runs while the first page of the feed downloads: only opening and
        # storing a session need the key, and the puller waits for it before either
        check = asyncio.ensure_future(self._checked_for_pull())
        limits = self._limits or Limits()
        report = PullReport()
        try:
            report = await Puller(self._ctx(None, progress), limits, key=check).run(
                from_zero=all)
        except (NoKey, StateForgotten):  # decided below, from the check's answer
            pass
        finally:
            if not check.done():  # the run failed first: its error is the one to show
                check.cancel()
            await asyncio.gather(check, return_exceptions=True)
        key, forgot = check.result()  # a key error the run never waited for raises here
        if key is None:  # no envelope on the server: nothing there can be opened
            return PullReport().to_json(), None
        if forgot:  # sync state of another key was forgotten after the run read it: again
            report = await Puller(self._ctx(key, progress), limits).run(from_zero=all)
        return report.to_json(), key

    async def sync(self, *, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Pull, then push."""
        pulled, key = await self.pull(progress=progress)
        pushed = await self.push(progress=progress, key=key)
        return {"pull": pulled, "push": pushed}

    async def _checked_for_pull(self) -> tuple[CachedKey | None, bool]:
        """The pull's key check: (key or None, whether sync state was just forgotten)."""
        was = self._forgot
        self._forgot = False
        key = await self._require(setup=False)
        forgot = self._forgot
        self._forgot = was or forgot
        return key, forgot

    async def _require(self, *, setup: bool) -> CachedKey | None:
        """The checked key; sync state built with another key is forgotten first."""
        key = await self.keys.require(setup=setup)
        if key is not None and await adopt_key(self.store, key.key_id):
            self._forgot = True
        return key

    async def _cpu(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
