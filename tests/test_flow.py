"""End-to-end tests of the Python API: seed flow, resume, failure, streaming, history,
registry, delete, events, messages, errors, sync facade and storage details.

Real parts only: SQLite files under tmp_path and the memory backend (``any_backend`` runs a
test on both). No mocks.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sqlite3
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from support.db_tables import session_rows
from support.flow_graphs import custom_stream_graph, router_graph
from support.graphs import approval_graph, chat_graph, failing_graph, two_interrupts_graph

from graph_sessions import (
    BackendError,
    CheckpointNotFound,
    EventType,
    GraphLoadError,
    GraphSession,
    GraphSessionManager,
    InvalidInput,
    InvalidTransition,
    InvokeResult,
    ManagerClosed,
    ManualClock,
    RunFailed,
    RunStatus,
    SessionExists,
    SessionInfo,
    SessionNotFound,
    SessionStatus,
    SyncGraphSessionManager,
)
from graph_sessions.storage.memory import MemoryBackend
from graph_sessions.storage.sqlite import MIGRATIONS

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SUPPORT_BOT = ROOT / "examples" / "support_bot.py"
FLOW_GRAPHS = TESTS / "support" / "flow_graphs.py"
DRAFT_FOR = "Thanks for writing about {!r}. We are on it."
DECLINED = "A colleague will follow up shortly."

S = SessionStatus


def _support_bot_module() -> Any:
    name = "support_bot_for_test_flow"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SUPPORT_BOT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # TypedDict annotations are resolved through sys.modules
    spec.loader.exec_module(module)
    return module


def manager(graph: Any, backend: Any, **kwargs: Any) -> GraphSessionManager:
    """A manager without the background sweeper (nothing in these tests expires)."""
    kwargs.setdefault("sweep_interval", None)
    return GraphSessionManager(graph=graph, backend=backend, **kwargs)


def shareable(url: str) -> Any:
    """Something several managers in a row can use as the same storage: the SQLite URL, or
    one MemoryBackend object (its close() keeps the data)."""
    return MemoryBackend() if url.startswith("memory") else url


def sqlite_path(url: str) -> str:
    assert url.startswith("sqlite:///")
    return url[len("sqlite:///") :]


def is_utc(value: datetime | None) -> bool:
    return value is not None and value.tzinfo is not None and value.utcoffset() == timedelta(0)


def count_rows(db_file: str, session_id: str) -> dict[str, int]:
    """Rows of one session in every table that holds session data (read with sqlite3)."""
    con = sqlite3.connect(db_file)
    try:
        return session_rows(con, session_id)
    finally:
        con.close()


# =========================================================================================
# 1. The seed flow
# =========================================================================================


@pytest.mark.parametrize("graph_form", ["builder", "path"])
async def test_seed_flow_interrupt_survives_restart_and_resumes(
    tmp_path: Path, graph_form: str
) -> None:
    db = f"sqlite:///{tmp_path / 'seed.db'}"
    graph: Any = (
        _support_bot_module().builder if graph_form == "builder" else f"{SUPPORT_BOT}:graph"
    )

    first = manager(graph, db, output_key="response")
    await first.open()
    session = await first.get_or_create("user-123", metadata={"plan": "pro"}, owner="alice")
    assert session.session_id == "user-123"
    assert session.status == S.CREATED

    result = await session.invoke({"user_input": "my order is late"})
    assert isinstance(result, InvokeResult)
    assert result.status == "interrupted"
    assert result.is_interrupted
    assert result.resume_key == "user_input"
    assert len(result.interrupts) == 1
    payload = result.interrupts[0]["value"]
    assert payload["resume_key"] == "user_input"
    assert payload["message"] == f"Send this reply? {DRAFT_FOR.format('my order is late')}"
    assert result.interrupt == payload
    assert result.output is None
    assert result.state["draft"] == DRAFT_FOR.format("my order is late")
    assert result.session_id == "user-123"
    assert session.status == S.INTERRUPTED
    interrupt_id = result.interrupts[0]["id"]
    await first.close()
    assert not first.is_open

    second = manager(graph, db, output_key="response")
    async with second:
        restored = await second.get_or_create("user-123")
        assert restored.status == S.INTERRUPTED
        assert restored.metadata == {"plan": "pro"}
        assert restored.info.owner == "alice"
        assert [i["id"] for i in restored.info.interrupts] == [interrupt_id]
        assert restored.info.interrupts[0]["value"] == payload
        snap = await restored.snapshot()
        assert snap is not None and snap.next == ["approve"]
        assert [i["id"] for i in snap.interrupts] == [interrupt_id]

        done = await restored.invoke({"user_input": "yes"})
        assert done.status == "complete"
        assert done.interrupts == []
        assert done.resume_key is None
        assert done.output == done.state["response"] == DRAFT_FOR.format("my order is late")
        state = await restored.get_state()
        assert state["approved"] is True
        assert state["history"] == [
            "user: my order is late",
            f"bot: {DRAFT_FOR.format('my order is late')}",
        ]
        assert restored.is_complete
        info = await second.info("user-123")
        assert info.status == S.COMPLETED
        assert info.run_count == 2
        assert info.interrupts == []


async def test_seed_spellings_graph_path_checkpointer_config_thread_id_cleanup(
    tmp_path: Path,
) -> None:
    db_file = tmp_path / "seed-spelling.db"
    m = GraphSessionManager(
        graph_path=f"{SUPPORT_BOT}:graph",
        checkpointer_config={"type": "sqlite", "path": str(db_file), "ttl": 60},
        output_key="response",
        sweep_interval=None,
    )
    assert m.ttl == 60
    await m.open()
    session = await m.get_or_create(thread_id="thread-7")
    assert session.thread_id == session.session_id == "thread-7"
    assert session.info.ttl == 60
    assert session.info.expires_at is not None
    assert session.info.expires_at - session.info.created_at == timedelta(seconds=60)

    first = await session.invoke({"user_input": "refund"})
    assert first.status == "interrupted"
    assert not session.is_complete
    second = await session.invoke({"user_input": "no"})
    assert second.status == "complete"
    assert session.is_complete
    assert second.output == DECLINED
    state = await session.get_state()
    assert isinstance(state, dict)
    assert state["approved"] is False
    assert state["response"] == DECLINED

    await m.cleanup()
    assert not m.is_open
    assert db_file.is_file()
    rows = count_rows(str(db_file), "thread-7")
    assert rows["sessions"] == 1 and rows["checkpoints"] > 0 and rows["runs"] == 2


# =========================================================================================
# 2. Resume semantics
# =========================================================================================


async def test_a_plain_input_never_answers_an_interrupt_that_names_no_resume_key(
    any_backend: str,
) -> None:
    """Issue 10 #17: with a plain ``interrupt("...")`` the whole input dict used to become
    the answer, so a message from another client answered the pending question. Now a plain
    input is refused (nothing changes) and the answer is given explicitly."""
    async with manager(approval_graph(resume_key=None), any_backend) as m:
        s = await m.create("r1")
        first = await s.invoke({"user_input": "draft me"})
        assert first.status == "interrupted"
        assert first.resume_key is None
        assert first.interrupt == {"message": "approve?"}
        for stray in ({"user_input": "yes"}, None, {}):
            with pytest.raises(InvalidTransition, match="waiting at an interrupt") as ei:
                await s.invoke(stray)
            assert "resume" in ei.value.message and ei.value.session_id == "r1"
        info = await m.info("r1")
        assert info.status == S.INTERRUPTED and info.run_count == 1  # no run was started
        done = await s.resume("yes")  # explicit: the value as is
        assert done is not None and done.status == "complete"
        state = await s.get_state()
        assert state["approved"] is True
        assert state["log"] == ["draft:draft me", "answer:yes", "respond"]
        # Command(resume=...) is explicit too.
        again = await s.invoke({"user_input": "second"})
        assert again.status == "interrupted"
        done = await s.invoke(Command(resume="no"))
        assert done.state["log"][-2:] == ["answer:no", "respond"]


async def test_a_stray_input_without_the_named_resume_key_is_refused(any_backend: str) -> None:
    async with manager(approval_graph(), any_backend) as m:  # the interrupt names user_input
        s = await m.create("r1b")
        await s.invoke({"user_input": "x"})
        with pytest.raises(InvalidTransition, match="'user_input'"):
            await s.invoke({"other": "hello"})
        done = await s.invoke({"user_input": "yes"})  # the seed's resume_key flow
        assert done.status == "complete" and done.state["approved"] is True


async def test_manager_resume_key_default(any_backend: str) -> None:
    async with manager(approval_graph(resume_key=None), any_backend, resume_key="user_input") as m:
        s = await m.create("r2")
        first = await s.invoke({"user_input": "draft me"})
        assert first.resume_key == "user_input"
        done = await s.invoke({"user_input": "yes", "ignored": 1})
        assert done.status == "complete"
        assert done.state["approved"] is True
        assert done.state["log"] == ["draft:draft me", "answer:yes", "respond"]


async def test_explicit_resume_with_a_dict_passes_it_verbatim(any_backend: str) -> None:
    async with manager(approval_graph(), any_backend, output_key="response") as m:
        s = await m.create("r3")
        with pytest.raises(InvalidTransition) as ei:
            await s.resume({"user_input": "yes"})  # nothing to resume yet
        assert ei.value.session_id == "r3"
        await s.invoke({"user_input": "x"})
        # explicit resume: the value answers the interrupt as given (no resume_key picking)
        done = await s.resume({"user_input": "yes"})
        assert done is not None and done.status == "complete"
        assert done.output == "dropped"
        assert done.state["log"] == ["draft:x", "answer:{'user_input': 'yes'}", "respond"]
        assert s.status == S.COMPLETED
        with pytest.raises(InvalidTransition):
            await s.resume({"user_input": "again"})
        assert [e.type for e in await s.events()][-2:] == [
            EventType.RESUMED,
            EventType.RUN_COMPLETED,
        ]


async def test_explicit_resume_with_a_plain_value(any_backend: str) -> None:
    async with manager(approval_graph(), any_backend, output_key="response") as m:
        s = await m.create("r3b")
        await s.invoke({"user_input": "x"})
        done = await s.resume("yes")
        assert done is not None and done.status == "complete"
        assert done.output == "sent"
        assert done.state["log"] == ["draft:x", "answer:yes", "respond"]


async def test_two_pending_interrupts_resumed_at_once(any_backend: str) -> None:
    async with manager(two_interrupts_graph(), any_backend) as m:
        s = await m.create("multi")
        first = await s.invoke({"user_input": "go"})
        assert first.status == "interrupted"
        assert len(first.interrupts) == 2
        by_question = {i["value"]["question"]: i["id"] for i in first.interrupts}
        assert set(by_question) == {"a", "b"}
        info = await m.info("multi")
        assert sorted(i["id"] for i in info.interrupts) == sorted(by_question.values())

        done = await s.invoke({by_question["a"]: "apple", by_question["b"]: "banana"})
        assert done.status == "complete"
        assert sorted(done.state["answers"]) == ["a=apple", "b=banana"]
        assert (await m.info("multi")).status == S.COMPLETED


async def test_two_pending_interrupts_explicit_resume_with_id_map(any_backend: str) -> None:
    async with manager(two_interrupts_graph(), any_backend) as m:
        s = await m.create("multi2")
        first = await s.invoke({})
        ids = {i["value"]["question"]: i["id"] for i in first.interrupts}
        done = await s.resume({ids["a"]: 1, ids["b"]: 2})
        assert done is not None and done.status == "complete"
        assert sorted(done.state["answers"]) == ["a=1", "b=2"]


async def test_two_pending_interrupts_answered_by_a_streamed_command(any_backend: str) -> None:
    """Regression: ``stream(Command(resume=value))`` (what ``chat`` and ``/stream`` send)
    on two pending interrupts failed the session (LangGraph wants interrupt ids) where
    ``resume(value)`` answered both."""
    async with manager(two_interrupts_graph(), any_backend) as m:
        s = await m.create("multi-stream")
        assert (await s.invoke({})).status == "interrupted"
        stream = s.stream(Command(resume="x"), mode="updates")
        chunks = [chunk async for chunk in stream]
        done = await stream.result()
        assert chunks and done.status == "complete"
        assert sorted(done.state["answers"]) == ["a=x", "b=x"]
        assert (await m.info("multi-stream")).status == S.COMPLETED


async def test_a_stream_whose_chunks_are_never_read_still_ends(any_backend: str) -> None:
    """Regression: ``await stream.result()`` without iterating (or closing the iterator
    before its first chunk) blocked the run on its full chunk buffer for ever, the
    session left running."""
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("unread")
        for turn in range(3):
            stream = s.stream(
                {"user_input": f"t{turn}"},
                mode=["updates", "values", "debug", "checkpoints", "tasks"],
            )
            if turn == 1:
                await aiter(stream).aclose()  # type: ignore[attr-defined]
            result = await asyncio.wait_for(stream.result(), timeout=30)
            assert result.status == "complete"
        assert (await m.info("unread")).status == S.COMPLETED
        assert (await m.info("unread")).run_count == 3


async def test_interrupts_with_their_own_resume_keys_take_only_their_answer(
    any_backend: str,
) -> None:
    """Regression: with two pending interrupts naming resume keys `ra` and `rb`,
    invoke({"ra": ...}) gave `b` the whole input dict instead of leaving it pending."""
    async with manager(two_interrupts_graph(("ra", "rb")), any_backend) as m:
        s = await m.create("keys")
        first = await s.invoke({})
        assert len(first.interrupts) == 2
        half = await s.invoke({"ra": "apple"})
        assert half.status == "interrupted"
        assert [i["value"]["question"] for i in half.interrupts] == ["b"]
        assert half.state.get("answers", []) == ["a=apple"]
        done = await s.invoke({"rb": "banana"})
        assert done.status == "complete"
        assert sorted(done.state["answers"]) == ["a=apple", "b=banana"]
        both = await m.create("keys2")
        await both.invoke({})
        done = await both.invoke({"ra": 1, "rb": 2})
        assert sorted(done.state["answers"]) == ["a=1", "b=2"]


async def test_completed_chat_graph_starts_new_turn_and_accumulates(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend, output_key="response") as m:
        s = await m.get_or_create("chat")
        outputs = [(await s.invoke({"user_input": word})).output for word in ("a", "b", "c")]
        assert outputs == ["turn 1: a", "turn 2: b", "turn 3: c"]
        state = await s.get_state()
        assert state["turns"] == ["a", "b", "c"]
        info = await m.info("chat")
        assert info.status == S.COMPLETED
        assert info.run_count == 3


# =========================================================================================
# 3. Failure
# =========================================================================================


async def test_failing_run_raises_run_failed_then_recovers(any_backend: str) -> None:
    async with manager(failing_graph(), any_backend) as m:
        s = await m.create("f1")
        with pytest.raises(RunFailed) as ei:
            await s.invoke({"user_input": "fail"})
        err = ei.value
        assert isinstance(err.error, RuntimeError)
        assert str(err.error) == "boom"
        assert err.__cause__ is err.error
        assert err.session_id == "f1"
        assert err.run_id

        info = await m.info("f1")
        assert info.status == S.FAILED
        assert info.last_error is not None and "boom" in info.last_error
        runs = await s.runs()
        assert len(runs) == 1
        assert runs[0].run_id == err.run_id
        assert runs[0].status == RunStatus.ERROR
        assert runs[0].error is not None and "boom" in runs[0].error
        assert runs[0].finished_at is not None
        # the state stays at the last good checkpoint (after `ok`)
        assert (await s.get_state())["log"] == ["ok:fail"]
        types = [e.type for e in await s.events()]
        assert types == [EventType.CREATED, EventType.RUN_STARTED, EventType.RUN_FAILED]

        good = await s.invoke({"user_input": "good"})
        assert good.status == "complete"
        assert good.state["log"] == ["ok:fail", "ok:good", "boom-ok"]
        info = await m.info("f1")
        assert info.status == S.COMPLETED
        assert info.last_error is None
        assert [r.status for r in await s.runs()] == [RunStatus.SUCCESS, RunStatus.ERROR]


# =========================================================================================
# 4. stream()
# =========================================================================================


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


# =========================================================================================
# 5. History
# =========================================================================================


async def _three_turns(m: GraphSessionManager, sid: str) -> GraphSession:
    s = await m.create(sid)
    for word in ("a", "b", "c"):
        await s.invoke({"user_input": word})
    return s


def _turn_end(checkpoints: list[Any], turns: list[str]) -> Any:
    """The checkpoint at the end of the turn that left `turns` (nothing left to run)."""
    matches = [c for c in checkpoints if c.values.get("turns") == turns and c.next == []]
    assert matches, f"no completed checkpoint with turns={turns}"
    return matches[0]


async def test_checkpoints_newest_first_and_paginate(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        s = await _three_turns(m, "h1")
        everything = await s.checkpoints(limit=100)
        assert len(everything) >= 6
        ids = [c.checkpoint_id for c in everything]
        assert len(set(ids)) == len(ids)
        assert ids == sorted(ids, reverse=True)  # LangGraph ids are time-ordered
        stamps = [c.created_at for c in everything]
        assert all(is_utc(t) for t in stamps)
        assert stamps == sorted(stamps, reverse=True)
        assert everything[0].values["turns"] == ["a", "b", "c"]
        head = await s.snapshot()
        assert head is not None and head.checkpoint_id == ids[0]
        assert head.values["response"] == "turn 3: c"
        assert head.next == []
        # parent links walk the history
        for newer, older in zip(everything, everything[1:], strict=False):
            assert newer.parent_checkpoint_id == older.checkpoint_id

        assert [c.checkpoint_id for c in await s.checkpoints(limit=3)] == ids[:3]
        walked: list[str] = []
        before = None
        while True:
            page = await s.checkpoints(limit=4, before=before)
            if not page:
                break
            assert len(page) <= 4
            walked.extend(c.checkpoint_id for c in page)
            before = page[-1].checkpoint_id
        assert walked == ids  # every checkpoint exactly once, in order, no overlap

        with pytest.raises(InvalidInput):
            await s.checkpoints(limit=0)


async def test_fork_rewinds_and_next_invoke_continues_from_it(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend, output_key="response") as m:
        s = await _three_turns(m, "h2")
        history = await s.checkpoints(limit=100)
        target = _turn_end(history, ["a"])
        forked = await s.fork(target.checkpoint_id)
        assert forked.values["turns"] == ["a"]
        assert forked.checkpoint_id != target.checkpoint_id  # a copy became the head
        assert (await s.get_state())["turns"] == ["a"]
        assert (await m.info("h2")).status == S.COMPLETED

        result = await s.invoke({"user_input": "d"})
        assert result.output == "turn 2: d"
        assert (await s.get_state())["turns"] == ["a", "d"]
        # the old branch is still readable
        later = await s.checkpoints(limit=100)
        assert any(c.values.get("turns") == ["a", "b", "c"] for c in later)
        assert EventType.FORKED in [e.type for e in await s.events()]


async def test_invoke_from_past_checkpoint(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend, output_key="response") as m:
        s = await _three_turns(m, "h3")
        target = _turn_end(await s.checkpoints(limit=100), ["a", "b"])
        result = await s.invoke({"user_input": "x"}, checkpoint_id=target.checkpoint_id)
        assert result.status == "complete"
        assert result.output == "turn 3: x"
        assert result.state["turns"] == ["a", "b", "x"]
        assert (await s.get_state())["turns"] == ["a", "b", "x"]
        # and the next plain invoke continues from the new head
        nxt = await s.invoke({"user_input": "y"})
        assert nxt.state["turns"] == ["a", "b", "x", "y"]


async def test_update_state_changes_state(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("h4")
        await s.invoke({"user_input": "a"})
        before_head = (await s.snapshot()).checkpoint_id  # type: ignore[union-attr]
        info = await s.update_state({"response": "edited", "turns": ["manual"]})
        assert info.checkpoint_id != before_head
        state = await s.get_state()
        assert state["response"] == "edited"
        assert state["turns"] == ["a", "manual"]  # reducer applied
        assert EventType.STATE_UPDATED in [e.type for e in await s.events()]
        with pytest.raises(InvalidInput) as ei:
            await s.update_state(["not", "a", "dict"])  # type: ignore[arg-type]
        assert ei.value.session_id == "h4"


async def test_bad_checkpoint_id_fork_raises_checkpoint_not_found(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("h5")
        await s.invoke({"user_input": "a"})
        with pytest.raises(CheckpointNotFound) as ei:
            await s.fork("no-such-checkpoint")
        assert ei.value.session_id == "h5"
        assert (await s.get_state())["turns"] == ["a"]


async def test_bad_checkpoint_id_snapshot_raises_checkpoint_not_found(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("h6")
        await s.invoke({"user_input": "a"})
        with pytest.raises(CheckpointNotFound) as ei:
            await s.snapshot("no-such-checkpoint")
        assert ei.value.session_id == "h6"


async def test_invoke_from_unknown_checkpoint_raises_and_keeps_state(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("h7")
        await s.invoke({"user_input": "a"})
        await s.invoke({"user_input": "b"})
        with pytest.raises(CheckpointNotFound) as ei:
            await s.invoke({"user_input": "z"}, checkpoint_id="no-such-checkpoint")
        assert ei.value.session_id == "h7"
        assert (await s.get_state())["turns"] == ["a", "b"]


async def test_update_state_on_interrupted_session_keeps_it_resumable(any_backend: str) -> None:
    async with manager(approval_graph(), any_backend, output_key="response") as m:
        s = await m.create("h8")
        await s.invoke({"user_input": "x"})
        await s.update_state({"log": ["edited"]})
        assert (await s.get_state())["log"] == ["draft:x", "edited"]
        assert (await m.info("h8")).status != S.COMPLETED  # the graph has not reached its end
        done = await s.invoke({"user_input": "yes"})
        assert done.status == "complete"
        assert done.output == "sent"
        assert done.state["log"] == ["draft:x", "edited", "answer:yes", "respond"]


# =========================================================================================
# 6. Registry
# =========================================================================================


async def test_create_get_and_owner_scoping(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        given = await m.create("given-id", owner="alice", metadata={"k": "v"})
        assert given.session_id == "given-id"
        assert given.status == S.CREATED
        generated = await m.create()
        assert generated.session_id and generated.session_id != "given-id"
        assert (await m.get(generated.session_id)) is not None

        with pytest.raises(SessionExists) as ei:
            await m.create("given-id")
        assert ei.value.session_id == "given-id"

        assert await m.get("unknown") is None
        assert await m.get("given-id", owner="bob") is None
        got = await m.get("given-id", owner="alice")
        assert got is not None and got.metadata == {"k": "v"}
        with pytest.raises(SessionNotFound) as nf:
            await m.get_or_create("given-id", owner="bob")
        assert nf.value.session_id == "given-id"
        with pytest.raises(SessionNotFound):
            await m.info("given-id", owner="bob")
        same = await m.get_or_create("given-id", owner="alice")
        assert same.info.created_at == given.info.created_at


async def test_create_of_existing_id_keeps_its_state(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("keep-me")
        await s.invoke({"user_input": "precious"})
        with pytest.raises(SessionExists):
            await m.create("keep-me")
        # a refused create must not touch the existing session
        assert (await s.get_state())["turns"] == ["precious"]
        assert len(await s.checkpoints(limit=100)) > 0


async def _populate(m: GraphSessionManager, clock: ManualClock, n: int = 25) -> list[str]:
    """n sessions, one second apart: owner alice/bob, task t0..t2, metadata tier/n/vip, and
    statuses by i % 4: 0 created, 1 completed, 2 interrupted, 3 failed."""
    ids = []
    for i in range(n):
        clock.advance(1)
        sid = f"s{i:02d}"
        s = await m.create(
            sid,
            owner="alice" if i % 2 == 0 else "bob",
            task_id=f"t{i % 3}",
            metadata={"tier": "gold" if i % 5 == 0 else "free", "n": i, "vip": i % 3 == 0},
        )
        kind = i % 4
        if kind == 1:
            await s.invoke({"user_input": "hello"})
        elif kind == 2:
            await s.invoke({"user_input": "ask"})
        elif kind == 3:
            with pytest.raises(RunFailed):
                await s.invoke({"user_input": "fail"})
        ids.append(sid)
    return ids


def _ids(page: Any) -> list[str]:
    return [s.session_id for s in page]


async def test_list_filters(any_backend: str) -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    start = clock.now
    async with manager(router_graph(), any_backend, clock=clock, graph_id="support") as m:
        ids = await _populate(m, clock)
        created = [i for i in range(25) if i % 4 == 0]
        completed = [i for i in range(25) if i % 4 == 1]
        interrupted = [i for i in range(25) if i % 4 == 2]
        failed = [i for i in range(25) if i % 4 == 3]

        def sids(idx: list[int]) -> set[str]:
            return {ids[i] for i in idx}

        assert set(_ids(await m.list(limit=100))) == set(ids)
        assert set(_ids(await m.list(status="completed", limit=100))) == sids(completed)
        assert set(_ids(await m.list(status=S.FAILED, limit=100))) == sids(failed)
        assert set(_ids(await m.list(status=["interrupted", "created"], limit=100))) == sids(
            interrupted + created
        )
        assert set(_ids(await m.list(owner="alice", limit=100))) == sids(
            [i for i in range(25) if i % 2 == 0]
        )
        assert set(_ids(await m.list(owner="carol", limit=100))) == set()
        assert set(_ids(await m.list(graph_id="support", limit=100))) == set(ids)
        assert _ids(await m.list(graph_id="other", limit=100)) == []
        assert set(_ids(await m.list(task_id="t1", limit=100))) == sids(
            [i for i in range(25) if i % 3 == 1]
        )
        # metadata containment: strings, ints, bools, and several keys at once
        assert set(_ids(await m.list(metadata={"tier": "gold"}, limit=100))) == sids(
            [0, 5, 10, 15, 20]
        )
        assert _ids(await m.list(metadata={"n": 7}, limit=100)) == ["s07"]
        assert set(_ids(await m.list(metadata={"vip": True}, limit=100))) == sids(
            [i for i in range(25) if i % 3 == 0]
        )
        assert set(_ids(await m.list(metadata={"vip": False, "tier": "gold"}, limit=100))) == sids(
            [5, 10, 20]
        )
        assert _ids(await m.list(metadata={"tier": "platinum"}, limit=100)) == []
        assert _ids(await m.list(metadata={"n": "7"}, limit=100)) == []  # a string is not the int
        # everything combined
        combo = await m.list(status="completed", owner="bob", metadata={"vip": True}, limit=100)
        assert set(_ids(combo)) == sids([i for i in completed if i % 2 == 1 and i % 3 == 0])
        # created_after is inclusive, created_before exclusive (session i was created at start + i + 1 s)
        window = await m.list(
            created_after=start + timedelta(seconds=6),
            created_before=start + timedelta(seconds=11),
            limit=100,
        )
        assert set(_ids(window)) == sids([5, 6, 7, 8, 9])
        # naive datetimes are read as UTC
        naive = await m.list(
            created_after=(start + timedelta(seconds=24)).replace(tzinfo=None), limit=100
        )
        assert set(_ids(naive)) == sids([23, 24])


async def test_list_metadata_filter_nested_dict_key_order(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        await m.create("nested", metadata={"prefs": {"lang": "en", "tz": "UTC"}})
        assert _ids(await m.list(metadata={"prefs": {"lang": "en", "tz": "UTC"}})) == ["nested"]
        # the same dict value, keys written in another order
        assert _ids(await m.list(metadata={"prefs": {"tz": "UTC", "lang": "en"}})) == ["nested"]


async def test_list_sort_order_and_cursor_pagination(any_backend: str) -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    async with manager(router_graph(), any_backend, clock=clock) as m:
        ids = await _populate(m, clock)
        desc = _ids(await m.list(limit=100))
        assert desc == list(reversed(ids))  # default: newest created first
        asc = _ids(await m.list(order="asc", limit=100))
        assert asc == ids

        # touch three old sessions: they become the most recently updated
        for sid in ("s04", "s00", "s08"):  # created sessions (i % 4 == 0): invoking completes them
            clock.advance(1)
            await (await m.get(sid)).invoke({"user_input": "later"})  # type: ignore[union-attr]
        by_updated = _ids(await m.list(sort="updated_at", order="desc", limit=3))
        assert by_updated == ["s08", "s00", "s04"]

        for order in ("desc", "asc"):
            full = _ids(await m.list(order=order, limit=100))
            walked: list[str] = []
            cursor = None
            pages = 0
            while True:
                page = await m.list(order=order, limit=7, cursor=cursor)
                pages += 1
                walked.extend(_ids(page))
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert walked == full
            assert len(walked) == len(set(walked)) == 25
            assert pages == 4

        # with a filter, and with the sort on updated_at
        walked = []
        cursor = None
        while True:
            page = await m.list(owner="alice", sort="updated_at", limit=2, cursor=cursor)
            walked.extend(_ids(page))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert walked == _ids(await m.list(owner="alice", sort="updated_at", limit=100))
        assert len(walked) == 13


async def test_cursor_pagination_with_equal_timestamps(any_backend: str) -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))  # never advanced: every created_at ties
    async with manager(chat_graph(), any_backend, clock=clock) as m:
        for i in range(11):
            await m.create(f"tie-{i:02d}")
        walked: list[str] = []
        cursor = None
        while True:
            page = await m.list(limit=3, cursor=cursor)
            walked.extend(_ids(page))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert sorted(walked) == [f"tie-{i:02d}" for i in range(11)]
        assert len(walked) == 11


async def test_list_rejects_bad_arguments(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        await m.create("one")
        for bad in ("not-a-cursor!!", "W10", "WyJ4Il0"):  # garbage, "[]", '["x"]'
            with pytest.raises(InvalidInput):
                await m.list(cursor=bad)
        with pytest.raises(InvalidInput):
            await m.list(status="bogus")
        with pytest.raises(InvalidInput):
            await m.list(status=["completed", "bogus"])
        with pytest.raises(InvalidInput):
            await m.count(status="bogus")
        for limit in (0, -1, 1001, "10"):
            with pytest.raises(InvalidInput):
                await m.list(limit=limit)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            await m.list(sort="session_id")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            await m.list(order="up")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            await m.list(metadata=["x"])  # type: ignore[arg-type]


async def test_count_and_stats(any_backend: str) -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    async with manager(router_graph(), any_backend, clock=clock) as m:
        await _populate(m, clock, n=12)  # statuses: 3 of each
        assert await m.count() == 12
        assert await m.count(status="completed") == 3
        assert await m.count(status=["failed", "interrupted"]) == 6
        assert await m.count(owner="bob") == 6
        assert await m.count(metadata={"vip": True}) == 4
        assert await m.count(status="created", owner="alice") == 3
        assert await m.count(metadata={"vip": True}) == len(await m.list(metadata={"vip": True}))

        stats = await m.stats()
        assert stats.total == 12
        assert stats.by_status == {"created": 3, "completed": 3, "interrupted": 3, "failed": 3}
        assert stats.expired == 0
        assert stats.runs_total == 9
        assert stats.oldest_created_at == datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC)
        assert stats.newest_created_at == datetime(2030, 1, 1, 0, 0, 12, tzinfo=UTC)


async def test_update_metadata_merge_and_replace(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("meta", metadata={"plan": "pro", "a": 1})
        merged = await m.update_metadata("meta", {"a": 2, "b": 3})
        assert merged.metadata == {"plan": "pro", "a": 2, "b": 3}
        assert (await m.info("meta")).metadata == {"plan": "pro", "a": 2, "b": 3}
        replaced = await s.update_metadata({"only": True}, merge=False)
        assert replaced.metadata == {"only": True}
        assert s.metadata == {"only": True}
        assert (await m.info("meta")).metadata == {"only": True}
        assert _ids(await m.list(metadata={"only": True})) == ["meta"]
        assert _ids(await m.list(metadata={"plan": "pro"})) == []
        assert [e.type for e in await s.events()].count(EventType.METADATA_UPDATED) == 2
        with pytest.raises(InvalidInput):
            await m.update_metadata("meta", ["x"])  # type: ignore[arg-type]
        with pytest.raises(SessionNotFound) as ei:
            await m.update_metadata("ghost", {"a": 1})
        assert ei.value.session_id == "ghost"


# =========================================================================================
# 7. delete()
# =========================================================================================


async def _busy_session(m: GraphSessionManager, sid: str) -> GraphSession:
    """A session with rows everywhere: runs, events, messages, checkpoints, writes."""
    s = await m.create(sid, owner="alice")
    await s.invoke({"user_input": "x"})  # interrupts: pending writes are stored
    await s.invoke({"user_input": "yes"})
    await s.invoke({"user_input": "again"})  # interrupted again
    await s.messages.append("user", f"hello from {sid}")
    return s


async def test_delete_removes_every_row_sqlite(db_url: str) -> None:
    db_file = sqlite_path(db_url)
    async with manager(approval_graph(), db_url) as m:
        await _busy_session(m, "doomed")
        await _busy_session(m, "survivor")
        before_doomed = count_rows(db_file, "doomed")
        before_survivor = count_rows(db_file, "survivor")
        assert all(n > 0 for n in before_doomed.values()), before_doomed
        assert all(n > 0 for n in before_survivor.values()), before_survivor

        assert await m.delete("doomed") is True
        assert count_rows(db_file, "doomed") == dict.fromkeys(before_doomed, 0)
        assert count_rows(db_file, "survivor") == before_survivor

        assert await m.get("doomed") is None
        with pytest.raises(SessionNotFound):
            await m.info("doomed")
        assert await m.delete("doomed") is False
        assert await m.delete("never-existed") is False
        survivor = await m.get("survivor")
        assert survivor is not None and survivor.status == S.INTERRUPTED
    # and still so after the manager closed (the deletes were committed)
    assert count_rows(db_file, "doomed") == dict.fromkeys(before_doomed, 0)


async def test_delete_then_recreate_starts_clean(any_backend: str) -> None:
    async with manager(approval_graph(), any_backend) as m:
        await _busy_session(m, "again")
        await _busy_session(m, "other")
        assert await m.delete("again") is True
        assert await m.delete("unknown-id") is False
        assert await m.delete("other", owner="mallory") is False
        fresh = await m.get_or_create("again")
        assert fresh.status == S.CREATED
        assert await fresh.get_state() == {}
        assert await fresh.checkpoints() == []
        assert await fresh.messages.load() == []
        assert await fresh.runs() == []
        assert [e.type for e in await fresh.events()] == [EventType.CREATED]
        other = await m.get("other")
        assert other is not None
        assert len(await other.messages.load()) == 1
        assert len(await other.runs()) == 3


# =========================================================================================
# 8. Events and runs
# =========================================================================================


async def test_events_and_runs_of_interrupt_then_resume(any_backend: str) -> None:
    async with manager(approval_graph(), any_backend) as m:
        s = await m.create("ev", owner="alice")
        r1 = await s.invoke({"user_input": "x"})
        r2 = await s.invoke({"user_input": "yes"})
        events = await s.events()
        assert [e.type for e in events] == [
            EventType.CREATED,
            EventType.RUN_STARTED,
            EventType.INTERRUPTED,
            EventType.RUN_STARTED,
            EventType.RESUMED,
            EventType.RUN_COMPLETED,
        ]
        assert [e.run_id for e in events] == [
            None,
            r1.run_id,
            r1.run_id,
            r2.run_id,
            r2.run_id,
            r2.run_id,
        ]
        assert r1.run_id != r2.run_id
        assert all(e.session_id == "ev" for e in events)
        ids = [e.id for e in events]
        assert ids == sorted(ids) and len(set(ids)) == 6
        stamps = [e.at for e in events]
        assert all(is_utc(t) for t in stamps)
        assert stamps == sorted(stamps)
        assert events[0].data.get("owner") == "alice"
        assert events[2].data["interrupts"] == [r1.interrupts[0]["id"]]
        assert events[4].data["interrupts"] == [r1.interrupts[0]["id"]]
        # paging by id
        assert [e.id for e in await s.events(after=ids[2])] == ids[3:]
        assert [e.id for e in await s.events(limit=2)] == ids[:2]

        runs = await s.runs()
        assert [r.run_id for r in runs] == [r2.run_id, r1.run_id]
        assert [r.status for r in runs] == [RunStatus.SUCCESS, RunStatus.INTERRUPTED]
        assert all(
            r.session_id == "ev" and r.kind == "invoke" and r.multitask == "enqueue" for r in runs
        )
        assert all(is_utc(r.started_at) and is_utc(r.finished_at) for r in runs)
        assert runs[0].checkpoint_after == r2.checkpoint_id
        assert runs[1].checkpoint_after == r1.checkpoint_id
        assert runs[0].checkpoint_before == r1.checkpoint_id
        assert runs[1].checkpoint_before is None
        assert [r.run_id for r in await s.runs(limit=1)] == [r2.run_id]


# =========================================================================================
# 9. Messages
# =========================================================================================


async def test_messages_forms_load_clear_summary(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("msg")
        m1 = await s.messages.append("user", "hi")
        assert (m1.role, m1.content, m1.session_id) == ("user", "hi", "msg")
        m2 = await s.messages.append({"role": "assistant", "content": "hello", "lang": "en"})
        assert m2.role == "assistant" and m2.data == {"lang": "en"}
        m3 = await s.messages.append(HumanMessage(content="question?"))
        m4 = await s.messages.append(AIMessage(content="answer."))
        assert (m3.role, m3.content) == ("user", "question?")
        assert (m4.role, m4.content) == ("assistant", "answer.")
        ext = await s.messages.extend(
            [
                {"role": "system", "content": "be nice"},
                {"role": "tool", "content": {"result": [1, 2]}},
                AIMessage(content="done"),
            ]
        )
        assert len(ext) == 3
        all_ids = [m1.id, m2.id, m3.id, m4.id, *ext]
        assert all_ids == sorted(all_ids) and len(set(all_ids)) == 7

        loaded = await s.messages.load()
        assert [x.id for x in loaded] == all_ids
        assert [x.role for x in loaded] == [
            "user",
            "assistant",
            "user",
            "assistant",
            "system",
            "tool",
            "assistant",
        ]
        assert loaded[5].content == {"result": [1, 2]}
        assert loaded[1].data == {"lang": "en"}
        assert all(is_utc(x.created_at) for x in loaded)
        assert [x.id for x in await s.messages.load(limit=2)] == all_ids[-2:]
        assert [x.id for x in await s.messages.load(before=m4.id)] == all_ids[:3]
        assert [x.id for x in await s.messages.load(limit=1, before=m4.id)] == [m3.id]

        summary = await s.messages.summary()
        assert summary.count == 7
        assert summary.by_role == {"user": 2, "assistant": 3, "system": 1, "tool": 1}
        assert summary.last_message is not None and summary.last_message.content == "done"
        assert is_utc(summary.first_at) and is_utc(summary.last_at)

        with pytest.raises(InvalidInput):
            await s.messages.append(42)
        with pytest.raises(InvalidInput):
            await s.messages.append({"role": "user"})

        assert await s.messages.clear() == 7
        assert await s.messages.load() == []
        assert (await s.messages.summary()).count == 0


async def test_two_hundred_concurrent_appends_sqlite(db_url: str) -> None:
    async with manager(chat_graph(), db_url) as m:
        s = await m.create("flood")
        other = await m.create("quiet")
        await other.messages.append("user", "untouched")
        results = await asyncio.gather(*(s.messages.append("user", f"m{i}") for i in range(200)))
        ids = [r.id for r in results]
        assert len(set(ids)) == 200
        loaded = await s.messages.load()
        assert len(loaded) == 200
        assert sorted(x.content for x in loaded) == sorted(f"m{i}" for i in range(200))
        assert {x.id for x in loaded} == set(ids)
        assert (await s.messages.summary()).count == 200
        assert [x.content for x in await other.messages.load()] == ["untouched"]
    assert count_rows(sqlite_path(db_url), "flood")["messages"] == 200


# =========================================================================================
# 10. Errors
# =========================================================================================


async def test_unknown_session_errors_carry_the_id(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        with pytest.raises(SessionNotFound) as ei:
            await m.info("ghost")
        assert ei.value.session_id == "ghost"
        assert ei.value.to_dict()["error"] == "session_not_found"
        with pytest.raises(InvalidInput):
            await m.info("")
        # a session object whose row was deleted under it
        s = await m.create("short-lived")
        await m.delete("short-lived")
        with pytest.raises(SessionNotFound) as gone:
            await s.events()
        assert gone.value.session_id == "short-lived"


@pytest.mark.parametrize(
    "ref",
    [
        "nope.py:graph",
        "json:nothing",
        "no_colon",
        42,
        f"{FLOW_GRAPHS}:not_a_graph",
        f"{FLOW_GRAPHS}:raising_factory",
        f"{FLOW_GRAPHS}:missing_attr",
        "graphs/support.yaml",
        "no_such_module_xyz:graph",
    ],
)
def test_bad_graph_references_raise_graph_load_error(ref: Any, tmp_path: Path) -> None:
    with pytest.raises(GraphLoadError) as ei:
        GraphSessionManager(graph=ref, backend=f"sqlite:///{tmp_path / 'x.db'}")
    assert ei.value.session_id is None
    assert not (tmp_path / "x.db").exists()  # nothing opened


def test_factory_that_raises_and_factory_with_arguments(tmp_path: Path) -> None:
    def broken() -> Any:
        raise ValueError("cannot build")

    with pytest.raises(GraphLoadError, match="cannot build"):
        GraphSessionManager(graph=broken, backend="memory://")
    with pytest.raises(GraphLoadError):
        GraphSessionManager(graph=lambda required: chat_graph(), backend="memory://")
    # No graph at all: allowed for inspection (see test_multigraph); running needs one.


async def test_good_graph_references(tmp_path: Path) -> None:
    # a factory, "file.py:builder" and "file.py:factory" all load and run
    for ref in (chat_graph, f"{FLOW_GRAPHS}:router_builder", f"{FLOW_GRAPHS}:router_graph"):
        async with manager(ref, "memory://") as m:
            s = await m.create("ok")
            result = await s.invoke({"user_input": "fine"})
            assert result.status == "complete"


@pytest.mark.parametrize(
    "url", ["postgres://x", "ftp://x", "redis://localhost", "sqlite://", "sqlite:///x.db?mode=ro"]
)
def test_bad_backend_url_raises_backend_error_at_construction(url: str) -> None:
    with pytest.raises(BackendError):
        GraphSessionManager(graph=chat_graph(), backend=url)


async def test_sqlite_in_missing_folder_raises_backend_error_at_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    m = manager(chat_graph(), "sqlite:///missing_dir/x.db")
    with pytest.raises(BackendError):
        await m.open()
    assert not m.is_open
    assert not (tmp_path / "missing_dir").exists()
    absolute = manager(chat_graph(), f"sqlite:///{tmp_path / 'nope' / 'x.db'}")
    with pytest.raises(BackendError):
        async with absolute:
            pass


async def test_invalid_inputs_carry_the_session_id(any_backend: str) -> None:
    with pytest.raises(InvalidInput):
        GraphSessionManager(graph=chat_graph(), backend=any_backend, multitask="bogus")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        GraphSessionManager(graph=chat_graph(), backend=any_backend, durability="never")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        GraphSessionManager(graph=chat_graph(), backend=any_backend, ttl=-5)
    with pytest.raises(InvalidInput):
        GraphSessionManager(
            graph=chat_graph(), backend=any_backend, checkpointer_config={"type": "mongo"}
        )
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("inv")
        for bad in ([1, 2], "just text", 7):
            with pytest.raises(InvalidInput) as ei:
                await s.invoke(bad)  # type: ignore[arg-type]
            assert ei.value.session_id == "inv"
        with pytest.raises(InvalidInput) as ei:
            await s.invoke({"user_input": "x"}, multitask="bogus")  # type: ignore[arg-type]
        assert ei.value.session_id == "inv"
        with pytest.raises(InvalidInput) as ei:
            await s.invoke({"user_input": "x"}, durability="never")  # type: ignore[arg-type]
        assert ei.value.session_id == "inv"
        with pytest.raises(InvalidInput):
            await m.create("bad-meta", metadata=["x"])  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            await m.create("x" * 300)
        # nothing ran, nothing changed
        info = await m.info("inv")
        assert info.status == S.CREATED and info.run_count == 0
        assert await s.runs() == []


async def test_invoke_without_input_on_new_session_is_invalid_input(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("empty")
        with pytest.raises(InvalidInput) as ei:
            await s.invoke()
        assert ei.value.session_id == "empty"
        info = await m.info("empty")
        assert info.status == S.CREATED and info.last_error is None


async def test_closed_manager_raises_manager_closed(any_backend: str) -> None:
    m = manager(chat_graph(), any_backend)
    with pytest.raises(ManagerClosed):
        await m.create("early")
    with pytest.raises(ManagerClosed):
        await m.list()
    with pytest.raises(ManagerClosed):
        _ = m.graph
    async with m:
        s = await m.create("later")
        await s.invoke({"user_input": "a"})
    for call in (
        m.get_or_create("later"),
        m.get("later"),
        m.info("later"),
        m.delete("later"),
        m.stats(),
        m.count(),
    ):
        with pytest.raises(ManagerClosed):
            await call
    with pytest.raises(ManagerClosed):
        await s.get_state()


async def test_invoke_on_closed_manager_raises_manager_closed(any_backend: str) -> None:
    storage = shareable(any_backend)
    m = manager(chat_graph(), storage)
    async with m:
        s = await m.create("closed-invoke")
        await s.invoke({"user_input": "a"})
    with pytest.raises(ManagerClosed):
        await s.invoke({"user_input": "b"})
    async with manager(chat_graph(), storage) as again:
        info = await again.info("closed-invoke")
        assert info.status == S.COMPLETED and info.run_count == 1
        reopened = await again.get("closed-invoke")
        assert reopened is not None
        assert [r.status for r in await reopened.runs()] == [RunStatus.SUCCESS]


async def test_graph_with_its_own_checkpointer_is_rebound(db_url: str) -> None:
    own_saver = InMemorySaver()
    async with manager(chat_graph().compile(checkpointer=own_saver), db_url) as m:
        s = await m.create("rebound")
        await s.invoke({"user_input": "a"})
    assert list(own_saver.list(None)) == []  # its own saver was never written to
    rows = count_rows(sqlite_path(db_url), "rebound")
    assert rows["checkpoints"] > 0
    # a new process, a new compile with yet another private saver: the state is in the file
    async with manager(chat_graph().compile(checkpointer=InMemorySaver()), db_url) as m2:
        s2 = await m2.get_or_create("rebound")
        result = await s2.invoke({"user_input": "b"})
        assert result.state["turns"] == ["a", "b"]


# =========================================================================================
# 11. Sync facade
# =========================================================================================


def test_sync_facade_seed_flow(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'sync.db'}"
    with SyncGraphSessionManager(
        graph=f"{SUPPORT_BOT}:graph", backend=db, output_key="response", sweep_interval=None
    ) as m:
        s = m.get_or_create("user-123", metadata={"plan": "pro"}, owner="alice")
        first = s.invoke({"user_input": "where is my parcel"})
        assert first.status == "interrupted"
        assert first.resume_key == "user_input"
        assert not s.is_complete
    with SyncGraphSessionManager(
        graph=f"{SUPPORT_BOT}:graph", backend=db, output_key="response", sweep_interval=None
    ) as m:
        s = m.get_or_create("user-123")
        assert s.status == S.INTERRUPTED
        assert s.info.owner == "alice" and s.info.metadata == {"plan": "pro"}
        done = s.invoke({"user_input": "yes"})
        assert done.status == "complete"
        assert done.output == DRAFT_FOR.format("where is my parcel")
        assert s.is_complete
        assert s.get_state()["approved"] is True
        assert [e.type for e in s.events()][-1] == EventType.RUN_COMPLETED
        assert m.info("user-123").status == S.COMPLETED
        assert len(m.list()) == 1
        # a new turn, streamed through the facade: it pauses at the approval again
        chunks = list(s.stream({"user_input": "another"}, mode="updates"))
        assert chunks[0] == {
            "draft": {"draft": DRAFT_FOR.format("another"), "history": ["user: another"]}
        }
        assert "__interrupt__" in chunks[-1]
        assert m.info("user-123").status == S.INTERRUPTED
        assert s.refresh().run_count == 3


def test_sync_facade_two_threads_same_session(tmp_path: Path) -> None:
    n = 8
    db = f"sqlite:///{tmp_path / 'threads.db'}"
    errors: list[BaseException] = []
    outputs: list[str] = []
    lock = threading.Lock()
    with SyncGraphSessionManager(
        graph=chat_graph(), backend=db, output_key="response", sweep_interval=None
    ) as m:
        m.create("shared")
        barrier = threading.Barrier(2)

        def worker(tag: str) -> None:
            try:
                session = m.get_or_create("shared")  # each thread its own session object
                barrier.wait()
                for i in range(n):
                    out = session.invoke({"user_input": f"{tag}{i}"}).output
                    with lock:
                        outputs.append(out)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(tag,)) for tag in ("x", "y")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        s = m.get("shared")
        assert s is not None
        turns = s.get_state()["turns"]
        assert len(turns) == 2 * n
        assert sorted(turns) == sorted([f"x{i}" for i in range(n)] + [f"y{i}" for i in range(n)])
        # each run saw the previous one: the turn numbers are 1..2n, each exactly once
        assert sorted(int(o.split(":")[0].split()[1]) for o in outputs) == list(range(1, 2 * n + 1))
        assert m.info("shared").run_count == 2 * n
        assert m.info("shared").status == S.COMPLETED


# =========================================================================================
# 12. Storage details
# =========================================================================================


APPLIED = [(version,) for version, _ in MIGRATIONS]  # every migration, once, in order


async def test_sqlite_wal_mode_and_schema_version(db_url: str) -> None:
    db_file = sqlite_path(db_url)
    async with manager(chat_graph(), db_url) as m:
        await m.create("wal")
        con = sqlite3.connect(db_file)
        try:
            assert con.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
            assert con.execute("SELECT version FROM schema_version").fetchall() == APPLIED
        finally:
            con.close()
        assert await m.backend.schema_version() == MIGRATIONS[-1][0]  # type: ignore[attr-defined]
    # reopening does not migrate again
    async with manager(chat_graph(), db_url) as m:
        assert (await m.info("wal")).session_id == "wal"
    con = sqlite3.connect(db_file)
    try:
        assert con.execute("SELECT version FROM schema_version").fetchall() == APPLIED
        assert con.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
        raw = con.execute(
            "SELECT created_at, updated_at FROM sessions WHERE session_id = 'wal'"
        ).fetchone()
        assert all(text.endswith("+00:00") for text in raw)
    finally:
        con.close()


async def test_session_info_timestamps_are_aware_utc(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend, ttl=120) as m:
        s = await m.create("tz")
        await s.invoke({"user_input": "a"})
        for info in (s.info, await m.info("tz"), (await m.list()).sessions[0]):
            assert isinstance(info, SessionInfo)
            assert is_utc(info.created_at)
            assert is_utc(info.updated_at)
            assert is_utc(info.expires_at)
            assert info.updated_at >= info.created_at
            assert info.expires_at is not None and info.expires_at > info.updated_at
        stats = await m.stats()
        assert is_utc(stats.oldest_created_at) and is_utc(stats.newest_created_at)
        assert abs(datetime.now(UTC) - (await m.info("tz")).created_at) < timedelta(minutes=5)


async def test_session_object_shows_failed_status_after_a_failed_run(any_backend: str) -> None:
    """Regression: after RunFailed the held object still showed the status before the run."""
    async with manager(failing_graph(), any_backend) as m:
        s = await m.create("shown")
        with pytest.raises(RunFailed):
            await s.invoke({"user_input": "fail"})
        assert s.status == S.FAILED
        assert s.info.last_error is not None and "boom" in s.info.last_error


async def test_resume_through_a_stale_object_after_another_answered(any_backend: str) -> None:
    """resume() trusts a cached 'interrupted'; the run must still refuse when another
    session object answered the interrupt in between (no plain value fed as graph input)."""
    async with manager(approval_graph(), any_backend) as m:
        a = await m.create("stale-resume")
        await a.invoke({"user_input": "x"})
        b = await m.get("stale-resume")
        assert b is not None
        await b.resume("yes")
        with pytest.raises(InvalidTransition):
            await a.resume("no")
        assert (await b.get_state())["approved"] is True


async def test_list_and_count_refuse_unknown_filters_and_bad_dates(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        await m.create("f1", owner="a")
        with pytest.raises(InvalidInput, match="unknown filter"):
            await m.list(ownr="a")  # type: ignore[call-arg]
        with pytest.raises(InvalidInput, match="unknown filter"):
            await m.count(colour="red")  # type: ignore[call-arg]
        with pytest.raises(InvalidInput, match="created_after must be a datetime"):
            await m.list(created_after="yesterday")  # type: ignore[arg-type]
        assert await m.count(owner="a") == 1


async def test_concurrent_metadata_merges_keep_every_key(any_backend: str) -> None:
    """Regression: update_metadata read, merged in Python and wrote the whole dict back, so
    concurrent merges of different keys lost all but one."""
    async with manager(chat_graph(), any_backend) as m:
        await m.create("meta", metadata={"base": 0})
        await asyncio.gather(*(m.update_metadata("meta", {f"k{i}": i}) for i in range(20)))
        info = await m.info("meta")
        assert info.metadata == {"base": 0, **{f"k{i}": i for i in range(20)}}


async def test_metadata_and_ids_that_cannot_be_stored_are_invalid_input(any_backend: str) -> None:
    """Regression: a lone surrogate in metadata or an id raised TypeError/UnicodeEncodeError
    from the storage layer instead of a typed InvalidInput (and the server answered 500)."""
    async with manager(chat_graph(), any_backend) as m:
        with pytest.raises(InvalidInput, match="JSON-serializable"):
            await m.create("s1", metadata={"a": "\ud800"})
        with pytest.raises(InvalidInput, match="not valid Unicode"):
            await m.create("\ud800")
        s = await m.create("s1", metadata={"a": 1})
        with pytest.raises(InvalidInput, match="JSON-serializable"):
            await m.update_metadata("s1", {"b": "\udfff"})
        assert (await m.info("s1")).metadata == {"a": 1}
        assert [i.session_id for i in (await m.list()).sessions] == [s.session_id]
