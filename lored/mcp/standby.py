"""A warm ``lorectl mcp``: one process with the SDK already loaded, waiting for an assistant.

An assistant starts ``lorectl mcp`` once per conversation, and importing the official
``mcp`` SDK alone takes about a second — most of the time to the first answer. While
``lored`` runs (and once ``lorectl mcp`` has been used on this machine) it keeps one
standby process (``python -m lored.mcp.standby``) that has imported the SDK and built
the server, listening on ``mcp.sock`` beside lored's socket. ``lorectl mcp`` hands its
stdin, stdout and stderr to it (``SCM_RIGHTS``) and waits for its exit status; the
standby serves exactly that assistant over those descriptors, exactly as
``lorectl mcp`` would in-process, and lored starts the next standby.

Handoff, two-phase so that exactly one process ever reads the assistant's stdin:
client → ``HELLO`` + 3 fds; standby → ``ACCEPTED``; client → ``GO``; only then does the
standby serve (and the client only waits). Without a standby, or if any step fails
before ``GO``, ``lorectl mcp`` serves in-process. The socket is 0600 in lored's 0700
runtime directory and the standby refuses peers of another uid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from lored.config import Paths
from lored.peers import peer_uid

HELLO = b"lore-mcp-handoff 1\n"
ACCEPTED = b"A"
GO = b"G"
#: the handshake's limit on either side; serving itself has none
HANDSHAKE_S = 5.0
#: the standby's lines to lored (its stdout): listening, then taken over by an assistant
READY = b"ready\n"
CONSUMED = b"consumed\n"


def socket_path(paths: Paths) -> Path:
    """Where the standby listens: beside lored's socket (the same short private dir)."""
    return paths.socket_path.with_name("mcp.sock")


def marker(paths: Paths) -> Path:
    """Present once ``lorectl mcp`` has run here: lored keeps a standby only then."""
    return paths.data_dir / "mcp-used"


def handoff(path: Path) -> int | None:
    """Give this process's stdin/stdout/stderr to the standby at ``path`` and wait.

    Returns the standby's exit status once it is done serving, or None when there is
    no standby (or it did not accept): then the caller serves in-process — nothing has
    been read from stdin yet.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(HANDSHAKE_S)
        sock.connect(os.fspath(path))
        socket.send_fds(sock, [HELLO], [0, 1, 2])
        if sock.recv(1) != ACCEPTED:
            sock.close()
            return None
        sock.sendall(GO)
    except OSError:
        sock.close()
        return None
    # committed: the standby serves now; its status byte comes when stdin closes
    sock.settimeout(None)
    with sock:
        try:
            status = sock.recv(1)
        except OSError:
            status = b""
    return status[0] if status else 1


def _listen(path: Path) -> socket.socket:
    """A 0600 listening socket at ``path`` (a leftover file there is replaced)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # the file is created 0600: no window with a wider mode
    try:
        sock.bind(os.fspath(path))
    finally:
        os.umask(old)
    sock.listen(1)
    return sock


def _take_over(listener: socket.socket) -> tuple[socket.socket, list[int]]:
    """Accept until one client of our uid completes the handshake -> (its socket, fds)."""
    while True:
        conn, _ = listener.accept()
        fds: list[int] = []
        try:
            conn.settimeout(HANDSHAKE_S)
            if peer_uid(conn) != os.getuid():
                raise OSError("a peer of another user")
            msg, fds, _flags, _addr = socket.recv_fds(conn, len(HELLO), 3)
            if msg != HELLO or len(fds) != 3:
                raise OSError("not a lorectl mcp handoff")
            conn.sendall(ACCEPTED)
            if conn.recv(1) != GO:
                raise OSError("the client gave up")
            conn.settimeout(None)
            return conn, fds
        except OSError:
            for fd in fds:
                os.close(fd)
            conn.close()


def _exit_with_client(conn: socket.socket) -> None:
    """End the standby when ``lorectl mcp`` goes away (killed, Ctrl-C): its assistant
    is gone, nobody will read the answers."""
    with contextlib.suppress(OSError):
        conn.recv(1)
    os._exit(0)


def main() -> int:
    """The standby process: warm up, wait for one assistant, serve it, exit."""
    from lored.config import load_settings
    from lored.mcp import server
    from lored.mcp.archive import Archive, ArchiveError, redact_with

    lored_fd = os.dup(1)  # the pipe lored reads; fd 1 becomes the assistant's below
    settings = load_settings()
    current: dict[str, Any] = {}
    mcp_server = server.build(lambda: current["archive"])  # the SDK's costly part, now
    import mcp.server.stdio  # noqa: F401  (what run("stdio") imports on its first call)

    warm_redactor = server.assistant_redactor(settings)  # patterns compiled, key read

    path = socket_path(settings.paths)
    listener = _listen(path)
    inode = os.stat(path).st_ino
    os.write(lored_fd, READY)
    # lored stops an idle standby with SIGTERM: leave no socket behind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        conn, fds = _take_over(listener)
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == inode:
                path.unlink()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    with contextlib.suppress(OSError):  # tell lored to start the next standby
        os.write(lored_fd, CONSUMED)
    os.close(lored_fd)
    threading.Thread(target=_exit_with_client, args=(conn,), daemon=True).start()
    status = 0
    try:
        fresh = load_settings()  # as of now: config.toml may have changed since
        current["archive"] = Archive(fresh.paths.db_file)
        if fresh == settings:
            redact_with(lambda: warm_redactor)
        else:
            redact_with(lambda: server.assistant_redactor(fresh))
        mcp_server.run("stdio")
    except ArchiveError as exc:
        print(f"error: {exc}\nhint: run `lorectl import` to capture sessions",
              file=sys.stderr)
        status = 1
    finally:
        with contextlib.suppress(OSError):
            conn.sendall(bytes([status]))
    return status


if __name__ == "__main__":
    sys.exit(main())
