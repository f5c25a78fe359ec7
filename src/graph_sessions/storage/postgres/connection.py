"""The Postgres backend's connections: one ``psycopg_pool.AsyncConnectionPool`` shared by the
registry, the checkpointer and the store, and the transactions the backend runs on it.

Connections are not checked when lent (that would cost a round trip per operation): one
broken by a server restart fails its request (``BackendError``) and is then replaced by
the pool. Once a request found the server unreachable, the pool is *down*: the idle
connections are checked at once (a restart breaks them all), and until a request succeeds
again each one waits at most :data:`DOWN_TIMEOUT` for a connection instead of the pool
timeout, so requests fail fast (503) while the server is away, and succeed again once it
is back. Pool connections are in autocommit mode with dict rows (what LangGraph's Postgres saver and
store expect); the backend's own statements run on cursors with tuple rows, inside
:meth:`PostgresPool.transaction` when they belong together.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import psycopg.errors
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from graph_sessions.errors import BackendError, LeaseLost

#: connections the pool keeps open / may open (URL options ``pool_min_size``/``pool_max_size``)
DEFAULT_MIN_SIZE = 1
DEFAULT_MAX_SIZE = 10
#: seconds a request waits for a free connection before failing (``pool_timeout``)
DEFAULT_TIMEOUT = 30.0
#: seconds a request waits for a connection while the server was last found unreachable
DOWN_TIMEOUT = 0.5
#: seconds a listening connection (outside the pool) may take to connect: a partition that
#: drops packets must not stall a listener for the system's TCP timeout
CONNECT_TIMEOUT = 5
#: seconds the server lets a connection of ours sit idle inside a transaction before it ends
#: the connection (``idle_in_transaction_timeout``; 0: never). A replica paused (SIGSTOP, a
#: long GC, a frozen VM) in the middle of a transaction holds its row locks until then:
#: without a bound, every other replica touching that session (the repair of its lapsed
#: lease included) would wait for the paused one to wake up.
DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT = 5.0

Row = tuple[Any, ...]
Cursor = AsyncCursor[Row]


def redact(conninfo: str) -> str:
    """``conninfo`` without its password, for messages and logs."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<unparsable connection string>"
    if "password" in params:
        params["password"] = "***"
    return psycopg.conninfo.make_conninfo("", **params)


