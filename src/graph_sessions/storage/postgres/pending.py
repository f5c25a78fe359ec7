"""The Postgres backend's pending runs: table ``pending_runs`` (``schema.py``, migration 3),
as on SQLite. Each function runs on the cursor the backend gives it (a pipelined
transaction for the writing ones: answers come from ``RETURNING``)."""

from __future__ import annotations

from datetime import datetime

from graph_sessions.storage.codec import dump_json, dump_time
from graph_sessions.storage.postgres.connection import Cursor
from graph_sessions.storage.record_rows import pending_from_row
from graph_sessions.storage.records import PendingRun

_COLUMNS = "run_id, session_id, owner, created_at, not_before, payload, claimed_by, claimed_until"
_SELECT = _COLUMNS.replace("payload,", "payload::text,")


async def add(cur: Cursor, pending: PendingRun) -> bool:
    """Insert ``pending`` while its session exists (its row key-share-locked, so a
    ``delete_session`` in flight cannot leave the pending run behind) and its id is free."""
    await cur.execute(
        "SELECT 1 FROM sessions WHERE session_id = %s FOR KEY SHARE", (pending.session_id,)
    )
    if await cur.fetchone() is None:
        return False
    await cur.execute(
        f"INSERT INTO pending_runs ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (run_id) DO NOTHING RETURNING 1",
        (
            pending.run_id,
            pending.session_id,
            pending.owner,
            dump_time(pending.created_at),
            dump_time(pending.not_before),
            dump_json(pending.payload),
            pending.claimed_by,
            dump_time(pending.claimed_until),
        ),
    )
    return await cur.fetchone() is not None


async def listing(cur: Cursor, session_id: str | None) -> list[PendingRun]:
    """The pending runs (of one session), oldest first."""
    if session_id is not None:
        await cur.execute(
            f"SELECT {_SELECT} FROM pending_runs WHERE session_id = %s ORDER BY created_at, run_id",
            (session_id,),
        )
    else:
        await cur.execute(f"SELECT {_SELECT} FROM pending_runs ORDER BY created_at, run_id")
    return [pending_from_row(r) for r in await cur.fetchall()]


async def claim(
    cur: Cursor,
    run_id: str,
    claimed_by: str,
    claimed_until: datetime,
    expect_by: str | None,
    expect_until: datetime | None,
) -> bool:
    """Compare-and-set the claim of one pending run."""
    await cur.execute(
        "UPDATE pending_runs SET claimed_by = %s, claimed_until = %s WHERE run_id = %s "
        "AND claimed_by IS NOT DISTINCT FROM %s AND claimed_until IS NOT DISTINCT FROM %s "
        "RETURNING 1",
        (claimed_by, dump_time(claimed_until), run_id, expect_by, dump_time(expect_until)),
    )
    return await cur.fetchone() is not None


async def renew(cur: Cursor, claimed_by: str, claimed_until: datetime) -> list[str]:
    """Push the expiry of ``claimed_by``'s claims; the ids it holds."""
    await cur.execute(
        "UPDATE pending_runs SET claimed_until = %s WHERE claimed_by = %s RETURNING run_id",
        (dump_time(claimed_until), claimed_by),
    )
    return sorted(str(r[0]) for r in await cur.fetchall())


async def delete(cur: Cursor, run_id: str) -> bool:
    """Forget one pending run."""
    await cur.execute("DELETE FROM pending_runs WHERE run_id = %s RETURNING 1", (run_id,))
    return await cur.fetchone() is not None


__all__ = ["add", "claim", "delete", "listing", "renew"]
