"""The OpenAPI 3 document of the Lore Cloud HTTP API, served at ``/v1/openapi.json``.

Hand-written next to ``loreproto/wire.py`` (the normative contract) so that tools such
as schemathesis can exercise every endpoint; binary bodies are described as such.
"""

from __future__ import annotations

from typing import Any

from loreproto import wire

_ERR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": "error", **_json(_ERR)} for s in statuses}


def _op(summary: str, ok: dict[str, Any], *errors: int, auth: bool = True,
        body: dict[str, Any] | None = None, params: list[dict[str, Any]] | None = None,
        ok_status: str = "200") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {ok_status: ok, **_errors(*errors)}}
    if not auth:
        op["security"] = []
    if body is not None:
        op["requestBody"] = {"required": True, **body}
    if params:
        op["parameters"] = params
    return op


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


_S = {"type": "string"}
_I = {"type": "integer", "minimum": 0}
_B = {"type": "boolean"}
_NS = {"type": "string", "nullable": True}


def openapi_document() -> dict[str, Any]:
    """The whole document (a fresh dict each call)."""
    limits = _obj({k: _I for k in (
        "max_session_bytes", "max_request_bytes", "max_batch_sessions", "max_chunk_bytes",
        "max_fetch_chunks")} | {"max_sessions": {**_I, "nullable": True},
                                "storage_bytes": {**_I, "nullable": True}})
    machine = _obj({"id": _S, "name": _S, "label": _S, "last_sync": _NS, "sessions": _I,
                    "active": _B})
    account = _obj({
        "account_id": _S, "email": _S, "plan": _S, "limits": limits,
        "usage": _obj({"sessions": _I, "storage_bytes": _I}), "last_sync": _NS,
        "machine": _obj({"id": _S, "name": _S}), "machines": {"type": "array", "items": machine},
        "reset": {**_obj({"at": _S, "by": _S}), "nullable": True},
    })
    meta = _obj({"tool": _S, "project_path": _S, "started_at": _NS, "ended_at": _NS,
                 "message_count": _I, "payload_bytes": _I})
    change = _obj({
        "session_id": _S, "origin_machine_id": _S, "origin_machine_name": _S, "seq": _I,
        "generation": _I, "chunk_count": _I, "chunk_sizes": {"type": "array", "items": _I},
        "stored_bytes": _I, "deleted": _B, "meta": meta,
        "info": {"type": "string", "format": "byte", "nullable": True}, "updated_at": _S,
    })
    result = _obj({
        "session_id": _S, "status": {"type": "string", "enum": sorted(wire.PUSH_RESULTS)},
        "message": _S, "seq": {**_I, "nullable": True},
        "generation": {**_I, "nullable": True}, "chunk_count": {**_I, "nullable": True},
    })
    envelope = {"type": "object", "additionalProperties": True}
    login_body = _obj({"email": _S, "password": _S, "machine_id": {**_S, "minLength": 1},
                       "machine_name": _S}, ["email", "password", "machine_id"])
    ref = _obj({"session_id": _S, "generation": _I, "index": _I},
               ["session_id", "generation", "index"])
    paths: dict[str, Any] = {
        "/healthz": {"get": _op("Readiness", _json(_obj({"ok": _B})), 503, auth=False)},
        "/v1/openapi.json": {"get": _op("This document", _json({"type": "object"}),
                                        auth=False)},
        "/v1/register": {"post": _op(
            "Self-service registration (open-registration servers)",
            _json(_obj({"account_id": _S, "email": _S})), 400, 403, 409, auth=False,
            body=_json(_obj({"email": _S, "password": _S}, ["email", "password"])),
            ok_status="201")},
        "/v1/login": {"post": _op(
            "Log a machine in; returns a bearer token bound to (account, machine)",
            _json(_obj({"token": _S, "account_id": _S, "email": _S,
                        "machine": _obj({"id": _S, "name": _S}), "same_name": _I})),
            400, 401, 429, auth=False, body=_json(login_body))},
        "/v1/machine": {"put": _op(
            "Rename the calling machine (what other machines and the dashboard show)",
            _json(_obj({"machine": _obj({"id": _S, "name": _S})})), 400, 401,
            body=_json(_obj({"name": {**_S, "minLength": 1, "maxLength": 64}}, ["name"])))},
        "/v1/logout": {"post": _op("Revoke the presented token", _json(_obj({"ok": _B})),
                                   401)},
        "/v1/account": {"get": _op("Plan, limits, usage and machines", _json(account), 401)},
        "/v1/envelope": {
            "get": _op("The opaque key envelope and its version",
                       _json(_obj({"envelope": {**envelope, "nullable": True},
                                   "version": _I})), 401),
            "put": _op("Create (expected_version 0) or conditionally replace the envelope",
                       _json(_obj({"version": _I})), 400, 401, 409,
                       body=_json(_obj({"envelope": envelope, "expected_version": _I},
                                       ["envelope", "expected_version"]))),
        },
        "/v1/push": {"post": _op(
            "Upload sealed sessions as PUSH frames (see docs/protocol.md)",
            _json(_obj({"results": {"type": "array", "items": result}})), 400, 401, 413,
            body={"content": {wire.PUSH_CONTENT_TYPE: {
                "schema": {"type": "string", "format": "binary"}}}})},
        "/v1/changes": {"get": _op(
            "Other machines' changes with seq > since, in seq order",
            _json(_obj({"changes": {"type": "array", "items": change}, "cursor": _I,
                        "more": _B, "remaining": _I})), 400, 401,
            params=[
                {"name": "since", "in": "query", "schema": {**_I, "default": 0}},
                {"name": "limit", "in": "query", "schema": {
                    "type": "integer", "minimum": 1, "maximum": wire.MAX_CHANGES_PAGE,
                    "default": wire.DEFAULT_CHANGES_PAGE}},
            ])},
        "/v1/chunks": {"post": _op(
            "Download sealed chunks as CHUNK frames",
            {"description": "CHUNK frames", "content": {wire.CHUNKS_CONTENT_TYPE: {
                "schema": {"type": "string", "format": "binary"}}}}, 400, 401,
            body=_json(_obj({"chunks": {"type": "array", "items": ref,
                                        "maxItems": wire.MAX_FETCH_CHUNKS}}, ["chunks"])))},
        "/v1/account/reset": {"post": _op(
            "Erase every session and the key envelope of the account (confirm with its email)",
            _json(_obj({"erased": _I, "reset_at": _S, "reset_by": _S})), 400, 401,
            body=_json(_obj({"email": _S}, ["email"])))},
        "/v1/shares": {
            "post": _op(
                "Store a session sealed under a share key (the key never leaves the client)",
                _json(_obj({"share_id": _S, "url": _S, "expires_at": _S})),
                400, 401, 404, 409, 413, ok_status="201",
                body={"content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}},
                params=[
                    {"name": "share_id", "in": "query", "required": True,
                     "schema": {**_S, "pattern": "^[A-Za-z0-9_-]{22}$"}},
                    {"name": "session_id", "in": "query", "required": True, "schema": _S},
                    {"name": "expires_in", "in": "query", "schema": {
                        "type": "integer", "minimum": 1, "maximum": 90 * 86400}},
                ]),
            "get": _op("The account's share links", _json(_obj({"shares": {
                "type": "array", "items": _obj({
                    "share_id": _S, "session_id": _S, "created_at": _S, "expires_at": _S,
                    "revoked_at": _NS, "views": _I, "size": _I, "state": _S})}})), 401),
        },
        "/v1/shares/{share_id}": {"delete": _op(
            "Revoke a share link (it answers 410 from then on)", _json(_obj({"ok": _B})),
            401, 404,
            params=[{"name": "share_id", "in": "path", "required": True, "schema": _S}])},
        "/v1/sessions/{session_id}": {"delete": _op(
            "Tombstone one of this machine's sessions", _json(_obj({"seq": _I})),
            401, 404, 409,
            params=[{"name": "session_id", "in": "path", "required": True, "schema": _S}])},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Lore Cloud", "version": str(wire.API_VERSION),
                 "description": "End-to-end encrypted sync of AI coding sessions. The server "
                                "stores sealed bytes and plaintext metadata only."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _obj({"error": _obj(
                {"code": _S, "message": _S, "hint": _S}, ["code", "message"])})},
        },
        "security": [{"bearer": []}],
    }
