"""LangGraph's checkpointer conformance suite against the Postgres savers, on a real server:
an async connection, a sync connection, a pool, short delta chains."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from psycopg import AsyncConnection, Connection
from psycopg_pool import AsyncConnectionPool
from test_conformance import _assert_all_passed

from graph_sessions.checkpoint import AsyncPostgresSaver, PostgresSaver


async def _clear(url: str) -> None:
    """Each factory call starts from empty tables (the suite expects a fresh saver)."""
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(
            "DROP TABLE IF EXISTS gs_checkpoints, gs_checkpoint_blobs, gs_checkpoint_writes, "
            "gs_checkpoint_migrations"
        )


@pytest.mark.parametrize("pipeline", [False, True])
async def test_conformance_async_postgres_saver(postgres_url: str, pipeline: bool) -> None:
    @checkpointer_test(name=f"graph_sessions.AsyncPostgresSaver[pipeline={pipeline}]")
    async def factory() -> AsyncGenerator[AsyncPostgresSaver, None]:
        await _clear(postgres_url)
        async with AsyncPostgresSaver.from_conn_string(postgres_url, pipeline=pipeline) as saver:
            await saver.setup()
            yield saver

    _assert_all_passed(await validate(factory))


async def test_conformance_sync_postgres_saver(postgres_url: str) -> None:
    @checkpointer_test(name="graph_sessions.PostgresSaver")
    async def factory() -> AsyncGenerator[PostgresSaver, None]:
        await _clear(postgres_url)
        with Connection.connect(postgres_url) as conn:  # not autocommit
            saver = PostgresSaver(conn)
            saver.setup()
            yield saver

    _assert_all_passed(await validate(factory))


@pytest.mark.parametrize("snapshot_every", [1, 2])
async def test_conformance_async_pool_short_delta_chains(
    postgres_url: str, snapshot_every: int
) -> None:
    @checkpointer_test(name=f"graph_sessions.AsyncPostgresSaver[pool, {snapshot_every}]")
    async def factory() -> AsyncGenerator[AsyncPostgresSaver, None]:
        await _clear(postgres_url)
        async with AsyncConnectionPool(
            postgres_url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=False
        ) as pool:
            yield AsyncPostgresSaver(pool, snapshot_every=snapshot_every)

    _assert_all_passed(await validate(factory))
