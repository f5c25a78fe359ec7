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
from graph_sessions.crypto.sealed_json import aad_of, is_sealed_json, open_json, seal_json
from graph_sessions.crypto.serde import EncryptedSerde

__all__ = [
    "ENCRYPTION_KEY_VARIABLE",
    "EncryptedSerde",
    "KeyRing",
    "aad_of",
    "derive_key_id",
    "generate_key",
    "is_sealed",
    "is_sealed_json",
    "open_bytes",
    "open_json",
    "parse_keys",
    "seal",
    "seal_json",
    "sealed_key_id",
]
