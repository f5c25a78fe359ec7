"""Resume semantics: which input answers an interrupt (resume keys, explicit resume, several
pending interrupts, streamed commands), and new turns of a completed chat.

Real parts only: SQLite files under tmp_path and the memory backend (``any_backend`` runs a
test on both). Moved from the numbered section 2 of the former tests/test_flow.py."""

from __future__ import annotations

import asyncio

import pytest
from langgraph.types import Command
from support.flow import (
    manager,
)
from support.graphs import approval_graph, chat_graph, two_interrupts_graph

from graph_sessions import (
    EventType,
    GraphSessionManager,
    InvalidTransition,
    SessionStatus,
)

S = SessionStatus


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


async def test_a_stream_whose_chunks_are_never_read_still_ends(
    chat_manager: GraphSessionManager,
) -> None:
    """Regression: ``await stream.result()`` without iterating (or closing the iterator
    before its first chunk) blocked the run on its full chunk buffer for ever, the
    session left running."""
    s = await chat_manager.create("unread")
    for turn in range(3):
        stream = s.stream(
            {"user_input": f"t{turn}"},
            mode=["updates", "values", "debug", "checkpoints", "tasks"],
        )
        if turn == 1:
            await aiter(stream).aclose()  # type: ignore[attr-defined]
        result = await asyncio.wait_for(stream.result(), timeout=30)
        assert result.status == "complete"
    assert (await chat_manager.info("unread")).status == S.COMPLETED
    assert (await chat_manager.info("unread")).run_count == 3


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
