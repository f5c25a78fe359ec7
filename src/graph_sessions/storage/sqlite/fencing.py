"""Transactions of the SQLite backend, and the savers whose checkpoint writes of a fenced
thread check the run's lease in the same transaction (see ``Backend.fence``)."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from graph_sessions.checkpoint import AsyncSqliteSaver as SessionsSqliteSaver
from graph_sessions.errors import BackendError, LeaseLost
from graph_sessions.storage.checkpoints import langgraph_sqlite
from graph_sessions.storage.sqlite.connection import run_on_thread

T = TypeVar("T")
W = TypeVar("W", bound=Callable[..., Any])
Fences = dict[str, tuple[str | None, int]]

_FENCE_SQL = "SELECT 1 FROM sessions WHERE session_id = ? AND lease_owner IS ? AND lease_epoch = ?"


def check_fence(conn: sqlite3.Connection, fences: Fences, thread_id: str) -> None:
    """Inside the write's transaction: refuse it unless the run still holds the lease."""
    fence = fences.get(thread_id)
    if fence is None:
        return
    if conn.execute(_FENCE_SQL, (thread_id, *fence)).fetchone() is None:
        raise LeaseLost(
            f"session {thread_id!r} was deleted or taken over during the run "
            f"(lease {fence[0]} epoch {fence[1]} is gone): its checkpoint write was refused",
            session_id=thread_id,
        )


def immediate_tx(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``fn`` in one write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def fenced_tx(
    conn: sqlite3.Connection,
    fences: Fences,
    thread_id: str,
    write: Callable[[sqlite3.Connection], T],
) -> T:
    """``write`` in one transaction with the lease check of ``thread_id`` before it."""

    def body(c: sqlite3.Connection) -> T:
        check_fence(c, fences, thread_id)
        return write(c)

    return immediate_tx(conn, body)


def typed_write_errors(method: W) -> W:
    """A checkpoint write that SQLite refuses (read-only or full database…) raises
    ``BackendError``, as the registry's writes do, not ``sqlite3.OperationalError``."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise BackendError(f"SQLite checkpoint write failed: {exc}") from exc

    return cast(W, wrapper)


class FencedSessionsSaver(SessionsSqliteSaver):
    """``graph_sessions.checkpoint``'s saver whose writes of a fenced thread check the lease
    in the same transaction."""

    fences: Fences

    @typed_write_errors
    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """``AsyncSqliteSaver.aput``, fenced."""
        thread_id = str(config["configurable"]["thread_id"])
        if thread_id not in self.fences:
            return await super().aput(config, checkpoint, metadata, new_versions)
        prepared = self.engine.prepare_put(self.serde, config, checkpoint, metadata, new_versions)
        return await self._run(
            lambda c: fenced_tx(
                c, self.fences, thread_id, lambda c: self.engine.store_put(c, prepared, join=True)
            )
        )

    @typed_write_errors
    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """``AsyncSqliteSaver.aput_writes``, fenced."""
        thread_id = str(config["configurable"]["thread_id"])
        if thread_id not in self.fences:
            return await super().aput_writes(config, writes, task_id, task_path)
        prepared = self.engine.prepare_writes(self.serde, config, writes, task_id, task_path)
        await self._run(
            lambda c: fenced_tx(
                c,
                self.fences,
                thread_id,
                lambda c: self.engine.store_writes(c, prepared, join=True),
            )
        )


class FencedLangGraphSaver(AsyncSqliteSaver):
    """LangGraph's ``AsyncSqliteSaver`` (files written by earlier versions), with the same
    fencing of a fenced thread's writes: the lease check and the insert are one transaction."""

    fences: Fences

    async def _fenced(self, thread_id: str, write: Callable[[sqlite3.Connection], Any]) -> None:
        await self.setup()
        async with self.lock:
            await run_on_thread(self.conn, lambda c: fenced_tx(c, self.fences, thread_id, write))

    @typed_write_errors
    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """LangGraph's ``aput``, fenced."""
        thread_id = str(config["configurable"]["thread_id"])
        if thread_id not in self.fences:
            return await super().aput(config, checkpoint, metadata, new_versions)
        row, saved = langgraph_sqlite.checkpoint_row(self.serde, config, checkpoint, metadata)
        await self._fenced(thread_id, lambda c: langgraph_sqlite.insert_checkpoint(c, row))
        return saved

    @typed_write_errors
    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """LangGraph's ``aput_writes``, fenced."""
        thread_id = str(config["configurable"]["thread_id"])
        if thread_id not in self.fences:
            return await super().aput_writes(config, writes, task_id, task_path)
        verb, rows = langgraph_sqlite.writes_rows(self.serde, config, writes, task_id, task_path)
        await self._fenced(thread_id, lambda c: langgraph_sqlite.insert_writes(c, verb, rows))
