"""Adapter for LangGraph's own SQLite savers (``SqliteSaver``/``AsyncSqliteSaver``), whose
tables are ``checkpoints`` and ``writes``.

This module is the one place in graph-sessions that knows those tables: the backend's
administration of them, the fenced writes into them, and telling whether a file holds them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    Checkpoint,
    CheckpointMetadata,
    SerializerProtocol,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.sqlite import SqliteSaver

from graph_sessions.checkpoint.delta import delta_support


def holds_checkpoints(conn: sqlite3.Connection) -> bool:
    """True when the file has LangGraph's checkpoint table with at least one row."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoints'"
    ).fetchone()
    return exists is not None and (
        conn.execute("SELECT 1 FROM checkpoints LIMIT 1").fetchone() is not None
    )


def checkpoint_row(
    serde: SerializerProtocol,
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
) -> tuple[tuple[Any, ...], RunnableConfig]:
    """The ``checkpoints`` row LangGraph's ``aput`` writes, and the config it returns."""
    thread_id = str(config["configurable"]["thread_id"])
    checkpoint_ns = config["configurable"]["checkpoint_ns"]
    type_, blob = serde.dumps_typed(checkpoint)
    meta = json.dumps(get_checkpoint_metadata(config, metadata), ensure_ascii=False).encode(
        "utf-8", "ignore"
    )
    row = (
        thread_id,
        checkpoint_ns,
        checkpoint["id"],
        config["configurable"].get("checkpoint_id"),
        type_,
        blob,
        meta,
    )
    saved: RunnableConfig = {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint["id"],
        }
    }
    return row, saved


def insert_checkpoint(conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
    """Store a row from :func:`checkpoint_row` (in the caller's transaction)."""
    conn.execute(
        "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
        "parent_checkpoint_id, type, checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
        row,
    )


def writes_rows(
    serde: SerializerProtocol,
    config: RunnableConfig,
    writes: Sequence[tuple[str, Any]],
    task_id: str,
    task_path: str,
) -> tuple[str, list[tuple[Any, ...]]]:
    """The ``writes`` rows LangGraph's ``aput_writes`` stores, and its conflict verb."""
    verb = "REPLACE" if all(w[0] in WRITES_IDX_MAP for w in writes) else "IGNORE"
    rows = [
        (
            str(config["configurable"]["thread_id"]),
            str(config["configurable"]["checkpoint_ns"]),
            str(config["configurable"]["checkpoint_id"]),
            task_id,
            task_path,
            WRITES_IDX_MAP.get(channel, idx),
            channel,
            *serde.dumps_typed(value),
        )
        for idx, (channel, value) in enumerate(writes)
    ]
    return verb, rows


def insert_writes(conn: sqlite3.Connection, verb: str, rows: list[tuple[Any, ...]]) -> None:
    """Store rows from :func:`writes_rows` (in the caller's transaction)."""
    conn.executemany(
        f"INSERT OR {verb} INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, "
        "task_path, idx, channel, type, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


class LangGraphSqliteAdmin:
    """:class:`~graph_sessions.storage.checkpoints.base.CheckpointAdmin` of LangGraph's
    SQLite savers: SQL on their tables, in the caller's transaction."""

    def __init__(self, saver: Any) -> None:
        self.serde: SerializerProtocol = saver.serde

    def latest_id(self, tx: sqlite3.Connection, thread_id: str) -> str | None:
        """See ``CheckpointAdmin.latest_id``."""
        row = tx.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
            "ORDER BY checkpoint_id DESC LIMIT 1",
            (thread_id,),
        ).fetchone()
        return row[0] if row else None

    def writes_mark(self, tx: sqlite3.Connection, thread_id: str, checkpoint_id: str | None) -> int:
        """See ``CheckpointAdmin.writes_mark``: the table's highest rowid."""
        return int(tx.execute("SELECT COALESCE(MAX(rowid), 0) FROM writes").fetchone()[0])

    def delete_thread(self, tx: sqlite3.Connection, thread_id: str) -> int:
        """See ``CheckpointAdmin.delete_thread``."""
        n = tx.execute("DELETE FROM checkpoints WHERE thread_id = ?", (thread_id,)).rowcount
        return n + tx.execute("DELETE FROM writes WHERE thread_id = ?", (thread_id,)).rowcount

    def delete_after(
        self,
        tx: sqlite3.Connection,
        thread_id: str,
        checkpoint_id: str | None,
        *,
        writes_mark: int | None,
    ) -> None:
        """See ``CheckpointAdmin.delete_after``."""
        for table in ("checkpoints", "writes"):
            if checkpoint_id is None:
                tx.execute(f"DELETE FROM {table} WHERE thread_id = ?", (thread_id,))
            else:
                tx.execute(
                    f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id > ?",
                    (thread_id, checkpoint_id),
                )
        if writes_mark is not None:
            tx.execute(
                "DELETE FROM writes WHERE thread_id = ? AND rowid > ?", (thread_id, writes_mark)
            )

    def keep_newest(self, tx: sqlite3.Connection, thread_id: str, keep: int) -> int:
        """See ``CheckpointAdmin.keep_newest``."""
        row = tx.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
            "ORDER BY checkpoint_id DESC LIMIT 1 OFFSET ?",
            (thread_id, max(keep, 1) - 1),
        ).fetchone()
        if row is None:
            return 0
        oldest_kept = min([row[0], *self._delta_support(tx, thread_id, row[0])])
        removed = tx.execute(
            "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id < ?",
            (thread_id, oldest_kept),
        ).rowcount
        tx.execute(
            "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns != '' AND checkpoint_id < ?",
            (thread_id, oldest_kept),
        )
        tx.execute(
            "DELETE FROM writes WHERE thread_id = ? AND checkpoint_id < ?",
            (thread_id, oldest_kept),
        )
        # The oldest kept checkpoint must not point at a parent that no longer exists.
        tx.execute(
            "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = ? AND checkpoint_id = ?",
            (thread_id, oldest_kept),
        )
        return removed

    def _delta_support(self, tx: sqlite3.Connection, thread_id: str, oldest_kept: str) -> set[str]:
        """The older root checkpoints that the ``DeltaChannel`` values of those from
        ``oldest_kept`` on are rebuilt from, read through LangGraph's own ``SqliteSaver``
        on ``tx`` (it reads without committing the caller's transaction)."""
        saver = SqliteSaver(tx, serde=self.serde)
        saver.is_setup = True  # the tables exist; setup() would commit
        heads = [
            r[0]
            for r in tx.execute(
                "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
                "AND checkpoint_id >= ? ORDER BY checkpoint_id DESC",
                (thread_id, oldest_kept),
            )
        ]
        return delta_support(saver, thread_id, heads)

    def copy_thread(self, tx: sqlite3.Connection, source: str, target: str) -> None:
        """See ``CheckpointAdmin.copy_thread``."""
        tx.execute(
            "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
            "parent_checkpoint_id, type, checkpoint, metadata) SELECT ?, checkpoint_ns, "
            "checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints "
            "WHERE thread_id = ?",
            (target, source),
        )
        tx.execute(
            "INSERT OR REPLACE INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, "
            "task_path, idx, channel, type, value) SELECT ?, checkpoint_ns, checkpoint_id, "
            "task_id, task_path, idx, channel, type, value FROM writes WHERE thread_id = ? "
            "ORDER BY rowid",
            (target, source),
        )
