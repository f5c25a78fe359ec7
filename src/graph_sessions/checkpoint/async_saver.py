"""``AsyncSqliteSaver``: the asyncio saver, a drop-in for LangGraph's class of that name,
and ``AsyncSaver``: its API over the storage engine, shared with ``AsyncPostgresSaver``."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import aiosqlite
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
    SerializerProtocol,
)
from typing_extensions import Unpack

from graph_sessions.checkpoint.base import EngineOptions, SaverBase
from graph_sessions.checkpoint.dbapi import Connection
from graph_sessions.checkpoint.schema import setup_schema

T = TypeVar("T")
_PAGE = 64  # checkpoints materialized per hop to the connection's thread while listing
_LOOP_ERROR = (
    "Synchronous calls to AsyncSqliteSaver are only allowed from a different thread. "
    "From the event loop's thread, use the async interface (e.g. `await saver.aget_tuple(...)`)."
)


class AsyncSaver(SaverBase):
    """The asyncio saver API over the storage engine, whatever the database: each call
    runs one engine method through ``_run`` (the saver's lock held, set up; the engine's
    SQL off the event loop), and the sync API bridges onto ``self.loop`` from other
    threads. ``AsyncSqliteSaver`` and ``AsyncPostgresSaver`` provide ``_run``.
    """

    loop: asyncio.AbstractEventLoop

    async def _run(self, fn: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    def _reclaim(self, conn: Connection) -> None:
        """After deleting: give free space back to the system (if the database does)."""

    # async API -----------------------------------------------------------------------
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by ``config`` (or the latest of its thread and namespace)."""
        serde = self.serde
        return await self._run(lambda c: self.engine.get_tuple(c, serde, config))

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """LangGraph's ``DeltaChannel`` hook: each channel's seed and the writes since,
        along the parent chain, in three queries (see ``StorageEngine.delta_history``)."""
        serde = self.serde
        return await self._run(lambda c: self.engine.delta_history(c, serde, config, channels))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Checkpoints newest first, filtered like LangGraph's saver; batched reads."""
        serde = self.serde
        engine = self.engine

        def first(c: Connection) -> tuple[list[Any], list[CheckpointTuple]]:
            rows = engine.list_rows(c, config, filter=filter, before=before, limit=limit)
            return rows, engine.materialize(c, serde, rows[:_PAGE])

        rows, page = await self._run(first)
        for item in page:
            yield item
        for start in range(_PAGE, len(rows), _PAGE):
            chunk = rows[start : start + _PAGE]
            page = await self._run(lambda c, chunk=chunk: engine.materialize(c, serde, chunk))  # type: ignore[misc]
            for item in page:
                yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint; only channels in ``new_versions`` are (re)serialized.

        Serialization happens here, on the event loop, before the first ``await``; only
        the SQL runs on the connection's thread."""
        prepared = self.engine.prepare_put(self.serde, config, checkpoint, metadata, new_versions)
        return await self._run(lambda c: self.engine.store_put(c, prepared))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes against the checkpoint in ``config``."""
        prepared = self.engine.prepare_writes(self.serde, config, writes, task_id, task_path)
        await self._run(lambda c: self.engine.store_writes(c, prepared))

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete everything stored for a thread (then give free space back)."""

        def body(c: Connection) -> None:
            self.engine.delete_thread(c, thread_id)
            self._reclaim(c)

        await self._run(body)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints and writes created by the given runs."""
        await self._run(lambda c: self.engine.delete_for_runs(c, run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy all checkpoints, values and writes of one thread to another."""
        await self._run(lambda c: self.engine.copy_thread(c, source_thread_id, target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``keep_latest`` (newest checkpoint per namespace) or ``delete`` (everything)."""

        def body(c: Connection) -> None:
            self.engine.prune(c, thread_ids, strategy=strategy)
            self._reclaim(c)

        await self._run(body)

    # sync API: bridged onto the saver's event loop from other threads ---------------------
    def _bridge(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            if asyncio.get_running_loop() is self.loop:
                coro.close()
                raise asyncio.InvalidStateError(_LOOP_ERROR)
        except RuntimeError:
            pass
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Sync ``aget_tuple``, from a thread other than the event loop's."""
        return self._bridge(self.aget_tuple(config))

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """Sync ``aget_delta_channel_history``, from a thread other than the event loop's."""
        return self._bridge(self.aget_delta_channel_history(config=config, channels=channels))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Sync ``alist``, from a thread other than the event loop's."""

        async def collect() -> list[CheckpointTuple]:
            return [t async for t in self.alist(config, filter=filter, before=before, limit=limit)]

        yield from self._bridge(collect())

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Sync ``aput``, from a thread other than the event loop's."""
        return self._bridge(self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Sync ``aput_writes``, from a thread other than the event loop's."""
        self._bridge(self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        """Sync ``adelete_thread``, from a thread other than the event loop's."""
        self._bridge(self.adelete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Sync ``adelete_for_runs``, from a thread other than the event loop's."""
        self._bridge(self.adelete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Sync ``acopy_thread``, from a thread other than the event loop's."""
        self._bridge(self.acopy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Sync ``aprune``, from a thread other than the event loop's."""
        self._bridge(self.aprune(thread_ids, strategy=strategy))


class AsyncSqliteSaver(AsyncSaver):
    """A checkpoint saver on an ``aiosqlite`` connection whose cost per turn does not grow
    with the conversation (see ``graph_sessions.checkpoint.engine``).

    Same constructor, ``from_conn_string`` and ``setup`` as
    ``langgraph.checkpoint.sqlite.aio.AsyncSqliteSaver``. Every operation is one hop to
    the connection's thread holding ``self.lock`` (an ``asyncio.Lock``), so other users of
    the same connection can share that lock, as the SQLite backend does.

    >>> async with AsyncSqliteSaver.from_conn_string("checkpoints.db") as saver:
    ...     graph = builder.compile(checkpointer=saver)  # doctest: +SKIP
    """

    conn: aiosqlite.Connection
    lock: asyncio.Lock

    def __init__(
        self,
        conn: aiosqlite.Connection,
        *,
        serde: SerializerProtocol | None = None,
        synchronous: str | None = "NORMAL",
        **options: Unpack[EngineOptions],
    ) -> None:
        super().__init__(serde=serde, synchronous=synchronous, **options)
        self.conn = conn
        self.lock = asyncio.Lock()
        self.loop = asyncio.get_running_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conn_string: str, **kwargs: Any
    ) -> AsyncIterator[AsyncSqliteSaver]:
        """Open ``conn_string`` with aiosqlite, yield a saver, close on exit."""
        async with aiosqlite.connect(conn_string) as conn:
            yield cls(conn, **kwargs)

    async def setup(self) -> None:
        """Create the tables and apply WAL + ``synchronous`` (idempotent; automatic)."""
        async with self.lock:
            if self.is_setup:
                return
            await self._connected()
            await self._hop(lambda c: setup_schema(c, synchronous=self.synchronous))
            self.is_setup = True

    async def _connected(self) -> None:
        thread = getattr(self.conn, "_thread", None)
        if getattr(self.conn, "_connection", None) is None and (
            thread is None or not thread.is_alive()
        ):
            await self.conn

    async def _hop(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        # aiosqlite has no public way to run a function on its thread; one hop per call
        # instead of one per statement is what keeps a turn cheap.
        raw = self.conn._conn  # noqa: SLF001
        result: T = await self.conn._execute(fn, raw)  # noqa: SLF001
        return result

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if not self.is_setup:
            await self.setup()
        async with self.lock:
            return await self._hop(fn)

    def _reclaim(self, conn: Connection) -> None:
        self.engine.vacuum(cast(sqlite3.Connection, conn))

    async def avacuum(self, *, full: bool = False) -> None:
        """Give free pages back: ``PRAGMA incremental_vacuum``, or ``VACUUM`` if ``full``."""
        await self._run(lambda c: self.engine.vacuum(c, full=full))
