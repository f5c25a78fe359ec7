"""The Postgres pool while its server is away: a request already queued for a connection
when the server goes down fails fast with ``BackendError`` (it does not wait for the
server to come back), and requests succeed again once it is back."""

from __future__ import annotations

import asyncio
import time

import pytest
from support import pg_restart
from support.postgres import PostgresServer

from graph_sessions.errors import BackendError
from graph_sessions.storage.postgres.connection import PostgresPool

pytestmark = pytest.mark.slow

#: seconds the server stays down
DOWN_SECONDS = 6.0


async def test_a_request_queued_before_the_server_went_away_fails_fast(
    own_cluster: PostgresServer,
) -> None:
    pool = PostgresPool(own_cluster.create_database(), min_size=1, max_size=1)
    await pool.open()
    holding = asyncio.Event()

    async def hold() -> None:
        async with pool.connection() as conn:
            holding.set()
            await conn.execute("SELECT pg_sleep(60)")

    async def queued() -> float:
        await holding.wait()
        async with pool.connection() as conn:  # the only connection is held: it queues
            await conn.execute("SELECT 1")
        return time.monotonic()

    holder = asyncio.create_task(hold())
    waiter = asyncio.create_task(queued())
    others = [asyncio.create_task(queued()) for _ in range(3)]  # queued behind it
    try:
        await holding.wait()
        await asyncio.sleep(0.3)
        assert not waiter.done()
        await asyncio.to_thread(pg_restart.stop, own_cluster)
        stopped = time.monotonic()
        with pytest.raises(BackendError):
            await holder  # its query ended with the server
        # before the fix the queued request waited for the server to come back and then
        # succeeded (or hit the 30 s pool timeout): it must fail while the server is away
        done, _ = await asyncio.wait({waiter}, timeout=DOWN_SECONDS)
        assert waiter in done, "the queued request is still waiting for the server"
        with pytest.raises(BackendError):
            waiter.result()
        done, _ = await asyncio.wait(others, timeout=2)
        assert len(done) == 3 and all(isinstance(t.exception(), BackendError) for t in done)
        assert time.monotonic() - stopped < DOWN_SECONDS - 1
        assert pool.down
        await asyncio.to_thread(pg_restart.start, own_cluster)
        deadline = time.monotonic() + 20
        while True:  # the pool reconnects on its own backoff
            try:
                async with pool.cursor() as cur:
                    await cur.execute("SELECT 41 + 1")
                    assert await cur.fetchone() == (42,)
                break
            except BackendError:
                assert time.monotonic() < deadline, "no connection 20 s after the restart"
                await asyncio.sleep(0.2)
        assert not pool.down
    finally:
        for task in (holder, waiter, *others):
            task.cancel()
        await asyncio.gather(holder, waiter, *others, return_exceptions=True)
        await pool.close()
