"""``PostgresSaver``: the synchronous Postgres saver, a drop-in for LangGraph's class of
that name (``langgraph.checkpoint.postgres.PostgresSaver``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from langgraph.checkpoint.base import SerializerProtocol
from psycopg import Connection, Pipeline
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from typing_extensions import Unpack

from graph_sessions.checkpoint.base import EngineOptions
from graph_sessions.checkpoint.engine import StorageEngine
from graph_sessions.checkpoint.pg_conn import PgConnection
from graph_sessions.checkpoint.pg_sql import search_where, setup_postgres
from graph_sessions.checkpoint.sync_saver import SyncSaver


def postgres_engine(engine: StorageEngine, conn: object, pipe: object, pool_type: type) -> None:
    """Check a Postgres saver's connection arguments and give its engine Postgres's
    ``list`` filter. LangGraph's rule: a pipeline goes with a single connection only."""
    if isinstance(conn, pool_type) and pipe is not None:
        raise ValueError("Pipeline should be used only with a single connection, not a pool.")
    engine.search_where = search_where


class PostgresSaver(SyncSaver):
    """A checkpoint saver on a psycopg ``Connection`` or ``ConnectionPool`` whose cost per
    turn does not grow with the conversation: unchanged channels are not stored again and
    a growing list is stored as its new tail (the scheme of ``SqliteSaver``, see
    ``graph_sessions.checkpoint.engine``), in its own tables (``gs_checkpoints``…).

    Same constructor, ``from_conn_string`` and ``setup`` as LangGraph's ``PostgresSaver``;
    rows come back as tuples whatever the connection's row factory. Statements go in
    pipelines, a round trip each time the engine reads a result (``pg_conn``), ``pipe``
    or not. ``setup()`` runs the migrations under an advisory lock; it also runs on
    first use.

    Args:
        conn: a connection (``autocommit=True`` as LangGraph asks, or not) or a pool.
        pipe: the connection's pipeline, if it is in pipeline mode.
        serde: serializer (LangGraph's ``JsonPlusSerializer`` by default).
        options: ``snapshot_every``, ``cache_threads``, ``cache_bytes``, ``share_values``,
            as ``SqliteSaver``'s.
    """

    conn: Connection[Any] | ConnectionPool[Any]
    lock: threading.Lock

    def __init__(
        self,
        conn: Connection[Any] | ConnectionPool[Any],
        pipe: Pipeline | None = None,
        serde: SerializerProtocol | None = None,
        **options: Unpack[EngineOptions],
    ) -> None:
        super().__init__(serde=serde, synchronous=None, **options)
        postgres_engine(self.engine, conn, pipe, ConnectionPool)
        self.conn = conn
        self.pipe = pipe
        self.lock = threading.Lock()

    @classmethod
    @contextmanager
    def from_conn_string(
        cls, conn_string: str, *, pipeline: bool = False, **kwargs: Any
    ) -> Iterator[PostgresSaver]:
        """Connect to ``conn_string`` (autocommit, as LangGraph does), yield a saver,
        close on exit; ``pipeline=True`` puts the connection in pipeline mode."""
        with Connection.connect(
            conn_string, autocommit=True, prepare_threshold=0, row_factory=dict_row
        ) as conn:
            if pipeline:
                with conn.pipeline() as pipe:
                    yield cls(conn, pipe, **kwargs)
            else:
                yield cls(conn, **kwargs)

    @contextmanager
    def _connection(self) -> Iterator[PgConnection]:
        """An adapter of the saver's connection (or one of its pool), flushed on exit."""
        with ExitStack() as stack:
            if isinstance(self.conn, ConnectionPool):
                conn = PgConnection(stack.enter_context(self.conn.connection()))
            else:
                conn = PgConnection(self.conn)
            try:
                yield conn
            except BaseException:
                conn.discard()
                raise
            conn.flush()

    def setup(self) -> None:
        """Create or migrate the tables (idempotent; under an advisory lock)."""
        with self.lock, self._connection() as conn:
            setup_postgres(conn)
            self.is_setup = True

    @contextmanager
    def _locked(self) -> Iterator[PgConnection]:
        if not self.is_setup:
            self.setup()
        with self.lock, self._connection() as conn:
            yield conn
