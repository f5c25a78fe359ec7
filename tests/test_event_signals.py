"""Every backend write that appends to a session's event log wakes that session's
watchers (what makes ``/events?follow=true`` push-based), on every backend."""

from __future__ import annotations

import asyncio

from support.graphs import chat_graph

from graph_sessions import GraphSessionManager


async def test_writes_wake_the_watchers_of_their_session_only(any_backend: str) -> None:
    async with GraphSessionManager(graph=chat_graph(), backend=any_backend) as m:
        signals = m.backend.event_signals
        with signals.watch("a") as a, signals.watch("b") as b:
            assert signals.watching == 2
            session = await m.create("a")
            assert a.is_set() and not b.is_set()
            for step in (
                lambda: m.update_metadata("a", {"k": 1}),
                lambda: session.invoke({"user_input": "hi"}),
                lambda: m.delete("a"),
            ):
                a.clear()
                await step()
                assert a.is_set() and not b.is_set()
        assert signals.watching == 0


async def test_a_watcher_on_another_loop_is_woken_through_it(any_backend: str) -> None:
    async with GraphSessionManager(graph=chat_graph(), backend=any_backend) as m:
        signals = m.backend.event_signals

        def other_thread() -> bool:
            async def wait() -> bool:
                with signals.watch("a") as grew:
                    await asyncio.wait_for(grew.wait(), 10)
                    return True

            return asyncio.run(wait())

        task = asyncio.ensure_future(asyncio.to_thread(other_thread))
        while not signals.watching:
            await asyncio.sleep(0.01)
        await m.create("a")
        assert await asyncio.wait_for(task, 10) is True
