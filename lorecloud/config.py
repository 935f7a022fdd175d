"""Server configuration: plans, limits, registration and the login rate limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from loreproto import wire

GiB: Final = 1024 * wire.MiB


@dataclass(frozen=True)
class Plan:
    """A plan's limits; ``None`` means unlimited."""

    name: str
    max_sessions: int | None
    storage_bytes: int | None


def default_plans() -> dict[str, Plan]:
    """The plans every server offers (PROTOCOL.md: free = 50 sessions, pro = unlimited)."""
    return {
        "free": Plan("free", max_sessions=50, storage_bytes=100 * wire.MiB),
        "pro": Plan("pro", max_sessions=None, storage_bytes=10 * GiB),
    }


@dataclass(frozen=True)
class ServerConfig:
    """Everything that tunes the service's rules (no I/O settings here)."""

    open_registration: bool = False
    max_session_bytes: int = wire.DEFAULT_MAX_SESSION_BYTES
    plans: dict[str, Plan] = field(default_factory=default_plans)
    #: plan of self-registered accounts (``--open-registration``)
    default_plan: str = "free"
    #: failed logins per (email, client ip) allowed within ``login_window`` seconds
    login_failures: int = 5
    login_window: float = 60.0
    #: shortest account password accepted on registration and ``user add``
    min_password_length: int = 8
    #: Argon2id cost of account password hashes (argon2-cffi's RFC 9106 low-memory
    #: defaults); tests may lower them, operators should not
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    #: request body bytes held at once by the whole process (503 past it) and by one
    #: account or unauthenticated peer (429 past it); see lorecloud/admission.py
    max_inflight_bytes: int = 128 * wire.MiB
    max_account_inflight_bytes: int | None = None  # None: two push bodies
    #: a body that stalls this long, or is not complete after body_timeout: 408
    body_idle_timeout: float = 30.0
    body_timeout: float = 300.0

    @property
    def max_request_bytes(self) -> int:
        """The largest push body accepted (see :func:`loreproto.wire.max_request_bytes`)."""
        return wire.max_request_bytes(self.max_session_bytes)

    @property
    def account_inflight_bytes(self) -> int:
        """One account's in-flight budget (never above the process budget)."""
        wanted = self.max_account_inflight_bytes or 2 * self.max_request_bytes
        return min(wanted, self.max_inflight_bytes)

    def plan(self, name: str) -> Plan:
        """The plan called ``name``; unknown names (a removed plan) fall back to free."""
        return self.plans.get(name) or self.plans[self.default_plan]
