"""Plaintext audit after full syncs, on SQLite, PostgreSQL and PostgreSQL + S3: the
planted markers, the passphrase, the account password, the data key and the bearer
tokens appear nowhere in what the server stores (SQLite file, WAL and SHM; or
``pg_dump`` plus every table ``COPY``'d out in binary; with S3 every file of the S3
server's data directory too) nor in anything the server logged."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.faults.common import PASSPHRASE, PASSWORD, Cloud, Corpus, new_machine, record
from tests.faults.storage import Storage

MARKERS = ("PLANTED-MARKER-7c1e4a-alpha", "PLANTED-MARKER-93bd0f-bravo",
           "PLANTED-MARKER-e25a11-charlie")


def _needles(text: str) -> list[bytes]:
    """The text as UTF-8, UTF-16 and its base64 (a dump may hold any of them)."""
    raw = text.encode()
    return [raw, text.encode("utf-16-le"), base64.b64encode(raw)[:-4]]


def test_no_plaintext_or_key_material_on_the_server(tmp_path: Path, any_cloud: Cloud) -> None:
    cloud, corpus = any_cloud, Corpus()
    ms = [new_machine(tmp_path, cloud, n) for n in "abc"]
    for i, (m, marker) in enumerate(zip(ms, MARKERS, strict=True)):
        for k in range(3):
            corpus.write(m, f"{m.name}{k}", 6, marker=f"{marker} secret-plan-{i}{k}",
                         pad=2000 * k)
        m.json("import")
    for _ in range(2):
        for m in ms:
            m.run("sync")
    for m in ms:
        assert len(m.db("SELECT id FROM sessions")) == 9  # the full sync happened

    secrets = [*MARKERS, PASSPHRASE, PASSWORD]
    key = json.loads((ms[0].lore_home / "key.json").read_text())
    secrets.append(key["data_key"])
    dk = base64.b64decode(key["data_key"])
    tokens = [json.loads(p.read_text())["token"] for m in ms
              for p in m.lore_home.rglob("token.json")]
    assert len(tokens) == 3
    secrets += tokens
    needles = [n for s in secrets for n in _needles(s)] + [dk, dk.hex().encode()]

    files = Storage(cloud).dump(tmp_path / "dump")
    logs = [p for p in cloud.tmp.glob("server-*.log")]
    assert files and logs
    scanned = 0
    for path in [*files, *logs]:
        data = path.read_bytes()
        scanned += len(data)
        for needle in needles:
            assert needle not in data, f"{needle[:30]!r}… found in {path.name}"
    # the dump really holds the sessions (the audit looked at the right bytes)
    dumped = b"".join(p.read_bytes() for p in files)
    assert all(s.split(":", 1)[1].encode() in dumped for s in corpus.files)
    if cloud.s3 is not None:  # ... and the bucket really holds the chunks the audit scanned
        db = Storage(cloud)
        rows = db("SELECT session_id, generation, idx, blob_key FROM chunks")
        assert rows and all(r[3] for r in rows)
        weed = b"".join(p.read_bytes() for p in files if cloud.s3.root in p.parents)
        assert all(db.chunk(*r[:3]) in weed for r in rows[:5])
    kind = "postgres+s3" if cloud.blob_store else "postgres" if cloud.database_url else "sqlite"
    record({"suite": f"plaintext-audit/{kind}",
            "sessions": len(corpus.files), "bytes_scanned": scanned, "needles": len(needles),
            "hits": 0})
