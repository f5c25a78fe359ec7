"""Run streams across replicas on SQLite (several processes on one file are replicas too):
the same two tables as on Postgres (``run_stream_follows``, ``run_stream_chunks``), without
notices: the process executing runs looks for follow requests of its runs every
:data:`POLL_SECONDS` while it executes any, and followers read every :data:`POLL_SECONDS`
(or sooner: a write of this process wakes its own followers at once)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Sequence

from graph_sessions.storage.run_streams import (
    END,
    RETAIN_SECONDS,
    ListeningRelay,
    StreamChunk,
)
from graph_sessions.storage.sqlite.connection import SqliteConnection
from graph_sessions.storage.sqlite.fencing import immediate_tx

log = logging.getLogger("graph_sessions.storage.sqlite")

#: seconds between two looks for follow requests (and two reads of a follower)
POLL_SECONDS = 0.5
SETUP = (
    "CREATE TABLE IF NOT EXISTS run_stream_chunks ("
    " run_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, data TEXT NOT NULL,"
    " event_id TEXT, at REAL NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS run_stream_follows ("
    " run_id TEXT PRIMARY KEY, requested_at REAL NOT NULL) WITHOUT ROWID",
)


class SqliteRunStreams(ListeningRelay):
    """The relay of one SQLite backend (``SqliteBackend.run_stream_relay()``)."""

    def __init__(self, connection: SqliteConnection) -> None:
        super().__init__()
        self.connection = connection
        self._ready = False

    async def _setup(self) -> None:
        if self._ready:
            return

        def create(c: sqlite3.Connection) -> None:
            for statement in SETUP:
                c.execute(statement)

        await self.connection.call(lambda c: immediate_tx(c, create))
        self._ready = True

    async def _listen(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            self._wake_all()
            active = list(self._active())
            if not active or self._on_follow is None:
                continue
            try:
                await self._setup()
                rows = await self._requested(active)
            except Exception as exc:
                log.warning("run streams: looking for follow requests failed (%s)", exc)
                continue
            for (run_id,) in rows:
                self._dispatch(run_id)

    async def _requested(self, run_ids: list[str]) -> list[tuple[str]]:
        """Which of ``run_ids`` a follower asked for."""
        query = (
            "SELECT run_id FROM run_stream_follows WHERE run_id IN "
            f"({','.join('?' * len(run_ids))})"
        )
        rows = await self.connection.call(lambda c: c.execute(query, run_ids).fetchall())
        return [(str(r[0]),) for r in rows]

    async def request_follow(self, run_id: str) -> None:
        await self._setup()
        now = time.time()
        await self.connection.call(
            lambda c: immediate_tx(
                c,
                lambda t: t.execute(
                    "INSERT OR REPLACE INTO run_stream_follows (run_id, requested_at) "
                    "VALUES (?, ?)",
                    (run_id, now),
                ),
            )
        )

    async def read(self, run_id: str, after_seq: int, limit: int = 500) -> list[StreamChunk]:
        await self._setup()
        rows = await self.connection.call(
            lambda c: c.execute(
                "SELECT seq, event, data, event_id FROM run_stream_chunks "
                "WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (run_id, after_seq, limit),
            ).fetchall()
        )
        return [StreamChunk(seq, event, data, event_id) for seq, event, data, event_id in rows]

    async def append(self, run_id: str, first_seq: int, chunks: Sequence[StreamChunk]) -> None:
        if not chunks:
            return
        await self._setup()
        now = time.time()
        rows = [
            (run_id, first_seq + i, c.event, c.data, c.event_id, now) for i, c in enumerate(chunks)
        ]
        await self.connection.call(
            lambda c: immediate_tx(
                c,
                lambda t: t.executemany(
                    "INSERT OR IGNORE INTO run_stream_chunks "
                    "(run_id, seq, event, data, event_id, at) VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                ),
            )
        )
        self._wake(run_id)

    async def purge(self, older_than_seconds: float = RETAIN_SECONDS) -> int:
        await self._setup()
        cutoff = time.time() - older_than_seconds
        day = time.time() - 86400

        def delete(c: sqlite3.Connection) -> int:
            n = c.execute(
                "DELETE FROM run_stream_chunks WHERE run_id IN ("
                " SELECT run_id FROM run_stream_chunks WHERE event = ? AND at < ?) OR at < ?",
                (END, cutoff, day),
            ).rowcount
            c.execute("DELETE FROM run_stream_follows WHERE requested_at < ?", (cutoff,))
            return max(n, 0)

        return await self.connection.call(lambda c: immediate_tx(c, delete))

    async def count(self, run_id: str | None = None) -> int:
        await self._setup()
        if run_id is None:
            row = await self.connection.call(
                lambda c: c.execute("SELECT count(*) FROM run_stream_chunks").fetchone()
            )
        else:
            row = await self.connection.call(
                lambda c: c.execute(
                    "SELECT count(*) FROM run_stream_chunks WHERE run_id = ?", (run_id,)
                ).fetchone()
            )
        return int(row[0]) if row else 0


__all__ = ["POLL_SECONDS", "SqliteRunStreams"]
