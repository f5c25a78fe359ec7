"""The SQLite backend's one connection: the only code in graph-sessions' storage that uses
``aiosqlite``'s internals, and the background thread that keeps the WAL small.

One aiosqlite connection (one writer thread) is shared by the registry, the checkpointer
and the store, under one asyncio lock, so there is never a "database is locked" between
them and a registry transaction cannot interleave with a checkpoint write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from graph_sessions.errors import BackendError

T = TypeVar("T")
log = logging.getLogger("graph_sessions.storage")
_WAL_CHECK_SECONDS = 0.5  # how often the background thread looks at the WAL
_WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024  # ... and checkpoints it past this size (PASSIVE)
# Past this, PASSIVE checkpoints are not keeping up with the writers (the WAL can only wrap
# around once a checkpoint has caught up): RESTART, which holds writers back for the copy.
_WAL_RESTART_BYTES = 16 * 1024 * 1024
_WAL_SIZE_LIMIT = 1024 * 1024  # journal_size_limit: the WAL is cut back to this on wrap
_INLINE_CHECKPOINT_PAGES = 32768  # SQLite's own in-commit checkpoint, only as a backstop


async def run_on_thread(db: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """``fn(raw sqlite3 connection)`` on ``db``'s own thread, in one hop (the caller holds
    whatever lock guards ``db``). aiosqlite has no public way to do this; one hop per
    transaction instead of one per statement is what keeps a turn cheap."""
    raw = db._conn  # noqa: SLF001 - see the docstring
    result: T = await db._execute(fn, raw)  # noqa: SLF001
    return result


def stop_store_task(store: Any) -> None:
    """Cancel the background task of LangGraph's ``AsyncSqliteStore`` (it has no public
    close), before its connection closes."""
    task = getattr(store, "_task", None)
    if task is not None:
        task.cancel()


class SqliteConnection:
    """An aiosqlite connection in WAL mode with the backend's pragmas, its lock, and the
    WAL-checkpoint thread. Open before use; :meth:`call` runs work on it."""

    def __init__(self, path: str, *, synchronous: str) -> None:
        self.path = path
        self.synchronous = synchronous
        self.lock = asyncio.Lock()
        self._db: aiosqlite.Connection | None = None
        self._wal_task: asyncio.Task[None] | None = None
        self._wal_conn: sqlite3.Connection | None = None
        self._wal_guard = threading.Lock()
        self._wal_closed = False

    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close`."""
        return self._db is not None

    @property
    def db(self) -> aiosqlite.Connection:
        """The aiosqlite connection (``BackendError`` when not open)."""
        if self._db is None:
            raise BackendError("the SQLite backend is not open")
        return self._db

    async def open(self) -> aiosqlite.Connection:
        """Connect and apply the pragmas; start the WAL thread for a file. A
        ``sqlite3.DatabaseError`` from the pragmas propagates (the caller closes)."""
        self._wal_closed = False
        self.lock = asyncio.Lock()
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
        return db

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` with the raw connection on the connection's own thread, holding the
        shared lock: one thread hop per transaction instead of one per statement. SQLite's
        operational errors (a read-only or locked database, a full disk…) become
        ``BackendError``."""
        db = self.db
        try:
            async with self.lock:
                return await run_on_thread(db, fn)
        except sqlite3.OperationalError as exc:
            raise BackendError(f"SQLite database {self.path!r}: {exc}") from exc

    async def close(self, store: Any = None) -> None:
        """Stop the WAL thread, ``store``'s task, then close the connection."""
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
        if store is not None:
            stop_store_task(store)
        await db.close()

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
