"""History: checkpoints newest first and paginated, fork, invoke from a past checkpoint,
update_state, unknown checkpoint ids.

Real parts only: SQLite files under tmp_path and the memory backend (``any_backend`` runs a
test on both). Moved from the numbered section 5 of the former tests/test_flow.py."""

from __future__ import annotations

from typing import Any

import pytest
from support.flow import (
    is_utc,
    manager,
)
from support.graphs import approval_graph, chat_graph

from graph_sessions import (
    CheckpointNotFound,
    EventType,
    GraphSession,
    GraphSessionManager,
    InvalidInput,
    SessionStatus,
)

S = SessionStatus


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


async def test_checkpoints_newest_first_and_paginate(chat_manager: GraphSessionManager) -> None:
    s = await _three_turns(chat_manager, "h1")
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


async def test_update_state_changes_state(chat_manager: GraphSessionManager) -> None:
    s = await chat_manager.create("h4")
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


async def test_bad_checkpoint_id_fork_raises_checkpoint_not_found(
    chat_manager: GraphSessionManager,
) -> None:
    s = await chat_manager.create("h5")
    await s.invoke({"user_input": "a"})
    with pytest.raises(CheckpointNotFound) as ei:
        await s.fork("no-such-checkpoint")
    assert ei.value.session_id == "h5"
    assert (await s.get_state())["turns"] == ["a"]


async def test_bad_checkpoint_id_snapshot_raises_checkpoint_not_found(
    chat_manager: GraphSessionManager,
) -> None:
    s = await chat_manager.create("h6")
    await s.invoke({"user_input": "a"})
    with pytest.raises(CheckpointNotFound) as ei:
        await s.snapshot("no-such-checkpoint")
    assert ei.value.session_id == "h6"


async def test_invoke_from_unknown_checkpoint_raises_and_keeps_state(
    chat_manager: GraphSessionManager,
) -> None:
    s = await chat_manager.create("h7")
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
