"""The seed flow: a graph that interrupts survives a restart and resumes; the spellings of
the seed (graph path, checkpointer, config thread_id, cleanup).

Real parts only: SQLite files under tmp_path and the memory backend (``any_backend`` runs a
test on both). Moved from the numbered section 1 of the former tests/test_flow.py."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.flow import (
    DECLINED,
    DRAFT_FOR,
    SUPPORT_BOT,
    count_rows,
    manager,
    support_bot_module,
)

from graph_sessions import (
    GraphSessionManager,
    InvokeResult,
    SessionStatus,
)

S = SessionStatus


@pytest.mark.parametrize("graph_form", ["builder", "path"])
async def test_seed_flow_interrupt_survives_restart_and_resumes(
    tmp_path: Path, graph_form: str
) -> None:
    db = f"sqlite:///{tmp_path / 'seed.db'}"
    graph: Any = support_bot_module().builder if graph_form == "builder" else f"{SUPPORT_BOT}:graph"

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
