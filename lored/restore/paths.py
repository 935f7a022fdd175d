"""Where a restored transcript goes, and which local checkout a pulled project maps to.

Pure decisions: file-system facts (does a folder exist, what is its git remote) come in
through the :class:`Probe` callables, so every rule is tested without touching disk.

Mapping order (the first that answers wins):

1. ``--to PATH``;
2. ``[projects]`` in config.toml: a key equal to the origin project path, or a git
   remote (any spelling; compared normalised), mapped to a local path;
3. the project's git remote, when known (capture seals it into every session's info; a
   Codex transcript records it too; for old sessions another session from the same
   origin folder may): this machine's checkout with the same normalised remote — the
   origin path itself if it exists here, else the folder of a local session of any
   tool, a ``[projects]`` value, an Aider root, or a checkout found by a bounded scan of
   the usual code roots (:mod:`lored.capture.scan`);
4. the very same path, when it exists here and no remote says it is another project.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from lored.capture.projects import normalise_remote
from lored.errors import LoreError

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
#: what a transcript's own id may look like to become part of a file name
_FILE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class RestoreError(LoreError):
    """The session cannot be restored."""

    code = "restore"


# --- target files ---------------------------------------------------------------------
def escape_claude_project(path: str) -> str:
    """Claude Code's folder name for a project: every non-alphanumeric char becomes ``-``.

    Claude Code escapes UTF-16 code units (JavaScript), so a character outside the Basic
    Multilingual Plane (an emoji) becomes two dashes.
    """
    return _NOT_ALNUM.sub(lambda m: "--" if ord(m.group(0)) > 0xFFFF else "-", path)


def safe_file_id(native_id: str) -> str:
    """``native_id`` when it is safe as part of a file name (no separators, no ``..``)."""
    if not _FILE_ID.fullmatch(native_id):
        raise RestoreError(f"the session id {native_id!r} cannot be used as a file name",
                           hint="this transcript cannot be restored; read it with "
                                "`lorectl sessions show`")
    return native_id


def claude_target(projects_root: Path, project_path: str, native_id: str) -> Path:
    """``<projects root>/<escaped project path>/<sessionId>.jsonl``."""
    return (projects_root / escape_claude_project(project_path)
            / f"{safe_file_id(native_id)}.jsonl")


def codex_target(codex_home: Path, native_id: str, started: datetime,
                 tz: tzinfo | None = None) -> Path:
    """``<CODEX_HOME>/sessions/YYYY/MM/DD/rollout-YYYY-MM-DDThh-mm-ss-<id>.jsonl``.

    Codex names the folder and file in local time (``tz``; None = this machine's zone).
    """
    local = started.astimezone(tz)
    name = f"rollout-{local:%Y-%m-%dT%H-%M-%S}-{safe_file_id(native_id)}.jsonl"
    return codex_home / "sessions" / f"{local:%Y}" / f"{local:%m}" / f"{local:%d}" / name


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp (``Z`` or offset) as an aware datetime, or None."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else None


# --- project mapping ------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    """File-system facts the mapping needs (real ones by default)."""

    is_dir: Callable[[str], bool] = os.path.isdir
    remote_of: Callable[[str], str | None] = field(default=lambda p: None)


@dataclass(frozen=True)
class ProjectMapping:
    """Where the origin project lives here, and how that was found."""

    local_path: str
    how: str  # "--to" | "config" | "git remote" | "same path"


def resolve_project(
    origin_path: str | None,
    origin_remote: str | None,
    *,
    to: str | None,
    config: Mapping[str, str],
    candidates: Iterable[str],
    probe: Probe,
) -> ProjectMapping:
    """This machine's folder for a session's project, or RestoreError naming ``--to``.

    ``candidates`` are local folders worth checking for the remote, most relevant first.
    """
    if to is not None:
        path = os.path.abspath(os.path.expanduser(to))
        if not probe.is_dir(path):
            raise RestoreError(f"--to {to}: no such directory",
                               hint="pass the folder of your checkout of the project")
        return ProjectMapping(path, "--to")
    if origin_path is None:
        raise RestoreError("the session does not record its project folder",
                           hint="choose the folder with --to PATH")
    key = normalise_remote(origin_remote)
    for name, local in config.items():
        if name.rstrip("/") == origin_path.rstrip("/") or (
            key is not None and normalise_remote(name) == key
        ):
            local = os.path.expanduser(local)
            if not probe.is_dir(local):
                raise RestoreError(
                    f"[projects] in config.toml maps {name} to {local}, which does not exist",
                    hint="fix the [projects] entry, or choose the folder with --to PATH")
            return ProjectMapping(local, "config")
    if key is not None:
        for path in _unique(itertools.chain([origin_path], candidates)):
            if probe.is_dir(path) and normalise_remote(probe.remote_of(path)) == key:
                return ProjectMapping(path, "git remote")
    if probe.is_dir(origin_path):
        here = normalise_remote(probe.remote_of(origin_path))
        if key is None or here is None:
            return ProjectMapping(origin_path, "same path")
    raise _no_mapping(origin_path, origin_remote)


def _no_mapping(origin_path: str, remote: str | None) -> RestoreError:
    hint = ("pass --to PATH (your checkout of the project), or map it once in config.toml: "
            f'[projects] "{remote or origin_path}" = "/path/to/checkout"')
    if remote:
        return RestoreError(
            f"no checkout of {remote} (origin folder {origin_path}) is known on this machine",
            hint=hint)
    return RestoreError(
        f"{origin_path} does not exist on this machine and the session does not record "
        "its git remote, so its checkout here cannot be found", hint=hint)


def _unique(paths: Iterable[str]) -> Iterator[str]:
    """Each path once, lazily (the candidates may end in a scan of the code roots)."""
    seen: set[str] = set()
    for p in paths:
        p = p.rstrip("/") or "/"
        if p not in seen:
            seen.add(p)
            yield p


def origin_remote(
    parsed_remote: str | None,
    origin_path: str | None,
    origin_machine: str,
    known: Iterable[tuple[str, str | None, str, bool]],
) -> str | None:
    """The project's git remote: from the transcript, else from another session.

    ``known`` rows are (project path, remote, origin machine id, local) from the store: a
    Codex session in the same origin folder records the remote a Claude Code one lacks.
    """
    if parsed_remote:
        return parsed_remote
    if not origin_path:
        return None
    for path, remote, machine, _local in known:
        if remote and machine == origin_machine and path.rstrip("/") == origin_path.rstrip("/"):
            return remote
    return None


def local_candidates(
    known: Iterable[tuple[str, str | None, str, bool]],
    config: Mapping[str, str],
    extra: Iterable[str] = (),
) -> Iterator[str]:
    """Folders of this machine worth checking, lazily: the projects of every session this
    machine captured (any tool), then config values, then ``extra`` (Aider roots, then a
    bounded scan of the usual code roots)."""
    own = [path for path, _remote, _machine, local in known if local]
    conf = [os.path.expanduser(v) for v in config.values()]
    return _unique(itertools.chain(own, conf, extra))
