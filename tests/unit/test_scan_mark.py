"""Clean marks: a capture's "nothing to redact here", bound to the payload and the rules."""

from __future__ import annotations

import os

import zstandard

from lored.crypto.seal import Binding, open_chunk
from lored.crypto.secret import SecretBytes
from lored.secrets.detect import build_detector
from lored.secrets.redact import Redactor, clean_mark, scan_mark
from lored.store import digest
from lored.store.frames import compress, cut, split
from lored.sync.outgoing import Sealing, prepare
from lored.sync.plan import Limits
from loreproto.wire import MAX_CHUNK_BYTES
from tests.unit.test_frames import _candidate, _payload

SECRET = b"ghp_" + b"A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
KEY = SecretBytes(os.urandom(32))


def test_a_mark_needs_a_clean_whole_payload() -> None:
    det = build_detector()
    clean = _payload(2000)
    assert scan_mark(det, clean, "claude-code", digest(clean)) == clean_mark(det, digest(clean))
    leaky = clean + b'{"t":"' + SECRET + b'"}\n'
    assert scan_mark(det, leaky, "claude-code", digest(leaky)) is None
    partial = clean + b'{"t":"half'  # a JSONL tool's last line is still being written
    assert scan_mark(det, partial, "claude-code", digest(partial)) is None
    assert scan_mark(det, partial, "gemini-cli", digest(partial)) is not None


def test_the_mark_changes_with_the_rules() -> None:
    assert build_detector().fingerprint != build_detector(("ghp_",)).fingerprint
    assert build_detector().fingerprint == build_detector().fingerprint
    assert build_detector().fingerprint != build_detector(library=False).fingerprint


def test_a_stale_mark_never_skips_the_scan() -> None:
    """The mark of an earlier, clean version of the payload does not cover a grown one
    with a secret: the push scans it and the secret never leaves."""
    red = Redactor(build_detector(), b"k" * 32)
    old = _payload(3000)
    data = old + b'{"t":"' + SECRET + b'"}\n'
    c = _candidate(data, scan_clean=red.clean_mark(digest(old)))
    out = prepare(Sealing(KEY, "acct", "m-a", False), red, c, compress(data), Limits())
    assert out.parts is not None and out.step is not None
    sent = b"".join(open_chunk(KEY, p, Binding("acct", c.session_id, "m-a", 1), i)
                    for i, p in enumerate(out.parts[1:]))
    assert SECRET not in sent and b"[REDACTED:" in sent


def test_a_marked_payload_is_sealed_from_its_stored_frames() -> None:
    red = Redactor(build_detector(), b"k" * 32)
    data = _payload(2 * MAX_CHUNK_BYTES + 99)
    blob = compress(data)
    c = _candidate(data, scan_clean=red.clean_mark(digest(data)))
    out = prepare(Sealing(KEY, "acct", "m-a", False), red, c, blob, Limits())
    assert out.step is not None and out.parts is not None and out.step.chunk_count == 3
    assert out.step.payload_hash == digest(data) and out.source is None
    binding = Binding("acct", c.session_id, "m-a", 1)
    assert b"".join(open_chunk(KEY, p, binding, i)
                    for i, p in enumerate(out.parts[1:])) == data
    assert [len(p) - 41 for p in out.parts[1:]] == [len(f) for f in cut(blob) or []]


def test_cut_finds_frames_of_every_block_kind() -> None:
    raw = os.urandom(300_000)  # incompressible: raw blocks
    rle = b"\x00" * 300_000  # RLE blocks
    mixed = _payload(200_000)
    blob = b"".join([
        zstandard.ZstdCompressor(level=3).compress(raw),
        zstandard.ZstdCompressor(level=3, write_checksum=True).compress(rle),
        zstandard.ZstdCompressor(level=1).compress(mixed),
        zstandard.ZstdCompressor(level=3).compress(b""),
    ])
    frames = cut(blob)
    assert frames is not None and len(frames) == 4 and b"".join(frames) == blob
    assert frames == split(blob)[1]
    assert [zstandard.ZstdDecompressor().decompress(f) for f in frames] == [raw, rle, mixed, b""]
    assert cut(blob[:-1]) is None and cut(blob + b"\x00") is None and cut(b"junk") is None
