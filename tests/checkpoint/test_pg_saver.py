"""The Postgres savers on a real server: drop-in construction (connections with any row
factory, autocommit or not, pools, pipelines), migrations under an advisory lock, tables
shared with LangGraph's saver in one database, the storage scheme of the SQLite savers
(versions-only values, list tails), the engine inside a caller's transaction, and the
SQL translation."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from langgraph.checkpoint.postgres import PostgresSaver as LangGraphPostgresSaver
from psycopg import Connection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool
from support.graphs import chat_graph

from graph_sessions.checkpoint import AsyncPostgresSaver, PostgresSaver
from graph_sessions.checkpoint.pg_conn import PgConnection
from graph_sessions.checkpoint.pg_greenlet import await_only, run_in_greenlet
from graph_sessions.checkpoint.pg_sql import to_postgres
from graph_sessions.checkpoint.schema import KIND_DELTA


def _chat(saver: Any, thread: str, turns: int) -> Any:
    graph = chat_graph().compile(checkpointer=saver)
    config: Any = {"configurable": {"thread_id": thread}}
    for i in range(turns):
        graph.invoke({"user_input": f"m{i}"}, config)
    return graph, config


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with Connection.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_translation() -> None:
    sql = to_postgres(
        "INSERT OR REPLACE INTO gs_checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
        "type) VALUES (?, ?, ?, ?)"
    )
    assert sql == (
        "INSERT INTO gs_checkpoints (thread_id, checkpoint_ns, checkpoint_id, type) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) "
        "DO UPDATE SET type = EXCLUDED.type"
    )
    ignore = to_postgres("INSERT OR IGNORE INTO gs_checkpoint_blobs (a) VALUES (?)")
    assert ignore.endswith("VALUES (%s) ON CONFLICT DO NOTHING")
    assert to_postgres("SELECT 1 FROM a CROSS JOIN b ON x LIKE '5%'") == (
        "SELECT 1 FROM a JOIN b ON x LIKE '5%%'"
    )


def test_sync_saver_dict_rows_and_shared_database(postgres_url: str) -> None:
    """A ``dict_row`` autocommit connection as LangGraph's docs make one; LangGraph's own
    saver in the same database sees nothing of ours, and ours nothing of theirs."""
    with Connection.connect(postgres_url, autocommit=True, row_factory=dict_row) as conn:
        theirs = LangGraphPostgresSaver(conn)
        theirs.setup()
        ours = PostgresSaver(conn)
        ours.setup()
        ours.setup()  # idempotent
        graph, config = _chat(ours, "t1", 5)
        assert len(graph.get_state(config).values["turns"]) == 5
        assert theirs.get_tuple(config) is None
        _chat(theirs, "t2", 2)
        assert ours.get_tuple({"configurable": {"thread_id": "t2"}}) is None
    assert _rows(postgres_url, "SELECT v FROM gs_checkpoint_migrations") == [(0,)]


def test_list_tails_are_stored(postgres_url: str) -> None:
    """The SQLite savers' scheme: a growing list is stored as its new tail."""
    with Connection.connect(postgres_url, autocommit=True) as conn:
        graph, config = _chat(PostgresSaver(conn), "t1", 30)
        history = list(graph.get_state_history(config))
        assert [len(s.values.get("turns", [])) for s in history[:3]] == [30, 29, 29]
    kinds = dict(
        _rows(
            postgres_url,
            "SELECT kind, COUNT(*) FROM gs_checkpoint_blobs WHERE channel = 'turns' GROUP BY kind",
        )
    )
    assert kinds.get(KIND_DELTA, 0) >= 25


def test_pool_and_pipeline(postgres_url: str) -> None:
    with ConnectionPool(postgres_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        graph, config = _chat(PostgresSaver(pool), "t1", 3)
        assert len(graph.get_state(config).values["turns"]) == 3
        with pytest.raises(ValueError, match="Pipeline"):
            PostgresSaver(pool, pipe=object())  # type: ignore[arg-type]
    with PostgresSaver.from_conn_string(postgres_url, pipeline=True) as saver:
        graph, config = _chat(saver, "t1", 2)
        assert len(graph.get_state(config).values["turns"]) == 5


def test_setup_concurrently(postgres_url: str) -> None:
    """Savers of several processes set up at once: the advisory lock migrates once."""
    errors: list[BaseException] = []

    def setup() -> None:
        try:
            with PostgresSaver.from_conn_string(postgres_url) as saver:
                saver.setup()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=setup) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _rows(postgres_url, "SELECT v FROM gs_checkpoint_migrations") == [(0,)]


def test_engine_joins_the_callers_transaction(postgres_url: str) -> None:
    """The backend's fencing shape: ``prepare_put`` outside, ``store_put(join=True)``
    inside a transaction the caller owns; its rollback takes the checkpoint with it."""
    with Connection.connect(postgres_url, autocommit=True) as conn:
        saver = PostgresSaver(conn)
        saver.setup()
        graph, config = _chat(saver, "t1", 1)
        state = saver.get_tuple(config)
        assert state is not None
        checkpoint: Any = {**state.checkpoint, "id": "ffffffff-ffff-6fff-8fff-ffffffffffff"}
        prepared = saver.engine.prepare_put(saver.serde, state.config, checkpoint, {}, {})
        with pytest.raises(RuntimeError, match="lease lost"), conn.transaction():
            adapter = PgConnection(conn)
            saver.engine.store_put(adapter, prepared, join=True)
            adapter.flush()
            raise RuntimeError("lease lost")
        saver.engine.forget()
        assert saver.get_tuple(config).checkpoint["id"] == state.checkpoint["id"]  # type: ignore[union-attr]
        with conn.transaction():
            adapter = PgConnection(conn)
            saver.engine.store_put(adapter, prepared, join=True)
            adapter.flush()
        assert saver.get_tuple(config).checkpoint["id"] == checkpoint["id"]  # type: ignore[union-attr]


async def test_async_saver_pool_and_sync_bridge(postgres_url: str) -> None:
    async with AsyncConnectionPool(
        postgres_url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=False
    ) as pool:
        saver = AsyncPostgresSaver(pool)
        graph = chat_graph().compile(checkpointer=saver)
        config: Any = {"configurable": {"thread_id": "t1"}}
        for i in range(3):
            await graph.ainvoke({"user_input": f"m{i}"}, config)
        state = await asyncio.to_thread(graph.get_state, config)  # sync API, other thread
        assert len(state.values["turns"]) == 3
        with pytest.raises(asyncio.InvalidStateError):
            saver.get_tuple(config)  # sync API on the loop's own thread


async def test_greenlet_bridge() -> None:
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    def body(x: int) -> int:
        return await_only(double(x)) + await_only(double(1))

    assert await run_in_greenlet(body, 5) == 12
    with pytest.raises(RuntimeError, match="outside"):
        await_only(double(1))

    def failing() -> None:
        await_only(asyncio.sleep(0))
        raise KeyError("x")

    with pytest.raises(KeyError):
        await run_in_greenlet(failing)
