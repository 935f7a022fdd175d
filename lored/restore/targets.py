"""Where each tool looks for a session, and the files restore writes there.

One function per tool turns a session's transcript (the payload without Lore's fork
header), already moved to this machine's checkout, into a :class:`Placement`: the
files to write, the capture source that will read them, and the id the tool's own
resume command takes. The formats are the tools' own (see docs/formats.md):

- Claude Code: ``<projects>/<escaped project path>/<sessionId>.jsonl``;
- Codex: ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-…-<id>.jsonl`` (local time);
- Gemini CLI: ``~/.gemini/tmp/<project dir>/chats/session-<YYYY-MM-DDTHH-MM>-<id8>.json[l]``
  where the project dir is the slug ``~/.gemini/projects.json`` gives the folder, else
  the sha256 of the folder's path (Gemini's ``Storage``/``ProjectRegistry``); a
  ``.project_root`` marker names the folder;
- OpenCode: rows in ``opencode.db`` when it exists (1.2+, :mod:`lored.restore.opencode_db`),
  else the JSON storage tree ``storage/session/<projectID>/<ses>.json``,
  ``message/<ses>/<msg>.json``, ``part/<msg>/<prt>.json``; the project id is the
  checkout's first root commit (``global`` outside git), as OpenCode computes it;
- Aider: the session's section appended to ``.aider.chat.history.md`` in the checkout.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from lored.capture import aider, gemini, opencode, sources
from lored.capture._common import canonical_json
from lored.model import ParsedSession
from lored.restore import opencode_db
from lored.restore.paths import (
    RestoreError,
    claude_target,
    codex_target,
    parse_time,
    safe_file_id,
)


@dataclass(frozen=True)
class FileWrite:
    """One file restore writes; ``replace`` files (markers, registries) are kept current
    without the never-clobber rule of transcripts."""

    path: Path
    data: bytes
    replace: bool = False


@dataclass(frozen=True)
class DbWrite:
    """A session restored into OpenCode's database instead of files."""

    path: Path
    project_id: str
    session: dict[str, Any]
    records: tuple[tuple[str, dict[str, Any]], ...]


@dataclass(frozen=True)
class Placement:
    """What restoring one session writes, and how capture will see it afterwards."""

    files: tuple[FileWrite, ...]  # the first is the transcript itself
    #: capture reads the main file as an append-only transcript (Claude, Codex, Gemini
    #: JSONL); otherwise capture renders it and may derive another id (Aider)
    append: bool
    #: the capture source key of the main file
    source_key: str
    #: the id the tool's resume command takes
    resume_id: str
    #: a shared file's bytes of this session (Aider: its section), to find it again
    match: bytes | None = None
    #: OpenCode 1.2+: rows for ``opencode.db`` (then ``files`` is the tree not written)
    db: DbWrite | None = None

    @property
    def main(self) -> FileWrite:
        """The transcript file."""
        return self.files[0]


def place_claude(ctx: sources.Context, parsed: ParsedSession, data: bytes, project: str
                 ) -> Placement:
    """Claude Code's project folder."""
    path = claude_target(sources.claude_root(ctx), project, parsed.native_id)
    return Placement((FileWrite(path, data),), True, str(path), parsed.native_id)


def place_codex(ctx: sources.Context, parsed: ParsedSession, data: bytes, project: str,
                tz: tzinfo | None = None) -> Placement:
    """Codex's dated sessions folder (named in this machine's local time)."""
    started = parse_time(parsed.started_at) or datetime.now(UTC)
    path = codex_target(sources.codex_home(ctx), parsed.native_id, started, tz)
    return Placement((FileWrite(path, data),), True, str(path), parsed.native_id)


def gemini_project_dir(ctx: sources.Context, project: str) -> tuple[Path, list[FileWrite]]:
    """Gemini's temp folder of ``project``, and the registry files that make it so."""
    home = sources.gemini_home(ctx)
    tmp = home / "tmp"
    extra: list[FileWrite] = []
    registry_file = home / "projects.json"
    registry = _json_file(registry_file)
    projects = registry.get("projects") if isinstance(registry, dict) else None
    if isinstance(projects, dict):  # newer Gemini: a short slug per project folder
        slug = projects.get(project)
        if not isinstance(slug, str) or not safe_slug(slug):
            taken = {str(v) for v in projects.values()}
            base = "".join(c if c.isalnum() or c in "-_" else "-" for c in
                           (Path(project).name or "project").lower()) or "project"
            slug, n = base, 1
            while slug in taken or (tmp / slug).exists():
                n += 1
                slug = f"{base}-{n}"
            updated = {**registry, "projects": {**projects, project: slug}}
            extra.append(FileWrite(registry_file,
                                   (json.dumps(updated, indent=2) + "\n").encode(), True))
        folder = tmp / slug
    else:  # older Gemini: the sha256 of the project folder's path
        folder = tmp / hashlib.sha256(project.encode()).hexdigest()
    marker = folder / ".project_root"
    if not marker.exists():
        extra.append(FileWrite(marker, project.encode(), True))
    return folder, extra


