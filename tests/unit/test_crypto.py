"""Crypto: every vector of crypto-vectors.json, tamper detection, key cache, redaction."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lored.crypto.envelope import (
    create_envelope,
    envelope_ad,
    open_envelope,
    unwrap_key,
    wrap_key,
)
from lored.crypto.kdf import (
    KdfParams,
    check_new_passphrase,
    derive_kek,
    key_id,
    new_data_key,
    normalize_passphrase,
)
from lored.crypto.keycache import CachedKey, delete_key, load_key, save_key
from lored.crypto.seal import (
    Binding,
    open_chunk,
    open_info,
    open_sealed,
    seal,
    seal_chunk,
    seal_info,
)
from lored.crypto.secret import SecretBytes
from lored.errors import CorruptData, UsageError, WrongPassphrase

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "crypto-vectors.json").read_text()
)
DK = SecretBytes(bytes.fromhex(VECTORS["data_key_hex"]))


def _binding(section: dict[str, Any]) -> Binding:
    return Binding(
        section.get("account_id", VECTORS["chunk"]["account_id"]),
        section.get("session_id", VECTORS["chunk"]["session_id"]),
        section.get("origin_machine_id", VECTORS["chunk"]["origin_machine_id"]),
        section.get("generation", VECTORS["chunk"]["generation"]),
    )


# --- vectors -------------------------------------------------------------------
def test_passphrase_nfc_utf8() -> None:
    kdf = VECTORS["kdf"]
    decomposed = "Corre\u0301ct horse battery staple"  # e + combining acute
    want = bytes.fromhex(kdf["passphrase_nfc_utf8_hex"])
    assert normalize_passphrase(kdf["passphrase"]) == want
    assert normalize_passphrase(decomposed) == want


def test_kdf_vector() -> None:
    kdf = VECTORS["kdf"]
    kek = derive_kek(
        "Corre\u0301ct horse battery staple", bytes.fromhex(kdf["salt_hex"]),
        kdf["t"], kdf["m_kib"], kdf["p"],
    )
    assert kek.reveal().hex() == kdf["kek_hex"]


def test_key_id_vector() -> None:
    assert key_id(DK) == VECTORS["key_id"]["value"]
    assert key_id(DK.reveal()) == VECTORS["key_id"]["value"]


def test_envelope_vectors() -> None:
    env, kdf = VECTORS["envelope"], VECTORS["kdf"]
    assert envelope_ad(env["account_id"], key_id(DK)).hex() == env["ad_hex"]
    kek = SecretBytes(bytes.fromhex(kdf["kek_hex"]))
    params = KdfParams(salt=bytes.fromhex(kdf["salt_hex"]), t=kdf["t"], m=kdf["m_kib"],
                       p=kdf["p"])
    doc = wrap_key(DK, kek, env["account_id"], params, nonce=bytes.fromhex(env["nonce_hex"]))
    assert doc == env["json"]
    assert base64.b64decode(doc["wrapped"]).hex() == env["wrapped_hex"]
    assert unwrap_key(env["json"], kek, env["account_id"]) == DK


async def test_envelope_vector_opens_with_passphrase() -> None:
    env = VECTORS["envelope"]
    dk = await open_envelope(env["json"], VECTORS["kdf"]["passphrase"], env["account_id"])
    assert dk == DK


async def test_envelope_refuses_wrong_passphrase_and_account() -> None:
    env = VECTORS["envelope"]
    with pytest.raises(WrongPassphrase):
        await open_envelope(env["json"], "not the passphrase", env["account_id"])
    with pytest.raises(WrongPassphrase):
        await open_envelope(env["json"], VECTORS["kdf"]["passphrase"], "acct-other")
    relabelled = dict(env["json"], key_id="00" * 16)
    with pytest.raises(WrongPassphrase):
        await open_envelope(relabelled, VECTORS["kdf"]["passphrase"], env["account_id"])


def test_chunk_vector() -> None:
    c = VECTORS["chunk"]
    b = _binding(c)
    assert b.chunk_ad(c["index"]).hex() == c["ad_hex"]
    assert b.chunk_ad(c["index"] + 1).hex() == c["ad_wrong_index_hex"]
    sealed = bytes.fromhex(c["sealed_hex"])
    assert open_chunk(DK, sealed, b, c["index"]).decode() == c["plaintext_utf8"]
    with pytest.raises(CorruptData):
        open_sealed(DK, sealed, bytes.fromhex(c["ad_wrong_index_hex"]), max_size=1 << 20)


def test_info_vector() -> None:
    i = VECTORS["info"]
    b = _binding(VECTORS["chunk"])
    assert b.info_ad(i["chunk_count"]).hex() == i["ad_hex"]
    sealed = bytes.fromhex(i["sealed_hex"])
    assert open_info(DK, sealed, b, i["chunk_count"]) == json.loads(i["plaintext_utf8"])
    with pytest.raises(CorruptData):
        open_info(DK, sealed, b, i["chunk_count"] + 1)  # a dropped/added chunk


# --- tamper ----------------------------------------------------------------------
B = Binding("acct", "claude-code:s1", "machine-a", 1)


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=4096), flip=st.integers(min_value=0))
def test_any_flipped_byte_is_refused(data: bytes, flip: int) -> None:
    sealed = bytearray(seal_chunk(DK, data, B, 0))
    assert open_chunk(DK, bytes(sealed), B, 0) == data
    sealed[flip % len(sealed)] ^= 0x01
    with pytest.raises(CorruptData):
        open_chunk(DK, bytes(sealed), B, 0)


@pytest.mark.parametrize(
    "other, index",
    [
        (Binding("acct2", "claude-code:s1", "machine-a", 1), 0),  # another account
        (Binding("acct", "claude-code:s2", "machine-a", 1), 0),  # moved to another session
        (Binding("acct", "claude-code:s1", "machine-b", 1), 0),  # another origin
        (Binding("acct", "claude-code:s1", "machine-a", 2), 0),  # replayed into a new gen
        (B, 1),  # reordered
    ],
)
def test_chunk_bound_to_its_place(other: Binding, index: int) -> None:
    sealed = seal_chunk(DK, b"hello", B, 0)
    with pytest.raises(CorruptData):
        open_chunk(DK, sealed, other, index)


def test_wrong_key_and_truncation_refused() -> None:
    sealed = seal_chunk(DK, b"hello", B, 0)
    with pytest.raises(CorruptData):
        open_chunk(new_data_key(), sealed, B, 0)
    for cut in (0, 1, 25, len(sealed) - 1):
        with pytest.raises(CorruptData):
            open_chunk(DK, sealed[:cut], B, 0)
    with pytest.raises(CorruptData):
        open_chunk(DK, b"\x02" + sealed[1:], B, 0)


def test_decompression_bomb_refused() -> None:
    sealed = seal(DK, b"\0" * (1 << 20), B.chunk_ad(0))
    with pytest.raises(CorruptData, match="impossible size"):
        open_sealed(DK, sealed, B.chunk_ad(0), max_size=1000)


def test_seal_compresses_and_uses_fresh_nonces() -> None:
    data = b"the same line again\n" * 5000
    a, b = seal_chunk(DK, data, B, 0), seal_chunk(DK, data, B, 0)
    assert a != b and a[1:25] != b[1:25]
    assert len(a) < len(data) // 10
    assert open_chunk(DK, a, B, 0) == open_chunk(DK, b, B, 0) == data


def test_info_roundtrip_unicode() -> None:
    info = {"title": "Ünïcode ✓", "model": "m", "git_branch": "main"}
    assert open_info(DK, seal_info(DK, info, B, 3), B, 3) == info


# --- envelope round trip, passphrase rules ----------------------------------------
async def test_create_and_rewrap_envelope() -> None:
    dk = new_data_key()
    params = KdfParams(salt=os.urandom(16), t=1, m=1024, p=1)  # fast for the test
    env1 = await create_envelope(dk, "first passphrase", "acct", params=params)
    env2 = await create_envelope(dk, "second passphrase", "acct",
                                 params=KdfParams(salt=os.urandom(16), t=1, m=1024, p=1))
    assert env1["key_id"] == env2["key_id"] == key_id(dk)
    assert env1["kdf"]["salt"] != env2["kdf"]["salt"]
    assert await open_envelope(env2, "second passphrase", "acct") == dk
    with pytest.raises(WrongPassphrase):
        await open_envelope(env2, "first passphrase", "acct")


@pytest.mark.parametrize("mutate", [
    lambda e: e.update(v=2),
    lambda e: e["kdf"].update(alg="scrypt"),
    lambda e: e["kdf"].update(m=1 << 30),
    lambda e: e.update(nonce="!!"),
    lambda e: e.update(key_id=None),
])
def test_malformed_envelope_is_corrupt(mutate: Any) -> None:
    env = json.loads(json.dumps(VECTORS["envelope"]["json"]))
    mutate(env)
    with pytest.raises(CorruptData):
        unwrap_key(env, SecretBytes(b"k" * 32), "acct")


def test_passphrase_minimum() -> None:
    with pytest.raises(UsageError):
        check_new_passphrase("short")
    check_new_passphrase("long enough")


# --- key cache, redaction ------------------------------------------------------------
def test_key_cache_roundtrip_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "data" / "key.json"
    assert load_key(path) is None
    save_key(path, CachedKey(DK, key_id(DK), "acct"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    got = load_key(path)
    assert got is not None and got.data_key == DK and got.account_id == "acct"
    doc = json.loads(path.read_text())
    assert set(doc) == {"v", "account_id", "key_id", "data_key"}  # no passphrase, no KEK
    doc["key_id"] = "00" * 16
    path.write_text(json.dumps(doc))
    with pytest.raises(CorruptData):
        load_key(path)
    path.write_text("garbage")
    with pytest.raises(CorruptData):
        load_key(path)
    assert delete_key(path) and not path.exists() and not delete_key(path)


def test_secrets_are_redacted() -> None:
    raw = bytes.fromhex(VECTORS["data_key_hex"])
    ck = CachedKey(SecretBytes(raw), key_id(raw), "acct")
    for text in (repr(DK), str(DK), repr(ck), f"{ck}"):
        assert raw.hex() not in text and "redacted" in text
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(DK)
