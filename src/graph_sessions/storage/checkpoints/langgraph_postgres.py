"""Adapter for LangGraph's Postgres savers (``langgraph-checkpoint-postgres``), whose tables
are ``checkpoints``, ``checkpoint_blobs`` (channel values by version) and
``checkpoint_writes``.

This module is the one place in graph-sessions that knows those tables. Each operation is
written once, as a generator of SQL statements (:data:`Op`), and run either on the async
backend's transaction (the ``a…`` methods, what ``PostgresBackend`` uses) or, for the
synchronous :class:`~graph_sessions.storage.checkpoints.base.CheckpointAdmin` protocol, on
a ``psycopg.Connection`` given as ``tx`` (``None``: a short connection of its own,
committed at the end; for tools and tests, it blocks the calling thread).

``writes_mark`` needs an insertion order the library's ``checkpoint_writes`` lacks: the
backend adds one column to it, ``gs_seq`` (:data:`SETUP_STATEMENTS`), filled by a sequence
on insert; LangGraph's own statements name their columns and never see it.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg import AsyncCursor

from graph_sessions.checkpoint.delta import Loaded, walk_delta_support

T = TypeVar("T")
#: a statement to run and the (rows, rowcount) it answers
Statement = tuple[str, Sequence[Any]]
Result = tuple[list[tuple[Any, ...]], int]
Op = Generator[Statement, Result, T]

#: idempotent statements the backend runs (under its migration lock) after the saver's setup
SETUP_STATEMENTS = (
    "ALTER TABLE checkpoint_writes ADD COLUMN IF NOT EXISTS gs_seq BIGSERIAL",
    "CREATE INDEX IF NOT EXISTS gs_checkpoint_writes_seq ON checkpoint_writes (thread_id, gs_seq)",
)

# Blobs no checkpoint of the thread refers to any more (their channel at that version).
_GC_BLOBS = (
    "DELETE FROM checkpoint_blobs WHERE thread_id = %s AND (checkpoint_ns, channel, version) "
    "NOT IN (SELECT c.checkpoint_ns, v.key, v.value FROM checkpoints c, "
    "jsonb_each_text(c.checkpoint -> 'channel_versions') v WHERE c.thread_id = %s)"
)


def _latest_id(thread_id: str) -> Op[str | None]:
    rows, _ = yield (
        "SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = '' "
        "ORDER BY checkpoint_id DESC LIMIT 1",
        (thread_id,),
    )
    return str(rows[0][0]) if rows else None


def _writes_mark(thread_id: str) -> Op[int]:
    rows, _ = yield (
        "SELECT COALESCE(MAX(gs_seq), 0) FROM checkpoint_writes WHERE thread_id = %s",
        (thread_id,),
    )
    return int(rows[0][0])


def _run_start(thread_id: str) -> Op[tuple[str | None, int]]:
    rows, _ = yield (
        "SELECT (SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s "
        "AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1), "
        "(SELECT COALESCE(MAX(gs_seq), 0) FROM checkpoint_writes WHERE thread_id = %s)",
        (thread_id, thread_id),
    )
    latest, mark = rows[0]
    return (None if latest is None else str(latest)), int(mark)


def _delete_thread(thread_id: str) -> Op[int]:
    rows, _ = yield (
        "WITH c AS (DELETE FROM checkpoints WHERE thread_id = %s RETURNING 1), "
        "b AS (DELETE FROM checkpoint_blobs WHERE thread_id = %s RETURNING 1), "
        "w AS (DELETE FROM checkpoint_writes WHERE thread_id = %s RETURNING 1) "
        "SELECT (SELECT COUNT(*) FROM c) + (SELECT COUNT(*) FROM b) + (SELECT COUNT(*) FROM w)",
        (thread_id, thread_id, thread_id),
    )
    return int(rows[0][0])


def _delete_after(thread_id: str, checkpoint_id: str | None, writes_mark: int | None) -> Op[None]:
    if checkpoint_id is None:
        yield from _delete_thread(thread_id)
        return
    for table in ("checkpoints", "checkpoint_writes"):
        yield (
            f"DELETE FROM {table} WHERE thread_id = %s AND checkpoint_id > %s",
            (thread_id, checkpoint_id),
        )
    if writes_mark is not None:
        yield (
            "DELETE FROM checkpoint_writes WHERE thread_id = %s AND gs_seq > %s",
            (thread_id, writes_mark),
        )
    yield (_GC_BLOBS, (thread_id, thread_id))


def _delta_support(thread_id: str, heads: list[str]) -> Op[set[str]]:
    """The older root checkpoints the ``DeltaChannel`` values of ``heads`` are rebuilt
    from (``graph_sessions.checkpoint.delta``), from one read of the thread's root chain."""
    rows, _ = yield (
        "SELECT checkpoint_id, parent_checkpoint_id, (checkpoint -> 'channel_versions')::text, "
        "(metadata -> 'counters_since_delta_snapshot')::text, "
        "ARRAY(SELECT jsonb_object_keys(COALESCE(checkpoint -> 'channel_values', '{}'))) "
        "FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = ''",
        (thread_id,),
    )
    if not any(r[3] for r in rows):
        return set()  # no DeltaChannel in this thread: nothing to walk
    blobs, _ = yield (
        "SELECT channel, version FROM checkpoint_blobs WHERE thread_id = %s "
        "AND checkpoint_ns = '' AND type <> 'empty'",
        (thread_id,),
    )
    stored_blobs = {(str(b[0]), str(b[1])) for b in blobs}
    nodes: dict[str, tuple[str | None, dict[str, Any], list[str], set[str]]] = {}
    for cid, parent, versions, counters, inline in rows:
        nodes[cid] = (
            parent,
            orjson.loads(versions) if versions else {},
            list(orjson.loads(counters) or ()) if counters else [],
            set(inline or ()),
        )

    def load(cid: str) -> Loaded:
        node = nodes.get(cid)
        return None if node is None else (node[0], node[1], node[2])

    def stores(cid: str, ch: str) -> bool:
        node = nodes.get(cid)
        if node is None:
            return False
        version = node[1].get(ch)
        return ch in node[3] or (version is not None and (ch, str(version)) in stored_blobs)

    return walk_delta_support(heads, load, stores)


