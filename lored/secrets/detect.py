"""Secret detection: Lore's provider patterns plus detect-secrets' (Yelp) regex plugins.

Pure: bytes in, spans out. Every pattern is *line-local* (it never matches across a
raw newline) and its secret part never contains ``"`` or ``\\``, so replacing it keeps a
JSON line valid JSON. Inside JSON strings a newline is the two bytes ``\\n``; the
boundaries below accept that escape as a line start so ``.env`` text pasted into a
tool's JSON transcript is still found.

What is deliberately *not* matched (transcripts are full of them): UUIDs, git SHAs and
other bare hex, base64 images, lockfile integrity hashes, high-entropy strings in
general (detect-secrets' entropy and keyword plugins are left out for that reason).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

# a token starts at a non-word byte, or right after a JSON escape \n \r \t
_B = rb"(?:(?<![A-Za-z0-9_\-])|(?<=\\[nrt]))"
# a token ends before a non-token byte
_E = rb"(?![A-Za-z0-9_\-])"
_LINE_START = rb"(?:^|(?<=\\n)|(?<=[\s\"'`;]))"
_ENV_NAME = (rb"[A-Za-z_][A-Za-z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|PWD|API_?KEY|"
             rb"ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH_?KEY|SIGNING_?KEY)[A-Za-z0-9_]*")

#: (kind, pattern); a named group ``s`` marks the secret part, else the whole match.
#: Order matters: the first pattern to claim a span names its kind.
PATTERNS: tuple[tuple[str, bytes], ...] = (
    ("private-key", rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
                    rb"(?:(?:[A-Za-z0-9+/=: ,\-\t]|\\[nrt])*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY"
                    rb"(?: BLOCK)?-----|[^\"\\\n]*)"),
    # a raw (multi-line) PEM body line: 64 base64 bytes with both cases (not a hex digest)
    ("private-key", rb"^(?=[^\n]*[A-Z])(?=[^\n]*[a-z])[A-Za-z0-9+/]{64}$"),
    ("aws-access-key", _B + rb"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}" + _E),
    ("aws-secret-key", rb"(?i:aws[A-Za-z0-9_\-. ]{0,20}?(?:secret|sk)[A-Za-z0-9_\-. ]{0,20}?)"
                       rb"(?:\\?[\"'])?[ \t]*[:=][ \t]*(?:\\?[\"'])?"
                       rb"(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"),
    ("github-token", _B + rb"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{50,})" + _E),
    ("gitlab-token", _B + rb"gl(?:pat|ptt|dt|rt|cbt|imt|oas|soat|ft|agent)-[A-Za-z0-9_\-]{20,}"
                     + _E),
    ("slack-token", _B + rb"xox[abposre]-[A-Za-z0-9\-]{10,}" + _E),
    ("slack-webhook", rb"https://hooks\.slack\.com/(?:services|workflows)/"
                      rb"(?P<s>[A-Za-z0-9_/\-]{20,})"),
    ("stripe-key", _B + rb"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}" + _E),
    ("anthropic-key", _B + rb"sk-ant-[A-Za-z0-9_\-]{32,}" + _E),
    ("openai-key", _B + rb"sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{32,}" + _E),
    ("google-api-key", _B + rb"AIza[0-9A-Za-z_\-]{35}" + _E),
    ("jwt", _B + rb"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}" + _E),
    ("url-password", rb"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^\s:/@\"'\\<>]{1,64}:"
                     rb"(?P<s>[^\s@/\"'\\<>]{3,128})@[A-Za-z0-9.\-\[]"),
    ("env-secret", _LINE_START + rb"(?:export[ \t]+)?" + _ENV_NAME +
                   rb"[ \t]*[:=][ \t]*(?:\\?[\"'])?(?P<s>[^\s\"'\\`]{8,})"),
)

#: detect-secrets plugins whose regexes we add (module, class); entropy, keyword,
#: public-IP and the providers covered above are left out on purpose
_LIBRARY_PLUGINS = (
    ("artifactory", "ArtifactoryDetector"), ("azure_storage_key", "AzureStorageKeyDetector"),
    ("discord", "DiscordBotTokenDetector"), ("mailchimp", "MailchimpDetector"),
    ("npm", "NpmDetector"), ("pypi_token", "PypiTokenDetector"),
    ("sendgrid", "SendGridDetector"), ("square_oauth", "SquareOAuthDetector"),
    ("telegram_token", "TelegramBotTokenDetector"), ("twilio", "TwilioKeyDetector"),
    ("ibm_cos_hmac", "IbmCosHmacDetector"),
)

#: values that are documentation placeholders, not secrets
_PLACEHOLDER = re.compile(
    rb"(?i)example|placeholder|changeme|change_me|your[_\-]|<[^>]*>|\$\{|\{\{|^x{6,}$|^\*+$"
    rb"|redacted|^(.)\1+$")


@dataclass(frozen=True)
class Finding:
    """One secret: its kind and byte span within the scanned line (never its text)."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Detector:
    """Compiled patterns plus the user's allow-list (``[privacy] redact_allow``)."""

    patterns: tuple[tuple[str, re.Pattern[bytes]], ...]
    allow: tuple[re.Pattern[bytes], ...] = ()

    def findings(self, data: bytes) -> list[Finding]:
        """Non-overlapping secrets of ``data`` (one line or many), left to right.

        A span never crosses a newline, and lookarounds only peek at the newline byte
        itself, so scanning a whole payload finds exactly what scanning each line would.
        """
        claimed: list[Finding] = []
        for kind, pattern in self.patterns:
            named = "s" in pattern.groupindex
            for m in pattern.finditer(data):
                start, end = m.span("s") if named else m.span()
                if (start < 0 or end <= start or data.find(b"\n", start, end) >= 0
                        or self._allowed(data[start:end])):
                    continue
                start, end = _json_safe(data, start, end)
                if end > start and not _overlaps(claimed, start, end):
                    claimed.append(Finding(kind, start, end))
        claimed.sort(key=lambda f: f.start)
        return claimed

    def _allowed(self, secret: bytes) -> bool:
        if _PLACEHOLDER.search(secret):
            return True
        return any(a.search(secret) for a in self.allow)


