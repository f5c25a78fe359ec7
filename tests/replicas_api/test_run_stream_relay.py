"""The run-stream table of each backend (``storage/run_streams.py``), in process: two
backends on one database stand for two replicas. A follow request reaches the process
executing the run (a notice on Postgres, a poll on SQLite), rows come back in order,
old runs' rows are purged, and the memory backend has no relay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graph_sessions.crypto import generate_key, parse_keys
from graph_sessions.storage import Backend, backend_from_url
from graph_sessions.storage.encrypted import with_encryption
from graph_sessions.storage.run_streams import END, RunStreamRelay, StreamChunk

#: the key of the encrypted variants (storage/encrypted_relay.py): same behaviour
KEY = parse_keys(generate_key("relay"))


@pytest.fixture(params=["postgres", "sqlite", "sqlite-encrypted", "redis"])
async def two(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Backend, Backend]]:
    """Two opened backends on one database (two replicas' views of it)."""
    if request.param.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    elif request.param == "redis":
        server = request.getfixturevalue("redis_server")
        url = f"{server.url()}?prefix={server.new_prefix()}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    ring = KEY if request.param.endswith("encrypted") else None
    a, b = (with_encryption(backend_from_url(url), ring) for _ in range(2))
    await a.open()
    await b.open()
    try:
        yield a, b
    finally:
        for backend in (a, b):
            relay = backend.run_stream_relay()
            if relay is not None:
                await relay.stop()
            await backend.close()


def _relay(backend: Backend) -> RunStreamRelay:
    relay = backend.run_stream_relay()
    assert relay is not None
    assert backend.run_stream_relay() is relay  # one per backend
    return relay


async def test_a_follow_request_reaches_the_executing_process(two: tuple[Backend, Backend]) -> None:
    executing, following = (_relay(b) for b in two)
    asked: asyncio.Queue[str] = asyncio.Queue()

    async def on_follow(run_id: str) -> None:
        await asked.put(run_id)

    await executing.start(on_follow, lambda: ["run-1", "run-2"])
    await following.start(on_follow_none, list)
    await asyncio.sleep(0.2)  # listening
    await following.request_follow("run-1")
    await following.request_follow("not-held-here")  # another process's run: not ours
    assert await asyncio.wait_for(asked.get(), 5) == "run-1"
    await asyncio.sleep(1.2)
    assert asked.empty() or await asked.get() == "run-1"  # a poll may tell it again


async def on_follow_none(run_id: str) -> None:
    """A replica that executes nothing."""


async def test_rows_come_in_order_and_wake_followers(two: tuple[Backend, Backend]) -> None:
    executing, following = (_relay(b) for b in two)
    await executing.start(on_follow_none, list)
    await following.start(on_follow_none, list)
    await asyncio.sleep(0.2)
    wake = following.watch("run-1")
    wake.clear()
    await executing.append("run-1", 1, [StreamChunk(0, "values", '{"a":1}', "1-0")])
    await asyncio.wait_for(wake.wait(), 3)  # a notice (Postgres) or the poll (SQLite)
    await executing.append("run-1", 2, [StreamChunk(0, "custom", f'{{"i":{i}}}') for i in range(3)])
    rows = await following.read("run-1", 0)
    assert [(r.seq, r.event, r.data, r.event_id) for r in rows] == [
        (1, "values", '{"a":1}', "1-0"),
        (2, "custom", '{"i":0}', None),
        (3, "custom", '{"i":1}', None),
        (4, "custom", '{"i":2}', None),
    ]
    assert [r.seq for r in await following.read("run-1", 2, limit=1)] == [3]
    assert await following.read("run-2", 0) == []
    following.unwatch("run-1", wake)


async def test_purge_deletes_the_rows_of_runs_that_ended(two: tuple[Backend, Backend]) -> None:
    relay = _relay(two[0])
    await relay.append("ended", 1, [StreamChunk(0, "values", "{}"), StreamChunk(0, END, "{}")])
    await relay.append("running", 1, [StreamChunk(0, "values", "{}")])
    assert await relay.count() == 3
    assert await relay.purge(older_than_seconds=3600) == 0  # ended just now: kept
    await asyncio.sleep(0.05)
    assert await relay.purge(older_than_seconds=0.01) == 2
    assert await relay.count() == 1
    assert await relay.count("running") == 1


async def test_the_memory_backend_has_no_relay() -> None:
    backend = backend_from_url("memory://")
    await backend.open()
    try:
        assert backend.run_stream_relay() is None
    finally:
        await backend.close()
