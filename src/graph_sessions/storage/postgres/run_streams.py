"""Run streams across replicas on Postgres (:class:`~graph_sessions.storage.run_streams.RunStreamRelay`):
two tables, ``run_stream_follows`` and ``run_stream_chunks``, and two ``NOTIFY`` channels.
A notice carries only a run id (payloads are capped at 8 kB; the events are read from the
table): ``gs_run_follow`` tells the executing replica a follower wants the run,
``gs_run_chunks`` tells followers the run's rows grew. One connection per process listens
(outside the pool); it reconnects after a database restart, then polls what it may have
missed. Followers also read every :data:`POLL_SECONDS` without a notice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from psycopg import AsyncConnection

from graph_sessions.storage.postgres.connection import CONNECT_TIMEOUT, PostgresPool
from graph_sessions.storage.run_streams import (
    END,
    POLL_SECONDS,
    RETAIN_SECONDS,
    ListeningRelay,
    StreamChunk,
)

log = logging.getLogger("graph_sessions.storage.postgres")

FOLLOW_CHANNEL = "gs_run_follow"
CHUNKS_CHANNEL = "gs_run_chunks"
#: the advisory lock key under which replicas create the tables (one at a time)
SETUP_LOCK = 0x6773_7275_6E73  # "gsruns"
SETUP = (
    "CREATE TABLE IF NOT EXISTS run_stream_chunks ("
    " run_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, data TEXT NOT NULL,"
    " event_id TEXT, at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (run_id, seq))",
    "CREATE TABLE IF NOT EXISTS run_stream_follows ("
    " run_id TEXT PRIMARY KEY, requested_at TIMESTAMPTZ NOT NULL DEFAULT now())",
)
#: seconds between two attempts to listen again after the connection broke
RECONNECT_SECONDS = 1.0


class PostgresRunStreams(ListeningRelay):
    """The relay of one Postgres backend (``PostgresBackend.run_stream_relay()``)."""

    def __init__(self, pool: PostgresPool) -> None:
        super().__init__()
        self.pool = pool
        self._ready = False

    async def _setup(self) -> None:
        if self._ready:
            return
        async with self.pool.transaction() as cur:
            await cur.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
            for statement in SETUP:
                await cur.execute(statement.encode())
        self._ready = True

    # listening -----------------------------------------------------------------------
    async def _poll_follows(self) -> None:
        active = list(self._active())
        if not active:
            return
        async with self.pool.cursor() as cur:
            await cur.execute(
                "SELECT run_id FROM run_stream_follows WHERE run_id = ANY(%s)", (active,)
            )
            rows = await cur.fetchall()
        for (run_id,) in rows:
            self._dispatch(run_id)

    async def _listen(self) -> None:
        while True:
            try:
                await self._setup()
                async with await AsyncConnection.connect(
                    self.pool.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT
                ) as conn:
                    await conn.execute(f"LISTEN {FOLLOW_CHANNEL}")
                    await conn.execute(f"LISTEN {CHUNKS_CHANNEL}")
                    # notices sent while we were not listening are lost: look now
                    self._wake_all()
                    await self._poll_follows()
                    while True:
                        async for notice in conn.notifies(timeout=POLL_SECONDS):
                            if notice.channel == FOLLOW_CHANNEL:
                                self._dispatch(notice.payload)
                            else:
                                self._wake(notice.payload)
                        self._wake_all()  # the poll fallback of followers
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarts or is gone: listen again
                log.warning("run streams: listening failed (%s); again in 1 s", exc)
                self._wake_all()
                await asyncio.sleep(RECONNECT_SECONDS)

    # follower side -------------------------------------------------------------------
    async def request_follow(self, run_id: str) -> None:
        await self._setup()
        async with self.pool.transaction() as cur:
            await cur.execute(
                "INSERT INTO run_stream_follows (run_id) VALUES (%s) "
                "ON CONFLICT (run_id) DO UPDATE SET requested_at = now()",
                (run_id,),
            )
            await cur.execute("SELECT pg_notify(%s, %s)", (FOLLOW_CHANNEL, run_id))

    async def read(self, run_id: str, after_seq: int, limit: int = 500) -> list[StreamChunk]:
        await self._setup()
        async with self.pool.cursor() as cur:
            await cur.execute(
                "SELECT seq, event, data, event_id FROM run_stream_chunks "
                "WHERE run_id = %s AND seq > %s ORDER BY seq LIMIT %s",
                (run_id, after_seq, limit),
            )
            rows = await cur.fetchall()
        return [StreamChunk(seq, event, data, event_id) for seq, event, data, event_id in rows]

    # executing side ------------------------------------------------------------------
    async def append(self, run_id: str, first_seq: int, chunks: Sequence[StreamChunk]) -> None:
        if not chunks:
            return
        await self._setup()
        async with self.pool.transaction() as cur:
            await cur.executemany(
                "INSERT INTO run_stream_chunks (run_id, seq, event, data, event_id) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (run_id, seq) DO NOTHING",
                [
                    (run_id, first_seq + i, c.event, c.data, c.event_id)
                    for i, c in enumerate(chunks)
                ],
            )
            await cur.execute("SELECT pg_notify(%s, %s)", (CHUNKS_CHANNEL, run_id))

    async def purge(self, older_than_seconds: float = RETAIN_SECONDS) -> int:
        await self._setup()
        async with self.pool.transaction() as cur:
            await cur.execute(
                "DELETE FROM run_stream_chunks WHERE run_id IN ("
                " SELECT run_id FROM run_stream_chunks WHERE event = %s"
                " AND at < now() - make_interval(secs => %s))"
                " OR at < now() - interval '1 day'",
                (END, older_than_seconds),
            )
            deleted = cur.rowcount
            await cur.execute(
                "DELETE FROM run_stream_follows "
                "WHERE requested_at < now() - make_interval(secs => %s)",
                (older_than_seconds,),
            )
        return max(deleted, 0)

    async def count(self, run_id: str | None = None) -> int:
        await self._setup()
        async with self.pool.cursor() as cur:
            if run_id is None:
                await cur.execute("SELECT count(*) FROM run_stream_chunks")
            else:
                await cur.execute(
                    "SELECT count(*) FROM run_stream_chunks WHERE run_id = %s", (run_id,)
                )
            row = await cur.fetchone()
        return int(row[0]) if row else 0


__all__ = ["CHUNKS_CHANNEL", "FOLLOW_CHANNEL", "PostgresRunStreams"]
