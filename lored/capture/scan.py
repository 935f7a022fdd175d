"""Finding this machine's git checkouts where people usually keep code (file-system I/O).

Used by restore (a pulled session's checkout) and by capture (Aider keeps its history
inside each project, so its files are looked for in every checkout found here).

When a pulled session's project is known only by its git remote, and no session of this
machine was made in that project yet, its checkout is looked for under the usual code
roots (``~/src``, ``~/code``, ``~/projects``, ``~/work``, ``~/dev``, ``~/git`` and a
few more). The walk is bounded — a depth limit, a folder budget, and it never descends
into a checkout, ``node_modules``, virtualenvs or hidden folders — so it stays well
under a second on a full home folder, and it is lazy: the caller stops it at the first
checkout whose remote matches.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

#: folders under HOME where checkouts usually live, most common first
CODE_ROOTS = ("src", "code", "projects", "work", "dev", "git", "repos", "workspace",
              "Developer", "Documents/GitHub", "Projects", "Code")
MAX_DEPTH = 4
#: folders looked at, at most, across all roots (keeps a huge home folder fast)
MAX_FOLDERS = 20_000
_SKIP = frozenset({"node_modules", "venv", "env", "__pycache__", "site-packages", "target",
                   "build", "dist", "vendor", "Library", "go"})


def checkouts(home: Path, roots: tuple[str, ...] = CODE_ROOTS, *, max_depth: int = MAX_DEPTH,
              max_folders: int = MAX_FOLDERS) -> Iterator[str]:
    """Git checkouts (folders holding ``.git``) under the code roots, breadth first."""
    budget = max_folders
    seen: set[tuple[int, int]] = set()
    for name in roots:
        level = [home / name]
        for _depth in range(max_depth + 1):
            deeper: list[Path] = []
            for folder in level:
                if budget <= 0:
                    return
                budget -= 1
                try:
                    st = folder.stat()
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) in seen:
                    continue  # a root reached twice (a symlink, ~/Code == ~/code)
                seen.add((st.st_dev, st.st_ino))
                if os.path.lexists(folder / ".git"):
                    yield str(folder)
                    continue  # a checkout's own folders are not other checkouts
                deeper.extend(_subfolders(folder))
            level = deeper
            if not level:
                break


_CACHE: dict[Path, tuple[float, list[str]]] = {}
#: a capture pass reuses the last scan this long (the daemon polls Aider often)
CACHE_SECONDS = 300.0


def cached_checkouts(home: Path, *, now: float | None = None) -> list[str]:
    """All checkouts under the code roots, rescanned at most every CACHE_SECONDS."""
    import time

    t = time.monotonic() if now is None else now
    hit = _CACHE.get(home)
    if hit is not None and t - hit[0] < CACHE_SECONDS:
        return hit[1]
    found = list(checkouts(home))
    _CACHE[home] = (t, found)
    return found


def _subfolders(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as it:
            entries = [e for e in it if not e.name.startswith(".") and e.name not in _SKIP
                       and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    return [Path(e.path) for e in sorted(entries, key=lambda e: e.name)]
