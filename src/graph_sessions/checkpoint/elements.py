"""Serializing a list channel element by element, reusing the bytes of unchanged elements.

LangGraph's ``JsonPlusSerializer`` encodes a list as a msgpack array: a header, then each
element's encoding, each independent of the others. Encoding a LangChain message costs
microseconds of Python (``model_dump``); a chat's state holds thousands of them and is
put twice per turn. So ``encode_list`` keeps, for the last value put of a channel, each
element's *fingerprint* and the offsets of its bytes, and on the next put reuses the bytes
of every element whose fingerprint is unchanged, encoding only the others.

A fingerprint is ``(exact type, pickle of the element's state)`` taken with a pickler
that refuses every object it cannot vouch for, so equal fingerprints mean equal state,
type-exact at every level (``1``, ``1.0`` and ``True`` pickle differently, so do ``0.0``
and ``-0.0``, a ``dict`` and an ``OrderedDict``, a ``str`` and a ``str`` subclass, and dict
key orders). Nothing relies on object identity or on the reducer being pure: an element
mutated in place, however deeply, has a different fingerprint and is encoded again. An
element whose fingerprint cannot be taken is always encoded again.

Only used with an unmodified ``JsonPlusSerializer``; the result is exactly what
``serde.dumps_typed(value)`` returns (``tests/checkpoint/test_elements.py``).

**Shared mode** (``share=True``, the saver's opt-in ``share_values``): each element is
decoded once (a new one right when it is put, from its bytes, so it reads exactly as a
fresh decode would) and that object is handed out by every read, in a new list, instead
of a copy; an element that *is* (``is``) the kept object at its position reuses its bytes
without a fingerprint. It is sound only under the contract the option states: nobody
mutates a list element (a message) in place; lists may be changed, elements replaced
(LangGraph's reducers, ``add_messages`` included, do just that). It removes the per-read
copy of every element and the per-put fingerprint of the unchanged ones, which is what a
long thread costs.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import io
import marshal
import pickle
import types
import uuid
from collections.abc import Sequence
from operator import is_
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from pydantic import BaseModel

from graph_sessions.checkpoint.msgpack_list import array_header, split_array

Fingerprint = tuple[type, bytes]

# Leaf types whose pickle is their whole value (pickle itself handles None, bool, int,
# float, str, bytes and exact dict/list/tuple/set/frozenset without asking).
_SAFE_TYPES: frozenset[type] = frozenset(
    {
        bytearray,
        complex,
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        datetime.timezone,
        uuid.UUID,
        decimal.Decimal,
    }
)
_GLOBALS = (type, types.FunctionType, types.BuiltinFunctionType)
_model_ok: dict[type, bool] = {}


class _Refused(Exception):
    pass


def _is_plain_model(cls: type) -> bool:
    """A pydantic v2 model whose encoding (``model_dump``) is a function of its fields
    and extra fields alone: no computed fields, custom serializers or private attributes."""
    ok = _model_ok.get(cls)
    if ok is None:
        decorators = cls.__pydantic_decorators__ if issubclass(cls, BaseModel) else None
        ok = (
            decorators is not None
            and issubclass(cls, BaseModel)
            and not cls.__pydantic_computed_fields__
            and not decorators.model_serializers
            and not decorators.field_serializers
            and not cls.__private_attributes__
            and cls.model_dump is BaseModel.model_dump
            and cls.__getstate__ is BaseModel.__getstate__
            and cls.__reduce_ex__ is object.__reduce_ex__
            and cls.__reduce__ is object.__reduce__
        )
        _model_ok[cls] = ok
    return ok


class _Pickler(pickle.Pickler):
    # Called for every object except None, bools and exact int, float, bytes, str, dict,
    # set, frozenset, list and tuple.
    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls in _SAFE_TYPES or isinstance(obj, (*_GLOBALS, enum.Enum)):
            return NotImplemented  # by value, or (classes, functions) by name
        if isinstance(obj, BaseModel) and _is_plain_model(cls):
            return NotImplemented  # BaseModel.__getstate__: fields, extra, private, set
        raise _Refused


class _Fingerprinter:
    def __init__(self) -> None:
        self._buf = io.BytesIO()
        self._pickler = self._new_pickler()

    def _new_pickler(self) -> _Pickler:
        pickler = _Pickler(self._buf, 5)
        pickler.fast = True  # no memo: faster, and a cycle raises (no fingerprint)
        return pickler

    def __call__(self, obj: Any) -> Fingerprint | None:
        cls = type(obj)
        mode = _modes.get(cls)
        if mode is None:
            mode = _modes[cls] = _mode(cls)
        if mode == _BY_FIELDS:
            state: Any = (obj.__dict__, obj.__pydantic_extra__)
        elif mode == _BY_PICKLE:
            state = obj
        else:
            return None
        buf = self._buf
        buf.seek(0)
        buf.truncate()
        try:
            self._pickler.dump(state)  # fast mode: no memo to clear
        except Exception:
            self._pickler = self._new_pickler()  # no state left over from a failed dump
            return None
        return cls, buf.getvalue()


_BY_PICKLE, _BY_FIELDS, _NONE = 0, 1, 2
_modes: dict[type, int] = {}


def _mode(cls: type) -> int:
    """How an element of type ``cls`` is fingerprinted: pickled whole (the pickler then
    vouches for every object in it or refuses), by fields (a plain model), or not."""
    if issubclass(cls, BaseModel):
        return _BY_FIELDS if _is_plain_model(cls) else _NONE
    return _BY_PICKLE


def applies(serde: Any, value: Any) -> bool:
    """Whether ``encode_list`` should be used for ``value``: a list of objects whose
    encoding is costly (pydantic models, e.g. LangChain messages) and the default serde.
    Plain dicts and scalars are encoded by ormsgpack faster than they can be fingerprinted
    (shared mode too: measured, element-wise dicts made a turn ~1 ms slower at 4,000)."""
    return (
        type(serde) is JsonPlusSerializer
        and type(value) is list
        and len(value) > 0
        and (isinstance(value[-1], BaseModel) or isinstance(value[0], BaseModel))
    )


_MISSING: Any = object()
_COPY_MARSHAL, _COPY_MODEL, _COPY_LOADS = 0, 1, 2
_EXACT_LEAVES = frozenset({str, int, float, bool, type(None), bytes})


class Elements:
    """Fingerprints and end offsets (in the encoded value) of a list value's elements,
    and, filled on the first read, what is kept of each element decoded once
    (``pristine``: private, never handed out; ``decode_list`` builds copies from it)."""

    __slots__ = ("fingerprints", "ends", "nbytes", "pristine", "shared", "ready", "fp_bytes")

    def __init__(
        self,
        fingerprints: Sequence[Fingerprint | None],
        ends: Sequence[int],
        nbytes: int,
        pristine: list[Any],
        shared: list[Any] | None = None,
        fp_bytes: int = 0,
    ) -> None:
        self.fingerprints = fingerprints
        self.fp_bytes = fp_bytes  # what the fingerprints take (an estimate of memory)
        self.ends = ends
        self.nbytes = nbytes
        self.pristine = pristine  # per element: _MISSING or what ``_kept`` returns
        # shared mode only: per element, _MISSING or the object itself (put or decoded),
        # and how many leading elements are there
        self.shared = shared
        self.ready = 0


def encode_list(
    serde: Any,
    value: list[Any],
    prev_data: bytes | None,
    prev_header: int,
    prev: Elements | None,
    *,
    share: bool = False,
) -> tuple[bytes, Elements] | None:
    """``serde.dumps_typed(value)[1]`` (type ``"msgpack"``), reusing the bytes of the
    elements of the previous value (``prev_data``, described by ``prev``) whose
    fingerprint is unchanged (in shared mode: that are the very objects kept). ``None``
    when an element is not msgpack-encodable (the caller then serializes the whole value,
    e.g. with a pickle fallback)."""
    fingerprint = _Fingerprinter()
    header = array_header(len(value))
    old_fps: Sequence[Fingerprint | None] = ()
    old_ends: Sequence[int] = ()
    if prev is not None and prev_data is not None:
        old_fps, old_ends = prev.fingerprints, prev.ends
    n_old = len(old_fps)
    pieces: list[bytes] = [header]
    fps: list[Fingerprint | None] = []
    ends: list[int] = []
    pristine: list[Any] = []
    shared: list[Any] | None = [] if share else None
    old_pristine: list[Any] = prev.pristine if prev is not None and n_old else []
    old_shared: list[Any] = (prev.shared or []) if share and prev is not None and n_old else []
    n_shared = len(old_shared)
    pos = len(header)
    nbytes = 0
    # a run of reused elements, contiguous in prev_data, is copied as one slice
    run_start = run_end = -1
    first = 0
    if n_shared and prev is not None:
        # Shared mode, the common turn: the list put starts with the very objects kept
        # (a reducer appended to what was read). Checked at C speed, taken as one run.
        k = min(len(value), n_shared, n_old)
        if k and all(map(is_, value[:k], old_shared[:k])) and None not in old_fps[:k]:
            end = old_ends[k - 1]
            shift = len(header) - prev_header
            fps.extend(old_fps[:k])
            ends.extend(old_ends[:k] if not shift else [e + shift for e in old_ends[:k]])
            pristine.extend(old_pristine[:k])
            assert shared is not None
            shared.extend(old_shared[:k])
            run_start, run_end = prev_header, end
            pos += end - prev_header
            nbytes += prev.fp_bytes * k // n_old
            first = k
    for i in range(first, len(value)):
        elem = value[i]
        # in shared mode, the very object whose bytes these are (unmutated, by contract)
        fp = old_fps[i] if i < n_shared and old_shared[i] is elem else fingerprint(elem)
        if fp is not None and i < n_old and old_fps[i] == fp:
            start = old_ends[i - 1] if i else prev_header
            end = old_ends[i]
            if start != run_end:
                if run_end >= 0:
                    pieces.append(cast_bytes(prev_data)[run_start:run_end])
                run_start = start
            run_end = end
            pos += end - start
            pristine.append(old_pristine[i])  # decoded from these very bytes
            if shared is not None:
                shared.append(old_shared[i] if i < n_shared else _MISSING)
        else:
            if run_end >= 0:
                pieces.append(cast_bytes(prev_data)[run_start:run_end])
                run_start = run_end = -1
            pristine.append(_MISSING)
            type_, encoded = serde.dumps_typed([elem])
            if type_ != "msgpack" or encoded[:1] != b"\x91":
                return None
            piece = encoded[1:]
            # Taken again after encoding: only a state seen both before and after the
            # encoding is vouched for by these bytes.
            if fp is not None and fingerprint(elem) != fp:
                fp = None
            if shared is not None:
                # what a read of these bytes gives (not ``elem`` itself: a decoded model
                # has every field set, the object put may not)
                shared.append(serde.loads_typed(("msgpack", b"\x91" + piece))[0])
            pieces.append(piece)
            pos += len(piece)
        fps.append(fp)
        ends.append(pos)
        if fp is not None:
            nbytes += len(fp[1]) + 64
    if run_end >= 0:
        pieces.append(cast_bytes(prev_data)[run_start:run_end])
    data = b"".join(pieces)
    # what is kept of decoded elements takes about 2x their encoding
    size = nbytes + 8 * len(ends) + 2 * len(data)
    return data, Elements(tuple(fps), tuple(ends), size, pristine, shared, nbytes)


def _exact_tree(obj: Any, depth: int = 0) -> bool:
    """Whether ``obj`` is made only of exact builtin types that ``marshal`` copies exactly
    (dict, list, tuple, str, int, float, bool, None, bytes)."""
    cls = type(obj)
    if cls in _EXACT_LEAVES:
        return True
    if depth > 64:
        return False
    if cls is dict:
        return all(_exact_tree(k, depth + 1) and _exact_tree(v, depth + 1) for k, v in obj.items())
    if cls is list or cls is tuple:
        return all(_exact_tree(v, depth + 1) for v in obj)
    return False


def _copy_kind(obj: Any) -> int:
    cls = type(obj)
    if _exact_tree(obj):
        return _COPY_MARSHAL
    if (
        isinstance(obj, BaseModel)
        and _is_plain_model(cls)
        and all(
            not c.__dict__.get("__slots__") for c in cls.__mro__[: cls.__mro__.index(BaseModel)]
        )
        and type(obj.__dict__) is dict
        and _exact_tree(obj.__dict__)
        and (obj.__pydantic_extra__ is None or type(obj.__pydantic_extra__) is dict)
        and _exact_tree(obj.__pydantic_extra__)
        and obj.__pydantic_private__ is None
    ):
        return _COPY_MODEL
    return _COPY_LOADS


def _kept(obj: Any) -> tuple[int, Any, Any, frozenset[str] | None]:
    """What is kept of an element decoded once: ``(copy kind, class, its state, fields
    set)``, the state being marshal bytes (exact builtin trees) or, for a plain model,
    ``(template fields, marshal bytes of each mutable field, of the extra fields)``;
    ``decode_list`` builds fresh copies from it."""
    kind = _copy_kind(obj)
    if kind == _COPY_MARSHAL:
        return kind, None, marshal.dumps(obj), None
    if kind == _COPY_MODEL:
        # Fields holding an immutable leaf (most of a message: its text, id, type) are
        # shared by every copy; the others are unmarshalled afresh for each copy, into a
        # copy of ``template`` so that the fields keep their order.
        fields = obj.__dict__
        template = {k: (v if type(v) in _EXACT_LEAVES else None) for k, v in fields.items()}
        fresh = tuple(
            (k, marshal.dumps(v)) for k, v in fields.items() if type(v) not in _EXACT_LEAVES
        )
        extra = obj.__pydantic_extra__
        state = (template, fresh, None if extra is None else marshal.dumps(extra))
        return kind, type(obj), state, frozenset(obj.__pydantic_fields_set__)
    return kind, None, None, None


def decode_list(
    serde: Any,
    data: bytes,
    header: int,
    elements: Elements,
    *,
    share: bool = False,
    count: int | None = None,
) -> list[Any]:
    """``serde.loads_typed(("msgpack", data))`` for a value encoded by ``encode_list``
    (only its first ``count`` elements when given: an earlier version of a growing list).

    In shared mode, a new list of the kept objects (decoded once, or the objects put).

    Each element is decoded once; what is kept of it (``_kept``) is private, and every
    call builds fresh objects from it: a plain model is rebuilt as pydantic's own
    ``__copy__`` does, its immutable fields (str, int, float, bool, None, bytes) shared
    and its other fields and extra fields unmarshalled afresh (exact builtin types only,
    so ``marshal`` reproduces them exactly), other elements of exact builtin types are
    unmarshalled, anything else is decoded from its bytes again. Nothing mutable that is
    returned is shared with the kept state or with an earlier result."""
    if share:
        return _shared_list(serde, data, header, elements, count)
    out: list[Any] = []
    append = out.append
    kept = elements.pristine
    ends = elements.ends if count is None else elements.ends[:count]
    loads = marshal.loads
    new = object.__new__
    setattr_ = object.__setattr__
    for i, end in enumerate(ends):
        entry = kept[i]
        if entry is _MISSING:
            start = ends[i - 1] if i else header
            entry = kept[i] = _kept(serde.loads_typed(("msgpack", b"\x91" + data[start:end]))[0])
        kind, cls, state, fields_set = entry
        if kind == _COPY_MODEL:
            template, fresh, extra_bytes = state
            fields = template.copy()
            for key, value in fresh:
                fields[key] = loads(value)
            extra = None if extra_bytes is None else loads(extra_bytes)
            obj = new(cls)
            setattr_(obj, "__dict__", fields)
            setattr_(obj, "__pydantic_extra__", extra)
            setattr_(obj, "__pydantic_fields_set__", set(fields_set))
            setattr_(obj, "__pydantic_private__", None)
            append(obj)
        elif kind == _COPY_MARSHAL:
            append(loads(state))
        else:
            start = ends[i - 1] if i else header
            append(serde.loads_typed(("msgpack", b"\x91" + data[start:end]))[0])
    return out


def _shared_list(
    serde: Any, data: bytes, header: int, elements: Elements, count: int | None
) -> list[Any]:
    ends = elements.ends
    shared = elements.shared
    if shared is None or len(shared) != len(ends):
        shared = elements.shared = [_MISSING] * len(ends)
        elements.ready = 0
    n = len(ends) if count is None else count
    for i in range(elements.ready, n):
        if shared[i] is _MISSING:
            start = ends[i - 1] if i else header
            shared[i] = serde.loads_typed(("msgpack", b"\x91" + data[start : ends[i]]))[0]
    elements.ready = max(elements.ready, n)
    return shared[:n]


def prefix_count(data: bytes, header: int, elements: Elements, other: bytes) -> int | None:
    """How many elements ``other`` (a msgpack array) holds when they are exactly the first
    elements of the list ``data`` described by ``elements``: an earlier version of a list
    that only grew. ``None`` when it is not such a prefix."""
    split = split_array(other)
    if split is None:
        return None
    count, other_header = split
    ends = elements.ends
    if count > len(ends):
        return None
    end = ends[count - 1] if count else header
    if len(other) - other_header != end - header or data[header:end] != other[other_header:]:
        return None
    return count


def cast_bytes(data: bytes | None) -> bytes:
    assert data is not None
    return data
