"""Pure sync planning: push decisions, batching, pull decisions and the rollback guard."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lored.store import digest
from lored.sync.plan import (
    ChangeEntry,
    Held,
    Limits,
    fetch_batches,
    human_size,
    payload_digest,
    plan_batches,
    plan_pull,
    plan_session,
    split_spans,
    supersedes,
    too_large,
)
from loreproto import wire

SMALL = Limits(max_chunk_bytes=100, max_session_bytes=1000)


def _plan(payload: bytes, gen: int = 0, chunks: int = 0, length: int = 0,
          prefix: bytes | None = None, limits: Limits = SMALL) -> Any:
    return plan_session(
        "claude-code:s", payload, pushed_generation=gen, pushed_chunks=chunks,
        pushed_length=length, pushed_hash=payload_digest(prefix) if prefix is not None else None,
        limits=limits,
    )


def test_digest_matches_store() -> None:
    assert payload_digest(b"abc") == digest(b"abc")


def test_new_session_is_generation_one_in_chunks() -> None:
    step = _plan(b"x" * 250)
    assert (step.kind, step.generation, step.first_index, step.chunk_count) == ("new", 1, 0, 3)
    assert step.spans == ((0, 100), (100, 200), (200, 250))
    assert step.upload_bytes == 250 and step.payload_hash == payload_digest(b"x" * 250)


def test_empty_payload_still_has_one_chunk() -> None:
    step = _plan(b"")
    assert step.chunk_count == 1 and step.spans == ((0, 0),)


def test_unchanged_is_none() -> None:
    data = b"hello world"
    assert _plan(data, 1, 1, len(data), data) is None


def test_append_uploads_only_the_tail() -> None:
    old = b"a" * 150
    new = old + b"b" * 120
    step = _plan(new, gen=2, chunks=2, length=len(old), prefix=old)
    assert step.kind == "append" and step.generation == 2
    assert step.first_index == 2 and step.chunk_count == 4
    assert step.spans == ((150, 250), (250, 270))
    assert step.upload_bytes == 120


def test_rewrite_is_next_generation_whole() -> None:
    old = b"a" * 150
    for new in (b"b" + old[1:] + b"tail", b"a" * 10, b"c" * 150):
        step = _plan(new, gen=3, chunks=2, length=len(old), prefix=old)
        assert step.kind == "rewrite" and step.generation == 4 and step.first_index == 0
        assert step.upload_bytes == len(new)


def test_compaction_past_max_chunks() -> None:
    old = b"a" * 50
    new = old + b"b" * 10
    step = _plan(new, gen=5, chunks=wire.MAX_CHUNKS_PER_GENERATION, length=50, prefix=old)
    assert step.kind == "compact" and step.generation == 6
    assert step.first_index == 0 and step.chunk_count == 1 and step.upload_bytes == 60
    step = _plan(new, gen=5, chunks=wire.MAX_CHUNKS_PER_GENERATION - 1, length=50, prefix=old)
    assert step.kind == "append" and step.chunk_count == wire.MAX_CHUNKS_PER_GENERATION


def test_too_large_message() -> None:
    limits = Limits(max_session_bytes=8_000_000)
    skip = too_large("claude-code:big", 12_400_000, limits)
    assert skip is not None and skip.reason == "too_large"
    assert skip.message == (
        "session claude-code:big (12.4 MB) exceeds the 8 MB upload limit; kept locally"
    )
    assert too_large("claude-code:ok", 8_000_000, limits) is None


@given(st.integers(0, 5000), st.integers(0, 5000), st.integers(1, 700))
def test_split_spans_cover_exactly(start: int, length: int, chunk: int) -> None:
    spans = split_spans(start, start + length, chunk)
    assert spans[0][0] == start and spans[-1][1] == start + length
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert all(0 < e - s <= chunk for s, e in spans) or length == 0


@given(st.binary(max_size=600), st.binary(max_size=600))
def test_append_plan_reassembles(old: bytes, tail: bytes) -> None:
    """Chunks of the pushed prefix plus the step's chunks always rebuild the payload."""
    first = _plan(old)
    new = old + tail
    step = _plan(new, gen=1, chunks=first.chunk_count, length=len(old), prefix=old)
    if not tail:
        assert step is None
        return
    if step.kind == "append":
        parts = [old[s:e] for s, e in first.spans] + [new[s:e] for s, e in step.spans]
    else:
        parts = [new[s:e] for s, e in step.spans]
    assert b"".join(parts) == new


def test_batching_respects_bytes_and_count() -> None:
    assert plan_batches([3, 3, 3, 3], max_bytes=7, max_items=10) == [[0, 1], [2, 3]]
    assert plan_batches([1] * 5, max_bytes=100, max_items=2) == [[0, 1], [2, 3], [4]]
    assert plan_batches([50, 1, 1], max_bytes=10, max_items=10) == [[0], [1, 2]]  # big alone
    assert plan_batches([], 10, 10) == []


