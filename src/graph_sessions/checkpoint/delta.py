"""LangGraph ``DeltaChannel`` support for savers other than ours (through their public API)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple


def delta_support(
    saver: BaseCheckpointSaver[Any], thread_id: str, heads: Sequence[str], ns: str = ""
) -> set[str]:
    """The ancestors of checkpoints ``heads`` that their ``DeltaChannel`` values are
    rebuilt from: for each head, the checkpoints its ancestor walk visits (back to the
    nearest stored value of each delta channel it rebuilds). Pruning must keep them (see
    ``StorageEngine._delta_support``, the same walk in SQL for our savers)."""
    tuples: dict[str, CheckpointTuple | None] = {}

    def get(cid: str) -> CheckpointTuple | None:
        if cid not in tuples:
            conf = {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}
            tuples[cid] = saver.get_tuple({"configurable": conf})
        return tuples[cid]

    support: set[str] = set()
    walked: dict[str, set[str]] = {}
    for head in heads:
        tup = get(head)
        if tup is None:
            continue
        counters = (tup.metadata or {}).get("counters_since_delta_snapshot") or {}
        versions, values = tup.checkpoint["channel_versions"], tup.checkpoint["channel_values"]
        need = {ch for ch in counters if ch in versions and ch not in values}
        parent = tup.parent_config
        while need and parent is not None:
            cid = parent["configurable"]["checkpoint_id"]
            if need <= walked.get(cid, set()):
                break
            walked.setdefault(cid, set()).update(need)
            node = get(cid)
            if node is None:
                break
            support.add(cid)
            need = {ch for ch in need if ch not in node.checkpoint["channel_values"]}
            parent = node.parent_config
    return support - set(heads)


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
