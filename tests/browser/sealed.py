"""Push really sealed sessions, as a machine's sync does: lored's own crypto code.

The envelope and chunks are made with ``lored.crypto`` (the same functions a
machine's push uses) and sent through the real push API, so the browser opens
exactly what a machine would upload.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from dataclasses import dataclass

from lored.crypto.envelope import wrap_key
from lored.crypto.kdf import KdfParams, derive_kek, new_data_key
from lored.crypto.recovery import encode_recovery
from lored.crypto.seal import MAX_CHUNK_BYTES, Binding, seal_chunk, seal_info
from lored.crypto.secret import SecretBytes
from loreproto import wire
from tests.browser.seed import Machine


@dataclass
class Keyed:
    """A machine that has set up the account's encryption (envelope on the server)."""

    machine: Machine
    data_key: SecretBytes

    @property
    def recovery(self) -> str:
        """The ``lore1-`` form of the data key."""
        return encode_recovery(self.data_key)

    def push_payload(self, session_id: str, tool: str, payload: bytes, messages: int) -> None:
        """Seal ``payload`` as generation 1 and push it with plausible metadata."""
        b = Binding(self.machine.account_id, session_id, self.machine.machine_id, 1)
        pieces = [payload[i:i + MAX_CHUNK_BYTES] for i in range(0, len(payload), MAX_CHUNK_BYTES)]
        chunks = [seal_chunk(self.data_key, p, b, i) for i, p in enumerate(pieces or [b""])]
        info = seal_info(self.data_key, {"title": "sealed"}, b, len(chunks))
        meta: wire.SessionMeta = {
            "tool": tool, "project_path": "/home/dev/webapp",
            "started_at": "2025-06-14T10:00:00+00:00", "ended_at": "2025-06-14T11:00:00+00:00",
            "message_count": messages, "payload_bytes": len(payload),
        }
        header = wire.PushHeader(session_id, 1, 0, len(chunks),
                                 [len(info), *map(len, chunks)], meta)
        body = wire.encode_push([(header, [info, *chunks])])
        status, doc = self.machine.call("POST", "/v1/push", body, wire.PUSH_CONTENT_TYPE)
        assert status == 200 and doc["results"][0]["status"] == "ok", (status, doc)


def set_up_encryption(machine: Machine, passphrase: str) -> Keyed:
    """Create the account's envelope (create-only PUT) under ``passphrase``."""
    dk = new_data_key()
    params = KdfParams.fresh()
    kek = derive_kek(passphrase, params.salt, params.t, params.m, params.p)
    envelope = wrap_key(dk, kek, machine.account_id, params)
    body = json.dumps({"envelope": envelope, "expected_version": 0}).encode()
    status, doc = machine.call("PUT", "/v1/envelope", body)
    assert status == 200, (status, doc)
    return Keyed(machine, dk)


def share_blob(share_id: str, key: bytes, doc: dict[str, object]) -> bytes:
    """A share sealed as the browser seals it: 0x02 ‖ nonce ‖ AEAD(JSON, lore/v1/share)."""
    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt

    from lored.crypto.kdf import lp

    nonce = os.urandom(24)
    ad = b"lore/v1/share" + lp(share_id)
    body = json.dumps({"v": 1, **doc}).encode()
    return b"\x02" + nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(body, ad, nonce, key)


def create_share(machine: Machine, session_id: str, payload: bytes, tool: str,
                 expires_in: int = 604800) -> tuple[str, str]:
    """Create a share straight through ``POST /v1/shares``; -> (share_id, full link)."""
    share_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    key = os.urandom(32)
    blob = share_blob(share_id, key, {"tool": tool, "session_id": session_id,
                                      "payload": payload.decode()})
    query = urllib.parse.urlencode({"share_id": share_id, "session_id": session_id,
                                    "expires_in": expires_in})
    status, doc = machine.call("POST", "/v1/shares?" + query, blob, "application/octet-stream")
    assert status == 201, (status, doc)
    key_text = base64.urlsafe_b64encode(key).decode().rstrip("=")
    return share_id, doc["url"] + "#" + key_text
