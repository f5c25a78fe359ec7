"""Limits on the metadata filter of ``manager.list`` / ``manager.count``.

A filter is client input (``GET /sessions?metadata=…``): it must be something storage can
compare without failing, and small enough that its query stays cheap. Past these limits it
is refused with ``InvalidInput``, never turned into a storage error.
"""

from __future__ import annotations

import math
from typing import Any

from graph_sessions.errors import InvalidInput

#: at most this many key/value pairs to match (nested objects count each of their leaves)
MAX_FILTER_KEYS = 64
#: objects and lists nested at most this deep in a filter
MAX_FILTER_DEPTH = 16
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def check_metadata_filter(metadata: Any) -> None:
    """Raise ``InvalidInput`` unless ``metadata`` is a dict storage can match: string keys,
    at most :data:`MAX_FILTER_KEYS` leaves, nesting at most :data:`MAX_FILTER_DEPTH`, integers
    within signed 64 bits, finite numbers, JSON values only."""
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata filter must be a dict")
    _FilterWalk().walk(metadata, 0, "")


class _FilterWalk:
    """One pass over a filter, counting the leaves it matches."""

    def __init__(self) -> None:
        self.leaves = 0

    def walk(self, value: Any, depth: int, where: str) -> None:
        if depth > MAX_FILTER_DEPTH:
            raise InvalidInput(
                f"metadata filter is nested more than {MAX_FILTER_DEPTH} levels deep"
            )
        if isinstance(value, dict):
            for key, item in value.items():
                self._entry(key, item, depth, where)
        elif isinstance(value, list):
            for item in value:
                self.walk(item, depth + 1, where)
        else:
            _check_scalar(value, where)

    def _entry(self, key: Any, item: Any, depth: int, where: str) -> None:
        if not isinstance(key, str):
            raise InvalidInput(f"metadata filter keys must be strings, not {key!r}")
        if '"' in key or "\x00" in key:  # SQLite's JSON paths cannot name such a key
            raise InvalidInput(
                f"metadata filter keys cannot hold a double quote or a NUL character: {key!r}"
            )
        if not (isinstance(item, dict) and item):  # a non-empty object matches per key
            self.leaves += 1
            if self.leaves > MAX_FILTER_KEYS:
                raise InvalidInput(f"metadata filter has more than {MAX_FILTER_KEYS} keys to match")
        self.walk(item, depth + 1, f"{where}.{key}" if where else key)


def _check_scalar(value: Any, where: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise InvalidInput(
                f"metadata filter {where!r}: integers must fit in signed 64 bits "
                f"({_INT_MIN}..{_INT_MAX})"
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"metadata filter {where!r}: numbers must be finite")
    else:
        raise InvalidInput(f"metadata filter {where!r}: {type(value).__name__} is not a JSON value")
