"""Pure sync planning: what to upload for each local session, what to fetch for each change.

No I/O, no crypto, no clock. The engine feeds this module candidates, payloads, change
entries and what is held locally, and executes the steps it returns. Rules (PROTOCOL.md):

* push: never pushed → generation 1; payload still starts with what was pushed →
  append only the tail as new chunk(s) of the same generation (past
  MAX_CHUNKS_PER_GENERATION, compact into a new generation); otherwise generation + 1
  with the whole payload. Sessions over the account's ``max_session_bytes`` are skipped.
* pull: same generation → fetch indexes ≥ what is held; new generation → all; a lower
  generation, or fewer chunks in the same generation, is a rollback and is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from loreproto import wire

PushKind = Literal["new", "append", "rewrite", "compact"]
T = TypeVar("T")


def payload_digest(data: bytes) -> str:
    """BLAKE2b-256 hex, the same digest the store keeps for payloads and pushed prefixes."""
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def human_size(n: int) -> str:
    """Decimal size as lorectl prints it: ``512 B``, ``1.2 MB``, ``8 MB``."""
    value = float(n)
    if value < 1000:
        return f"{int(value)} B"
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1000.0
        if value < 999.95 or unit == "TB":
            text = f"{value:.1f}"
            return f"{text[:-2] if text.endswith('.0') else text} {unit}"
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Limits:
    """The account's upload/fetch limits (from the account document)."""

    max_session_bytes: int = wire.DEFAULT_MAX_SESSION_BYTES
    max_request_bytes: int = wire.max_request_bytes(wire.DEFAULT_MAX_SESSION_BYTES)
    max_batch_sessions: int = wire.MAX_BATCH_SESSIONS
    max_chunk_bytes: int = wire.MAX_CHUNK_BYTES
    max_fetch_chunks: int = wire.MAX_FETCH_CHUNKS
    batch_bytes: int = wire.DEFAULT_BATCH_BYTES

    @classmethod
    def from_account(cls, doc: dict[str, Any]) -> Limits:
        """Limits from ``AccountDoc["limits"]``; missing or bad values fall back to defaults."""
        raw = doc.get("limits") if isinstance(doc, dict) else None
        raw = raw if isinstance(raw, dict) else {}

        def num(key: str, default: int, cap: int | None = None) -> int:
            val = raw.get(key)
            if not isinstance(val, int) or isinstance(val, bool) or val <= 0:
                return default
            return min(val, cap) if cap else val

        max_session = num("max_session_bytes", wire.DEFAULT_MAX_SESSION_BYTES)
        max_request = num("max_request_bytes", wire.max_request_bytes(max_session))
        return cls(
            max_session_bytes=max_session,
            max_request_bytes=max_request,
            max_batch_sessions=num("max_batch_sessions", wire.MAX_BATCH_SESSIONS),
            max_chunk_bytes=num("max_chunk_bytes", wire.MAX_CHUNK_BYTES, wire.MAX_CHUNK_BYTES),
            max_fetch_chunks=num("max_fetch_chunks", wire.MAX_FETCH_CHUNKS),
            # leave 1 MiB of the request limit for headers and AEAD/zstd overhead
            batch_bytes=max(1, min(wire.DEFAULT_BATCH_BYTES, max_request - wire.MiB)),
        )


@dataclass(frozen=True)
class Skipped:
    """A session left out of this push (kept locally), with the reason shown to the user."""

    session_id: str
    reason: str  # too_large | quota_exceeded | owned_elsewhere
    message: str

    def to_json(self) -> dict[str, str]:
        """CLI.md's ``skipped`` entry."""
        return {"session_id": self.session_id, "reason": self.reason, "message": self.message}


@dataclass(frozen=True)
class PushStep:
    """What to upload for one session: chunk ``first_index + i`` is ``payload[spans[i]]``."""

    session_id: str
    kind: PushKind
    generation: int
    first_index: int
    chunk_count: int
    spans: tuple[tuple[int, int], ...]
    payload_length: int
    payload_hash: str

    @property
    def upload_bytes(self) -> int:
        """Plaintext bytes this step uploads."""
        return sum(end - start for start, end in self.spans)


def too_large(session_id: str, payload_length: int, limits: Limits) -> Skipped | None:
    """The skip for a session over the upload limit (checked before loading its payload)."""
    if payload_length <= limits.max_session_bytes:
        return None
    return Skipped(
        session_id,
        wire.RESULT_TOO_LARGE,
        f"session {session_id} ({human_size(payload_length)}) exceeds the "
        f"{human_size(limits.max_session_bytes)} upload limit; kept locally",
    )


