"""SQLite backend: the embedded default. One file holds everything.

One aiosqlite connection (one writer thread) is shared by the registry, LangGraph's
checkpointer and LangGraph's store, and they share one asyncio lock, so there is never a
"database is locked" between them and a registry transaction cannot interleave with a
checkpoint write. The file runs in WAL mode with ``synchronous=NORMAL`` by default: a
committed transaction survives a process crash; a power loss can drop the last few
commits but never corrupts the file. Pass ``synchronous=FULL`` in the URL query
(``sqlite:///app.db?synchronous=FULL``) to survive power loss too, at a cost per commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite
import orjson
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.store.sqlite.aio import AsyncSqliteStore

from graph_sessions.checkpoint import AsyncSqliteSaver as SessionsSqliteSaver
from graph_sessions.checkpoint.delta import langgraph_tables_delta_support
from graph_sessions.checkpoint.schema import CHECKPOINTS as GS_CHECKPOINTS
from graph_sessions.clock import utcnow
from graph_sessions.errors import BackendError, LeaseLost
from graph_sessions.models import (
    Event,
    EventType,
    Message,
    MessageSummary,
    RunInfo,
    RunStatus,
    SessionInfo,
    SessionStats,
    SessionStatus,
)
from graph_sessions.storage.backend import Backend, NewEvent, NewMessage, SessionQuery
from graph_sessions.storage.codec import dump_json, dump_time, load_json, load_time

T = TypeVar("T")
W = TypeVar("W", bound=Callable[..., Any])
log = logging.getLogger("graph_sessions.storage")
_WAL_CHECK_SECONDS = 0.5  # how often the background thread looks at the WAL
_WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024  # ... and checkpoints it past this size (PASSIVE)
# Past this, PASSIVE checkpoints are not keeping up with the writers (the WAL can only wrap
# around once a checkpoint has caught up): RESTART, which holds writers back for the copy.
_WAL_RESTART_BYTES = 16 * 1024 * 1024
_WAL_SIZE_LIMIT = 1024 * 1024  # journal_size_limit: the WAL is cut back to this on wrap
_INLINE_CHECKPOINT_PAGES = 32768  # SQLite's own in-commit checkpoint, only as a backstop

# Ordered migrations; each runs once, in one transaction, and bumps schema_version.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS sessions (
            session_id TEXT PRIMARY KEY,
            graph_id TEXT NOT NULL,
            owner TEXT,
            task_id TEXT,
            status TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            expires_at TEXT,
            ttl REAL,
            ttl_mode TEXT NOT NULL DEFAULT 'sliding',
            last_error TEXT,
            run_count INTEGER NOT NULL DEFAULT 0,
            revision INTEGER NOT NULL DEFAULT 0,
            previous_status TEXT,
            suspend_reason TEXT,
            interrupts TEXT NOT NULL DEFAULT '[]',
            lease_owner TEXT
        );
        CREATE INDEX IF NOT EXISTS ix_sessions_created ON sessions (created_at, session_id);
        CREATE INDEX IF NOT EXISTS ix_sessions_updated ON sessions (updated_at, session_id);
        CREATE INDEX IF NOT EXISTS ix_sessions_status ON sessions (status, created_at, session_id);
        CREATE INDEX IF NOT EXISTS ix_sessions_owner ON sessions (owner, created_at, session_id);
        CREATE INDEX IF NOT EXISTS ix_sessions_graph ON sessions (graph_id, created_at, session_id);
        CREATE INDEX IF NOT EXISTS ix_sessions_task ON sessions (task_id);
        CREATE INDEX IF NOT EXISTS ix_sessions_expires ON sessions (expires_at)
            WHERE expires_at IS NOT NULL;
        CREATE TABLE IF NOT EXISTS runs (
            run_id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL,
            status TEXT NOT NULL,
            kind TEXT NOT NULL,
            multitask TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            error TEXT,
            checkpoint_before TEXT,
            checkpoint_after TEXT
        );
        CREATE INDEX IF NOT EXISTS ix_runs_session ON runs (session_id, started_at);
        CREATE TABLE IF NOT EXISTS session_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL,
            type TEXT NOT NULL,
            run_id TEXT,
            at TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX IF NOT EXISTS ix_events_session ON session_events (session_id, id);
        CREATE TABLE IF NOT EXISTS messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_messages_session ON messages (session_id, id);
        """,
    ),
    (
        2,
        """
        ALTER TABLE sessions ADD COLUMN lease_expires_at TEXT;
        ALTER TABLE sessions ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN graph_identity TEXT
        """,
    ),
]

