"""Hostile input for every registered parser: nothing raises, good records survive.

Each tool supplies a valid payload; we damage it (truncated line, invalid UTF-8, wrong
types, a 50 MB line, random bytes) and check the good part still parses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lored.capture import gemini, opencode
from lored.capture.registry import PARSERS, parse_payload
from lored.errors import CorruptData

FIX = Path(__file__).parents[1] / "fixtures"


def _claude() -> bytes:
    return next((FIX / "claude/projects").rglob("*.jsonl")).read_bytes()


def _codex() -> bytes:
    return next((FIX / "codex/sessions").rglob("*.jsonl")).read_bytes()


def _gemini() -> bytes:
    chat = next((FIX / "gemini/tmp/webapp/chats").glob("*.jsonl"))
    return gemini.render_header("jsonl", "/home/dev/projects/webapp") + chat.read_bytes()


def _opencode() -> bytes:
    from tests.unit.test_capture_opencode import MESSAGES, PARTS, SESSION

    return opencode.render(SESSION, MESSAGES, PARTS)


def _qwen() -> bytes:
    import tempfile

    from tests import newtools

    home = Path(tempfile.mkdtemp())
    newtools.qwen_chat(home)
    return next(home.rglob("*.jsonl")).read_bytes()


def _droid() -> bytes:
    import tempfile

    from tests import newtools

    return newtools.droid_session(Path(tempfile.mkdtemp())).read_bytes()


#: tool -> a valid line-oriented payload
GOOD: dict[str, Callable[[], bytes]] = {
    "claude-code": _claude, "codex": _codex, "gemini": _gemini, "opencode": _opencode,
    "qwen": _qwen, "droid": _droid,
}
LINE_TOOLS = sorted(GOOD)
#: tools whose payloads are not line-oriented: their own hostile tests, listed here
OWN_HOSTILE_TESTS: set[str] = {
    "aider",  # test_capture_aider.py
    # test_capture_newtools.py: one JSON document each, every field bent
    "cline", "roo-code", "kilo-code", "continue", "copilot-chat", "cursor", "goose",
}


def test_every_registered_parser_has_hostile_coverage() -> None:
    assert set(PARSERS) <= set(GOOD) | OWN_HOSTILE_TESTS


def _damage(payload: bytes, bad: bytes) -> bytes:
    """Insert ``bad`` as a line after the payload's second line."""
    lines = payload.splitlines(keepends=True)
    return b"".join(lines[:2]) + bad + b"\n" + b"".join(lines[2:])


def _count(tool: str, payload: bytes) -> int:
    return parse_payload(tool, payload).message_count


@pytest.mark.parametrize("tool", LINE_TOOLS)
@pytest.mark.parametrize("bad", [
    b'{"type":"user","message":{"content":"trunc',
    b"\xff\xfe\x00garbage",
    b"[]",
    b'"just a string"',
    b'{"type":{"nested":1},"payload":[1,2],"message":7,"timestamp":{}}',
    b"{" * 100_000,
])
def test_one_bad_line_reported_rest_kept(tool: str, bad: bytes) -> None:
    good = GOOD[tool]()
    s = parse_payload(tool, _damage(good, bad))
    assert s.message_count == _count(tool, good)
    assert s.bad_records == 1
    assert any(w.startswith("line 3:") for w in s.warnings)


@pytest.mark.parametrize("tool", LINE_TOOLS)
def test_fifty_mb_line(tool: str) -> None:
    good = GOOD[tool]()
    huge = b'{"type":"user","text":"' + b"A" * (50 * 1024 * 1024) + b'"}'
    s = parse_payload(tool, _damage(good, huge))
    assert s.message_count == _count(tool, good) and s.bad_records == 1
    assert any("line 3" in w and "MB" in w for w in s.warnings)


@pytest.mark.parametrize("tool", LINE_TOOLS)
def test_truncated_last_line(tool: str) -> None:
    good = GOOD[tool]()
    s = parse_payload(tool, good + good.splitlines()[-1][:40])
    assert s.message_count == _count(tool, good) and s.bad_records == 1


def test_unknown_tool_and_payload_without_id() -> None:
    with pytest.raises(CorruptData):
        parse_payload("notepad", b"")
    with pytest.raises(CorruptData):
        parse_payload("codex", b"garbage\n")


@pytest.mark.parametrize("tool", LINE_TOOLS)
@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=3000))
def test_random_bytes_never_raise(tool: str, data: bytes) -> None:
    good = GOOD[tool]()
    s = parse_payload(tool, good + b"\n" + data.replace(b"\n", b" ") + b"\n")
    assert s.message_count >= _count(tool, good)  # random bytes cannot eat good lines


@pytest.mark.parametrize("tool", LINE_TOOLS)
@settings(max_examples=100, deadline=None)
@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from(
        ["type", "payload", "message", "content", "role", "id", "output", "arguments",
         "summary", "timestamp", "model", "call_id", "git", "cwd", "text"]), kids, max_size=6),
    max_leaves=20))
def test_wrong_types_never_raise(tool: str, value: object) -> None:
    good = GOOD[tool]()
    for kind in ("user", "assistant", "session_meta", "response_item", "turn_context",
                 "event_msg", "message"):
        line = json.dumps({"type": kind, "payload": value, "message": value,
                           "content": value, "timestamp": value}, default=str)
        parse_payload(tool, good + line.encode() + b"\n")
