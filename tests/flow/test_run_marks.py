"""A run can mark its session's metadata as it begins (``start_stream(set_metadata=)``):
the keys are merged into the metadata in the run's own start, with an event, and nothing
is written when they are there already."""

from __future__ import annotations

from support.graphs import chat_graph

from graph_sessions import GraphSessionManager
from graph_sessions.models import EventType


async def _events(session) -> list[EventType]:  # type: ignore[no-untyped-def]
    return [e.type for e in await session.events()]


async def test_marks_are_merged_as_the_run_begins(any_backend: str) -> None:
    async with GraphSessionManager(graph=chat_graph(), backend=any_backend) as m:
        s = await m.create("t", metadata={"keep": 1})
        revision = s.info.revision
        stream = await s.start_stream(
            {"user_input": "hi"}, mode="values", set_metadata={"assistant_id": "a1"}
        )
        async for _ in stream:
            pass
        await stream.result()
        info = await s.refresh()
        assert info.metadata == {"keep": 1, "assistant_id": "a1"}
        # begin and finish: two writes, none of its own for the marks
        assert info.revision == revision + 2
        assert (await _events(s)).count(EventType.METADATA_UPDATED) == 1
        again = await s.start_stream(
            {"user_input": "again"}, mode="values", set_metadata={"assistant_id": "a1"}
        )
        await again.result()
        assert (await _events(s)).count(EventType.METADATA_UPDATED) == 1