def _keep_newest(thread_id: str, keep: int) -> Op[int]:
    rows, _ = yield (
        "SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = '' "
        "ORDER BY checkpoint_id DESC LIMIT %s",
        (thread_id, max(keep, 1)),
    )
    if len(rows) < max(keep, 1):
        return 0
    heads = [str(r[0]) for r in rows]
    support = yield from _delta_support(thread_id, heads)
    oldest_kept = min([heads[-1], *support])
    _, removed = yield (
        "DELETE FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = '' "
        "AND checkpoint_id < %s",
        (thread_id, oldest_kept),
    )
    yield (
        "DELETE FROM checkpoints WHERE thread_id = %s AND checkpoint_ns <> '' "
        "AND checkpoint_id < %s",
        (thread_id, oldest_kept),
    )
    yield (
        "DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_id < %s",
        (thread_id, oldest_kept),
    )
    # The oldest kept checkpoint must not point at a parent that no longer exists.
    yield (
        "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = %s "
        "AND checkpoint_id = %s",
        (thread_id, oldest_kept),
    )
    yield (_GC_BLOBS, (thread_id, thread_id))
    return removed


def _copy_thread(source: str, target: str) -> Op[None]:
    yield (
        "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, "
        "type, checkpoint, metadata) SELECT %s, checkpoint_ns, checkpoint_id, "
        "parent_checkpoint_id, type, checkpoint, metadata FROM checkpoints WHERE thread_id = %s "
        "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET "
        "parent_checkpoint_id = EXCLUDED.parent_checkpoint_id, type = EXCLUDED.type, "
        "checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata",
        (target, source),
    )
    yield (
        "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob) "
        "SELECT %s, checkpoint_ns, channel, version, type, blob FROM checkpoint_blobs "
        "WHERE thread_id = %s ON CONFLICT (thread_id, checkpoint_ns, channel, version) "
        "DO UPDATE SET type = EXCLUDED.type, blob = EXCLUDED.blob",
        (target, source),
    )
    yield (
        "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, "
        "task_path, idx, channel, type, blob) SELECT %s, checkpoint_ns, checkpoint_id, task_id, "
        "task_path, idx, channel, type, blob FROM checkpoint_writes WHERE thread_id = %s "
        "ORDER BY gs_seq ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) "
        "DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob",
        (target, source),
    )


async def run_async(cur: AsyncCursor[Any], op: Op[T]) -> T:
    """Run ``op`` on ``cur`` (in the caller's transaction; in pipeline mode too: each
    statement's result is fetched before the next is built)."""
    try:
        statement = next(op)
        while True:
            await cur.execute(statement[0].encode(), statement[1])
            try:
                rows = list(await cur.fetchall())
            except psycopg.ProgrammingError:  # a statement without rows (DELETE…)
                rows = []
            statement = op.send((rows, cur.rowcount))
    except StopIteration as stop:
        result: T = stop.value
        return result


def run_sync(conn: psycopg.Connection[Any], op: Op[T]) -> T:
    """Run ``op`` on ``conn`` (in the caller's transaction)."""
    with conn.cursor() as cur:
        try:
            statement = next(op)
            while True:
                cur.execute(statement[0].encode(), statement[1])
                rows = [tuple(r) for r in cur.fetchall()] if cur.description is not None else []
                statement = op.send((rows, cur.rowcount))
        except StopIteration as stop:
            result: T = stop.value
            return result


