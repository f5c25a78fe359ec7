"""Adapter for ``graph_sessions.checkpoint``'s Postgres savers: their storage engine does
the work (the same engine as on SQLite), its statements joining the backend's transaction.

The async methods (what ``PostgresBackend`` uses) run the engine in a greenlet on the
backend's async connection (``checkpoint/pg_greenlet.py``); the synchronous
:class:`~graph_sessions.storage.checkpoints.base.CheckpointAdmin` protocol runs it on a
``psycopg.Connection`` given as ``tx``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncCursor

from graph_sessions.checkpoint.dbapi import Connection
from graph_sessions.checkpoint.pg_conn import BridgedConnection, PgConnection, flushed
from graph_sessions.checkpoint.pg_greenlet import run_in_greenlet
from graph_sessions.storage.checkpoints.langgraph_postgres import saver_conninfo

T = TypeVar("T")


class SessionsPostgresAdmin:
    """Checkpoint administration of ``graph_sessions.checkpoint.AsyncPostgresSaver`` /
    ``PostgresSaver``: the public methods of their ``StorageEngine``, joined to the
    caller's transaction."""

    def __init__(self, saver: Any) -> None:
        self.engine = saver.engine
        self.conninfo = saver_conninfo(saver)

    async def _arun(self, cur: AsyncCursor[Any], fn: Callable[[Connection], T]) -> T:
        return await run_in_greenlet(flushed(fn), BridgedConnection(cur.connection))

    def _sync(self, tx: psycopg.Connection[Any] | None, fn: Callable[[Connection], T]) -> T:
        if tx is not None:
            return flushed(fn)(PgConnection(tx))
        if self.conninfo is None:
            raise RuntimeError("this saver's connection string is unknown: pass a connection")
        with psycopg.connect(self.conninfo) as conn, conn.transaction():
            return flushed(fn)(PgConnection(conn))

    # the backend's async operations --------------------------------------------------
    async def alatest_id(self, cur: AsyncCursor[Any], thread_id: str) -> str | None:
        """See ``CheckpointAdmin.latest_id``."""
        return await self._arun(cur, lambda c: self.engine.latest_checkpoint_id(c, thread_id))

    async def awrites_mark(
        self, cur: AsyncCursor[Any], thread_id: str, checkpoint_id: str | None
    ) -> int:
        """See ``CheckpointAdmin.writes_mark`` (a sequence number, any thread)."""
        return int(self.engine.writes_mark())

    async def arun_start(self, cur: AsyncCursor[Any], thread_id: str) -> tuple[str | None, int]:
        """:meth:`alatest_id` and :meth:`awrites_mark`."""
        latest = await self.alatest_id(cur, thread_id)
        return latest, int(self.engine.writes_mark())

    async def adelete_thread(self, cur: AsyncCursor[Any], thread_id: str) -> int:
        """See ``CheckpointAdmin.delete_thread``."""
        return await self._arun(cur, lambda c: self.engine.delete_thread(c, thread_id, join=True))

    async def adelete_after(
        self,
        cur: AsyncCursor[Any],
        thread_id: str,
        checkpoint_id: str | None,
        *,
        writes_mark: int | None,
    ) -> None:
        """See ``CheckpointAdmin.delete_after``."""
        await self._arun(
            cur,
            lambda c: self.engine.delete_after(
                c, thread_id, checkpoint_id, writes_mark=writes_mark, join=True
            ),
        )

    async def akeep_newest(self, cur: AsyncCursor[Any], thread_id: str, keep: int) -> int:
        """See ``CheckpointAdmin.keep_newest``."""
        return await self._arun(
            cur, lambda c: self.engine.keep_newest(c, thread_id, keep, join=True)
        )

    async def acopy_thread(self, cur: AsyncCursor[Any], source: str, target: str) -> None:
        """See ``CheckpointAdmin.copy_thread``."""
        await self._arun(cur, lambda c: self.engine.copy_thread(c, source, target, join=True))

    # the CheckpointAdmin protocol (sync) -----------------------------------------------
    def latest_id(self, tx: psycopg.Connection[Any] | None, thread_id: str) -> str | None:
        """See ``CheckpointAdmin.latest_id``."""
        return self._sync(tx, lambda c: self.engine.latest_checkpoint_id(c, thread_id))

    def writes_mark(
        self, tx: psycopg.Connection[Any] | None, thread_id: str, checkpoint_id: str | None
    ) -> int:
        """See ``CheckpointAdmin.writes_mark``."""
        return int(self.engine.writes_mark())

    def delete_thread(self, tx: psycopg.Connection[Any] | None, thread_id: str) -> int:
        """See ``CheckpointAdmin.delete_thread``."""
        return self._sync(tx, lambda c: self.engine.delete_thread(c, thread_id, join=True))

    def delete_after(
        self,
        tx: psycopg.Connection[Any] | None,
        thread_id: str,
        checkpoint_id: str | None,
        *,
        writes_mark: int | None,
    ) -> None:
        """See ``CheckpointAdmin.delete_after``."""
        self._sync(
            tx,
            lambda c: self.engine.delete_after(
                c, thread_id, checkpoint_id, writes_mark=writes_mark, join=True
            ),
        )

    def keep_newest(self, tx: psycopg.Connection[Any] | None, thread_id: str, keep: int) -> int:
        """See ``CheckpointAdmin.keep_newest``."""
        return self._sync(tx, lambda c: self.engine.keep_newest(c, thread_id, keep, join=True))

    def copy_thread(self, tx: psycopg.Connection[Any] | None, source: str, target: str) -> None:
        """See ``CheckpointAdmin.copy_thread``."""
        self._sync(tx, lambda c: self.engine.copy_thread(c, source, target, join=True))


__all__ = ["SessionsPostgresAdmin"]
