"""The anchors Lore is measured against in the same run (PERFORMANCE.md).

* rclone: ``rclone copy`` through a ``crypt`` remote onto ``rclone serve webdav`` on
  loopback — the same job as a Lore push (encrypt, HTTP upload, server write) done by a
  mature Go tool with its default settings (4 transfers, 8 checkers). Debian's rclone is
  installed with apt when missing and allowed (``make bench``), never in tests.
* the engine floor: read + zstd-3 + XChaCha20-Poly1305 of the same bytes in one process,
  in 4 MiB chunks like Lore's, no network; and its reverse (decrypt + decompress).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procs import Unavailable, free_port, run, spawn, stop, wait_http
from bench.proxy import fetch_stats

CHUNK = 4 * 1024 * 1024
NONCE = 24


def ensure_rclone(install: bool) -> str:
    """Path of ``rclone``; installs Debian's package when missing and ``install`` is set."""
    found = shutil.which("rclone")
    if found:
        return found
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: installing Debian's rclone with apt-get …", file=sys.stderr)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run(["apt-get", "update", "-qq"], check=False, timeout=600, **quiet)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "rclone"], check=False,
                       timeout=900, env=env, **quiet)
        found = shutil.which("rclone")
        if found:
            return found
    raise Unavailable("rclone not installed (make bench installs it with apt)")


@dataclass
class Transfer:
    """One measured transfer: wall time and what the server saw."""

    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        """HTTP requests that reached the server."""
        return int(self.stats.get("requests", 0))


class Rclone:
    """``rclone serve webdav`` on loopback behind the counting proxy, plus a crypt remote."""

    def __init__(self, work: Path, install: bool) -> None:
        self.exe = ensure_rclone(install)
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.conf = work / "rclone.conf"
        self.env = {**os.environ, "RCLONE_CONFIG": str(self.conf)}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.proxy_url = ""

    def start(self) -> None:
        """Serve an empty directory over WebDAV and write the crypt config."""
        root = self.work / "davroot"
        root.mkdir(exist_ok=True)
        dav_port, proxy_port = free_port(), free_port()
        log = self.work / "rclone-serve.log"
        self.conf.write_text("")
        self.procs.append(spawn(
            [self.exe, "serve", "webdav", str(root), "--addr", f"127.0.0.1:{dav_port}"],
            env=self.env, log=log))
        wait_http(f"http://127.0.0.1:{dav_port}/", self.procs[-1], log=log)
        self.procs.append(spawn(
            [sys.executable, "-m", "bench.proxy", "--port", str(proxy_port),
             "--target", f"http://127.0.0.1:{dav_port}"], log=self.work / "proxy.log"))
        self.proxy_url = f"http://127.0.0.1:{proxy_port}"
        wait_http(self.proxy_url + "/__bench__/stats", self.procs[-1])
        # rclone keeps crypt passwords obscured in its config; obscure them with rclone itself
        pw = run([self.exe, "obscure", "bench-crypt-password"], env=self.env).out.strip()
        salt = run([self.exe, "obscure", "bench-crypt-salt"], env=self.env).out.strip()
        self.conf.write_text(
            "[dav]\ntype = webdav\n"
            f"url = {self.proxy_url}/\nvendor = other\n\n"
            "[secret]\ntype = crypt\nremote = dav:store\n"
            f"password = {pw}\npassword2 = {salt}\nfilename_encryption = standard\n"
        )
        self.conf.chmod(0o600)

    def _copy(self, src: str, dst: str) -> Transfer:
        fetch_stats(self.proxy_url, reset=True)
        r = run([self.exe, "copy", src, dst, "--stats", "0"], env=self.env)
        if r.rc != 0:
            raise Unavailable(f"rclone copy failed: {r.brief()}")
        return Transfer(r.seconds, fetch_stats(self.proxy_url, reset=True))

    def upload(self, src: Path, name: str = "projects") -> Transfer:
        """``rclone copy SRC secret:NAME`` (encrypt + upload; only changed files)."""
        return self._copy(str(src), f"secret:{name}")

    def download(self, dst: Path, name: str = "projects") -> Transfer:
        """``rclone copy secret:NAME DST`` onto an empty directory (download + decrypt)."""
        return self._copy(f"secret:{name}", str(dst))

    def stop(self) -> None:
        """Stop the proxy and the WebDAV server."""
        for p in reversed(self.procs):
            stop(p)
        self.procs.clear()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.jsonl") if p.is_file())


@dataclass
class Floor:
    """The engine floor for a set of files, and the sealed chunks for the reverse floor."""

    seal_seconds: float
    open_seconds: float
    plain_bytes: int
    sealed_bytes: int
    chunks: int


def measure_floor(root: Path) -> Floor:
    """Read + zstd-3 + XChaCha20-Poly1305 every file under ``root``; then the reverse.

    One thread, like the one process it is defined as: Lore's client may use a thread
    pool (zstd and libsodium release the GIL), but on 2 cores it shares them with the
    server, so the single-thread floor is the honest lower bound for a local push.
    """
    import zstandard
    from nacl.bindings import (
        crypto_aead_xchacha20poly1305_ietf_decrypt as aead_open,
    )
    from nacl.bindings import (
        crypto_aead_xchacha20poly1305_ietf_encrypt as aead_seal,
    )

    key = os.urandom(32)
    comp = zstandard.ZstdCompressor(level=3, write_content_size=True)
    sealed: list[tuple[bytes, bytes]] = []
    plain = 0
    t0 = time.perf_counter()
    for path in _files(root):
        data = path.read_bytes()
        plain += len(data)
        for off in range(0, max(len(data), 1), CHUNK):
            nonce = os.urandom(NONCE)
            ad = path.name.encode() + off.to_bytes(8, "big")
            sealed.append((ad, b"\x01" + nonce + aead_seal(comp.compress(data[off:off + CHUNK]),
                                                           ad, nonce, key)))
    t1 = time.perf_counter()
    decomp = zstandard.ZstdDecompressor()
    for ad, blob in sealed:
        decomp.decompress(aead_open(blob[1 + NONCE:], ad, blob[1:1 + NONCE], key))
    t2 = time.perf_counter()
    return Floor(t1 - t0, t2 - t1, plain, sum(len(b) for _, b in sealed), len(sealed))
