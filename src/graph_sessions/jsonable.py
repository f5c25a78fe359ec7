"""The one JSON encoding of graph state, for every layer (storage, core, server, CLI).

Graph state may hold objects JSON does not know: LangChain messages and other pydantic
models, dataclasses (LangGraph's ``Send``, ``Interrupt``, ``Command``), sets, bytes,
datetimes... Each has one JSON shape, whoever encodes it:

* pydantic models (LangChain messages included): ``model_dump(mode="json")``;
* dataclasses (``Interrupt``, ``Command``): an object of their fields; ``Send``:
  ``{"node", "arg"}``;
* ``datetime``/``date``/``UUID``/enums/numpy: as orjson writes them (RFC 3339, strings);
* sets, frozensets and tuples: arrays; ``bytes``: base64 text;
* non-string mapping keys: their string; integers beyond 64 bits: decimal strings;
* anything else: a LangChain ``to_json()`` when it has one, else ``str(value)``.

Encoding never fails: what has no better shape becomes a string.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson
from langgraph.types import Send
from pydantic import BaseModel

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_MAX_DEPTH = 200


def _default(obj: Any) -> Any:
    """One step towards JSON for what orjson cannot serialise itself."""
    if isinstance(obj, BaseModel):
        try:
            return obj.model_dump(mode="json")
        except Exception:  # a field pydantic cannot put in JSON mode: keep the Python values
            return obj.model_dump()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(obj)).decode()
    if isinstance(obj, Send):  # not a dataclass: its repr would hide the node and argument
        return {"node": obj.node, "arg": obj.arg}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return dict(obj)
    to_json = getattr(obj, "to_json", None)
    if callable(to_json):  # LangChain Serializable
        try:
            return to_json()
        except Exception:  # a broken to_json() must not break encoding: fall back to str
            pass
    return str(obj)


def dumps(value: Any, *, indent: bool = False, strict: bool = False) -> bytes:
    """JSON bytes for ``value`` in the shapes above (``indent``: two spaces per level).

    ``strict`` refuses (``TypeError``) what JSON cannot hold as is instead of turning it into
    strings: mapping keys that are not strings, integers beyond 64 bits, nesting too deep.
    It checks values that must read back as they were written (session metadata)."""
    option = (orjson.OPT_SERIALIZE_NUMPY if strict else _OPTIONS) | (
        orjson.OPT_INDENT_2 if indent else 0
    )
    try:
        return orjson.dumps(value, default=_default, option=option)
    except (TypeError, orjson.JSONEncodeError):  # too deep, a huge int, a str() that raised
        if strict:
            raise
        return orjson.dumps(to_jsonable(value), option=option)


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """A JSON-ready copy of ``value`` (dicts, lists, strings, numbers, booleans, ``None``)
    in the same shapes :func:`dumps` writes."""
    if _depth > _MAX_DEPTH:
        return str(value)
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, Mapping):
        return {_key(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v, _depth + 1) for v in value]
    try:
        return orjson.loads(orjson.dumps(value, option=_OPTIONS))
    except (TypeError, orjson.JSONEncodeError):
        pass
    converted = _default(value)
    if isinstance(converted, str):
        return converted
    if converted is value:
        return str(value)
    return to_jsonable(converted, _depth + 1)


def _key(key: Any) -> str:
    """A mapping key as orjson's ``OPT_NON_STR_KEYS`` writes it."""
    if isinstance(key, str):
        return key
    try:
        text = orjson.loads(orjson.dumps({key: None}, option=_OPTIONS))
        return next(iter(text))
    except (TypeError, orjson.JSONEncodeError):
        return str(key)


__all__ = ["dumps", "to_jsonable"]
