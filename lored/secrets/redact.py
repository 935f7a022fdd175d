"""Line-local, deterministic redaction of payload bytes.

Each secret becomes ``[REDACTED:<kind>:<6 hex>]``; the hex is a keyed BLAKE2b of the
secret (the key derived from the account's data key, or from a local secret), so the
same secret always gets the same tag without the tag being a plain hash an attacker
could confirm a guess against. The replacement holds no quote or backslash, so a JSON
line stays valid JSON. Redaction of one line depends on that line alone: a payload
that grew by whole lines redacts to the old redacted payload plus the redacted tail.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from lored.secrets.detect import Detector, Finding, line_numbers

#: tools whose transcripts are JSON Lines: a trailing line without its newline is still
#: being written, so it is held back until complete (never uploaded half-redacted)
LINE_TOOLS = frozenset({"claude-code", "codex"})
_PERSON = b"lore-redact-v1"


def redaction_key(secret: bytes) -> bytes:
    """The tag key derived from a data key or local secret (never the secret itself)."""
    return hashlib.blake2b(secret, digest_size=32, person=_PERSON).digest()


@dataclass(frozen=True)
class Redactor:
    """Applies a :class:`Detector` with a tag key; safe to share between threads."""

    detector: Detector
    key: bytes

    def __repr__(self) -> str:  # the key never prints
        return f"Redactor(patterns={len(self.detector.patterns)})"

    def tag(self, kind: str, secret: bytes) -> bytes:
        """``[REDACTED:kind:abcdef]`` for one secret."""
        digest = hashlib.blake2b(secret, digest_size=16, key=self.key).hexdigest()[:6]
        return f"[REDACTED:{kind}:{digest}]".encode()

    def redact(self, data: bytes) -> bytes:
        """``data`` with every finding replaced by its tag (the same object if none)."""
        found = self.detector.findings(data)
        if not found:
            return data
        out, pos = [], 0
        for f in found:
            out += [data[pos:f.start], self.tag(f.kind, data[f.start:f.end])]
            pos = f.end
        out.append(data[pos:])
        return b"".join(out)

    def redact_text(self, text: str) -> str:
        """A str through :meth:`redact` (UTF-8 round trip)."""
        raw = text.encode("utf-8", errors="surrogatepass")
        red = self.redact(raw)
        return text if red is raw else red.decode("utf-8", errors="surrogatepass")

    def redact_obj(self, obj: Any) -> Any:
        """Every string inside a JSON-like value redacted (the sealed session info)."""
        if isinstance(obj, str):
            return self.redact_text(obj)
        if isinstance(obj, dict):
            return {k: self.redact_obj(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.redact_obj(v) for v in obj]
        return obj

    def clean_mark(self, payload_hash: str) -> str:
        """The mark a payload with this digest gets when it has nothing to redact."""
        return clean_mark(self.detector, payload_hash)

    def for_push(self, data: bytes, tool: str) -> bytes:
        """What may leave the machine of a payload: complete lines redacted; for JSONL
        tools a trailing partial line is held back until its newline arrives."""
        if tool in LINE_TOOLS and data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n")
            data = data[:cut + 1] if cut >= 0 else b""
        return self.redact(data)


def clean_mark(detector: Detector, payload_hash: str) -> str:
    """``<detector fingerprint>:<payload digest>``: stored beside a payload that a scan
    found nothing in, it lets a push take the payload as it is (until the payload or
    the rules change, when it no longer matches)."""
    return f"{detector.fingerprint}:{payload_hash}"


def scan_mark(detector: Detector, payload: bytes, tool: str, payload_hash: str
              ) -> str | None:
    """The clean mark of ``payload`` when a push would send it unchanged: no secret in
    it and, for JSONL tools, no partial last line held back; None otherwise."""
    if tool in LINE_TOOLS and payload and not payload.endswith(b"\n"):
        return None
    if detector.findings(payload):
        return None
    return clean_mark(detector, payload_hash)


@dataclass(frozen=True)
class KindCount:
    """How often one kind of secret occurs in a payload, and on which line first."""

    kind: str
    count: int
    first_line: int


def scan(detector: Detector, data: bytes) -> list[KindCount]:
    """Per-kind counts and first line of the secrets in ``data`` (never the secrets)."""
    found: list[Finding] = detector.findings(data)
    if not found:
        return []
    lines = line_numbers(data, [f.start for f in found])
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for f, line in zip(found, lines, strict=True):
        counts[f.kind] += 1
        first.setdefault(f.kind, line)
    return [KindCount(k, counts[k], first[k]) for k in sorted(counts)]
