"""The daemon API's types and rules: request validation, error documents, NDJSON lines.

Pure (no sockets, no aiohttp): both the server (``lored/daemon/ipc/server.py``) and the light
client (``lorectl/ipc_client.py``) agree through this module, and it is unit-tested
with bytes in, values out. See PROTOCOL.md "Daemon API (Unix socket)".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lored.errors import LoreError

if TYPE_CHECKING:
    from lored.daemon.cycles import CycleKind

API = "/v1"
#: request bodies are tiny JSON objects; anything bigger is refused with 413
MAX_BODY = 64 * 1024
NDJSON = "application/x-ndjson"
MODES = ("sync", "push", "pull")

#: LoreError code → HTTP status for errors raised before a stream starts
_STATUS_BY_CODE = {
    "usage": 400,
    "bad_request": 400,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "too_large": 413,
    "not_logged_in": 409,
    "encryption_not_configured": 409,
    "secret_required": 409,
    "wrong_key": 409,
    "wrong_passphrase": 409,
    "auth": 401,
    "machine_revoked": 401,
    "rate_limited": 429,
    "server_unreachable": 502,
    "server_error": 502,
    "shutting_down": 503,
}


class IpcError(LoreError):
    """The daemon refused a request."""

    code = "bad_request"

    def __init__(
        self, message: str, *, code: str = "bad_request", status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.code = code  # type: ignore[misc]  # per-instance code for the error document
        self.status = status if status is not None else status_for(code)


def status_for(code: str) -> int:
    """HTTP status for an error code (500 for codes that are not the client's fault)."""
    return _STATUS_BY_CODE.get(code, 500)


def error_doc(code: str, message: str, hint: str | None = None, **extra: Any) -> dict[str, Any]:
    """``{"error": {"code", "message", "hint"}}`` — the one error shape of the API."""
    return {"error": {"code": code, "message": message, "hint": hint, **extra}}


def error_doc_for(err: LoreError) -> dict[str, Any]:
    """The error document for a LoreError, keeping its exit code and retryability."""
    return error_doc(
        err.code, err.message, err.fix, exit_code=err.exit_code, retryable=err.retryable
    )


@dataclass(frozen=True)
class SyncRequest:
    """A validated ``POST /v1/sync`` body."""

    mode: str = "sync"
    dry_run: bool = False
    all: bool = False

    def kind(self) -> CycleKind:
        """The single-flight cycle kind this request asks for."""
        from lored.daemon.cycles import CycleKind  # lazy: the light client never needs asyncio

        mode = self.mode
        assert mode in MODES  # validated by parse_sync_request
        return CycleKind(mode, dry_run=self.dry_run, all=self.all)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        """The request body as sent by the client."""
        return {"mode": self.mode, "dry_run": self.dry_run, "all": self.all}


#: no request field is an integer this long; longer ones cost quadratic time to parse
_MAX_INT_DIGITS = 20


def _small_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"an integer has more than {_MAX_INT_DIGITS} digits")
    return int(text)


def parse_object(body: bytes) -> dict[str, Any]:
    """A JSON object from a request body; an empty body is ``{}``.

    Raises IpcError(400) for invalid UTF-8, invalid or truncated JSON, nesting past the
    parser's recursion limit, integers over 20 digits and non-objects,
    IpcError(413) for bodies over :data:`MAX_BODY`.
    """
    if len(body) > MAX_BODY:
        raise IpcError(f"request body is larger than {MAX_BODY} bytes", code="too_large")
    if not body.strip():
        return {}
    try:
        doc = json.loads(body.decode("utf-8"), parse_int=_small_int)
    except UnicodeDecodeError:
        raise IpcError("request body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise IpcError(f"request body is not valid JSON: {exc.msg} at offset {exc.pos}") from None
    except RecursionError:
        raise IpcError("request body is nested too deeply") from None
    except ValueError as exc:  # _small_int's refusal
        raise IpcError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise IpcError("request body must be a JSON object")
    return doc


def parse_sync_request(body: bytes) -> SyncRequest:
    """Validate a ``POST /v1/sync`` body (see :func:`parse_object` for the 4xx cases).

    ``dry_run`` is only meaningful for push and ``all`` only for pull; other
    combinations are usage errors rather than silently ignored flags.
    """
    doc = parse_object(body)
    mode = doc.get("mode", "sync")
    if mode not in MODES:
        raise IpcError(f"mode must be one of {', '.join(MODES)}, not {mode!r}", code="usage")
    flags: dict[str, bool] = {}
    for name in ("dry_run", "all"):
        value = doc.get(name, False)
        if not isinstance(value, bool):
            raise IpcError(f"{name} must be true or false, not {value!r}", code="usage")
        flags[name] = value
    if flags["dry_run"] and mode != "push":
        raise IpcError("dry_run is only valid with mode push", code="usage")
    if flags["all"] and mode != "pull":
        raise IpcError("all is only valid with mode pull", code="usage")
    return SyncRequest(mode, flags["dry_run"], flags["all"])


def encode_line(obj: dict[str, Any]) -> bytes:
    """One NDJSON line (compact JSON + newline)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str).encode() + b"\n"


def result_event(mode: str, result: dict[str, Any]) -> dict[str, Any]:
    """The last line of a successful sync stream."""
    return {"event": "result", "mode": mode, "result": result}


def error_event(err: LoreError) -> dict[str, Any]:
    """The last line of a failed sync stream (the status line already said 200)."""
    return {"event": "error", **error_doc_for(err)}
