"""Authenticated encryption of stored bytes (AES-256-GCM, from ``cryptography``).

A sealed value is ``MAGIC | version | len(id) | key id | nonce (12) | ciphertext+tag``.
``MAGIC`` starts with ``0xc1``, a byte msgpack never emits, so a sealed value is never
mistaken for an old plaintext one (which :func:`open_bytes` passes through: turning
encryption on keeps old rows readable). The header and the caller's *associated data*
(e.g. ``session id + column``) are authenticated: bytes moved to another row, truncated
or altered fail to open with a typed :class:`~graph_sessions.errors.EncryptionError`.
"""

from __future__ import annotations

import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from graph_sessions.crypto.keys import KeyRing
from graph_sessions.errors import EncryptionError

MAGIC = b"\xc1GSE"
VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16


@functools.lru_cache(maxsize=32)
def _aead(key: bytes) -> AESGCM:
    """One AES-GCM context per key (building one costs more than sealing a small value)."""
    return AESGCM(key)


def is_sealed(data: bytes | bytearray | memoryview | None) -> bool:
    """True when ``data`` was written by :func:`seal`."""
    return data is not None and bytes(data[: len(MAGIC)]) == MAGIC


def sealed_key_id(data: bytes) -> str:
    """The id of the key ``data`` was sealed with (``EncryptionError`` if malformed)."""
    return _header(data)[0]


def _header(data: bytes) -> tuple[str, int]:
    """``(key id, offset of the nonce)``."""
    if len(data) < len(MAGIC) + 2:
        raise EncryptionError("encrypted value is truncated (no header)")
    if data[len(MAGIC)] != VERSION:
        raise EncryptionError(f"encrypted value has unknown format version {data[len(MAGIC)]}")
    size = data[len(MAGIC) + 1]
    start = len(MAGIC) + 2
    if len(data) < start + size + NONCE_BYTES + TAG_BYTES:
        raise EncryptionError("encrypted value is truncated")
    try:
        key_id = data[start : start + size].decode("ascii")
    except UnicodeDecodeError:
        raise EncryptionError("encrypted value has a malformed key id") from None
    return key_id, start + size


def seal(ring: KeyRing, plaintext: bytes, aad: bytes = b"") -> bytes:
    """``plaintext`` encrypted with the ring's current key, bound to ``aad``."""
    key_id = ring.current.encode("ascii")
    header = MAGIC + bytes((VERSION, len(key_id))) + key_id
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + _aead(ring.current_key).encrypt(nonce, plaintext, header + aad)


def open_bytes(ring: KeyRing | None, data: bytes, aad: bytes = b"") -> bytes:
    """The plaintext of ``data`` (returned as is when it was never sealed).

    Raises ``EncryptionError`` naming the key id when that key is not in ``ring`` (or no
    ring is configured), and when the bytes fail authentication: wrong key, truncated,
    altered, or sealed for other associated data (another row)."""
    data = bytes(data)
    if not is_sealed(data):
        return data
    key_id, at = _header(data)
    if ring is None:
        raise EncryptionError(
            f"this value is encrypted with key {key_id!r} and no encryption key is "
            "configured (set encryption_key / GRAPH_SESSIONS_ENCRYPTION_KEY)",
            key_id=key_id,
        )
    key = ring.keys.get(key_id)
    if key is None:
        raise EncryptionError(
            f"this value is encrypted with key {key_id!r}, which is not among the "
            f"configured keys {ring.ids()!r}",
            key_id=key_id,
        )
    nonce = data[at : at + NONCE_BYTES]
    try:
        return _aead(key).decrypt(nonce, data[at + NONCE_BYTES :], data[:at] + aad)
    except InvalidTag:
        raise EncryptionError(
            f"a value encrypted with key {key_id!r} failed authentication: the key is wrong, "
            "or the bytes were altered, truncated or moved from another row",
            key_id=key_id,
        ) from None
