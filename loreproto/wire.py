"""The Lore Cloud wire contract: endpoints, limits, error codes and binary framing.

Pure: no I/O, no crypto. Both ``lored`` (client) and ``lorecloud`` (server)
import this module; it imports neither of them.

HTTP API (all JSON unless noted; ``Authorization: Bearer <token>`` where marked *):

==========================================  ==================================================
``GET  /healthz``                           200 ``{"ok": true}`` once the backend is ready
``GET  /v1/openapi.json``                   the OpenAPI document
``POST /v1/register``                       ``{email, password}`` -> 201 ``{account_id, email}``
                                            (403 ``registration_closed`` without
                                            ``--open-registration``; 409 ``conflict`` if taken)
``POST /v1/login``                          ``{email, password, machine_id, machine_name}`` ->
                                            ``{token, account_id, email}``; 401 ``bad_credentials``;
                                            429 ``rate_limited`` after repeated failures
``POST /v1/logout`` *                       revokes the presented token -> ``{"ok": true}``
``GET  /v1/account`` *                      :class:`AccountDoc` (see docstring below)
``GET  /v1/envelope`` *                     ``{"envelope": {...} | null, "version": int}``
                                            (version 0 = no envelope yet)
``PUT  /v1/envelope`` *                     ``{"envelope": {...}, "expected_version": int}``:
                                            create-only when expected_version == 0, else a
                                            conditional update. 200 ``{"version": n}``;
                                            409 ``conflict`` with the current
                                            ``{"envelope", "version"}`` in ``error.current``
``POST /v1/push`` *                         body: PUSH frames (``application/x-lore-push``) ->
                                            ``{"results": [PushResult...]}``; 413 ``too_large``
                                            when the body exceeds ``max_request_bytes``
``GET  /v1/changes?since=C&limit=N`` *      ``{"changes": [Change...], "cursor": int,
                                            "more": bool}``; excludes the caller machine's own
                                            sessions; ordered by seq
``POST /v1/chunks`` *                       ``{"chunks": [{session_id, generation, index}...]}``
                                            -> CHUNK frames (``application/x-lore-chunks``)
``DELETE /v1/sessions/{session_id}`` *      tombstone: chunks erased, entry kept with
                                            ``deleted: true``, seq bumped -> ``{"seq": n}``
                                            (origin machine only; 409 ``conflict`` otherwise)
``POST /v1/account/reset`` *                ``{"email": <the account's email>}``: erases
                                            every session (tombstones too) and the envelope
                                            -> ``{"erased", "reset_at", "reset_by"}``; the
                                            AccountDoc then carries ``reset: {at, by}``
==========================================  ==================================================

Errors are ``{"error": {"code": ..., "message": ..., "hint": ...}}`` with a 4xx/5xx
status; codes are the ``E_*`` constants below.

AccountDoc::

    {"account_id": str, "email": str, "plan": str,
     "limits": {"max_session_bytes": int, "max_sessions": int | null,
                "storage_bytes": int | null, "max_request_bytes": int,
                "max_batch_sessions": int, "max_chunk_bytes": int,
                "max_fetch_chunks": int},
     "usage": {"sessions": int, "storage_bytes": int},
     "last_sync": iso8601 | null,
     "machine": {"id": str, "name": str},           # the caller
     "machines": [{"id", "name", "last_sync", "sessions"}],
     "reset": {"at": iso8601, "by": machine name} | null}  # last account reset

Change (one entry of the feed)::

    {"session_id", "origin_machine_id", "origin_machine_name", "seq", "generation",
     "chunk_count", "chunk_sizes": [int], "stored_bytes", "deleted": bool,
     "meta": SessionMeta, "info": base64 of the sealed info (or null when deleted)}

PUSH body: ``PUSH_MAGIC``, then for every session one frame (see :func:`encode_frame`)
whose JSON header is a :class:`PushHeader`-shaped dict, followed by the raw bytes of
the sealed info and of each new chunk, in the order of ``header["sizes"]``
(first the info, then chunks ``first_index .. first_index+len-2``), then the end marker.

CHUNK response: ``CHUNK_MAGIC``, then one frame per requested chunk whose header is
``{"session_id", "generation", "index", "status": "ok" | "missing", "size"}`` followed
by ``size`` raw sealed bytes (0 when missing), then the end marker.

PushResult: ``{"session_id", "status": one of RESULT_*, "message", "seq": int | null,
"generation": int | null, "chunk_count": int | null}``.
"""