SESSION_COLUMNS = (
    "session_id, graph_id, owner, task_id, status, metadata, created_at, updated_at, "
    "expires_at, ttl, ttl_mode, last_error, run_count, revision, previous_status, "
    "suspend_reason, interrupts, lease_owner, lease_expires_at, lease_epoch, graph_identity"
)
# A session whose TTL passed (one parameter: now); a running one is never expired.
_EXPIRED_BY_TIME = "status != 'running' AND expires_at IS NOT NULL AND expires_at <= ?"
_JSON_FIELDS = {"metadata", "interrupts"}
_TIME_FIELDS = {"created_at", "updated_at", "expires_at", "lease_expires_at"}
_ENUM_FIELDS = {"status", "previous_status"}
_UPDATABLE = set(SESSION_COLUMNS.replace(" ", "").split(",")) - {"session_id", "created_at"}


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


def _row_to_info(row: Sequence[Any]) -> SessionInfo:
    return SessionInfo.model_construct(
        session_id=row[0],
        graph_id=row[1],
        owner=row[2],
        task_id=row[3],
        status=SessionStatus(row[4]),
        metadata=load_json(row[5]),
        created_at=load_time(row[6]),
        updated_at=load_time(row[7]),
        expires_at=load_time(row[8]),
        ttl=row[9],
        ttl_mode=row[10],
        last_error=row[11],
        run_count=row[12],
        revision=row[13],
        previous_status=SessionStatus(row[14]) if row[14] else None,
        suspend_reason=row[15],
        interrupts=load_json(row[16]),
        lease_owner=row[17],
        lease_expires_at=load_time(row[18]),
        lease_epoch=row[19],
        graph_identity=row[20],
    )


