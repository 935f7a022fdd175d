"""Projects across machines: a key from the git remote, so checkouts at different paths
(``/home/ana/src/webapp``, ``/Users/ana/code/webapp``) group as one project.

``git_remote(path)`` reads ``.git/config`` directly (no ``git`` process, works for
worktrees and submodules whose ``.git`` is a file); ``project_key`` normalises the URL.
"""

from __future__ import annotations

import re
from pathlib import Path

_SCP_LIKE = re.compile(r"^(?:[\w.+-]+@)?([\w.-]+):(?!//)(.+)$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/]+@)?([^/:]+)(?::\d+)?/(.+)$", re.IGNORECASE)


def normalise_remote(url: str | None) -> str | None:
    """``host/owner/repo`` (host lower-cased, no scheme, user, port or ``.git``), or None.

    ``git@github.com:ana/webapp.git`` and ``https://github.com/ana/webapp`` give the
    same key; local paths (``/srv/git/x.git``, ``file://…``) are kept as they are.
    """
    if not url or not url.strip():
        return None
    url = url.strip()
    m = _URL.match(url)
    if m and not url.lower().startswith("file:"):
        host, path = m.group(1), m.group(2)
    else:
        m = _SCP_LIKE.match(url)
        if not m or url.startswith("/"):
            return url.rstrip("/")
        host, path = m.group(1), m.group(2)
    path = path.strip("/")
    path = path[:-4] if path.endswith(".git") else path
    return f"{host.lower()}/{path}"


def project_key(git_remote: str | None, project_path: str | None) -> str | None:
    """The grouping key of a project: its normalised remote, else its path."""
    return normalise_remote(git_remote) or project_path


def _git_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():  # worktree / submodule: "gitdir: <path>"
            try:
                text = dot_git.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
            if text.startswith("gitdir:"):
                target = Path(text[len("gitdir:"):].strip())
                target = target if target.is_absolute() else folder / target
                common = target / "commondir"  # worktrees keep config in the main repo
                if common.is_file():
                    try:
                        return (target / common.read_text().strip()).resolve()
                    except OSError:
                        return target
                return target
            return None
    return None


def git_remote(path: str | None) -> str | None:
    """The URL of ``origin`` (else the first remote) of the checkout containing ``path``."""
    if not path:
        return None
    try:
        git = _git_dir(Path(path))
        if git is None:
            return None
        lines = (git / "config").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    remotes: dict[str, str] = {}
    section: str | None = None
    for line in lines:
        stripped = line.strip()
        m = re.match(r'^\[remote\s+"([^"]+)"\]$', stripped)
        if m:
            section = m.group(1)
            continue
        if stripped.startswith("["):
            section = None
            continue
        if section is not None and section not in remotes:
            key, _, value = stripped.partition("=")
            if key.strip().lower() == "url" and value.strip():
                remotes[section] = value.strip()
    return remotes.get("origin") or next(iter(remotes.values()), None)
