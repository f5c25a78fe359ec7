"""Robust, fast JSON: graph state may hold objects JSON does not know (LangChain messages,
dataclasses, sets, bytes…). They are turned into JSON-ready values, never a 500."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import Response

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(obj: Any) -> Any:
    """Called by orjson for what it cannot serialise itself."""
    if isinstance(obj, BaseModel):  # LangChain messages are pydantic models
        try:
            return obj.model_dump(mode="json")
        except Exception:
            return obj.model_dump()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(obj)).decode()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return dict(obj)
    to_json = getattr(obj, "to_json", None)
    if callable(to_json):  # LangChain Serializable
        try:
            return to_json()
        except Exception:
            pass
    return str(obj)


def dumps(value: Any) -> bytes:
    """JSON bytes for ``value``; whatever cannot be encoded becomes a string."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(jsonable(value), option=_OPTIONS)


def jsonable(value: Any, _depth: int = 0) -> Any:
    """A JSON-ready copy of ``value`` (slow path; :func:`dumps` tries orjson first)."""
    if _depth > 200:
        return str(value)
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, _depth + 1) for v in value]
    try:
        orjson.dumps(value, option=_OPTIONS)
        return orjson.loads(orjson.dumps(value, option=_OPTIONS))
    except (TypeError, orjson.JSONEncodeError):
        pass
    converted = _default(value)
    if isinstance(converted, str) or converted is value:
        return converted if isinstance(converted, str) else str(value)
    return jsonable(converted, _depth + 1)


class JSONResponse(Response):
    """A JSON response encoded with orjson and :func:`dumps`' robust fallbacks."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode ``content``."""
        return dumps(content)
