"""Tables and indexes of the checkpoint saver, and the connection settings it wants.

Three tables, all keyed by thread first so that every per-thread query is an index range:

* ``gs_checkpoints``: one row per checkpoint; the checkpoint itself without its channel
  values and without its id (which is a column), zlib-compressed with a preset
  dictionary when that helps (``type`` then starts with ``zd1:``),
  its metadata as JSON (filterable like LangGraph's) and its run id (indexed, for
  ``delete_for_runs``).
* ``gs_checkpoint_blobs``: one row per (thread, namespace, channel, version): a channel's
  value stored once per version, either whole (``kind`` 0), or as
  a delta (``kind`` 1): the msgpack bytes of the elements appended to ``base_version``;
  ``depth`` is the value's position since its last whole snapshot. A channel version
  without a row is empty (``kind`` 2 is only read, for databases that stored markers).
* ``gs_checkpoint_writes``: pending writes, the same columns as LangGraph's ``writes``,
  plus ``seq`` (when the write was stored, see ``StorageEngine.writes_mark``).

Every table is ``WITHOUT ROWID``: its primary key is the table, so no second copy of the
key lives in a separate index (a third of the file for rows this small).
"""

from __future__ import annotations

import sqlite3

KIND_FULL = 0
KIND_DELTA = 1
KIND_EMPTY = 2

CHECKPOINTS = "gs_checkpoints"
BLOBS = "gs_checkpoint_blobs"
WRITES = "gs_checkpoint_writes"

DDL = f"""
CREATE TABLE IF NOT EXISTS {CHECKPOINTS} (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    parent_checkpoint_id TEXT,
    run_id TEXT,
    type TEXT,
    checkpoint BLOB,
    metadata BLOB,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_{CHECKPOINTS}_run ON {CHECKPOINTS} (run_id) WHERE run_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS {BLOBS} (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL,
    version TEXT NOT NULL,
    kind INTEGER NOT NULL,
    type TEXT,
    base_version TEXT,
    depth INTEGER NOT NULL DEFAULT 0,
    count INTEGER NOT NULL DEFAULT 0,
    data BLOB,
    PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {WRITES} (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    task_path TEXT NOT NULL DEFAULT '',
    idx INTEGER NOT NULL,
    channel TEXT NOT NULL,
    type TEXT,
    value BLOB,
    seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
) WITHOUT ROWID;
"""

SYNCHRONOUS_LEVELS = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})


def check_synchronous(synchronous: str | None) -> str | None:
    """Validate a ``PRAGMA synchronous`` level (``None``: leave the connection's own)."""
    if synchronous is None:
        return None
    level = synchronous.upper()
    if level not in SYNCHRONOUS_LEVELS:
        raise ValueError(
            f"synchronous must be one of {sorted(SYNCHRONOUS_LEVELS)}, not {synchronous!r}"
        )
    return level


def setup_schema(conn: sqlite3.Connection, *, synchronous: str | None, wal: bool = True) -> None:
    """Create the tables (idempotent) and apply the connection settings.

    A brand-new database file is switched to ``auto_vacuum=INCREMENTAL`` first, so that
    deleting threads can give pages back with ``PRAGMA incremental_vacuum``.
    """
    fresh = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
    if fresh and not conn.in_transaction:
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    if wal and not conn.in_transaction:
        conn.execute("PRAGMA journal_mode=WAL")
    if synchronous is not None and not conn.in_transaction:
        conn.execute(f"PRAGMA synchronous={synchronous}")
    own_tx = not conn.in_transaction
    if own_tx:
        conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in DDL.split(";"):
            if statement.strip():
                conn.execute(statement)
    except BaseException:
        if own_tx:
            conn.execute("ROLLBACK")
        raise
    if own_tx:
        conn.execute("COMMIT")
