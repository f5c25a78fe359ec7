"""The SQLite backend's crons: one row each in ``crons`` (see ``schema.py``, migration 4).
Each function runs on the backend's connection, inside the transaction it gives the
writing ones. Times are ``codec.dump_time`` text, so text order is time order and the
claim's compare-and-set compares exact values."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from graph_sessions.models import CronInfo
from graph_sessions.storage.codec import dump_time
from graph_sessions.storage.record_rows import cron_from_row, cron_values

_COLUMNS = (
    "cron_id, assistant_id, thread_id, owner, schedule, timezone, end_time, payload, "
    "metadata, on_run_completed, enabled, next_run_date, created_at, updated_at"
)


def create(c: sqlite3.Connection, info: CronInfo) -> bool:
    """Insert the cron; False if the id is taken."""
    cur = c.execute(
        f"INSERT OR IGNORE INTO crons ({_COLUMNS}) VALUES ({', '.join('?' * 14)})",
        cron_values(info),
    )
    return cur.rowcount > 0


def get(c: sqlite3.Connection, cron_id: str) -> CronInfo | None:
    """The cron, or ``None``."""
    row = c.execute(f"SELECT {_COLUMNS} FROM crons WHERE cron_id = ?", (cron_id,)).fetchone()
    return cron_from_row(row) if row is not None else None


def list_some(c: sqlite3.Connection, owner: str | None, thread_id: str | None) -> list[CronInfo]:
    """The crons of ``owner`` (any when ``None``) and of ``thread_id`` (any when ``None``)."""
    where, args = [], []
    if owner is not None:
        where.append("owner = ?")
        args.append(owner)
    if thread_id is not None:
        where.append("thread_id = ?")
        args.append(thread_id)
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    rows = c.execute(
        f"SELECT {_COLUMNS} FROM crons {clause}ORDER BY created_at, cron_id", args
    ).fetchall()
    return [cron_from_row(r) for r in rows]


def update(c: sqlite3.Connection, info: CronInfo) -> bool:
    """Replace every column of the stored cron; False if absent."""
    values = cron_values(info)
    cur = c.execute(
        "UPDATE crons SET assistant_id = ?, thread_id = ?, owner = ?, schedule = ?, "
        "timezone = ?, end_time = ?, payload = ?, metadata = ?, on_run_completed = ?, "
        "enabled = ?, next_run_date = ?, created_at = ?, updated_at = ? WHERE cron_id = ?",
        (*values[1:], info.cron_id),
    )
    return cur.rowcount > 0


def delete(c: sqlite3.Connection, cron_id: str) -> bool:
    """Delete the cron; False if absent."""
    return c.execute("DELETE FROM crons WHERE cron_id = ?", (cron_id,)).rowcount > 0


def due(c: sqlite3.Connection, now: datetime, limit: int) -> list[CronInfo]:
    """Enabled crons due at ``now`` and not past their end, soonest first."""
    at = dump_time(now)
    rows = c.execute(
        f"SELECT {_COLUMNS} FROM crons WHERE enabled = 1 AND next_run_date <= ? "
        "AND (end_time IS NULL OR end_time >= ?) ORDER BY next_run_date, cron_id LIMIT ?",
        (at, at, limit),
    ).fetchall()
    return [cron_from_row(r) for r in rows]


def claim(c: sqlite3.Connection, cron_id: str, seen: datetime, next_run_date: datetime) -> bool:
    """Compare-and-set the cron's next fire time from ``seen`` to ``next_run_date``."""
    cur = c.execute(
        "UPDATE crons SET next_run_date = ? WHERE cron_id = ? AND next_run_date = ?",
        (dump_time(next_run_date), cron_id, dump_time(seen)),
    )
    return cur.rowcount > 0
