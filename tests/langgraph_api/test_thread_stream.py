"""``GET /threads/{id}/stream`` with the real SDK: joined before the runs come, it carries
each run's ``metadata``, its events of the modes asked for and ``run_done``, all with ids."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from support.server import ServerProcess

pytestmark = pytest.mark.slow


async def test_a_joined_thread_stream_carries_each_run(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    thread = await lg_client.threads.create()
    tid = thread["thread_id"]
    got: list[Any] = []

    async def reader() -> None:
        done = 0
        async for part in await lg_client.threads.join_stream(tid, stream_mode=["values"]):
            got.append(part)
            if part.event == "metadata" and part.data.get("status") == "run_done":
                done += 1
                if done == 2:
                    return

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.5)
    first = await lg_client.runs.create(
        tid, "slow", input={"n": 0}, config={"configurable": {"sleep": 0.3}}
    )
    second = await lg_client.runs.create(
        tid, "slow", input={"n": 0}, config={"configurable": {"sleep": 0}}
    )
    await asyncio.wait_for(task, 20)
    events = [
        (p.event, p.data.get("run_id"), p.data.get("status")) if p.event == "metadata" else p.event
        for p in got
    ]
    assert events[0] == ("metadata", first["run_id"], None)
    starts = [e for e in events if isinstance(e, tuple) and e[2] is None]
    dones = [e for e in events if isinstance(e, tuple) and e[2] == "run_done"]
    assert [e[1] for e in starts] == [first["run_id"], second["run_id"]]
    assert [e[1] for e in dones] == [first["run_id"], second["run_id"]]
    assert "values" in events
    assert all(p.id for p in got)
    assert got[-2].event == "values" and got[-2].data["n"] == 2


def test_thread_stream_of_a_missing_thread_is_404(lg_server: ServerProcess) -> None:
    with httpx.Client(base_url=lg_server.url) as c:
        r = c.get("/threads/00000000-0000-0000-0000-000000000000/stream")
        assert r.status_code == 404 and "detail" in r.json()
