"""``AsyncPostgresSaver``: the asyncio Postgres saver, a drop-in for LangGraph's class of
that name (``langgraph.checkpoint.postgres.aio.AsyncPostgresSaver``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from langgraph.checkpoint.base import SerializerProtocol
from psycopg import AsyncConnection, AsyncPipeline
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from typing_extensions import Unpack

from graph_sessions.checkpoint.async_saver import AsyncSaver
from graph_sessions.checkpoint.base import EngineOptions
from graph_sessions.checkpoint.dbapi import Connection
from graph_sessions.checkpoint.pg_conn import BridgedConnection, flushed
from graph_sessions.checkpoint.pg_greenlet import run_in_greenlet
from graph_sessions.checkpoint.pg_saver import postgres_engine
from graph_sessions.checkpoint.pg_sql import setup_postgres

T = TypeVar("T")


class AsyncPostgresSaver(AsyncSaver):
    """A checkpoint saver on a psycopg ``AsyncConnection`` or ``AsyncConnectionPool`` whose
    cost per turn does not grow with the conversation (the scheme of ``AsyncSqliteSaver``,
    see ``graph_sessions.checkpoint.engine``), in its own tables (``gs_checkpoints``…).

    Same constructor, ``from_conn_string`` and ``setup`` as LangGraph's
    ``AsyncPostgresSaver``. Everything runs on the event loop, as in LangGraph's saver:
    each operation holds ``self.lock`` and runs the (synchronous) storage engine in a
    greenlet that awaits its statements on the connection, in pipelines (``pg_conn``,
    ``pg_greenlet``). ``setup()`` runs the
    migrations under an advisory lock; it also runs on first use.

    Args:
        conn: an async connection (``autocommit=True`` as LangGraph asks, or not) or pool.
        pipe: the connection's pipeline, if it is in pipeline mode.
        serde: serializer (LangGraph's ``JsonPlusSerializer`` by default).
        options: ``snapshot_every``, ``cache_threads``, ``cache_bytes``, ``share_values``,
            as ``SqliteSaver``'s.
    """

    conn: AsyncConnection[Any] | AsyncConnectionPool[Any]
    lock: asyncio.Lock

    def __init__(
        self,
        conn: AsyncConnection[Any] | AsyncConnectionPool[Any],
        pipe: AsyncPipeline | None = None,
        serde: SerializerProtocol | None = None,
        **options: Unpack[EngineOptions],
    ) -> None:
        super().__init__(serde=serde, synchronous=None, **options)
        postgres_engine(self.engine, conn, pipe, AsyncConnectionPool)
        self.conn = conn
        self.pipe = pipe
        self.lock = asyncio.Lock()
        self.loop = asyncio.get_running_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conn_string: str, *, pipeline: bool = False, **kwargs: Any
    ) -> AsyncIterator[AsyncPostgresSaver]:
        """Connect to ``conn_string`` (autocommit, as LangGraph does), yield a saver,
        close on exit; ``pipeline=True`` puts the connection in pipeline mode."""
        async with await AsyncConnection.connect(
            conn_string, autocommit=True, prepare_threshold=0, row_factory=dict_row
        ) as conn:
            if pipeline:
                async with conn.pipeline() as pipe:
                    yield cls(conn, pipe, **kwargs)
            else:
                yield cls(conn, **kwargs)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[BridgedConnection]:
        if isinstance(self.conn, AsyncConnectionPool):
            async with self.conn.connection() as conn:
                yield BridgedConnection(conn)
        else:
            yield BridgedConnection(self.conn)

    async def setup(self) -> None:
        """Create or migrate the tables (idempotent; under an advisory lock)."""
        async with self.lock, self._connection() as conn:
            await run_in_greenlet(flushed(setup_postgres), conn)
            self.is_setup = True

    async def _run(self, fn: Callable[[Connection], T]) -> T:
        if not self.is_setup:
            await self.setup()
        async with self.lock, self._connection() as conn:
            return await run_in_greenlet(flushed(fn), conn)
