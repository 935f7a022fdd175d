"""detect-secrets' plugin regexes, read in a child process and cached as JSON.

Importing detect-secrets costs a process ~18 MB (it pulls in requests, urllib3 and its
own scanning framework) for a handful of regexes; the daemon must idle under 60 MB. So
the plugins' public ``denylist`` is read once per detect-secrets version by a short-lived
child (``python -m lored.secrets.library``) and cached next to the archive. The only I/O
of the secrets room lives here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

#: (module, class) of the plugins whose regexes Lore adds
PLUGINS: tuple[tuple[str, str], ...] = (
    ("artifactory", "ArtifactoryDetector"), ("azure_storage_key", "AzureStorageKeyDetector"),
    ("mailchimp", "MailchimpDetector"), ("npm", "NpmDetector"),
    ("pypi_token", "PypiTokenDetector"), ("sendgrid", "SendGridDetector"),
    ("square_oauth", "SquareOAuthDetector"),
)
#: one plugin's patterns: (module, secret_type, [(regex source, re flags)])
Entry = tuple[str, str, list[tuple[str, int]]]


def read_plugins() -> list[Entry]:
    """In *this* process: import each plugin and read its public ``denylist``."""
    import importlib
    import re

    out: list[Entry] = []
    for module, cls in PLUGINS:
        try:
            plugin = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), cls)
        except (ImportError, AttributeError):  # a plugin renamed upstream: keep the rest
            continue
        pats = []
        for rx in getattr(plugin, "denylist", ()):
            if isinstance(rx, re.Pattern):
                pats.append((rx.pattern, int(rx.flags & re.IGNORECASE)))
            else:
                pats.append((str(rx), 0))
        out.append((module, str(plugin.secret_type), pats))
    return out


def load(cache_dir: Path | None) -> list[Entry]:
    """The plugins' patterns: from the cache for this detect-secrets version, else read by
    a child process (and cached when ``cache_dir`` is given). Empty if unavailable."""
    try:
        version = metadata.version("detect-secrets")
    except metadata.PackageNotFoundError:
        return []
    cache = cache_dir / f"secret-patterns-{version}.json" if cache_dir else None
    if cache is not None:
        try:
            return [(m, t, [(s, f) for s, f in p]) for m, t, p in json.loads(cache.read_text())]
        except (OSError, ValueError, TypeError):
            pass  # absent or damaged: read again
    try:
        proc = subprocess.run([sys.executable, "-m", "lored.secrets.library"],
                              capture_output=True, text=True, timeout=60, check=True)
        entries = [(m, t, [(s, f) for s, f in p]) for m, t, p in json.loads(proc.stdout)]
    except (OSError, subprocess.SubprocessError, ValueError, TypeError):
        return []  # our own patterns still apply
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(entries))
            os.replace(tmp, cache)
        except OSError:
            pass  # read-only data dir: the child runs again next time
    return entries


if __name__ == "__main__":
    json.dump(read_plugins(), sys.stdout)
