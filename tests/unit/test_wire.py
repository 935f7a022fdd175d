"""The wire contract: push/chunk framing round trips and hostile-input handling."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loreproto import wire
from loreproto.wire import CHUNK_MAGIC, PUSH_MAGIC, FrameReader, PushHeader, WireError


def header(
    sid: str = "claude-code:a", first: int = 0, sizes: list[int] | None = None
) -> PushHeader:
    sizes = sizes or [3, 5]
    return PushHeader(sid, 1, first, first + len(sizes) - 1, sizes,
                      wire.SessionMeta(tool="claude-code", message_count=2))


def test_push_round_trip_byte_by_byte() -> None:
    body = wire.encode_push([
        (header(), [b"inf", b"chunk"]),
        (header("codex:b", first=2, sizes=[1, 2, 3]), [b"i", b"c1", b"c22"]),
    ])
    reader = FrameReader(PUSH_MAGIC, "push")
    frames = []
    for i in range(len(body)):  # worst case: one byte at a time
        reader.feed(body[i : i + 1])
        frames.extend(reader.frames())
    assert reader.finished
    assert [PushHeader.from_json(h).session_id for h, _ in frames] == ["claude-code:a", "codex:b"]
    assert frames[1][1] == [b"i", b"c1", b"c22"]
    assert PushHeader.from_json(frames[1][0]).chunk_count == 4


def test_chunk_frames_with_missing() -> None:
    body = CHUNK_MAGIC + b"".join(
        b"".join(wire.encode_chunk_frame("s", 1, i, d)) for i, d in enumerate([b"abc", None])
    ) + wire.END_MARKER
    frames = wire.decode_all(body, CHUNK_MAGIC, "chunks")
    assert frames[0] == ({"session_id": "s", "generation": 1, "index": 0, "status": "ok",
                          "size": 3}, [b"abc"])
    assert frames[1][0]["status"] == "missing" and frames[1][1] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"NOTMAGIC", "magic"),
        (PUSH_MAGIC + struct.pack(">I", 10**6), "too large"),
        (PUSH_MAGIC + struct.pack(">I", 3) + b"{x}", "not JSON"),
        (PUSH_MAGIC + struct.pack(">I", 2) + b"[]", "not an object"),
        (PUSH_MAGIC + struct.pack(">I", 14) + b'{"sizes":[-1]}', "bad sizes"),
        (PUSH_MAGIC + struct.pack(">I", 0) + b"x", "after its end"),
    ],
)
def test_hostile_bodies_raise_wire_error(body: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        wire.decode_all(body, PUSH_MAGIC, "push")


def test_truncated_body_is_reported() -> None:
    body = wire.encode_push([(header(), [b"inf", b"chunk"])])
    with pytest.raises(WireError, match="truncated"):
        wire.decode_all(body[:-6], PUSH_MAGIC, "push")


@pytest.mark.parametrize(
    "bad",
    [
        {"session_id": "", "generation": 1, "first_index": 0, "chunk_count": 0, "sizes": [1]},
        {"session_id": "s", "generation": 0, "first_index": 0, "chunk_count": 0, "sizes": [1]},
        {"session_id": "s", "generation": 1, "first_index": 0, "chunk_count": 5, "sizes": [1]},
        {"session_id": "s", "generation": 1, "first_index": 0, "chunk_count": 0, "sizes": []},
        {"session_id": "s", "generation": True, "first_index": 0, "chunk_count": 0, "sizes": [1]},
        {"session_id": "s", "generation": 1, "first_index": 0, "chunk_count": 0,
         "sizes": [wire.MAX_INFO_BYTES + 1]},
        {"session_id": "s", "generation": 1, "first_index": 0, "chunk_count": 100,
         "sizes": [1] * 101},
        {"generation": 1},
        ["not", "a", "dict"],
    ],
)
def test_bad_push_headers(bad: object) -> None:
    with pytest.raises(WireError):
        PushHeader.from_json(bad)


def test_meta_is_cleaned() -> None:
    h = PushHeader.from_json({
        "session_id": "s", "generation": 1, "first_index": 0, "chunk_count": 0, "sizes": [1],
        "meta": {"tool": "x", "message_count": -3, "project_path": 5, "evil": "y"},
    })
    assert dict(h.meta) == {"tool": "x"}


def test_max_request_bytes_fits_one_big_session() -> None:
    assert wire.max_request_bytes(16 * wire.MiB) > 16 * wire.MiB
    assert wire.max_request_bytes(1) > wire.DEFAULT_BATCH_BYTES


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_reader(data: bytes) -> None:
    reader = FrameReader(PUSH_MAGIC, "push")
    try:
        reader.feed(PUSH_MAGIC + data)
        for h, parts in reader.frames():
            assert isinstance(h, dict) and all(isinstance(p, bytes) for p in parts)
    except WireError:
        pass


def test_error_body_shape() -> None:
    doc = wire.error_body(wire.E_CONFLICT, "taken", "try again", current={"version": 2})
    assert json.loads(json.dumps(doc)) == {
        "error": {"code": "conflict", "message": "taken", "hint": "try again",
                  "current": {"version": 2}}
    }
