"""Where each tool keeps its transcripts: discovery of capture sources (file-system I/O).

A :class:`Source` is one thing the importer reads: an append-only file (Claude Code,
Codex, Gemini JSONL) whose payload is the file's bytes after an optional header, or
something rendered into canonical payloads (Gemini JSON, Aider history, OpenCode).
Parsers stay pure; everything that touches the tools' directories lives here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from lored.capture import aider, claude, gemini
from lored.config import Settings


@dataclass(frozen=True)
class Source:
    """One capture source.

    ``key`` is its row in the store's ``sources`` table; ``files`` are stat'ed to tell
    whether anything changed (the first is the main file). With ``append`` the payload
    is ``header`` + the main file's bytes and grows by reading only new bytes; otherwise
    ``render()`` reads the files and returns one payload per session they hold.
    """

    tool: str
    key: str
    files: tuple[Path, ...]
    append: bool
    header: bytes = b""
    render: Callable[[], list[bytes]] | None = None


@dataclass
class Context:
    """What discovery may consult: the environment, the settings, known project paths."""

    settings: Settings
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    known_projects: list[str] = field(default_factory=list)

    @property
    def home(self) -> Path:
        """The user's home directory, from HOME in the given environment."""
        return Path(self.env.get("HOME") or Path.home())

    def tool_dir(self, tool: str, env_var: str | None, default: Path) -> Path:
        """``[capture] <tool>_dir`` in config.toml, else the tool's variable, else default."""
        capture = self.settings.raw.get("capture")
        if isinstance(capture, dict):
            override = capture.get(f"{tool.replace('-', '_')}_dir")
            if isinstance(override, str) and override:
                return Path(override).expanduser()
        if env_var and self.env.get(env_var):
            return Path(self.env[env_var]).expanduser()
        return default


def sorted_files(paths: Iterable[Path]) -> list[Path]:
    """The regular files among ``paths``, sorted (stable scan order)."""
    return sorted(p for p in paths if p.is_file())


# --- Claude Code ---------------------------------------------------------------------
def claude_root(ctx: Context) -> Path:
    """``$CLAUDE_CONFIG_DIR`` (else ``~/.claude``)``/projects``."""
    return ctx.tool_dir("claude-code", "CLAUDE_CONFIG_DIR", ctx.home / ".claude") / "projects"


def discover_claude(ctx: Context) -> list[Source]:
    """Every session file, with its sub-agent files after it (they are never sessions).

    A session's source lists ``(session file, *agent files)``: ``<sessionId>/subagents/
    agent-*.jsonl`` by folder, and older ``agent-*.jsonl`` beside the sessions by the
    ``sessionId`` their first record names. Agent files of a session file that is gone
    are left alone.
    """
    root = claude_root(ctx)
    sessions, old_agents, agents = _scan_claude(root)
    for p in old_agents:
        parent = _claude_agent_parent(p)
        if parent:
            agents.setdefault(p.parent / f"{parent}.jsonl", []).append(p)
    return [Source(claude.TOOL, str(p), (p, *sorted(agents.get(p, []))), append=True)
            for p in sessions]


def _scan_claude(root: Path) -> tuple[list[Path], list[Path], dict[Path, list[Path]]]:
    """One ``scandir`` pass over ``root/*/``: (session files, old-layout ``agent-*.jsonl``
    beside them, ``<session file> -> its <sessionId>/subagents/agent-*.jsonl``), sorted.

    The directory entries' types come with the listing, so an unchanged corpus costs no
    stat here (three ``Path.glob`` calls plus an ``is_file`` each took 80 ms at 2,000
    sessions; the importer stats each file once anyway).
    """
    sessions: list[str] = []
    old_agents: list[str] = []
    agents: dict[Path, list[Path]] = {}
    for project in _entries(str(root)):
        if not project.is_dir():
            continue
        for entry in _entries(project.path):
            name = entry.name
            if name.endswith(".jsonl") and entry.is_file():
                if name.startswith("agent-"):
                    old_agents.append(entry.path)
                elif not claude.is_subagent_file(name, (project.name, name)):
                    sessions.append(entry.path)
            elif entry.is_dir():
                found = [a.path for a in _entries(os.path.join(entry.path, "subagents"))
                         if a.name.startswith("agent-") and a.name.endswith(".jsonl")
                         and a.is_file()]
                if found:
                    agents[Path(project.path, f"{name}.jsonl")] = [Path(a) for a in sorted(found)]
    # strings sort (and become Paths) far faster than Path objects compare
    return ([Path(p) for p in sorted(sessions)], [Path(p) for p in sorted(old_agents)],
            agents)


def _entries(path: str) -> list[os.DirEntry[str]]:
    """The entries of directory ``path`` ([] when it is missing or unreadable)."""
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []


#: (path, inode) -> the parent session id an old-layout agent file names
_AGENT_PARENTS: dict[tuple[str, int], str] = {}


