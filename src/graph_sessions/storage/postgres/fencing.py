"""Fenced checkpoint writes on Postgres (see ``Backend.fence``): the savers (ours,
``graph_sessions.checkpoint.AsyncPostgresSaver``, and LangGraph's ``AsyncPostgresSaver``)
whose writes of a fenced thread run in one transaction that first checks, and
share-locks, the session's lease row.

The check takes ``FOR SHARE`` on the ``sessions`` row: a takeover (an ``UPDATE`` of the
lease) waits for a fenced write in flight to commit, and a fenced write that starts after
the takeover committed sees the new epoch and is refused with ``LeaseLost``. The chain can
never gain a checkpoint from a writer that lost its lease.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.postgres import _ainternal
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from graph_sessions.checkpoint.dbapi import Connection
from graph_sessions.checkpoint.pg_async_saver import AsyncPostgresSaver as SessionsPostgresSaver
from graph_sessions.checkpoint.pg_conn import BridgedConnection, flushed
from graph_sessions.checkpoint.pg_greenlet import run_in_greenlet
from graph_sessions.errors import BackendError, LeaseLost
from graph_sessions.storage.postgres.schema import FENCE_SQLSTATE

T = TypeVar("T")
Fences = dict[str, tuple[str | None, int]]

# The connection (in a transaction) that the saver's statements of this task join.
_JOINED: ContextVar[AsyncConnection[Any] | None] = ContextVar("gs_pg_joined", default=None)


def lease_lost(thread_id: str, fence: tuple[str | None, int]) -> LeaseLost:
    """The error of a fenced write refused: the run no longer holds the session."""
    return LeaseLost(
        f"session {thread_id!r} was deleted or taken over during the run "
        f"(lease {fence[0]} epoch {fence[1]} is gone): its checkpoint write was refused",
        session_id=thread_id,
    )


def is_fence_refusal(exc: BaseException) -> bool:
    """True for the error ``gs_check_fence`` raises (``schema.py``, migration 2)."""
    return getattr(exc, "sqlstate", None) == FENCE_SQLSTATE


@contextlib.contextmanager
def fenced_errors(thread_id: str, fence: tuple[str | None, int] | None) -> Iterator[None]:
    """A fenced write's database errors as the backend's: a refused lease check is
    ``LeaseLost``, a connection problem ``BackendError``; others pass."""
    try:
        yield
    except psycopg.Error as exc:
        if fence is not None and is_fence_refusal(exc):
            raise lease_lost(thread_id, fence) from None
        if isinstance(exc, psycopg.OperationalError):
            raise BackendError(f"Postgres checkpoint write failed: {exc}") from exc
        raise


async def check_fence(cur: AsyncCursor[Any], fences: Fences, thread_id: str) -> None:
    """Inside the write's transaction: refuse it (``LeaseLost``) unless the run still
    holds the session's lease; share-lock the row until the transaction ends."""
    fence = fences.get(thread_id)
    if fence is None:
        return
    try:
        await cur.execute("SELECT gs_check_fence(%s, %s, %s)", (thread_id, *fence))
        await cur.fetchone()  # its answer now (in a pipeline too), not at a later statement
    except psycopg.Error as exc:
        if is_fence_refusal(exc):
            raise lease_lost(thread_id, fence) from None
        raise


