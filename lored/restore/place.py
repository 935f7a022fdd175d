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

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lored.capture import claude, forks, sources
from lored.capture.projects import git_remote
from lored.capture.registry import parse_payload
from lored.restore.paths import (
    Probe,
    ProjectMapping,
    RestoreError,
    claude_target,
    codex_target,
    local_candidates,
    origin_remote,
    parse_time,
    resolve_project,
)
from lored.restore.rewrite import PathMap, rewrite_transcript
from lored.store.db import digest
from lored.store.rows import SourceState

if TYPE_CHECKING:
    from lored.config import Settings
    from lored.model import ParsedSession
    from lored.store import SessionRow, Store

__all__ = ["SUPPORTED", "RestoreError", "RestoreResult", "auto_enabled", "restore_pulled",
           "restore_session"]

#: tools whose transcripts can be put back, with how to resume them
SUPPORTED = {"claude-code": "claude --resume {id}", "codex": "codex resume {id}"}


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
    resume: str

    def to_json(self) -> dict[str, Any]:
        """``{"session_id","tool","path","project_path","written"}`` plus details."""
        return {
            "session_id": self.session_id, "tool": self.tool, "path": self.path,
            "project_path": self.project_path, "written": self.written,
            "origin_project_path": self.origin_project_path, "mapping": self.mapping,
            "replaced": self.replaced, "resume": self.resume,
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
            hint="only Claude Code and Codex sessions can be restored; read this one "
                 f"with `lorectl sessions show {row.id}`")
    _, transcript = forks.split_header(await store.load_payload(row.id))
    if row.tool == claude.TOOL and claude.has_parts(transcript):
        # sub-agent parts are Lore's own lines: put back only the session's own file
        transcript = claude.split_parts(transcript)[0].get(None, b"")
    parsed = parse_payload(row.tool, transcript)  # the transcript's own id and folder
    mapping = await _map_project(store, settings, row, parsed, to)
    data = _rewrite(row.tool, transcript, parsed.project_path, mapping.local_path)
    ctx = sources.Context(settings, dict(os.environ) if env is None else env)
    target = _target(ctx, row.tool, parsed, mapping.local_path, tz)
    written, replaced = await _place(store, row, target, data, force)
    return RestoreResult(
        session_id=row.id, tool=row.tool, path=str(target), project_path=mapping.local_path,
        written=written, origin_project_path=parsed.project_path, mapping=mapping.how,
        replaced=replaced, resume=SUPPORTED[row.tool].format(id=parsed.native_id))


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
                       parsed: ParsedSession, to: str | None) -> ProjectMapping:
    known = await store.project_remotes()
    remote = origin_remote(parsed.git_remote, parsed.project_path, row.origin_machine_id,
                           known)
    return resolve_project(
        parsed.project_path, remote, to=to, config=settings.projects,
        candidates=local_candidates(known, settings.projects, settings.aider_roots),
        probe=Probe(remote_of=git_remote))


def _rewrite(tool: str, transcript: bytes, old: str | None, new: str) -> bytes:
    if not old or old.rstrip("/") == new.rstrip("/"):
        return transcript
    try:
        pm = PathMap(old, new)
    except ValueError:
        raise RestoreError(f"the session's folder {old!r} cannot be moved to {new}",
                           hint="restore it without --to, or report the session") from None
    return rewrite_transcript(tool, transcript, pm)[0]


def _target(ctx: sources.Context, tool: str, parsed: ParsedSession, project: str,
            tz: tzinfo | None) -> Path:
    if tool == "claude-code":
        return claude_target(sources.claude_root(ctx), project, parsed.native_id)
    started = parse_time(parsed.started_at) or datetime.now(UTC)
    return codex_target(sources.codex_home(ctx), parsed.native_id, started, tz)


async def _place(store: Store, row: SessionRow, target: Path, data: bytes, force: bool
                 ) -> tuple[bool, str | None]:
    """Write ``data`` at ``target`` unless it is there already: (written, why replaced)."""
    try:
        existing: bytes | None = target.read_bytes()
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise RestoreError(f"cannot read {target}: {exc.strerror}",
                           hint="check the folder's permissions") from None
    replaced = None
    if existing == data:
        await _record(store, row.id, target, data, os.stat(target))
        return False, None
    if existing is not None:
        holder = await store.get_source(str(target))
        why = _difference(existing, data, holder.session_id if holder else None)
        await _guard_own(store, row, target, holder)
        if not data.startswith(existing) and not force:  # an older copy is just updated
            raise RestoreError(f"{target} already exists and {why}",
                               hint="look at it first; --force replaces it")
        replaced = why
    tmp = target.with_name(f".{target.name}.lore-restore")
    try:
        st = _write_temp(tmp, data)
        # recorded before the file shows up under its name, so a capture pass running
        # meanwhile already knows it as the restored session and never takes it for new
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