def saver_conninfo(saver: Any) -> str | None:
    """The connection string of a Postgres saver's connection or pool (``None``: unknown)."""
    conn = getattr(saver, "conn", None)
    conninfo = getattr(conn, "conninfo", None)  # a pool
    if isinstance(conninfo, str):
        return conninfo
    info = getattr(conn, "info", None)  # a connection
    return info.dsn if info is not None else None


class LangGraphPostgresAdmin:
    """:class:`~graph_sessions.storage.checkpoints.base.CheckpointAdmin` of LangGraph's
    Postgres savers: SQL on their tables. The ``a…`` methods run on an async cursor in
    the backend's transaction; the protocol's own (sync) methods on ``tx``, a
    ``psycopg.Connection`` (``None``: a connection of their own, see the module doc)."""

    def __init__(self, saver: Any) -> None:
        self.conninfo = saver_conninfo(saver)

    def _sync(self, tx: psycopg.Connection[Any] | None, op: Op[T]) -> T:
        if tx is not None:
            return run_sync(tx, op)
        if self.conninfo is None:
            raise RuntimeError("this saver's connection string is unknown: pass a connection")
        with psycopg.connect(self.conninfo) as conn, conn.transaction():
            return run_sync(conn, op)

    # the backend's async operations --------------------------------------------------
    async def alatest_id(self, cur: AsyncCursor[Any], thread_id: str) -> str | None:
        """See ``CheckpointAdmin.latest_id``."""
        return await run_async(cur, _latest_id(thread_id))

    async def awrites_mark(
        self, cur: AsyncCursor[Any], thread_id: str, checkpoint_id: str | None
    ) -> int:
        """See ``CheckpointAdmin.writes_mark``: the thread's highest ``gs_seq``."""
        return await run_async(cur, _writes_mark(thread_id))

    async def arun_start(self, cur: AsyncCursor[Any], thread_id: str) -> tuple[str | None, int]:
        """:meth:`alatest_id` and :meth:`awrites_mark` (on it) in one statement."""
        return await run_async(cur, _run_start(thread_id))

    async def adelete_thread(self, cur: AsyncCursor[Any], thread_id: str) -> int:
        """See ``CheckpointAdmin.delete_thread``."""
        return await run_async(cur, _delete_thread(thread_id))

    async def adelete_after(
        self,
        cur: AsyncCursor[Any],
        thread_id: str,
        checkpoint_id: str | None,
        *,
        writes_mark: int | None,
    ) -> None:
        """See ``CheckpointAdmin.delete_after``."""
        await run_async(cur, _delete_after(thread_id, checkpoint_id, writes_mark))

    async def akeep_newest(self, cur: AsyncCursor[Any], thread_id: str, keep: int) -> int:
        """See ``CheckpointAdmin.keep_newest``."""
        return await run_async(cur, _keep_newest(thread_id, keep))

    async def acopy_thread(self, cur: AsyncCursor[Any], source: str, target: str) -> None:
        """See ``CheckpointAdmin.copy_thread``."""
        await run_async(cur, _copy_thread(source, target))

    # the CheckpointAdmin protocol (sync) -----------------------------------------------
    def latest_id(self, tx: psycopg.Connection[Any] | None, thread_id: str) -> str | None:
        """See ``CheckpointAdmin.latest_id``."""
        return self._sync(tx, _latest_id(thread_id))

    def writes_mark(
        self, tx: psycopg.Connection[Any] | None, thread_id: str, checkpoint_id: str | None
    ) -> int:
        """See ``CheckpointAdmin.writes_mark``."""
        return self._sync(tx, _writes_mark(thread_id))

    def delete_thread(self, tx: psycopg.Connection[Any] | None, thread_id: str) -> int:
        """See ``CheckpointAdmin.delete_thread``."""
        return self._sync(tx, _delete_thread(thread_id))

    def delete_after(
        self,
        tx: psycopg.Connection[Any] | None,
        thread_id: str,
        checkpoint_id: str | None,
        *,
        writes_mark: int | None,
    ) -> None:
        """See ``CheckpointAdmin.delete_after``."""
        self._sync(tx, _delete_after(thread_id, checkpoint_id, writes_mark))

    def keep_newest(self, tx: psycopg.Connection[Any] | None, thread_id: str, keep: int) -> int:
        """See ``CheckpointAdmin.keep_newest``."""
        return self._sync(tx, _keep_newest(thread_id, keep))

    def copy_thread(self, tx: psycopg.Connection[Any] | None, source: str, target: str) -> None:
        """See ``CheckpointAdmin.copy_thread``."""
        self._sync(tx, _copy_thread(source, target))


__all__ = [
    "SETUP_STATEMENTS",
    "LangGraphPostgresAdmin",
    "run_async",
    "run_sync",
    "saver_conninfo",
]
