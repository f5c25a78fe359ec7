"""``manager.assistants``: assistants and their versions through the core, on both backends."""

from __future__ import annotations

import pytest
from support.flow import manager
from support.graphs import approval_graph, chat_graph

from graph_sessions import InvalidInput


async def test_create_update_versions_set_delete(any_backend: str) -> None:
    async with manager({"chat": chat_graph(), "approval": approval_graph()}, any_backend) as m:
        a = await m.assistants.create("chat", owner="alice", name="v1", metadata={"v": 1})
        assert a is not None and a.version == 1 and a.graph_id == "chat"
        assert await m.assistants.create("chat", assistant_id=a.assistant_id) is None
        assert await m.assistants.get(a.assistant_id, owner="bob") is None
        assert await m.assistants.get(a.assistant_id) == a
        u = await m.assistants.update(
            a.assistant_id, owner="alice", name="v2", metadata={"w": 2}, graph_id="approval"
        )
        assert u is not None and u.version == 2 and u.name == "v2"
        assert u.metadata == {"v": 1, "w": 2} and u.graph_id == "approval"
        assert u.created_at == a.created_at
        assert await m.assistants.update(a.assistant_id, owner="bob", name="x") is None
        assert [v.version for v in await m.assistants.versions(a.assistant_id)] == [2, 1]
        assert await m.assistants.versions(a.assistant_id, owner="bob") == []
        back = await m.assistants.set_version(a.assistant_id, 1, owner="alice")
        assert back is not None and back.name == "v1"
        assert await m.assistants.set_version(a.assistant_id, 9) is None
        third = await m.assistants.update(a.assistant_id, description="d")
        assert third is not None and third.version == 3 and third.name == "v1"
        assert [x.assistant_id for x in await m.assistants.list(owner="alice")] == [a.assistant_id]
        assert await m.assistants.list(owner="bob") == []
        assert not await m.assistants.delete(a.assistant_id, owner="bob")
        assert await m.assistants.delete(a.assistant_id, owner="alice")
        assert await m.assistants.get(a.assistant_id) is None


async def test_bad_assistants_are_invalid_input(any_backend: str) -> None:
    async with manager({"chat": chat_graph()}, any_backend) as m:
        with pytest.raises(InvalidInput):
            await m.assistants.create("nope")
        with pytest.raises(InvalidInput):
            await m.assistants.create("chat", config="text")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            await m.assistants.create("chat", assistant_id="x" * 300)
        a = await m.assistants.create("chat")
        assert a is not None and a.name == "Untitled"
        with pytest.raises(InvalidInput):
            await m.assistants.update(a.assistant_id, graph_id="nope")
