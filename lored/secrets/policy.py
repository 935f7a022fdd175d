"""``[privacy] redact`` / ``redact_allow``: which copies are redacted, and a fingerprint
of the rules so a change of rules re-pushes what it affects (once, as new generations)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal

from lored.secrets.detect import PATTERNS, Detector, build_detector
from lored.secrets.redact import Redactor, redaction_key

Mode = Literal["sync", "everywhere", "off"]
MODES: tuple[Mode, ...] = ("sync", "everywhere", "off")
#: bump when the built-in patterns change meaning, so pushed sessions are redone once
RULES_VERSION = 1


@dataclass(frozen=True)
class Policy:
    """The effective redaction rules of this machine."""

    mode: Mode = "sync"
    allow: tuple[str, ...] = ()
    #: where detect-secrets' patterns are cached (see ``library``); not part of the rules
    cache_dir: str | None = field(default=None, compare=False)

    @property
    def upstream(self) -> bool:
        """True when what leaves the machine is redacted."""
        return self.mode != "off"

    @property
    def local(self) -> bool:
        """True when the local archive and its search index are redacted too."""
        return self.mode == "everywhere"

    def detector(self) -> Detector:
        """The compiled detector for these rules."""
        return build_detector(self.allow, cache_dir=self.cache_dir)

    def redactor(self, secret: bytes) -> Redactor:
        """A redactor whose tags are keyed by ``secret`` (a data key or local secret)."""
        return Redactor(self.detector(), redaction_key(secret))

    def fingerprint(self) -> str:
        """Changes whenever what gets pushed would change (mode on/off, allow-list, rules)."""
        doc = {"v": RULES_VERSION, "on": self.upstream, "allow": list(self.allow),
               "patterns": hashlib.sha256(repr(PATTERNS).encode()).hexdigest()[:16]}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]

