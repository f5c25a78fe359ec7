"""Run options the LangGraph-compatible API passes through the core: a run id chosen by
the caller, LangGraph run options (breakpoints, context), and cancelling one executing
run (keeping its steps, or rolling it back)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from langgraph.types import Command
from support.lgapi_graphs import approval, slow

from graph_sessions import GraphSessionManager
from graph_sessions.errors import InvalidInput, RunCancelled
from graph_sessions.models import RunStatus, SessionStatus


async def test_the_run_gets_the_id_the_caller_chose(db_url: str) -> None:
    async with GraphSessionManager(graph=approval, backend=db_url) as m:
        s = await m.create("s")
        rid = str(uuid.uuid4())
        result = await s.invoke({"request": "x"}, run_id=rid)
        assert result.run_id == rid
        rid2 = str(uuid.uuid4())
        stream = await s.start_stream(Command(resume="ok"), mode=["updates"], run_id=rid2)
        chunks = [c async for c in stream]
        assert chunks and (await stream.result()).run_id == rid2
        assert [r.run_id for r in await s.runs()] == [rid2, rid]


async def test_a_request_breakpoint_leaves_the_session_interrupted(db_url: str) -> None:
    async with GraphSessionManager(graph=approval, backend=db_url) as m:
        s = await m.create("s")
        result = await s.invoke({"request": "y"}, graph_options={"interrupt_before": ["ask"]})
        assert result.status == "interrupted" and result.interrupts == []
        assert result.state["__breakpoint__"] == ["ask"]
        assert (await m.info("s")).status == SessionStatus.INTERRUPTED
        # continuing (input None) runs into the interrupt() inside ask
        result = await s.invoke(None)
        assert result.status == "interrupted" and result.interrupts
        assert result.interrupts[0]["value"] == {"question": "approve y?"}


async def test_graph_options_are_checked(db_url: str) -> None:
    async with GraphSessionManager(graph=approval, backend=db_url) as m:
        s = await m.create("s")
        with pytest.raises(InvalidInput, match="unknown graph option"):
            await s.invoke({"request": "y"}, graph_options={"nope": 1})
        with pytest.raises(InvalidInput, match="interrupt_before"):
            await s.invoke({"request": "y"}, graph_options={"interrupt_before": "ask"})
        assert (await m.info("s")).run_count == 0


@pytest.mark.parametrize("rollback", [False, True])
async def test_cancel_run_cancels_that_run(db_url: str, rollback: bool) -> None:
    async with GraphSessionManager(graph=slow, backend=db_url) as m:
        s = await m.create("s")
        await s.invoke({"n": 0}, config={"configurable": {"sleep": 0}})
        rid = str(uuid.uuid4())
        task = asyncio.ensure_future(
            s.invoke({"n": 5}, run_id=rid, config={"configurable": {"sleep": 5}})
        )
        for _ in range(100):
            if m.is_busy("s") and m.context.gates.active_run("s") is not None:
                break
            await asyncio.sleep(0.02)
        assert not await m.cancel_run("s", "other-run")
        assert await m.cancel_run("s", rid, rollback=rollback, wait=True)
        with pytest.raises(RunCancelled):
            await task
        runs = await s.runs()
        assert runs[0].run_id == rid and runs[0].status == RunStatus.CANCELLED
        assert runs[0].error == (
            "cancelled (rollback)" if rollback else "cancelled (cancelled by request)"
        )
        assert not await m.cancel_run("s", rid)  # it is over
        if rollback:
            assert (await s.get_state())["n"] == 1


async def test_literal_input_starts_a_new_turn_on_an_interrupted_session(db_url: str) -> None:
    async with GraphSessionManager(graph=approval, backend=db_url) as m:
        s = await m.create("s")
        await s.invoke({"request": "one"})
        stream = await s.start_stream({"request": "two"}, mode=["values"], literal_input=True)
        _ = [c async for c in stream]
        result = await stream.result()
        assert result.state["log"] == ["prepared", "prepared"]
        assert result.interrupts[0]["value"] == {"question": "approve two?"}


async def test_events_mode_adds_astream_events(db_url: str) -> None:
    from graph_sessions.core.runs import GraphEvent

    async with GraphSessionManager(graph=slow, backend=db_url) as m:
        s = await m.create("s")
        stream = await s.start_stream(
            {"n": 0}, mode=["events", "updates"], config={"configurable": {"sleep": 0}}
        )
        chunks = [c async for c in stream]
        events = [c for c in chunks if isinstance(c, GraphEvent)]
        assert {"on_chain_start", "on_chain_end"} <= {e["event"] for e in events}
        assert ("updates", {"sleep": {"n": 1, "log": ["slept 0"]}}) in chunks or any(
            isinstance(c, tuple) and c[0] == "updates" for c in chunks
        )
        assert (await stream.result()).state["n"] == 1
