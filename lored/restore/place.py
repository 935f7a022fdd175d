"""Restore a session into its tool on this machine (``lorectl sessions restore``).

Lore holds every session's raw transcript, so a session pulled from another machine can
be put back where its tool looks for it — Claude Code's project folder, Codex's
``sessions/YYYY/MM/DD`` — with its paths moved to this machine's checkout of the project
(see :mod:`lored.restore.paths` and :mod:`lored.restore.rewrite`), and then resumed
there (``claude --resume``, ``codex resume``).

The written file is recorded in the store's ``sources`` table against the restored
session, and the digest of what was written under ``restored:<path>`` in ``kv``, before
the file appears under its final name. Capture therefore sees the pulled session, not a
new local one; once the file grows, capture turns the continuation into a fork owned by
this machine (:mod:`lored.capture.forks`).

A file already at the target is never silently replaced: identical content is success
with nothing written; an older copy of the same transcript is brought up to date; any
other content is refused unless ``force`` (and never when it is another of this
machine's own sessions).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lored.capture import claude, forks, scan, sources
from lored.capture.projects import git_remote
from lored.capture.registry import parse_payload
from lored.restore import opencode_db, targets
from lored.restore.paths import (
    Probe,
    ProjectMapping,
    RestoreError,
    local_candidates,
    origin_remote,
    resolve_project,
)
from lored.restore.resume import SUPPORTED, resume_command
from lored.restore.rewrite import PathMap, aider_section, rewrite_transcript
from lored.store.db import digest
from lored.store.rows import SourceState

if TYPE_CHECKING:
    from lored.config import Settings
    from lored.model import ParsedSession
    from lored.store import SessionRow, Store

__all__ = ["SUPPORTED", "RestoreError", "RestoreResult", "auto_enabled", "restore_pulled",
           "restore_session"]

@dataclass(frozen=True)
class RestoreResult:
    """What a restore did (``--json`` prints :meth:`to_json`)."""

    session_id: str
    tool: str
    path: str
    project_path: str
    written: bool
    origin_project_path: str | None
    mapping: str
    #: why an existing file was replaced or updated (None when there was none)
    replaced: str | None
    #: the tool's own resume command, run in ``project_path``
    command: tuple[str, ...]
    #: the ``[projects]`` entry a ``--to`` answer was remembered under (else None)
    remembered: str | None = None

    @property
    def resume(self) -> str:
        """The resume command as one shell line."""
        return shlex.join(self.command)

    def to_json(self) -> dict[str, Any]:
        """``{"session_id","tool","path","project_path","written"}`` plus details."""
        return {
            "session_id": self.session_id, "tool": self.tool, "path": self.path,
            "project_path": self.project_path, "written": self.written,
            "origin_project_path": self.origin_project_path, "mapping": self.mapping,
            "replaced": self.replaced, "resume": self.resume, "command": list(self.command),
        }


async def restore_session(
    store: Store,
    settings: Settings,
    session: str,
    *,
    to: str | None = None,
    force: bool = False,
    env: Mapping[str, str] | None = None,
    tz: tzinfo | None = None,
) -> RestoreResult:
    """Write session ``session`` (id or unique prefix) where its tool looks for it.

    ``env`` supplies HOME / CLAUDE_CONFIG_DIR / CODEX_HOME (default ``os.environ``);
    ``tz`` is the zone of Codex's file names (default this machine's). Raises
    RestoreError (one sentence and a hint) when it cannot or must not write.
    """
    row = await store.find_session(session)
    if row.tool not in SUPPORTED:
        raise RestoreError(
            f"restore is not supported for {row.tool} sessions yet",
            hint=f"these tools can be restored: {', '.join(SUPPORTED)}; read this one "
                 f"with `lorectl sessions show {row.id}`")
    _, transcript = forks.split_header(await store.load_payload(row.id))
    if row.tool == claude.TOOL and claude.has_parts(transcript):
        # sub-agent parts are Lore's own lines: put back only the session's own file
        transcript = claude.split_parts(transcript)[0].get(None, b"")
    parsed = parse_payload(row.tool, transcript)  # the transcript's own id and folder
    mapping = await _map_project(store, settings, row, parsed, to, env)
    data = _rewrite(row.tool, transcript, parsed.project_path, mapping.local_path)
    ctx = sources.Context(settings, dict(os.environ) if env is None else dict(env))
    placement = _placement(ctx, row.tool, parsed, data, mapping.local_path, tz)
    main = placement.main
    if placement.db is not None:
        written, replaced = await _place_db(row, placement.db, mapping.local_path, force)
    else:
        written, replaced = await _place(store, row, main.path, main.data, force,
                                         shared=not placement.append)
        for extra in placement.files[1:]:
            written = await asyncio.to_thread(_write_if_changed, extra) or written
    if placement.append:
        await _record(store, row.id, main.path, main.data, os.stat(main.path))
    else:
        ctx.known_projects.append(mapping.local_path)
        await _record_rendered(store, ctx, row, placement)
    return RestoreResult(
        session_id=row.id, tool=row.tool, path=placement.source_key if placement.db
        else str(main.path),
        project_path=mapping.local_path, written=written,
        origin_project_path=parsed.project_path, mapping=mapping.how, replaced=replaced,
        command=tuple(resume_command(row.tool, placement.resume_id)))


def auto_enabled(settings: Settings) -> bool:
    """``[restore] auto = true`` in config.toml (default off)."""
    table = settings.raw.get("restore")
    return isinstance(table, dict) and table.get("auto") is True


async def restore_pulled(
    store: Store,
    settings: Settings,
    session_ids: list[str],
    *,
    env: Mapping[str, str] | None = None,
) -> tuple[list[RestoreResult], dict[str, str]]:
    """``[restore] auto``: restore freshly pulled sessions whose project exists here.

    Meant to run after a pull with the pulled ids. Never forces: a session without a
    local checkout, or whose target holds something else, is skipped with the reason.
    Returns (restored, {session id: why skipped}); own and unsupported sessions are
    left out silently.
    """
    done: list[RestoreResult] = []
    skipped: dict[str, str] = {}
    for sid in session_ids:
        state = await store.remote_state(sid)
        if state is None or state.local or sid.split(":", 1)[0] not in SUPPORTED:
            continue
        try:
            result = await restore_session(store, settings, sid, env=env)
        except RestoreError as err:
            skipped[sid] = err.message
            continue
        if result.written:
            done.append(result)
    return done, skipped


async def _map_project(store: Store, settings: Settings, row: SessionRow,
                       parsed: ParsedSession, to: str | None,
                       env: Mapping[str, str] | None) -> ProjectMapping:
    known = await store.project_remotes()
    # the sealed info carries the remote a Claude Code transcript lacks (row.git_remote)
    remote = origin_remote(parsed.git_remote or row.git_remote, parsed.project_path,
                           row.origin_machine_id, known)
    home = Path((env or os.environ).get("HOME") or Path.home())
    extra = itertools.chain(settings.aider_roots, scan.checkouts(home))
    return await asyncio.to_thread(
        resolve_project, parsed.project_path, remote, to=to, config=settings.projects,
        candidates=local_candidates(known, settings.projects, extra),
        probe=Probe(remote_of=git_remote))


def _rewrite(tool: str, transcript: bytes, old: str | None, new: str) -> bytes:
    if not old or old.rstrip("/") == new.rstrip("/"):
        return transcript
    try:
        pm = PathMap(old, new)
    except ValueError:
        raise RestoreError(f"the session's folder {old!r} cannot be moved to {new}",
                           hint="restore it without --to, or report the session") from None
    if tool == "aider":
        return aider_section(transcript, pm)
    return rewrite_transcript(tool, transcript, pm)[0]


def _placement(ctx: sources.Context, tool: str, parsed: ParsedSession, data: bytes,
               project: str, tz: tzinfo | None) -> targets.Placement:
    if tool == "codex":
        return targets.place_codex(ctx, parsed, data, project, tz)
    place = {"claude-code": targets.place_claude, "gemini": targets.place_gemini,
             "opencode": targets.place_opencode, "aider": targets.place_aider}[tool]
    return place(ctx, parsed, data, project)


async def _place(store: Store, row: SessionRow, target: Path, data: bytes, force: bool,
                 *, shared: bool = False) -> tuple[bool, str | None]:
    """Write ``data`` at ``target`` unless it is there already: (written, why replaced).

    ``shared``: the file also holds other sessions (Aider's history) or is rendered by
    capture, so ``data`` extends what is there and capture learns of it by digest.
    """
    try:
        existing: bytes | None = target.read_bytes()
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise RestoreError(f"cannot read {target}: {exc.strerror}",
                           hint="check the folder's permissions") from None
    replaced = None
    if existing == data:
        if not shared:
            await _record(store, row.id, target, data, os.stat(target))
        return False, None
    if existing is not None and not (shared and data.startswith(existing)):
        holder = await store.get_source(str(target))
        why = _difference(existing, data, holder.session_id if holder else None)
        await _guard_own(store, row, target, holder)
        if not data.startswith(existing) and not force:  # an older copy is just updated
            raise RestoreError(f"{target} already exists and {why}",
                               hint="look at it first; --force replaces it (the old "
                                    "file is kept as .bak)")
        if not data.startswith(existing):
            await asyncio.to_thread(_keep_backup, target, existing)
            why += f"; the old file is kept as {target.name}.bak"
        replaced = why
    tmp = target.with_name(f".{target.name}.lore-restore")
    try:
        st = _write_temp(tmp, data)
        # recorded before the file shows up under its name, so a capture pass running
        # meanwhile already knows it as the restored session and never takes it for new
        if not shared:
            await _record(store, row.id, target, data, st)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RestoreError(f"cannot write {target}: {exc.strerror}",
                           hint="check the folder's permissions and free space") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True, replaced


async def _place_db(row: SessionRow, w: targets.DbWrite, project: str, force: bool
                    ) -> tuple[bool, str | None]:
    """Insert the session into OpenCode's database unless it is there already."""
    from lored.capture import opencode_io

    if await asyncio.to_thread(opencode_db.write_session, w.path, project, w.project_id,
                               w.session, list(w.records), replace=False):
        return True, None
    # already there: the same conversation is success, an older copy is brought up to
    # date, anything else needs --force
    sid = str(w.session["id"])
    mine = [(k, r.get("id")) for k, r in w.records]
    theirs: list[tuple[str, Any]] = []
    for payload in await asyncio.to_thread(opencode_io.render_db, w.path):
        first = json.loads(payload.partition(b"\n")[0])
        if (first.get("session") or {}).get("id") == sid:
            for line in payload.splitlines()[1:]:
                rec = json.loads(line)
                kind = "message" if "message" in rec else "part"
                theirs.append((kind, rec[kind].get("id")))
    if theirs == mine:
        return False, None
    grown = mine[:len(theirs)] == theirs
    if not grown and not force:
        raise RestoreError(f"{w.path} already holds OpenCode session {sid} and it differs "
                           "from the restored one",
                           hint="look at it in OpenCode first; --force replaces it")
    await asyncio.to_thread(opencode_db.write_session, w.path, project, w.project_id,
                            w.session, list(w.records), replace=True)
    return True, None if grown else "differed from the restored session"


def _keep_backup(target: Path, existing: bytes) -> None:
    """``<file>.bak`` holds what ``--force`` replaced (0600, like every restored file)."""
    bak = target.with_name(target.name + ".bak")
    _write_temp(bak, existing)


def _write_if_changed(f: targets.FileWrite) -> bool:
    """Write a companion file (a marker, a registry, an OpenCode record) when it differs."""
    try:
        if f.path.read_bytes() == f.data:
            return False
    except OSError:
        pass
    tmp = f.path.with_name(f".{f.path.name}.lore-restore")
    try:
        _write_temp(tmp, f.data)
        os.replace(tmp, f.path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RestoreError(f"cannot write {f.path}: {exc.strerror}",
                           hint="check the folder's permissions and free space") from None
    return True


async def _record_rendered(store: Store, ctx: sources.Context, row: SessionRow,
                           placement: targets.Placement) -> None:
    """Tell capture which rendered payload here is the restored session (by digest).

    Capture renders these files (it never reads them as an append-only transcript) and
    may derive another id here (Aider's id includes the history file's path), so the
    digest of exactly what it will render is kept under ``restored:<source>#<id>``.
    """
    from lored.capture.discovery import DISCOVERERS

    src = next((s for s in await asyncio.to_thread(DISCOVERERS[row.tool], ctx)
                if s.key == placement.source_key and s.render is not None), None)
    if src is None or src.render is None:
        return
    payloads = await asyncio.to_thread(src.render)
    for payload in payloads:
        here = parse_payload(row.tool, payload)
        body = payload.partition(b"\n")[2]
        if here.native_id == placement.resume_id or (
                placement.match is not None
                and body.rstrip(b"\n") == placement.match.rstrip(b"\n")):
            await store.kv_set(forks.restored_key(f"{placement.source_key}#{here.session_id}"),
                               json.dumps({"session_id": row.id, "digest": digest(payload)}))


async def _guard_own(store: Store, row: SessionRow, target: Path,
                     holder: SourceState | None) -> None:
    """Refuse, even with ``force``, to replace the file of another own session."""
    if holder is None or holder.session_id in ("", row.id):
        return
    state = await store.remote_state(holder.session_id)
    if state is not None and state.local:
        raise RestoreError(
            f"{target} is the transcript of this machine's session {holder.session_id}; "
            "restore will not replace it", hint="restore into another folder with --to PATH")


def _difference(existing: bytes, data: bytes, holder: str | None) -> str:
    """Why ``existing`` is not the restored transcript, in words."""
    if existing.startswith(data):
        why = (f"has {len(existing) - len(data)} bytes more than the restored transcript "
               "(it was continued here)")
    elif data.startswith(existing):
        why = f"is an older copy ({len(existing)} of {len(data)} bytes)"
    else:
        at = next((i for i, (a, b) in enumerate(zip(existing, data, strict=False)) if a != b),
                  min(len(existing), len(data)))
        why = f"differs from the restored transcript from byte {at} on"
    return why + (f"; Lore knows it as session {holder}" if holder else "")


def _write_temp(tmp: Path, data: bytes) -> os.stat_result:
    """Write ``data`` to ``tmp`` (0600, synced); its stat stays valid after the rename."""
    tmp.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:  # os.write may write less than asked
            view = view[os.write(fd, view):]
        os.fsync(fd)
        return os.fstat(fd)
    finally:
        os.close(fd)


async def _record(store: Store, session_id: str, target: Path, data: bytes,
                  st: os.stat_result) -> None:
    """Tell capture that ``target`` holds ``session_id`` exactly as restored."""
    await store.kv_set(forks.restored_key(str(target)),
                       json.dumps({"session_id": session_id, "digest": digest(data)}))
    await store.save_source(SourceState(str(target), session_id, st.st_size, st.st_mtime_ns,
                                        st.st_ino, st.st_size))