def _claude_agent_parent(path: Path) -> str | None:
    """The ``sessionId`` in the first records of an old-layout agent file (cached)."""
    try:
        ino = path.stat().st_ino
        if (str(path), ino) in _AGENT_PARENTS:
            return _AGENT_PARENTS[(str(path), ino)]
        with path.open("rb") as fh:
            head = fh.read(256 * 1024)
    except OSError:
        return None
    for raw in head.split(b"\n")[:50]:
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        sid = rec.get("sessionId") if isinstance(rec, dict) else None
        if isinstance(sid, str) and sid and "/" not in sid and sid not in (".", ".."):
            if len(_AGENT_PARENTS) > 10_000:
                _AGENT_PARENTS.clear()
            _AGENT_PARENTS[(str(path), ino)] = sid
            return sid
    return None


# --- Codex ---------------------------------------------------------------------------
def codex_home(ctx: Context) -> Path:
    """``$CODEX_HOME``, else ``~/.codex``."""
    return ctx.tool_dir("codex", "CODEX_HOME", ctx.home / ".codex")


def discover_codex(ctx: Context) -> list[Source]:
    """Rollout files under ``sessions/`` and ``archived_sessions/``."""
    base = codex_home(ctx)
    found: list[Path] = []
    for sub in ("sessions", "archived_sessions"):
        if (base / sub).is_dir():
            found += sorted_files((base / sub).rglob("*.jsonl"))
    return [Source("codex", str(p), (p,), append=True) for p in found]


# --- Gemini CLI ----------------------------------------------------------------------
def gemini_home(ctx: Context) -> Path:
    """``~/.gemini`` (or ``[capture] gemini_dir``)."""
    return ctx.tool_dir("gemini", None, ctx.home / ".gemini")


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def gemini_project_resolver(ctx: Context) -> Callable[[Path], str | None]:
    """A function from a ``tmp/<folder>`` path to its project root, or None if unknown.

    Tries ``projects.json`` (path -> slug), then ``<folder>/.project_root``, then the
    sha256 of every known project path against a 64-hex folder name (older layout).
    """
    registry = _read_json(gemini_home(ctx) / "projects.json")
    projects = registry.get("projects") if isinstance(registry, dict) else None
    by_slug = {
        str(slug): str(path)
        for path, slug in (projects.items() if isinstance(projects, dict) else [])
    }
    candidates = {*ctx.known_projects, *by_slug.values(), *ctx.settings.aider_roots}
    candidates |= {v for v in ctx.settings.projects.values() if v.startswith("/")}
    by_hash = {hashlib.sha256(p.encode()).hexdigest(): p for p in candidates}

    def resolve(folder: Path) -> str | None:
        if folder.name in by_slug:
            return by_slug[folder.name]
        try:
            root = (folder / ".project_root").read_text(encoding="utf-8").strip()
        except OSError:
            root = ""
        if root:
            return root
        return by_hash.get(folder.name.lower())

    return resolve


def discover_gemini(ctx: Context) -> list[Source]:
    """Chats of every project folder: JSONL appended, JSON rendered whole."""
    tmp = gemini_home(ctx) / "tmp"
    if not tmp.is_dir():
        return []
    resolve = gemini_project_resolver(ctx)
    out: list[Source] = []
    for path in sorted_files(tmp.glob("*/chats/session-*.json*")):
        project = resolve(path.parent.parent)
        if path.suffix == ".jsonl":
            out.append(Source(gemini.TOOL, str(path), (path,), append=True,
                              header=gemini.render_header("jsonl", project)))
        elif path.suffix == ".json":
            out.append(Source(gemini.TOOL, str(path), (path,), append=False,
                              render=functools.partial(_render_gemini_json, path, project)))
    return out


def _render_gemini_json(path: Path, project: str | None) -> list[bytes]:
    # strict here: a half-written file fails this pass and is retried on the next change
    document = json.loads(path.read_bytes())
    return [gemini.render_json_payload(document, project)]


# --- Aider ---------------------------------------------------------------------------
AIDER_HISTORY = ".aider.chat.history.md"
AIDER_INPUTS = ".aider.input.history"


def aider_roots(ctx: Context) -> list[Path]:
    """Configured roots, the project paths of captured sessions, and the checkouts under
    the usual code roots (a bounded scan, cached: see :mod:`lored.capture.scan`)."""
    from lored.capture import scan

    roots = {Path(p).expanduser() for p in (*ctx.settings.aider_roots, *ctx.known_projects,
                                           *scan.cached_checkouts(ctx.home))}
    return sorted(roots)


def _local_offset(local: datetime) -> int:
    """Seconds east of UTC of this machine's time zone at a naive local time."""
    delta = local.astimezone().utcoffset()
    return int(delta.total_seconds()) if delta else 0


def discover_aider(ctx: Context) -> list[Source]:
    """``.aider.chat.history.md`` in every root (several sessions per file)."""
    out = []
    for root in aider_roots(ctx):
        history = root / AIDER_HISTORY
        if not history.is_file():
            continue
        inputs = root / AIDER_INPUTS
        files = (history, inputs) if inputs.is_file() else (history,)
        out.append(Source(aider.TOOL, str(history), files, append=False,
                          render=functools.partial(_render_aider, root, files)))
    return out


def _render_aider(root: Path, files: tuple[Path, ...]) -> list[bytes]:
    return aider.render_payloads(
        files[0].read_bytes(),
        project_path=str(root),
        history_file=str(files[0]),
        input_history=files[1].read_bytes() if len(files) > 1 else None,
        utc_offset=_local_offset,
    )
