"""Helpers shared by the capture parsers: tolerant line splitting, times, text flattening.

Everything here is pure: bytes and values in, values out. Parsers never raise on bad
input; they skip what they cannot read and say so through :class:`Notes`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlparse

#: a single line above this size is skipped, not parsed: real transcript lines (even with
#: pasted images) stay far below it, and json.loads on hundreds of MB would stall capture
MAX_LINE_BYTES = 16 * 1024 * 1024
#: keep at most this many warning texts per session (the count stays exact)
MAX_WARNINGS = 50


@dataclass
class Notes:
    """Collects skipped input while parsing: bad record count and readable warnings."""

    bad_records: int = 0
    warnings: list[str] = field(default_factory=list)
    _unknown: dict[str, int] = field(default_factory=dict)

    def bad(self, where: str, why: str) -> None:
        """Count one unreadable record and note why."""
        self.bad_records += 1
        self.warn(f"{where}: {why}")

    def warn(self, text: str) -> None:
        """Note something odd that did not lose data (bounded list)."""
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(text)
        elif len(self.warnings) == MAX_WARNINGS:
            self.warnings.append("… more warnings omitted")

    def unknown(self, kind: str) -> None:
        """Remember a record type this parser does not know (reported once per type)."""
        self._unknown[kind] = self._unknown.get(kind, 0) + 1

    def finish(self) -> tuple[int, list[str]]:
        """(bad_records, warnings) including the summary of unknown record types."""
        for kind, n in sorted(self._unknown.items()):
            self.warn(f"skipped {n} record(s) of unknown type {kind!r}")
        return self.bad_records, self.warnings


def iter_json_lines(payload: bytes, notes: Notes, *, start_line: int = 1) -> Iterator[
    tuple[int, dict[str, Any]]
]:
    """Yield ``(line number, object)`` for every JSON-object line of a JSONL payload.

    Blank lines are ignored; lines that are not JSON objects, or are too large, are
    counted as bad; invalid UTF-8 is replaced (the rest of the line is kept).
    """
    for offset, raw in enumerate(payload.split(b"\n")):
        lineno = start_line + offset
        raw = raw.strip()
        if not raw:
            continue
        if len(raw) > MAX_LINE_BYTES:
            notes.bad(f"line {lineno}", f"{len(raw) / 1e6:.1f} MB line skipped (too large)")
            continue
        obj = loads_tolerant(raw, notes, f"line {lineno}")
        if obj is None:
            continue
        if not isinstance(obj, dict):
            notes.bad(f"line {lineno}", f"expected a JSON object, got {type(obj).__name__}")
            continue
        yield lineno, obj


#: msgspec's decoder and its errors, once :func:`use_fast_json` ran in this process
_FAST: tuple[Any, tuple[type[BaseException], ...]] | None = None


def use_fast_json() -> None:
    """Read JSON lines with msgspec in this process from now on: a parsing worker's
    choice (2.5× faster than json), not the idle daemon's (msgspec costs ≈ 4 MB RSS)."""
    global _FAST
    if _FAST is None:
        import msgspec

        _FAST = (msgspec.json.Decoder(), (msgspec.MsgspecError, RecursionError))


def loads_tolerant(raw: bytes, notes: Notes, where: str) -> Any:
    """json.loads with invalid UTF-8 replaced; None (and a bad-record note) if not JSON.

    In a parsing worker (:func:`use_fast_json`) msgspec reads the line first: it gives
    json's answer for what it accepts (big integers stay exact), and whatever it refuses
    — invalid UTF-8, NaN and infinities, lone surrogates, deep nesting — goes to json,
    so every line gets json's answer, most of them 2.5× sooner.
    """
    if _FAST is not None:
        try:
            return _FAST[0].decode(raw)
        except _FAST[1]:
            pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        notes.warn(f"{where}: invalid UTF-8 replaced")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        notes.bad(where, f"not valid JSON ({_short(str(exc))})")
        return None


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_ISO_FIX = re.compile(r"(\.\d{1,6})\d*")


_PLAUSIBLE_FROM, _PLAUSIBLE_TO = 2000, 2200
_CANONICAL = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.\d{3}Z", re.ASCII)


def norm_ts(value: Any) -> str | None:
    """A timestamp as ISO 8601 UTC ``YYYY-MM-DDTHH:MM:SS.mmmZ``, or None if unreadable.

    Accepts ISO strings (``Z``, offsets, or naive = UTC) and epoch numbers in seconds
    or milliseconds. One format everywhere keeps string sorting equal to time order.
    """
    if isinstance(value, str) and (canon := _CANONICAL.fullmatch(value)):
        # already the canonical form (most transcripts): just check it is a real time
        y, mo, d, h, mi, s = map(int, canon.groups())
        if _PLAUSIBLE_FROM <= y <= _PLAUSIBLE_TO:
            try:
                datetime(y, mo, d, h, mi, s)
            except ValueError:
                return None
            return value
    dt: datetime | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value) / 1000.0 if abs(value) > 1e11 else float(value)
        try:
            dt = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        text = _ISO_FIX.sub(lambda m: m.group(1), text, count=1)
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
    if dt is None:
        return None
    dt = dt.astimezone(UTC)
    if not _PLAUSIBLE_FROM <= dt.year <= _PLAUSIBLE_TO:
        return None  # e.g. a counter in a timestamp field would date a session to 1970
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def span(times: list[str | None]) -> tuple[str | None, str | None]:
    """(earliest, latest) of normalised timestamps, ignoring None."""
    real = [t for t in times if t]
    return (min(real), max(real)) if real else (None, None)


def as_str(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None (wrong types never crash a parser)."""
    return value if isinstance(value, str) and value else None


def flatten_text(content: Any) -> str:
    """Text of a content value: a string, a list of blocks/parts, or a dict with text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [flatten_text(item) for item in content]
        return "\n".join(p for p in parts if p)
    if isinstance(content, dict):
        for key in ("text", "content", "output"):
            if key in content:
                return flatten_text(content[key])
        return ""
    if content is None:
        return ""
    return str(content)


_WRAPPER = re.compile(r"^\s*<([a-z][\w-]*)[^>]*>.*?</\1>\s*", re.S)
TITLE_CHARS = 80


def prompt_title(texts: Iterator[str] | list[str], limit: int = TITLE_CHARS) -> str | None:
    """The first real prompt among ``texts``, on one line and shortened, for a title.

    Wrappers tools put around injected context (``<command-name>…</command-name>``,
    ``<system-reminder>…``, ``<environment_context>…``) are not the person's words.
    """
    for text in texts:
        while True:
            stripped = _WRAPPER.sub("", text, count=1)
            if stripped == text:
                break
            text = stripped
        line = " ".join(text.split())
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return None


def canonical_json(obj: Any) -> str:
    """Deterministic one-line JSON (sorted keys, no spaces): equal input, equal bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def uri_path(value: Any) -> str | None:
    """A local folder from a ``file://`` URI or a plain path (editors store both)."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("file://"):
        return unquote(urlparse(value).path) or None
    if "://" in value:
        return None  # a remote (ssh, wsl, codespace) folder has no local path here
    return value


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (wrong types never crash a parser)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def load_document(payload: bytes, fmt: str, notes: Notes) -> dict[str, Any]:
    """A rendered payload's JSON document of format ``fmt``; ``{}`` (and a note) if not."""
    try:
        doc = json.loads(payload.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        notes.bad("payload", f"not a {fmt} payload")
        return {}
    return doc