from __future__ import annotations

import json
import struct
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final, TypedDict, cast

API_VERSION: Final = 1

# --- content types -----------------------------------------------------------
PUSH_CONTENT_TYPE: Final = "application/x-lore-push"
CHUNKS_CONTENT_TYPE: Final = "application/x-lore-chunks"

PUSH_MAGIC: Final = b"LOREPSH1"
CHUNK_MAGIC: Final = b"LORECHK1"

# --- limits --------------------------------------------------------------------
MiB: Final = 1024 * 1024
MAX_CHUNK_BYTES: Final = 4 * MiB  # plaintext bytes per chunk before compression
#: a sealed chunk is at most the zstd bound of MAX_CHUNK_BYTES plus 41 bytes of AEAD framing
MAX_SEALED_CHUNK_BYTES: Final = MAX_CHUNK_BYTES + 64 * 1024
MAX_CHUNKS_PER_GENERATION: Final = 64  # past this the client compacts into a new generation
MAX_HEADER_BYTES: Final = 64 * 1024  # JSON header of one frame
MAX_INFO_BYTES: Final = 16 * 1024  # sealed info blob
DEFAULT_MAX_SESSION_BYTES: Final = 16 * MiB
DEFAULT_BATCH_BYTES: Final = 8 * MiB
MAX_BATCH_SESSIONS: Final = 200
MAX_FETCH_CHUNKS: Final = 256
MAX_CHANGES_PAGE: Final = 500
#: the largest generation, chunk index or version the databases' INTEGER columns hold
MAX_INT32: Final = 2**31 - 1
#: the longest session id (ids are "<tool>:<tool's own id>")
MAX_SESSION_ID: Final = 512
DEFAULT_CHANGES_PAGE: Final = 200


def max_request_bytes(max_session_bytes: int) -> int:
    """The largest push body a server accepts, given its per-session limit.

    A batch holds up to DEFAULT_BATCH_BYTES, but one big session always fits alone,
    with room for headers and AEAD overhead.
    """
    return max(max_session_bytes, DEFAULT_BATCH_BYTES) + MiB


# --- per-session push results --------------------------------------------------
RESULT_OK: Final = "ok"
RESULT_TOO_LARGE: Final = "too_large"
RESULT_QUOTA: Final = "quota_exceeded"
RESULT_OWNED_ELSEWHERE: Final = "owned_elsewhere"
RESULT_CONFLICT: Final = "conflict"
PUSH_RESULTS: Final = frozenset(
    {RESULT_OK, RESULT_TOO_LARGE, RESULT_QUOTA, RESULT_OWNED_ELSEWHERE, RESULT_CONFLICT}
)

# --- error codes ------------------------------------------------------------------
E_BAD_REQUEST: Final = "bad_request"
E_UNAUTHORIZED: Final = "unauthorized"  # missing/unknown token
E_REVOKED: Final = "machine_revoked"  # the token was revoked (signed out)
E_BAD_CREDENTIALS: Final = "bad_credentials"
E_RATE_LIMITED: Final = "rate_limited"
E_NOT_FOUND: Final = "not_found"
E_CONFLICT: Final = "conflict"
E_TOO_LARGE: Final = "too_large"
E_REGISTRATION_CLOSED: Final = "registration_closed"
E_INTERNAL: Final = "internal"
E_UNAVAILABLE: Final = "unavailable"


