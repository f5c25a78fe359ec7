"""Messages: the accepted forms, load, clear, summary, and concurrent appends.

Real parts only: SQLite files under tmp_path and the memory backend (``any_backend`` runs a
test on both). Moved from the numbered section 9 of the former tests/test_flow.py."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from support.flow import (
    count_rows,
    is_utc,
    manager,
    sqlite_path,
)
from support.graphs import chat_graph

from graph_sessions import (
    GraphSessionManager,
    InvalidInput,
)


async def test_messages_forms_load_clear_summary(chat_manager: GraphSessionManager) -> None:
    s = await chat_manager.create("msg")
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
