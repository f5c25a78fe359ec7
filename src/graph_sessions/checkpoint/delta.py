"""LangGraph ``DeltaChannel`` support for savers other than ours (through their public API)."""

from __future__ import annotations

import sqlite3
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


def langgraph_tables_delta_support(
    conn: sqlite3.Connection, serde: Any, thread_id: str, oldest_kept: str
) -> set[str]:
    """``delta_support`` of the root checkpoints from ``oldest_kept`` on, for a file whose
    checkpoints are in LangGraph's own tables, read on ``conn`` inside the caller's
    transaction (LangGraph's ``SqliteSaver`` reads without committing)."""
    from langgraph.checkpoint.sqlite import SqliteSaver as LangGraphSqliteSaver

    saver = LangGraphSqliteSaver(conn, serde=serde)
    saver.is_setup = True  # the tables exist; setup() would commit
    heads = [
        r[0]
        for r in conn.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
            "AND checkpoint_id >= ? ORDER BY checkpoint_id DESC",
            (thread_id, oldest_kept),
        )
    ]
    return delta_support(saver, thread_id, heads)
