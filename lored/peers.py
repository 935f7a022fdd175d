"""Who is at the other end of a Unix socket: the uid check of every socket Lore listens on
(lored's API, the warm MCP standby). Shared bottom: imports nothing of Lore's."""

from __future__ import annotations

import socket
import struct
import sys


def peer_uid(sock: object) -> int | None:
    """The uid of the process at the other end of a Unix socket, or None if unknown.

    Linux: ``SO_PEERCRED`` (struct ucred: pid, uid, gid). macOS/BSD: ``LOCAL_PEERCRED``
    (struct xucred: version, uid, …). ``sock`` is a socket or asyncio's TransportSocket.
    """
    getsockopt = getattr(sock, "getsockopt", None)
    if getsockopt is None:
        return None
    try:
        if hasattr(socket, "SO_PEERCRED"):
            raw = getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _pid, uid, _gid = struct.unpack("3i", raw)
            return int(uid)
        if sys.platform == "darwin":
            sol_local, local_peercred = 0, 1  # <sys/un.h>
            raw = getsockopt(sol_local, local_peercred, struct.calcsize("2I") + 64)
            _version, uid = struct.unpack_from("2I", raw)
            return int(uid)
    except OSError:
        return None
    return None
