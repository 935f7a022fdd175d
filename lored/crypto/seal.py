"""Sealing of chunks and session info: ``0x01 ‖ nonce(24) ‖ XChaCha20-Poly1305(DK, zstd(x), ad)``.

The associated data binds every sealed blob to where it belongs (PROTOCOL.md)::

    chunk: b"lore/v1/chunk" ‖ lp(account) ‖ lp(session) ‖ lp(origin) ‖ u32(gen) ‖ u32(index)
    info:  b"lore/v1/info"  ‖ lp(account) ‖ lp(session) ‖ lp(origin) ‖ u32(gen) ‖ u32(count)

so a server that moves, reorders, replays or swaps blobs makes the open fail. zstd and
the AEAD both release the GIL, so callers seal/open in a thread pool for throughput.
Compression happens before encryption (ciphertext does not compress); the zstd frame
carries its content size, which we check before decompressing (no zip bombs).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any

import zstandard
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError

from lored.crypto.kdf import lp, u32
from lored.crypto.secret import SecretBytes
from lored.errors import CorruptData
from loreproto.wire import MAX_CHUNK_BYTES

FORMAT_V1 = 0x01
NONCE_BYTES = 24
#: bytes a sealed blob adds around the compressed plaintext (version, nonce, tag)
OVERHEAD = 1 + NONCE_BYTES + 16
CHUNK_TAG = b"lore/v1/chunk"
INFO_TAG = b"lore/v1/info"
ZSTD_LEVEL = 3
MAX_INFO_PLAINTEXT = 64 * 1024

# zstd (de)compressor objects are not thread-safe; keep one per worker thread
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    c = getattr(_local, "c", None)
    if c is None:
        c = _local.c = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True)
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    d = getattr(_local, "d", None)
    if d is None:
        d = _local.d = zstandard.ZstdDecompressor()
    return d


@dataclass(frozen=True)
class Binding:
    """Where a sealed blob belongs: account, session, origin machine and generation."""

    account_id: str
    session_id: str
    origin_machine_id: str
    generation: int

    def _prefix(self, tag: bytes) -> bytes:
        return tag + lp(self.account_id) + lp(self.session_id) + lp(self.origin_machine_id) + u32(
            self.generation
        )

    def chunk_ad(self, index: int) -> bytes:
        """AD of chunk ``index`` of this generation."""
        return self._prefix(CHUNK_TAG) + u32(index)

    def info_ad(self, chunk_count: int) -> bytes:
        """AD of the sealed info of this generation with ``chunk_count`` chunks."""
        return self._prefix(INFO_TAG) + u32(chunk_count)


def seal(
    data_key: SecretBytes, plaintext: bytes, ad: bytes, *, nonce: bytes | None = None
) -> bytes:
    """Compress then encrypt; ``nonce`` is random unless given (test vectors only)."""
    return _encrypt(data_key, _compressor().compress(plaintext), ad, nonce)


def _encrypt(data_key: SecretBytes, compressed: bytes, ad: bytes,
             nonce: bytes | None = None) -> bytes:
    """``0x01 ‖ nonce ‖ AEAD(compressed)``; the nonce is random unless given."""
    nonce = nonce if nonce is not None else os.urandom(NONCE_BYTES)
    ct = crypto_aead_xchacha20poly1305_ietf_encrypt(compressed, ad, nonce, data_key.reveal())
    return bytes([FORMAT_V1]) + nonce + ct


def open_sealed(data_key: SecretBytes, sealed: bytes, ad: bytes, *, max_size: int) -> bytes:
    """Authenticate, decrypt and decompress; CorruptData on any failure."""
    compressed, _ = open_compressed(data_key, sealed, ad, max_size=max_size)
    try:
        out: bytes = _decompressor().decompress(compressed)
    except zstandard.ZstdError:
        raise CorruptData("sealed data does not decompress") from None
    return out


def open_compressed(
    data_key: SecretBytes, sealed: bytes, ad: bytes, *, max_size: int
) -> tuple[bytes, int]:
    """Authenticate and decrypt, leaving the zstd frame compressed: (frame, content size).

    The frame's declared size is checked against ``max_size`` (no zip bombs); a pull
    stores the frame as it is and decompresses it only when the payload is read.
    """
    if len(sealed) < OVERHEAD or sealed[0] != FORMAT_V1:
        raise CorruptData("sealed data is truncated or has an unknown format")
    nonce, ct = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        compressed = crypto_aead_xchacha20poly1305_ietf_decrypt(ct, ad, nonce, data_key.reveal())
    except CryptoError:
        raise CorruptData("sealed data failed authentication") from None
    try:
        size = zstandard.frame_content_size(compressed)
    except zstandard.ZstdError:
        raise CorruptData("sealed data holds no valid zstd frame") from None
    if size < 0 or size > max_size:
        raise CorruptData("sealed data declares an impossible size")
    return compressed, size


def seal_chunk(data_key: SecretBytes, data: bytes, binding: Binding, index: int) -> bytes:
    """Seal one chunk of a session payload (≤ MAX_CHUNK_BYTES of plaintext)."""
    if len(data) > MAX_CHUNK_BYTES:
        raise ValueError("chunk larger than MAX_CHUNK_BYTES")
    return seal(data_key, data, binding.chunk_ad(index))


def seal_chunk_frame(data_key: SecretBytes, frame: bytes, binding: Binding, index: int) -> bytes:
    """Seal a chunk already compressed: ``frame`` is one zstd frame that declares its
    content size (≤ MAX_CHUNK_BYTES) — a captured payload as the store keeps it, so a
    push does not compress the same bytes a second time."""
    size = zstandard.frame_content_size(frame)
    if size < 0 or size > MAX_CHUNK_BYTES:
        raise ValueError("frame does not declare a chunk-sized content size")
    return _encrypt(data_key, frame, binding.chunk_ad(index))


def open_chunk(data_key: SecretBytes, sealed: bytes, binding: Binding, index: int) -> bytes:
    """Open a chunk sealed for exactly this account/session/origin/generation/index."""
    return open_sealed(data_key, sealed, binding.chunk_ad(index), max_size=MAX_CHUNK_BYTES)


def open_chunk_frame(
    data_key: SecretBytes, sealed: bytes, binding: Binding, index: int
) -> tuple[bytes, int]:
    """:func:`open_chunk` without the decompression: (zstd frame, plaintext size)."""
    return open_compressed(data_key, sealed, binding.chunk_ad(index), max_size=MAX_CHUNK_BYTES)


def seal_info(
    data_key: SecretBytes, info: dict[str, Any], binding: Binding, chunk_count: int
) -> bytes:
    """Seal the private metadata (title, model, git branch and remote, tool version) as JSON."""
    raw = json.dumps(info, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()
    return seal(data_key, raw, binding.info_ad(chunk_count))


def open_info(
    data_key: SecretBytes, sealed: bytes, binding: Binding, chunk_count: int
) -> dict[str, Any]:
    """Open the sealed info; the chunk count in the AD pins how many chunks there must be."""
    raw = open_sealed(data_key, sealed, binding.info_ad(chunk_count), max_size=MAX_INFO_PLAINTEXT)
    try:
        obj = json.loads(raw)
    except ValueError:
        raise CorruptData("sealed session info is not JSON") from None
    if not isinstance(obj, dict):
        raise CorruptData("sealed session info is not an object")
    return obj
