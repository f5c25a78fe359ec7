"""``stream()``: modes (values, updates, custom, several), interrupting and failing graphs.

Real parts only: SQLite files under tmp_path and the memory backend (``any_backend`` runs a
test on both). Moved from the numbered section 4 of the former tests/test_flow.py."""

from __future__ import annotations

import pytest
from support.flow import (
    manager,
)
from support.flow_graphs import custom_stream_graph
from support.graphs import approval_graph, chat_graph, failing_graph

from graph_sessions import (
    InvokeResult,
    RunFailed,
    SessionStatus,
)

S = SessionStatus


async def test_stream_values_and_result(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend, output_key="response") as m:
        s = await m.create("st1")
        stream = s.stream({"user_input": "hi"}, mode="values")
        chunks = [c async for c in stream]
        assert all(isinstance(c, dict) for c in chunks)
        assert chunks[0] == {"user_input": "hi", "turns": []} or chunks[0].get("user_input") == "hi"
        assert chunks[-1]["response"] == "turn 1: hi"
        assert chunks[-1]["turns"] == ["hi"]
        result = await stream.result()
        assert isinstance(result, InvokeResult)
        assert result.status == "complete"
        assert result.output == "turn 1: hi"
        assert result.state["turns"] == ["hi"]
        assert (await m.info("st1")).status == S.COMPLETED


async def test_stream_updates_and_multiple_modes(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend, output_key="response") as m:
        s = await m.create("st2")
        updates = [c async for c in s.stream({"user_input": "one"}, mode="updates")]
        assert updates == [{"reply": {"turns": ["one"], "response": "turn 1: one"}}]

        stream = s.stream({"user_input": "two"}, mode=["values", "updates"])
        chunks = [c async for c in stream]
        assert all(isinstance(c, tuple) and len(c) == 2 for c in chunks)
        assert {mode for mode, _ in chunks} == {"values", "updates"}
        assert ("updates", {"reply": {"turns": ["two"], "response": "turn 2: two"}}) in chunks
        last_values = [data for mode, data in chunks if mode == "values"][-1]
        assert last_values["turns"] == ["one", "two"]
        result = await stream.result()
        assert result.output == "turn 2: two"


async def test_stream_of_interrupting_graph_ends_interrupted(any_backend: str) -> None:
    async with manager(approval_graph(), any_backend, output_key="response") as m:
        s = await m.create("st3")
        stream = s.stream({"user_input": "x"}, mode="updates")
        chunks = [c async for c in stream]
        assert any("__interrupt__" in c for c in chunks)
        result = await stream.result()
        assert result.status == "interrupted"
        assert result.resume_key == "user_input"
        assert result.interrupt == {"message": "approve?", "resume_key": "user_input"}
        assert (await m.info("st3")).status == S.INTERRUPTED

        resumed = s.stream({"user_input": "yes"}, mode="updates")
        resumed_chunks = [c async for c in resumed]
        assert {"respond": {"response": "sent", "log": ["respond"]}} in resumed_chunks
        final = await resumed.result()
        assert final.status == "complete" and final.output == "sent"


async def test_stream_custom_mode(any_backend: str) -> None:
    async with manager(custom_stream_graph(), any_backend) as m:
        s = await m.create("st4")
        stream = s.stream({"user_input": "q"}, mode="custom")
        chunks = [c async for c in stream]
        assert chunks == [{"progress": i, "input": "q"} for i in range(3)]
        assert (await stream.result()).state["response"] == "done"


async def test_stream_of_failing_graph_raises_run_failed(any_backend: str) -> None:
    async with manager(failing_graph(), any_backend) as m:
        s = await m.create("st5")
        stream = s.stream({"user_input": "fail"}, mode="updates")
        seen = []
        with pytest.raises(RunFailed) as ei:
            async for chunk in stream:
                seen.append(chunk)
        assert seen == [{"ok": {"log": ["ok:fail"]}}]
        assert ei.value.session_id == "st5"
        assert (await m.info("st5")).status == S.FAILED
