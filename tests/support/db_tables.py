"""Which tables hold a session's rows in a SQLite file, whichever checkpoint saver wrote it."""

from __future__ import annotations

import sqlite3

# Logical name -> (our saver's table, LangGraph's saver's table).
CHECKPOINT_TABLES = {
    "checkpoints": ("gs_checkpoints", "checkpoints"),
    "writes": ("gs_checkpoint_writes", "writes"),
    "blobs": ("gs_checkpoint_blobs", None),
}
REGISTRY_TABLES = ("sessions", "runs", "session_events", "messages")


def checkpoint_table(conn: sqlite3.Connection, logical: str) -> str | None:
    """The real table behind ``logical`` (checkpoints, writes, blobs) in this file."""
    ours, theirs = CHECKPOINT_TABLES[logical]
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if ours in names:
        return ours
    return theirs if theirs in names else None


def session_rows(conn: sqlite3.Connection, session_id: str) -> dict[str, int]:
    """Rows of one session in every table that holds session data."""
    out = {
        table: conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE session_id = ?", (session_id,)
        ).fetchone()[0]
        for table in REGISTRY_TABLES
    }
    for logical in CHECKPOINT_TABLES:
        table = checkpoint_table(conn, logical)
        if table is not None:
            out[logical] = conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE thread_id = ?", (session_id,)
            ).fetchone()[0]
    return out
