"""Cancel requests on Postgres: a row per requested run (``cancel_requests``), and a
``NOTIFY`` on :data:`~graph_sessions.storage.postgres.schema.CANCEL_CHANNEL` in the same
transaction, heard by every replica on a connection of its own that ``LISTEN``s."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection

from graph_sessions.storage.codec import dump_time
from graph_sessions.storage.postgres.connection import CONNECT_TIMEOUT, Cursor
from graph_sessions.storage.postgres.schema import CANCEL_CHANNEL

log = logging.getLogger("graph_sessions.storage")


async def request(
    cur: Cursor, session_id: str, run_id: str, action: str, requested_at: datetime
) -> bool:
    """Record the request (inside the caller's transaction) and notify the listeners."""
    await cur.execute(
        "DELETE FROM cancel_requests c WHERE NOT EXISTS (SELECT 1 FROM runs r "
        "WHERE r.run_id = c.run_id AND r.status = 'running')"
    )
    await cur.execute(
        "INSERT INTO cancel_requests (run_id, session_id, action, requested_at) "
        "SELECT run_id, session_id, %s, %s FROM runs "
        "WHERE run_id = %s AND session_id = %s AND status = 'running' "
        "ON CONFLICT (run_id) DO UPDATE SET action = excluded.action, "
        "requested_at = excluded.requested_at",
        (action, dump_time(requested_at), run_id, session_id),
    )
    if cur.rowcount <= 0:
        return False
    await cur.execute("SELECT pg_notify(%s, %s)", (CANCEL_CHANNEL, run_id))
    return True


async def take(cur: Cursor, run_ids: Sequence[str]) -> dict[str, str]:
    """Delete and return the requests of ``run_ids``."""
    if not run_ids:
        return {}
    await cur.execute(
        "DELETE FROM cancel_requests WHERE run_id = ANY(%s) RETURNING run_id, action",
        (list(run_ids),),
    )
    return {str(r[0]): str(r[1]) for r in await cur.fetchall()}


class CancelListener:
    """One ``LISTEN`` connection (opened on first use, outside the pool: it stays idle
    waiting). A broken one is dropped and opened again at the next wait; meanwhile the
    wait is a plain sleep, and the caller's poll still finds every request."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._conn: AsyncConnection[Any] | None = None
        self._retry_at = 0.0

    async def _connection(self) -> AsyncConnection[Any] | None:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at:
            return None
        conn = None
        try:
            conn = await AsyncConnection.connect(
                self.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT
            )
            await conn.execute(f"LISTEN {CANCEL_CHANNEL}")
        except BaseException as exc:
            if conn is not None:  # connected but could not listen: do not leak it
                with contextlib.suppress(Exception):
                    await conn.close()
            if not isinstance(exc, psycopg.Error):
                raise
            log.warning("cannot listen for cancel requests (polling instead): %s", exc)
            self._retry_at = loop.time() + 5.0
            return None
        self._conn = conn
        return conn

    async def wait(self, timeout: float) -> None:
        """Return at the next notification, or after ``timeout`` seconds."""
        conn = await self._connection()
        if conn is None:
            await asyncio.sleep(timeout)
            return
        try:
            async for _ in conn.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error as exc:
            log.warning("the cancel listener's connection broke: %s", exc)
            await self.close()
            await asyncio.sleep(min(timeout, 0.25))

    async def close(self) -> None:
        """Close the connection (if open)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