def _to_column(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        return dump_json(value)
    if name in _TIME_FIELDS:
        return dump_time(value)
    if name in _ENUM_FIELDS:
        return None if value is None else str(value)
    return value


def _row_to_run(row: Sequence[Any]) -> RunInfo:
    return RunInfo.model_construct(
        run_id=row[0],
        session_id=row[1],
        status=RunStatus(row[2]),
        kind=row[3],
        multitask=row[4],
        started_at=load_time(row[5]),
        finished_at=load_time(row[6]),
        error=row[7],
        checkpoint_before=row[8],
        checkpoint_after=row[9],
    )


def _row_to_message(row: Sequence[Any]) -> Message:
    return Message.model_construct(
        id=row[0],
        session_id=row[1],
        role=row[2],
        content=orjson.loads(row[3]),
        data=load_json(row[4]),
        created_at=load_time(row[5]),
    )


_FENCE_SQL = "SELECT 1 FROM sessions WHERE session_id = ? AND lease_owner IS ? AND lease_epoch = ?"


def _check_fence(
    conn: sqlite3.Connection, fences: dict[str, tuple[str | None, int]], thread_id: str
) -> None:
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


def _immediate_tx(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``fn`` in one write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _fenced_tx(
    conn: sqlite3.Connection,
    fences: dict[str, tuple[str | None, int]],
    thread_id: str,
    write: Callable[[sqlite3.Connection], T],
) -> T:
    """``write`` in one transaction with the lease check of ``thread_id`` before it."""

    def body(c: sqlite3.Connection) -> T:
        _check_fence(c, fences, thread_id)
        return write(c)

    return _immediate_tx(conn, body)


def _typed_write_errors(method: W) -> W:
    """A checkpoint write that SQLite refuses (read-only or full database…) raises
    ``BackendError``, as the registry's writes do, not ``sqlite3.OperationalError``."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise BackendError(f"SQLite checkpoint write failed: {exc}") from exc

    return cast(W, wrapper)


class _FencedSessionsSaver(SessionsSqliteSaver):
    """``graph_sessions.checkpoint``'s saver whose writes of a fenced thread check the lease
    in the same transaction (see ``Backend.fence``)."""

    fences: dict[str, tuple[str | None, int]]

    @_typed_write_errors
    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        thread_id = str(config["configurable"]["thread_id"])
        if thread_id not in self.fences:
            return await super().aput(config, checkpoint, metadata, new_versions)
        prepared = self.engine.prepare_put(self.serde, config, checkpoint, metadata, new_versions)
        return await self._run(
            lambda c: _fenced_tx(
                c, self.fences, thread_id, lambda c: self.engine.store_put(c, prepared, join=True)
            )
        )

    @_typed_write_errors
    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        thread_id = str(config["configurable"]["thread_id"])
        if thread_id not in self.fences:
            return await super().aput_writes(config, writes, task_id, task_path)
        prepared = self.engine.prepare_writes(self.serde, config, writes, task_id, task_path)
        await self._run(
            lambda c: _fenced_tx(
                c,
                self.fences,
                thread_id,
                lambda c: self.engine.store_writes(c, prepared, join=True),
            )
        )


class _FencedLangGraphSaver(AsyncSqliteSaver):
    """LangGraph's ``AsyncSqliteSaver`` (files written by earlier versions), with the same
    fencing of a fenced thread's writes: the lease check and the insert are one transaction."""

    fences: dict[str, tuple[str | None, int]]

    async def _fenced(self, thread_id: str, write: Callable[[sqlite3.Connection], Any]) -> None:
        await self.setup()
        raw = self.conn._conn  # noqa: SLF001 - one hop for check + write, like our saver
        async with self.lock:
            await self.conn._execute(  # noqa: SLF001
                lambda: _fenced_tx(raw, self.fences, thread_id, write)
            )

    @_typed_write_errors
    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        thread_id = str(config["configurable"]["thread_id"])
        if thread_id not in self.fences:
            return await super().aput(config, checkpoint, metadata, new_versions)
        checkpoint_ns = config["configurable"]["checkpoint_ns"]
        type_, blob = self.serde.dumps_typed(checkpoint)
        meta = json.dumps(get_checkpoint_metadata(config, metadata), ensure_ascii=False).encode(
            "utf-8", "ignore"
        )
        row = (
            thread_id,
            checkpoint_ns,
            checkpoint["id"],
            config["configurable"].get("checkpoint_id"),
            type_,
            blob,
            meta,
        )
        await self._fenced(
            thread_id,
            lambda c: c.execute(
                "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
                "parent_checkpoint_id, type, checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            ),
        )
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    @_typed_write_errors
    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        thread_id = str(config["configurable"]["thread_id"])
        if thread_id not in self.fences:
            return await super().aput_writes(config, writes, task_id, task_path)
        verb = "REPLACE" if all(w[0] in WRITES_IDX_MAP for w in writes) else "IGNORE"
        rows = [
            (
                thread_id,
                str(config["configurable"]["checkpoint_ns"]),
                str(config["configurable"]["checkpoint_id"]),
                task_id,
                task_path,
                WRITES_IDX_MAP.get(channel, idx),
                channel,
                *self.serde.dumps_typed(value),
            )
            for idx, (channel, value) in enumerate(writes)
        ]
        await self._fenced(
            thread_id,
            lambda c: c.executemany(
                f"INSERT OR {verb} INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, "
                "task_path, idx, channel, type, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            ),
        )


async def _detect_checkpointer(db: aiosqlite.Connection) -> str:
    """``"langgraph"`` for a file whose sessions are in LangGraph's checkpoint tables
    (and not in ours), else ``"graph-sessions"``."""
    async with db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('checkpoints', ?)",
        (GS_CHECKPOINTS,),
    ) as cur:
        tables = {row[0] for row in await cur.fetchall()}
    if "checkpoints" not in tables or GS_CHECKPOINTS in tables:
        return "graph-sessions"
    async with db.execute("SELECT 1 FROM checkpoints LIMIT 1") as cur:
        legacy = await cur.fetchone() is not None
    if legacy:
        log.info(
            "this database holds LangGraph checkpoints: sessions keep using LangGraph's "
            "saver (open with ?checkpointer=graph-sessions on a new file for the "
            "history-flat one)"
        )
    return "langgraph" if legacy else "graph-sessions"


class SqliteBackend(Backend):
    """Everything in one SQLite file (or ``:memory:``)."""

    def __init__(
        self, path: str | Path, *, synchronous: str = "NORMAL", checkpointer: str = "auto"
    ) -> None:
        """``checkpointer``: ``"graph-sessions"`` (``graph_sessions.checkpoint``: tables
        ``gs_checkpoint*``, storage and cost per turn independent of the history length),
        ``"langgraph"`` (LangGraph's ``AsyncSqliteSaver``, tables ``checkpoints``/``writes``)
        or ``"auto"`` (the default): ``"graph-sessions"``, unless the file already holds
        LangGraph checkpoints (written by an earlier version), which stay readable."""
        if checkpointer not in ("auto", "langgraph", "graph-sessions"):
            raise BackendError(
                "checkpointer must be 'auto', 'graph-sessions' or 'langgraph', "
                f"not {checkpointer!r}"
            )
        self.checkpointer_kind = checkpointer
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise BackendError(
                f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}"
            )
        self.synchronous = synchronous.upper()
        self._db: aiosqlite.Connection | None = None
        self._lock: asyncio.Lock | None = None
        self._wal_task: asyncio.Task[None] | None = None
        self._wal_conn: sqlite3.Connection | None = None
        self._wal_guard = threading.Lock()
        self._wal_closed = False
        self.fences: dict[str, tuple[str | None, int]] = {}

    # lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:
        if self._db is not None:
            return
        self._wal_closed = False
        if self.path != ":memory:":
            parent = Path(self.path).expanduser().resolve().parent
            if not parent.is_dir():
                raise BackendError(
                    f"cannot open SQLite database {self.path!r}: folder {parent} does not exist"
                )
        try:
            pending = aiosqlite.connect(self.path, isolation_level=None, check_same_thread=False)
            # A manager someone forgot to close must not keep the interpreter from exiting;
            # every commit is already on disk, so nothing is lost with the thread.
            thread = getattr(pending, "_thread", None)
            if thread is not None and not thread.is_alive():
                thread.daemon = True
            db = await pending
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open SQLite database {self.path!r}: {exc}") from exc
        self._db = db
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute(f"PRAGMA synchronous={self.synchronous}")
            await db.execute("PRAGMA busy_timeout=10000")
            await db.execute("PRAGMA temp_store=MEMORY")
            if self.path != ":memory:":
                # Checkpointing the WAL inside a commit stalls that commit for milliseconds
                # (it copies pages and syncs): a background thread does it instead; the large
                # in-line limit only catches up if that thread ever falls behind.
                await db.execute(f"PRAGMA wal_autocheckpoint={_INLINE_CHECKPOINT_PAGES}")
                await db.execute(f"PRAGMA journal_size_limit={_WAL_SIZE_LIMIT}")
                self._wal_task = asyncio.get_running_loop().create_task(
                    self._wal_loop(), name="graph-sessions-wal-checkpoint"
                )
            if self.checkpointer_kind == "auto":
                self.checkpointer_kind = await _detect_checkpointer(db)
            if self.checkpointer_kind == "graph-sessions":
                # synchronous=None: the backend's own setting above stays in force.
                saver: Any = _FencedSessionsSaver(db, synchronous=None)
            else:
                saver = _FencedLangGraphSaver(db)
            saver.fences = self.fences
            self.checkpointer = saver
            await saver.setup()
            self.store = AsyncSqliteStore(db)
            await self.store.setup()
            # One lock for every user of the connection: registry, checkpointer and store.
            self._lock = saver.lock
            self.store.lock = self._lock
            await self._call(self._migrate)
        except sqlite3.DatabaseError as exc:
            await self.close()
            raise BackendError(f"cannot open SQLite database {self.path!r}: {exc}") from exc

    async def _wal_loop(self) -> None:
        """Keep the WAL near the data size: PASSIVE checkpoints under load, RESTART when
        those fall behind, and TRUNCATE (the file back to 0 bytes) once writers pause."""
        wal = Path(self.path + "-wal")

        def look() -> tuple[int, int]:
            try:
                st = wal.stat()
            except FileNotFoundError:
                return 0, 0
            return st.st_size, st.st_mtime_ns

        last = (-1, -1)
        while True:
            await asyncio.sleep(_WAL_CHECK_SECONDS)
            try:
                now = look()
                size = now[0]
                if size > 0 and now == last:  # nothing written since the last look
                    mode = "TRUNCATE"
                elif size >= _WAL_RESTART_BYTES:
                    mode = "RESTART"
                elif size >= _WAL_CHECKPOINT_BYTES:
                    mode = "PASSIVE"
                else:
                    mode = ""
                last = now
                if mode:
                    await asyncio.to_thread(self._checkpoint_wal, mode)
                    last = look()
            except Exception as exc:  # never let a checkpoint problem stop the backend
                log.warning("background WAL checkpoint failed: %s", exc)

    def _checkpoint_wal(self, mode: str = "PASSIVE") -> None:
        # Its own connection: a PASSIVE checkpoint there never blocks the writer; RESTART
        # and TRUNCATE wait for it at most the busy timeout, then give up until next time.
        with self._wal_guard:
            if self._wal_closed:
                return
            if self._wal_conn is None:
                self._wal_conn = sqlite3.connect(self.path, check_same_thread=False)
                self._wal_conn.execute("PRAGMA busy_timeout=200")
                self._wal_conn.execute(f"PRAGMA journal_size_limit={_WAL_SIZE_LIMIT}")
            self._wal_conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()

    async def close(self) -> None:
        task, self._wal_task = self._wal_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # A checkpoint may still be running in its thread: wait for it, then close.
        with self._wal_guard:
            self._wal_closed = True
            if self._wal_conn is not None:
                self._wal_conn.close()
                self._wal_conn = None
        db, self._db = self._db, None
        if db is None:
            return
        task = getattr(getattr(self, "store", None), "_task", None)
        if task is not None:
            task.cancel()
        await db.close()

    async def ping(self) -> bool:
        try:
            return await self._call(lambda c: c.execute("SELECT 1").fetchone()[0] == 1)
        except Exception:
            return False

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
        """Run ``fn`` with the raw connection on the connection's own thread, holding the
        shared lock: one thread hop per transaction instead of one per statement. SQLite's
        operational errors (a read-only or locked database, a full disk…) become
        ``BackendError``."""
        db = self._db
        if db is None:
            raise BackendError("the SQLite backend is not open")
        lock = self._lock
        raw = db._conn  # noqa: SLF001 - aiosqlite has no public hook to run a function on its thread
        try:
            if lock is None:
                return await db._execute(fn, raw)  # noqa: SLF001
            async with lock:
                return await db._execute(fn, raw)  # noqa: SLF001
        except sqlite3.OperationalError as exc:
            raise BackendError(f"SQLite database {self.path!r}: {exc}") from exc

    _tx = staticmethod(_immediate_tx)

    # checkpoint tables, for whichever saver this backend runs ---------------------------
    def _delete_thread_checkpoints(self, c: sqlite3.Connection, thread_id: str) -> int:
        """Delete a thread's checkpoints and writes inside the caller's transaction."""
        saver = self.checkpointer
        if isinstance(saver, SessionsSqliteSaver):
            return saver.engine.delete_thread(c, thread_id, join=True)
        n = c.execute("DELETE FROM checkpoints WHERE thread_id = ?", (thread_id,)).rowcount
        return n + c.execute("DELETE FROM writes WHERE thread_id = ?", (thread_id,)).rowcount

    def _latest_checkpoint_id(self, c: sqlite3.Connection, thread_id: str) -> str | None:
        saver = self.checkpointer
        if isinstance(saver, SessionsSqliteSaver):
            return saver.engine.latest_checkpoint_id(c, thread_id)
        row = c.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
            "ORDER BY checkpoint_id DESC LIMIT 1",
            (thread_id,),
        ).fetchone()
        return row[0] if row else None

    def _writes_mark(self, c: sqlite3.Connection) -> int:
        saver = self.checkpointer
        if isinstance(saver, SessionsSqliteSaver):
            return saver.engine.writes_mark()
        return int(c.execute("SELECT COALESCE(MAX(rowid), 0) FROM writes").fetchone()[0])

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
        for version, script in MIGRATIONS:
            if version <= current:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, datetime('now'))",
                    (version,),
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    async def schema_version(self) -> int:
        """The highest migration applied to this database."""
        return await self._call(
            lambda c: c.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[
                0
            ]
        )

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
        values = tuple(
            _to_column(n, getattr(info, n)) for n in SESSION_COLUMNS.replace(" ", "").split(",")
        )

        def run(conn: sqlite3.Connection) -> bool:
            def body(c: sqlite3.Connection) -> bool:
                cur = c.execute(
                    f"INSERT OR IGNORE INTO sessions ({SESSION_COLUMNS}) VALUES ({', '.join('?' * len(values))})",
                    values,
                )
                if cur.rowcount == 0:
                    return False
                # A thread left without a registry row must not leak into the new session.
                for table in ("runs", "session_events", "messages"):
                    c.execute(f"DELETE FROM {table} WHERE session_id = ?", (info.session_id,))
                self._delete_thread_checkpoints(c, info.session_id)
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
        return _row_to_info(row) if row else None

    @staticmethod
    def _update_sql(
        fields: dict[str, Any], extra_where: str = "", raw_sets: Sequence[str] = ()
    ) -> tuple[str, list[Any]]:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"unknown session fields: {sorted(unknown)}")
        sets = [f"{name} = ?" for name in fields] + list(raw_sets)
        params = [_to_column(n, v) for n, v in fields.items()]
        if "revision" not in fields:
            sets.append("revision = revision + 1")
        sql = f"UPDATE sessions SET {', '.join(sets)} WHERE session_id = ?{extra_where} RETURNING {SESSION_COLUMNS}"
        return sql, params

    async def update_session(
        self,
        session_id: str,
        fields: dict[str, Any],
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
        sql, params = self._update_sql(fields, extra)
        at = dump_time(fields.get("updated_at")) if fields.get("updated_at") else None

        def body(c: sqlite3.Connection) -> Any:
            row = c.execute(sql, [*params, session_id, *extra_params]).fetchone()
            if row is not None:
                self._insert_events(c, session_id, events, at or row[7])
            return row

        row = await self._call(lambda conn: self._tx(conn, body))
        return _row_to_info(row) if row else None

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
        return [_row_to_info(r) for r in rows]

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
            for table in ("runs", "session_events", "messages"):
                n += c.execute(f"DELETE FROM {table} WHERE session_id = ?", (session_id,)).rowcount
            n += self._delete_thread_checkpoints(c, session_id)
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
        return [_row_to_info(r) for r in rows]

    async def find_running(self) -> list[SessionInfo]:
        rows = await self._call(
            lambda c: c.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE status = 'running'"
            ).fetchall()
        )
        return [_row_to_info(r) for r in rows]

    # runs ----------------------------------------------------------------------------
    async def begin_run(
        self,
        session_id: str,
        run: RunInfo,
        *,
        lease_owner: str,
        expect_revision: int,
        fields: dict[str, Any],
        events: Sequence[NewEvent] = (),
    ) -> SessionInfo | None:
        all_fields = {**fields, "status": SessionStatus.RUNNING, "lease_owner": lease_owner}
        sql, params = self._update_sql(
            all_fields, " AND revision = ?", raw_sets=["lease_epoch = lease_epoch + 1"]
        )
        at = dump_time(run.started_at)

        def body(c: sqlite3.Connection) -> Any:
            before = self._latest_checkpoint_id(c, session_id)
            row = c.execute(sql, [*params, session_id, expect_revision]).fetchone()
            if row is None:
                return None
            run.checkpoint_before = before
            run.writes_mark = self._writes_mark(c)
            c.execute(
                "INSERT INTO runs (run_id, session_id, status, kind, multitask, started_at, checkpoint_before) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run.run_id,
                    session_id,
                    str(run.status),
                    run.kind,
                    run.multitask,
                    at,
                    run.checkpoint_before,
                ),
            )
            self._insert_events(c, session_id, events, at)
            return row

        row = await self._call(lambda conn: self._tx(conn, body))
        return _row_to_info(row) if row else None

    async def finish_run(
        self,
        session_id: str,
        run_id: str,
        *,
        run_status: RunStatus,
        error: str | None,
        fields: dict[str, Any],
        events: Sequence[NewEvent] = (),
        expect_lease: str | None = None,
        expect_epoch: int | None = None,
        slide_ttl: bool = False,
    ) -> tuple[SessionInfo | None, str | None]:
        extra = " AND lease_owner = ?" if expect_lease is not None else ""
        where: list[Any] = [session_id] + ([expect_lease] if expect_lease is not None else [])
        if expect_epoch is not None:
            extra += " AND lease_epoch = ?"
            where.append(expect_epoch)
        at = dump_time(fields["updated_at"])
        all_fields = {**fields, "lease_owner": None, "lease_expires_at": None}

        def body(c: sqlite3.Connection) -> tuple[Any, str | None]:
            update = all_fields
            if slide_ttl:
                # The TTL as it is now (it may have changed during the run) decides the expiry;
                # without a sliding TTL the row's expiry stays as it is.
                update = {k: v for k, v in all_fields.items() if k != "expires_at"}
                current = c.execute(
                    "SELECT ttl, ttl_mode FROM sessions WHERE session_id = ?", (session_id,)
                ).fetchone()
                if current is not None and current[0] is not None and current[1] == "sliding":
                    update["expires_at"] = fields["updated_at"] + timedelta(seconds=current[0])
            sql, params = self._update_sql(update, extra)
            row = c.execute(sql, [*params, *where]).fetchone()
            if row is None and expect_lease is not None:
                return None, None
            checkpoint_after = self._latest_checkpoint_id(c, session_id)
            c.execute(
                "UPDATE runs SET status = ?, finished_at = ?, error = ?, checkpoint_after = ? WHERE run_id = ?",
                (str(run_status), at, error, checkpoint_after, run_id),
            )
            self._insert_events(c, session_id, events, at)
            return row, checkpoint_after

        row, checkpoint_after = await self._call(lambda conn: self._tx(conn, body))
        return (_row_to_info(row) if row else None), checkpoint_after

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

    async def get_run(self, run_id: str) -> RunInfo | None:
        row = await self._call(
            lambda c: c.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        )
        return _row_to_run(row) if row else None

    async def list_runs(self, session_id: str, limit: int = 50) -> list[RunInfo]:
        rows = await self._call(
            lambda c: c.execute(
                "SELECT * FROM runs WHERE session_id = ? ORDER BY started_at DESC, rowid DESC LIMIT ?",
                (session_id, limit),
            ).fetchall()
        )
        return [_row_to_run(r) for r in rows]

    # events --------------------------------------------------------------------------
    async def add_events(
        self, session_id: str, events: Sequence[NewEvent], at: datetime | None = None
    ) -> None:
        stamp = dump_time(at or utcnow())
        await self._call(
            lambda conn: self._tx(conn, lambda c: self._insert_events(c, session_id, events, stamp))
        )

    async def list_events(
        self, session_id: str, *, after_id: int | None = None, limit: int = 100
    ) -> list[Event]:
        rows = await self._call(
            lambda c: c.execute(
                "SELECT id, session_id, type, run_id, at, data FROM session_events "
                "WHERE session_id = ? AND id > ? ORDER BY id LIMIT ?",
                (session_id, after_id or 0, limit),
            ).fetchall()
        )
        return [
            Event.model_construct(
                id=r[0],
                session_id=r[1],
                type=EventType(r[2]),
                run_id=r[3],
                at=load_time(r[4]),
                data=load_json(r[5]),
            )
            for r in rows
        ]

    # messages ------------------------------------------------------------------------
    async def append_messages(
        self, session_id: str, messages: Sequence[NewMessage], at: datetime | None = None
    ) -> list[int]:
        stamp = dump_time(at or utcnow())
        rows = [
            (session_id, m.role, orjson.dumps(m.content, default=str), dump_json(m.data), stamp)
            for m in messages
        ]

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
        sql = "SELECT id, session_id, role, content, data, created_at FROM messages WHERE session_id = ?"
        params: list[Any] = [session_id]
        if before_id is not None:
            sql += " AND id < ?"
            params.append(before_id)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = await self._call(lambda c: c.execute(sql, params).fetchall())
        return [_row_to_message(r) for r in reversed(rows)]

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
                "SELECT id, session_id, role, content, data, created_at FROM messages WHERE session_id = ? "
                "ORDER BY id DESC LIMIT 1",
                (session_id,),
            ).fetchone()
            return MessageSummary(
                count=sum(by_role.values()),
                by_role=by_role,
                first_at=load_time(first),
                last_at=load_time(last[5]) if last else None,
                last_message=_row_to_message(last) if last else None,
            )

        return await self._call(run)

    # checkpoints ---------------------------------------------------------------------
    async def latest_checkpoint_id(self, session_id: str) -> str | None:
        return await self._call(lambda c: self._latest_checkpoint_id(c, session_id))

    async def delete_checkpoints_after(
        self, session_id: str, checkpoint_id: str | None, *, writes_mark: int | None = None
    ) -> None:
        def body(c: sqlite3.Connection) -> None:
            # A run rolling back its own steps must still hold the session (fencing).
            _check_fence(c, self.fences, session_id)
            saver = self.checkpointer
            if isinstance(saver, SessionsSqliteSaver):
                saver.engine.delete_after(
                    c, session_id, checkpoint_id, writes_mark=writes_mark, join=True
                )
                return
            for table in ("checkpoints", "writes"):
                if checkpoint_id is None:
                    c.execute(f"DELETE FROM {table} WHERE thread_id = ?", (session_id,))
                else:
                    c.execute(
                        f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id > ?",
                        (session_id, checkpoint_id),
                    )
            if writes_mark is not None:
                c.execute(
                    "DELETE FROM writes WHERE thread_id = ? AND rowid > ?",
                    (session_id, writes_mark),
                )

        await self._call(lambda conn: self._tx(conn, body))

    async def prune_checkpoints(self, session_id: str, keep: int) -> int:
        def body(c: sqlite3.Connection) -> int:
            saver = self.checkpointer
            if isinstance(saver, SessionsSqliteSaver):
                return saver.engine.keep_newest(c, session_id, keep, join=True)
            row = c.execute(
                "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
                "ORDER BY checkpoint_id DESC LIMIT 1 OFFSET ?",
                (session_id, max(keep, 1) - 1),
            ).fetchone()
            if row is None:
                return 0
            oldest_kept = row[0]
            # keep the older checkpoints the kept ones' DeltaChannel values are rebuilt from
            support = langgraph_tables_delta_support(c, saver.serde, session_id, oldest_kept)
            oldest_kept = min([oldest_kept, *support])
            removed = c.execute(
                "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id < ?",
                (session_id, oldest_kept),
            ).rowcount
            c.execute(
                "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns != '' AND checkpoint_id < ?",
                (session_id, oldest_kept),
            )
            c.execute(
                "DELETE FROM writes WHERE thread_id = ? AND checkpoint_id < ?",
                (session_id, oldest_kept),
            )
            # The oldest kept checkpoint must not point at a parent that no longer exists.
            c.execute(
                "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = ? AND checkpoint_id = ?",
                (session_id, oldest_kept),
            )
            return removed

        return await self._call(lambda conn: self._tx(conn, body))

    def __repr__(self) -> str:
        return f"SqliteBackend({self.path!r})"