class SessionMeta(TypedDict, total=False):
    """Plaintext metadata the server may see (PROTOCOL.md, server-visible metadata)."""

    tool: str
    project_path: str  # "" when privacy.metadata = "minimal"
    started_at: str | None
    ended_at: str | None
    message_count: int
    payload_bytes: int  # plaintext length of the whole payload


@dataclass(frozen=True)
class PushHeader:
    """One session in a push body.

    ``first_index`` is the index of the first chunk carried; 0 for a new generation,
    the server's current chunk count for an append. ``sizes[0]`` is the sealed info's
    length; ``sizes[1:]`` the sealed chunks'. ``chunk_count`` is the total after this
    push (== first_index + len(sizes) - 1).
    """

    session_id: str
    generation: int
    first_index: int
    chunk_count: int
    sizes: list[int]
    meta: SessionMeta = field(default_factory=lambda: SessionMeta())

    def to_json(self) -> dict[str, Any]:
        """The header as the JSON object written on the wire."""
        return {
            "session_id": self.session_id,
            "generation": self.generation,
            "first_index": self.first_index,
            "chunk_count": self.chunk_count,
            "sizes": list(self.sizes),
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, obj: Any) -> PushHeader:
        """Validate a decoded header; raises :class:`WireError` on any bad field."""
        if not isinstance(obj, dict):
            raise WireError("push header is not an object")
        try:
            sid = obj["session_id"]
            gen = obj["generation"]
            first = obj["first_index"]
            count = obj["chunk_count"]
            sizes = obj["sizes"]
            meta = obj.get("meta") or {}
        except KeyError as exc:
            raise WireError(f"push header lacks {exc.args[0]!r}") from None
        if not isinstance(sid, str) or not sid or len(sid) > MAX_SESSION_ID:
            raise WireError("push header has a bad session_id")
        for name, val in (("generation", gen), ("first_index", first), ("chunk_count", count)):
            if not isinstance(val, int) or isinstance(val, bool) or not 0 <= val <= MAX_INT32:
                raise WireError(f"push header has a bad {name}")
        if gen < 1:
            raise WireError("push header generation must be >= 1")
        if (
            not isinstance(sizes, list)
            or not sizes
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes)
        ):
            raise WireError("push header has bad sizes")
        if count != first + len(sizes) - 1:
            raise WireError("push header chunk_count does not match first_index and sizes")
        if count > MAX_CHUNKS_PER_GENERATION:
            raise WireError("push header has too many chunks for one generation")
        if sizes[0] > MAX_INFO_BYTES or any(s > MAX_SEALED_CHUNK_BYTES for s in sizes[1:]):
            raise WireError("push frame part exceeds its size limit")
        if not isinstance(meta, dict):
            raise WireError("push header meta is not an object")
        return cls(sid, gen, first, count, list(sizes), cast(SessionMeta, _clean_meta(meta)))


def _clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("tool", "project_path", "started_at", "ended_at"):
        val = meta.get(key)
        if (key in meta and val is None) or isinstance(val, str):
            out[key] = clean_text(val, 4096) if isinstance(val, str) else None
    for key in ("message_count", "payload_bytes"):
        val = meta.get(key)
        if isinstance(val, int) and not isinstance(val, bool) and 0 <= val <= MAX_INT64:
            out[key] = val
    return out


def clean_text(text: str, limit: int) -> str:
    """A stored text field: NFC, no control characters, at most ``limit`` characters.

    Lone surrogates never reach here (:func:`loads_json` refuses them); this is the
    normalisation that keeps every later page, feed and export renderable.
    """
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch in "\t" or unicodedata.category(ch) != "Cc")
    return text[:limit]


class WireError(ValueError):
    """A malformed frame or header on the wire."""


