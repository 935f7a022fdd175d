"""JSON lines read by msgspec first give exactly json's answer, refusals included."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lored.capture import _common
from lored.capture._common import Notes, loads_tolerant, use_fast_json

use_fast_json()  # the workers' reader: every answer below must still be json's

EDGES = [
    b'{"a":1,"a":2}',  # duplicate keys: the last wins
    b'{"n":123456789012345678901234567890}',  # past 64 bits: still an exact int
    b'{"n":-9223372036854775809}',
    b'{"f":1e400}',  # msgspec refuses, json says inf
    b'{"f":NaN}',
    b'{"s":"\\ud800"}',  # a lone surrogate
    b'{"s":"caf\xe9"}',  # invalid UTF-8: replaced, with a warning
    b'{"f":-0.0,"g":1.5e-7,"h":1E5}',
    b"[" * 5000 + b"]" * 5000,  # deeper than either decoder goes
    b"{not json",
    b'"just a string"',
]


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_the_fast_reader_is_on_here() -> None:
    assert _common._FAST is not None


@pytest.mark.parametrize("raw", EDGES, ids=[e[:24].decode("latin-1") for e in EDGES])
def test_edges_get_json_s_answer(raw: bytes) -> None:
    notes = Notes()
    got = loads_tolerant(raw, notes, "line 1")
    assert _same(got, _json(raw)), raw[:40]
    assert (notes.bad_records == 1) == (got is None)
    if b"\xe9" in raw:
        assert any("invalid UTF-8" in w for w in notes.warnings)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@given(JSON)
def test_any_document_reads_as_json_reads_it(doc: Any) -> None:
    raw = json.dumps(doc).encode()
    assert _same(loads_tolerant(raw, Notes(), "line 1"), json.loads(raw))
