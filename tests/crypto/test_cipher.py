"""Sealing bytes and parsing keys (``graph_sessions.crypto``): round trips, rotation, and
every way a ciphertext can be wrong giving a typed error that names the key it needs."""

from __future__ import annotations

import base64

import pytest
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from graph_sessions.crypto import (
    EncryptedSerde,
    KeyRing,
    derive_key_id,
    generate_key,
    is_sealed,
    open_bytes,
    parse_keys,
    seal,
    sealed_key_id,
)
from graph_sessions.errors import ConfigError, EncryptionError

K1 = bytes(range(32))
K2 = bytes(range(1, 33))


def ring(*pairs: tuple[str, bytes]) -> KeyRing:
    return KeyRing.from_entries(pairs)


def test_seal_round_trips_and_hides_the_plaintext() -> None:
    keys = ring(("k1", K1))
    sealed = seal(keys, b"my address is 12 Elm Street", b"s1|metadata")
    assert is_sealed(sealed) and b"Elm" not in sealed
    assert sealed_key_id(sealed) == "k1"
    assert open_bytes(keys, sealed, b"s1|metadata") == b"my address is 12 Elm Street"
    # a fresh nonce each time: equal plaintexts do not give equal ciphertexts
    assert seal(keys, b"x") != seal(keys, b"x")


def test_plaintext_from_before_encryption_passes_through() -> None:
    old = JsonPlusSerializer().dumps_typed({"a": 1})[1]
    assert not is_sealed(old)
    assert open_bytes(ring(("k1", K1)), old) == old
    assert open_bytes(None, old) == old


def test_rotation_newest_encrypts_any_decrypts() -> None:
    old = seal(ring(("k1", K1)), b"before")
    rotated = ring(("k2", K2), ("k1", K1))
    assert open_bytes(rotated, old) == b"before"
    new = seal(rotated, b"after")
    assert sealed_key_id(new) == "k2"
    with pytest.raises(EncryptionError) as caught:
        open_bytes(ring(("k1", K1)), new)
    assert caught.value.key_id == "k2" and "'k2'" in caught.value.message


def test_missing_key_wrong_key_truncated_and_moved_are_typed_errors() -> None:
    keys = ring(("k1", K1))
    sealed = seal(keys, b"secret", b"row-1")
    with pytest.raises(EncryptionError, match="no encryption key is configured") as none:
        open_bytes(None, sealed, b"row-1")
    assert none.value.key_id == "k1"
    with pytest.raises(EncryptionError, match="failed authentication"):
        open_bytes(ring(("k1", K2)), sealed, b"row-1")  # same id, wrong key
    with pytest.raises(EncryptionError, match="truncated"):
        open_bytes(keys, sealed[:20], b"row-1")
    with pytest.raises(EncryptionError, match="failed authentication"):
        open_bytes(keys, sealed[:-1], b"row-1")
    with pytest.raises(EncryptionError, match="moved from another row"):
        open_bytes(keys, sealed, b"row-2")
    flipped = bytearray(sealed)
    flipped[-5] ^= 1
    with pytest.raises(EncryptionError):
        open_bytes(keys, bytes(flipped), b"row-1")


def test_parse_keys_forms(tmp_path) -> None:  # type: ignore[no-untyped-def]
    b64 = base64.b64encode(K1).decode()
    assert parse_keys(None) is None and parse_keys("  ") is None
    bare = parse_keys(b64)
    assert bare is not None and bare.current == derive_key_id(K1) and bare.current_key == K1
    assert parse_keys(K1.hex()) == bare
    assert parse_keys(base64.urlsafe_b64encode(K2).decode().rstrip("=")).current_key == K2  # type: ignore[union-attr]
    two = parse_keys(f"new:{base64.b64encode(K2).decode()}, old:{b64}")
    assert two is not None and two.ids() == ["new", "old"] and two.current_key == K2
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"# rotated 2026-12\nnew:{base64.b64encode(K2).decode()}\nold:{b64}\n")
    assert parse_keys(str(key_file)) == two
    generated = parse_keys(generate_key("g1"))
    assert generated is not None and generated.current == "g1" and len(generated.current_key) == 32
    assert "bytes" not in repr(two) and b64 not in repr(two)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("k1:c2hvcnQ=", "not a 256-bit key"),
        ("/no/such/keyfile", "neither a key nor a readable key file"),
        (f"bad id!:{base64.b64encode(K1).decode()}", "must be 1-64 letters"),
        (f"a:{base64.b64encode(K1).decode()},a:{base64.b64encode(K2).decode()}", "two different"),
    ],
)
def test_bad_key_settings_are_config_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_keys(spec)


def test_encrypted_serde_round_trips_and_reads_old_plaintext() -> None:
    keys = ring(("k1", K1))
    serde = EncryptedSerde(keys)
    value = {"messages": ["my card is 4111-1111"], "n": 3}
    type_, data = serde.dumps_typed(value)
    assert type_.endswith("+gse") and b"4111" not in data
    assert serde.loads_typed((type_, data)) == value
    plain = JsonPlusSerializer().dumps_typed(value)
    assert serde.loads_typed(plain) == value
    with pytest.raises(EncryptionError):
        EncryptedSerde(ring(("k1", K2))).loads_typed((type_, data))
