"""Account operations of the facade: delete / undelete sessions, key export / import, cloud reset.

Deleting (here only, or everywhere as a server tombstone) is *remembered* in the store's
``deleted`` table, so neither a later capture of the same native file nor a pull
(``pull --all`` included) brings the session back -- deletions that come back are one of
the two most reported sync problems in Atuin (#592, #2178, #2930). ``--everywhere`` also
tombstones the session on Lore Cloud; every other machine removes its copy (session and
messages) on its next pull, and the tiny tombstone stays in the feed so a full re-pull
keeps it gone.

Only the machine that captured a session writes it (PROTOCOL.md: origin), and that
includes deleting it everywhere: the origin never sees its own sessions in the change
feed, so a tombstone written by another machine would not reach it, and its next push
of a grown transcript would quietly revive the session. A non-origin machine therefore
gets a clear refusal naming the origin (the server refuses too). ``undelete`` forgets
the deletion on purpose: the next capture reads the file again and the next push
uploads it as a new generation above the tombstone.

Key export prints the checked data key in its printable recovery form (the same check as
before any transfer, so a stale cache is never exported). Import decodes a recovery key,
verifies its key id against the server's envelope -- a key of another account, or one
replaced by an account reset, is refused before it is stored -- and replaces this
machine's cached key, exactly what ``lorectl unlock`` does with a passphrase.

Every function takes the :class:`~lored.api.core.LoreCore` it works on and never
imports the facade, so the facade can call them without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lored.crypto.envelope import envelope_key_id
from lored.crypto.kdf import key_id
from lored.crypto.keycache import CachedKey, delete_key, save_key
from lored.crypto.recovery import decode_recovery, encode_recovery
from lored.errors import EncryptionNotConfigured, LoreError, NotLoggedIn, UsageError, WrongKey
from lored.sync.reset import forget_sync_state

if TYPE_CHECKING:
    from lored.api.core import LoreCore


class OwnedElsewhere(LoreError):
    """Only the machine that captured a session can delete it everywhere."""

    code = "owned_elsewhere"


async def delete_session(lore: LoreCore, id_or_prefix: str, *, everywhere: bool) -> dict[str, Any]:
    """Delete one session here (remembered), and on Lore Cloud when ``everywhere``.

    The server is asked first: if that fails the local copy stays, so the command can
    simply be run again.
    """
    row = await lore.store.find_session(id_or_prefix)
    sid = row.id
    seq: int | None = None
    if everywhere:
        if lore.credentials is None:
            raise NotLoggedIn("deleting everywhere needs this machine's Lore Cloud login")
        mine = row.local and row.origin_machine_id == lore.settings.machine_id
        if not mine:
            who = row.origin_machine_name or row.origin_machine_id
            raise OwnedElsewhere(
                f"session {sid} was captured on machine {who}; only that machine can "
                "delete it everywhere",
                hint=f"run `lorectl sessions delete {sid} --everywhere` on {who} (or delete "
                     f"it in the web dashboard); `lorectl sessions delete {sid}` removes it "
                     "from this machine only")
        if row.pushed:
            seq = await lore.engine().remote.delete_session(sid)
    await lore.store.delete_session(sid, remember=True)
    return {"session_id": sid, "deleted": True, "everywhere": everywhere,
            "on_server": seq is not None, "seq": seq}


async def undelete_session(lore: LoreCore, session_id: str) -> dict[str, Any]:
    """Forget a deliberate deletion and capture the session again if its file is here.

    A session that came from another machine is fetched again by the next pull (the
    cursor restarts so the feed is re-checked; unchanged sessions cost nothing).
    """
    store = lore.store
    if not await store.is_deleted(session_id):
        raise LoreError(f"session {session_id} is not deleted here",
                        hint="list deleted sessions with `lorectl sessions deleted`")
    await store.undelete(session_id)
    async with store.transaction() as db:
        # the capture remembered the skipped file's size/mtime; forget it so the next
        # capture reads the file again instead of seeing it as unchanged
        await db.execute("DELETE FROM sources WHERE session_id = ?", (session_id,))
    report = await lore.import_all()
    captured = session_id in (report.get("changed") or [])
    if not captured:
        await store.reset_cursor()
    return {"session_id": session_id, "undeleted": True, "captured": captured}


async def deleted_sessions(lore: LoreCore) -> list[dict[str, Any]]:
    """Sessions deleted here on purpose, newest first."""
    async with lore.store.transaction() as db:
        async with db.execute(
            "SELECT session_id, deleted_at FROM deleted ORDER BY deleted_at DESC") as cur:
            rows = await cur.fetchall()
    return [{"session_id": r[0], "deleted_at": r[1]} for r in rows]


# --- key export / import ------------------------------------------------------------
async def export_key(lore: LoreCore) -> dict[str, Any]:
    """``{key_id, recovery_key}`` of the account's checked data key."""
    key = await lore.engine().keys.require(setup=False)
    if key is None:
        raise EncryptionNotConfigured("encryption is not set up for this account yet",
                                      hint="run `lorectl push` to set it up first")
    return {"key_id": key.key_id, "account_id": key.account_id,
            "recovery_key": encode_recovery(key.data_key)}


async def import_key(lore: LoreCore, text: str) -> dict[str, Any]:
    """Verify a recovery key against the server's envelope and cache it here."""
    creds = lore.credentials
    if creds is None:
        raise NotLoggedIn()
    dk = decode_recovery(text)
    kid = key_id(dk)
    envelope, _ = await lore.engine().remote.get_envelope()
    if envelope is None:
        raise EncryptionNotConfigured(
            "the account has no encryption key on Lore Cloud (never set up, or reset), so "
            "this recovery key cannot be checked; nothing was changed",
            hint="run `lorectl push` to set up encryption with a new passphrase")
    if envelope_key_id(envelope) != kid:
        raise WrongKey(
            f"this recovery key (key {kid[:8]}) is not the account's current key "
            f"(key {envelope_key_id(envelope)[:8]}): it belongs to another account or to "
            "a key replaced by an account reset; nothing was changed",
            hint="use the recovery key exported after the last reset, or `lorectl unlock` "
                 "with the passphrase")
    save_key(lore.settings.paths.key_file, CachedKey(dk, kid, creds.account_id))
    return {"key_id": kid, "account_id": creds.account_id}


# --- cloud reset ----------------------------------------------------------------------
async def reset_cloud(lore: LoreCore, confirm_email: str) -> dict[str, Any]:
    """Erase the account's cloud data, then this machine's key cache and sync state.

    ``confirm_email`` must be the logged-in account's email (the server checks it too).
    """
    creds = lore.credentials
    if creds is None:
        raise NotLoggedIn()
    if confirm_email.strip().lower() != creds.email.strip().lower():
        raise UsageError("the email typed does not match this machine's account "
                         f"({creds.email}); nothing was erased")
    doc = await lore.engine().remote.reset_account(creds.email)
    delete_key(lore.settings.paths.key_file)
    await forget_sync_state(lore.store)
    total, _ = await lore.store.counts()
    return {"erased": int(doc.get("erased") or 0), "reset_at": doc.get("reset_at"),
            "reset_by": doc.get("reset_by"), "email": creds.email, "local_sessions": total}
