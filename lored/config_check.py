"""config.toml's schema, checked: every section, key and type, with the line of a mistake.

Pure logic, no I/O: ``check_config(data, text, path)`` takes the parsed TOML and its
text and raises ``ConfigError`` naming the file, the line and the key of the first
mistake (an unknown section or key, a wrong type, an unknown tool), with a hint that
works even while the file is broken (edit the file; no command that reads it).
``parse_duration`` reads the durations of ``[sync] interval`` and ``LORE_SYNC_INTERVAL``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lored.errors import ConfigError

ALL_TOOLS = (
    "claude-code", "codex", "gemini", "aider", "opencode",
    "cline", "roo-code", "kilo-code", "continue", "copilot-chat", "cursor", "goose",
    "qwen", "droid",
)

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_NUMBER = r"\d+(?:\.\d+)?"
#: "900", "90s", "15m", "2h15m", "1h 30m 10s", "1d": units largest first, each at most once
_DURATION = re.compile(
    rf"\s*(?:(?P<plain>{_NUMBER})|"
    rf"(?=\d)(?:(?P<d>{_NUMBER})\s*d)?\s*(?:(?P<h>{_NUMBER})\s*h)?\s*"
    rf"(?:(?P<m>{_NUMBER})\s*m)?\s*(?:(?P<s>{_NUMBER})\s*s)?)\s*"
)
DURATION_EXAMPLES = "90s, 15m or 2h15m"


def parse_duration(value: Any, what: str = "[sync] interval") -> int:
    """Whole seconds (at least 1) from an int/float of seconds or a string like ``2h15m``.

    ``what`` names the setting in the error (``[sync] interval``, ``LORE_SYNC_INTERVAL``).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{what} must be a duration like {DURATION_EXAMPLES}, not {value!r}")
    if isinstance(value, str):
        m = _DURATION.fullmatch(value)
        if not m or not any(m.groupdict().values()):
            raise ConfigError(f"{what} {value!r} is not a duration like {DURATION_EXAMPLES}")
        if m.group("plain") is not None:
            seconds = float(m.group("plain"))
        else:
            seconds = sum(float(m.group(u)) * n for u, n in _UNITS.items() if m.group(u))
    else:
        seconds = float(value)
    if seconds < 1:
        raise ConfigError(f"{what} must be at least 1 second, not {value!r}")
    return int(seconds)


# --- the schema ------------------------------------------------------------------------
#: a checker returns None when the value is fine, else what it must be ("true or false")
Checker = Callable[[Any], str | None]


def _str(v: Any) -> str | None:
    return None if isinstance(v, str) else "a string in quotes"


def _bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "true or false (without quotes)"


def _str_list(v: Any) -> str | None:
    ok = isinstance(v, list) and all(isinstance(x, str) for x in v)
    return None if ok else 'a list of strings, like ["/home/me/src"]'


def _tools(v: Any) -> str | None:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        return 'a list of tool names, like ["claude-code", "codex"]'
    return None


def _metadata(v: Any) -> str | None:
    return None if v in ("full", "minimal") else '"full" or "minimal"'


def _redact(v: Any) -> str | None:
    return None if v in ("sync", "everywhere", "off") else '"sync", "everywhere" or "off"'


def _regex_list(v: Any) -> str | None:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        return 'a list of regular expressions, like ["EXAMPLE[A-Z0-9]+"]'
    for x in v:
        try:
            re.compile(x.encode())
        except re.error as exc:
            return f"a list of valid regular expressions ({x!r}: {exc})"
    return None


def _duration(v: Any) -> str | None:
    try:
        parse_duration(v)
    except ConfigError:
        return f"a duration like {DURATION_EXAMPLES} (at least 1s)"
    return None


_TOP: dict[str, Checker] = {"machine_id": _str, "machine_name": _str}
SCHEMA: dict[str, dict[str, Checker]] = {
    "server": {"url": _str, "insecure_http": _bool},
    "sync": {"interval": _duration, "auto": _bool},
    "privacy": {"metadata": _metadata, "redact": _redact, "redact_allow": _regex_list},
    "capture": {"tools": _tools, "aider_roots": _str_list,
                **{f"{t.replace('-', '_')}_dir": _str for t in ALL_TOOLS}},
    "restore": {"auto": _bool},
}
#: sections whose keys are the user's own (a git remote or path -> a local checkout)
_FREE = {"projects": _str}


