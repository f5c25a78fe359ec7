"""The SQLite backend's pending runs: table ``pending_runs`` (``schema.py``, migration 5).
Each function runs inside the transaction (or on the connection) the backend gives it."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from graph_sessions.storage.codec import dump_json, dump_time
from graph_sessions.storage.record_rows import pending_from_row
from graph_sessions.storage.records import PendingRun

_COLUMNS = "run_id, session_id, owner, created_at, not_before, payload, claimed_by, claimed_until"


def add(c: sqlite3.Connection, pending: PendingRun) -> bool:
    """Insert ``pending`` while its session exists and its id is free."""
    cur = c.execute(
        f"INSERT OR IGNORE INTO pending_runs ({_COLUMNS}) "
        "SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS "
        "(SELECT 1 FROM sessions WHERE session_id = ?)",
        (
            pending.run_id,
            pending.session_id,
            pending.owner,
            dump_time(pending.created_at),
            dump_time(pending.not_before),
            dump_json(pending.payload),
            pending.claimed_by,
            dump_time(pending.claimed_until),
            pending.session_id,
        ),
    )
    return cur.rowcount > 0


def listing(c: sqlite3.Connection, session_id: str | None) -> list[PendingRun]:
    """The pending runs (of one session), oldest first."""
    where, params = ("WHERE session_id = ? ", (session_id,)) if session_id is not None else ("", ())
    rows = c.execute(
        f"SELECT {_COLUMNS} FROM pending_runs {where}ORDER BY created_at, run_id", params
    ).fetchall()
    return [pending_from_row(r) for r in rows]


def claim(
    c: sqlite3.Connection,
    run_id: str,
    claimed_by: str,
    claimed_until: datetime,
    expect_by: str | None,
    expect_until: datetime | None,
) -> bool:
    """Compare-and-set the claim of one pending run."""
    cur = c.execute(
        "UPDATE pending_runs SET claimed_by = ?, claimed_until = ? "
        "WHERE run_id = ? AND claimed_by IS ? AND claimed_until IS ?",
        (claimed_by, dump_time(claimed_until), run_id, expect_by, dump_time(expect_until)),
    )
    return cur.rowcount > 0


def renew(c: sqlite3.Connection, claimed_by: str, claimed_until: datetime) -> list[str]:
    """Push the expiry of ``claimed_by``'s claims; the ids it holds."""
    rows = c.execute(
        "UPDATE pending_runs SET claimed_until = ? WHERE claimed_by = ? RETURNING run_id",
        (dump_time(claimed_until), claimed_by),
    ).fetchall()
    return sorted(r[0] for r in rows)


def delete(c: sqlite3.Connection, run_id: str) -> bool:
    """Forget one pending run."""
    return c.execute("DELETE FROM pending_runs WHERE run_id = ?", (run_id,)).rowcount > 0


__all__ = ["add", "claim", "delete", "listing", "renew"]