def safe_slug(slug: str) -> bool:
    """A registry slug usable as one folder name."""
    return bool(slug) and "/" not in slug and slug not in (".", "..")


def place_gemini(ctx: sources.Context, parsed: ParsedSession, data: bytes, project: str
                 ) -> Placement:
    """Gemini CLI's chats folder of the project; the file is the chat without Lore's
    header line (JSONL stays append-only, a JSON document stays one document)."""
    first, _, body = data.partition(b"\n")
    try:
        head = json.loads(first)
    except ValueError:
        head = None
    kind = head.get("kind") if isinstance(head, dict) and head.get("format") == gemini.FORMAT \
        else None
    if kind is None:
        raise RestoreError("this Gemini session's payload has no Lore header",
                           hint="pull it again with a current Lore, then restore")
    old = parsed.project_path
    if kind == "json" and old and old != project:  # the document names its folder's hash
        body = body.replace(hashlib.sha256(old.encode()).hexdigest().encode(),
                            hashlib.sha256(project.encode()).hexdigest().encode())
    folder, extra = gemini_project_dir(ctx, project)
    started = parse_time(parsed.started_at) or datetime.now(UTC)
    native = safe_file_id(parsed.native_id)
    name = f"session-{started.astimezone(UTC):%Y-%m-%dT%H-%M}-{native[:8]}.{kind}"
    path = folder / "chats" / name
    return Placement((FileWrite(path, body), *extra), kind == "jsonl", str(path), native)


def opencode_project_id(project: str) -> str:
    """OpenCode's project id: the checkout's first root commit, else ``global``."""
    try:
        out = subprocess.run(["git", "-C", project, "rev-list", "--max-parents=0", "--all"],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "global"
    roots = sorted(line.strip() for line in out.stdout.splitlines() if line.strip())
    return roots[0] if out.returncode == 0 and roots else "global"


def place_opencode(ctx: sources.Context, parsed: ParsedSession, data: bytes, project: str
                   ) -> Placement:
    """OpenCode's JSON storage tree, one file per session, message and part."""
    from lored.capture import opencode_io

    session: dict[str, Any] = {}
    records: list[tuple[str, dict[str, Any]]] = []
    for line in data.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict):
            continue
        if rec.get("format") == opencode.FORMAT and isinstance(rec.get("session"), dict):
            session = dict(rec["session"])
        for kind in ("message", "part"):
            if isinstance(rec.get(kind), dict):
                records.append((kind, rec[kind]))
    sid = safe_file_id(str(session.get("id") or parsed.native_id))
    storage = opencode_io.data_dir(ctx) / "storage"
    pid = opencode_project_id(project)
    session["projectID"] = pid
    session.setdefault("directory", project)
    files = [FileWrite(storage / "session" / pid / f"{sid}.json", _pretty(session))]
    for kind, rec in records:
        rid = safe_file_id(str(rec.get("id") or ""))
        owner = sid if kind == "message" else safe_file_id(str(rec.get("messageID") or ""))
        files.append(FileWrite(storage / kind / owner / f"{rid}.json", _pretty(rec)))
    db = opencode_db.database(opencode_io.data_dir(ctx))
    if db is not None:  # OpenCode 1.2+ reads only its database
        return Placement(tuple(files), False, str(db), sid,
                         db=DbWrite(db, pid, session, tuple(records)))
    return Placement(tuple(files), False, str(files[0].path), sid)


def place_aider(ctx: sources.Context, parsed: ParsedSession, data: bytes, project: str
                ) -> Placement:
    """The session's section appended to the checkout's ``.aider.chat.history.md``."""
    _, _, section = data.partition(b"\n")
    if not section.startswith(aider.START):
        raise RestoreError("this Aider session's payload holds no chat section",
                           hint="pull it again with a current Lore, then restore")
    path = Path(project) / sources.AIDER_HISTORY
    try:
        existing = path.read_bytes()
    except FileNotFoundError:
        existing = b""
    except OSError as exc:
        raise RestoreError(f"cannot read {path}: {exc.strerror}",
                           hint="check the folder's permissions") from None
    section = section if section.endswith(b"\n") else section + b"\n"
    if section in existing:
        merged = existing
    else:  # Aider itself starts every session with a blank line
        sep = b"" if not existing else (b"\n" if existing.endswith(b"\n") else b"\n\n")
        merged = existing + sep + section
    return Placement((FileWrite(path, merged),), False, str(path), parsed.native_id,
                     match=section)


def _json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _pretty(obj: dict[str, Any]) -> bytes:
    """OpenCode writes its records as indented JSON."""
    return (json.dumps(json.loads(canonical_json(obj)), indent=2, ensure_ascii=False)
            + "\n").encode()
