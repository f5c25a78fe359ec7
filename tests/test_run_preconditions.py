"""A run's preconditions are checked by one core step that ``invoke`` and ``start_stream``
both await: a run that cannot start raises the same typed error either way, before a
streamed run has produced anything (the SSE route relies on this to answer with an HTTP
status instead of an error event)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from langgraph.types import Command
from support.graphs import chat_graph, slow_graph

from graph_sessions import GraphSession, GraphSessionManager
from graph_sessions.errors import (
    InvalidInput,
    InvalidTransition,
    SessionBusy,
    SessionSuspended,
)
from graph_sessions.models import SessionStatus

Start = Callable[[GraphSession, Any], Awaitable[Any]]


async def _invoke(session: GraphSession, input: Any, **kw: Any) -> Any:
    return await session.invoke(input, **kw)


async def _start_stream(session: GraphSession, input: Any, **kw: Any) -> Any:
    return await session.start_stream(input, **kw)


BOTH = pytest.mark.parametrize("start", [_invoke, _start_stream], ids=["invoke", "stream"])


@BOTH
async def test_a_never_run_session_needs_an_input(db_url: str, start: Start) -> None:
    async with GraphSessionManager(graph=chat_graph(), backend=db_url) as m:
        s = await m.create("s")
        with pytest.raises(InvalidInput, match="first invoke needs an input"):
            await start(s, None)
        info = await m.info("s")
        assert info.status == SessionStatus.CREATED and info.run_count == 0


@BOTH
async def test_a_resume_without_an_interrupt_is_refused(db_url: str, start: Start) -> None:
    async with GraphSessionManager(graph=chat_graph(), backend=db_url) as m:
        s = await m.create("s")
        with pytest.raises(InvalidTransition, match="no interrupt to resume"):
            await start(s, Command(resume="yes"))
        await s.invoke({"user_input": "one"})
        with pytest.raises(InvalidTransition, match="is completed: there is no interrupt"):
            await start(s, Command(resume="yes"))
        assert (await m.info("s")).run_count == 1


@BOTH
async def test_a_suspended_session_refuses_runs(db_url: str, start: Start) -> None:
    async with GraphSessionManager(graph=chat_graph(), backend=db_url) as m:
        s = await m.create("s")
        await s.invoke({"user_input": "one"})
        await s.suspend("paused for review")
        with pytest.raises(SessionSuspended, match="paused for review"):
            await start(s, {"user_input": "two"})
        assert (await m.info("s")).run_count == 1


@BOTH
async def test_reject_refuses_while_a_run_holds_the_session(db_url: str, start: Start) -> None:
    async with GraphSessionManager(graph=slow_graph(3), backend=db_url) as m:
        s = await m.create("s")
        first = asyncio.ensure_future(s.invoke({"user_input": "a", "delay": 0.2}))
        while not m.is_busy("s"):
            await asyncio.sleep(0.01)
        other = await m.get("s")
        assert other is not None
        with pytest.raises(SessionBusy, match="multitask='reject'"):
            await start(other, {"user_input": "b"}, multitask="reject")
        assert (await first).status == "complete"
        assert (await m.info("s")).run_count == 1


@BOTH
async def test_bad_options_are_refused_before_the_run(db_url: str, start: Start) -> None:
    async with GraphSessionManager(graph=chat_graph(), backend=db_url) as m:
        s = await m.create("s")
        for kw in ({"multitask": "sometimes"}, {"durability": "never"}):
            with pytest.raises(InvalidInput):
                await start(s, {"user_input": "x"}, **kw)
        with pytest.raises(InvalidInput, match="reserves"):
            await start(s, {"user_input": "x"}, config={"configurable": {"__pregel_x": 1}})


async def test_the_lazy_stream_raises_the_same_error_from_its_iteration(db_url: str) -> None:
    async with GraphSessionManager(graph=chat_graph(), backend=db_url) as m:
        s = await m.create("s")
        stream = s.stream(None)  # starts at once; the refusal comes out of the iteration
        with pytest.raises(InvalidInput, match="first invoke needs an input"):
            async for _ in stream:
                pass
        with pytest.raises(InvalidInput, match="first invoke needs an input"):
            await stream.result()


async def test_a_started_stream_runs_to_its_result(db_url: str) -> None:
    async with GraphSessionManager(graph=chat_graph(), backend=db_url) as m:
        s = await m.create("s")
        stream = await s.start_stream({"user_input": "hi"}, mode="values")
        chunks = [chunk async for chunk in stream]
        result = await stream.result()
        assert chunks and result.status == "complete"
        assert s.info.run_count == 1
