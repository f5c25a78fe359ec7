"""Encryption at rest: keys (:mod:`.keys`), sealing bytes (:mod:`.cipher`), and a
checkpoint serializer that encrypts (:mod:`.serde`)."""

from graph_sessions.crypto.cipher import is_sealed, open_bytes, seal, sealed_key_id
from graph_sessions.crypto.keys import (
    ENCRYPTION_KEY_VARIABLE,
    KeyRing,
    derive_key_id,
    generate_key,
    parse_keys,
)
from graph_sessions.crypto.serde import EncryptedSerde

__all__ = [
    "ENCRYPTION_KEY_VARIABLE",
    "EncryptedSerde",
    "KeyRing",
    "derive_key_id",
    "generate_key",
    "is_sealed",
    "open_bytes",
    "parse_keys",
    "seal",
    "sealed_key_id",
]