def test_limits_from_account() -> None:
    lim = Limits.from_account({"limits": {
        "max_session_bytes": 8 * wire.MiB, "max_request_bytes": 9 * wire.MiB,
        "max_batch_sessions": 50, "max_chunk_bytes": 64 * wire.MiB, "max_fetch_chunks": 10}})
    assert lim.max_session_bytes == 8 * wire.MiB and lim.max_batch_sessions == 50
    assert lim.max_chunk_bytes == wire.MAX_CHUNK_BYTES  # never above the wire limit
    assert lim.batch_bytes == 8 * wire.MiB
    assert Limits.from_account({}) == Limits()
    assert human_size(8 * wire.MiB) == "8.4 MB" and human_size(999) == "999 B"


# --- pull ------------------------------------------------------------------------
def _entry(gen: int = 2, count: int = 3, deleted: bool = False, origin: str = "m-b",
           seq: int = 10) -> ChangeEntry:
    return ChangeEntry.from_json({
        "session_id": "codex:x", "origin_machine_id": origin, "origin_machine_name": "b",
        "seq": seq, "generation": gen, "chunk_count": count, "chunk_sizes": [10] * count,
        "stored_bytes": 10 * count, "deleted": deleted, "meta": {"tool": "codex"},
        "info": None if deleted else "AAAA",
    })


def test_pull_new_session_fetches_all() -> None:
    step = plan_pull(_entry(), None, "m-a")
    assert step.kind == "fetch" and list(step.indexes) == [0, 1, 2] and not step.append
    assert step.fetch_bytes == 30


def test_pull_same_generation_fetches_missing_tail() -> None:
    step = plan_pull(_entry(count=5), Held(2, 3, "m-b", False), "m-a")
    assert step.kind == "fetch" and step.append and list(step.indexes) == [3, 4]


def test_pull_new_generation_fetches_all() -> None:
    step = plan_pull(_entry(gen=3, count=1), Held(2, 9, "m-b", False), "m-a")
    assert step.kind == "fetch" and not step.append and list(step.indexes) == [0]


def test_pull_up_to_date_fetches_nothing() -> None:
    assert plan_pull(_entry(), Held(2, 3, "m-b", False), "m-a").kind == "up_to_date"


@pytest.mark.parametrize("entry, held", [
    (_entry(gen=1, count=9), Held(2, 3, "m-b", False)),  # older generation replayed
    (_entry(gen=2, count=2), Held(2, 3, "m-b", False)),  # chunks dropped
])
def test_pull_rollback_guard(entry: ChangeEntry, held: Held) -> None:
    step = plan_pull(entry, held, "m-a")
    assert step.kind == "rollback" and list(step.indexes) == []
    assert step.message and "kept the local copy" in step.message


def test_pull_never_takes_own_sessions() -> None:
    assert plan_pull(_entry(origin="m-a"), None, "m-a").kind == "not_ours"
    assert plan_pull(_entry(), Held(0, 0, "m-a", True), "m-a").kind == "not_ours"


def test_pull_tombstones() -> None:
    assert plan_pull(_entry(deleted=True), Held(2, 3, "m-b", False), "m-a").kind == "delete"
    assert plan_pull(_entry(deleted=True), None, "m-a").kind == "up_to_date"


@pytest.mark.parametrize("bad", [
    {"session_id": "", "origin_machine_id": "m", "seq": 1},
    {"session_id": "a:b", "origin_machine_id": "m", "seq": -1},
    {"session_id": "a:b", "origin_machine_id": "m", "seq": 1, "generation": 1,
     "chunk_count": 2, "chunk_sizes": [1], "info": "x"},
    {"session_id": "a:b", "origin_machine_id": "m", "seq": 1, "generation": 1,
     "chunk_count": 1, "chunk_sizes": [1], "info": None},
    "nope",
])
def test_bad_change_entries(bad: Any) -> None:
    with pytest.raises(wire.WireError):
        ChangeEntry.from_json(bad)


def test_change_entry_roundtrip() -> None:
    e = _entry()
    assert ChangeEntry.from_json(e.to_json()) == e


def test_fetch_batches_group_by_count_and_bytes() -> None:
    steps = [plan_pull(_entry(count=5), None, "m-a"), plan_pull(_entry(count=2), None, "m-a")]
    groups = fetch_batches(steps, max_chunks=3, max_bytes=1000)
    assert [len(g) for g in groups] == [3, 3, 1]
    assert groups[0][0] == ("codex:x", 2, 0)
    assert [len(g) for g in fetch_batches(steps, max_chunks=100, max_bytes=25)] == [2, 2, 2, 1]


def test_supersedes() -> None:
    assert supersedes(_entry(gen=2, count=3), Held(2, 3, "m-b", False))
    assert supersedes(_entry(gen=1, count=9), Held(2, 1, "m-b", False))
    assert not supersedes(_entry(gen=2, count=4), Held(2, 3, "m-b", False))
    assert supersedes(_entry(deleted=True), None) and not supersedes(_entry(), None)
