"""``SqliteSaver``: the synchronous saver, a drop-in for LangGraph's class of that name, and
``SyncSaver``: its API over the storage engine, shared with ``PostgresSaver``."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from typing import Any

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

_PAGE = 64  # checkpoints materialized per batch while iterating ``list``


class SyncSaver(SaverBase):
    """The synchronous saver API over the storage engine, whatever the database: each
    call takes the connection from ``_locked`` (the saver's lock held, set up) and runs
    one engine method on it. ``SqliteSaver`` and ``PostgresSaver`` provide the connection.
    """

    def _locked(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _reclaim(self, conn: Connection) -> None:
        """After deleting: give free space back to the system (if the database does)."""

    # sync API ------------------------------------------------------------------------
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by ``config`` (or the latest of its thread and namespace)."""
        with self._locked() as conn:
            return self.engine.get_tuple(conn, self.serde, config)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first, filtered like LangGraph's saver; batched reads."""
        with self._locked() as conn:
            rows = self.engine.list_rows(conn, config, filter=filter, before=before, limit=limit)
        for start in range(0, len(rows), _PAGE):
            with self._locked() as conn:
                page = self.engine.materialize(conn, self.serde, rows[start : start + _PAGE])
            yield from page

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """LangGraph's ``DeltaChannel`` hook: each channel's seed and the writes since,
        along the parent chain, in three queries (see ``StorageEngine.delta_history``)."""
        with self._locked() as conn:
            return self.engine.delta_history(conn, self.serde, config, channels)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint; only channels in ``new_versions`` are (re)serialized."""
        with self._locked() as conn:
            return self.engine.put(conn, self.serde, config, checkpoint, metadata, new_versions)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes against the checkpoint in ``config``. They are
        serialized before the lock is taken: LangGraph calls this from a background thread
        while the next step may already run, and a node that edits a value in place (a list
        it was given) must not change the write while it waits for a concurrent put."""
        prepared = self.engine.prepare_writes(self.serde, config, writes, task_id, task_path)
        with self._locked() as conn:
            self.engine.store_writes(conn, prepared)

    def delete_thread(self, thread_id: str) -> None:
        """Delete everything stored for a thread (then give free space back)."""
        with self._locked() as conn:
            self.engine.delete_thread(conn, thread_id)
            self._reclaim(conn)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints and writes created by the given runs."""
        with self._locked() as conn:
            self.engine.delete_for_runs(conn, run_ids)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy all checkpoints, values and writes of one thread to another."""
        with self._locked() as conn:
            self.engine.copy_thread(conn, source_thread_id, target_thread_id)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``keep_latest`` (newest checkpoint per namespace) or ``delete`` (everything)."""
        with self._locked() as conn:
            self.engine.prune(conn, thread_ids, strategy=strategy)
            self._reclaim(conn)

    # async API: the sync methods, run in place -----------------------------------------
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async ``get_tuple`` (runs synchronously)."""
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async ``list`` (runs synchronously)."""
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async ``put`` (runs synchronously)."""
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async ``put_writes`` (runs synchronously)."""
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """Async ``delete_thread`` (runs synchronously)."""
        self.delete_thread(thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async ``delete_for_runs`` (runs synchronously)."""
        self.delete_for_runs(run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async ``copy_thread`` (runs synchronously)."""
        self.copy_thread(source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async ``prune`` (runs synchronously)."""
        self.prune(thread_ids, strategy=strategy)


class SqliteSaver(SyncSaver):
    """A checkpoint saver on a ``sqlite3`` connection whose cost per turn does not grow
    with the conversation: unchanged channels are not stored again and a growing list
    is stored as its new tail (see ``graph_sessions.checkpoint.engine``).

    Same constructor, ``from_conn_string`` and ``setup`` as
    ``langgraph.checkpoint.sqlite.SqliteSaver``; the ``a*`` methods run the synchronous
    ones (like ``InMemorySaver``) so the class also works under ``ainvoke``.

    >>> with SqliteSaver.from_conn_string("checkpoints.db") as saver:
    ...     graph = builder.compile(checkpointer=saver)  # doctest: +SKIP
    """

    conn: sqlite3.Connection

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        serde: SerializerProtocol | None = None,
        synchronous: str | None = "NORMAL",
        **options: Unpack[EngineOptions],
    ) -> None:
        super().__init__(serde=serde, synchronous=synchronous, **options)
        self.conn = conn
        self.lock = threading.RLock()

    @classmethod
    @contextmanager
    def from_conn_string(cls, conn_string: str, **kwargs: Any) -> Iterator[SqliteSaver]:
        """Open ``conn_string`` (a path or ``":memory:"``), yield a saver, close on exit."""
        with closing(sqlite3.connect(conn_string, check_same_thread=False)) as conn:
            yield cls(conn, **kwargs)

    def setup(self) -> None:
        """Create the tables and apply WAL + ``synchronous`` (idempotent; automatic)."""
        with self.lock:
            if self.is_setup:
                return
            setup_schema(self.conn, synchronous=self.synchronous)
            self.is_setup = True

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            if not self.is_setup:
                self.setup()
            yield self.conn

    def _reclaim(self, conn: Connection) -> None:
        self.engine.vacuum(self.conn)

    def vacuum(self, *, full: bool = False) -> None:
        """Give free pages back: ``PRAGMA incremental_vacuum``, or ``VACUUM`` if ``full``."""
        with self._locked() as conn:
            self.engine.vacuum(conn, full=full)