#: deeper JSON than this is refused before anything recurses over it (no request needs
#: more than a few levels; the parser itself would raise RecursionError near 1,000)
MAX_JSON_DEPTH: Final = 32
#: the columns' integer range (BIGINT); larger integers are refused, not overflowed
MAX_INT64: Final = 2**63 - 1


def loads_json(raw: bytes | str, what: str = "body") -> Any:
    """Parse untrusted JSON; raises :class:`WireError` for anything that could 5xx later.

    Refused: invalid UTF-8 or JSON, nesting deeper than MAX_JSON_DEPTH, integers
    outside the 64-bit range (and the 4,300-digit parser limit), non-finite numbers,
    and strings (keys too) holding lone surrogates, which no database can store.
    """
    try:
        doc = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise WireError(f"{what} is nested too deeply") from None
    except (UnicodeDecodeError, ValueError):
        raise WireError(f"{what} is not JSON") from None
    check_json_tree(doc, what)
    return doc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_json_tree(doc: Any, what: str = "body") -> None:
    """Walk a decoded JSON value without recursion; WireError on any unstorable part."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        val, depth = stack.pop()
        if isinstance(val, str):
            if not is_storable_text(val):
                raise WireError(
                    f"{what} holds text that cannot be stored (a lone surrogate or a NUL)")
        elif isinstance(val, bool) or val is None or isinstance(val, float):
            continue
        elif isinstance(val, int):
            if not -MAX_INT64 - 1 <= val <= MAX_INT64:
                raise WireError(f"{what} holds an integer beyond 64 bits")
        elif isinstance(val, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise WireError(f"{what} is nested too deeply")
            items = list(val.items()) if isinstance(val, dict) else [(None, v) for v in val]
            for key, item in items:
                if key is not None:
                    stack.append((key, depth))
                stack.append((item, depth + 1))


def is_storable_text(text: str) -> bool:
    """True when ``text`` encodes as UTF-8 (no lone surrogates) and has no NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


# --- framing --------------------------------------------------------------------
# frame := u32 header_len | header JSON (UTF-8) | payload parts (lengths in the header)
# end   := u32 0
_U32 = struct.Struct(">I")
END_MARKER: Final = _U32.pack(0)


def encode_frame(header: dict[str, Any], parts: list[bytes]) -> list[bytes]:
    """Encode one frame as a list of buffers (join them or write them in turn).

    The header must describe the parts' sizes itself (``sizes`` or ``size``).
    """
    raw = json.dumps(header, separators=(",", ":")).encode()
    if len(raw) > MAX_HEADER_BYTES:
        raise WireError("frame header too large")
    return [_U32.pack(len(raw)), raw, *parts]


def encode_push(sessions: list[tuple[PushHeader, list[bytes]]]) -> bytes:
    """A whole push body: magic, one frame per (header, [info, *chunks]), end marker."""
    bufs: list[bytes] = [PUSH_MAGIC]
    for header, parts in sessions:
        if [len(p) for p in parts] != header.sizes:
            raise WireError("push parts do not match header sizes")
        bufs.extend(encode_frame(header.to_json(), parts))
    bufs.append(END_MARKER)
    return b"".join(bufs)


def encode_chunk_frame(
    session_id: str, generation: int, index: int, data: bytes | None
) -> list[bytes]:
    """One frame of a CHUNK response; ``data=None`` marks a missing chunk."""
    size = len(data) if data is not None else None
    return [*encode_chunk_head(session_id, generation, index, size), *([data] if data else [])]


def encode_chunk_head(
    session_id: str, generation: int, index: int, size: int | None
) -> list[bytes]:
    """A CHUNK frame without its data: the ``size`` bytes of the chunk must follow
    (a server streaming the chunk from elsewhere); ``size=None`` marks a missing chunk."""
    header = {
        "session_id": session_id,
        "generation": generation,
        "index": index,
        "status": "ok" if size is not None else "missing",
        "size": size or 0,
    }
    return encode_frame(header, [])


