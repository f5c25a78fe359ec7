"""A streamed run buffers a bounded number of chunks for its consumer: a slow consumer
slows the run down (backpressure); a consumer that leaves lets it run on unbuffered."""

from __future__ import annotations

import asyncio

from support.server_graphs import blob

from graph_sessions import GraphSessionManager  # noqa: E402
from graph_sessions.core.session import RunStream  # noqa: E402


async def _until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_unread_chunks_are_bounded_and_the_run_waits(db_url: str) -> None:
    async with GraphSessionManager(graph=blob, backend=db_url) as m:
        s = await m.create("a")
        stream = s.stream(
            {"count": 100, "size": 100}, mode="values", config={"recursion_limit": 1000}
        )
        await _until(lambda: stream._queue.qsize() >= RunStream.max_buffered)
        for _ in range(20):  # the run stays blocked: nothing more piles up
            await asyncio.sleep(0.01)
            assert stream._queue.qsize() <= RunStream.max_buffered
        assert not stream._task.done()
        got = [chunk.get("i") async for chunk in stream]
        assert got == [None, *range(1, 101)]
        result = await stream.result()
        assert result.state["i"] == 100


async def test_a_consumer_that_leaves_does_not_block_the_run(db_url: str) -> None:
    async with GraphSessionManager(graph=blob, backend=db_url) as m:
        s = await m.create("a")
        stream = s.stream(
            {"count": 100, "size": 100}, mode="values", config={"recursion_limit": 1000}
        )
        chunks = aiter(stream)
        first = await anext(chunks)
        assert "i" not in first
        await _until(lambda: stream._queue.qsize() >= RunStream.max_buffered)
        await chunks.aclose()  # type: ignore[attr-defined]
        result = await asyncio.wait_for(stream.result(), 10)
        assert result.state["i"] == 100
        assert stream._queue.qsize() == 1  # only the end marker: nothing kept for nobody


async def test_on_chunk_gets_every_chunk_in_the_run_task_without_a_queue(db_url: str) -> None:
    async with GraphSessionManager(graph=blob, backend=db_url) as m:
        s = await m.create("a")
        got: list[object] = []
        tasks: set[object] = set()

        async def on_chunk(chunk: object) -> None:
            tasks.add(asyncio.current_task())
            assert isinstance(chunk, dict)
            got.append(chunk.get("i"))

        stream = await s.start_stream(
            {"count": 30, "size": 10},
            mode="values",
            config={"recursion_limit": 1000},
            on_chunk=on_chunk,
        )
        result = await stream.finished()
        assert got == [None, *range(1, 31)] and result.state["i"] == 30
        assert len(tasks) == 1 and stream.task not in tasks  # the graph's task, not a reader's
        assert stream._queue.qsize() <= 1  # nothing queued (at most the end marker)
        try:
            aiter(stream)
        except TypeError:
            pass
        else:
            raise AssertionError("a stream with on_chunk must not be iterable")
