"""Stored payloads as chunk-aligned zstd frames, and a push sealing those frames as-is."""

from __future__ import annotations

import os
import random

import pytest
import zstandard

from lored.crypto.seal import Binding, open_chunk, open_info
from lored.crypto.secret import SecretBytes
from lored.secrets.detect import build_detector
from lored.secrets.redact import Redactor
from lored.store import digest
from lored.store.frames import compress, decompress, split
from lored.store.rows import PushCandidate
from lored.sync.outgoing import Sealing, aligned, prepare
from lored.sync.plan import Limits, whole
from loreproto.wire import MAX_CHUNK_BYTES

KEY = SecretBytes(os.urandom(32))
SEALING = Sealing(KEY, "acct", "m-a", minimal=False)


def _payload(n: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    line = b'{"type":"user","message":{"content":"%d"}}\n'
    out = bytearray()
    while len(out) < n:
        out += line % rng.randrange(10**9)
    return bytes(out[:n - 1]) + b"\n"


def _candidate(payload: bytes, **kw: object) -> PushCandidate:
    base: dict[str, object] = dict(
        session_id="claude-code:s1", tool="claude-code", project_path="/p",
        started_at=None, ended_at=None, message_count=1, payload_length=len(payload),
        payload_hash=digest(payload), info={"title": "t"}, pushed_generation=0,
        pushed_chunks=0, pushed_length=0, pushed_hash=None)
    base.update(kw)
    return PushCandidate(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, 10, MAX_CHUNK_BYTES, MAX_CHUNK_BYTES + 1,
                                  2 * MAX_CHUNK_BYTES + 12345])
def test_frames_are_cut_where_chunks_are_cut(size: int) -> None:
    data = _payload(size) if size else b""
    blob = compress(data)
    assert decompress(blob) == data
    out, frames = split(blob)
    assert out == data and frames is not None
    assert b"".join(frames) == blob
    spans = whole("s", "new", 1, data, Limits()).spans
    assert [zstandard.frame_content_size(f) for f in frames] == [e - s for s, e in spans]


def test_a_single_frame_of_an_older_store_is_not_aligned_past_one_chunk() -> None:
    data = _payload(MAX_CHUNK_BYTES + 500)
    blob = zstandard.ZstdCompressor(level=3).compress(data)  # how older stores kept it
    out, frames = split(blob)
    assert out == data and frames is not None and len(frames) == 1
    assert not aligned(whole("s", "new", 1, data, Limits()), frames)


def test_a_frame_without_content_size_is_not_reused() -> None:
    data = _payload(1000)
    blob = zstandard.ZstdCompressor(level=3, write_content_size=False).compress(data)
    out, frames = split(blob)
    assert out == data and frames is None


@pytest.mark.parametrize("size", [100, MAX_CHUNK_BYTES + 7])
def test_prepare_seals_the_stored_frames_and_they_open_to_the_payload(size: int) -> None:
    data = _payload(size)
    blob = compress(data)
    c = _candidate(data)
    out = prepare(SEALING, Redactor(build_detector(), b"k" * 32), c, blob, Limits())
    assert out.step is not None and out.parts is not None and out.source is None
    assert out.step.payload_hash == digest(data)
    binding = Binding("acct", c.session_id, "m-a", 1)
    chunks = [open_chunk(KEY, p, binding, i) for i, p in enumerate(out.parts[1:])]
    assert b"".join(chunks) == data
    assert open_info(KEY, out.parts[0], binding, out.step.chunk_count) == {"title": "t"}
    # the sealed chunks carry the stored frames themselves (nothing recompressed):
    # AEAD adds the same 41 bytes to each
    _, frames = split(blob)
    assert frames is not None
    assert [len(p) - 41 for p in out.parts[1:]] == [len(f) for f in frames]


def test_prepare_redacts_and_then_compresses_what_leaves() -> None:
    secret = b"ghp_" + b"A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    data = _payload(5000) + b'{"text":"token ' + secret + b'"}\n'
    c = _candidate(data)
    out = prepare(SEALING, Redactor(build_detector(), b"k" * 32), c, compress(data), Limits())
    assert out.step is not None and out.parts is not None
    binding = Binding("acct", c.session_id, "m-a", 1)
    sent = b"".join(open_chunk(KEY, p, binding, i) for i, p in enumerate(out.parts[1:]))
    assert secret not in sent and b"[REDACTED:" in sent
    assert out.step.payload_hash == digest(sent) != c.payload_hash
    assert out.source == (len(data), digest(data))


def test_prepare_appends_only_the_tail() -> None:
    old = _payload(3000)
    data = old + _payload(500, seed=2)
    c = _candidate(data, pushed_generation=1, pushed_chunks=1, pushed_length=len(old),
                   pushed_hash=digest(old))
    out = prepare(SEALING, None, c, compress(data), Limits())
    assert out.step is not None and out.step.kind == "append" and out.parts is not None
    binding = Binding("acct", c.session_id, "m-a", 1)
    assert open_chunk(KEY, out.parts[1], binding, 1) == data[len(old):]
