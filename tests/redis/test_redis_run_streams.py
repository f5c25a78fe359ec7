"""The Redis relay of run streams (``storage/redis/run_streams.py``), in process: two relays
on two clients of one Redis stand for two replicas, as tests/replicas_api/
test_run_stream_relay.py does for Postgres and SQLite (it takes backends; the Redis backend
joins it when it lands). A follow request reaches the process executing the run (pub/sub, or
the poll), rows come back in order and wake followers, ended runs' rows are purged, a prefix
keeps deployments apart, and the listener survives a restart of Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from support.redis import RedisServer, provision

from graph_sessions.storage.redis.run_streams import RedisRunStreams
from graph_sessions.storage.run_streams import END, StreamChunk


@pytest.fixture
async def two(redis_server: RedisServer) -> AsyncIterator[tuple[RedisRunStreams, RedisRunStreams]]:
    """Two relays on one Redis and prefix, each with its own client (two replicas)."""
    prefix = redis_server.new_prefix()
    clients = [Redis.from_url(redis_server.url()) for _ in range(2)]
    relays = [RedisRunStreams(c, prefix) for c in clients]
    try:
        yield relays[0], relays[1]
    finally:
        for relay in relays:
            await relay.stop()
        for c in clients:
            await c.aclose()


async def on_follow_none(run_id: str) -> None:
    """A replica that executes nothing."""


@pytest.mark.slow  # waits for a poll
async def test_a_follow_request_reaches_the_executing_process(
    two: tuple[RedisRunStreams, RedisRunStreams],
) -> None:
    executing, following = two
    asked: asyncio.Queue[str] = asyncio.Queue()

    async def on_follow(run_id: str) -> None:
        await asked.put(run_id)

    await executing.start(on_follow, lambda: ["run-1", "run-2"])
    await following.start(on_follow_none, list)
    await asyncio.sleep(0.2)  # subscribed
    await following.request_follow("run-1")
    await following.request_follow("not-held-here")  # another process's run: not ours
    assert await asyncio.wait_for(asked.get(), 5) == "run-1"
    await asyncio.sleep(1.2)
    while not asked.empty():  # the poll may tell it again; never another run
        assert await asked.get() == "run-1"


async def test_a_follow_request_made_before_listening_is_found_by_the_poll(
    two: tuple[RedisRunStreams, RedisRunStreams],
) -> None:
    executing, following = two
    asked: asyncio.Queue[str] = asyncio.Queue()

    async def on_follow(run_id: str) -> None:
        await asked.put(run_id)

    await following.request_follow("run-9")  # nobody subscribed: the message is lost
    await executing.start(on_follow, lambda: ["run-9"])
    assert await asyncio.wait_for(asked.get(), 5) == "run-9"


async def test_rows_come_in_order_and_wake_followers(
    two: tuple[RedisRunStreams, RedisRunStreams],
) -> None:
    executing, following = two
    await executing.start(on_follow_none, list)
    await following.start(on_follow_none, list)
    await asyncio.sleep(0.2)
    wake = following.watch("run-1")
    wake.clear()
    await executing.append("run-1", 1, [StreamChunk(0, "values", '{"a":1}', "1-0")])
    await asyncio.wait_for(wake.wait(), 3)  # a message (or the poll)
    await executing.append("run-1", 2, [StreamChunk(0, "custom", f'{{"i":{i}}}') for i in range(3)])
    await executing.append("run-1", 4, [StreamChunk(0, "custom", '{"again":1}')])  # seq 4 held
    rows = await following.read("run-1", 0)
    assert [(r.seq, r.event, r.data, r.event_id) for r in rows] == [
        (1, "values", '{"a":1}', "1-0"),
        (2, "custom", '{"i":0}', None),
        (3, "custom", '{"i":1}', None),
        (4, "custom", '{"i":2}', None),
    ]
    assert [r.seq for r in await following.read("run-1", 2, limit=1)] == [3]
    assert await following.read("run-1", 4) == []
    assert await following.read("run-2", 0) == []
    following.unwatch("run-1", wake)


async def test_purge_deletes_the_rows_of_runs_that_ended(
    two: tuple[RedisRunStreams, RedisRunStreams], redis_server: RedisServer
) -> None:
    relay = two[0]
    await relay.append("ended", 1, [StreamChunk(0, "values", "{}"), StreamChunk(0, END, "{}")])
    await relay.append("running", 1, [StreamChunk(0, "values", "{}")])
    await relay.request_follow("running")
    assert await relay.count() == 3
    assert await relay.purge(older_than_seconds=3600) == 0  # ended just now: kept
    await asyncio.sleep(0.05)
    assert await relay.purge(older_than_seconds=0.01) == 2
    assert await relay.count() == 1
    assert await relay.count("running") == 1
    assert await relay.count("ended") == 0
    client = relay.client
    keys = sorted([k.decode() async for k in client.scan_iter(match=f"{relay.prefix}*")])
    assert keys == [f"{relay.keys}chunks:running", f"{relay.keys}runs"]  # follows purged too
    assert 0 < await client.pttl(f"{relay.keys}chunks:running") <= 86_400_000  # a day at most


@pytest.mark.slow  # waits for a poll
async def test_a_prefix_keeps_deployments_apart(redis_server: RedisServer) -> None:
    client = Redis.from_url(redis_server.url())
    one = RedisRunStreams(client, redis_server.new_prefix())
    two = RedisRunStreams(client, redis_server.new_prefix())
    asked: list[str] = []

    async def on_follow(run_id: str) -> None:
        asked.append(run_id)

    try:
        await two.start(on_follow, lambda: ["run-1"])
        await asyncio.sleep(0.2)
        await one.request_follow("run-1")  # another deployment's follower
        await one.append("run-1", 1, [StreamChunk(0, "values", "{}")])
        await asyncio.sleep(1.3)  # a message and a poll
        assert asked == []
        assert await two.read("run-1", 0) == []
        assert await one.count() == 1 and await two.count() == 0
    finally:
        await two.stop()
        await client.aclose()


@pytest.mark.slow
async def test_the_listener_subscribes_again_after_redis_restarts() -> None:
    with provision("--appendonly", "no") as server:  # a server of its own to kill
        client = Redis.from_url(server.url())
        executing, following = RedisRunStreams(client, "gs:"), RedisRunStreams(client, "gs:")
        asked: asyncio.Queue[str] = asyncio.Queue()

        async def on_follow(run_id: str) -> None:
            await asked.put(run_id)

        try:
            await executing.start(on_follow, lambda: ["run-1"])
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.kill)
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.start)
            for _ in range(50):  # the follower retries until Redis answers again
                try:
                    await following.request_follow("run-1")
                    break
                except Exception:
                    await asyncio.sleep(0.2)
            assert await asyncio.wait_for(asked.get(), 10) == "run-1"
        finally:
            await executing.stop()
            await client.aclose()
