"""How the store compresses a payload: zstd frames aligned on the sync chunk size.

A payload is kept as a concatenation of zstd frames, each holding at most
:data:`~loreproto.wire.MAX_CHUNK_BYTES` of plaintext and declaring its content size —
exactly the frames a first push of it would seal (sealed chunks cut the payload at the
same boundaries, PROTOCOL.md). A push then encrypts the stored frames as they are
instead of compressing the same bytes a second time, and a pull stores the frames it
opens as they arrived. Older stores hold one frame per payload; both read the same.
"""

from __future__ import annotations

import threading

import zstandard

from loreproto.wire import MAX_CHUNK_BYTES

ZSTD_LEVEL = 3
_local = threading.local()


def compress(data: bytes) -> bytes:
    """``data`` as zstd frames of ≤ MAX_CHUNK_BYTES of plaintext each (one if it fits)."""
    c = getattr(_local, "c", None)
    if c is None:  # not thread-safe, and costly to set up per call: one per thread
        c = _local.c = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True)
    if len(data) <= MAX_CHUNK_BYTES:
        return c.compress(data)
    view = memoryview(data)
    return b"".join(c.compress(view[i:i + MAX_CHUNK_BYTES])
                    for i in range(0, len(data), MAX_CHUNK_BYTES))


def decompress(blob: bytes) -> bytes:
    """Every frame of ``blob`` decompressed and joined."""
    out: bytes = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True
                                                           ).decompress(blob)
    return out


def split(blob: bytes) -> tuple[bytes, list[bytes] | None]:
    """``blob`` decompressed, and its frames when each declares its content size.

    The frames come back as they are stored (not recompressed); None when a frame lacks
    its content size, so a caller that reuses them can fall back to compressing.
    """
    parts: list[bytes] = []
    frames: list[bytes] | None = []
    rest = blob
    while True:
        d = zstandard.ZstdDecompressor().decompressobj()
        out = d.decompress(rest)
        unused = d.unused_data
        frame = rest[: len(rest) - len(unused)] if unused else rest
        if frames is not None:
            if zstandard.frame_content_size(frame) == len(out):
                frames.append(frame)
            else:
                frames = None
        parts.append(out)
        if not unused:
            break
        rest = unused
    return b"".join(parts) if len(parts) > 1 else parts[0], frames


_MAGIC = b"\x28\xb5\x2f\xfd"


def cut(blob: bytes) -> list[bytes] | None:
    """``blob``'s zstd frames, found from their block headers without decompressing.

    RFC 8878: a frame is its header, blocks (a 3-byte header each: last-block bit, type,
    size; an RLE block carries one byte) and an optional 4-byte checksum. None when the
    bytes are not such frames end to end (a caller then decompresses instead).
    """
    out: list[bytes] = []
    pos, end = 0, len(blob)
    while pos < end:
        if blob[pos:pos + 4] != _MAGIC:
            return None
        try:
            p = pos + zstandard.frame_header_size(blob[pos:pos + 18])
        except zstandard.ZstdError:
            return None
        checksum = blob[pos + 4] & 0x04
        while True:
            if p + 3 > end:
                return None
            head = int.from_bytes(blob[p:p + 3], "little")
            kind, size = (head >> 1) & 3, head >> 3
            if kind == 3:  # reserved
                return None
            p += 3 + (1 if kind == 1 else size)
            if head & 1:
                break
        p += 4 if checksum else 0
        if p > end:
            return None
        out.append(blob[pos:p])
        pos = p
    return out or None
