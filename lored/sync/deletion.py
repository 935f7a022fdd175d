"""Deleting sessions: here only, or everywhere (a server tombstone), and undeleting.

A deletion is *remembered* in the store's ``deleted`` table, so neither a later capture
of the same native file nor a pull (``pull --all`` included) brings the session back —
deletions that come back are one of the two most reported sync problems in Atuin
(#592, #2178, #2930). ``--everywhere`` also tombstones the session on Lore Cloud; every
other machine removes its copy (session and messages) on its next pull, and the tiny
tombstone stays in the feed so a full re-pull keeps it gone.

Only the machine that captured a session writes it (PROTOCOL.md: origin), and that
includes deleting it everywhere: the origin never sees its own sessions in the change
feed, so a tombstone written by another machine would not reach it, and its next push
of a grown transcript would quietly revive the session. A non-origin machine therefore
gets a clear refusal naming the origin (the server refuses too).

``undelete`` forgets the deletion on purpose: the next capture reads the file again
and the next push uploads it as a new generation above the tombstone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lored.errors import LoreError, NotLoggedIn

if TYPE_CHECKING:
    from lored.service import Lore


class OwnedElsewhere(LoreError):
    """Only the machine that captured a session can delete it everywhere."""

    code = "owned_elsewhere"


async def delete_session(lore: Lore, id_or_prefix: str, *, everywhere: bool) -> dict[str, Any]:
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


async def undelete_session(lore: Lore, session_id: str) -> dict[str, Any]:
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


async def deleted_sessions(lore: Lore) -> list[dict[str, Any]]:
    """Sessions deleted here on purpose, newest first."""
    async with lore.store.transaction() as db:
        async with db.execute(
            "SELECT session_id, deleted_at FROM deleted ORDER BY deleted_at DESC") as cur:
            rows = await cur.fetchall()
    return [{"session_id": r[0], "deleted_at": r[1]} for r in rows]
