"""Streamed runs over the LangGraph API: the exact SSE bytes and headers (raw httpx), every
stream mode through the real SDK, interrupts in streams, resumable runs joined and replayed
with ``Last-Event-ID``, heartbeats, and errors before the stream starts."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import pytest
from langgraph_sdk.client import LangGraphClient
from support.server import ServerProcess, sse_events

pytestmark = pytest.mark.slow

CHAT_IN = {"messages": [{"role": "user", "content": "hello there"}]}


def new_thread(srv: ServerProcess) -> str:
    with srv.client() as c:
        return str(c.post("/sessions", json={}).json()["session_id"])


async def collect(stream: Any) -> list[Any]:
    return [p async for p in stream]


def test_sse_bytes_and_headers(lg_server: ServerProcess) -> None:
    tid = new_thread(lg_server)
    with (
        lg_server.client() as c,
        c.stream(
            "POST", f"/threads/{tid}/runs/stream", json={"assistant_id": "chat", "input": CHAT_IN}
        ) as r,
    ):
        raw = r.read()
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert r.headers["cache-control"] == "no-store"
        rid = r.headers["content-location"].rsplit("/", 1)[1]
        assert r.headers["content-location"] == f"/threads/{tid}/runs/{rid}"
        assert r.headers["location"] == f"/threads/{tid}/runs/{rid}/stream"
    head = f'event: metadata\r\ndata: {{"run_id":"{rid}","attempt":1}}\r\n\r\nevent: values\r\ndata: {{'
    assert raw.startswith(head.encode()), raw[:200]
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    assert b"id: " not in raw  # not resumable: no ids
    events = [e["event"] for e in sse_events(iter(raw.decode().split("\r\n")))]
    assert events[0] == "metadata" and set(events[1:]) == {"values"}


def test_resumable_ids_join_and_replay(lg_server: ServerProcess) -> None:
    tid = new_thread(lg_server)
    body = {
        "assistant_id": "slow",
        "input": {"n": 0},
        "config": {"configurable": {"sleep": 1.0}},
        "stream_mode": ["values", "updates"],
        "stream_resumable": True,
    }
    with lg_server.client() as c:
        run = c.post(f"/threads/{tid}/runs", json=body).json()
        url = f"/threads/{tid}/runs/{run['run_id']}/stream"
        # joined mid-run without Last-Event-ID: from now on, no metadata event
        with c.stream("GET", url) as r:
            assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
            live = list(sse_events(r.iter_lines()))
        assert live and live[0]["event"] != "metadata"
        assert {"values", "updates"} <= {e["event"] for e in live}
        # after the end: Last-Event-ID -1 replays everything, ids on every event
        with c.stream("GET", url, headers={"Last-Event-ID": "-1"}) as r:
            raw = r.read()
        replay = list(sse_events(iter(raw.decode().split("\r\n"))))
        assert replay[0]["event"] == "metadata" and replay[0]["data"]["run_id"] == run["run_id"]
        assert all(re.fullmatch(r"\d+-\d+", e["id"]) for e in replay)
        assert b"\r\nid: " in raw and raw.index(b"data: ") < raw.index(b"id: ")
        # after a given id: the rest
        with c.stream("GET", url, headers={"Last-Event-ID": replay[1]["id"]}) as r:
            rest = list(sse_events(r.iter_lines()))
        assert [e["id"] for e in rest] == [e["id"] for e in replay[2:]]
        # a finished run that is not resumable: an empty stream
        plain = c.post(
            f"/threads/{tid}/runs/wait",
            json={
                "assistant_id": "slow",
                "input": {"n": 0},
                "config": {"configurable": {"sleep": 0}},
            },
        )
        rid = plain.headers["content-location"].rsplit("/", 1)[1]
        with c.stream(
            "GET", f"/threads/{tid}/runs/{rid}/stream", headers={"Last-Event-ID": "-1"}
        ) as r:
            assert r.status_code == 200 and r.read() == b""


def test_heartbeat_while_silent(lg_server: ServerProcess) -> None:
    tid = new_thread(lg_server)
    body = {"assistant_id": "slow", "input": {"n": 0}, "config": {"configurable": {"sleep": 5.6}}}
    with lg_server.client() as c, c.stream("POST", f"/threads/{tid}/runs/stream", json=body) as r:
        raw = r.read()
    assert b": heartbeat\r\n\r\n" in raw
    assert [e["event"] for e in sse_events(iter(raw.decode().split("\r\n")))][0] == "metadata"


def test_errors_before_the_stream_are_json(lg_server: ServerProcess) -> None:
    with lg_server.client() as c:
        r = c.post(
            f"/threads/{uuid.uuid4()}/runs/stream", json={"assistant_id": "chat", "input": CHAT_IN}
        )
        assert r.status_code == 404 and r.headers["content-type"] == "application/json"
        assert r.json() == {"detail": "Thread or assistant not found."}


async def test_values_updates_and_messages_modes(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    parts = await collect(lg_client.runs.stream(tid, "chat", input=CHAT_IN, stream_mode="values"))
    assert parts[0].event == "metadata" and {p.event for p in parts[1:]} == {"values"}
    assert set(parts[0].data) == {"run_id", "attempt"}
    assert len(parts[-1].data["messages"]) == 2
    parts = await collect(lg_client.runs.stream(tid, "chat", input=CHAT_IN, stream_mode="updates"))
    ups = [p.data for p in parts if p.event == "updates"]
    assert ups and "chat" in ups[-1]
    parts = await collect(
        lg_client.runs.stream(tid, "chat", input=CHAT_IN, stream_mode="messages-tuple")
    )
    msgs = [p for p in parts if p.event == "messages"]
    chunk, meta = msgs[0].data
    assert chunk["type"] == "AIMessageChunk" and meta["langgraph_node"] == "chat"
    # the run's ids reach the graph's metadata, as on LangGraph's server
    assert meta["graph_id"] == "chat" and meta["thread_id"] == tid
    assert meta["assistant_id"] == "eb6db400-e3c8-5d06-a834-015cb89efe69" and meta["run_id"]
    assert "".join(p.data[0]["content"] for p in msgs) == "echo: hello there"
    parts = await collect(lg_client.runs.stream(tid, "chat", input=CHAT_IN, stream_mode="messages"))
    ev = [p.event for p in parts]
    assert ev.count("messages/metadata") == 1 and "messages/complete" not in ev
    partials = [p.data for p in parts if p.event == "messages/partial"]
    assert partials[-1][0]["content"] == "echo: hello there" and partials[-1][0]["type"] == "ai"
    assert len(partials[0][0]["content"]) < len(partials[-1][0]["content"])  # accumulated


async def test_lists_of_modes_custom_debug_tasks_checkpoints(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    parts = await collect(
        lg_client.runs.stream(
            tid,
            "chat",
            input=CHAT_IN,
            stream_mode=["values", "updates", "messages-tuple", "custom"],
        )
    )
    assert {p.event for p in parts} == {"metadata", "values", "updates", "messages", "custom"}
    assert [p.data for p in parts if p.event == "custom"] == [{"custom": "hello from chat node"}]
    parts = await collect(
        lg_client.runs.stream(
            tid, "chat", input=CHAT_IN, stream_mode=["debug", "tasks", "checkpoints"]
        )
    )
    assert {p.event for p in parts} == {"metadata", "debug", "tasks", "checkpoints"}
    ck = [p.data for p in parts if p.event == "checkpoints"][-1]
    assert {"values", "next", "config"} <= set(ck)
    assert any(t.get("name") == "chat" for t in (p.data for p in parts if p.event == "tasks"))
    debug_ck = [p.data for p in parts if p.event == "debug" and p.data["type"] == "checkpoint"]
    assert debug_ck and debug_ck[-1]["payload"]["checkpoint"]["thread_id"] == tid


async def test_subgraph_events_are_suffixed(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    parts = await collect(
        lg_client.runs.stream(
            tid,
            "parent",
            input={"items": []},
            stream_mode=["updates", "values"],
            stream_subgraphs=True,
        )
    )
    ev = [p.event for p in parts]
    sub = [e for e in ev if e.startswith("updates|child:")]
    assert sub and "updates" in ev and "values" in ev
    assert all(len(e.split("|", 1)[1].split(":", 1)[1]) == 36 for e in sub)


async def test_interrupts_in_streams_and_errors(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    parts = await collect(
        lg_client.runs.stream(
            tid, "approval", input={"request": "x"}, stream_mode=["updates", "values"]
        )
    )
    ups = [p.data for p in parts if p.event == "updates"]
    assert "__interrupt__" in ups[-1]
    assert "__interrupt__" in [p.data for p in parts if p.event == "values"][-1]
    iid = ups[-1]["__interrupt__"][0]["id"]
    # only values asked: the interrupt still comes, as a values event
    tid2 = new_thread(lg_server)
    parts = await collect(lg_client.runs.stream(tid2, "approval", input={"request": "y"}))
    assert {p.event for p in parts} == {"metadata", "values"}
    assert "__interrupt__" in parts[-1].data
    # resume by id in a stream
    parts = await collect(
        lg_client.runs.stream(
            tid, "approval", command={"resume": {iid: "mapped"}}, stream_mode="values"
        )
    )
    assert parts[-1].data["decision"] == "mapped"
    # a graph error ends the stream with an error event
    parts = await collect(
        lg_client.runs.stream(
            tid, "slow", input={"n": 0}, config={"configurable": {"fail": True, "sleep": 0}}
        )
    )
    assert parts[-1].event == "error"
    assert parts[-1].data == {"error": "ValueError", "message": "boom: asked to fail"}


async def test_sdk_join_stream_of_a_background_run(
    lg_server: ServerProcess, lg_client: LangGraphClient
) -> None:
    tid = new_thread(lg_server)
    r = await lg_client.runs.create(
        tid,
        "slow",
        input={"n": 0},
        config={"configurable": {"sleep": 1.0}},
        stream_mode=["values", "updates"],
        stream_resumable=True,
    )
    parts = await collect(lg_client.runs.join_stream(tid, r["run_id"]))
    assert {"values", "updates"} <= {p.event for p in parts}
    again = await collect(lg_client.runs.join_stream(tid, r["run_id"], last_event_id="-1"))
    assert again[0].event == "metadata" and all(p.id for p in again)


def test_on_disconnect_cancel_stops_the_run(lg_server: ServerProcess) -> None:
    tid = new_thread(lg_server)
    body = {
        "assistant_id": "slow",
        "input": {"n": 0},
        "config": {"configurable": {"sleep": 20}},  # ended by the hang-up, not by itself
        "on_disconnect": "cancel",
    }
    with lg_server.client() as c:
        with c.stream("POST", f"/threads/{tid}/runs/stream", json=body) as r:
            rid = r.headers["content-location"].rsplit("/", 1)[1]
            next(r.iter_lines())  # the metadata event came: the run is on; hang up
        for _ in range(300):  # a loaded machine may notice the hang-up late
            status = c.get(f"/threads/{tid}/runs/{rid}").json()["status"]
            if status == "interrupted":
                break
            time.sleep(0.05)
        assert status == "interrupted"


def test_a_long_wait_is_padded_with_newlines(lg_server: ServerProcess) -> None:
    # LangGraph's server sends the 200 at once and a newline every 5 s until the result
    tid = new_thread(lg_server)
    body = {"assistant_id": "slow", "input": {"n": 0}, "config": {"configurable": {"sleep": 5.6}}}
    with lg_server.client() as c, c.stream("POST", f"/threads/{tid}/runs/wait", json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        raw = r.read()
    assert raw.startswith(b"\n") and json.loads(raw) == {"n": 1, "log": ["slept"]}
