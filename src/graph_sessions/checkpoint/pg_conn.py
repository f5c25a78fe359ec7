"""psycopg connections as the storage engine's ``Connection`` (``dbapi.py``).

``PgConnection`` adapts a synchronous ``psycopg.Connection``: each statement is translated
(``pg_sql.to_postgres``) and run on a tuple-row binary cursor, whatever row factory the
caller's connection has (LangGraph's examples use ``dict_row``).

``BridgedConnection`` adapts an ``AsyncConnection`` for the engine running in a worker
thread: each statement is handed to the event loop that owns the connection and its rows
come back whole. The engine stays synchronous and shared by every saver.

Transaction statements follow the connection's mode: with ``autocommit`` (LangGraph's
setting) they are sent as they are; without it psycopg opens transactions itself, so
``BEGIN`` is left to it and ``COMMIT``/``ROLLBACK`` are the connection's methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable, Iterator
from typing import Any, TypeVar

from psycopg import AsyncConnection, AsyncPipeline, Connection, Pipeline
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from graph_sessions.checkpoint.pg_sql import control, to_postgres

T = TypeVar("T")


class Rows:
    """The whole result of one statement (the engine's ``Cursor``)."""

    __slots__ = ("_rows", "_next", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        """The next row, or ``None``."""
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        rest = self._rows[self._next :]
        self._next = len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def close(self) -> None:
        """Drop the remaining rows."""
        self._next = len(self._rows)


def _in_transaction(status: TransactionStatus) -> bool:
    return status != TransactionStatus.IDLE


class PgConnection:
    """A synchronous psycopg connection speaking the engine's calls."""

    def __init__(self, conn: Connection[Any], pipe: Pipeline | None = None) -> None:
        self.conn = conn
        self.pipe = pipe

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on the connection."""
        return _in_transaction(self.conn.info.transaction_status)

    def execute(self, sql: str, parameters: Any = (), /) -> Rows:
        """Run one engine statement; its rows are read at once."""
        verb = control(sql)
        if verb is not None:
            if not self.conn.autocommit:
                self._control(verb)
                return Rows([], -1)
            sql = verb
        else:
            sql = to_postgres(sql)
        with self.conn.cursor(row_factory=tuple_row, binary=True) as cur:
            cur.execute(sql.encode(), tuple(parameters) if parameters is not None else ())
            if self.pipe is not None:
                self.pipe.sync()
            rows = cur.fetchall() if cur.description is not None else []
            return Rows(rows, cur.rowcount)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> None:
        """Run one engine statement once per parameter row."""
        with self.conn.cursor(binary=True) as cur:
            cur.executemany(to_postgres(sql).encode(), list(parameters))
        if self.pipe is not None:
            self.pipe.sync()

    def commit(self) -> None:
        """Commit the open transaction."""
        self.conn.commit()

    def _control(self, verb: str) -> None:
        if verb == "COMMIT":
            self.conn.commit()
        elif verb == "ROLLBACK":
            self.conn.rollback()
        # BEGIN: psycopg opens the transaction with the next statement


class BridgedConnection:
    """An ``AsyncConnection`` used from a worker thread: each call runs on ``loop``."""

    def __init__(
        self,
        conn: AsyncConnection[Any],
        loop: asyncio.AbstractEventLoop,
        pipe: AsyncPipeline | None = None,
    ) -> None:
        self.conn = conn
        self.loop = loop
        self.pipe = pipe

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on the connection."""
        return _in_transaction(self.conn.info.transaction_status)

    def execute(self, sql: str, parameters: Any = (), /) -> Rows:
        """Run one engine statement on the loop; its rows come back whole."""
        return self._call(self.aexecute(sql, parameters))

    async def aexecute(self, sql: str, parameters: Any = ()) -> Rows:
        """``execute``, on the loop."""
        verb = control(sql)
        if verb is not None:
            if not self.conn.autocommit:
                if verb == "COMMIT":
                    await self.conn.commit()
                elif verb == "ROLLBACK":
                    await self.conn.rollback()
                return Rows([], -1)
            sql = verb
        else:
            sql = to_postgres(sql)
        async with self.conn.cursor(row_factory=tuple_row, binary=True) as cur:
            await cur.execute(sql.encode(), tuple(parameters) if parameters is not None else ())
            if self.pipe is not None:
                await self.pipe.sync()
            rows = await cur.fetchall() if cur.description is not None else []
            return Rows(rows, cur.rowcount)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> None:
        """Run one engine statement once per parameter row, on the loop."""
        self._call(self._aexecutemany(to_postgres(sql), list(parameters)))

    async def _aexecutemany(self, sql: str, rows: list[Any]) -> None:
        async with self.conn.cursor(binary=True) as cur:
            await cur.executemany(sql.encode(), rows)
        if self.pipe is not None:
            await self.pipe.sync()

    def commit(self) -> None:
        """Commit the open transaction."""
        self._call(self.conn.commit())
