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

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

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
                    rb"(?: BLOCK)?-----|(?:\\[nrt]|[ \t])+[A-Za-z0-9+/=]{20,}[^\"\\\n]*)"),
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

_ENV_WORDS = (b"SECRET", b"TOKEN", b"PASSWORD", b"PASSWD", b"PWD", b"API_KEY", b"APIKEY",
              b"ACCESS_KEY", b"ACCESSKEY", b"PRIVATE_KEY", b"PRIVATEKEY", b"CREDENTIAL",
              b"AUTH_KEY", b"AUTHKEY", b"SIGNING_KEY", b"SIGNINGKEY")
#: literals one of which every match of the pattern at the same index of PATTERNS holds
#: (case-sensitive). A payload is searched for all of them at once (RE2, hundreds of MB/s)
#: and each pattern runs only around its own literals: Python's ``re`` over whole
#: transcripts would cost more than sealing them.
ANCHORS: tuple[tuple[bytes, ...], ...] = (
    (b"PRIVATE KEY",),
    (),  # the raw PEM body line: runs over the payload when it holds b"PRIVATE KEY"
    (b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"A3T"),
    (b"aws", b"AWS", b"Aws"),
    (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_"),
    (b"glpat-", b"glptt-", b"gldt-", b"glrt-", b"glcbt-", b"glimt-", b"gloas-", b"glsoat-",
     b"glft-", b"glagent-"),
    (b"xox",),
    (b"hooks.slack.com/",),
    (b"sk_live_", b"sk_test_", b"rk_live_", b"rk_test_"),
    (b"sk-ant-",),
    (b"sk-",),
    (b"AIza",),
    (b"eyJ",),
    (b"://",),
    _ENV_WORDS,
)

#: the literals each detect-secrets plugin's matches hold (see ``library.PLUGINS``).
#: Entropy, keyword, public-IP, the providers covered above, and plugins whose matches
#: hold no literal (Discord, Telegram, Twilio's bare ``AC``/``SK`` + hex: too costly to
#: look for everywhere, and noisy) or only a common word (IBM COS HMAC's ``secret``:
#: 40 times slower on transcripts) are left out on purpose
_LIBRARY_ANCHORS: dict[str, tuple[bytes, ...]] = {
    "artifactory": (b"AKC", *(b"AP" + bytes([c]) for c in b"0123456789ABCDEF")),
    "azure_storage_key": (b"AccountKey=",),
    "mailchimp": (b"-us",),
    "npm": (b":_authToken=",),
    "pypi_token": (b"pypi-AgE",),
    "sendgrid": (b"SG.",),
    "square_oauth": (b"sq0csp-",),
}
#: how far before its literal a match may start, and after it end (a private key block
#: runs to the end of its line)
_BACK, _FWD = 256, 4096
_PEM_GATE = b"PRIVATE KEY"

#: values that are documentation placeholders, not secrets
_PLACEHOLDER = re.compile(
    rb"(?i)example|placeholder|changeme|change_me|your[_\-]|<[^>]*>|\$\{|\{\{|^x{6,}$|^\*+$"
    rb"|redacted|^(.)\1+$|^(?:pass(?:word|wd)?|pwd|pw|secret|foo|bar|baz|test|user|x+)$")
#: kinds whose value part is free-form, so code that merely *names* a secret
#: (``_TOKEN = re.compile(``, ``OID_PRIVATE_KEY = ExtensionOID.X``) must not count
_FREE_FORM = frozenset({"env-secret", "url-password"})
_CODE_LIKE = re.compile(rb"[(){}\[\]<>,]|^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")
_HAS_DIGIT = re.compile(rb"[0-9]")
_MIXED_CASE = re.compile(rb"(?=.*[a-z])(?=.*[A-Z])")


def _plausible(kind: str, value: bytes) -> bool:
    """A free-form value looks like a secret: no code punctuation, and a digit or both
    letter cases (``SCHEMATHESIS-INVALID-VALUE`` is a constant, ``hunter2`` a password)."""
    if kind not in _FREE_FORM:
        return True
    if _CODE_LIKE.search(value):
        return False
    return bool(_HAS_DIGIT.search(value) or _MIXED_CASE.match(value))


@dataclass(frozen=True)
class Finding:
    """One secret: its kind and byte span within the scanned line (never its text)."""

    kind: str
    start: int
    end: int


#: bump when findings() changes how it judges the same patterns (windows, plausibility,
#: placeholders): a payload marked clean by an older scan is then scanned again
SCAN_VERSION = 1


@dataclass(frozen=True)
class Detector:
    """Compiled patterns (with their literals) plus the user's allow-list
    (``[privacy] redact_allow``)."""

    patterns: tuple[tuple[str, re.Pattern[bytes]], ...]
    allow: tuple[re.Pattern[bytes], ...] = ()
    anchors: tuple[tuple[bytes, ...], ...] = ()

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever the same bytes could be judged differently: the patterns,
        their literals, the allow-list, or the scanning logic (:data:`SCAN_VERSION`)."""
        doc = repr((SCAN_VERSION,
                    [(k, p.pattern, p.flags) for k, p in self.patterns],
                    [(a.pattern, a.flags) for a in self.allow], self.anchors))
        return hashlib.blake2b(doc.encode(), digest_size=12).hexdigest()

    def findings(self, data: bytes) -> list[Finding]:
        """Non-overlapping secrets of ``data`` (one line or many), left to right.

        A span never crosses a newline, and lookarounds only peek at the newline byte
        itself, so scanning a whole payload finds exactly what scanning each line would.
        Each pattern runs only in windows around its literals (see ``ANCHORS``).
        """
        windows = self._windows(data)
        if not windows:
            return []
        claimed: list[Finding] = []
        for index, (kind, pattern) in enumerate(self.patterns):
            spans = windows.get(index)
            if not spans:
                continue
            named = "s" in pattern.groupindex
            for lo, hi in spans:
                for m in pattern.finditer(data, lo, hi):
                    start, end = m.span("s") if named else m.span()
                    if (start < 0 or end <= start or data.find(b"\n", start, end) >= 0
                            or self._allowed(data[start:end])
                            or not _plausible(kind, data[start:end])):
                        continue
                    start, end = _json_safe(data, start, end)
                    if end > start and not _overlaps(claimed, start, end):
                        claimed.append(Finding(kind, start, end))
        claimed.sort(key=lambda f: f.start)
        return claimed

    def _windows(self, data: bytes) -> dict[int, list[tuple[int, int]]]:
        """Pattern index -> merged byte windows of ``data`` to run it over."""
        prefilter, owners = _prefilter(self.anchors)
        out: dict[int, list[tuple[int, int]]] = {}
        if _PEM_GATE in data:
            for i, a in enumerate(self.anchors):
                if not a:
                    out[i] = [(0, len(data))]
        for m in prefilter.finditer(data):
            pos = m.start()
            line_start = data.rfind(b"\n", 0, pos) + 1
            line_end = data.find(b"\n", pos)
            line_end = len(data) if line_end < 0 else line_end
            lo = max(line_start, pos - _BACK)
            for i in owners[m.group()]:
                hi = line_end if i == 0 else min(line_end, pos + _FWD)
                spans = out.setdefault(i, [])
                if spans and lo <= spans[-1][1]:
                    spans[-1] = (spans[-1][0], max(spans[-1][1], hi))
                else:
                    spans.append((lo, hi))
        return out

    def _allowed(self, secret: bytes) -> bool:
        if _PLACEHOLDER.search(secret):
            return True
        return any(a.search(secret) for a in self.allow)


@lru_cache(maxsize=16)
def _prefilter(anchors: tuple[tuple[bytes, ...], ...]) -> tuple[Any, dict[bytes, list[int]]]:
    """One regex of every literal (RE2 when installed), and literal -> pattern indexes.

    Longer literals come first so an alternation reports ``sk-ant-`` rather than ``sk-``;
    a literal's owners include the patterns of every literal it starts with.
    """
    literals = sorted({a for group in anchors for a in group}, key=lambda a: (-len(a), a))
    owners: dict[bytes, list[int]] = {}
    for lit in literals:
        owners[lit] = [i for i, group in enumerate(anchors)
                       if any(lit.startswith(a) for a in group)]
    source = b"|".join(re.escape(a) for a in literals) or b"(?!)"
    try:
        import re2  # google-re2: linear time, far faster than re on literal sets

        return re2.compile(source), owners
    except ImportError:  # a platform without its wheel: the same answers, slower
        return re.compile(source), owners


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


def library_patterns(
    cache_dir: str | None = None,
) -> list[tuple[str, re.Pattern[bytes], tuple[bytes, ...]]]:
    """detect-secrets' denylist regexes (read by :mod:`lored.secrets.library`, recompiled
    over bytes) with the literals their matches hold."""
    from pathlib import Path

    from lored.secrets.library import load

    out: list[tuple[str, re.Pattern[bytes], tuple[bytes, ...]]] = []
    for module, secret_type, pats in load(Path(cache_dir) if cache_dir else None):
        literals = _LIBRARY_ANCHORS.get(module)
        if not literals:
            continue
        for source, flags in pats:
            # line-local: '.' never crosses a newline over bytes either; drop '.*' tails
            try:
                out.append((_slug(secret_type),
                            re.compile(source.removesuffix(".*").encode(), flags), literals))
            except re.error:
                continue
    return out


@lru_cache(maxsize=16)
def build_detector(allow: Sequence[str] = (), *, library: bool = True,
                   cache_dir: str | None = None) -> Detector:
    """The detector for an allow-list (cached: compiling ~30 regexes once per rule set)."""
    ours = [(kind, re.compile(p, re.MULTILINE)) for kind, p in PATTERNS]
    extra = library_patterns(cache_dir) if library else []
    return Detector(tuple(ours + [(k, p) for k, p, _ in extra]),
                    tuple(re.compile(a.encode()) for a in allow),
                    (*ANCHORS, *(lit for _, _, lit in extra)))


def line_numbers(data: bytes, offsets: Iterator[int] | list[int]) -> list[int]:
    """1-based line number of each (ascending) byte offset into ``data``."""
    out, line, pos = [], 1, 0
    for off in offsets:
        line += data.count(b"\n", pos, off)
        pos = off
        out.append(line)
    return out
