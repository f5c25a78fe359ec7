"""What the LangGraph-compatible API needs of the core: LangGraph's own snapshots and
history (``state_snapshot``, ``state_history``), ``update_state`` from a past checkpoint,
and ``manager.copy``. Real parts: SQLite files and the memory backend."""

from __future__ import annotations

import pytest
from support.flow import manager
from support.graphs import approval_graph, chat_graph

from graph_sessions import CheckpointNotFound, InvalidInput, SessionNotFound, SessionStatus


async def test_state_snapshot_and_history_are_langgraphs_own(any_backend: str) -> None:
    async with manager(approval_graph(), any_backend) as m:
        s = await m.create("a1")
        fresh = await s.state_snapshot()
        assert fresh.created_at is None and not fresh.values
        assert await s.state_history() == []
        await s.invoke({"user_input": "x"})
        head = await s.state_snapshot()
        assert head.next and head.tasks and head.tasks[0].interrupts
        assert head.interrupts and head.interrupts[0].id == head.tasks[0].interrupts[0].id
        history = await s.state_history(limit=100)
        assert history[0].config == head.config
        ids = [h.config["configurable"]["checkpoint_id"] for h in history]
        assert ids == sorted(ids, reverse=True)
        older = await s.state_history(limit=100, before=ids[0])
        assert [h.config["configurable"]["checkpoint_id"] for h in older] == ids[1:]
        inputs = await s.state_history(limit=100, metadata={"source": "input"})
        assert inputs and all(h.metadata and h.metadata["source"] == "input" for h in inputs)
        past = await s.state_snapshot(ids[-1])
        assert past.config["configurable"]["checkpoint_id"] == ids[-1]
        with pytest.raises(InvalidInput):
            await s.state_history(limit=0)


async def test_update_state_from_a_past_checkpoint_forks(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("u1")
        await s.invoke({"user_input": "a"})
        first = (await s.snapshot()).checkpoint_id  # type: ignore[union-attr]
        await s.invoke({"user_input": "b"})
        await s.update_state({"turns": ["forked"]}, checkpoint_id=first)
        assert (await s.get_state())["turns"] == ["a", "forked"]
        with pytest.raises(CheckpointNotFound):
            await s.update_state({"turns": ["x"]}, checkpoint_id="no-such-checkpoint")
        assert (await s.get_state())["turns"] == ["a", "forked"]


async def test_copy_makes_a_new_session_with_the_same_state(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("c1", owner="alice", metadata={"k": "v"})
        await s.invoke({"user_input": "a"})
        c = await m.copy("c1", owner="alice")
        assert c.session_id != "c1"
        assert c.info.owner == "alice" and c.info.metadata == {"k": "v"}
        assert c.info.status == SessionStatus.COMPLETED
        assert (await c.get_state())["turns"] == ["a"]
        await c.invoke({"user_input": "b"})
        assert (await c.get_state())["turns"] == ["a", "b"]
        assert (await s.get_state())["turns"] == ["a"]
        named = await m.copy("c1", new_id="c2")
        assert named.session_id == "c2" and (await m.info("c2")).owner == "alice"
        with pytest.raises(SessionNotFound):
            await m.copy("c1", owner="bob")
        with pytest.raises(SessionNotFound):
            await m.copy("nope")


async def test_prune_history_keeps_the_newest_and_the_state(any_backend: str) -> None:
    async with manager(chat_graph(), any_backend) as m:
        s = await m.create("p1")
        for word in ("a", "b", "c"):
            await s.invoke({"user_input": word})
        before = await s.get_state()
        assert len(await s.state_history(limit=100)) > 2
        assert await s.prune_history(1) > 0
        assert len(await s.state_history(limit=100)) == 1
        assert await s.get_state() == before
        assert await s.prune_history(1) == 0
        with pytest.raises(InvalidInput):
            await s.prune_history(0)
        await s.invoke({"user_input": "d"})  # goes on from the kept head
        assert (await s.get_state())["turns"] == ["a", "b", "c", "d"]
