"""LangGraph ``DeltaChannel`` support for savers other than ours (through their public API)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

#: what the walk needs of one checkpoint: (parent id, channels with a version, delta channels
#: its metadata counts since their last snapshot), or None when it is gone
Loaded = tuple[str | None, Collection[str], Collection[str]] | None


def walk_delta_support(
    heads: Sequence[str],
    load: Callable[[str], Loaded],
    stores: Callable[[str, str], bool],
) -> set[str]:
    """The ancestors of checkpoints ``heads`` that their ``DeltaChannel`` values are rebuilt
    from: for each head, its parent links up to the nearest ancestor that stores a value
    (``stores(checkpoint_id, channel)``) of each delta channel it rebuilds, exactly as the
    history read walks; every checkpoint visited (heads excluded). Pruning must keep them."""
    support: set[str] = set()
    # channels a walk already carried on past a checkpoint: a later walk reaching it with no
    # other channel to seed can stop there
    walked: dict[str, set[str]] = {}
    for head in heads:
        head_info = load(head)
        if head_info is None:
            continue
        cursor, versions, delta = head_info
        need = {ch for ch in delta if ch in versions and not stores(head, ch)}
        while need and cursor is not None:
            if need <= walked.get(cursor, set()):
                break
            walked.setdefault(cursor, set()).update(need)
            node = load(cursor)
            if node is None:  # a parent already gone: the read stops here as well
                break
            support.add(cursor)
            need = {ch for ch in need if not stores(cursor, ch)}
            cursor = node[0]
    return support - set(heads)


def delta_support(
    saver: BaseCheckpointSaver[Any], thread_id: str, heads: Sequence[str], ns: str = ""
) -> set[str]:
    """:func:`walk_delta_support` through any saver's public ``get_tuple`` (our savers do
    the same walk in SQL: ``StorageEngine._delta_support``)."""
    tuples: dict[str, CheckpointTuple | None] = {}

    def get(cid: str) -> CheckpointTuple | None:
        if cid not in tuples:
            conf = {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}
            tuples[cid] = saver.get_tuple({"configurable": conf})
        return tuples[cid]

    def load(cid: str) -> Loaded:
        tup = get(cid)
        if tup is None:
            return None
        counters = (tup.metadata or {}).get("counters_since_delta_snapshot") or {}
        parent = tup.parent_config
        return (
            parent["configurable"]["checkpoint_id"] if parent is not None else None,
            tup.checkpoint["channel_versions"],
            list(counters),
        )

    def stores(cid: str, ch: str) -> bool:
        tup = get(cid)
        return tup is not None and ch in tup.checkpoint["channel_values"]

    return walk_delta_support(heads, load, stores)
