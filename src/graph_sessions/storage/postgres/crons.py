"""The Postgres backend's crons: one row each in ``crons`` (``schema.py``, migration 3), as on
SQLite. Each function runs on the cursor the backend gives it (a pipelined transaction for
the writing ones: answers come from ``RETURNING``). Times are ``codec.dump_time`` text, so
text order is time order and the claim's compare-and-set compares exact values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graph_sessions.models import CronInfo
from graph_sessions.storage.codec import dump_time
from graph_sessions.storage.postgres.connection import Cursor
from graph_sessions.storage.record_rows import cron_from_row, cron_values

_COLUMNS = (
    "cron_id, assistant_id, thread_id, owner, schedule, timezone, end_time, payload, "
    "metadata, on_run_completed, enabled, next_run_date, created_at, updated_at"
)
_SELECT = _COLUMNS.replace("payload,", "payload::text,").replace("metadata,", "metadata::text,")


async def create(cur: Cursor, info: CronInfo) -> bool:
    """Insert the cron; False if the id is taken."""
    await cur.execute(
        f"INSERT INTO crons ({_COLUMNS}) VALUES ({', '.join(['%s'] * 14)}) "
        "ON CONFLICT (cron_id) DO NOTHING RETURNING 1",
        cron_values(info),
    )
    return await cur.fetchone() is not None


async def get(cur: Cursor, cron_id: str) -> CronInfo | None:
    """The cron, or ``None``."""
    await cur.execute(f"SELECT {_SELECT} FROM crons WHERE cron_id = %s", (cron_id,))
    row = await cur.fetchone()
    return cron_from_row(row) if row is not None else None


async def list_some(cur: Cursor, owner: str | None, thread_id: str | None) -> list[CronInfo]:
    """The crons of ``owner`` (any when ``None``) and of ``thread_id`` (any when ``None``)."""
    where: list[str] = []
    args: list[Any] = []
    if owner is not None:
        where.append("owner = %s")
        args.append(owner)
    if thread_id is not None:
        where.append("thread_id = %s")
        args.append(thread_id)
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    await cur.execute(
        f"SELECT {_SELECT} FROM crons {clause}ORDER BY created_at, cron_id".encode(), args
    )
    return [cron_from_row(r) for r in await cur.fetchall()]


async def update(cur: Cursor, info: CronInfo) -> bool:
    """Replace every column of the stored cron; False if absent."""
    values = cron_values(info)
    await cur.execute(
        "UPDATE crons SET assistant_id = %s, thread_id = %s, owner = %s, schedule = %s, "
        "timezone = %s, end_time = %s, payload = %s, metadata = %s, on_run_completed = %s, "
        "enabled = %s, next_run_date = %s, created_at = %s, updated_at = %s "
        "WHERE cron_id = %s RETURNING 1",
        (*values[1:], info.cron_id),
    )
    return await cur.fetchone() is not None


async def delete(cur: Cursor, cron_id: str) -> bool:
    """Delete the cron; False if absent."""
    await cur.execute("DELETE FROM crons WHERE cron_id = %s RETURNING 1", (cron_id,))
    return await cur.fetchone() is not None


async def due(cur: Cursor, now: datetime, limit: int) -> list[CronInfo]:
    """Enabled crons due at ``now`` and not past their end, soonest first."""
    at = dump_time(now)
    await cur.execute(
        f"SELECT {_SELECT} FROM crons WHERE enabled AND next_run_date <= %s "
        "AND (end_time IS NULL OR end_time >= %s) ORDER BY next_run_date, cron_id LIMIT %s",
        (at, at, limit),
    )
    return [cron_from_row(r) for r in await cur.fetchall()]


async def claim(cur: Cursor, cron_id: str, seen: datetime, next_run_date: datetime) -> bool:
    """Compare-and-set the cron's next fire time from ``seen`` to ``next_run_date`` (racing
    claimers: the row lock makes the second re-check its ``WHERE`` and find it moved)."""
    await cur.execute(
        "UPDATE crons SET next_run_date = %s WHERE cron_id = %s AND next_run_date = %s RETURNING 1",
        (dump_time(next_run_date), cron_id, dump_time(seen)),
    )
    return await cur.fetchone() is not None


__all__ = ["claim", "create", "delete", "due", "get", "list_some", "update"]