def check_config(data: dict[str, Any], text: str, path: Path) -> None:
    """Raise ConfigError for the first unknown section/key, wrong type or unknown tool."""

    def fail(keys: tuple[str, ...], message: str, hint: str | None = None) -> None:
        line = find_line(text, keys)
        where = f"{path}, line {line}" if line else str(path)
        raise ConfigError(f"{where}: {message}",
                          hint=hint or f"edit {path} (docs/cli.md lists every key)")

    for key, value in data.items():
        if key in _TOP:
            if (need := _TOP[key](value)) is not None:
                fail((key,), f"{key} must be {need}, not {_show(value)}")
            continue
        if key not in SCHEMA and key not in _FREE:
            kind = "section" if isinstance(value, dict) else "key"
            shown = f"[{key}]" if kind == "section" else key
            names = [*SCHEMA, *_FREE] if kind == "section" else list(_TOP)
            close = _did_you_mean(key, names)
            fail((key,), f"{shown} is not a {kind} of config.toml"
                 + (close.replace(" mean ", " mean [").replace("?)", "]?)")
                    if kind == "section" else close))
        if not isinstance(value, dict):
            fail((key,), f"[{key}] must be a table (a [{key}] header), not {_show(value)}")
        if key in _FREE:
            for sub, item in value.items():
                if (need := _FREE[key](item)) is not None:
                    fail((key, sub), f"[{key}] {_show(sub)} must be {need}, not {_show(item)}")
            continue
        keys = SCHEMA[key]
        for sub, item in value.items():
            if sub not in keys:
                fail((key, sub), f"[{key}] {sub} is not a key of [{key}]"
                     + _did_you_mean(sub, list(keys)), hint=f"edit {path}; the keys of [{key}] "
                     f"are {', '.join(keys)} (docs/cli.md)")
            if (need := keys[sub](item)) is not None:
                fail((key, sub), f"[{key}] {sub} must be {need}, not {_show(item)}")
    tools = data.get("capture", {}).get("tools", [])
    for tool in tools:
        if tool not in ALL_TOOLS:
            fail(("capture", "tools"), f"[capture] tools: {_show(tool)} is not a tool Lore knows"
                 + _did_you_mean(tool, list(ALL_TOOLS)),
                 hint=f"edit {path}; the tools are {', '.join(ALL_TOOLS)}")


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _show(value: Any) -> str:
    """A value as TOML would spell it (strings in quotes), short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = '"' + value.replace('"', '\\"') + '"'
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- where a key is written ------------------------------------------------------------
_HEADER = re.compile(r"\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?")
_NAME = r"""(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)"""
_KEY = re.compile(rf"\s*({_NAME}(?:\s*\.\s*{_NAME})*)\s*=")
_PART = re.compile(r"""\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*""")


def _dotted(spec: str) -> tuple[str, ...]:
    parts = []
    for raw in _split_dots(spec):
        m = _PART.fullmatch(raw)
        parts.append(next((g for g in m.groups() if g is not None), raw) if m else raw.strip())
    return tuple(parts)


def _split_dots(spec: str) -> list[str]:
    out, cur, quote = [], "", ""
    for ch in spec:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            out.append(cur)
            cur = ""
            continue
        cur += ch
    return [*out, cur]


def find_line(text: str, keys: tuple[str, ...]) -> int | None:
    """The 1-based line where ``keys`` (a section, or section + key) is written.

    Falls back to the longest prefix that is found (a key inside an inline table is
    reported at the table's line). A heuristic over lines: multi-line strings may
    confuse it, in which case the message names the file without a line.
    """
    best: tuple[int, int] | None = None  # (matched length, line)
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("[["):
            continue
        if header := _HEADER.fullmatch(line):
            table = _dotted(header.group(1))
            candidate = table
        elif key := _KEY.match(line):
            candidate = table + _dotted(key.group(1))
        else:
            continue
        n = 0
        while n < min(len(candidate), len(keys)) and candidate[n] == keys[n]:
            n += 1
        if n == len(candidate) and n > 0:
            if best is None or n > best[0]:
                best = (n, number)
    return best[1] if best else None
