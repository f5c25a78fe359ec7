"""What the cheap run path of the LangGraph API must keep (``run_book``: chunks published
in the run's own task, the wait body encoded once, finished runs held as bytes): a wait run
joined mid-way still streams, an interrupted wait run answers the same body on ``/wait``
and ``/join``, a join after later runs answers that run's own result, and a finished run
no longer holds the state it ended with."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from langchain_core.messages import BaseMessage
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.schema import Command
from support.lgapi import GRAPH_IDS, LG_GRAPHS
from support.server import ServerProcess

from graph_sessions.core.manager import GraphSessionManager
from graph_sessions.server import create_app
from graph_sessions.server.bootstrap import plan_server
from graph_sessions.server.langgraph_api.run_launch import book_of_app

CHAT_IN = {"messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The server's app on the reference graphs (SQLite), in this process."""
    config = {
        "graphs": {g: f"{LG_GRAPHS}:{g}" for g in GRAPH_IDS},
        "graph_sessions": {"backend": f"sqlite:///{tmp_path / 's.db'}"},
    }
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    plan = plan_server(config=str(tmp_path / "langgraph.json"), environ={})
    manager = GraphSessionManager(**plan.manager_kwargs)
    async with manager:
        yield create_app(manager, plan.settings)


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def _thread(c: httpx.AsyncClient) -> str:
    r = await c.post("/threads", json={})
    assert r.status_code == 200, r.text
    return str(r.json()["thread_id"])


def _live_messages() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, BaseMessage))


async def test_a_finished_wait_run_holds_its_body_as_bytes_not_the_state(app: FastAPI) -> None:
    async with _client(app) as c:
        tid = await _thread(c)
        r = await c.post(
            f"/threads/{tid}/runs/wait", json={"assistant_id": "chat", "input": CHAT_IN}
        )
        assert r.status_code == 200
        rid = r.headers["content-location"].rsplit("/", 1)[1]
        rec = book_of_app(app).get(rid)
        assert rec is not None and rec.done.is_set()
        assert rec.result is None and rec.stream is None  # no live state objects
        assert rec.body is not None and orjson.loads(rec.body) == r.json()
        # 20 turns on one thread: the messages held would grow as 1 + 2 + ... + 40
        before = _live_messages()
        for i in range(20):
            body = {
                "assistant_id": "chat",
                "input": {"messages": [{"role": "user", "content": f"m{i}"}]},
            }
            r = await c.post(f"/threads/{tid}/runs/wait", json=body)
            assert r.status_code == 200
        assert len(r.json()["messages"]) == 42
        assert _live_messages() - before < 100
        # the held runs still answer their own result on /join
        joined = await c.get(f"/threads/{tid}/runs/{rid}/join")
        assert joined.status_code == 200 and len(joined.json()["messages"]) == 2


async def test_an_interrupted_wait_run_answers_the_same_body_on_wait_and_join(
    app: FastAPI,
) -> None:
    async with _client(app) as c:
        tid = await _thread(c)
        r = await c.post(
            f"/threads/{tid}/runs/wait",
            json={"assistant_id": "approval", "input": {"request": "r1"}},
        )
        assert r.status_code == 200
        body = r.json()
        assert body["log"] == ["prepared"] and body["request"] == "r1"
        [interrupt] = body["__interrupt__"]
        assert interrupt["value"] == {"question": "approve r1?"} and interrupt["id"]
        assert r.headers["location"].endswith("/join")
        joined = await c.get(r.headers["location"])
        assert joined.status_code == 200 and joined.json() == body
        r = await c.post(
            f"/threads/{tid}/runs/wait",
            json={"assistant_id": "approval", "command": {"resume": "yes"}},
        )
        assert r.json()["log"] == ["prepared", "asked", "finished:yes"]
        assert "__interrupt__" not in r.json()
        assert (await c.get(joined.url)).json() == body  # the first run's own result


async def test_a_failed_wait_run_keeps_its_error_body(app: FastAPI) -> None:
    async with _client(app) as c:
        tid = await _thread(c)
        r = await c.post(
            f"/threads/{tid}/runs/wait",
            json={
                "assistant_id": "slow",
                "input": {"n": 0},
                "config": {"configurable": {"fail": True}},
            },
        )
        assert r.status_code == 200
        err = {"error": "ValueError", "message": "boom: asked to fail"}
        assert r.json() == {"__error__": err}
        assert (await c.get(r.headers["location"])).json() == {"__error__": err}


async def _running_run(c: LangGraphClient, tid: str) -> str:
    for _ in range(200):
        runs = await c.runs.list(tid)
        if runs and runs[0]["status"] == "running":
            return str(runs[0]["run_id"])
        await asyncio.sleep(0.02)
    raise AssertionError("the wait run never showed as running")


@pytest.mark.slow
async def test_a_wait_run_joined_mid_way_still_streams(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = (await lg_client.threads.create())["thread_id"]
    waiting = asyncio.ensure_future(
        lg_client.runs.wait(tid, "slow", input={"n": 0}, config={"configurable": {"sleep": 1.0}})
    )
    rid = await _running_run(lg_client, tid)
    parts: list[Any] = [p async for p in lg_client.runs.join_stream(tid, rid)]
    result = await waiting
    assert result["n"] == 1 and result["log"] == ["slept"]
    values = [p.data for p in parts if p.event == "values"]
    assert values and values[-1] == result  # the run's last values, seen by the joiner
    assert await lg_client.runs.join(tid, rid) == result


@pytest.mark.slow
async def test_a_streamed_interrupt_then_wait_resume(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = (await lg_client.threads.create())["thread_id"]
    parts = [
        p
        async for p in lg_client.runs.stream(
            tid, "approval", input={"request": "r"}, stream_mode=["values", "updates"]
        )
    ]
    assert parts[0].event == "metadata"
    updates = [p.data for p in parts if p.event == "updates"]
    assert updates[-1]["__interrupt__"][0]["value"] == {"question": "approve r?"}
    out = await lg_client.runs.wait(tid, "approval", command=Command(resume="ok"))
    assert out["decision"] == "ok"