class PostgresPool:
    """The pool of one backend. Open before use; :meth:`transaction` and :meth:`cursor`
    lend a connection from it."""

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = DEFAULT_MIN_SIZE,
        max_size: int = DEFAULT_MAX_SIZE,
        timeout: float = DEFAULT_TIMEOUT,
        idle_in_transaction_timeout: float = DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT,
    ) -> None:
        if idle_in_transaction_timeout < 0:
            raise BackendError(
                "idle_in_transaction_timeout must be >= 0 seconds (0: never), "
                f"not {idle_in_transaction_timeout!r}"
            )
        if min_size < 0 or max_size < max(min_size, 1):
            raise BackendError(
                f"pool sizes must satisfy 0 <= pool_min_size <= pool_max_size and "
                f"pool_max_size >= 1, not {min_size}/{max_size}"
            )
        self.conninfo = conninfo
        self.min_size = min_size
        self.max_size = max_size
        self.timeout = timeout
        self.idle_in_transaction_timeout = idle_in_transaction_timeout
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None
        #: the server was found unreachable and no request succeeded since
        self.down = False
        self._check: asyncio.Task[None] | None = None
        #: the waits for a connection now queued (ended at once when the server is away)
        self._waiting: set[asyncio.Timeout] = set()

    @property
    def pool(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        """The open pool (``BackendError`` when closed)."""
        if self._pool is None:
            raise BackendError("the Postgres backend is not open")
        return self._pool

    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close`."""
        return self._pool is not None

    async def open(self) -> None:
        """Open the pool and wait for its first connections (``BackendError`` if the
        server cannot be reached within the timeout)."""
        pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            self.conninfo,
            min_size=self.min_size,
            max_size=self.max_size,
            timeout=self.timeout,
            kwargs={"autocommit": True, "row_factory": dict_row},
            open=False,
            name="graph-sessions",
            configure=self._configure,
        )
        try:
            await pool.open(wait=True, timeout=self.timeout)
        except (PoolTimeout, psycopg.Error) as exc:
            await pool.close()
            raise BackendError(
                f"cannot connect to Postgres {redact(self.conninfo)!r}: {exc}"
            ) from exc
        self._pool = pool

    async def _configure(self, conn: AsyncConnection[Any]) -> None:
        """Every new connection: the server ends it when it idles in a transaction longer
        than ``idle_in_transaction_timeout`` (a paused process must not hold locks)."""
        millis = int(self.idle_in_transaction_timeout * 1000)
        await conn.execute(f"SET idle_in_transaction_session_timeout = {millis}")

    async def close(self) -> None:
        """Close every connection."""
        check, self._check = self._check, None
        if check is not None and not check.done():
            check.cancel()
            with contextlib.suppress(BaseException):
                await check
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A pooled connection (autocommit, dict rows); database errors other than the
        backend's own (``LeaseLost``…) become ``BackendError``."""
        try:
            async with self._lend() as conn:
                yield conn
        except (LeaseLost, BackendError):
            raise
        except PoolTimeout as exc:
            self._went_down()
            raise BackendError(f"no Postgres connection free: {exc}") from exc
        except psycopg.errors.IdleInTransactionSessionTimeout as exc:
            raise BackendError(f"Postgres {redact(self.conninfo)!r}: {exc}") from exc
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._went_down()
            raise BackendError(f"Postgres {redact(self.conninfo)!r}: {exc}") from exc
        self.down = False

    @contextlib.asynccontextmanager
    async def _lend(self) -> AsyncIterator[AsyncConnection[Any]]:
        """What ``pool.connection()`` does, but a request that queued for a connection
        before the server was found away stops waiting as soon as it is (it would otherwise
        wait for the server to come back, up to the pool timeout), keeping its place in
        the pool's queue until then."""
        pool = self.pool
        if self.down:
            conn = await pool.getconn(timeout=min(DOWN_TIMEOUT, self.timeout))
        else:
            try:
                async with asyncio.timeout(None) as waiting:
                    self._waiting.add(waiting)
                    try:
                        conn = await pool.getconn(timeout=self.timeout)
                    finally:
                        self._waiting.discard(waiting)
            except TimeoutError as exc:  # _went_down ended the wait
                raise PoolTimeout("the server went away while waiting for a connection") from exc
        try:
            async with conn:
                yield conn
        finally:
            await pool.putconn(conn)

    def _went_down(self) -> None:
        """A request found the server unreachable: fail the next ones fast, and replace
        the idle connections a restart broke (once at a time)."""
        self.down = True
        if self._waiting:
            now = asyncio.get_running_loop().time()
            for waiting in self._waiting:
                if not waiting.expired():  # already ended by an earlier call
                    waiting.reschedule(now)
        pool = self._pool
        if pool is not None and (self._check is None or self._check.done()):
            self._check = asyncio.ensure_future(self._check_idle(pool))

    @staticmethod
    async def _check_idle(pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
        with contextlib.suppress(Exception):
            await pool.check()

    @contextlib.asynccontextmanager
    async def cursor(self) -> AsyncIterator[Cursor]:
        """A tuple-row cursor on a pooled connection, each statement its own transaction."""
        async with self.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            yield cur

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Cursor]:
        """A tuple-row cursor inside one transaction (committed when the block ends,
        rolled back when it raises). Not in pipeline mode: on loopback psycopg's pipeline
        costs as much CPU as the round trips it saves (measured), and an error in it is
        logged again when it ends. Answers come from ``RETURNING`` and ``fetchone``, which
        work in both modes."""
        async with (
            self.connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=tuple_row) as cur,
        ):
            yield cur


__all__ = [
    "DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT",
    "DEFAULT_MAX_SIZE",
    "DEFAULT_MIN_SIZE",
    "CONNECT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "DOWN_TIMEOUT",
    "PostgresPool",
    "redact",
]