class FrameReader:
    """Incremental decoder for PUSH and CHUNK bodies, fed bytes as they arrive.

    Pure: feed() buffers, frames() yields complete ``(header, parts)`` pairs. The
    caller (server or client) owns the socket and the size limits of the whole body.
    ``part_sizes`` maps a header to the sizes of the parts that follow it.
    """

    def __init__(self, magic: bytes, kind: str) -> None:
        self._magic = magic
        self._kind = kind
        self._buf = bytearray()
        self._saw_magic = False
        self._header: dict[str, Any] | None = None
        self._sizes: list[int] = []
        self.finished = False

    def feed(self, data: bytes) -> None:
        """Append received bytes; raises WireError on bytes after the end marker."""
        if self.finished and data:
            raise WireError(f"{self._kind} body has bytes after its end marker")
        self._buf += data

    def buffered(self) -> int:
        """Bytes received but not yet consumed (bounded by one frame's size)."""
        return len(self._buf)

    def frames(self) -> Iterator[tuple[dict[str, Any], list[bytes]]]:
        """Yield every frame completed by the bytes fed so far."""
        buf = self._buf
        if not self._saw_magic:
            if len(buf) < len(self._magic):
                return
            if bytes(buf[: len(self._magic)]) != self._magic:
                raise WireError(f"{self._kind} body does not start with its magic bytes")
            del buf[: len(self._magic)]
            self._saw_magic = True
        while not self.finished:
            if self._header is None:
                if len(buf) < 4:
                    return
                (hlen,) = _U32.unpack_from(buf, 0)
                if hlen == 0:
                    del buf[:4]
                    self.finished = True
                    if buf:
                        raise WireError(f"{self._kind} body has bytes after its end marker")
                    return
                if hlen > MAX_HEADER_BYTES:
                    raise WireError(f"{self._kind} frame header too large")
                if len(buf) < 4 + hlen:
                    return
                header = loads_json(bytes(buf[4 : 4 + hlen]), f"{self._kind} frame header")
                if not isinstance(header, dict):
                    raise WireError(f"{self._kind} frame header is not an object")
                sizes = _part_sizes(header)
                del buf[: 4 + hlen]
                self._header, self._sizes = header, sizes
            need = sum(self._sizes)
            if len(buf) < need:
                return
            parts: list[bytes] = []
            pos = 0
            for size in self._sizes:
                parts.append(bytes(buf[pos : pos + size]))
                pos += size
            del buf[:need]
            header, self._header = self._header, None
            yield header, parts

    def pending_part_bytes(self) -> int:
        """Bytes the current frame still announces (for streaming size checks)."""
        return sum(self._sizes) if self._header is not None else 0


def _part_sizes(header: dict[str, Any]) -> list[int]:
    if "sizes" in header:
        sizes = header["sizes"]
        if not isinstance(sizes, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEALED_CHUNK_BYTES
            for s in sizes
        ):
            raise WireError("frame has bad sizes")
        return list(sizes)
    size = header.get("size", 0)
    if (
        not isinstance(size, int)
        or isinstance(size, bool)
        or not 0 <= size <= MAX_SEALED_CHUNK_BYTES
    ):
        raise WireError("frame has a bad size")
    return [size] if size else []


def decode_all(body: bytes, magic: bytes, kind: str) -> list[tuple[dict[str, Any], list[bytes]]]:
    """Decode a complete body at once (tests, small responses)."""
    reader = FrameReader(magic, kind)
    reader.feed(body)
    frames = list(reader.frames())
    if not reader.finished:
        raise WireError(f"{kind} body is truncated")
    return frames


def error_body(code: str, message: str, hint: str | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON error document every 4xx/5xx response carries."""
    err: dict[str, Any] = {"code": code, "message": message}
    if hint:
        err["hint"] = hint
    err.update(extra)
    return {"error": err}
