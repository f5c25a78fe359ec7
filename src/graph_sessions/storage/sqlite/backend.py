"""SQLite backend: the embedded default. One file holds everything.

The registry, LangGraph's checkpointer and LangGraph's store share one connection and one
lock (``connection.py``). The file runs in WAL mode with ``synchronous=NORMAL`` by default:
a committed transaction survives a process crash; a power loss can drop the last few
commits but never corrupts the file. Pass ``synchronous=FULL`` in the URL query
(``sqlite:///app.db?synchronous=FULL``) to survive power loss too, at a cost per commit.

The checkpoint tables belong to the saver: this module reaches them only through the
saver's :class:`~graph_sessions.storage.checkpoints.CheckpointAdmin`.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from graph_sessions.checkpoint.schema import CHECKPOINTS as GS_CHECKPOINTS
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
    prefix_upper_bound,
)
from graph_sessions.storage.checkpoints import CheckpointAdmin, admin_for, langgraph_sqlite
from graph_sessions.storage.codec import dump_json, dump_time, load_time
from graph_sessions.storage.encryption import encrypt_saver
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
from graph_sessions.storage.sqlite import assistants, crons, pending
from graph_sessions.storage.sqlite.connection import SqliteConnection
from graph_sessions.storage.sqlite.fencing import (
    FencedLangGraphSaver,
    FencedSessionsSaver,
    check_fence,
    immediate_tx,
)
from graph_sessions.storage.sqlite.rekey import SqliteRekeySource
from graph_sessions.storage.sqlite.rows import (
    EVENT_COLUMNS,
    MESSAGE_COLUMNS,
    message_values,
    row_to_event,
    row_to_info,
    row_to_message,
    row_to_run,
    session_values,
    update_sql,
)
from graph_sessions.storage.sqlite.run_streams import SqliteRunStreams
from graph_sessions.storage.sqlite.schema import SESSION_COLUMNS, migrate, schema_version
from graph_sessions.storage.sqlite.store import SessionsSqliteStore

T = TypeVar("T")
log = logging.getLogger("graph_sessions.storage")

# A session whose TTL passed (one parameter: now); a running one is never expired.
_EXPIRED_BY_TIME = "status != 'running' AND expires_at IS NOT NULL AND expires_at <= ?"


def _metadata_leaves(value: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    """JSON paths and values of a containment filter; nested dicts match key by key."""
    leaves: list[tuple[str, Any]] = []
    for key, item in value.items():
        path = prefix + '."' + str(key).replace('"', '\\"') + '"'
        if isinstance(item, dict) and item:
            leaves.extend(_metadata_leaves(item, path))
        else:
            leaves.append((path, item))
    return leaves


def _detect_checkpointer(conn: sqlite3.Connection) -> str:
    """``"langgraph"`` for a file whose sessions are in LangGraph's checkpoint tables
    (and not in ours), else ``"graph-sessions"``."""
    ours = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (GS_CHECKPOINTS,)
    ).fetchone()
    if ours is not None or not langgraph_sqlite.holds_checkpoints(conn):
        return "graph-sessions"
    log.info(
        "this database holds LangGraph checkpoints: sessions keep using LangGraph's "
        "saver (open with ?checkpointer=graph-sessions on a new file for the "
        "history-flat one)"
    )
    return "langgraph"


class SqliteBackend(Backend):
    """Everything in one SQLite file (or ``:memory:``)."""

    supports_encryption = True

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "NORMAL",
        checkpointer: str = "auto",
        share_values: bool = False,
    ) -> None:
        """``checkpointer``: ``"graph-sessions"`` (``graph_sessions.checkpoint``: tables
        ``gs_checkpoint*``, storage and cost per turn independent of the history length),
        ``"langgraph"`` (LangGraph's ``AsyncSqliteSaver``, tables ``checkpoints``/``writes``)
        or ``"auto"`` (the default): ``"graph-sessions"``, unless the file already holds
        LangGraph checkpoints (written by an earlier version), which stay readable.

        ``share_values``: our saver's opt-in ``share_values`` (reads hand out the list
        elements it keeps instead of copies; nothing may mutate a message in place)."""
        if checkpointer not in ("auto", "langgraph", "graph-sessions"):
            raise BackendError(
                "checkpointer must be 'auto', 'graph-sessions' or 'langgraph', "
                f"not {checkpointer!r}"
            )
        if share_values and checkpointer == "langgraph":
            raise BackendError(
                "share_values needs graph-sessions' saver, not checkpointer=langgraph"
            )
        self.checkpointer_kind = checkpointer
        self.share_values = share_values
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise BackendError(
                f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}"
            )
        self.synchronous = synchronous.upper()
        self.connection = SqliteConnection(self.path, synchronous=self.synchronous)
        self.fences: dict[str, tuple[str | None, int]] = {}
        self.admin: CheckpointAdmin[sqlite3.Connection] | None = None

    # lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:
        if self.connection.is_open:
            return
        try:
            db = await self.connection.open()
            if self.checkpointer_kind == "auto":
                self.checkpointer_kind = await self._call(_detect_checkpointer)
            if self.checkpointer_kind == "graph-sessions":
                # synchronous=None: the backend's own setting above stays in force.
                saver: Any = FencedSessionsSaver(
                    db, synchronous=None, share_values=self.share_values
                )
            elif self.share_values:
                raise BackendError(
                    f"share_values needs graph-sessions' saver, but {self.path!r} holds "
                    "LangGraph checkpoints"
                )
            else:
                saver = FencedLangGraphSaver(db)
            saver.fences = self.fences
            encrypt_saver(saver, self.encryption)
            # One lock for every user of the connection: registry, checkpointer and store.
            saver.lock = self.connection.lock
            self.checkpointer = saver
            self.admin = admin_for(saver)
            await saver.setup()
            self.store = SessionsSqliteStore(db)
            self.store.lock = self.connection.lock
            await self.store.setup()
            await self._call(migrate)
        except sqlite3.DatabaseError as exc:
            await self.close()
            raise BackendError(f"cannot open SQLite database {self.path!r}: {exc}") from exc

    async def close(self) -> None:
        store = getattr(self, "store", None)
        if isinstance(store, SessionsSqliteStore):
            await store.stop_ttl_sweeper(timeout=5)
        await self.connection.close(store)

    async def ping(self) -> bool:
        try:
            return await self._call(lambda c: c.execute("SELECT 1").fetchone()[0] == 1)
        except Exception:
            return False

    def run_stream_relay(self) -> SqliteRunStreams | None:
        if self.path == ":memory:":  # no other process can open it
            return None
        relay: SqliteRunStreams | None = self.__dict__.get("_run_streams")
        if relay is None:
            relay = self.__dict__.setdefault("_run_streams", SqliteRunStreams(self.connection))
        return relay

    def rekey_source(self) -> SqliteRekeySource:
        return SqliteRekeySource(self.connection)

    async def read_setting(self, name: str) -> str | None:
        def read(c: sqlite3.Connection) -> str | None:
            if not c.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gs_settings'"
            ).fetchone():
                return None
            row = c.execute("SELECT value FROM gs_settings WHERE name = ?", (name,)).fetchone()
            return None if row is None else str(row[0])

        return await self._call(read)

    async def write_setting(self, name: str, value: str) -> None:
        def write(c: sqlite3.Connection) -> None:
            c.execute(
                "CREATE TABLE IF NOT EXISTS gs_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            c.execute(
                "INSERT OR REPLACE INTO gs_settings (name, value) VALUES (?, ?)", (name, value)
            )

        await self._call(lambda c: self._tx(c, write))

    async def change_token(self) -> Any:
        # Changes when another connection (another process) commits; ours do not move it.
        return await self._call(lambda c: c.execute("PRAGMA data_version").fetchone()[0])

    async def write_problem(self) -> str | None:
        def probe(c: sqlite3.Connection) -> str | None:
            # A write that changes nothing, rolled back: SQLite refuses it at once on a
            # read-only file or connection. Never wait for another writer's lock here: a busy
            # database takes writes.
            timeout = int(c.execute("PRAGMA busy_timeout").fetchone()[0])
            c.execute("PRAGMA busy_timeout=0")
            try:
                c.execute("BEGIN")
                try:
                    c.execute("UPDATE sessions SET status = status WHERE 0")
                finally:
                    with contextlib.suppress(sqlite3.Error):
                        c.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                text = str(exc)
                return None if "locked" in text or "busy" in text else text
            finally:
                c.execute(f"PRAGMA busy_timeout={timeout}")
            return None

        try:
            return await self._call(probe)
        except BackendError as exc:
            return exc.message

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` on the connection's thread under the shared lock (``SqliteConnection.call``)."""
        return await self.connection.call(fn)

    _tx = staticmethod(immediate_tx)

    @property
    def _admin(self) -> CheckpointAdmin[sqlite3.Connection]:
        if self.admin is None:
            raise BackendError("the SQLite backend is not open")
        return self.admin

    async def schema_version(self) -> int:
        """The highest migration applied to this database."""
        return await self._call(schema_version)

    # registry ------------------------------------------------------------------------
    @staticmethod
    def _insert_events(
        conn: sqlite3.Connection, session_id: str, events: Sequence[NewEvent], at: str | None
    ) -> None:
        if events:
            conn.executemany(
                "INSERT INTO session_events (session_id, type, run_id, at, data) VALUES (?, ?, ?, ?, ?)",
                [(session_id, str(e.type), e.run_id, at, dump_json(e.data)) for e in events],
            )

    async def create_session(self, info: SessionInfo, event: NewEvent | None = None) -> bool:
        values = session_values(info)

        def run(conn: sqlite3.Connection) -> bool:
            def body(c: sqlite3.Connection) -> bool:
                cur = c.execute(
                    f"INSERT OR IGNORE INTO sessions ({SESSION_COLUMNS}) VALUES ({', '.join('?' * len(values))})",
                    values,
                )
                if cur.rowcount == 0:
                    return False
                # A thread left without a registry row must not leak into the new session.
                for table in ("runs", "pending_runs", "session_events", "messages"):
                    c.execute(f"DELETE FROM {table} WHERE session_id = ?", (info.session_id,))
                self._admin.delete_thread(c, info.session_id)
                if event is not None:
                    self._insert_events(c, info.session_id, [event], dump_time(info.created_at))
                return True

            return self._tx(conn, body)

        return await self._call(run)

    async def get_session(self, session_id: str) -> SessionInfo | None:
        row = await self._call(
            lambda c: c.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
        )
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
            extra = f" AND status IN ({', '.join('?' * len(expect_status))})"
            extra_params = [str(s) for s in expect_status]
        if expect_revision is not None:
            extra += " AND revision = ?"
            extra_params.append(expect_revision)
        sql, params = update_sql(update.changes(), extra)
        at = dump_time(update.updated_at) if update.updated_at is not UNCHANGED else None

        def body(c: sqlite3.Connection) -> Any:
            row = c.execute(sql, [*params, session_id, *extra_params]).fetchone()
            if row is not None:
                self._insert_events(c, session_id, events, at or row[7])
            return row

        row = await self._call(lambda conn: self._tx(conn, body))
        return row_to_info(row) if row else None

    @staticmethod
    def _where(query: SessionQuery) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if query.status:
            status_in = f"status IN ({', '.join('?' * len(query.status))})"
            params.extend(str(s) for s in query.status)
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
                clauses.append(f"{column} = ?")
                params.append(value)
        if query.id_prefix:  # a range on the primary key: no LIKE, nothing to escape
            clauses.append("session_id >= ?")
            params.append(query.id_prefix)
            bound = prefix_upper_bound(query.id_prefix)
            if bound is not None:
                clauses.append("session_id < ?")
                params.append(bound)
        for column, op, moment in (
            ("created_at", ">=", query.created_after),
            ("created_at", "<", query.created_before),
            ("updated_at", ">=", query.updated_after),
            ("updated_at", "<", query.updated_before),
        ):
            if moment is not None:
                clauses.append(f"{column} {op} ?")
                params.append(dump_time(moment))
        for path, value in _metadata_leaves(query.metadata or {}, "$"):
            if isinstance(value, list | dict):
                clauses.append("json(json_extract(metadata, ?)) = json(?)")
                params.extend([path, dump_json(value)])
            elif value is None:
                clauses.append("json_type(metadata, ?) = 'null'")
                params.append(path)
            else:
                clauses.append("json_extract(metadata, ?) = ?")
                params.extend([path, int(value) if isinstance(value, bool) else value])
        if not query.include_expired and query.now is not None:
            clauses.append(f"status != 'expired' AND NOT ({_EXPIRED_BY_TIME})")
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
            clauses.append(f"({column}, session_id) {op} (?, ?)")
            params.extend([query.cursor[0] or "", query.cursor[1]])
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = (
            f"SELECT {SESSION_COLUMNS} FROM sessions {where} "
            f"ORDER BY {column} {direction}, session_id {direction} LIMIT ?"
        )
        params.append(query.limit)
        rows = await self._call(lambda c: c.execute(sql, params).fetchall())
        return [row_to_info(r) for r in rows]

    async def count_sessions(self, query: SessionQuery) -> int:
        clauses, params = self._where(query)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return await self._call(
            lambda c: c.execute(f"SELECT COUNT(*) FROM sessions {where}", params).fetchone()[0]
        )

    async def stats(self, now: datetime) -> SessionStats:
        at = dump_time(now)

        def run(c: sqlite3.Connection) -> SessionStats:
            by_status = dict(
                c.execute("SELECT status, COUNT(*) FROM sessions GROUP BY status").fetchall()
            )
            expired = c.execute(
                f"SELECT COUNT(*) FROM sessions WHERE status = 'expired' OR ({_EXPIRED_BY_TIME})",
                (at,),
            ).fetchone()[0]
            oldest, newest = c.execute(
                "SELECT MIN(created_at), MAX(created_at) FROM sessions"
            ).fetchone()
            runs_total = c.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            return SessionStats(
                total=sum(by_status.values()),
                by_status=by_status,
                expired=expired,
                oldest_created_at=load_time(oldest),
                newest_created_at=load_time(newest),
                runs_total=runs_total,
            )

        return await self._call(run)

    async def delete_session(
        self, session_id: str, *, only_if_expired_at: datetime | None = None
    ) -> bool:
        def body(c: sqlite3.Connection) -> bool:
            if only_if_expired_at is not None:
                cur = c.execute(
                    "DELETE FROM sessions WHERE session_id = ? AND status != 'running' "
                    "AND (status = 'expired' OR (expires_at IS NOT NULL AND expires_at <= ?))",
                    (session_id, dump_time(only_if_expired_at)),
                )
            else:
                cur = c.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
            deleted = cur.rowcount > 0
            if only_if_expired_at is not None and not deleted:
                return False
            n = 0
            for table in ("runs", "pending_runs", "session_events", "messages"):
                n += c.execute(f"DELETE FROM {table} WHERE session_id = ?", (session_id,)).rowcount
            n += self._admin.delete_thread(c, session_id)
            c.execute("DELETE FROM crons WHERE thread_id = ?", (session_id,))
            return deleted or n > 0

        return await self._call(lambda conn: self._tx(conn, body))

    async def find_expired(self, now: datetime, limit: int) -> list[SessionInfo]:
        rows = await self._call(
            lambda c: c.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE expires_at IS NOT NULL AND expires_at <= ? "
                "AND status NOT IN ('running', 'expired') ORDER BY expires_at LIMIT ?",
                (dump_time(now), limit),
            ).fetchall()
        )
        return [row_to_info(r) for r in rows]

    async def find_running(self, lapsed_at: datetime | None = None) -> list[SessionInfo]:
        sql = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE status = 'running'"
        params: tuple[Any, ...] = ()
        if lapsed_at is not None:
            sql += " AND (lease_expires_at IS NULL OR lease_expires_at <= ?)"
            params = (dump_time(lapsed_at),)
        rows = await self._call(lambda c: c.execute(sql, params).fetchall())
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
        where = " AND revision = ?"
        extra: list[Any] = [expect_revision]
        if queue is not None:
            where += (
                " AND NOT EXISTS (SELECT 1 FROM run_tickets t WHERE t.session_id = ? "
                "AND t.expires_at > ? AND t.owner <> ? AND t.seq < ?)"
            )
            extra += [session_id, dump_time(queue.now), queue.owner, queue.position]
        sql, params = update_sql(start.changes(), where, raw_sets=["lease_epoch = lease_epoch + 1"])
        at = dump_time(run.started_at)

        def body(c: sqlite3.Connection) -> tuple[Any, str | None, int | None] | None:
            before = self._admin.latest_id(c, session_id)
            row = c.execute(sql, [*params, session_id, *extra]).fetchone()
            if row is None:
                return None
            if queue is not None and queue.ticket is not None:
                c.execute("DELETE FROM run_tickets WHERE seq = ?", (queue.ticket,))
            mark = self._admin.writes_mark(c, session_id, before)
            c.execute(
                "INSERT INTO runs (run_id, session_id, status, kind, multitask, started_at, checkpoint_before) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run.run_id, session_id, str(run.status), run.kind, run.multitask, at, before),
            )
            pending.delete(c, run.run_id)
            self._insert_events(c, session_id, events, at)
            return row, before, mark

        done = await self._call(lambda conn: self._tx(conn, body))
        if done is None:
            return None
        row, before, mark = done
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
        extra = " AND lease_owner = ?" if expect_lease is not None else ""
        where: list[Any] = [session_id] + ([expect_lease] if expect_lease is not None else [])
        if expect_epoch is not None:
            extra += " AND lease_epoch = ?"
            where.append(expect_epoch)
        at = dump_time(finish.updated_at)
        changes = finish.changes()

        def body(c: sqlite3.Connection) -> tuple[Any, str | None]:
            update = changes
            if finish.slide_ttl:
                # The TTL as it is now (it may have changed during the run) decides the expiry;
                # without a sliding TTL the row's expiry stays as it is.
                current = c.execute(
                    "SELECT ttl, ttl_mode FROM sessions WHERE session_id = ?", (session_id,)
                ).fetchone()
                if current is not None and current[0] is not None and current[1] == "sliding":
                    expires_at = finish.updated_at + timedelta(seconds=current[0])
                    update = {**changes, "expires_at": expires_at}
            sql, params = update_sql(update, extra)
            row = c.execute(sql, [*params, *where]).fetchone()
            if row is None and expect_lease is not None:
                return None, None
            checkpoint_after = self._admin.latest_id(c, session_id)
            c.execute(
                "UPDATE runs SET status = ?, finished_at = ?, error = ?, checkpoint_after = ? WHERE run_id = ?",
                (str(finish.run_status), at, finish.error, checkpoint_after, run_id),
            )
            self._insert_events(c, session_id, events, at)
            return row, checkpoint_after

        row, checkpoint_after = await self._call(lambda conn: self._tx(conn, body))
        return (row_to_info(row) if row else None), checkpoint_after

    async def renew_lease(
        self, session_id: str, lease_owner: str, epoch: int, expires_at: datetime
    ) -> bool:
        return await self._call(
            lambda c: (
                c.execute(
                    "UPDATE sessions SET lease_expires_at = ? WHERE session_id = ? AND status = 'running' "
                    "AND lease_owner = ? AND lease_epoch = ?",
                    (dump_time(expires_at), session_id, lease_owner, epoch),
                ).rowcount
                > 0
            )
        )

    async def list_runs(self, session_id: str, limit: int = 50) -> list[RunInfo]:
        rows = await self._call(
            lambda c: c.execute(
                "SELECT * FROM runs WHERE session_id = ? ORDER BY started_at DESC, rowid DESC LIMIT ?",
                (session_id, limit),
            ).fetchall()
        )
        return [row_to_run(r) for r in rows]

    # cancel requests -------------------------------------------------------------------
    async def request_cancel(
        self, session_id: str, run_id: str, action: str, requested_at: datetime
    ) -> bool:
        def body(c: sqlite3.Connection) -> bool:
            c.execute(
                "DELETE FROM cancel_requests WHERE NOT EXISTS (SELECT 1 FROM runs r "
                "WHERE r.run_id = cancel_requests.run_id AND r.status = 'running')"
            )
            return (
                c.execute(
                    "INSERT INTO cancel_requests (run_id, session_id, action, requested_at) "
                    "SELECT run_id, session_id, ?, ? FROM runs "
                    "WHERE run_id = ? AND session_id = ? AND status = 'running' "
                    "ON CONFLICT (run_id) DO UPDATE SET action = excluded.action, "
                    "requested_at = excluded.requested_at",
                    (action, dump_time(requested_at), run_id, session_id),
                ).rowcount
                > 0
            )

        return await self._call(lambda conn: self._tx(conn, body))

    async def take_cancel_requests(self, run_ids: Sequence[str]) -> dict[str, str]:
        if not run_ids:
            return {}
        marks = ", ".join("?" * len(run_ids))
        rows = await self._call(
            lambda c: c.execute(
                f"DELETE FROM cancel_requests WHERE run_id IN ({marks}) RETURNING run_id, action",
                tuple(run_ids),
            ).fetchall()
        )
        return {str(r[0]): str(r[1]) for r in rows}

    # queue tickets ---------------------------------------------------------------------
    async def take_ticket(self, session_id: str, owner: str, expires_at: datetime) -> int:
        row = await self._call(
            lambda c: c.execute(
                "INSERT INTO run_tickets (session_id, owner, expires_at) VALUES (?, ?, ?) "
                "RETURNING seq",
                (session_id, owner, dump_time(expires_at)),
            ).fetchone()
        )
        return int(row[0])

    async def renew_tickets(
        self, owner: str, expires_at: datetime, tickets: Sequence[int] | None = None
    ) -> int:
        sql = "UPDATE run_tickets SET expires_at = ? WHERE owner = ?"
        params: list[Any] = [dump_time(expires_at), owner]
        if tickets is not None:
            sql += f" AND seq IN ({', '.join('?' * len(tickets)) or 'NULL'})"
            params.extend(tickets)
        return int(await self._call(lambda c: c.execute(sql, params).rowcount))

    async def drop_ticket(self, ticket: int) -> None:
        await self._call(lambda c: c.execute("DELETE FROM run_tickets WHERE seq = ?", (ticket,)))

    # pending runs (storage/sqlite/pending.py) --------------------------------------------
    async def add_pending_run(self, pending_run: PendingRun) -> bool:
        return await self._call(lambda conn: self._tx(conn, lambda c: pending.add(c, pending_run)))

    async def list_pending_runs(self, session_id: str | None = None) -> list[PendingRun]:
        return await self._call(lambda c: pending.listing(c, session_id))

    async def claim_pending_run(
        self,
        run_id: str,
        claimed_by: str,
        claimed_until: datetime,
        *,
        expect_by: str | None,
        expect_until: datetime | None,
    ) -> bool:
        return await self._call(
            lambda conn: self._tx(
                conn,
                lambda c: pending.claim(
                    c, run_id, claimed_by, claimed_until, expect_by, expect_until
                ),
            )
        )

    async def renew_pending_claims(self, claimed_by: str, claimed_until: datetime) -> list[str]:
        return await self._call(
            lambda conn: self._tx(conn, lambda c: pending.renew(c, claimed_by, claimed_until))
        )

    async def delete_pending_run(self, run_id: str) -> bool:
        return await self._call(lambda conn: self._tx(conn, lambda c: pending.delete(c, run_id)))

    # events --------------------------------------------------------------------------
    async def append_events(
        self, session_id: str, events: Sequence[NewEvent], at: datetime
    ) -> bool:
        stamp = dump_time(at)

        def body(c: sqlite3.Connection) -> bool:
            found = c.execute("SELECT 1 FROM sessions WHERE session_id = ?", (session_id,))
            if found.fetchone() is None:
                return False
            self._insert_events(c, session_id, events, stamp)
            return True

        return await self._call(lambda conn: self._tx(conn, body))

    async def list_events(
        self, session_id: str, *, after_id: int | None = None, limit: int = 100
    ) -> list[Event]:
        rows = await self._call(
            lambda c: c.execute(
                f"SELECT {EVENT_COLUMNS} FROM session_events "
                "WHERE session_id = ? AND id > ? ORDER BY id LIMIT ?",
                (session_id, after_id or 0, limit),
            ).fetchall()
        )
        return [row_to_event(r) for r in rows]

    # messages ------------------------------------------------------------------------
    async def append_messages(
        self, session_id: str, messages: Sequence[NewMessage], at: datetime | None = None
    ) -> list[int]:
        stamp = dump_time(at or utcnow())
        rows = [message_values(session_id, m.role, m.content, m.data, stamp) for m in messages]

        def body(c: sqlite3.Connection) -> list[int]:
            ids: list[int] = []
            for r in rows:
                cur = c.execute(
                    "INSERT INTO messages (session_id, role, content, data, created_at) VALUES (?, ?, ?, ?, ?)",
                    r,
                )
                ids.append(int(cur.lastrowid or 0))
            return ids

        return await self._call(lambda conn: self._tx(conn, body))

    async def load_messages(
        self, session_id: str, *, limit: int | None = None, before_id: int | None = None
    ) -> list[Message]:
        sql = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ?"
        params: list[Any] = [session_id]
        if before_id is not None:
            sql += " AND id < ?"
            params.append(before_id)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = await self._call(lambda c: c.execute(sql, params).fetchall())
        return [row_to_message(r) for r in reversed(rows)]

    async def clear_messages(self, session_id: str) -> int:
        return await self._call(
            lambda conn: self._tx(
                conn,
                lambda c: (
                    c.execute("DELETE FROM messages WHERE session_id = ?", (session_id,)).rowcount
                ),
            )
        )

    async def message_summary(self, session_id: str) -> MessageSummary:
        def run(c: sqlite3.Connection) -> MessageSummary:
            by_role = dict(
                c.execute(
                    "SELECT role, COUNT(*) FROM messages WHERE session_id = ? GROUP BY role",
                    (session_id,),
                ).fetchall()
            )
            first = c.execute(
                "SELECT MIN(created_at) FROM messages WHERE session_id = ?", (session_id,)
            ).fetchone()[0]
            last = c.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ? "
                "ORDER BY id DESC LIMIT 1",
                (session_id,),
            ).fetchone()
            return MessageSummary(
                count=sum(by_role.values()),
                by_role=by_role,
                first_at=load_time(first),
                last_at=load_time(last[5]) if last else None,
                last_message=row_to_message(last) if last else None,
            )

        return await self._call(run)

    # checkpoints ---------------------------------------------------------------------
    async def latest_checkpoint_id(self, session_id: str) -> str | None:
        return await self._call(lambda c: self._admin.latest_id(c, session_id))

    async def delete_checkpoints_after(
        self, session_id: str, checkpoint_id: str | None, *, writes_mark: int | None = None
    ) -> None:
        admin = self._admin

        def body(c: sqlite3.Connection) -> None:
            # A run rolling back its own steps must still hold the session (fencing).
            check_fence(c, self.fences, session_id)
            admin.delete_after(c, session_id, checkpoint_id, writes_mark=writes_mark)

        await self._call(lambda conn: self._tx(conn, body))

    # assistants (storage/sqlite/assistants.py) -----------------------------------------
    async def create_assistant(self, info: AssistantInfo) -> bool:
        return await self._call(lambda conn: self._tx(conn, lambda c: assistants.create(c, info)))

    async def get_assistant(self, assistant_id: str) -> AssistantInfo | None:
        return await self._call(lambda c: assistants.get(c, assistant_id))

    async def list_assistants(self) -> list[AssistantInfo]:
        return await self._call(assistants.list_all)

    async def add_assistant_version(self, info: AssistantInfo) -> bool:
        return await self._call(
            lambda conn: self._tx(conn, lambda c: assistants.add_version(c, info))
        )

    async def set_assistant_version(
        self, assistant_id: str, version: int, updated_at: datetime
    ) -> AssistantInfo | None:
        return await self._call(
            lambda conn: self._tx(
                conn, lambda c: assistants.set_version(c, assistant_id, version, updated_at)
            )
        )

    async def list_assistant_versions(self, assistant_id: str) -> list[AssistantInfo]:
        return await self._call(lambda c: assistants.versions(c, assistant_id))

    async def delete_assistant(self, assistant_id: str) -> bool:
        return await self._call(
            lambda conn: self._tx(conn, lambda c: assistants.delete(c, assistant_id))
        )

    async def create_cron(self, info: CronInfo) -> bool:
        return await self._call(lambda conn: self._tx(conn, lambda c: crons.create(c, info)))

    async def get_cron(self, cron_id: str) -> CronInfo | None:
        return await self._call(lambda c: crons.get(c, cron_id))

    async def list_crons(
        self, *, owner: str | None = None, thread_id: str | None = None
    ) -> list[CronInfo]:
        return await self._call(lambda c: crons.list_some(c, owner, thread_id))

    async def update_cron(self, info: CronInfo) -> bool:
        return await self._call(lambda conn: self._tx(conn, lambda c: crons.update(c, info)))

    async def delete_cron(self, cron_id: str) -> bool:
        return await self._call(lambda conn: self._tx(conn, lambda c: crons.delete(c, cron_id)))

    async def due_crons(self, now: datetime, limit: int = 100) -> list[CronInfo]:
        return await self._call(lambda c: crons.due(c, now, limit))

    async def claim_cron(self, cron_id: str, seen: datetime, next_run_date: datetime) -> bool:
        return await self._call(
            lambda conn: self._tx(conn, lambda c: crons.claim(c, cron_id, seen, next_run_date))
        )

    async def copy_checkpoints(self, source_id: str, target_id: str) -> None:
        admin = self._admin
        await self._call(
            lambda conn: self._tx(conn, lambda c: admin.copy_thread(c, source_id, target_id))
        )

    async def prune_checkpoints(self, session_id: str, keep: int) -> int:
        admin = self._admin
        return await self._call(
            lambda conn: self._tx(conn, lambda c: admin.keep_newest(c, session_id, keep))
        )

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
        messages = [
            message_values(sid, m.role, m.content, m.data, dump_time(m.created_at))
            for m in record.messages
        ]

        def body(c: sqlite3.Connection) -> bool:
            cur = c.execute(
                f"INSERT OR IGNORE INTO sessions ({SESSION_COLUMNS}) VALUES ({', '.join('?' * len(values))})",
                values,
            )
            if cur.rowcount == 0:
                return False
            for table in ("runs", "pending_runs", "session_events", "messages"):
                c.execute(f"DELETE FROM {table} WHERE session_id = ?", (sid,))
            c.executemany(
                "INSERT INTO runs (run_id, session_id, status, kind, multitask, started_at, "
                "finished_at, error, checkpoint_before, checkpoint_after) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                runs,
            )
            c.executemany(
                "INSERT INTO session_events (session_id, type, run_id, at, data) VALUES (?, ?, ?, ?, ?)",
                events,
            )
            c.executemany(
                "INSERT INTO messages (session_id, role, content, data, created_at) VALUES (?, ?, ?, ?, ?)",
                messages,
            )
            return True

        return await self._call(lambda conn: self._tx(conn, body))

    def __repr__(self) -> str:
        return f"SqliteBackend({self.path!r})"
