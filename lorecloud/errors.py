"""The one error type of the service; HTTP maps it 1:1 onto an error document."""

from __future__ import annotations

from typing import Any

from loreproto import wire


class ServiceError(Exception):
    """A refused request: a wire ``E_*`` code, a safe message, an HTTP status.

    ``extra`` lands in the error document next to code/message/hint (e.g. ``current``
    for an envelope conflict, ``retry_after`` for rate limiting).
    """

    def __init__(
        self, code: str, message: str, status: int, hint: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.hint = hint
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON error document (``{"error": {...}}``)."""
        return wire.error_body(self.code, self.message, self.hint, **self.extra)

    def __repr__(self) -> str:
        return f"ServiceError({self.code!r}, {self.message!r}, {self.status})"


def bad_request(message: str) -> ServiceError:
    """400 ``bad_request``."""
    return ServiceError(wire.E_BAD_REQUEST, message, 400)


def not_found(message: str) -> ServiceError:
    """404 ``not_found``."""
    return ServiceError(wire.E_NOT_FOUND, message, 404)
