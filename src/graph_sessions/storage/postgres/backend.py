"""Postgres backend: ``postgresql://user:pw@host:5432/db`` (or ``postgres://``).

The registry, runs, events, messages and assistants (``schema.py``), LangGraph's
``AsyncPostgresSaver`` (checkpoints, fenced: ``fencing.py``) and LangGraph's
``AsyncPostgresStore`` share one database and one ``psycopg_pool.AsyncConnectionPool``
(``connection.py``). Every write that belongs together is one transaction, as on SQLite:
starting a run (lease, run row with the latest checkpoint, events), finishing it, deleting a
session with every row it has (pending runs and the thread's crons too), rolling back or
pruning checkpoints.

The checkpoint tables belong to the saver: this module reaches them only through the
saver's admin adapter (``storage/checkpoints/langgraph_postgres.py``). Which saver the
backend builds is one entry of :data:`SAVERS` (``?checkpointer=`` in the URL).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.postgres.aio import AsyncPostgresStore
from psycopg import AsyncConnection

from graph_sessions.checkpoint.pg_async_saver import AsyncPostgresSaver as SessionsAsyncSaver
from graph_sessions.checkpoint.pg_saver import PostgresSaver as SessionsSaver
from graph_sessions.clock import utcnow
from graph_sessions.errors import BackendError
from graph_sessions.models import (
    AssistantInfo,
    CronInfo,
    Event,
    Message,
    MessageSummary,
    RunInfo,
    SessionInfo,
    SessionStats,
    SessionStatus,
)
from graph_sessions.storage.backend import (
    Backend,
    NewEvent,
    NewMessage,
    SessionQuery,
    like_prefix,
)
from graph_sessions.storage.checkpoints import admin_for, register_admin
from graph_sessions.storage.checkpoints.base import AsyncCheckpointAdmin
from graph_sessions.storage.checkpoints.langgraph_postgres import (
    SETUP_STATEMENTS,
    LangGraphPostgresAdmin,
)
from graph_sessions.storage.checkpoints.sessions_postgres import SessionsPostgresAdmin
from graph_sessions.storage.codec import dump_json, dump_time, load_time
from graph_sessions.storage.encryption import encrypt_saver
from graph_sessions.storage.postgres import assistants, cancels, crons, pending
from graph_sessions.storage.postgres.connection import (
    DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT,
    DEFAULT_MAX_SIZE,
    DEFAULT_MIN_SIZE,
    DEFAULT_TIMEOUT,
    Cursor,
    PostgresPool,
    redact,
)
from graph_sessions.storage.postgres.fencing import (
    FencedPostgresSaver,
    FencedSessionsPostgresSaver,
    check_fence,
)
from graph_sessions.storage.postgres.rekey import PostgresRekeySource
from graph_sessions.storage.postgres.rows import (
    EVENT_SELECT,
    MESSAGE_SELECT,
    RUN_SELECT,
    message_values,
    row_to_event,
    row_to_info,
    row_to_message,
    row_to_run,
    session_values,
    update_sql,
)
from graph_sessions.storage.postgres.run_streams import PostgresRunStreams
from graph_sessions.storage.postgres.schema import (
    SESSION_SELECT,
    migrate,
    migration_lock,
    schema_version,
)
from graph_sessions.storage.records import (
    UNCHANGED,
    PendingRun,
    QueueCheck,
    RunBegun,
    RunFinish,
    RunStart,
    SessionRecord,
    SessionUpdate,
)
from graph_sessions.storage.sqlite.connection import stop_store_task
from graph_sessions.storage.sqlite.schema import SESSION_COLUMNS

log = logging.getLogger("graph_sessions.storage")

register_admin(AsyncPostgresSaver, LangGraphPostgresAdmin)
register_admin(PostgresSaver, LangGraphPostgresAdmin)
register_admin(SessionsAsyncSaver, SessionsPostgresAdmin)
register_admin(SessionsSaver, SessionsPostgresAdmin)

#: the store's TTL configuration (as on SQLite: no default TTL; reads refresh)
DEFAULT_STORE_TTL: dict[str, Any] = {"refresh_on_read": True}

# A session whose TTL passed (one parameter: now); a running one is never expired.
_EXPIRED_BY_TIME = "status <> 'running' AND expires_at IS NOT NULL AND expires_at <= %s"


def _langgraph_saver(pool: PostgresPool) -> FencedPostgresSaver:
    return FencedPostgresSaver(pool.pool)


def _sessions_saver(pool: PostgresPool) -> FencedSessionsPostgresSaver:
    return FencedSessionsPostgresSaver(pool.pool)


#: the savers a Postgres backend can hold its checkpoints in (``?checkpointer=<name>``):
#: a factory from the open pool to a saver whose class has a registered admin adapter and
#: a ``fences`` dict it checks (see ``fencing.py``)
SAVERS: dict[str, Callable[[PostgresPool], Any]] = {
    "graph-sessions": _sessions_saver,
    "langgraph": _langgraph_saver,
}


async def detect_checkpointer(conn: AsyncConnection[Any]) -> str:
    """``"langgraph"`` for a database whose checkpoints are in LangGraph's tables (and
    not in ours), else ``"graph-sessions"``."""
    cur = await conn.execute(
        "SELECT to_regclass('gs_checkpoints') IS NOT NULL, to_regclass('checkpoints') IS NOT NULL"
    )
    row = await cur.fetchone()
    ours, theirs = (bool(row[0]), bool(row[1])) if row else (False, False)
    if ours or not theirs:
        return "graph-sessions"
    cur = await conn.execute("SELECT EXISTS (SELECT 1 FROM checkpoints)")
    row = await cur.fetchone()
    if not (row and row[0]):
        return "graph-sessions"
    log.info(
        "this database holds LangGraph checkpoints: sessions keep using LangGraph's saver "
        "(open with ?checkpointer=graph-sessions on a new database for the history-flat one)"
    )
    return "langgraph"


def _metadata_leaves(value: dict[str, Any], prefix: list[str]) -> list[tuple[list[str], Any]]:
    """JSON paths and values of a containment filter; nested dicts match key by key."""
    leaves: list[tuple[list[str], Any]] = []
    for key, item in value.items():
        path = [*prefix, str(key)]
        if isinstance(item, dict) and item:
            leaves.extend(_metadata_leaves(item, path))
        else:
            leaves.append((path, item))
    return leaves


class PostgresBackend(Backend):
    """Everything in one Postgres database, through one connection pool."""

    supports_encryption = True

    def __init__(
        self,
        url: str,
        *,
        checkpointer: str = "auto",
        pool_min_size: int = DEFAULT_MIN_SIZE,
        pool_max_size: int = DEFAULT_MAX_SIZE,
        pool_timeout: float = DEFAULT_TIMEOUT,
        idle_in_transaction_timeout: float = DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT,
    ) -> None:
        """``url``: a libpq URL or connection string (its own query parameters, such as
        ``sslmode``, go to libpq). ``checkpointer``: a name in :data:`SAVERS`
        (``"graph-sessions"``: ours, ``graph_sessions.checkpoint.AsyncPostgresSaver``,
        storage and cost per turn independent of the history length; ``"langgraph"``:
        LangGraph's ``AsyncPostgresSaver``) or ``"auto"`` (the default: ours, unless the
        database already holds LangGraph checkpoints, which stay readable). ``pool_*``: the
        connection pool's sizes and how long a request waits for a free connection
        (seconds). ``idle_in_transaction_timeout``: seconds after which the server ends a
        connection of ours idle inside a transaction (a paused replica's locks; 0: never)."""
        if checkpointer != "auto" and checkpointer not in SAVERS:
            raise BackendError(
                f"checkpointer must be 'auto' or one of {sorted(SAVERS)} on Postgres, "
                f"not {checkpointer!r}"
            )
        self.conninfo = url
        self.url = url
        self.checkpointer_kind = checkpointer
        self.connection = PostgresPool(
            url,
            min_size=pool_min_size,
            max_size=pool_max_size,
            timeout=pool_timeout,
            idle_in_transaction_timeout=idle_in_transaction_timeout,
        )
        self.fences: dict[str, tuple[str | None, int]] = {}
        self.admin: AsyncCheckpointAdmin | None = None
        self._cancel_listener = cancels.CancelListener(url)

    # lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:
        if self.connection.is_open:
            return
        await self.connection.open()
        try:
            store = AsyncPostgresStore(self.connection.pool, ttl=dict(DEFAULT_STORE_TTL))  # type: ignore[arg-type]
            # Tables and migrations (the saver's, the store's, ours) under one advisory lock,
            # on a connection of its own: replicas starting together migrate once.
            async with (
                await AsyncConnection.connect(self.conninfo, autocommit=True) as conn,
                migration_lock(conn),
            ):
                if self.checkpointer_kind == "auto":
                    self.checkpointer_kind = await detect_checkpointer(conn)
                saver = SAVERS[self.checkpointer_kind](self.connection)
                saver.fences = self.fences
                encrypt_saver(saver, self.encryption)
                admin = admin_for(saver)
                if not isinstance(admin, AsyncCheckpointAdmin):
                    raise BackendError(f"no Postgres admin adapter for {type(saver).__name__}")
                await saver.setup()
                await store.setup()
                if isinstance(admin, LangGraphPostgresAdmin):
                    for statement in SETUP_STATEMENTS:
                        await conn.execute(statement.encode())
                await migrate(conn)
        except psycopg.Error as exc:
            await self.connection.close()
            raise BackendError(
                f"cannot set up Postgres database {redact(self.conninfo)!r}: {exc}"
            ) from exc
        except BaseException:
            await self.connection.close()
            raise
        self.checkpointer = saver
        self.store = store
        self.admin = admin

    async def close(self) -> None:
        store = getattr(self, "store", None)
        if isinstance(store, AsyncPostgresStore):
            await store.stop_ttl_sweeper(timeout=5)
            stop_store_task(store)  # its batching task, before the pool goes
        await self._cancel_listener.close()
        await self.connection.close()

    async def ping(self) -> bool:
        try:
            async with self.connection.cursor() as cur:
                await cur.execute("SELECT 1")
                row = await cur.fetchone()
            return row is not None and row[0] == 1
        except Exception:
            return False

    def run_stream_relay(self) -> PostgresRunStreams:
        relay: PostgresRunStreams | None = self.__dict__.get("_run_streams")
        if relay is None:
            relay = self.__dict__.setdefault("_run_streams", PostgresRunStreams(self.connection))
        return relay

    def rekey_source(self) -> PostgresRekeySource:
        return PostgresRekeySource(self.connection)

    async def read_setting(self, name: str) -> str | None:
        async with self.connection.cursor() as cur:
            await cur.execute("SELECT to_regclass('gs_settings') IS NOT NULL")
            row = await cur.fetchone()
            if not row or not row[0]:
                return None
            await cur.execute("SELECT value FROM gs_settings WHERE name = %s", (name,))
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def write_setting(self, name: str, value: str) -> None:
        async with self.connection.transaction() as cur:
            await cur.execute(
                "CREATE TABLE IF NOT EXISTS gs_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            await cur.execute(
                "INSERT INTO gs_settings (name, value) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                (name, value),
            )

    async def change_token(self) -> Any:
        # The newest committed event: moves when any process appends to any session's log.
        async with self.connection.cursor() as cur:
            await cur.execute("SELECT MAX(id) FROM session_events")
            row = await cur.fetchone()
        return row[0] if row else None

    async def write_problem(self) -> str | None:
        try:
            async with self.connection.cursor() as cur:
                await cur.execute(
                    "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')"
                )
                row = await cur.fetchone()
        except BackendError as exc:
            return exc.message
        if row is None:
            return None
        if row[0]:
            return "the Postgres server is a read-only standby (in recovery)"
        if row[1] == "on":
            return "the Postgres session is read-only (default_transaction_read_only)"
        return None

    @property
    def _admin(self) -> AsyncCheckpointAdmin:
        if self.admin is None:
            raise BackendError("the Postgres backend is not open")
        return self.admin

    async def schema_version(self) -> int:
        """The highest migration applied to this database."""
        async with self.connection.connection() as conn:
            return await schema_version(conn)

    # registry ------------------------------------------------------------------------
    @staticmethod
    async def _insert_events(
        cur: Cursor, session_id: str, events: Sequence[NewEvent], at: str | None
    ) -> None:
        if events:
            await cur.executemany(
                "INSERT INTO session_events (session_id, type, run_id, at, data) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(session_id, str(e.type), e.run_id, at, dump_json(e.data)) for e in events],
            )

    async def create_session(self, info: SessionInfo, event: NewEvent | None = None) -> bool:
        values = session_values(info)
        async with self.connection.transaction() as cur:
            await cur.execute(
                f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({', '.join(['%s'] * len(values))}) "
                "ON CONFLICT (session_id) DO NOTHING RETURNING 1",
                values,
            )
            if await cur.fetchone() is None:
                return False
            # A thread left without a registry row must not leak into the new session.
            await cur.execute(
                "WITH r AS (DELETE FROM runs WHERE session_id = %s), "
                "p AS (DELETE FROM pending_runs WHERE session_id = %s), "
                "e AS (DELETE FROM session_events WHERE session_id = %s) "
                "DELETE FROM messages WHERE session_id = %s",
                (info.session_id,) * 4,
            )
            await self._admin.adelete_thread(cur, info.session_id)
            if event is not None:
                await self._insert_events(cur, info.session_id, [event], dump_time(info.created_at))
            return True

    async def get_session(self, session_id: str) -> SessionInfo | None:
        async with self.connection.cursor() as cur:
            await cur.execute(
                f"SELECT {SESSION_SELECT} FROM sessions WHERE session_id = %s", (session_id,)
            )
            row = await cur.fetchone()
        return row_to_info(row) if row else None

    async def update_session(
        self,
        session_id: str,
        update: SessionUpdate,
        *,
        events: Sequence[NewEvent] = (),
        expect_status: Sequence[SessionStatus] | None = None,
        expect_revision: int | None = None,
    ) -> SessionInfo | None:
        extra = ""
        extra_params: list[Any] = []
        if expect_status is not None:
            extra = " AND status = ANY(%s)"
            extra_params = [[str(s) for s in expect_status]]
        if expect_revision is not None:
            extra += " AND revision = %s"
            extra_params.append(expect_revision)
        sql, params = update_sql(update.changes(), extra)
        at = dump_time(update.updated_at) if update.updated_at is not UNCHANGED else None
        async with self.connection.transaction() as cur:
            await cur.execute(sql, [*params, session_id, *extra_params])
            row = await cur.fetchone()
            if row is not None:
                await self._insert_events(cur, session_id, events, at or row[7])
        return row_to_info(row) if row else None

    @staticmethod
    def _where(query: SessionQuery) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if query.status:
            status_in = "status = ANY(%s)"
            params.append([str(s) for s in query.status])
            if SessionStatus.EXPIRED in query.status and query.now is not None:
                # Expired by time but not swept yet counts as expired too.
                status_in = f"({status_in} OR ({_EXPIRED_BY_TIME}))"
                params.append(dump_time(query.now))
            clauses.append(status_in)
        for column, value in (
            ("owner", query.owner),
            ("graph_id", query.graph_id),
            ("task_id", query.task_id),
        ):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        if query.id_prefix:  # LIKE with %, _ and \ escaped; session_id is COLLATE "C",
            # so the primary key's btree serves a LIKE on a fixed prefix
            clauses.append("session_id LIKE %s")
            params.append(like_prefix(query.id_prefix))
        for column, op, moment in (
            ("created_at", ">=", query.created_after),
            ("created_at", "<", query.created_before),
            ("updated_at", ">=", query.updated_after),
            ("updated_at", "<", query.updated_before),
        ):
            if moment is not None:
                clauses.append(f"{column} {op} %s")
                params.append(dump_time(moment))
        for path, value in _metadata_leaves(query.metadata or {}, []):
            if value is None:
                clauses.append("jsonb_typeof(metadata #> %s) = 'null'")
                params.append(path)
            else:
                clauses.append("metadata #> %s = %s::jsonb")
                params.extend([path, dump_json(value)])
        if not query.include_expired and query.now is not None:
            clauses.append(f"status <> 'expired' AND NOT ({_EXPIRED_BY_TIME})")
            params.append(dump_time(query.now))
        return clauses, params

    async def list_sessions(self, query: SessionQuery) -> list[SessionInfo]:
        clauses, params = self._where(query)
        column = {
            "created_at": "created_at",
            "updated_at": "updated_at",
            "expires_at": "COALESCE(expires_at, '')",
        }[query.sort]
        direction = "DESC" if query.descending else "ASC"
        if query.cursor is not None:
            op = "<" if query.descending else ">"
            clauses.append(f"({column}, session_id) {op} (%s, %s)")
            params.extend([query.cursor[0] or "", query.cursor[1]])
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = (
            f"SELECT {SESSION_SELECT} FROM sessions {where} "
            f"ORDER BY {column} {direction}, session_id {direction} LIMIT %s"
        )
        params.append(query.limit)
        async with self.connection.cursor() as cur:
            await cur.execute(sql.encode(), params)
            rows = await cur.fetchall()
        return [row_to_info(r) for r in rows]

    async def count_sessions(self, query: SessionQuery) -> int:
        clauses, params = self._where(query)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self.connection.cursor() as cur:
            await cur.execute(f"SELECT COUNT(*) FROM sessions {where}".encode(), params)
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def stats(self, now: datetime) -> SessionStats:
        async with self.connection.cursor() as cur:
            await cur.execute("SELECT status, COUNT(*) FROM sessions GROUP BY status")
            by_status = {str(r[0]): int(r[1]) for r in await cur.fetchall()}
            await cur.execute(
                "SELECT COUNT(*) FILTER (WHERE status = 'expired' OR "
                f"({_EXPIRED_BY_TIME})), MIN(created_at), MAX(created_at) FROM sessions",
                (dump_time(now),),
            )
            expired, oldest, newest = await cur.fetchone() or (0, None, None)
            await cur.execute("SELECT COUNT(*) FROM runs")
            runs = await cur.fetchone()
        return SessionStats(
            total=sum(by_status.values()),
            by_status=by_status,
            expired=int(expired),
            oldest_created_at=load_time(oldest),
            newest_created_at=load_time(newest),
            runs_total=int(runs[0]) if runs else 0,
        )

    async def delete_session(
        self, session_id: str, *, only_if_expired_at: datetime | None = None
    ) -> bool:
        async with self.connection.transaction() as cur:
            if only_if_expired_at is not None:
                await cur.execute(
                    "DELETE FROM sessions WHERE session_id = %s AND status <> 'running' "
                    "AND (status = 'expired' OR (expires_at IS NOT NULL AND expires_at <= %s)) "
                    "RETURNING 1",
                    (session_id, dump_time(only_if_expired_at)),
                )
            else:
                await cur.execute(
                    "DELETE FROM sessions WHERE session_id = %s RETURNING 1", (session_id,)
                )
            deleted = await cur.fetchone() is not None
            if only_if_expired_at is not None and not deleted:
                return False
            await cur.execute(
                "WITH r AS (DELETE FROM runs WHERE session_id = %s RETURNING 1), "
                "p AS (DELETE FROM pending_runs WHERE session_id = %s RETURNING 1), "
                "e AS (DELETE FROM session_events WHERE session_id = %s RETURNING 1), "
                "m AS (DELETE FROM messages WHERE session_id = %s RETURNING 1) "
                "SELECT (SELECT COUNT(*) FROM r) + (SELECT COUNT(*) FROM p) "
                "+ (SELECT COUNT(*) FROM e) + (SELECT COUNT(*) FROM m)",
                (session_id, session_id, session_id, session_id),
            )
            counted = await cur.fetchone()
            n = int(counted[0]) if counted else 0
            n += await self._admin.adelete_thread(cur, session_id)
            await cur.execute("DELETE FROM crons WHERE thread_id = %s", (session_id,))
            return deleted or n > 0

    async def find_expired(self, now: datetime, limit: int) -> list[SessionInfo]:
        async with self.connection.cursor() as cur:
            await cur.execute(
                f"SELECT {SESSION_SELECT} FROM sessions WHERE expires_at IS NOT NULL "
                "AND expires_at <= %s AND status NOT IN ('running', 'expired') "
                "ORDER BY expires_at LIMIT %s",
                (dump_time(now), limit),
            )
            rows = await cur.fetchall()
        return [row_to_info(r) for r in rows]

    async def find_running(self, lapsed_at: datetime | None = None) -> list[SessionInfo]:
        sql = f"SELECT {SESSION_SELECT} FROM sessions WHERE status = 'running'"
        params: tuple[Any, ...] = ()
        if lapsed_at is not None:
            sql += " AND (lease_expires_at IS NULL OR lease_expires_at <= %s)"
            params = (dump_time(lapsed_at),)
        async with self.connection.cursor() as cur:
            await cur.execute(sql, params)
            rows = await cur.fetchall()
        return [row_to_info(r) for r in rows]

    # runs ----------------------------------------------------------------------------
    async def begin_run(
        self,
        session_id: str,
        run: RunInfo,
        start: RunStart,
        *,
        expect_revision: int,
        events: Sequence[NewEvent] = (),
        queue: QueueCheck | None = None,
    ) -> RunBegun | None:
        where = " AND revision = %s"
        extra: list[Any] = [expect_revision]
        if queue is not None:
            where += (
                " AND NOT EXISTS (SELECT 1 FROM run_tickets t WHERE t.session_id = %s "
                "AND t.expires_at > %s AND t.owner <> %s AND t.seq < %s)"
            )
            extra += [session_id, dump_time(queue.now), queue.owner, queue.position]
        sql, params = update_sql(start.changes(), where, raw_sets=["lease_epoch = lease_epoch + 1"])
        at = dump_time(run.started_at)
        admin = self._admin
        async with self.connection.transaction() as cur:
            # The row first: its lock orders this run against racing starts and fenced
            # writes, so the latest checkpoint read after it is the one the run starts from.
            await cur.execute(sql, [*params, session_id, *extra])
            row = await cur.fetchone()
            if row is None:
                return None
            if queue is not None and queue.ticket is not None:
                await cur.execute("DELETE FROM run_tickets WHERE seq = %s", (queue.ticket,))
            before, mark = await admin.arun_start(cur, session_id)
            await cur.execute(
                "INSERT INTO runs (run_id, session_id, status, kind, multitask, started_at, "
                "checkpoint_before) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (run.run_id, session_id, str(run.status), run.kind, run.multitask, at, before),
            )
            await cur.execute("DELETE FROM pending_runs WHERE run_id = %s", (run.run_id,))
            await self._insert_events(cur, session_id, events, at)
        recorded = run.model_copy(update={"checkpoint_before": before, "writes_mark": mark})
        return RunBegun(row_to_info(row), recorded)

    async def finish_run(
        self,
        session_id: str,
        run_id: str,
        finish: RunFinish,
        *,
        events: Sequence[NewEvent] = (),
        expect_lease: str | None = None,
        expect_epoch: int | None = None,
    ) -> tuple[SessionInfo | None, str | None]:
        extra = " AND lease_owner = %s" if expect_lease is not None else ""
        where: list[Any] = [session_id] + ([expect_lease] if expect_lease is not None else [])
        if expect_epoch is not None:
            extra += " AND lease_epoch = %s"
            where.append(expect_epoch)
        at = dump_time(finish.updated_at)
        update = finish.changes()
        async with self.connection.transaction() as cur:
            if finish.slide_ttl:
                # The TTL as it is now (it may have changed during the run) decides the
                # expiry; the row is locked so that it cannot change before the update.
                await cur.execute(
                    "SELECT ttl, ttl_mode FROM sessions WHERE session_id = %s FOR UPDATE",
                    (session_id,),
                )
                current = await cur.fetchone()
                if current is not None and current[0] is not None and current[1] == "sliding":
                    expires_at = finish.updated_at + timedelta(seconds=current[0])
                    update = {**update, "expires_at": expires_at}
            sql, params = update_sql(update, extra)
            await cur.execute(sql, [*params, *where])
            row = await cur.fetchone()
            if row is None and expect_lease is not None:
                return None, None
            checkpoint_after = await self._admin.alatest_id(cur, session_id)
            await cur.execute(
                "UPDATE runs SET status = %s, finished_at = %s, error = %s, checkpoint_after = %s "
                "WHERE run_id = %s",
                (str(finish.run_status), at, finish.error, checkpoint_after, run_id),
            )
            await self._insert_events(cur, session_id, events, at)
        return (row_to_info(row) if row else None), checkpoint_after

    async def renew_lease(
        self, session_id: str, lease_owner: str, epoch: int, expires_at: datetime
    ) -> bool:
        async with self.connection.cursor() as cur:
            await cur.execute(
                "UPDATE sessions SET lease_expires_at = %s WHERE session_id = %s "
                "AND status = 'running' AND lease_owner = %s AND lease_epoch = %s",
                (dump_time(expires_at), session_id, lease_owner, epoch),
            )
            return cur.rowcount > 0

    async def list_runs(self, session_id: str, limit: int = 50) -> list[RunInfo]:
        async with self.connection.cursor() as cur:
            await cur.execute(
                f"SELECT {RUN_SELECT} FROM runs WHERE session_id = %s "
                "ORDER BY started_at DESC, seq DESC LIMIT %s",
                (session_id, limit),
            )
            rows = await cur.fetchall()
        return [row_to_run(r) for r in rows]

    # pending runs (storage/postgres/pending.py) ------------------------------------------
    # cancel requests (storage/postgres/cancels.py) -------------------------------------
    #: notifications wake the waiters; this poll is the fallback
    cancel_poll_interval = 2.0

    async def request_cancel(
        self, session_id: str, run_id: str, action: str, requested_at: datetime
    ) -> bool:
        async with self.connection.transaction() as cur:
            return await cancels.request(cur, session_id, run_id, action, requested_at)

    async def take_cancel_requests(self, run_ids: Sequence[str]) -> dict[str, str]:
        if not run_ids:
            return {}
        async with self.connection.cursor() as cur:
            return await cancels.take(cur, run_ids)

    async def wait_cancel_request(self, timeout: float) -> None:
        await self._cancel_listener.wait(timeout)

    # queue tickets ---------------------------------------------------------------------
    async def take_ticket(self, session_id: str, owner: str, expires_at: datetime) -> int:
        async with self.connection.cursor() as cur:
            await cur.execute(
                "INSERT INTO run_tickets (session_id, owner, expires_at) VALUES (%s, %s, %s) "
                "RETURNING seq",
                (session_id, owner, dump_time(expires_at)),
            )
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def renew_tickets(
        self, owner: str, expires_at: datetime, tickets: Sequence[int] | None = None
    ) -> int:
        if tickets is not None and not tickets:
            return 0
        async with self.connection.cursor() as cur:
            if tickets is None:
                await cur.execute(
                    "UPDATE run_tickets SET expires_at = %s WHERE owner = %s",
                    (dump_time(expires_at), owner),
                )
            else:
                await cur.execute(
                    "UPDATE run_tickets SET expires_at = %s WHERE owner = %s AND seq = ANY(%s)",
                    (dump_time(expires_at), owner, list(tickets)),
                )
            return int(cur.rowcount)

    async def drop_ticket(self, ticket: int) -> None:
        async with self.connection.cursor() as cur:
            await cur.execute("DELETE FROM run_tickets WHERE seq = %s", (ticket,))

    async def add_pending_run(self, pending_run: PendingRun) -> bool:
        async with self.connection.transaction() as cur:
            return await pending.add(cur, pending_run)

    async def list_pending_runs(self, session_id: str | None = None) -> list[PendingRun]:
        async with self.connection.cursor() as cur:
            return await pending.listing(cur, session_id)

    async def claim_pending_run(
        self,
        run_id: str,
        claimed_by: str,
        claimed_until: datetime,
        *,
        expect_by: str | None,
        expect_until: datetime | None,
    ) -> bool:
        async with self.connection.transaction() as cur:
            return await pending.claim(
                cur, run_id, claimed_by, claimed_until, expect_by, expect_until
            )

    async def renew_pending_claims(self, claimed_by: str, claimed_until: datetime) -> list[str]:
        async with self.connection.transaction() as cur:
            return await pending.renew(cur, claimed_by, claimed_until)

    async def delete_pending_run(self, run_id: str) -> bool:
        async with self.connection.transaction() as cur:
            return await pending.delete(cur, run_id)

    # events --------------------------------------------------------------------------
    async def append_events(
        self, session_id: str, events: Sequence[NewEvent], at: datetime
    ) -> bool:
        async with self.connection.transaction() as cur:
            # Locked: a session's events get their ids in the order they commit.
            await cur.execute(
                "SELECT 1 FROM sessions WHERE session_id = %s FOR NO KEY UPDATE", (session_id,)
            )
            if await cur.fetchone() is None:
                return False
            await self._insert_events(cur, session_id, events, dump_time(at))
            return True

    async def list_events(
        self, session_id: str, *, after_id: int | None = None, limit: int = 100
    ) -> list[Event]:
        async with self.connection.cursor() as cur:
            await cur.execute(
                f"SELECT {EVENT_SELECT} FROM session_events "
                "WHERE session_id = %s AND id > %s ORDER BY id LIMIT %s",
                (session_id, after_id or 0, limit),
            )
            rows = await cur.fetchall()
        return [row_to_event(r) for r in rows]

    # messages ------------------------------------------------------------------------
    async def append_messages(
        self, session_id: str, messages: Sequence[NewMessage], at: datetime | None = None
    ) -> list[int]:
        stamp = dump_time(at or utcnow())
        rows = [message_values(session_id, m.role, m.content, m.data, stamp) for m in messages]
        if not rows:
            return []
        params = [
            v
            for r in rows
            for v in (r[0], r[1], r[2].decode() if isinstance(r[2], bytes) else r[2], *r[3:])
        ]
        async with self.connection.cursor() as cur:
            # One statement (one transaction): ids come from the sequence in row order.
            await cur.execute(
                "INSERT INTO messages (session_id, role, content, data, created_at) VALUES "
                + ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))
                + " RETURNING id",
                params,
            )
            return sorted(int(r[0]) for r in await cur.fetchall())

    async def load_messages(
        self, session_id: str, *, limit: int | None = None, before_id: int | None = None
    ) -> list[Message]:
        sql = f"SELECT {MESSAGE_SELECT} FROM messages WHERE session_id = %s"
        params: list[Any] = [session_id]
        if before_id is not None:
            sql += " AND id < %s"
            params.append(before_id)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        async with self.connection.cursor() as cur:
            await cur.execute(sql.encode(), params)
            rows = await cur.fetchall()
        return [row_to_message(r) for r in reversed(rows)]

    async def clear_messages(self, session_id: str) -> int:
        async with self.connection.cursor() as cur:
            await cur.execute("DELETE FROM messages WHERE session_id = %s", (session_id,))
            return cur.rowcount

    async def message_summary(self, session_id: str) -> MessageSummary:
        async with self.connection.cursor() as cur:
            await cur.execute(
                "SELECT role, COUNT(*), MIN(created_at) FROM messages WHERE session_id = %s "
                "GROUP BY role",
                (session_id,),
            )
            groups = await cur.fetchall()
            await cur.execute(
                f"SELECT {MESSAGE_SELECT} FROM messages WHERE session_id = %s "
                "ORDER BY id DESC LIMIT 1",
                (session_id,),
            )
            last = await cur.fetchone()
        by_role = {str(g[0]): int(g[1]) for g in groups}
        first = min((g[2] for g in groups), default=None)
        return MessageSummary(
            count=sum(by_role.values()),
            by_role=by_role,
            first_at=load_time(first),
            last_at=load_time(last[5]) if last else None,
            last_message=row_to_message(last) if last else None,
        )

    # checkpoints ---------------------------------------------------------------------
    async def latest_checkpoint_id(self, session_id: str) -> str | None:
        async with self.connection.cursor() as cur:
            return await self._admin.alatest_id(cur, session_id)

    async def delete_checkpoints_after(
        self, session_id: str, checkpoint_id: str | None, *, writes_mark: int | None = None
    ) -> None:
        admin = self._admin
        async with self.connection.transaction() as cur:
            # A run rolling back its own steps must still hold the session (fencing).
            await check_fence(cur, self.fences, session_id)
            await admin.adelete_after(cur, session_id, checkpoint_id, writes_mark=writes_mark)

    async def copy_checkpoints(self, source_id: str, target_id: str) -> None:
        async with self.connection.transaction() as cur:
            await self._admin.acopy_thread(cur, source_id, target_id)

    async def prune_checkpoints(self, session_id: str, keep: int) -> int:
        async with self.connection.transaction() as cur:
            return await self._admin.akeep_newest(cur, session_id, keep)

    # assistants (storage/postgres/assistants.py) ---------------------------------------
    async def create_assistant(self, info: AssistantInfo) -> bool:
        async with self.connection.transaction() as cur:
            return await assistants.create(cur, info)

    async def get_assistant(self, assistant_id: str) -> AssistantInfo | None:
        async with self.connection.cursor() as cur:
            return await assistants.get(cur, assistant_id)

    async def list_assistants(self) -> list[AssistantInfo]:
        async with self.connection.cursor() as cur:
            return await assistants.list_all(cur)

    async def add_assistant_version(self, info: AssistantInfo) -> bool:
        async with self.connection.transaction() as cur:
            return await assistants.add_version(cur, info)

    async def set_assistant_version(
        self, assistant_id: str, version: int, updated_at: datetime
    ) -> AssistantInfo | None:
        async with self.connection.transaction() as cur:
            return await assistants.set_version(cur, assistant_id, version, updated_at)

    async def list_assistant_versions(self, assistant_id: str) -> list[AssistantInfo]:
        async with self.connection.cursor() as cur:
            return await assistants.versions(cur, assistant_id)

    async def delete_assistant(self, assistant_id: str) -> bool:
        async with self.connection.transaction() as cur:
            return await assistants.delete(cur, assistant_id)

    # crons (storage/postgres/crons.py) -----------------------------------------------
    async def create_cron(self, info: CronInfo) -> bool:
        async with self.connection.transaction() as cur:
            return await crons.create(cur, info)

    async def get_cron(self, cron_id: str) -> CronInfo | None:
        async with self.connection.cursor() as cur:
            return await crons.get(cur, cron_id)

    async def list_crons(
        self, *, owner: str | None = None, thread_id: str | None = None
    ) -> list[CronInfo]:
        async with self.connection.cursor() as cur:
            return await crons.list_some(cur, owner, thread_id)

    async def update_cron(self, info: CronInfo) -> bool:
        async with self.connection.transaction() as cur:
            return await crons.update(cur, info)

    async def delete_cron(self, cron_id: str) -> bool:
        async with self.connection.transaction() as cur:
            return await crons.delete(cur, cron_id)

    async def due_crons(self, now: datetime, limit: int = 100) -> list[CronInfo]:
        async with self.connection.cursor() as cur:
            return await crons.due(cur, now, limit)

    async def claim_cron(self, cron_id: str, seen: datetime, next_run_date: datetime) -> bool:
        async with self.connection.transaction() as cur:
            return await crons.claim(cur, cron_id, seen, next_run_date)

    # restore (export/import) ---------------------------------------------------------
    async def restore_session(self, record: SessionRecord) -> bool:
        values = session_values(record.row())
        sid = record.info.session_id
        runs = [
            (
                r.run_id,
                sid,
                str(r.status),
                r.kind,
                r.multitask,
                dump_time(r.started_at),
                dump_time(r.finished_at),
                r.error,
                r.checkpoint_before,
                r.checkpoint_after,
            )
            for r in record.runs
        ]
        events = [
            (sid, str(e.type), e.run_id, dump_time(e.at), dump_json(e.data)) for e in record.events
        ]
        messages = []
        for m in record.messages:
            row = message_values(sid, m.role, m.content, m.data, dump_time(m.created_at))
            content = row[2].decode() if isinstance(row[2], bytes) else row[2]
            messages.append((row[0], row[1], content, *row[3:]))
        async with self.connection.transaction() as cur:
            await cur.execute(
                f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({', '.join(['%s'] * len(values))}) "
                "ON CONFLICT (session_id) DO NOTHING RETURNING 1",
                values,
            )
            if await cur.fetchone() is None:
                return False
            await cur.execute(
                "WITH r AS (DELETE FROM runs WHERE session_id = %s), "
                "p AS (DELETE FROM pending_runs WHERE session_id = %s), "
                "e AS (DELETE FROM session_events WHERE session_id = %s) "
                "DELETE FROM messages WHERE session_id = %s",
                (sid,) * 4,
            )
            # executemany keeps the order: ids of events and messages grow as listed
            if runs:
                await cur.executemany(
                    "INSERT INTO runs (run_id, session_id, status, kind, multitask, started_at, "
                    "finished_at, error, checkpoint_before, checkpoint_after) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    runs,
                )
            if events:
                await cur.executemany(
                    "INSERT INTO session_events (session_id, type, run_id, at, data) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    events,
                )
            if messages:
                await cur.executemany(
                    "INSERT INTO messages (session_id, role, content, data, created_at) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    messages,
                )
            return True

    def __repr__(self) -> str:
        return f"PostgresBackend({redact(self.conninfo)!r})"
