"""psycopg connections as the storage engine's ``Connection`` (``dbapi.py``).

The engine runs its SQL one statement at a time and reads few of the results. So the
adapters queue each statement (translated by ``pg_sql.to_postgres``) and send the queue
in one pipeline (one round trip) only when a result is read, at ``COMMIT``/``ROLLBACK``,
or on ``flush()`` (the savers flush at the end of every operation): a ``put`` costs one
or two round trips, not one per statement. Rows come back as tuples on binary cursors,
whatever row factory the caller's connection has (LangGraph's examples use ``dict_row``).

``PgConnection`` adapts a synchronous ``psycopg.Connection``. ``BridgedConnection``
adapts an ``AsyncConnection`` for the engine running in a greenlet on the event loop: each
batch is awaited (``pg_greenlet``). The engine stays synchronous and shared.

Transaction statements follow the connection's mode: with ``autocommit`` (LangGraph's
setting) they are sent as they are; without it psycopg opens transactions itself, so
``BEGIN`` is left to it and ``COMMIT``/``ROLLBACK`` are the connection's methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from typing import Any, TypeVar

from psycopg import AsyncConnection
from psycopg import Connection as PsycopgConnection
from psycopg.pq import PipelineStatus, TransactionStatus
from psycopg.rows import tuple_row

from graph_sessions.checkpoint.dbapi import Connection
from graph_sessions.checkpoint.pg_greenlet import await_only
from graph_sessions.checkpoint.pg_sql import control, to_postgres

T = TypeVar("T")


class Statement:
    """One queued statement and, once its batch ran, its result."""

    __slots__ = ("sql", "params", "many", "verb", "rows", "rowcount")

    def __init__(self, sql: bytes, params: Any, many: bool = False, verb: str = "") -> None:
        self.sql = sql
        self.params = params
        self.many = many
        self.verb = verb  # "COMMIT"/"ROLLBACK" of a connection that is not in autocommit
        self.rows: list[Any] = []
        self.rowcount = -1


class Rows:
    """The result of one statement (the engine's ``Cursor``): reading it runs the queue."""

    __slots__ = ("_conn", "_statement", "_next")

    def __init__(self, conn: _Queue, statement: Statement) -> None:
        self._conn = conn
        self._statement = statement
        self._next = 0

    def _result(self) -> Statement:
        self._conn.flush()
        return self._statement

    @property
    def rowcount(self) -> int:
        """Rows changed by the statement."""
        return self._result().rowcount

    def fetchone(self) -> Any:
        """The next row, or ``None``."""
        rows = self._result().rows
        if self._next >= len(rows):
            return None
        self._next += 1
        return rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        rows = self._result().rows[self._next :]
        self._next += len(rows)
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def close(self) -> None:
        """Drop the remaining rows."""
        self._next = 1 << 62


class _Queue:
    """The statement queue both adapters share; ``_send`` runs a batch."""

    def __init__(self, autocommit: bool) -> None:
        self.autocommit = autocommit
        self.queue: list[Statement] = []

    def _status(self) -> TransactionStatus:
        raise NotImplementedError

    def _send(self, batch: list[Statement]) -> None:
        raise NotImplementedError

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open, counting a queued ``BEGIN``."""
        if any(s.sql.startswith(b"BEGIN") for s in self.queue):
            return True
        return self._status() != TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Any = (), /) -> Rows:
        """Queue one engine statement; ``COMMIT``/``ROLLBACK`` run the queue at once."""
        verb = control(sql)
        if verb is None:
            params = tuple(parameters) if parameters is not None else ()
            statement = Statement(to_postgres(sql).encode(), params)
        elif self.autocommit:
            statement = Statement(verb.encode(), ())
        elif verb.startswith("BEGIN"):  # psycopg opens the transaction itself
            return Rows(self, Statement(b"", ()))
        else:
            statement = Statement(b"", (), verb=verb)
        self.queue.append(statement)
        if verb in ("COMMIT", "ROLLBACK"):
            self.flush()
        return Rows(self, statement)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> None:
        """Queue one engine statement, to run once per parameter row."""
        rows = [tuple(p) for p in parameters]
        if rows:
            self.queue.append(Statement(to_postgres(sql).encode(), rows, many=True))

    def commit(self) -> None:
        """Commit the open transaction."""
        self.execute("COMMIT")

    def flush(self) -> None:
        """Run the queued statements, in one round trip; on an error inside a transaction
        the queue opened or meant to end, roll it back before raising."""
        if not self.queue:
            return
        batch, self.queue = self.queue, []
        try:
            self._send(batch)
        except BaseException:
            owned = any(s.sql.startswith(b"BEGIN") or s.verb or s.sql == b"COMMIT" for s in batch)
            if owned and self._status() != TransactionStatus.IDLE:
                self._send([Statement(b"ROLLBACK", (), verb="ROLLBACK")])
            raise

    def discard(self) -> None:
        """Forget the queued statements (after an error)."""
        self.queue = []


def _sql(batch: list[Statement]) -> list[Statement]:
    """The statements of ``batch`` sent as SQL (a transaction end of a connection not in
    autocommit comes last, by its method). A whole write transaction in one batch goes
    without its ``BEGIN`` and ``COMMIT``: what a pipeline sends before its sync is one
    implicit transaction already, two statements fewer."""
    sql = [s for s in batch if not s.verb and s.sql]
    if (
        len(sql) > 2
        and sql[0].sql == b"BEGIN"
        and sql[-1].sql == b"COMMIT"
        and not any(s.sql in _CONTROL for s in sql[1:-1])
    ):
        return sql[1:-1]
    return sql


_CONTROL = frozenset({b"BEGIN", b"COMMIT", b"ROLLBACK"})


def _pipelined(conn: PsycopgConnection[Any] | AsyncConnection[Any], sql: list[Statement]) -> bool:
    """Whether to send ``sql`` in a pipeline: when there are several statements, and
    always on a connection in pipeline mode already (the caller's ``pipe``: only leaving
    a pipeline block makes the results arrive)."""
    return len(sql) > 1 or conn.pgconn.pipeline_status != PipelineStatus.OFF


def _finish(statement: Statement, cur: Any) -> None:
    """Take a statement's result from its cursor."""
    statement.rowcount = cur.rowcount
    if cur.pgresult is not None and cur.description is not None:
        statement.rows = cur.fetchall()


class PgConnection(_Queue):
    """A synchronous psycopg connection speaking the engine's calls."""

    def __init__(self, conn: PsycopgConnection[Any]) -> None:
        super().__init__(conn.autocommit)
        self.conn = conn

    def _status(self) -> TransactionStatus:
        return self.conn.info.transaction_status

    def _send(self, batch: list[Statement]) -> None:
        conn = self.conn
        done: list[tuple[Statement, Any]] = []
        sql = _sql(batch)
        with conn.pipeline() if _pipelined(conn, sql) else nullcontext():
            for statement in sql:
                cur = conn.cursor(row_factory=tuple_row, binary=True)
                if statement.many:
                    cur.executemany(statement.sql, statement.params)
                else:
                    cur.execute(statement.sql, statement.params)
                done.append((statement, cur))
        for statement, cur in done:
            _finish(statement, cur)
        for statement in batch:
            if statement.verb == "COMMIT":
                conn.commit()
            elif statement.verb == "ROLLBACK":
                conn.rollback()


class BridgedConnection(_Queue):
    """An ``AsyncConnection`` used by the engine running in a greenlet on the event loop
    (``pg_greenlet``): each batch is awaited by the task that runs the engine."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        super().__init__(conn.autocommit)
        self.conn = conn

    def _status(self) -> TransactionStatus:
        return self.conn.info.transaction_status

    def _send(self, batch: list[Statement]) -> None:
        await_only(self._asend(batch))

    async def _asend(self, batch: list[Statement]) -> None:
        conn = self.conn
        done: list[tuple[Statement, Any]] = []
        sql = _sql(batch)
        async with conn.pipeline() if _pipelined(conn, sql) else nullcontext():
            for statement in sql:
                cur = conn.cursor(row_factory=tuple_row, binary=True)
                if statement.many:
                    await cur.executemany(statement.sql, statement.params)
                else:
                    await cur.execute(statement.sql, statement.params)
                done.append((statement, cur))
        for statement, cur in done:
            statement.rowcount = cur.rowcount
            if cur.pgresult is not None and cur.description is not None:
                statement.rows = await cur.fetchall()
        for statement in batch:
            if statement.verb == "COMMIT":
                await conn.commit()
            elif statement.verb == "ROLLBACK":
                await conn.rollback()


def flushed(fn: Callable[[Connection], T]) -> Callable[[PgConnection | BridgedConnection], T]:
    """``fn`` (an engine call on a connection adapter), then what it left queued is sent;
    on an error the queue is dropped."""

    def run(conn: PgConnection | BridgedConnection) -> T:
        try:
            result = fn(conn)
        except BaseException:
            conn.discard()
            raise
        conn.flush()
        return result

    return run
