"""JSON values sealed as JSON strings (``"gse1:" + base64``), so they fit every backend's
JSON and text columns (see ``storage/encrypted.py``)."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from graph_sessions.crypto import KeyRing, open_bytes, seal
from graph_sessions.errors import EncryptionError
from graph_sessions.jsonable import dumps

PREFIX = "gse1:"


def seal_json(ring: KeyRing, value: Any, aad: str) -> str:
    """``value`` sealed as a JSON string (in the JSON shapes the columns store)."""
    sealed = seal(ring, dumps(value), aad.encode())
    return PREFIX + base64.b64encode(sealed).decode("ascii")


def open_json(ring: KeyRing | None, value: Any, aad: str) -> Any:
    """A value as :func:`seal_json` stored it, opened (other values as they are)."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return value
    try:
        raw = base64.b64decode(value[len(PREFIX) :], validate=True)
    except ValueError:
        raise EncryptionError("a sealed value is malformed (not base64)") from None
    return orjson.loads(open_bytes(ring, raw, aad.encode()))
