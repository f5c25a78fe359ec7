"""JSON values sealed as JSON strings (``"gse1:" + base64``), so they fit every backend's
JSON and text columns (``storage/encrypted.py``) and checkpoint metadata."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from graph_sessions.crypto.cipher import is_sealed, open_bytes, seal
from graph_sessions.crypto.keys import KeyRing
from graph_sessions.errors import EncryptionError
from graph_sessions.jsonable import dumps

PREFIX = "gse1:"


def aad_of(*parts: str) -> bytes:
    """Associated data of ``parts``, each length-prefixed (no two tuples give the same)."""
    return b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)


def seal_json(ring: KeyRing, value: Any, aad: bytes) -> str:
    """``value`` sealed as a JSON string (in the JSON shapes the columns store)."""
    return PREFIX + base64.b64encode(seal(ring, dumps(value), aad)).decode("ascii")


def is_sealed_json(value: Any) -> bool:
    """True for a string :func:`seal_json` made (by its prefix)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def open_json(ring: KeyRing | None, value: Any, aad: bytes) -> Any:
    """A value :func:`seal_json` made, opened; any other value as it is. Raises
    ``EncryptionError`` for a prefixed value that is not a sealed one (never guesses)."""
    if not is_sealed_json(value):
        return value
    try:
        raw = base64.b64decode(value[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise EncryptionError("a sealed value is malformed (not base64)") from None
    if not is_sealed(raw):
        raise EncryptionError("a value marked sealed is not a sealed value")
    plain = open_bytes(ring, raw, aad)
    try:
        return orjson.loads(plain)
    except orjson.JSONDecodeError:
        raise EncryptionError("a sealed value does not hold JSON") from None
