"""The ``Lore`` facade: the one API both the daemon and one-shot ``lorectl`` use.

:class:`~lored.api.core.LoreCore` holds the store, the remote, the engine and the sync
operations; this class adds what ``lorectl`` asks of the local archive (list, show,
search, restore) and of the account (delete, key export / import, cloud reset). The
operations live in modules below the facade (``lored.restore``, ``lored.api.account``)
that never import it back, and heavy modules are imported on first use so ``lorectl
status`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lored.api.core import LoreCore

if TYPE_CHECKING:
    from lored.model import Message
    from lored.restore.place import RestoreResult
    from lored.store import SessionRow

__all__ = ["Lore"]


class Lore(LoreCore):
    """One machine's Lore: the archive, its capture and its Lore Cloud sync."""

    # --- the local archive --------------------------------------------------------------
    async def list_sessions(self, *, tool: str | None = None, project: str | None = None,
                            machine: str | None = None, limit: int | None = None
                            ) -> list[SessionRow]:
        """Sessions newest first, filtered by tool, project substring and machine."""
        return await self.store.list_sessions(tool=tool, project=project, machine=machine,
                                              limit=limit)

    async def tools(self) -> list[dict[str, Any]]:
        """`lorectl tools`: every known tool, its folders, sessions and last capture."""
        import os

        from lored.capture.inventory import inventory
        from lored.capture.sources import Context

        ctx = Context(self.settings, dict(os.environ))
        return inventory(ctx, await self.store.tool_counts())

    async def secrets_scan(self, session: str | None = None) -> dict[str, Any]:
        """`lorectl secrets scan`: kinds, counts and first lines of secrets per session."""
        from lored.api.secrets import scan_secrets

        return await scan_secrets(self, session)

    async def secrets_redact(self, session: str | None = None) -> dict[str, Any]:
        """`lorectl secrets redact`: the current rules applied to sessions already captured
        (marked for a new generation upstream; rewritten here in "everywhere" mode)."""
        from lored.api.secrets import redact_secrets

        return await redact_secrets(self, session)

    async def show_session(self, id_or_prefix: str
                           ) -> tuple[SessionRow, list[Message], str | None]:
        """One session (a unique id prefix is enough), its messages, and its fork parent."""
        from lored.capture.deferred import parse_pending
        from lored.capture.forks import forked_from

        row = await self.store.find_session(id_or_prefix)
        if await parse_pending(self.store, only=[row.id]):  # pulled, not parsed yet
            row = await self.store.find_session(row.id)
        parent = forked_from(await self.store.load_payload(row.id)) if "@" in row.id else None
        return row, await self.store.messages(row.id), parent

    async def search(self, text: str, *, tool: str | None = None, project: str | None = None,
                     machine: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Full-text hits (CLI.md search JSON), best first, optionally filtered.

        Waits for the deferred work first (sessions pulled but not parsed yet, messages
        not indexed yet), so a search finds everything stored when it was asked.
        """
        await self.catch_up_index()
        if not any((tool, project, machine)):
            return await self.store.search(text, limit=limit)
        # the store ranks over all sessions; keep the best hits of the chosen ones
        allowed = {r.id for r in await self.store.list_sessions(tool=tool, project=project,
                                                                machine=machine)}
        hits = await self.store.search(text, limit=max(limit * 20, 1000))
        return [h for h in hits if h["session_id"] in allowed][:limit]

    async def search_counted(self, text: str, *, tool: str | None = None,
                             project: str | None = None, machine: str | None = None,
                             limit: int = 50, count_up_to: int = 1001
                             ) -> tuple[list[dict[str, Any]], int]:
        """The best ``limit`` hits and how many match (counted up to ``count_up_to``)."""
        hits = await self.search(text, tool=tool, project=project, machine=machine,
                                 limit=max(limit, count_up_to))
        return hits[:limit], len(hits)

    async def restore_session(self, session_id: str, *, to: str | None = None,
                              force: bool = False) -> RestoreResult:
        """Write a session where its tool looks, paths mapped to this machine's checkout."""
        from lored.restore.place import restore_session

        result = await restore_session(self.store, self.settings, session_id, to=to,
                                       force=force)
        if result.mapping == "--to":
            return await self._remember_project(result)
        return result

    async def resume_session(self, session_id: str, *, to: str | None = None,
                             force: bool = False, check_program: bool = True
                             ) -> dict[str, Any]:
        """Restore a session if needed and say how its tool resumes it here.

        ``{"session_id","tool","cwd","command":[argv…],"restored_to"}`` (plus
        ``"program"``: the command's full path, when ``check_program`` found it; a
        missing program raises RestoreError naming what to install, after restoring).
        """
        from lored.restore.resume import find_program

        result = await self.restore_session(session_id, to=to, force=force)
        out: dict[str, Any] = {
            "session_id": result.session_id, "tool": result.tool, "cwd": result.project_path,
            "command": list(result.command), "restored_to": result.path,
            "written": result.written, "mapping": result.mapping,
        }
        if check_program:
            out["program"] = find_program(result.tool, list(result.command))
        return out

    async def _remember_project(self, result: RestoreResult) -> RestoreResult:
        """A ``--to`` answer goes into ``[projects]`` so the user is asked once per project."""
        import dataclasses

        from lored.config import update_config

        row = await self.store.find_session(result.session_id)
        key = row.git_remote or result.origin_project_path
        if not key or self.settings.projects.get(key) == result.project_path:
            return result
        update_config(self.settings.paths, {"projects": {key: result.project_path}})
        self.settings.projects[key] = result.project_path
        return dataclasses.replace(result, remembered=key)

    # --- deleting ------------------------------------------------------------------------
    async def delete_session(self, id_or_prefix: str, *, everywhere: bool = False
                             ) -> dict[str, Any]:
        """Delete a session here (remembered), and on Lore Cloud when ``everywhere``."""
        from lored.api import account

        return await account.delete_session(self, id_or_prefix, everywhere=everywhere)

    async def undelete_session(self, session_id: str) -> dict[str, Any]:
        """Forget a deliberate deletion and capture the session again if its file is here."""
        from lored.api import account

        return await account.undelete_session(self, session_id)

    async def deleted_sessions(self) -> list[dict[str, Any]]:
        """Sessions deleted here on purpose, newest first."""
        from lored.api import account

        return await account.deleted_sessions(self)

    # --- the data key and the cloud copy ---------------------------------------------------
    async def export_key(self) -> dict[str, Any]:
        """``{key_id, account_id, recovery_key}`` of the account's checked data key."""
        from lored.api import account

        return await account.export_key(self)

    async def import_key(self, text: str) -> dict[str, Any]:
        """Verify a recovery key against the server's envelope and cache it here."""
        from lored.api import account

        return await account.import_key(self, text)

    # --- share links (issue 18) -----------------------------------------------------------
    async def share_session(self, id_or_prefix: str, expires: str = "7d") -> dict[str, Any]:
        """Seal a session for a link -> ``{share_id, url, expires_at}`` (key in the fragment)."""
        from lored.api import shares

        return await shares.share_session(self, id_or_prefix, expires)

    async def list_shares(self) -> list[dict[str, Any]]:
        """The account's share links."""
        from lored.api import shares

        return await shares.list_shares(self)

    async def revoke_share(self, share_id: str) -> dict[str, Any]:
        """Revoke a share link (410 from now on)."""
        from lored.api import shares

        return await shares.revoke_share(self, share_id)

    async def reset_cloud(self, confirm_email: str) -> dict[str, Any]:
        """Erase the account's cloud data, then this machine's key cache and sync state."""
        from lored.api import account

        return await account.reset_cloud(self, confirm_email)
