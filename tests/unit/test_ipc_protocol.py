"""IPC request validation and error documents (daemon/ipc/protocol.py): bytes in, values out."""

from __future__ import annotations

import json

import pytest

from lored.daemon.cycles import CycleKind
from lored.daemon.ipc import protocol as p
from lored.errors import EncryptionNotConfigured


def test_defaults_to_sync() -> None:
    assert p.parse_sync_request(b"") == p.SyncRequest("sync", False, False)
    assert p.parse_sync_request(b"{}").kind() == CycleKind("sync")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'{"mode":"push","dry_run":true}', CycleKind("push", dry_run=True)),
        (b'{"mode":"pull","all":true}', CycleKind("pull", all=True)),
        (b'{"mode":"sync","dry_run":false,"all":false}', CycleKind("sync")),
        (b'{"mode":"push","future_field":1}', CycleKind("push")),  # additive fields ignored
    ],
)
def test_valid_requests(body: bytes, kind: CycleKind) -> None:
    assert p.parse_sync_request(body).kind() == kind


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        (b"\x00\xffgarbage", "bad_request", 400),
        (b'{"mode": "sy', "bad_request", 400),  # truncated JSON
        (b"[1,2]", "bad_request", 400),
        (b'"sync"', "bad_request", 400),
        (b'{"mode":"backup"}', "usage", 400),
        (b'{"mode":1}', "usage", 400),
        (b'{"dry_run":"yes","mode":"push"}', "usage", 400),
        (b'{"all":1,"mode":"pull"}', "usage", 400),
        (b'{"mode":"pull","dry_run":true}', "usage", 400),
        (b'{"mode":"push","all":true}', "usage", 400),
        (b"{" + b" " * p.MAX_BODY + b"}", "too_large", 413),
    ],
)
def test_invalid_requests(body: bytes, code: str, status: int) -> None:
    with pytest.raises(p.IpcError) as info:
        p.parse_sync_request(body)
    assert info.value.code == code
    assert info.value.status == status
    doc = p.error_doc_for(info.value)
    assert set(doc["error"]) >= {"code", "message", "hint"}
    assert doc["error"]["message"]


def test_invalid_utf8_is_a_clear_400() -> None:
    with pytest.raises(p.IpcError, match="not UTF-8"):
        p.parse_object(b'{"mode":"\xff"}')


def test_error_doc_shape_and_status_mapping() -> None:
    doc = p.error_doc_for(EncryptionNotConfigured())
    assert doc["error"]["code"] == "encryption_not_configured"
    assert "lorectl push" in doc["error"]["hint"]
    assert p.status_for("encryption_not_configured") == 409
    assert p.status_for("not_found") == 404
    assert p.status_for("something_new") == 500


def test_ndjson_lines_round_trip() -> None:
    line = p.encode_line(p.result_event("push", {"pushed": 2, "sessions": ["a", "b"]}))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {
        "event": "result", "mode": "push", "result": {"pushed": 2, "sessions": ["a", "b"]}
    }
    err = json.loads(p.encode_line(p.error_event(EncryptionNotConfigured())))
    assert err["event"] == "error" and err["error"]["code"] == "encryption_not_configured"