def split_spans(start: int, end: int, chunk_bytes: int) -> tuple[tuple[int, int], ...]:
    """Cut ``[start, end)`` into spans of at most ``chunk_bytes`` (one empty span if empty)."""
    if end <= start:
        return ((start, start),)
    return tuple((s, min(s + chunk_bytes, end)) for s in range(start, end, chunk_bytes))


def whole(session_id: str, kind: PushKind, generation: int, payload: bytes,
          limits: Limits, known_digest: str | None = None) -> PushStep:
    """A step that uploads the whole payload as a new generation (``known_digest``: the
    payload's digest when the caller already has it, e.g. from the store)."""
    spans = split_spans(0, len(payload), limits.max_chunk_bytes)
    return PushStep(session_id, kind, generation, 0, len(spans), spans, len(payload),
                    known_digest or payload_digest(payload))


def plan_session(
    session_id: str,
    payload: bytes,
    *,
    pushed_generation: int,
    pushed_chunks: int,
    pushed_length: int,
    pushed_hash: str | None,
    limits: Limits,
    known_digest: str | None = None,
) -> PushStep | None:
    """Decide how to push one session; None when the server already has exactly this.

    ``known_digest`` is :func:`payload_digest` of ``payload`` when the caller holds it
    (the store keeps it for captured payloads): one hashing pass fewer per push."""
    if pushed_generation <= 0 or pushed_chunks <= 0:
        return whole(session_id, "new", 1, payload, limits, known_digest)
    length = len(payload)
    prefix_same = (
        pushed_hash is not None
        and length >= pushed_length
        and payload_digest(payload[:pushed_length]) == pushed_hash
    )
    if not prefix_same:
        return whole(session_id, "rewrite", pushed_generation + 1, payload, limits,
                     known_digest)
    if length == pushed_length:
        return None
    tail = split_spans(pushed_length, length, limits.max_chunk_bytes)
    if pushed_chunks + len(tail) > wire.MAX_CHUNKS_PER_GENERATION:
        return whole(session_id, "compact", pushed_generation + 1, payload, limits,
                     known_digest)
    return PushStep(session_id, "append", pushed_generation, pushed_chunks,
                    pushed_chunks + len(tail), tail, length,
                    known_digest or payload_digest(payload))


@dataclass
class BatchBuilder(Generic[T]):
    """Groups items into push requests of ≤ ``max_bytes`` and ≤ ``max_items`` each.

    ``add`` returns the batch to send when the new item would not fit; an item larger
    than ``max_bytes`` on its own still goes (alone) — the server's request limit is
    sized so that any session under ``max_session_bytes`` fits in one request.
    """

    max_bytes: int
    max_items: int
    _items: list[T] = field(default_factory=list)
    _bytes: int = 0

    def add(self, item: T, size: int) -> list[T] | None:
        """Add an item; returns a full batch to flush first, if any."""
        out: list[T] | None = None
        if self._items and (
            self._bytes + size > self.max_bytes or len(self._items) >= self.max_items
        ):
            out = self.flush()
        self._items.append(item)
        self._bytes += size
        return out

    def flush(self) -> list[T]:
        """Take whatever is pending (possibly nothing)."""
        out, self._items, self._bytes = self._items, [], 0
        return out


def plan_batches(sizes: Sequence[int], max_bytes: int, max_items: int) -> list[list[int]]:
    """Index groups of ``sizes`` as :class:`BatchBuilder` would send them."""
    builder: BatchBuilder[int] = BatchBuilder(max_bytes, max_items)
    batches = [b for i, size in enumerate(sizes) if (b := builder.add(i, size))]
    last = builder.flush()
    return batches + ([last] if last else [])


# --- pull -------------------------------------------------------------------------
PullKind = Literal["fetch", "delete", "delete_own", "up_to_date", "rollback", "not_ours"]


