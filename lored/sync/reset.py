"""Account reset: erasing the cloud copy, and noticing on other machines that it happened.

``lorectl cloud reset`` erases every session and the key envelope on Lore Cloud. The
server remembers when and from which machine (``reset`` in the AccountDoc). Another
machine finds out on its next sync, inside the key check that precedes every transfer:
its cached key no longer matches the server (no envelope, or one with another key id),
and the AccountDoc names the reset — so it says *that* instead of a bare "wrong key".

Sync state (push progress, pull cursor, held generations) only means something for the
data key it was built with, so it is tied to that key's id (``sync_key_id`` in the
store's kv table): when a machine starts syncing with a different key — after a reset
and ``lorectl unlock`` — it forgets the old state and uploads / re-checks everything.
Local sessions are never touched by any of this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lored.errors import LoreError
from lored.sync.remote import Remote

if TYPE_CHECKING:
    from lored.store import Store

#: kv key: the key id the sync state (cursor, push/pull progress) belongs to
SYNC_KEY_ID = "sync_key_id"
#: kv key of the pull retry list (lored.sync.pull.RETRY_KEY)
_PULL_RETRY = "pull_retry"


class AccountReset(LoreError):
    """The account's cloud data was reset from another machine."""

    code = "account_reset"

    def __init__(self, reset: dict[str, Any], *, new_key: bool) -> None:
        at, by = str(reset.get("at") or "an unknown time"), str(reset.get("by") or "")
        when = at.replace("T", " ")[:16] + " UTC" if "T" in at else at
        origin = f" from machine {by}" if by else ""
        if new_key:
            hint = ("run `lorectl unlock` with the account's new passphrase; this machine "
                    "then uploads its sessions again on the next sync")
        else:
            hint = ("run `lorectl unlock` to set up encryption again with a new passphrase "
                    "(or, once another machine has, to enter its passphrase); this machine "
                    "then uploads its sessions again")
        super().__init__(
            f"the account's cloud data was reset on {when}{origin}; "
            "this machine's local sessions are kept", hint=hint)
        self.reset = reset


async def last_reset(remote: Remote) -> dict[str, Any] | None:
    """The account's last reset ``{at, by}`` from the AccountDoc, or None."""
    reset = (await remote.account()).get("reset")
    return reset if isinstance(reset, dict) and reset.get("at") else None


async def raise_if_reset(remote: Remote, envelope: dict[str, Any] | None) -> None:
    """Called when the cached key does not match the server: explain a reset if it was one.

    Only this (rare) path costs the extra account request.
    """
    reset = await last_reset(remote)
    if reset is not None:
        raise AccountReset(reset, new_key=envelope is not None)


async def forget_sync_state(store: Store) -> None:
    """Forget every push/pull record so the next sync uploads and re-checks everything.

    Own sessions become dirty again (generation 1 on a fresh server copy); pulled copies
    keep their content but no longer claim a generation, so the rollback guard accepts
    the re-uploaded generation 1 from their origin.
    """
    async with store.transaction() as db:
        await db.execute(
            "UPDATE sessions SET dirty = local, pushed_generation = 0, pushed_chunks = 0, "
            "pushed_length = 0, pushed_hash = NULL, pushed_seq = NULL, pushed_at = NULL, "
            "remote_generation = 0, remote_chunks = 0, remote_seq = NULL")
        await db.execute("DELETE FROM kv WHERE key IN (?, ?, ?)",
                         (_PULL_RETRY, "pull_cursor", SYNC_KEY_ID))


async def adopt_key(store: Store, key_id: str) -> bool:
    """Tie the sync state to ``key_id``; True when it belonged to another key (forgotten).

    A machine that never recorded a key id (older versions) just records this one.
    """
    held = await store.kv_get(SYNC_KEY_ID)
    if held == key_id:
        return False
    changed = held is not None and held != ""
    if changed:
        await forget_sync_state(store)
    await store.kv_set(SYNC_KEY_ID, key_id)
    return changed