def _overlaps(claimed: list[Finding], start: int, end: int) -> bool:
    return any(f.start < end and start < f.end for f in claimed)


def _json_safe(line: bytes, start: int, end: int) -> tuple[int, int]:
    """Shrink a span so replacing it cannot break a JSON string: never start inside an
    escape, end before a bare quote, and swallow only whole escapes (``\\n``, ``\\u00e9``)."""
    while start < end and _escaped(line, start):
        start += 1
    i = start
    while i < end:
        b = line[i]
        if b == 0x22:  # a bare quote ends the string
            return start, i
        if b == 0x5C:
            width = 6 if line[i + 1:i + 2] == b"u" else 2
            if i + width > end:
                return start, i
            i += width
        else:
            i += 1
    return start, end


def _escaped(line: bytes, pos: int) -> bool:
    n = 0
    while pos - n - 1 >= 0 and line[pos - n - 1] == 0x5C:
        n += 1
    return n % 2 == 1


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def library_patterns() -> list[tuple[str, re.Pattern[bytes]]]:
    """detect-secrets' denylist regexes (str patterns, recompiled over bytes)."""
    import importlib

    out: list[tuple[str, re.Pattern[bytes]]] = []
    for module, cls in _LIBRARY_PLUGINS:
        try:
            plugin = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), cls)
        except (ImportError, AttributeError):  # a plugin renamed upstream: keep the rest
            continue
        for rx in getattr(plugin, "denylist", ()):
            source = rx.pattern if isinstance(rx, re.Pattern) else str(rx)
            flags = rx.flags & re.IGNORECASE if isinstance(rx, re.Pattern) else 0
            # line-local: '.' never crosses a newline over bytes either; drop '.*' tails
            source = source.removesuffix(".*")
            try:
                out.append((_slug(plugin.secret_type),
                            re.compile(source.encode(), flags)))
            except re.error:
                continue
    return out


@lru_cache(maxsize=16)
def build_detector(allow: Sequence[str] = (), *, library: bool = True) -> Detector:
    """The detector for an allow-list (cached: compiling ~30 regexes once per rule set)."""
    ours = [(kind, re.compile(p, re.MULTILINE)) for kind, p in PATTERNS]
    extra = library_patterns() if library else []
    return Detector(tuple(ours + extra),
                    tuple(re.compile(a.encode()) for a in allow))


def line_numbers(data: bytes, offsets: Iterator[int] | list[int]) -> list[int]:
    """1-based line number of each (ascending) byte offset into ``data``."""
    out, line, pos = [], 1, 0
    for off in offsets:
        line += data.count(b"\n", pos, off)
        pos = off
        out.append(line)
    return out
