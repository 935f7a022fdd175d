"""One session's way out, as pure CPU: what may leave, what to upload, sealed.

:func:`prepare` runs in the push's worker pool as *one* call per session — decompress
the stored payload, redact it, plan the step and seal it — so the event loop pays one
thread hop per session instead of four. When what leaves is the stored payload itself
(nothing redacted), its stored digest stands in for a hashing pass and its stored zstd
frames, cut where the chunks are cut (``lored.store.frames``), are sealed as they are
instead of compressing the same bytes again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import zstandard

from lored.crypto.seal import Binding, seal_chunk, seal_chunk_frame, seal_info
from lored.crypto.secret import SecretBytes
from lored.secrets.redact import Redactor
from lored.store.frames import cut, split
from lored.store.rows import PushCandidate
from lored.sync.plan import (
    Limits,
    PushKind,
    PushStep,
    payload_digest,
    plan_session,
    split_spans,
    whole,
)
from loreproto import wire


@dataclass(frozen=True)
class Sealing:
    """What sealing needs besides the session: the key and where the blobs belong."""

    data_key: SecretBytes
    account_id: str
    machine_id: str
    minimal: bool  # privacy: no project path in the server-visible metadata


@dataclass
class Outgoing:
    """A session prepared for upload: ``step`` None when the server has exactly this."""

    candidate: PushCandidate
    step: PushStep | None
    header: wire.PushHeader | None = None
    parts: list[bytes] | None = None
    #: the local payload's (length, digest) when the pushed bytes differ from it
    source: tuple[int, str] | None = None


def outgoing(redactor: Redactor | None, c: PushCandidate, payload: bytes
             ) -> tuple[bytes, PushCandidate, tuple[int, str] | None]:
    """What may leave the machine: the payload and sealed info with secrets redacted
    (line by line, so a grown session still plans as an append), plus the local
    payload's (length, digest) when the two differ. The same payload object comes back
    when nothing was redacted."""
    if redactor is None:
        return payload, c, None
    out = redactor.for_push(payload, c.tool)
    c = _redact_info(redactor, c)
    if out is payload:
        return payload, c, None
    return out, c, (len(payload), payload_digest(payload))


def plan_push(c: PushCandidate, payload: bytes, limits: Limits,
              known_digest: str | None = None) -> PushStep | None:
    """The step for ``c`` against what it last pushed (see :func:`plan_session`)."""
    return plan_session(
        c.session_id, payload, pushed_generation=c.pushed_generation,
        pushed_chunks=c.pushed_chunks, pushed_length=c.pushed_length,
        pushed_hash=c.pushed_hash, limits=limits, known_digest=known_digest)


def aligned(step: PushStep, frames: list[bytes]) -> bool:
    """True when chunk ``i`` of ``step`` is exactly the plaintext of ``frames[i]``."""
    return step.first_index == 0 and len(frames) == len(step.spans) and all(
        zstandard.frame_content_size(f) == end - start
        for f, (start, end) in zip(frames, step.spans, strict=True))


def meta(c: PushCandidate, minimal: bool) -> wire.SessionMeta:
    """The server-visible metadata of a push (no project path when ``minimal``)."""
    return wire.SessionMeta(
        tool=c.tool, project_path="" if minimal else (c.project_path or ""),
        started_at=c.started_at, ended_at=c.ended_at, message_count=c.message_count,
        payload_bytes=c.payload_length,
    )


def seal_step(s: Sealing, c: PushCandidate, step: PushStep, payload: bytes,
              frames: list[bytes] | None = None) -> tuple[wire.PushHeader, list[bytes]]:
    """Seal the info and the step's chunks; ``frames`` (the stored, chunk-aligned zstd
    frames of ``payload``) are sealed as they are when the step uploads all of them."""
    binding = Binding(s.account_id, c.session_id, s.machine_id, step.generation)
    parts = [seal_info(s.data_key, c.info, binding, step.chunk_count)]
    if frames is not None and aligned(step, frames):
        parts += [seal_chunk_frame(s.data_key, f, binding, i) for i, f in enumerate(frames)]
    else:
        for i, (start, end) in enumerate(step.spans):
            parts.append(seal_chunk(s.data_key, payload[start:end], binding,
                                    step.first_index + i))
    header = wire.PushHeader(c.session_id, step.generation, step.first_index,
                             step.chunk_count, [len(p) for p in parts], meta(c, s.minimal))
    return header, parts


def prepare(s: Sealing, redactor: Redactor | None, c: PushCandidate, blob: bytes,
            limits: Limits, rewrite_above: int | None = None) -> Outgoing:
    """Everything a push does to one session before the upload, from its stored blob.

    ``rewrite_above``: the server holds a state we did not expect (a conflict) — push
    the whole payload as a generation above both it and ours.
    """
    clean = redactor is None or c.scan_clean == redactor.clean_mark(c.payload_hash)
    if clean and (c.pushed_generation <= 0 or c.pushed_chunks <= 0
                  or rewrite_above is not None):
        quick = _as_stored(s, redactor, c, blob, limits, rewrite_above)
        if quick is not None:
            return quick
    original, frames = split(blob)
    if clean and redactor is not None:  # scanned clean at capture: only the info is left
        payload, c, source = original, _redact_info(redactor, c), None
    else:
        payload, c, source = outgoing(redactor, c, original)
    same = payload is original and len(payload) == c.payload_length
    known = c.payload_hash if same else None
    if rewrite_above is not None:
        gen = max(c.pushed_generation, rewrite_above) + 1
        step: PushStep | None = whole(c.session_id, "rewrite", gen, payload, limits, known)
    else:
        step = plan_push(c, payload, limits, known)
    if step is None:
        return Outgoing(c, None, source=source)
    header, parts = seal_step(s, c, step, payload, frames if same else None)
    return Outgoing(c, step, header, parts, source)


def _redact_info(redactor: Redactor | None, c: PushCandidate) -> PushCandidate:
    if redactor is None:
        return c
    info = redactor.redact_obj(c.info)
    return c if info == c.info else replace(c, info=info)


def _as_stored(s: Sealing, redactor: Redactor | None, c: PushCandidate, blob: bytes,
               limits: Limits, rewrite_above: int | None) -> Outgoing | None:
    """A whole upload of a payload that leaves as it is stored (nothing to redact, as
    the capture's scan found): its frames are sealed without being decompressed. None
    when the stored frames are not cut where this upload's chunks are."""
    frames = cut(blob)
    if frames is None:
        return None
    spans = split_spans(0, c.payload_length, limits.max_chunk_bytes)
    kind: PushKind = "new" if rewrite_above is None else "rewrite"
    gen = 1 if rewrite_above is None else max(c.pushed_generation, rewrite_above) + 1
    step = PushStep(c.session_id, kind, gen, 0, len(spans), spans, c.payload_length,
                    c.payload_hash)
    if not aligned(step, frames):
        return None
    c = _redact_info(redactor, c)
    header, parts = seal_step(s, c, step, b"", frames)
    return Outgoing(c, step, header, parts)


def plan_only(redactor: Redactor | None, c: PushCandidate, payload: bytes,
              limits: Limits) -> tuple[PushCandidate, PushStep | None]:
    """A dry run's view of one session: what would be planned, nothing sealed."""
    out, c, _ = outgoing(redactor, c, payload)
    return c, plan_push(c, out, limits)


def conflict_generation(conflict: dict[str, Any]) -> int:
    """The generation a conflicting server reported (0 when it did not say)."""
    gen = conflict.get("generation")
    return gen if isinstance(gen, int) and not isinstance(gen, bool) else 0
