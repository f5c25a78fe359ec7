"""LangGraph's checkpointer conformance suite against the Redis savers, on a real plain
``redis-server``: the async saver, the sync saver, with and without a TTL."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from support.redis import RedisServer
from test_conformance import _assert_all_passed

from graph_sessions.checkpoint import AsyncRedisSaver, RedisSaver


@pytest.mark.parametrize("ttl", [None, 600])
async def test_conformance_async_redis_saver(redis_server: RedisServer, ttl: int | None) -> None:
    @checkpointer_test(name=f"graph_sessions.AsyncRedisSaver[ttl={ttl}]")
    async def factory() -> AsyncGenerator[AsyncRedisSaver, None]:
        prefix = redis_server.new_prefix()  # each factory call starts from an empty saver
        async with AsyncRedisSaver.from_conn_string(
            redis_server.url(), prefix=prefix, ttl=ttl
        ) as saver:
            await saver.setup()
            yield saver

    _assert_all_passed(await validate(factory))


async def test_conformance_sync_redis_saver(redis_server: RedisServer) -> None:
    @checkpointer_test(name="graph_sessions.RedisSaver")
    async def factory() -> AsyncGenerator[RedisSaver, None]:
        with RedisSaver.from_conn_string(
            redis_server.url(), prefix=redis_server.new_prefix()
        ) as saver:
            saver.setup()
            yield saver

    _assert_all_passed(await validate(factory))
