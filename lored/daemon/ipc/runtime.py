"""One daemon per user: the private runtime dir, the flock, the socket file, peer creds.

Order matters and is the point of this module: take the exclusive ``flock`` on the lock
file first; only the holder may remove a stale socket left by a crashed daemon and
bind a new one. A second ``lored`` fails on the lock with "lored is already running
(pid N)" and never touches the live socket (aiohttp's ``UnixSite`` would silently
unlink and steal it, which is why we bind the socket ourselves).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import stat
from pathlib import Path

from lored.errors import AlreadyRunning, DaemonError


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` as a 0700 directory owned by us, or tighten it; refuse foreign ones."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(path)  # lstat: a symlink planted at a predictable /tmp name is refused
    if not stat.S_ISDIR(st.st_mode):
        raise DaemonError(
            f"{path} is not a directory (a symlink or file is in the way)",
            hint="remove it or set LORE_HOME to a directory of your own",
        )
    if st.st_uid != os.getuid():
        raise DaemonError(
            f"{path} belongs to another user (uid {st.st_uid})",
            hint="remove it or set LORE_HOME to a directory of your own",
        )
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700, follow_symlinks=False)


class InstanceLock:
    """The exclusive ``flock`` that makes this process the user's one ``lored``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise AlreadyRunning naming the holder's pid."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                who = f" (pid {holder})" if holder else ""
                raise AlreadyRunning(f"lored is already running{who}") from None
            raise
        # the pid is informational (for the message above); the lock is the truth
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (also happens implicitly when the process dies, even by kill -9)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip() or "0") or None
    return None


def bind_socket(path: Path) -> socket.socket:
    """Bind a listening-ready AF_UNIX socket at ``path`` with mode 0600.

    Call only while holding the :class:`InstanceLock`. A leftover socket file is
    removed unless something still answers on it (then AlreadyRunning: a daemon
    started with another lock file must not be robbed of its socket either).
    """
    ensure_private_dir(path.parent)
    if path.exists() or path.is_symlink():
        if _answers(path):
            raise AlreadyRunning(f"another process is listening on {path}")
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(os.fspath(path))
        # nobody can connect before listen(), so tightening the mode here has no race
        os.chmod(path, 0o600)
    except BaseException:
        sock.close()
        raise
    return sock


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(os.fspath(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def socket_inode(path: Path) -> int | None:
    """The inode of the socket file at ``path`` (recorded after bind, checked on removal)."""
    with contextlib.suppress(OSError):
        return os.stat(path).st_ino
    return None


def remove_socket(path: Path, inode: int | None) -> None:
    """Unlink our socket file on shutdown (aiohttp's ``runner.cleanup()`` does not).

    Only the file we bound (same inode) is removed, never a successor's.
    """
    with contextlib.suppress(OSError):
        if inode is None or os.stat(path).st_ino == inode:
            path.unlink()
    return None
