"""Redaction of this machine's own copy (``[privacy] redact = "everywhere"``) and of
what the local read-only views hand out (the MCP server).

The tags of the local copy are keyed by a per-machine secret, ``redact.key`` (0600,
created on first use): redaction must work before any login, and the key never leaves
the machine. What is pushed is redacted again with the account's data key (see
``sync.push``); an already redacted line passes through unchanged, because a tag is
never itself a finding.
"""

from __future__ import annotations

import os
from pathlib import Path

from lored.config import Settings, write_secret
from lored.model import ParsedSession
from lored.secrets.policy import Policy
from lored.secrets.redact import Redactor

_KEY_FILE = "redact.key"
_cache: dict[tuple[Path, str, tuple[str, ...]], Redactor] = {}


def policy_of(settings: Settings) -> Policy:
    """``[privacy] redact`` / ``redact_allow`` of these settings as the rules."""
    mode = settings.privacy_redact
    return Policy(mode if mode in ("sync", "everywhere", "off") else "sync",  # type: ignore[arg-type]
                  settings.privacy_redact_allow, cache_dir=str(settings.paths.data_dir))


def local_secret(settings: Settings) -> bytes:
    """This machine's redaction tag secret (read, or created 0600 on first use)."""
    path = settings.paths.data_dir / _KEY_FILE
    try:
        data = path.read_bytes()
        if len(data) == 32:
            return data
    except FileNotFoundError:
        pass
    data = os.urandom(32)
    write_secret(path, data)
    return data


def local_redactor(settings: Settings, *, always: bool = False) -> Redactor | None:
    """The redactor for the local copy: only in ``"everywhere"`` mode, unless ``always``
    (the MCP server redacts whatever the mode); None when nothing is to be redacted."""
    policy = policy_of(settings)
    if not (policy.local or always):
        return None
    key = (settings.paths.data_dir, policy.mode, policy.allow)
    if key not in _cache:
        _cache[key] = policy.redactor(local_secret(settings))
    return _cache[key]


def redact_parsed(redactor: Redactor, parsed: ParsedSession) -> ParsedSession:
    """Every text of a parsed session (title, messages, their extras) redacted in place."""
    if parsed.title:
        parsed.title = redactor.redact_text(parsed.title)
    for m in parsed.messages:
        m.text = redactor.redact_text(m.text)
        if m.extra:
            m.extra = redactor.redact_obj(m.extra)
    return parsed