class FencedPostgresSaver(AsyncPostgresSaver):
    """``AsyncPostgresSaver`` on the backend's pool; ``aput``/``aput_writes`` of a fenced
    thread run in one transaction with the lease check before them. On a pool, statements
    do not take the saver-wide lock LangGraph's class holds (it serializes every thread's
    reads and writes in the process; each statement has its own pooled connection here)."""

    fences: Fences
    #: send the lease check and the write together in one pipeline: one round trip instead
    #: of one per statement (measured on loopback: no faster, the pipeline's own work costs
    #: what the round trips save), but a refused check then makes psycopg log "error
    #: ignored terminating pipeline". Off by default; worth it when the database is far.
    pipelined = False

    @contextlib.asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        joined = _JOINED.get()
        if joined is None and isinstance(self.conn, AsyncConnectionPool) and self.pipe is None:
            # On a pool each statement has a connection of its own: LangGraph's saver-wide
            # lock would only queue every session's reads and writes behind one another.
            async with self.conn.connection() as conn:
                if pipeline and self.supports_pipeline:
                    async with (
                        conn.pipeline(),
                        conn.cursor(binary=True, row_factory=dict_row) as cur,
                    ):
                        yield cur
                elif pipeline:
                    async with (
                        conn.transaction(),
                        conn.cursor(binary=True, row_factory=dict_row) as cur,
                    ):
                        yield cur
                else:
                    async with conn.cursor(binary=True, row_factory=dict_row) as cur:
                        yield cur
            return
        if joined is None:
            async with super()._cursor(pipeline=pipeline) as cur:
                yield cur
            return
        # Inside a fenced write's transaction (and pipeline): its connection, no lock (the
        # pooled connection is this task's alone).
        async with joined.cursor(binary=True, row_factory=dict_row) as cur:
            yield cur

    async def _fenced(self, thread_id: str, write: Callable[[], Awaitable[T]]) -> T:
        """``write`` in one transaction after the lease check (see :attr:`pipelined`); a
        refused check aborts the transaction before anything is written."""
        fence = self.fences.get(thread_id)
        with fenced_errors(thread_id, fence):
            async with (
                _ainternal.get_connection(self.conn) as conn,
                conn.pipeline() if self.pipelined else contextlib.nullcontext(),
                conn.transaction(),
            ):
                if fence is not None:
                    await conn.execute("SELECT gs_check_fence(%s, %s, %s)", (thread_id, *fence))
                token = _JOINED.set(conn)
                try:
                    return await write()
                finally:
                    _JOINED.reset(token)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """``AsyncPostgresSaver.aput``, fenced."""
        thread_id = str(config["configurable"]["thread_id"])
        if thread_id not in self.fences:
            return await super().aput(config, checkpoint, metadata, new_versions)
        return await self._fenced(
            thread_id,
            lambda: AsyncPostgresSaver.aput(self, config, checkpoint, metadata, new_versions),
        )

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """``AsyncPostgresSaver.aput_writes``, fenced."""
        thread_id = str(config["configurable"]["thread_id"])
        if thread_id not in self.fences:
            return await super().aput_writes(config, writes, task_id, task_path)
        await self._fenced(
            thread_id,
            lambda: AsyncPostgresSaver.aput_writes(self, config, writes, task_id, task_path),
        )


class FencedSessionsPostgresSaver(SessionsPostgresSaver):
    """Our ``AsyncPostgresSaver`` on the backend's pool: each operation on a connection of
    its own (no saver-wide lock: it would queue every session's reads and writes behind one
    another); ``aput``/``aput_writes`` of a fenced thread in one transaction with the lease
    check before them."""

    fences: Fences

    async def _run(self, fn: Callable[[Connection], T]) -> T:
        if not isinstance(self.conn, AsyncConnectionPool):
            return await super()._run(fn)
        if not self.is_setup:
            await self.setup()
        async with self._connection() as conn:
            return await run_in_greenlet(flushed(fn), conn)

    async def _fenced(self, thread_id: str, write: Callable[[Connection], T]) -> T:
        """``write`` (an engine call that joins the open transaction) after the lease
        check, in one transaction; a refused check writes nothing."""
        fence = self.fences.get(thread_id)
        if not self.is_setup:
            await self.setup()
        with fenced_errors(thread_id, fence):
            async with _ainternal.get_connection(self.conn) as conn, conn.transaction():
                if fence is not None:
                    await conn.execute("SELECT gs_check_fence(%s, %s, %s)", (thread_id, *fence))
                return await run_in_greenlet(flushed(write), BridgedConnection(conn))

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Our ``AsyncPostgresSaver.aput``, fenced."""
        thread_id = str(config["configurable"]["thread_id"])
        if thread_id not in self.fences:
            return await super().aput(config, checkpoint, metadata, new_versions)
        prepared = self.engine.prepare_put(self.serde, config, checkpoint, metadata, new_versions)
        return await self._fenced(
            thread_id, lambda c: self.engine.store_put(c, prepared, join=True)
        )

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Our ``AsyncPostgresSaver.aput_writes``, fenced."""
        thread_id = str(config["configurable"]["thread_id"])
        if thread_id not in self.fences:
            return await super().aput_writes(config, writes, task_id, task_path)
        prepared = self.engine.prepare_writes(self.serde, config, writes, task_id, task_path)
        await self._fenced(thread_id, lambda c: self.engine.store_writes(c, prepared, join=True))


__all__ = [
    "FencedPostgresSaver",
    "FencedSessionsPostgresSaver",
    "check_fence",
    "fenced_errors",
    "is_fence_refusal",
    "lease_lost",
]
