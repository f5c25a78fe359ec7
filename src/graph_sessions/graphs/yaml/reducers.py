"""The reducers a YAML graph's state fields may name (``reducer: add``...), and the
internal ones the compiler gives to map results and loop counts."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from langgraph.graph.message import add_messages

__all__ = [
    "LAST_VALUE",
    "LOOP_COUNTS",
    "LOOP_RESET",
    "MAP_COLLECT",
    "MAP_RESET",
    "PUBLIC_REDUCERS",
    "REDUCERS",
    "map_collect",
    "reduce_loop_counts",
]

LAST_VALUE = "last_value"  # a reducer name: the last write wins, several writes per step are fine
MAP_COLLECT = "map_collect"  # a map node's `collect` field
LOOP_COUNTS = "loop_counts"  # the per-node run counts of loop-limited nodes
MAP_RESET = "__graph_sessions_map_reset__"
LOOP_RESET = "__reset__"


def _reduce_add(left: Any, right: Any) -> Any:
    """``reducer: add``: lists concatenate (a non-list is appended), numbers and strings add."""
    if left is None:
        return right
    if right is None:
        return left
    if isinstance(left, list):
        return left + right if isinstance(right, list) else [*left, right]
    return operator.add(left, right)


def _reduce_merge(left: Any, right: Any) -> Any:
    """``reducer: merge``: a shallow dict merge (right wins)."""
    if not isinstance(left, Mapping):
        return right
    if not isinstance(right, Mapping):
        return left if right is None else right
    return {**left, **right}


def _reduce_sorted_add(left: Any, right: Any) -> Any:
    """``reducer: sorted_add`` (YamlGraph's): ``add``, then items carrying a ``_map_index``
    are put in that order."""
    out = _reduce_add(left, right)
    if isinstance(out, list) and all(isinstance(i, Mapping) and "_map_index" in i for i in out):
        out = sorted(out, key=lambda i: i["_map_index"])
    return out


def _reduce_last_value(left: Any, right: Any) -> Any:
    """``reducer: last_value``: the last write wins (several writes in one step are fine)."""
    return right


def reduce_loop_counts(left: Any, right: Any) -> dict[str, int]:
    """Sums per-node run counts; ``{"__reset__": 1}`` starts afresh (at each run's start)."""
    right = dict(right or {})
    if right.pop(LOOP_RESET, None):
        return {k: int(v) for k, v in right.items()}
    out = {k: v for k, v in (left or {}).items() if k != LOOP_RESET}
    for k, v in right.items():
        out[k] = int(out.get(k, 0)) + int(v)
    return out


def map_collect(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    """Reducer of a map's ``collect`` field: appends; a reset marker starts it afresh."""
    items = [*(left or []), *(right or [])]
    # LangGraph stores the first write to an empty channel without calling the reducer,
    # so the marker may sit anywhere: keep what follows the last one.
    for i in range(len(items) - 1, -1, -1):
        if isinstance(items[i], str) and items[i] == MAP_RESET:
            return items[i + 1 :]
    return items


REDUCERS: dict[str, Callable[[Any, Any], Any]] = {
    "add": _reduce_add,
    "append": _reduce_add,
    "add_messages": add_messages,
    "messages": add_messages,
    "merge": _reduce_merge,
    MAP_COLLECT: map_collect,
    LAST_VALUE: _reduce_last_value,
    "sorted_add": _reduce_sorted_add,
}
PUBLIC_REDUCERS = ("add", "append", "sorted_add", "merge", "add_messages", "last_value")