@dataclass(frozen=True)
class ChangeEntry:
    """One validated entry of the change feed. Everything but the ids is untrusted until
    the sealed info and chunks open under an AD that binds them."""

    session_id: str
    origin_machine_id: str
    origin_machine_name: str | None
    seq: int
    generation: int
    chunk_count: int
    chunk_sizes: tuple[int, ...]
    deleted: bool
    info: str | None  # base64 of the sealed info
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: Any) -> ChangeEntry:
        """Validate a wire ``Change``; raises :class:`wire.WireError` when malformed."""
        if not isinstance(obj, dict):
            raise wire.WireError("change entry is not an object")
        try:
            sid, origin, seq = obj["session_id"], obj["origin_machine_id"], obj["seq"]
            deleted = bool(obj.get("deleted", False))
            gen, count = obj.get("generation") or 0, obj.get("chunk_count") or 0
            sizes = obj.get("chunk_sizes") or []
        except (KeyError, TypeError):
            raise wire.WireError("change entry lacks a field") from None
        ints = (seq, gen, count, *sizes) if isinstance(sizes, list) else None
        if (
            not isinstance(sid, str) or not sid or not isinstance(origin, str)
            or ints is None
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in ints)
        ):
            raise wire.WireError("change entry has a bad field")
        if not deleted and (gen < 1 or count < 1 or len(sizes) != count
                            or count > wire.MAX_CHUNKS_PER_GENERATION
                            or not isinstance(obj.get("info"), str)):
            raise wire.WireError(f"change entry for {sid} is inconsistent")
        name = obj.get("origin_machine_name")
        meta = obj.get("meta")
        return cls(sid, origin, name if isinstance(name, str) else None, seq, gen, count,
                   tuple(sizes), deleted, obj.get("info") if not deleted else None,
                   meta if isinstance(meta, dict) else {})

    def to_json(self) -> dict[str, Any]:
        """The entry as the wire spells it (kept in the local retry list)."""
        return {
            "session_id": self.session_id, "origin_machine_id": self.origin_machine_id,
            "origin_machine_name": self.origin_machine_name, "seq": self.seq,
            "generation": self.generation, "chunk_count": self.chunk_count,
            "chunk_sizes": list(self.chunk_sizes), "deleted": self.deleted,
            "info": self.info, "meta": dict(self.meta),
        }


@dataclass(frozen=True)
class Held:
    """What this machine holds of a session (mirror of the store's RemoteState)."""

    generation: int
    chunk_count: int
    origin_machine_id: str
    local: bool


@dataclass(frozen=True)
class PullStep:
    """What to do with one change entry: fetch chunks ``first_index..chunk_count-1`` (and
    append them to the held payload when ``append``), delete, or leave alone."""

    entry: ChangeEntry
    kind: PullKind
    first_index: int = 0
    append: bool = False
    message: str | None = None

    @property
    def indexes(self) -> range:
        """Chunk indexes to fetch."""
        return range(self.first_index, self.entry.chunk_count) if self.kind == "fetch" else range(0)

    @property
    def fetch_bytes(self) -> int:
        """Sealed bytes this step downloads (as announced by the feed)."""
        return sum(self.entry.chunk_sizes[i] for i in self.indexes)


def plan_pull(entry: ChangeEntry, held: Held | None, machine_id: str) -> PullStep:
    """Decide what to fetch for one change entry, applying the rollback guard."""
    sid = entry.session_id
    if entry.deleted and entry.origin_machine_id == machine_id and held is not None and held.local:
        # our own session deleted elsewhere (the dashboard, or `sessions delete --everywhere`
        # on this machine): remove it here and remember, so capture does not revive it
        return PullStep(entry, "delete_own")
    if entry.origin_machine_id == machine_id or (held is not None and held.local):
        # our own session (the server should not send these) or one captured here: the
        # local copy is authoritative; a push of it reports owned_elsewhere if it clashes
        return PullStep(entry, "not_ours")
    if entry.deleted:
        return PullStep(entry, "delete" if held is not None else "up_to_date")
    if held is None or held.generation <= 0:
        return PullStep(entry, "fetch")
    if entry.generation > held.generation:
        return PullStep(entry, "fetch")
    if entry.generation < held.generation or entry.chunk_count < held.chunk_count:
        return PullStep(
            entry, "rollback",
            message=f"session {sid}: the server offered generation {entry.generation} with "
            f"{entry.chunk_count} chunk(s), older than the generation {held.generation} with "
            f"{held.chunk_count} chunk(s) held here; kept the local copy",
        )
    if entry.chunk_count == held.chunk_count:
        return PullStep(entry, "up_to_date")
    return PullStep(entry, "fetch", first_index=held.chunk_count, append=True)


ChunkRef = tuple[str, int, int]  # (session_id, generation, index)


def fetch_batches(
    steps: Sequence[PullStep], max_chunks: int, max_bytes: int
) -> list[list[ChunkRef]]:
    """Chunk references grouped into fetch requests of ≤ max_chunks and ≈ ≤ max_bytes."""
    builder: BatchBuilder[ChunkRef] = BatchBuilder(max_bytes, max_chunks)
    out: list[list[ChunkRef]] = []
    for step in steps:
        for i in step.indexes:
            full = builder.add((step.entry.session_id, step.entry.generation, i),
                               step.entry.chunk_sizes[i])
            if full:
                out.append(full)
    last = builder.flush()
    return out + ([last] if last else [])


def supersedes(entry: ChangeEntry, held: Held | None) -> bool:
    """True when ``held`` already covers ``entry`` (a retry entry that is no longer needed)."""
    if held is None:
        return entry.deleted
    return (held.generation, held.chunk_count) >= (entry.generation, entry.chunk_count)
