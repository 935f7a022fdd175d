"""The printable recovery form of the data key: round trip, typos, foreign text."""

from __future__ import annotations

import pytest

from lored.crypto.kdf import new_data_key
from lored.crypto.recovery import BadRecoveryKey, decode_recovery, encode_recovery
from lored.crypto.secret import SecretBytes


def test_round_trip_ignores_case_spaces_and_dashes() -> None:
    dk = new_data_key()
    text = encode_recovery(dk)
    assert text.startswith("lore1-") and all(len(g) <= 4 for g in text.split("-")[1:])
    assert decode_recovery(text) == dk
    retyped = " ".join(text.lower().replace("-", "").split("\n")) + "\n"
    assert decode_recovery(retyped) == dk
    assert "redacted" in repr(decode_recovery(text))


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # a typo in the last group
    lambda t: t[:12] + t[13] + t[12] + t[14:],  # two characters swapped
    lambda t: t[:-4],  # a group missing
    lambda t: t.replace("lore1", "lore2"),  # another format
    lambda t: t[:-1] + "1",  # not a base32 character
    lambda t: "",
])
def test_typos_and_foreign_text_are_refused(mangle: object) -> None:
    # a fixed key: every mangling below really changes its text (no random no-ops)
    text = encode_recovery(SecretBytes(bytes(range(32))))
    assert callable(mangle)
    bad = mangle(text)
    assert bad != text
    with pytest.raises(BadRecoveryKey):
        decode_recovery(bad)


def test_every_last_character_typo_is_refused() -> None:
    """The last base32 character carries unused bits: none of its typos may pass."""
    for seed in range(20):
        text = encode_recovery(SecretBytes(bytes([seed]) * 32))
        for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567":
            if ch != text[-1]:
                with pytest.raises(BadRecoveryKey):
                    decode_recovery(text[:-1] + ch)
