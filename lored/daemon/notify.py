"""A tiny stdlib ``sd_notify``: tell systemd READY/STATUS/STOPPING/WATCHDOG.

systemd's ``Type=notify`` waits for ``READY=1`` on the datagram socket named by
``$NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract namespace). Without the
variable (a terminal, launchd) every call is a no-op, so the daemon calls these
unconditionally. Not worth a dependency: it is one ``sendto``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def _address(env: Mapping[str, str]) -> str | None:
    addr = env.get("NOTIFY_SOCKET")
    if not addr or addr[0] not in "/@":
        return None  # unset, or a vsock address we do not speak
    return "\0" + addr[1:] if addr[0] == "@" else addr


class Notifier:
    """Sends notifications to the service manager, if there is one."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self._addr = _address(env)
        self.watchdog_usec = _watchdog_usec(env)

    @property
    def enabled(self) -> bool:
        """True when running under a notify-aware service manager."""
        return self._addr is not None

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines in one datagram; False when disabled or undeliverable.

        A failed notification must never take the daemon down, so errors are swallowed.
        """
        if self._addr is None or not assignments:
            return False
        payload = "\n".join(assignments).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.connect(self._addr)
                s.sendall(payload)
        except OSError:
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1`` (+ ``MAINPID`` and an optional STATUS): the socket is listening."""
        lines = ["READY=1", f"MAINPID={os.getpid()}"]
        if status:
            lines.append(f"STATUS={_one_line(status)}")
        return self.send(*lines)

    def status(self, text: str) -> bool:
        """``STATUS=…``: free text shown by ``systemctl --user status lored``."""
        return self.send(f"STATUS={_one_line(text)}")

    def reloading(self) -> bool:
        """``RELOADING=1`` while re-reading the configuration."""
        return self.send("RELOADING=1")

    def stopping(self) -> bool:
        """``STOPPING=1``: shutdown has begun."""
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: still alive (only meaningful when WATCHDOG_USEC is set)."""
        return self.send("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half the timeout, as sd_watchdog_enabled advises)."""
        return None if not self.watchdog_usec else self.watchdog_usec / 2_000_000


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    """WATCHDOG_USEC, when it is meant for this process (WATCHDOG_PID absent or ours)."""
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
        pid = int(env.get("WATCHDOG_PID", str(os.getpid())))
    except ValueError:
        return None
    return usec if usec > 0 and pid == os.getpid() else None


def _one_line(text: str) -> str:
    return " ".join(text.split())
